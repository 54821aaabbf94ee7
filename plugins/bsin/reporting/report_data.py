"""The partner report's data: the marts and the country's own feedback, privacy applied.

``build_report(wh, partners, country, month) -> ReportContext`` reads the marts
(``indicators_monthly``, ``indicator_value``, ``int_monthly_counts``, ``adaptation_signal``)
and the country's own ``feedback`` rows. The privacy rules are applied here, once, so no
template can leak what the context does not hold (docs/reports.md, "Privacy"):

- another country and the network appear only as aggregates;
- every figure about another country or the network follows the one disclosure rule of
  ``bsin.reporting.disclosure`` (k from programme.yaml ``min_respondents``): a foreign cell under
  k answers is suppressed, and network figures are computed over the countries with at
  least k answers only, so no subtraction recovers a small country;
- free text goes through ``bsin.reporting.text.safe_free_text`` (no address, no live link, one
  line) for the email and ``bsin.reporting.text.redact_emails`` for the CSV;
- member rows carry a per-partner pseudonym (``bsin.ingest.pseudonymise.partner_member_id``).

Each query reads what one report shows and no more: the own country's months up to the
report month, and every country in the report month only. The network's per-country
counts are read for every month up to the report month: a running total needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bsin.reporting.disclosure import (
    COUNT_COLUMNS,
    HIDDEN,
    Cell,
    for_viewer,
    foreign_cell,
    network_figures,
    to_date,
    to_float,
    to_int,
    validate_k,
)
from bsin.reporting.queries import as_month, plain, rows
from bsin.reporting.report_model import (
    COMPARISON_COLUMNS,
    CSV_COLUMNS,
    FREE_TEXT_COLUMNS,
    INDICATOR_ORDER,
    MIN_RESPONDENTS,
    NETWORK,
    PROGRAMME_NAME,
    SELF_ASSESSMENT_INDICATORS,
    TREND_INDICATORS,
    ComparisonRow,
    FiredSignal,
    IndicatorLine,
    ReportContext,
    ReportDataError,
    TrendPoint,
)
from bsin.reporting.text import redact_emails, safe_free_text

if TYPE_CHECKING:
    from bsin.core.config import Partner, PartnersConfig

#: (scope, month, indicator) -> its ``indicator_value`` row.
Values = Mapping[tuple[str, date, str], Mapping[str, Any]]
#: The network cell of (month, indicator) as the viewing partner may see it.
NetworkLookup = Callable[[date, str], Cell]


def indicator_sort_key(key: str) -> tuple[int, str]:
    """Display order: ``INDICATOR_ORDER`` first, any other indicator after, alphabetically."""
    if key in INDICATOR_ORDER:
        return INDICATOR_ORDER.index(key), ""
    return len(INDICATOR_ORDER), key


def build_report(
    wh: Any,
    partners: PartnersConfig,
    country: str,
    month: date | datetime | str,
    programme_name: str = PROGRAMME_NAME,
    language: str | None = None,
    min_respondents: int = MIN_RESPONDENTS,
    pseudonym_key: bytes | str | None = None,
) -> ReportContext:
    """Read the marts and the country's own feedback into a ``ReportContext``.

    ``wh`` is a ``bsin.warehouse.db.Warehouse`` (anything with ``query_df(sql, params)``).
    ``language`` (default: the partner's ``report_language``) is the language of the
    signals' advice, which comes from configuration (signals.yaml) rather than templates.
    ``min_respondents`` is k of the disclosure rule (``programme.yaml``);
    ``pseudonym_key`` keys the partner's member pseudonyms (default: ``load_key()``).
    Raises ``ReportDataError`` when the marts have no row for the country and month.
    """
    k = validate_k(min_respondents)
    m = as_month(month)
    partner = _partner(partners, country)
    lang = language or partner.report_language
    respondents, active = read_respondents(wh, country, m)
    values = read_values(wh, country, m)
    network = read_network(wh, m, k)

    def net(month_: date, indicator: str) -> Cell:
        return for_viewer(network.get((month_, indicator), HIDDEN), country)

    members = member_rows(wh, country, m, pseudonym_key)
    collects_needs = partner.has_form("self_assessment")
    return ReportContext(
        country=country,
        country_name=partner.name,
        organisation=partner.organisation,
        language=lang,
        recipients=tuple(partner.recipients),
        month=m,
        programme_name=programme_name,
        active_members=active,
        respondents=respondents[(country, m)],
        indicators=indicator_lines(values, country, m, net, collects_needs),
        trends=trends(values, country, sorted(mm for c, mm in respondents if c == country), net),
        comparison=comparison_rows(partners, country, m, respondents, values, net, k),
        signals=fired_signals(wh, country, m, lang),
        suggestions=suggestions(members),
        member_rows=members,
        min_respondents=k,
        network_countries=network_countries(partners, m, network.get((m, "response_rate"), HIDDEN)),
        not_collected=() if collects_needs else SELF_ASSESSMENT_INDICATORS,
        self_assessment_countries=(
            sum(p.has_form("self_assessment") for p in partners.partners),
            len(partners.partners),
        ),
    )


def _partner(partners: PartnersConfig, country: str) -> Partner:
    try:
        return partners.partner(country)
    except KeyError as exc:
        raise ReportDataError(str(exc.args[0])) from None


# --------------------------------------------------------------------------- reads


def read_respondents(
    wh: Any, country: str, m: date
) -> tuple[dict[tuple[str, date], int], int | None]:
    """(scope, month) -> respondents, and the country's active members in month ``m``.

    Raises ``ReportDataError`` naming the fix when the marts were never built or have no
    row for the country and month.
    """
    # dbt creates the marts on their first build, not migrate(): say so instead of a
    # "table does not exist" from the driver.
    if hasattr(wh, "table_exists") and not wh.table_exists("indicators_monthly"):
        raise ReportDataError(
            f"no indicators for {country} {m:%Y-%m}: the marts were never built in {wh!r}; "
            "run the month's build_marts task group (or `make demo MONTH=...`) first"
        )
    monthly = rows(
        wh,
        # The own country's months up to :m, every country in month :m.
        "select scope_country, month, active_members, respondents from indicators_monthly "
        "where month <= :m and (scope_country = :c or month = :m)",
        {"m": m, "c": country},
    )
    respondents: dict[tuple[str, date], int] = {}
    active: int | None = None
    for r in monthly:
        key = (r["scope_country"], to_date(r["month"]))
        respondents[key] = to_int(r["respondents"]) or 0
        if key == (country, m):
            active = to_int(r["active_members"])
    if (country, m) not in respondents:
        raise ReportDataError(
            f"no indicators for {country} {m:%Y-%m} in indicators_monthly: run the month's "
            "build_marts task (or `make demo MONTH=...`) before rendering its report"
        )
    return respondents, active


def read_values(wh: Any, country: str, m: date) -> dict[tuple[str, date, str], dict[str, Any]]:
    """The ``indicator_value`` rows the report shows, keyed by (scope, month, indicator)."""
    values = rows(
        wh,
        "select scope_country, month, indicator, value, n, prev_value, delta, running_mean, "
        "mean_3m from indicator_value where month <= :m and (scope_country = :c or month = :m)",
        {"m": m, "c": country},
    )
    return {(r["scope_country"], to_date(r["month"]), r["indicator"]): r for r in values}


def read_network(wh: Any, m: date, k: int) -> dict[tuple[date, str], Cell]:
    """The network's releasable figures of every month up to ``m`` (``bsin.reporting.disclosure``).

    Never read from the marts' NETWORK rows (they include every country): recomputed from
    the per-country counts, over the countries with at least k answers only.
    """
    counts = rows(
        wh,
        # Column names come from the COUNT_COLUMNS constant, never from input.
        "select scope_country, month, "  # noqa: S608
        + ", ".join(COUNT_COLUMNS)
        + " from int_monthly_counts where month <= :m",
        {"m": m},
    )
    return network_figures(counts, k)


# --------------------------------------------------------------------------- figures


def indicator_lines(
    values: Values, country: str, m: date, net: NetworkLookup, collects_needs: bool
) -> tuple[IndicatorLine, ...]:
    """The country's indicators of month ``m`` beside the network's, in display order.

    A partner without a self-assessment form gets its indicators as lines without a value
    ("not collected", not left out): the partner sees what it does not collect.
    """
    lines = []
    for key in {key[2] for key in values if key[0] == country and key[1] == m}:
        row = values[(country, m, key)]
        lines.append(
            IndicatorLine(
                key=key,
                country=Cell(to_float(row["value"]), to_int(row["n"])),
                prev_value=to_float(row["prev_value"]),
                delta=to_float(row["delta"]),
                running_mean=to_float(row["running_mean"]),
                mean_3m=to_float(row["mean_3m"]),
                network=net(m, key),
            )
        )
    if not collects_needs:
        shown = {line.key for line in lines}
        for key in SELF_ASSESSMENT_INDICATORS:
            if key not in shown:
                lines.append(
                    IndicatorLine(key, Cell(None, None), None, None, None, None, net(m, key))
                )
    return tuple(sorted(lines, key=lambda line: indicator_sort_key(line.key)))


def trends(
    values: Values, country: str, months: list[date], net: NetworkLookup
) -> dict[str, tuple[TrendPoint, ...]]:
    """Each trend indicator over ``months``: the country's cell beside the network's."""
    out: dict[str, tuple[TrendPoint, ...]] = {}
    for key in TREND_INDICATORS:
        points = []
        for mm in months:
            row = values.get((country, mm, key))
            own = Cell(to_float(row["value"]), to_int(row["n"])) if row else Cell(None, None)
            points.append(TrendPoint(mm, own, net(mm, key)))
        out[key] = tuple(points)
    return out


def comparison_rows(
    partners: PartnersConfig,
    country: str,
    m: date,
    respondents: Mapping[tuple[str, date], int],
    values: Values,
    net: NetworkLookup,
    k: int,
) -> tuple[ComparisonRow, ...]:
    """Every configured country, then the network, in month ``m``'s comparison table.

    Every configured country has its row, with or without answers: a country with none
    shows the same marker as one with 1 or 2, so not even "somebody answered" is disclosed.
    """
    out = []
    for scope in [p.country for p in partners.partners] + [NETWORK]:
        own = scope == country
        n_resp = respondents.get((scope, m), 0)
        cells: dict[str, Cell] = {}
        for key in COMPARISON_COLUMNS:
            row = values.get((scope, m, key))
            value, n = (row["value"], row["n"]) if row else (None, n_resp)
            if own:
                cells[key] = Cell(to_float(value), to_int(n))
            elif scope == NETWORK:
                cells[key] = net(m, key)
            else:
                cells[key] = foreign_cell(value, n, k)
        if own:
            resp_cell = Cell(n_resp, n_resp)
        elif scope == NETWORK:
            count = net(m, "response_rate")
            resp_cell = Cell(count.n, count.n, count.suppressed, count.scopes)
        else:
            resp_cell = foreign_cell(n_resp, n_resp, k)
        name = "" if scope == NETWORK else partners.partner(scope).name
        out.append(ComparisonRow(scope, name, own, resp_cell, cells))
    return tuple(out)


def network_countries(partners: PartnersConfig, month: date, network: Cell) -> tuple[int, int]:
    """(countries the network figures of ``month`` cover, configured countries with members).

    The first is the network figure's own scope (bsin.reporting.disclosure: countries with at least k
    answers), never "countries with data": counting a country with 1 or 2 answers would
    tell its "0 versus a few" apart.
    """
    present = len(network.scopes)
    expected = sum(1 for p in partners.partners if p.members_in(month) > 0)
    return present, max(present, expected)


# --------------------------------------------------------------------------- own rows


def fired_signals(wh: Any, country: str, m: date, language: str) -> tuple[FiredSignal, ...]:
    """The adaptation signals that fired for the country in ``m``, advice in ``language``."""
    from bsin.reporting.signals import signals_for

    # bsin.reporting.signals re-renders each rule's advice from its translation.
    signal_rows = [
        {k: plain(v) for k, v in r.items()}
        for r in signals_for(wh, country, m, language).astype(object).to_dict("records")
    ]
    return tuple(
        FiredSignal(
            rule_id=str(r["rule_id"]),
            subject=str(r["subject"] or ""),
            indicator=str(r["indicator"]),
            measure=str(r["measure"] or ""),
            observed=to_float(r["observed"]),
            comparison=str(r["comparison"] or ""),
            threshold=to_float(r["threshold"]),
            recommendation=redact_emails(str(r["recommendation"])),
            value=to_float(r.get("value")),
        )
        for r in signal_rows
    )


def member_rows(
    wh: Any, country: str, m: date, pseudonym_key: bytes | str | None = None
) -> tuple[dict[str, Any], ...]:
    """The country's own members' answers of ``m`` for the CSV: pseudonymised, redacted.

    The country filter is the privacy boundary for individual-level data: only this
    partner's own members' rows are ever read.
    """
    from bsin.ingest.pseudonymise import load_key, partner_member_id

    key = load_key() if pseudonym_key is None else pseudonym_key
    raw = rows(
        wh,
        # Column names come from the CSV_COLUMNS constant, never from input.
        "select " + ", ".join(CSV_COLUMNS) + " from feedback "  # noqa: S608
        "where country = :c and feedback_month = :m order by member_id",
        {"c": country, "m": m},
    )
    out = []
    for r in raw:
        clean = dict(r)
        # Keyed per partner: a person answering two countries' forms cannot be linked
        # across the two partners' files.
        clean["member_id"] = partner_member_id(str(r["member_id"]), key, country)
        for col in FREE_TEXT_COLUMNS:
            if clean.get(col) is not None:
                clean[col] = redact_emails(str(clean[col]))
        out.append(clean)
    # Sorted by the pseudonym the partner sees, not by the warehouse id.
    return tuple(sorted(out, key=lambda r: r["member_id"]))


def suggestions(members: tuple[Mapping[str, Any], ...]) -> tuple[str, ...]:
    """The members' suggestions as safe one-line texts for the email."""
    return tuple(
        safe_free_text(str(r["suggestion"]))
        for r in members
        if r.get("suggestion") is not None and str(r["suggestion"]).strip()
    )
