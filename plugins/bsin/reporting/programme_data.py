"""The programme report's data: the whole network over the programme, aggregates only.

``build_programme_report(wh, partners, programme) -> ProgrammeContext`` reads
``indicator_value``, ``int_monthly_counts``, ``member_roster`` and ``capability_growth``,
plus counts of distinct members per country from ``feedback`` (no member id, no free
text leaves the SQL). The privacy rules are applied here, once (docs/reports.md,
"Programme report"):

- the one disclosure rule of ``bsin.reporting.disclosure`` (k = ``programme.yaml``
  ``min_respondents``): a country enters a figure only in the months it has at least k
  answers for it, so the network series equals the network column of the partner
  emails and no subtraction (network minus one country or the countries shown, a
  running total minus the previous one, a programme total minus the months shown)
  isolates a small country;
- groups of countries over the programme are protected by complementary suppression
  (``protect_group``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from bsin.core.months import month_range
from bsin.reporting.disclosure import (
    COUNT_COLUMNS,
    INDICATOR_PARTS,
    Cell,
    network_figures,
    pooled,
    protect_group,
    publishable_pairs,
    to_date,
    to_float,
    to_int,
)
from bsin.reporting.programme_model import (
    COUNT_KEYS,
    DISTINCT_COLUMN,
    NETWORK,
    SERIES_KEYS,
    TOTAL_KEYS,
    CapabilityArea,
    MonthPoint,
    ProgrammeContext,
    ProgrammeReportDataError,
    ScopeTotals,
)
from bsin.reporting.queries import rows
from bsin.transform.mapping import NEEDS

if TYPE_CHECKING:
    from bsin.core.config import PartnersConfig, ProgrammeConfig

#: Tables the programme report reads (the marts come from the monthly DAG's dbt build).
TABLES = ("indicator_value", "int_monthly_counts", "member_roster", "capability_growth", "feedback")
#: (month, indicator) -> the network's releasable figure.
Figures = Mapping[tuple[date, str], Cell]


def programme_months(programme: ProgrammeConfig) -> list[date]:
    """Every month from ``first_month`` to ``last_month``, inclusive."""
    return month_range(programme.first_month, programme.effective_last_month)


def last_data_month(wh: Any, programme: ProgrammeConfig) -> date | None:
    """The latest programme month with network indicators (None when there is none)."""
    if not wh.table_exists("indicators_monthly"):
        return None
    found = rows(
        wh,
        "select max(month) as m from indicators_monthly "
        "where scope_country = :scope and month >= :first and month <= :last",
        {"scope": NETWORK, "first": programme.first_month, "last": programme.effective_last_month},
    )
    return to_date(found[0]["m"]) if found and found[0]["m"] is not None else None


def metric(key: str) -> str:
    """The indicator whose answers a figure rests on: ``respondents`` and the programme
    counts rest on the answers behind ``response_rate``."""
    return "response_rate" if key in COUNT_KEYS else key


def build_programme_report(
    wh: Any,
    partners: PartnersConfig,
    programme: ProgrammeConfig,
    language: str = "en",
) -> ProgrammeContext:
    """Read the marts into a ``ProgrammeContext`` with every privacy rule applied.

    A month whose network figure for an indicator is not ``disclosure_safe`` is left out
    of everything about that indicator: its cell in the monthly table, the running total
    and the programme totals of the network and of every country. Otherwise "total minus
    the months shown" would reveal it. ``wh`` is a ``bsin.warehouse.db.Warehouse``; raises
    ``ProgrammeReportDataError`` when the tables do not exist (never migrated or built).
    """
    for table in TABLES:
        if not wh.table_exists(table):
            raise ProgrammeReportDataError(
                f"table {table} missing in warehouse {wh!r}: run the monthly DAG's "
                "prepare_warehouse task and build_marts task group (or `make demo`) first"
            )
    first, last = programme.first_month, programme.effective_last_month
    months = programme_months(programme)
    names = {p.country: p.name for p in partners.partners}
    countries = programme_countries(wh, partners, first, last)
    k = programme.min_respondents
    counts = rows(
        wh,
        # Column names come from the COUNT_COLUMNS constant, never from input.
        "select scope_country, month, "  # noqa: S608
        + ", ".join(COUNT_COLUMNS)
        + " from int_monthly_counts where month >= :first and month <= :last",
        {"first": first, "last": last},
    )
    figures = network_figures(counts, k)
    # A month counts as having data when some figure of it may be released: a month in
    # which only countries under k answered looks like a month nobody answered.
    data_months = {m for (m, _), cell in figures.items() if not cell.suppressed}
    capability = capability_areas(wh, countries, k)
    shown_months = sorted(data_months & set(months))
    return ProgrammeContext(
        programme_name=programme.name,
        first_month=first,
        last_month=last,
        months=tuple(months),
        last_data_month=max(shown_months) if shown_months else None,
        countries=tuple((c, names.get(c, c)) for c in countries),
        active_members=sum(p.members_in(last) for p in partners.partners),
        series=network_series(months, figures, data_months),
        totals=programme_totals(wh, counts, countries, names, k),
        capability=capability,
        capability_overall=overall_growth(capability),
        excluded_months=excluded_months(counts, months, data_months, countries, k),
        language=language,
        min_respondents=k,
    )


def programme_countries(wh: Any, partners: PartnersConfig, first: date, last: date) -> list[str]:
    """The configured countries, then any other country with data in the programme."""
    configured = [p.country for p in partners.partners]
    found = rows(
        wh,
        "select distinct scope_country from indicator_value "
        "where month >= :first and month <= :last",
        {"first": first, "last": last},
    )
    others = {str(r["scope_country"]) for r in found} - {NETWORK} - set(configured)
    return configured + sorted(others)


def network_series(
    months: Sequence[date], figures: Figures, data_months: set[date]
) -> tuple[MonthPoint, ...]:
    """The network per month: the same figures as the partner emails' network column."""
    series = []
    for m in months:
        cells: dict[str, Cell] = {}
        for key in SERIES_KEYS:
            if m not in data_months:
                cells[key] = Cell(None, None if key == "connections_cumulative" else 0)
                continue
            fig = figures[(m, metric(key))]
            if key == "respondents":
                fig = Cell(
                    None if fig.n is None else float(fig.n), fig.n, fig.suppressed, fig.scopes
                )
            cells[key] = fig
        series.append(MonthPoint(m, cells))
    return tuple(series)


def _total_cell(key: str, pooled_cell: Cell, members: int) -> Cell:
    if key == "participants":
        return Cell(float(members) if members else None, members)
    if key == "responses":
        return Cell(float(pooled_cell.n) if pooled_cell.n else None, members)
    return Cell(pooled_cell.value, members)


def programme_totals(
    wh: Any,
    counts: Sequence[Mapping[str, Any]],
    countries: Sequence[str],
    names: Mapping[str, str],
    k: int,
) -> tuple[ScopeTotals, ...]:
    """Programme totals per country and for the network, over publishable pairs only,
    with complementary suppression across the countries of each figure."""
    per_key: dict[str, tuple[dict[str, Cell], Cell]] = {}
    for key in TOTAL_KEYS:
        pairs = publishable_pairs(counts, metric(key), k)
        distinct = distinct_members(wh, DISTINCT_COLUMN.get(key), pairs)
        country_cells = {
            c: _total_cell(key, pooled(counts, metric(key), k, [c]), distinct.get(c, 0))
            for c in countries
        }
        network = _total_cell(key, pooled(counts, metric(key), k), sum(distinct.values()))
        per_key[key] = protect_group(country_cells, network, k)
    totals = [
        ScopeTotals(c, names.get(c, c), {key: per_key[key][0][c] for key in TOTAL_KEYS})
        for c in countries
    ]
    totals.append(ScopeTotals(NETWORK, "", {key: per_key[key][1] for key in TOTAL_KEYS}))
    return tuple(totals)


def distinct_members(
    wh: Any, column: str | None, pairs: Mapping[str, Sequence[date]]
) -> dict[str, int]:
    """Per country: distinct members who answered ``column`` (None: answered at all).

    Counted over ``pairs`` (country -> months) only, the (country, month) pairs a total
    covers. Only counts leave the database: no member id is read into Python.
    """
    params: dict[str, Any] = {}
    clauses = []
    for i, (country, months_in) in enumerate(sorted(pairs.items())):
        if not months_in:
            continue
        params[f"c{i}"] = country
        names = []
        for j, m in enumerate(months_in):
            params[f"m{i}_{j}"] = m
            names.append(f":m{i}_{j}")
        clauses.append(f"(country = :c{i} and feedback_month in ({', '.join(names)}))")
    if not clauses:
        return {}
    counted = f"case when {column} is not null then member_id end" if column else "member_id"
    found = rows(
        wh,
        # Column names come from the DISTINCT_COLUMN constant, never from input; the
        # clauses only name bound parameters.
        f"select country, count(distinct {counted}) as n from feedback "  # noqa: S608
        f"where {' or '.join(clauses)} group by country",
        params,
    )
    return {str(r["country"]): to_int(r["n"]) or 0 for r in found}


def excluded_months(
    counts: Sequence[Mapping[str, Any]],
    months: Sequence[date],
    data_months: set[date],
    countries: Sequence[str],
    k: int,
) -> tuple[date, ...]:
    """Months in which some country had fewer than k answers for a figure shown, and so
    is not in it. A country without any answer counts too: listing only the months of
    countries with 1 or 2 answers would tell that somebody there answered."""
    shown_keys = {metric(key) for key in (*SERIES_KEYS, *TOTAL_KEYS)} & set(INDICATOR_PARTS)
    by_pair = {(str(r["scope_country"]), to_date(r["month"])): r for r in counts}
    return tuple(
        m
        for m in months
        if m in data_months
        and any(
            (to_int(by_pair.get((c, m), {}).get(INDICATOR_PARTS[key].n)) or 0) < k
            for c in countries
            for key in shown_keys
        )
    )


def capability_areas(wh: Any, countries: Sequence[str], k: int) -> tuple[CapabilityArea, ...]:
    """Baseline vs end-line per capability area, network and per country, group-protected."""
    cap_rows = rows(
        wh,
        "select scope_country, area, members, baseline_mean, endline_mean, growth_mean "
        "from capability_growth",
        {},
    )
    cap = {(str(r["scope_country"]), str(r["area"])): r for r in cap_rows}
    areas = [a for a in NEEDS if (NETWORK, a) in cap]
    areas += sorted({a for s, a in cap if s == NETWORK} - set(areas))
    out = []
    for area in areas:
        net_row = cap[(NETWORK, area)]
        net = Cell(to_float(net_row["growth_mean"]), to_int(net_row["members"]) or 0)
        by_country = {}
        for c in countries:
            row = cap.get((c, area))
            by_country[c] = (
                Cell(to_float(row["growth_mean"]), to_int(row["members"]) or 0)
                if row
                else Cell(None, 0)
            )
        by_country, net = protect_group(by_country, net, k)
        out.append(
            CapabilityArea(
                area=area,
                network=net,
                baseline=None if net.suppressed else to_float(net_row["baseline_mean"]),
                endline=None if net.suppressed else to_float(net_row["endline_mean"]),
                by_country=by_country,
            )
        )
    return tuple(out)


def overall_growth(capability: Sequence[CapabilityArea]) -> Cell:
    """Mean growth over the areas shown, weighted by members: a suppressed area must not be
    recoverable from the mean."""
    shown_areas = [a for a in capability if a.network.shown is not None]
    weight = sum(a.network.n or 0 for a in shown_areas)
    return Cell(
        sum(a.network.value * (a.network.n or 0) for a in shown_areas) / weight if weight else None,
        weight,
    )
