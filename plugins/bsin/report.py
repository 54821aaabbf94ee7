"""The monthly partner report: data, rendering and the email message.

Three steps, each testable on its own:

* ``build_report(wh, partners, country, month) -> ReportContext``: pure data read from the
  marts (``indicators_monthly``, ``indicator_value``, ``adaptation_signal``) and the
  country's own ``feedback`` rows. Privacy rules are applied here, once, so no template can
  leak what the context does not hold (docs/reports.md, "Privacy"):

  - another country and the network appear only as aggregates;
  - an aggregate over fewer than ``MIN_RESPONDENTS`` respondents is suppressed for another
    country or the network, and so is a network value whose respondents *outside* the
    partner's country number 1 or 2 (else the partner could subtract its own share);
  - free text loses anything that looks like an email address;
  - member rows carry the pseudonymous ``member_id`` only.

* ``render_report(ctx, language) -> RenderedReport``: subject, HTML (Jinja2 with autoescape,
  CSS inlined by css-inline, 600 px), plain text, PNG charts keyed by Content-ID and the CSV.
* ``build_message(rendered, partner, sender) -> EmailMessage``: multipart/mixed holding
  multipart/related (multipart/alternative text + HTML, then the CID images) and the CSV.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, formataddr, parseaddr
from typing import TYPE_CHECKING, Any

from bsin.months import month_start, parse_month
from bsin.paths import TEMPLATES_DIR
from bsin.report_csv import to_csv_bytes
from bsin.report_i18n import Translator

if TYPE_CHECKING:
    from bsin.config import Partner, PartnersConfig

log = logging.getLogger(__name__)

#: Smallest number of respondents an aggregate shown outside their own country may have.
MIN_RESPONDENTS = 3
NETWORK = "NETWORK"
PROGRAMME_NAME = "Baltic Sea Impact Network"

#: Indicators in display order; any other indicator in the marts follows alphabetically.
INDICATOR_ORDER = (
    "response_rate",
    "satisfaction_mean",
    "satisfaction_low_share",
    "relevance_mean",
    "nps",
    "skill_gain_rate",
    "peer_session_rate",
    "workshop_rate",
    "connections_sum",
    "connections_mean",
    "connections_cumulative",
    "access_public_sector_rate",
    "access_corporate_rate",
    "access_impact_investor_rate",
    "access_media_rate",
    "access_any_rate",
    "needs_coverage",
)
TREND_INDICATORS = ("satisfaction_mean", "nps", "response_rate")
COMPARISON_COLUMNS = ("response_rate", "satisfaction_mean", "nps")
#: Columns of the CSV attachment: an explicit allow-list, so a column added to ``feedback``
#: later never reaches a partner by accident.
CSV_COLUMNS = (
    "member_id",
    "feedback_month",
    "submitted_at",
    "attended_peer_session",
    "attended_workshop",
    "satisfaction",
    "relevance",
    "recommend",
    "new_skill",
    "new_connections_abroad",
    "stakeholder_access",
    "challenges",
    "challenges_other",
    "suggestion",
)
FREE_TEXT_COLUMNS = ("challenges_other", "suggestion")

# Anything shaped like an address: respondents sometimes sign a suggestion with theirs.
_EMAIL_LIKE = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+\.[^\s<>()\[\],;:\"']+")
EMAIL_REDACTION = "[email removed]"


class ReportDataError(LookupError):
    """The marts lack what the report needs; the message names country, month and the fix."""


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class Cell:
    """One aggregate: its value, respondent count and whether privacy hides it."""

    value: float | None
    n: int | None
    suppressed: bool = False

    @property
    def shown(self) -> float | None:
        """The value a reader may see (None when suppressed or missing)."""
        return None if self.suppressed else self.value


@dataclass(frozen=True)
class IndicatorLine:
    """One indicator of the month: the country's value and trend beside the network's."""

    key: str
    country: Cell
    prev_value: float | None
    delta: float | None
    running_mean: float | None
    mean_3m: float | None
    network: Cell


@dataclass(frozen=True)
class TrendPoint:
    """One month of a trend chart."""

    month: date
    country: Cell
    network: Cell


@dataclass(frozen=True)
class ComparisonRow:
    """A country (or the network) in the month's comparison table."""

    scope: str
    name: str
    own: bool
    respondents: Cell
    cells: Mapping[str, Cell]


@dataclass(frozen=True)
class FiredSignal:
    """An adaptation signal that fired for the country this month."""

    rule_id: str
    subject: str
    indicator: str
    measure: str
    observed: float | None
    comparison: str
    threshold: float | None
    recommendation: str


@dataclass(frozen=True)
class ReportContext:
    """Everything one partner's report shows, and nothing else."""

    country: str
    country_name: str
    organisation: str
    language: str
    recipients: tuple[str, ...]
    month: date
    programme_name: str
    active_members: int | None
    respondents: int
    indicators: tuple[IndicatorLine, ...]
    trends: Mapping[str, tuple[TrendPoint, ...]]
    comparison: tuple[ComparisonRow, ...]
    signals: tuple[FiredSignal, ...]
    suggestions: tuple[str, ...]
    csv_columns: tuple[str, ...] = CSV_COLUMNS
    member_rows: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    def line(self, key: str) -> IndicatorLine | None:
        """The indicator line ``key`` (None when the marts do not have it)."""
        return next((line for line in self.indicators if line.key == key), None)

    @property
    def month_label(self) -> str:
        """``YYYY-MM``."""
        return self.month.strftime("%Y-%m")


@dataclass(frozen=True)
class RenderedReport:
    """The rendered report, ready to be packed into an email or written to files."""

    country: str
    month: date
    language: str
    subject: str
    html: str
    text: str
    images: dict[str, bytes]
    csv_bytes: bytes
    csv_filename: str


# --------------------------------------------------------------------------- helpers


def redact_emails(text: str) -> str:
    """``text`` with every email-like token replaced by a marker."""
    return _EMAIL_LIKE.sub(EMAIL_REDACTION, text)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _int(value: Any) -> int | None:
    f = _num(value)
    return None if f is None else int(f)


def _as_month(month: date | datetime | str) -> date:
    if isinstance(month, str):
        return parse_month(month)
    return month_start(month)


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def foreign_cell(value: Any, n: Any) -> Cell:
    """An aggregate of another country: hidden under ``MIN_RESPONDENTS``."""
    n_int = _int(n)
    return Cell(_num(value), n_int, suppressed=n_int is None or n_int < MIN_RESPONDENTS)


def network_cell(value: Any, n: Any, own_n: Any) -> Cell:
    """A network aggregate seen by one country.

    Hidden when it covers fewer than ``MIN_RESPONDENTS`` respondents, or when 1 or 2 of
    them are from other countries: network minus own would reveal their answers.
    """
    n_int, own = _int(n), _int(own_n) or 0
    foreign = None if n_int is None else n_int - own
    hidden = (
        n_int is None
        or n_int < MIN_RESPONDENTS
        or (foreign is not None and 0 < foreign < MIN_RESPONDENTS)
    )
    return Cell(_num(value), n_int, suppressed=hidden)


def _indicator_sort_key(key: str) -> tuple[int, str]:
    return (
        (INDICATOR_ORDER.index(key), "") if key in INDICATOR_ORDER else (len(INDICATOR_ORDER), key)
    )


# --------------------------------------------------------------------------- build


def _plain(value: Any) -> Any:
    """A database value as a plain Python object (None for every kind of missing)."""
    import pandas as pd

    if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    # numpy scalars (int64, bool_) become int/bool, so type checks downstream hold.
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def _rows(wh: Any, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run a query (portable ``:name`` parameters) and return plain dict rows."""
    df = wh.query_df(sql, dict(params))
    return [{k: _plain(v) for k, v in r.items()} for r in df.astype(object).to_dict("records")]


def build_report(
    wh: Any,
    partners: PartnersConfig,
    country: str,
    month: date | datetime | str,
    programme_name: str = PROGRAMME_NAME,
    language: str | None = None,
) -> ReportContext:
    """Read the marts and the country's own feedback into a ``ReportContext``.

    ``wh`` is a ``bsin.warehouse.Warehouse`` (anything with ``query_df(sql, params)``).
    ``language`` (default: the partner's ``report_language``) is the language of the
    signals' advice, which comes from configuration (signals.yaml) rather than templates.
    Raises ``ReportDataError`` when the marts have no row for the country and month.
    """
    m = _as_month(month)
    try:
        partner = partners.partner(country)
    except KeyError as exc:
        raise ReportDataError(str(exc.args[0])) from None
    lang = language or partner.report_language
    # dbt creates the marts on their first build, not migrate(): say so instead of a
    # "table does not exist" from the driver.
    if hasattr(wh, "table_exists") and not wh.table_exists("indicators_monthly"):
        raise ReportDataError(
            f"no indicators for {country} {m:%Y-%m}: the marts were never built in {wh!r}; "
            "run the month's build_marts task group (or `make demo MONTH=...`) first"
        )

    monthly = _rows(
        wh,
        "select scope_country, month, active_members, respondents from indicators_monthly "
        "where month <= :m order by month",
        {"m": m},
    )
    respondents: dict[tuple[str, date], int] = {}
    active: dict[tuple[str, date], int | None] = {}
    for r in monthly:
        key = (r["scope_country"], _to_date(r["month"]))
        respondents[key] = _int(r["respondents"]) or 0
        active[key] = _int(r["active_members"])
    if (country, m) not in respondents:
        raise ReportDataError(
            f"no indicators for {country} {m:%Y-%m} in indicators_monthly: run the month's "
            "build_marts task (or `make demo MONTH=...`) before rendering its report"
        )

    values = _rows(
        wh,
        "select scope_country, month, indicator, value, n, prev_value, delta, running_mean, "
        "mean_3m from indicator_value where month <= :m",
        {"m": m},
    )
    by_key: dict[tuple[str, date, str], dict[str, Any]] = {
        (r["scope_country"], _to_date(r["month"]), r["indicator"]): r for r in values
    }

    def own_n(month_: date, indicator: str) -> int:
        row = by_key.get((country, month_, indicator))
        return _int(row["n"]) if row else respondents.get((country, month_), 0)

    def net(month_: date, indicator: str) -> Cell:
        row = by_key.get((NETWORK, month_, indicator))
        if row is None:
            return Cell(None, None, suppressed=False)
        return network_cell(row["value"], row["n"], own_n(month_, indicator))

    indicators = []
    for key in sorted(
        {k[2] for k in by_key if k[0] == country and k[1] == m}, key=_indicator_sort_key
    ):
        row = by_key[(country, m, key)]
        indicators.append(
            IndicatorLine(
                key=key,
                country=Cell(_num(row["value"]), _int(row["n"])),
                prev_value=_num(row["prev_value"]),
                delta=_num(row["delta"]),
                running_mean=_num(row["running_mean"]),
                mean_3m=_num(row["mean_3m"]),
                network=net(m, key),
            )
        )

    months = sorted({k[1] for k in respondents if k[0] == country})
    trends: dict[str, tuple[TrendPoint, ...]] = {}
    for key in TREND_INDICATORS:
        points = []
        for mm in months:
            row = by_key.get((country, mm, key))
            own_cell = Cell(_num(row["value"]) if row else None, _int(row["n"]) if row else None)
            points.append(TrendPoint(mm, own_cell, net(mm, key)))
        trends[key] = tuple(points)

    comparison = []
    scopes = [p.country for p in partners.partners] + [NETWORK]
    for scope in scopes:
        if (scope, m) not in respondents:
            continue
        own = scope == country
        n_resp = respondents[(scope, m)]
        cells: dict[str, Cell] = {}
        for key in COMPARISON_COLUMNS:
            row = by_key.get((scope, m, key))
            value, n = (row["value"], row["n"]) if row else (None, n_resp)
            if own:
                cells[key] = Cell(_num(value), _int(n))
            elif scope == NETWORK:
                cells[key] = network_cell(value, n, own_n(m, key))
            else:
                cells[key] = foreign_cell(value, n)
        if own:
            resp_cell = Cell(n_resp, n_resp)
        elif scope == NETWORK:
            resp_cell = network_cell(n_resp, n_resp, respondents[(country, m)])
        else:
            resp_cell = foreign_cell(n_resp, n_resp)
        name = "" if scope == NETWORK else partners.partner(scope).name
        comparison.append(ComparisonRow(scope, name, own, resp_cell, cells))

    from bsin.signals import signals_for

    # Advice in the partner's language: bsin.signals re-renders each rule's translation.
    signal_rows = [
        {k: _plain(v) for k, v in r.items()}
        for r in signals_for(wh, country, m, lang).astype(object).to_dict("records")
    ]
    signals = tuple(
        FiredSignal(
            rule_id=str(r["rule_id"]),
            subject=str(r["subject"] or ""),
            indicator=str(r["indicator"]),
            measure=str(r["measure"] or ""),
            observed=_num(r["observed"]),
            comparison=str(r["comparison"] or ""),
            threshold=_num(r["threshold"]),
            recommendation=redact_emails(str(r["recommendation"])),
        )
        for r in signal_rows
    )

    # The country filter is the privacy boundary for individual-level data: only this
    # partner's own members' rows are ever read.
    member_rows_raw = _rows(
        wh,
        # Column names come from the CSV_COLUMNS constant, never from input.
        "select " + ", ".join(CSV_COLUMNS) + " from feedback "  # noqa: S608
        "where country = :c and feedback_month = :m order by member_id",
        {"c": country, "m": m},
    )
    member_rows = []
    for r in member_rows_raw:
        clean = dict(r)
        for col in FREE_TEXT_COLUMNS:
            if clean.get(col) is not None:
                clean[col] = redact_emails(str(clean[col]))
        member_rows.append(clean)
    suggestions = tuple(
        str(r["suggestion"]).strip()
        for r in member_rows
        if r.get("suggestion") is not None and str(r["suggestion"]).strip()
    )

    return ReportContext(
        country=country,
        country_name=partner.name,
        organisation=partner.organisation,
        language=lang,
        recipients=tuple(partner.recipients),
        month=m,
        programme_name=programme_name,
        active_members=active.get((country, m)),
        respondents=respondents[(country, m)],
        indicators=tuple(indicators),
        trends=trends,
        comparison=tuple(comparison),
        signals=signals,
        suggestions=suggestions,
        member_rows=tuple(member_rows),
    )


# --------------------------------------------------------------------------- formatting


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
        return "–"
    kind = indicator_kind(key)
    if kind == "percent":
        return t.number(value * 100) + " %"
    if kind == "nps":
        return t.number(value, signed=True)
    if kind == "count":
        return t.number(value)
    return t.number(value, decimals=1)


def format_delta(key: str, delta: float | None, t: Translator) -> str:
    """A month-over-month change, with the unit of its indicator."""
    if delta is None:
        return "–"
    kind = indicator_kind(key)
    if kind == "percent":
        return t.number(delta * 100, signed=True) + " " + t("unit_points")
    if kind == "mean":
        return t.number(delta, decimals=1, signed=True)
    return t.number(delta, signed=True)


#: Indicators where a fall is good news (the change is coloured accordingly).
LOWER_IS_BETTER = frozenset({"satisfaction_low_share"})


def _direction(key: str, delta: float | None) -> str:
    """CSS class of a change: ``good``, ``bad`` or ``flat``."""
    if delta is None or abs(delta) < 1e-9:
        return "flat"
    return "good" if (delta > 0) != (key in LOWER_IS_BETTER) else "bad"


def _label(key: str, t: Translator) -> str:
    return t("ind." + key) if t.has("ind." + key) else key.replace("_", " ")


def _shown(key: str, cell: Cell, t: Translator) -> str:
    return t("suppressed_marker") if cell.suppressed else format_value(key, cell.value, t)


def cid_for(name: str, ctx: ReportContext) -> str:
    """Content-ID of chart ``name`` (without angle brackets), stable per partner-month."""
    return f"{name}.{ctx.country}.{ctx.month_label}@bsin"


def _view(ctx: ReportContext, t: Translator, charts: Sequence[str]) -> dict[str, Any]:
    """Display-ready values for the templates: templates only lay them out."""
    lines = []
    any_suppressed = False
    for line in ctx.indicators:
        any_suppressed |= line.network.suppressed
        lines.append(
            {
                "label": _label(line.key, t),
                "value": format_value(line.key, line.country.value, t),
                "n": line.country.n,
                "delta": format_delta(line.key, line.delta, t),
                "direction": _direction(line.key, line.delta),
                "running_mean": format_value(line.key, line.running_mean, t),
                "network": _shown(line.key, line.network, t),
            }
        )
    comparison = []
    for row in ctx.comparison:
        any_suppressed |= row.respondents.suppressed or any(
            c.suppressed for c in row.cells.values()
        )
        comparison.append(
            {
                "name": t("network") if row.scope == NETWORK else f"{row.name} ({row.scope})",
                "own": row.own,
                "respondents": _shown("respondents", row.respondents, t),
                "cells": [_shown(k, row.cells[k], t) for k in COMPARISON_COLUMNS],
            }
        )
    signals = [
        {
            "label": _label(s.indicator, t) + (f" – {s.subject}" if s.subject else ""),
            "observed": format_value(s.indicator, s.observed, t),
            "threshold": format_value(s.indicator, s.threshold, t),
            "recommendation": s.recommendation,
        }
        for s in ctx.signals
    ]
    headline = {k: ctx.line(k) for k in ("response_rate", "satisfaction_mean", "nps")}
    return {
        "t": t,
        "ctx": ctx,
        "month_name": t.month(ctx.month),
        "lines": lines,
        "comparison": comparison,
        "comparison_headers": [_label(k, t) for k in COMPARISON_COLUMNS],
        "signals": signals,
        "suggestions": list(ctx.suggestions),
        "any_suppressed": any_suppressed,
        "headline": [
            {
                "label": _label(k, t),
                "value": format_value(k, line.country.value if line else None, t),
            }
            for k, line in headline.items()
        ],
        "charts": [
            {"cid": cid_for(name, ctx), "alt": t("chart_" + name.removeprefix("trend_"))}
            for name in charts
        ],
        "csv_filename": _csv_filename(ctx),
        "min_respondents": MIN_RESPONDENTS,
    }


def _csv_filename(ctx: ReportContext) -> str:
    return f"bsin_{ctx.country.lower()}_{ctx.month_label}_members.csv"


# --------------------------------------------------------------------------- render


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # HTML templates escape every value: suggestions are respondents' free text.
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_report(ctx: ReportContext, language: str | None = None) -> RenderedReport:
    """Render ``ctx`` in ``language`` (default: the partner's ``report_language``)."""
    import css_inline

    from bsin.report_charts import render_charts

    lang = language or ctx.language
    t = Translator(lang)
    pngs = render_charts(ctx, t)
    view = _view(ctx, t, list(pngs))
    env = _environment()
    html = env.get_template("report.html").render(**view)
    # Mail clients drop <style> blocks; css-inline moves every rule onto its elements.
    html = css_inline.inline(html, load_remote_stylesheets=False)
    text = env.get_template("report.txt").render(**view)
    subject = t(
        "subject", programme=ctx.programme_name, country=ctx.country_name, month=view["month_name"]
    )
    return RenderedReport(
        country=ctx.country,
        month=ctx.month,
        language=lang,
        subject=subject,
        html=html,
        text=text,
        images={cid_for(name, ctx): png for name, png in pngs.items()},
        csv_bytes=to_csv_bytes(ctx.csv_columns, ctx.member_rows),
        csv_filename=_csv_filename(ctx),
    )


# --------------------------------------------------------------------------- message


def message_id_for(country: str, month: date, sender: str, attempt: int = 0) -> str:
    """Deterministic Message-ID of a partner-month report (``attempt`` > 0 for resends)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "bsin.invalid"
    suffix = f".resend{attempt}" if attempt else ""
    return f"<bsin-report.{country}.{month:%Y-%m}{suffix}@{domain}>"


def build_message(rendered: RenderedReport, partner: Partner, sender: str) -> EmailMessage:
    """Pack ``rendered`` into an email to ``partner``'s recipients.

    Structure: multipart/mixed [ multipart/related [ multipart/alternative [text, html],
    image/png ... ], text/csv attachment ].
    """
    if partner.country != rendered.country:
        raise ValueError(
            f"report for {rendered.country} addressed to partner {partner.country}: "
            "render the report of the partner you send to"
        )
    msg = EmailMessage()
    # Before any Content-* header: make_mixed would move those into a sub-part.
    msg.make_mixed()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = ", ".join(formataddr(("", r)) for r in partner.recipients)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id_for(partner.country, rendered.month, sender)
    msg["Content-Language"] = rendered.language
    msg["X-BSIN-Country"] = partner.country
    msg["X-BSIN-Report-Month"] = f"{rendered.month:%Y-%m}"
    # Python's email API will not wrap an alternative part into a related one, so the
    # tree is assembled from parts, innermost first.
    alternative = MIMEPart()
    alternative.set_content(rendered.text, subtype="plain", charset="utf-8")
    alternative.add_alternative(rendered.html, subtype="html", charset="utf-8")
    related = MIMEPart()
    related.make_related()
    # RFC 2387: the type parameter names the root part's type.
    related.set_param("type", "multipart/alternative")
    related.attach(alternative)
    for cid, png in rendered.images.items():
        image = MIMEPart()
        image.set_content(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{cid}>",
            disposition="inline",
            filename=cid.split("@")[0] + ".png",
        )
        related.attach(image)
    attachment = MIMEPart()
    attachment.set_content(
        rendered.csv_bytes,
        maintype="text",
        subtype="csv",
        disposition="attachment",
        filename=rendered.csv_filename,
    )
    msg.attach(related)
    msg.attach(attachment)
    return msg
