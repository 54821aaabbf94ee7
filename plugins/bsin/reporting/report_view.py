"""What the partner report shows, display-ready: every figure through ``bsin.reporting.formatting``.

``build_view(ctx, t, charts)`` turns a ``ReportContext`` (pure data, privacy applied by
``bsin.reporting.report.build_report``) into strings the templates only lay out, in the partner's
language. The rules a reader relies on live here, once:

* values by kind: shares as percentages, means with one decimal, NPS as a signed whole
  number with its n, counts as whole numbers (``indicator_kind``);
* a change is written as a change with its unit and what it is compared with
  ("−1.2 points vs the last 3 months"), never as if it were a score; a change that rounds to
  zero reads "no change", never "±0";
* counts and shares never share a column: the indicator table is split by kind, and the
  network column of the counts table is labelled as the network total;
* a running total has no "average so far" (the average of a running total means nothing);
* "partly" answers are explained where they count (skill gain counts "partly" as half).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bsin.reporting.formatting import MISSING
from bsin.reporting.report_model import COMPARISON_COLUMNS, NETWORK

if TYPE_CHECKING:
    from bsin.reporting.disclosure import Cell
    from bsin.reporting.report_i18n import Translator
    from bsin.reporting.report_model import ReportContext

#: Indicators where a fall is good news (the change is coloured accordingly).
LOWER_IS_BETTER = frozenset({"satisfaction_low_share"})
#: Running totals: their "average so far" would be an average of running totals.
RUNNING_TOTALS = frozenset({"connections_cumulative"})
#: Means on the 1-5 answer scale: their changes are "points" on that scale.
SCALE_MEANS = frozenset({"satisfaction_mean", "relevance_mean"})
#: Indicators with a note on how an answer counts (i18n key ``note.<indicator>``).
NOTED_INDICATORS = ("skill_gain_rate",)
#: Indicator table groups, in display order: (group, kinds in it).
GROUPS = (("shares", ("percent",)), ("scores", ("mean", "nps")), ("counts", ("count",)))
#: Headline figures of the month.
HEADLINE = ("response_rate", "satisfaction_mean", "nps")
#: What each signal measure compares the month with (i18n key ``vs.<measure>``).
CHANGE_MEASURES = ("delta", "vs_mean_3m", "vs_running_mean")


def indicator_kind(key: str) -> str:
    """How an indicator is shown: ``percent``, ``nps``, ``mean`` or ``count``."""
    if key == "nps":
        return "nps"
    if key.endswith(("_rate", "_share")) or key == "needs_coverage":
        return "percent"
    if key.endswith(("_sum", "_cumulative")) or key in ("respondents", "active_members"):
        return "count"
    return "mean"


def format_value(key: str, value: float | None, t: Translator) -> str:
    """An indicator value as a partner reads it (rates are stored as fractions 0-1)."""
    if value is None:
        return MISSING
    kind = indicator_kind(key)
    if kind == "percent":
        return t.percent(value)
    if kind == "nps":
        return t.number(value, signed=True)
    if kind == "count":
        return t.number(value)
    return t.number(value, decimals=1)


def format_change(key: str, delta: float | None, t: Translator) -> str:
    """A change with its unit: "−1.2 points", "+5 percentage points", "+3"; zero as "no change"."""
    if delta is None:
        return MISSING
    kind = indicator_kind(key)
    if kind == "percent":
        value, decimals, unit = delta * 100, 0, "unit_percentage_points"
    elif kind == "mean":
        value, decimals, unit = delta, 1, "unit_points" if key in SCALE_MEANS else None
    elif kind == "nps":
        value, decimals, unit = delta, 0, "unit_points"
    else:
        value, decimals, unit = delta, 0, None
    if t.fmt.is_zero(value, decimals):
        return t("change_none")
    number = t.number(value, decimals=decimals, signed=True)
    return t(unit, change=number) if unit else number


def direction(key: str, delta: float | None) -> str:
    """CSS class of a change: ``good``, ``bad`` or ``flat``."""
    if delta is None or abs(delta) < 1e-9:
        return "flat"
    return "good" if (delta > 0) != (key in LOWER_IS_BETTER) else "bad"


def label(key: str, t: Translator) -> str:
    """The indicator's name in the report language."""
    return t("ind." + key) if t.has("ind." + key) else key.replace("_", " ")


def shown(key: str, cell: Cell, t: Translator) -> str:
    """A cell as text: the suppression marker when privacy hides it."""
    return t("suppressed_marker") if cell.suppressed else format_value(key, cell.value, t)


def with_n(text: str, n: int | None, t: Translator) -> str:
    """``text`` followed by its number of answers ("−20 (n = 6)")."""
    return text if n is None or text == MISSING else t("value_with_n", value=text, n=n)


def country_name(ctx: ReportContext, t: Translator) -> str:
    """The partner country's name in the report language (CLDR; partners.yaml as fallback)."""
    return t.country(ctx.country, ctx.country_name)


def cid_for(name: str, ctx: ReportContext) -> str:
    """Content-ID of chart ``name`` (without angle brackets), stable per partner-month."""
    return f"{name}.{ctx.country}.{ctx.month_label}@bsin"


def csv_filename(ctx: ReportContext) -> str:
    """File name of the members' CSV attachment."""
    return f"bsin_{ctx.country.lower()}_{ctx.month_label}_members.csv"


def network_note(ctx: ReportContext, t: Translator) -> str:
    """What the network figures cover, when it is less than every configured country:
    "network figures this month cover 4 of 5 countries", and the needs figures' countries
    when some partner collects no self-assessment."""
    if ctx.network_countries is None:
        return ""
    notes = []
    present, total = ctx.network_countries
    if present < total:
        notes.append(t("network_coverage", present=present, total=total))
    if ctx.self_assessment_countries is not None:
        collecting, configured = ctx.self_assessment_countries
        if collecting < configured:
            notes.append(t("network_sa_coverage", present=collecting, total=configured))
    return " ".join(notes)


def _signal(s: Any, t: Translator) -> dict[str, str]:
    name = label(s.indicator, t) + (f" – {s.subject}" if s.subject else "")
    if s.measure in CHANGE_MEASURES:
        vs = t("vs." + s.measure)
        observed = t("signal_change", change=format_change(s.indicator, s.observed, t), vs=vs)
        threshold = format_change(s.indicator, s.threshold, t)
        value = format_value(s.indicator, getattr(s, "value", None), t)
        if value != MISSING:
            observed = t("signal_value_and_change", value=value, change=observed)
    else:
        observed = format_value(s.indicator, s.observed, t)
        threshold = format_value(s.indicator, s.threshold, t)
    return {
        "label": name,
        "observed": observed,
        "threshold": threshold,
        "recommendation": s.recommendation,
    }


def _line(line: Any, t: Translator) -> dict[str, Any]:
    key = line.key
    total = key in RUNNING_TOTALS
    # A running total has no n of its own, no average and no change worth reading (its
    # change is the month's count, shown on its own line).
    details = [] if total or line.country.n is None else [t("n_answers", n=line.country.n)]
    if not total and line.running_mean is not None:
        details.append(t("average_so_far", value=format_value(key, line.running_mean, t)))
    change = MISSING if total else format_change(key, line.delta, t)
    return {
        "key": key,
        "label": label(key, t),
        "value": format_value(key, line.country.value, t),
        "details": " · ".join(details),
        "change": "" if change == MISSING else t("change_vs_last_month", change=change),
        "direction": direction(key, line.delta),
        "network": shown(key, line.network, t),
        "note": t("note." + key) if key in NOTED_INDICATORS else "",
    }


def trend_alt(ctx: ReportContext, indicator: str, t: Translator) -> str:
    """Alt text of a trend chart that states its finding, not its title."""
    points = [p for p in ctx.trends.get(indicator, ()) if p.country.value is not None]
    name = label(indicator, t)
    if not points:
        return t("alt_trend_empty", indicator=name)
    last = points[-1]
    to_text = format_value(indicator, last.country.value, t)
    fields = {"indicator": name, "to": to_text, "to_month": t.month(last.month)}
    if len(points) == 1:
        text = t("alt_trend_single", **fields)
    else:
        prev = points[-2]
        from_text = format_value(indicator, prev.country.value, t)
        fields |= {"from": from_text, "from_month": t.month(prev.month)}
        if from_text == to_text:
            text = t("alt_trend_flat", **fields)
        else:
            up = (last.country.value or 0) > (prev.country.value or 0)
            text = t("alt_trend_up" if up else "alt_trend_down", **fields)
    if last.network.shown is not None:
        text += " " + t("alt_network", value=format_value(indicator, last.network.shown, t))
    return text


def comparison_alt(ctx: ReportContext, keys: Sequence[str], t: Translator) -> str:
    """Alt text of the month's bar chart: each share, own vs network."""
    parts = []
    for key in keys:
        line = ctx.line(key)
        if line is None:
            continue
        parts.append(
            t(
                "alt_share",
                indicator=label(key, t),
                own=format_value(key, line.country.value, t),
                network=shown(key, line.network, t),
            )
        )
    return t("alt_comparison", country=country_name(ctx, t)) + " " + "; ".join(parts) + "."


def trend_caption(ctx: ReportContext, indicator: str, t: Translator) -> str:
    """The answers behind each month of a trend chart, as text under the chart."""
    items = [
        f"{t.month(p.month, short=True)} {p.country.n}"
        for p in ctx.trends.get(indicator, ())
        if p.country.n is not None
    ]
    return t("chart_n", counts=" · ".join(items)) if items else ""


def build_view(
    ctx: ReportContext, t: Translator, charts: Sequence[str], min_respondents: int
) -> dict[str, Any]:
    """Display-ready values for the templates: templates only lay them out."""
    return {
        "t": t,
        "ctx": ctx,
        "country_name": country_name(ctx, t),
        "month_name": t.month(ctx.month),
        "groups": indicator_groups(ctx, t),
        "comparison": comparison_table(ctx, t),
        "comparison_headers": [t("short." + k) for k in ("respondents", *COMPARISON_COLUMNS)],
        "comparison_legend": t("comparison_legend"),
        "signals": [_signal(s, t) for s in ctx.signals],
        "suggestions": list(ctx.suggestions),
        "any_suppressed": any_suppressed(ctx),
        "headline": headline(ctx, t),
        "charts": chart_views(ctx, t, charts),
        "min_respondents": min_respondents,
        "network_note": network_note(ctx, t),
        "csv_filename": csv_filename(ctx),
    }


def indicator_groups(ctx: ReportContext, t: Translator) -> list[dict[str, Any]]:
    """The month's indicators in tables by kind (shares, scores, counts), empty ones left out."""
    groups = []
    for group, kinds in GROUPS:
        rows = []
        for line in ctx.indicators:
            if indicator_kind(line.key) in kinds:
                rows.append(_line(line, t))
                if line.key in ctx.not_collected:
                    # A partner without a self-assessment form sees what it does not collect.
                    rows[-1]["value"] = t("not_collected")
        if rows:
            groups.append(
                {
                    "title": t("group_" + group),
                    "network_header": t("col_network_total" if group == "counts" else "network"),
                    "lines": rows,
                }
            )
    return groups


def comparison_table(ctx: ReportContext, t: Translator) -> list[dict[str, Any]]:
    """The month's comparison rows: each country (or the network) with its shown cells."""
    return [
        {
            "name": t("network") if row.scope == NETWORK else t.country(row.scope, row.name),
            "own": row.own,
            "respondents": shown("respondents", row.respondents, t),
            "cells": [shown(k, row.cells[k], t) for k in COMPARISON_COLUMNS],
        }
        for row in ctx.comparison
    ]


def any_suppressed(ctx: ReportContext) -> bool:
    """Whether any figure of the indicator or comparison tables is hidden (the legend says why)."""
    return any(line.network.suppressed for line in ctx.indicators) or any(
        row.respondents.suppressed or any(c.suppressed for c in row.cells.values())
        for row in ctx.comparison
    )


def headline(ctx: ReportContext, t: Translator) -> list[dict[str, str]]:
    """The month's headline figures, each with what it rests on."""
    out = []
    for key in HEADLINE:
        line = ctx.line(key)
        sub = ""
        if key == "response_rate" and ctx.active_members is not None:
            sub = t("kpi_of_members", respondents=ctx.respondents, members=ctx.active_members)
        elif line is not None and line.country.n is not None:
            sub = t("n_answers", n=line.country.n)
        out.append(
            {
                "label": label(key, t),
                "value": format_value(key, line.country.value if line else None, t),
                "sub": sub,
            }
        )
    return out


def chart_views(ctx: ReportContext, t: Translator, charts: Sequence[str]) -> list[dict[str, str]]:
    """Each chart's Content-ID, title, alt text (its finding) and caption (n per month)."""
    from bsin.reporting.report_charts import CHART_META, COMPARISON_INDICATORS

    out = []
    for name in charts:
        meta = CHART_META.get(name)
        if meta is None:
            continue
        indicator, title_key = meta
        if indicator is None:
            alt, caption = comparison_alt(ctx, COMPARISON_INDICATORS, t), ""
        else:
            alt, caption = trend_alt(ctx, indicator, t), trend_caption(ctx, indicator, t)
        out.append(
            {"cid": cid_for(name, ctx), "title": t(title_key), "alt": alt, "caption": caption}
        )
    return out
