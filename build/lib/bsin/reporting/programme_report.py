"""The programme report: the whole network over the programme, for the final event.

Same three steps as the partner report (``bsin.reporting.report``), and built from the same marts:

* ``build_programme_report(wh, partners, programme) -> ProgrammeContext``: aggregates only,
  read from ``indicator_value``, ``member_roster`` and ``capability_growth``, plus counts of
  distinct members per country from ``feedback`` (no member id, no free text leaves the
  SQL). The privacy rules are applied here, once (docs/reports.md, "Programme report"):

  - the one disclosure rule of ``bsin.reporting.disclosure`` (k = ``programme.yaml``
    ``min_respondents``): a country enters a figure only in the months it has at least k
    answers for it, so the network series equals the network column of the partner
    emails and no subtraction (network minus one country or the countries shown, a
    running total minus the previous one, a programme total minus the months shown)
    isolates a small country;
  - groups of countries over the programme are protected by complementary suppression
    (``protect_group``).

* ``render_programme_report(ctx) -> RenderedProgrammeReport``: HTML (Jinja2, charts inlined
  as ``data:`` PNGs, one self-contained file) and a multi-page PDF drawn with matplotlib's
  ``PdfPages`` from the same display-ready view, so both show identical figures.
* ``produce_programme_report(wh, partners, programme, out_dir, force)``: what the Airflow
  task and ``scripts/programme_report.py`` call; skips (with the reason) when the warehouse
  has no data for the programme's last month, unless forced.

pandas and matplotlib are imported lazily: the DAG file imports nothing heavy at parse time.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bsin.core.months import month_range
from bsin.core.paths import TEMPLATES_DIR
from bsin.reporting.disclosure import (
    COUNT_COLUMNS,
    INDICATOR_PARTS,
    network_figures,
    pooled,
    protect_group,
    publishable_pairs,
)
from bsin.reporting.report import (
    MIN_RESPONDENTS,
    NETWORK,
    Cell,
    _environment,
    _int,
    _num,
    _rows,
    _to_date,
    format_value,
)
from bsin.reporting.report_i18n import TranslationError, Translator, load_catalogue
from bsin.transform.mapping import NEEDS

if TYPE_CHECKING:
    from bsin.core.config import PartnersConfig, ProgrammeConfig

log = logging.getLogger(__name__)

PROGRAMME_I18N_DIR = TEMPLATES_DIR / "programme" / "i18n"
TEMPLATE = "programme/programme_report.html"
HTML_NAME, PDF_NAME = "programme_report.html", "programme_report.pdf"

#: Network indicators shown per month (``respondents`` is the count behind response_rate).
SERIES_KEYS = (
    "respondents",
    "response_rate",
    "satisfaction_mean",
    "nps",
    "connections_sum",
    "connections_cumulative",
    "access_public_sector_rate",
    "access_corporate_rate",
    "access_impact_investor_rate",
    "access_media_rate",
    "access_any_rate",
)
TREND_TABLE_KEYS = ("respondents", "response_rate", "satisfaction_mean", "nps")
CONNECTION_KEYS = ("connections_sum", "connections_cumulative")
ACCESS_KEYS = (
    "access_public_sector_rate",
    "access_corporate_rate",
    "access_impact_investor_rate",
    "access_media_rate",
    "access_any_rate",
)
#: Programme totals per country and for the network, in column order.
TOTAL_KEYS = (
    "participants",
    "responses",
    "response_rate",
    "satisfaction_mean",
    "nps",
    "skill_gain_rate",
    "connections_sum",
    "access_any_rate",
)
#: The ``feedback`` column whose distinct members stand behind each programme total.
DISTINCT_COLUMN = {
    "satisfaction_mean": "satisfaction",
    "nps": "recommend",
    "skill_gain_rate": "new_skill",
    "connections_sum": "new_connections_abroad",
    "access_any_rate": "stakeholder_access",
}
COUNT_KEYS = frozenset({"participants", "responses", "respondents", "members"})
#: Headline figures (network programme totals) and their label keys.
KPI_LABELS = {
    "participants": "kpi_participants",
    "responses": "kpi_responses",
    "response_rate": "kpi_response_rate",
    "satisfaction_mean": "kpi_satisfaction",
    "nps": "kpi_nps",
    "connections_sum": "kpi_connections",
}


class ProgrammeReportDataError(LookupError):
    """The warehouse lacks what the programme report needs; the message names the fix."""


# --------------------------------------------------------------------------- privacy
# The rule and its techniques live in bsin.reporting.disclosure (docs/security.md): network figures
# over the countries with at least k answers, programme totals pooled over the same
# (country, month) pairs, complementary suppression for groups of countries.


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class MonthPoint:
    """The network in one programme month: ``key -> Cell`` for every ``SERIES_KEYS``."""

    month: date
    cells: Mapping[str, Cell]


@dataclass(frozen=True)
class CapabilityArea:
    """Baseline vs end-line of one capability area: network and per-country growth."""

    area: str
    network: Cell  # growth_mean, n = members who rated the area in both waves
    baseline: float | None
    endline: float | None
    by_country: Mapping[str, Cell]


@dataclass(frozen=True)
class ScopeTotals:
    """One country (or the network) over the whole programme: ``key -> Cell``."""

    scope: str
    name: str
    cells: Mapping[str, Cell]


@dataclass(frozen=True)
class ProgrammeContext:
    """Everything the programme report shows (aggregates only), and nothing else."""

    programme_name: str
    first_month: date
    last_month: date
    months: tuple[date, ...]
    last_data_month: date | None
    countries: tuple[tuple[str, str], ...]  # (code, name)
    active_members: int
    series: tuple[MonthPoint, ...]
    totals: tuple[ScopeTotals, ...]
    capability: tuple[CapabilityArea, ...]
    capability_overall: Cell
    excluded_months: tuple[date, ...] = ()  # months a country under k was left out of
    language: str = "en"
    min_respondents: int = MIN_RESPONDENTS

    @property
    def complete(self) -> bool:
        """Whether the warehouse holds the programme's last month."""
        return self.last_data_month is not None and self.last_data_month >= self.last_month

    def total(self, scope: str) -> ScopeTotals | None:
        """Programme totals of ``scope`` (a country code or ``NETWORK``)."""
        return next((s for s in self.totals if s.scope == scope), None)


@dataclass(frozen=True)
class RenderedProgrammeReport:
    """The rendered report: one self-contained HTML page and a PDF."""

    html: str
    pdf: bytes
    charts: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ProgrammeReportResult:
    """What ``produce_programme_report`` did: ``written`` or ``skipped``, and why."""

    status: str
    message: str
    last_data_month: date | None
    html_path: Path | None = None
    pdf_path: Path | None = None
    #: The same report in each other report language of the partners: language ->
    #: (html, pdf).
    translations: Mapping[str, tuple[Path, Path]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (an Airflow task's return value goes to XCom)."""
        return {
            "status": self.status,
            "message": self.message,
            "last_data_month": self.last_data_month.isoformat() if self.last_data_month else None,
            "html": str(self.html_path) if self.html_path else None,
            "pdf": str(self.pdf_path) if self.pdf_path else None,
            "translations": {
                lang: {"html": str(h), "pdf": str(p)} for lang, (h, p) in self.translations.items()
            },
        }


# --------------------------------------------------------------------------- build


def programme_months(programme: ProgrammeConfig) -> list[date]:
    """Every month from ``first_month`` to ``last_month``, inclusive."""
    return month_range(programme.first_month, programme.effective_last_month)


def last_data_month(wh: Any, programme: ProgrammeConfig) -> date | None:
    """The latest programme month with network indicators (None when there is none)."""
    if not wh.table_exists("indicators_monthly"):
        return None
    rows = _rows(
        wh,
        "select max(month) as m from indicators_monthly "
        "where scope_country = :scope and month >= :first and month <= :last",
        {"scope": NETWORK, "first": programme.first_month, "last": programme.effective_last_month},
    )
    return _to_date(rows[0]["m"]) if rows and rows[0]["m"] is not None else None


def _distinct_members(
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
    rows = _rows(
        wh,
        # Column names come from the DISTINCT_COLUMN constant, never from input; the
        # clauses only name bound parameters.
        f"select country, count(distinct {counted}) as n from feedback "  # noqa: S608
        f"where {' or '.join(clauses)} group by country",
        params,
    )
    return {str(r["country"]): _int(r["n"]) or 0 for r in rows}


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
    for table in (
        "indicator_value",
        "int_monthly_counts",
        "member_roster",
        "capability_growth",
        "feedback",
    ):
        if not wh.table_exists(table):
            raise ProgrammeReportDataError(
                f"table {table} missing in warehouse {wh!r}: run the monthly DAG's "
                "prepare_warehouse task and build_marts task group (or `make demo`) first"
            )
    first, last = programme.first_month, programme.effective_last_month
    months = programme_months(programme)
    window = {"first": first, "last": last}

    values = _rows(
        wh,
        "select scope_country, month, indicator, value, n from indicator_value "
        "where month >= :first and month <= :last",
        window,
    )
    iv: dict[tuple[str, date, str], tuple[float | None, int]] = {
        (str(r["scope_country"]), _to_date(r["month"]), str(r["indicator"])): (
            _num(r["value"]),
            _int(r["n"]) or 0,
        )
        for r in values
    }
    names = {p.country: p.name for p in partners.partners}
    data_scopes = {k[0] for k in iv} - {NETWORK}
    countries = [p.country for p in partners.partners] + sorted(data_scopes - set(names))

    k = programme.min_respondents
    counts = _rows(
        wh,
        # Column names come from the COUNT_COLUMNS constant, never from input.
        "select scope_country, month, "  # noqa: S608
        + ", ".join(COUNT_COLUMNS)
        + " from int_monthly_counts where month >= :first and month <= :last",
        window,
    )
    figures = network_figures(counts, k)
    # A month counts as having data when some figure of it may be released: a month in
    # which only countries under k answered looks like a month nobody answered.
    data_months_set = {m for (m, _), cell in figures.items() if not cell.suppressed}

    def metric(key: str) -> str:
        # respondents and programme counts rest on the answers behind response_rate
        return "response_rate" if key in COUNT_KEYS else key

    # ---- network per month: the same figures as the partner emails' network column
    series: list[MonthPoint] = []
    for m in months:
        cells: dict[str, Cell] = {}
        for key in SERIES_KEYS:
            if m not in data_months_set:
                cells[key] = Cell(None, None if key == "connections_cumulative" else 0)
                continue
            fig = figures[(m, metric(key))]
            if key == "respondents":
                fig = Cell(
                    None if fig.n is None else float(fig.n), fig.n, fig.suppressed, fig.scopes
                )
            cells[key] = fig
        series.append(MonthPoint(m, cells))

    # ---- programme totals per country and for the network, over publishable pairs
    def total_cell(key: str, pooled_cell: Cell, members: int) -> Cell:
        if key == "participants":
            return Cell(float(members) if members else None, members)
        if key == "responses":
            return Cell(float(pooled_cell.n) if pooled_cell.n else None, members)
        return Cell(pooled_cell.value, members)

    per_key: dict[str, tuple[dict[str, Cell], Cell]] = {}
    for key in TOTAL_KEYS:
        pairs = publishable_pairs(counts, metric(key), k)
        distinct = _distinct_members(wh, DISTINCT_COLUMN.get(key), pairs)
        country_cells = {
            c: total_cell(key, pooled(counts, metric(key), k, [c]), distinct.get(c, 0))
            for c in countries
        }
        network = total_cell(key, pooled(counts, metric(key), k), sum(distinct.values()))
        per_key[key] = protect_group(country_cells, network, k)
    totals = [
        ScopeTotals(c, names.get(c, c), {key: per_key[key][0][c] for key in TOTAL_KEYS})
        for c in countries
    ]
    totals.append(ScopeTotals(NETWORK, "", {key: per_key[key][1] for key in TOTAL_KEYS}))
    # Months in which some country had fewer than k answers for a figure and so is not in
    # it. A country without any answer counts too: listing only the months of countries
    # with 1 or 2 answers would tell that somebody there answered.
    shown_keys = {metric(key) for key in (*SERIES_KEYS, *TOTAL_KEYS)} & set(INDICATOR_PARTS)
    by_pair = {(str(r["scope_country"]), _to_date(r["month"])): r for r in counts}
    excluded_months = tuple(
        m
        for m in months
        if m in data_months_set
        and any(
            (_int(by_pair.get((c, m), {}).get(INDICATOR_PARTS[key].n)) or 0) < k
            for c in countries
            for key in shown_keys
        )
    )

    # ---- capability growth
    cap_rows = _rows(
        wh,
        "select scope_country, area, members, baseline_mean, endline_mean, growth_mean "
        "from capability_growth",
        {},
    )
    cap = {(str(r["scope_country"]), str(r["area"])): r for r in cap_rows}
    areas = [a for a in NEEDS if (NETWORK, a) in cap]
    areas += sorted({a for s, a in cap if s == NETWORK} - set(areas))
    capability = []
    for area in areas:
        net_row = cap[(NETWORK, area)]
        net = Cell(_num(net_row["growth_mean"]), _int(net_row["members"]) or 0)
        by_country = {}
        for c in countries:
            row = cap.get((c, area))
            by_country[c] = (
                Cell(_num(row["growth_mean"]), _int(row["members"]) or 0) if row else Cell(None, 0)
            )
        by_country, net = protect_group(by_country, net, k)
        capability.append(
            CapabilityArea(
                area=area,
                network=net,
                baseline=None if net.suppressed else _num(net_row["baseline_mean"]),
                endline=None if net.suppressed else _num(net_row["endline_mean"]),
                by_country=by_country,
            )
        )
    # Over the areas shown only: a suppressed area must not be recoverable from the mean.
    shown_areas = [a for a in capability if a.network.shown is not None]
    weight = sum(a.network.n or 0 for a in shown_areas)
    overall = Cell(
        sum(a.network.value * (a.network.n or 0) for a in shown_areas) / weight if weight else None,
        weight,
    )

    data_months = sorted(data_months_set & set(months))
    return ProgrammeContext(
        programme_name=programme.name,
        first_month=first,
        last_month=last,
        months=tuple(months),
        last_data_month=max(data_months) if data_months else None,
        countries=tuple((c, names.get(c, c)) for c in countries),
        active_members=sum(p.members_in(last) for p in partners.partners),
        series=tuple(series),
        totals=tuple(totals),
        capability=tuple(capability),
        capability_overall=overall,
        excluded_months=excluded_months,
        language=language,
        min_respondents=k,
    )


# --------------------------------------------------------------------------- formatting


@lru_cache(maxsize=8)
def _programme_catalogue(language: str) -> dict[str, object]:
    path = PROGRAMME_I18N_DIR / f"{language}.yaml"
    if not path.exists():
        available = sorted(p.stem for p in PROGRAMME_I18N_DIR.glob("*.yaml"))
        raise TranslationError(
            f"{path}: no programme report strings for language {language!r} (have {available}); "
            "copy include/templates/programme/i18n/en.yaml and translate it"
        )
    return load_catalogue(language, PROGRAMME_I18N_DIR)


@dataclass(frozen=True)
class ProgrammeTranslator(Translator):
    """The partner report's ``Translator``, with the programme report's own strings first."""

    def _lookup(self, key: str) -> object:
        own = _programme_catalogue(self.language)
        if key in own:
            return own[key]
        return super()._lookup(key)

    def has(self, key: str) -> bool:
        """Whether ``key`` is known to the programme or the partner catalogue."""
        return key in _programme_catalogue(self.language) or super().has(key)


def _label(key: str, t: Translator) -> str:
    if key == "respondents":
        return t("col_respondents")
    return t("ind." + key) if t.has("ind." + key) else key.replace("_", " ")


def cell_text(key: str, cell: Cell, t: Translator) -> str:
    """A cell as printed: the n<3 marker when suppressed, a dash when there is no value."""
    if cell.suppressed:
        return t("suppressed_marker")
    if cell.value is None:
        return "–"
    if key in COUNT_KEYS:
        return t.number(cell.value)
    if key == "growth":
        return t.number(cell.value, decimals=1, signed=True)
    if key == "level":
        return t.number(cell.value, decimals=1)
    return format_value(key, cell.value, t)


def _month_label(m: date, t: Translator) -> str:
    return t.month(m)


def _tick(m: date, i: int, t: Translator) -> str:
    # The year only where it changes, so a 13-month axis stays readable.
    short = t.month(m, short=True)
    return f"{short}\n{t.fmt.year(m)}" if i == 0 or m.month == 1 else short


def _table(headers: Sequence[str], rows: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> dict:
    """A table for both outputs: headers, then rows of (label, [(cell id, text), ...])."""
    return {
        "headers": list(headers),
        "rows": [
            {"label": label, "cells": [{"id": cid, "text": text} for cid, text in cells]}
            for label, cells in rows
        ],
    }


def build_view(ctx: ProgrammeContext, t: Translator) -> dict[str, Any]:
    """Display-ready strings for the HTML template and the PDF (they show the same)."""
    network = ctx.total(NETWORK)
    assert network is not None  # build_programme_report always adds the network row
    period = {
        "first": _month_label(ctx.first_month, t),
        "last": _month_label(ctx.last_month, t),
    }
    if ctx.last_data_month is None:
        status = t("status_empty")
    elif ctx.complete:
        status = t("status_final", month=_month_label(ctx.last_data_month, t))
    else:
        status = t("status_interim", month=_month_label(ctx.last_data_month, t), **period)

    kpis = [
        {"id": f"kpi.{k}", "label": t(label), "text": cell_text(k, network.cells[k], t)}
        for k, label in KPI_LABELS.items()
    ]
    kpis.append(
        {
            "id": "kpi.capability_growth",
            "label": t("kpi_capability"),
            "text": cell_text("growth", ctx.capability_overall, t),
        }
    )

    cap_network = _table(
        [t("col_area"), t("col_members"), t("col_baseline"), t("col_endline"), t("col_growth")],
        [
            (
                t("area." + a.area) if t.has("area." + a.area) else a.area,
                [
                    (
                        f"cap.NETWORK.{a.area}.members",
                        cell_text(
                            "members", Cell(a.network.n, a.network.n, a.network.suppressed), t
                        ),
                    ),
                    (
                        f"cap.NETWORK.{a.area}.baseline",
                        cell_text("level", Cell(a.baseline, a.network.n, a.network.suppressed), t),
                    ),
                    (
                        f"cap.NETWORK.{a.area}.endline",
                        cell_text("level", Cell(a.endline, a.network.n, a.network.suppressed), t),
                    ),
                    (f"cap.NETWORK.{a.area}.growth", cell_text("growth", a.network, t)),
                ],
            )
            for a in ctx.capability
        ],
    )
    cap_country = _table(
        [t("col_area")] + [code for code, _ in ctx.countries] + [t("network")],
        [
            (
                t("area." + a.area) if t.has("area." + a.area) else a.area,
                [
                    (f"cap.{c}.{a.area}", cell_text("growth", a.by_country[c], t))
                    for c, _ in ctx.countries
                ]
                + [(f"cap.NETWORK.{a.area}", cell_text("growth", a.network, t))],
            )
            for a in ctx.capability
        ],
    )

    def series_table(keys: Sequence[str], headers: Sequence[str]) -> dict:
        return _table(
            [t("col_month"), *headers],
            [
                (
                    _month_label(p.month, t),
                    [(f"series.{p.month:%Y-%m}.{k}", cell_text(k, p.cells[k], t)) for k in keys],
                )
                for p in ctx.series
            ],
        )

    totals = _table(
        [t("col_country")]
        + [
            t("col_" + k) if k in ("participants", "responses") else _label(k, t)
            for k in TOTAL_KEYS
        ],
        [
            (
                t("network") if s.scope == NETWORK else t.country(s.scope, s.name),
                [(f"total.{s.scope}.{k}", cell_text(k, s.cells[k], t)) for k in TOTAL_KEYS],
            )
            for s in ctx.totals
        ],
    )
    any_suppressed = (
        any(c.suppressed for p in ctx.series for c in p.cells.values())
        or any(c.suppressed for s in ctx.totals for c in s.cells.values())
        or any(
            a.network.suppressed or any(c.suppressed for c in a.by_country.values())
            for a in ctx.capability
        )
    )
    return {
        "t": t,
        "ctx": ctx,
        "title": t("title", programme=ctx.programme_name),
        "subtitle": t("subtitle", months=len(ctx.months), countries=len(ctx.countries), **period),
        "status": status,
        "intro": t("intro", members=ctx.active_members, countries=len(ctx.countries)),
        "kpis": kpis,
        "cap_network": cap_network,
        "cap_country": cap_country,
        "has_capability": bool(ctx.capability),
        "connections": series_table(
            CONNECTION_KEYS, [t("col_connections_month"), t("col_connections_cumulative")]
        ),
        "access": series_table(ACCESS_KEYS, [_label(k, t) for k in ACCESS_KEYS]),
        "trends": series_table(TREND_TABLE_KEYS, [_label(k, t) for k in TREND_TABLE_KEYS]),
        "totals": totals,
        "any_suppressed": any_suppressed,
        "suppressed_note": t(
            "suppressed_note", marker=t("suppressed_marker"), n=ctx.min_respondents
        ),
        "method": [
            t("method_weighted"),
            t("method_privacy", n=ctx.min_respondents, marker=t("suppressed_marker")),
            t("method_source"),
        ]
        + (
            [t("excluded_note", months=", ".join(_month_label(m, t) for m in ctx.excluded_months))]
            if ctx.excluded_months
            else []
        ),
        "footer": t("footer", programme=ctx.programme_name),
    }


# --------------------------------------------------------------------------- charts


def _nan(cell: Cell, scale: float = 1.0) -> float:
    value = cell.shown
    return float("nan") if value is None else value * scale


#: Programme chart text size (points) and width (inches): the PDF's text width; the HTML
#: shows the same PNG scaled to its column.
CHART_FONT_PT, CHART_WIDTH_IN = 8.0, 7.0


def _style(ax: Any, ctx: ProgrammeContext, t: Translator, title: str, ylabel: str = "") -> None:
    xs = list(range(len(ctx.series)))
    ax.set_xticks(
        xs, [_tick(p.month, i, t) for i, p in enumerate(ctx.series)], fontsize=CHART_FONT_PT
    )
    # Half a month of room either side: the first and last points are not cut.
    ax.set_xlim(-0.6, max(len(xs) - 0.4, 0.6))
    ax.tick_params(axis="y", labelsize=CHART_FONT_PT)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=CHART_FONT_PT)
    ax.grid(axis="y", color="#eeeeee")
    ax.set_axisbelow(True)  # grid lines behind the bars
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title, fontsize=10, loc="left")


def draw_trend(ax: Any, ctx: ProgrammeContext, name: str, t: Translator) -> None:
    """One network indicator over the programme (months with suppressed values left blank)."""
    from bsin.reporting.report_charts import CHART_META, COUNTRY_COLOUR, TREND_CHARTS

    indicator, axis_key, ylim, yticks, scale = TREND_CHARTS[name]
    xs = list(range(len(ctx.series)))
    ys = [_nan(p.cells[indicator], scale) for p in ctx.series]
    ax.plot(xs, ys, color=COUNTRY_COLOUR, marker="o", ms=4, lw=2.2, clip_on=False)
    ax.set_ylim(*ylim)
    ax.set_yticks(yticks)
    if indicator == "nps":
        ax.axhline(0, color="#cccccc", lw=0.8)
    _style(ax, ctx, t, t(CHART_META[name][1]), t(axis_key))


def draw_connections(ax: Any, ctx: ProgrammeContext, t: Translator) -> None:
    """Bars of new contacts abroad per month, the running total as a line on its own axis."""
    from bsin.reporting.report_charts import COUNTRY_COLOUR, NETWORK_COLOUR

    xs = list(range(len(ctx.series)))
    ax.bar(
        xs,
        [_nan(p.cells["connections_sum"]) for p in ctx.series],
        color=NETWORK_COLOUR,
        label=t("legend_month"),
    )
    twin = ax.twinx()
    twin.plot(
        xs,
        [_nan(p.cells["connections_cumulative"]) for p in ctx.series],
        color=COUNTRY_COLOUR,
        marker="o",
        ms=4,
        lw=2.2,
        label=t("legend_cumulative"),
    )
    twin.set_ylim(bottom=0)
    twin.margins(y=0.08)
    twin.tick_params(axis="y", labelsize=CHART_FONT_PT, colors=COUNTRY_COLOUR)
    # Both axes say what they count: bars on the left, the running total on the right.
    twin.set_ylabel(t("legend_cumulative"), fontsize=CHART_FONT_PT, color=COUNTRY_COLOUR)
    twin.spines[["top"]].set_visible(False)
    _style(ax, ctx, t, t("chart_connections"), t("legend_month"))
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=CHART_FONT_PT, frameon=False, loc="upper left")


def draw_access(ax: Any, ctx: ProgrammeContext, t: Translator) -> None:
    """Share of responding members reaching each kind of stakeholder, per month."""
    colours = ("#0b6e8a", "#d98c00", "#1e7a35", "#8a3b9e", "#4a5a63")
    xs = list(range(len(ctx.series)))
    for key, colour in zip(ACCESS_KEYS, colours, strict=True):
        ax.plot(
            xs,
            [_nan(p.cells[key], 100) for p in ctx.series],
            color=colour,
            marker="o",
            ms=3,
            lw=2.2 if key == "access_any_rate" else 1.4,
            ls="--" if key == "access_any_rate" else "-",
            label=_label(key, t),
        )
    ax.set_ylim(-4, 104)
    for line in ax.get_lines():
        line.set_clip_on(False)
    _style(ax, ctx, t, t("chart_access"), t("axis_percent_answers"))
    ax.legend(
        fontsize=CHART_FONT_PT - 0.5,
        frameon=False,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22),
        ncols=2,
    )


def draw_capability(ax: Any, ctx: ProgrammeContext, t: Translator) -> None:
    """Baseline vs end-line level per area (network); suppressed areas are marked n<3."""
    from bsin.reporting.report_charts import COUNTRY_COLOUR, NETWORK_COLOUR

    areas = list(ctx.capability)
    ys = list(range(len(areas)))
    base = [float("nan") if a.baseline is None else a.baseline for a in areas]
    end = [float("nan") if a.endline is None else a.endline for a in areas]
    ax.barh(
        [y - 0.2 for y in ys], base, height=0.38, color=NETWORK_COLOUR, label=t("legend_baseline")
    )
    ax.barh(
        [y + 0.2 for y in ys], end, height=0.38, color=COUNTRY_COLOUR, label=t("legend_endline")
    )
    for y, a in zip(ys, areas, strict=True):
        if a.network.suppressed:
            ax.text(
                1.05,
                y,
                t("suppressed_marker"),
                va="center",
                fontsize=CHART_FONT_PT,
                color="#666666",
            )
        elif a.network.value is not None and a.endline is not None:
            ax.text(
                a.endline + 0.05,
                y + 0.2,
                t.number(a.network.value, decimals=1, signed=True),
                va="center",
                fontsize=CHART_FONT_PT,
                color=COUNTRY_COLOUR,
            )
    labels = [t("area." + a.area) if t.has("area." + a.area) else a.area for a in areas]
    ax.set_yticks(ys, labels, fontsize=CHART_FONT_PT)
    ax.invert_yaxis()
    ax.set_xlim(1, 5.6)
    ax.tick_params(axis="x", labelsize=CHART_FONT_PT)
    ax.set_xlabel(t("axis_level"), fontsize=CHART_FONT_PT)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(t("chart_capability"), fontsize=10, loc="left")
    ax.legend(fontsize=CHART_FONT_PT, frameon=False, loc="lower right")


def chart_drawers(
    ctx: ProgrammeContext, t: Translator
) -> dict[str, tuple[Callable[[Any], None], float]]:
    """Chart name -> (draw into an Axes, height in inches), in display order."""
    charts: dict[str, tuple[Callable[[Any], None], float]] = {}
    if ctx.capability:
        charts["capability"] = (
            lambda ax: draw_capability(ax, ctx, t),
            max(2.3, 0.32 * len(ctx.capability) + 0.8),
        )
    charts["connections"] = (lambda ax: draw_connections(ax, ctx, t), 2.6)
    charts["access"] = (lambda ax: draw_access(ax, ctx, t), 3.4)
    for name in ("trend_satisfaction", "trend_nps", "trend_response_rate"):
        # Three to a page with the 13-row monthly table under them: no orphan page.
        charts[name] = (lambda ax, name=name: draw_trend(ax, ctx, name, t), 2.05)
    return charts


def render_chart_pngs(ctx: ProgrammeContext, t: Translator) -> dict[str, bytes]:
    """Every chart as PNG bytes (the partner report's size, resolution and metadata)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from bsin.reporting.report_charts import _png

    pngs = {}
    for name, (draw, height) in chart_drawers(ctx, t).items():
        fig = Figure(figsize=(CHART_WIDTH_IN, height), layout="constrained")
        draw(fig.add_subplot())
        pngs[name] = _png(fig)
    return pngs


# --------------------------------------------------------------------------- PDF

A4_IN = (8.27, 11.69)
MARGIN_IN = 0.6
#: A table split leaves at least this many rows on a page of their own, else it
#: squeezes them onto the page (rows no lower than MIN_ROW_IN) or carries more over.
ORPHAN_ROWS, MIN_ROW_IN = 5, 0.16


def _text_width_pt(text: str, size: float) -> float:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    return TextPath((0, 0), text, size=size, prop=FontProperties(weight="bold")).get_extents().width


def _fit_header(text: str, avail_pt: float, size: float = 6.8) -> tuple[str, float]:
    """``text`` wrapped at spaces to ``avail_pt`` points, and the font size that fits its
    longest word (never below 5 pt; never a break inside a word)."""
    words = text.split() or [""]
    widest = max(_text_width_pt(w, size) for w in words)
    if widest > avail_pt:
        size = max(5.0, size * avail_pt / widest)
    lines: list[str] = []
    for word in words:
        if lines and _text_width_pt(lines[-1] + " " + word, size) <= avail_pt:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines), size


class _PdfWriter:
    """Lays headings, paragraphs, charts and tables top-down on A4 pages of a PdfPages."""

    def __init__(self, pdf: Any, footer: str, t: Translator) -> None:
        self.pdf, self.footer, self.t = pdf, footer, t
        self.fig: Any = None
        self.y = 0.0  # inches from the top of the page
        self.pages = 0
        #: (page, rows) of every table part laid out, to check for orphan rows.
        self.table_parts: list[tuple[int, int]] = []

    def _new_page(self) -> None:
        from matplotlib.figure import Figure

        self.close_page()
        self.fig = Figure(figsize=A4_IN)
        self.pages += 1
        self.y = MARGIN_IN

    def close_page(self) -> None:
        """Write the current page (with its footer) to the PDF."""
        if self.fig is None:
            return
        self.fig.text(
            MARGIN_IN / A4_IN[0],
            0.35 / A4_IN[1],
            f"{self.footer}   ·   {self.t('page', n=self.pages)}",
            fontsize=7,
            color="#6b7a82",
        )
        self.pdf.savefig(self.fig)
        self.fig = None

    def _room(self, height: float) -> None:
        if self.fig is None or self.y + height > A4_IN[1] - MARGIN_IN - 0.3:
            self._new_page()

    def _text(self, text: str, size: float, height: float, **kw: Any) -> None:
        self.fig.text(
            MARGIN_IN / A4_IN[0], 1 - self.y / A4_IN[1], text, fontsize=size, va="top", **kw
        )
        self.y += height

    def heading(self, text: str, size: float = 13, new_page: bool = False) -> None:
        """A section heading (on a new page when asked, or when this one is full)."""
        if new_page:
            self._new_page()
        self._room(1.2)
        self.y += 0.1
        self._text(text, size, size / 72 * 1.6, color="#0b6e8a", weight="bold")

    def paragraph(self, text: str, size: float = 9, width: int = 95) -> None:
        """Wrapped body text."""
        lines = textwrap.wrap(text, width=width) or [""]
        height = len(lines) * size / 72 * 1.45 + 0.08
        self._room(height)
        self._text("\n".join(lines), size, height, color="#1f2a30", linespacing=1.35)

    def chart(self, draw: Callable[[Any], None], height: float) -> None:
        """A chart drawn by ``draw(ax)`` across the text width."""
        self._room(height + 0.1)
        width = A4_IN[0] - 2 * MARGIN_IN
        left, bottom = MARGIN_IN + 1.2, A4_IN[1] - self.y - height + 0.35
        ax = self.fig.add_axes(
            (
                left / A4_IN[0],
                bottom / A4_IN[1],
                (width - 1.5) / A4_IN[0],
                (height - 0.7) / A4_IN[1],
            )
        )
        draw(ax)
        self.y += height + 0.1

    def table(self, table: Mapping[str, Any], first_col: float = 0.26) -> None:
        """A table of strings (no header row when ``headers`` is empty), split across pages."""
        rows = table["rows"]
        row_h, line_h = 0.2, 0.13
        width = A4_IN[0] - 2 * MARGIN_IN
        n_cols = len(table["headers"]) or (1 + len(rows[0]["cells"]) if rows else 1)
        rest = (1 - first_col) / max(n_cols - 1, 1)
        # Column titles wrap to their column at spaces, never inside a word; a word wider
        # than its column gets a smaller font (measured with the font the PDF uses).
        widths = [first_col] + [rest] * (n_cols - 1)
        fitted = (
            [
                _fit_header(h, w * width * 72 - 5)
                for h, w in zip(table["headers"], widths, strict=True)
            ]
            if any(table["headers"])
            else None
        )
        headers = [f[0] for f in fitted] if fitted else None
        header_sizes = [f[1] for f in fitted] if fitted else []
        header_lines = max((h.count("\n") + 1 for h in headers), default=0) if headers else 0
        bottom_limit = A4_IN[1] - MARGIN_IN - 0.3
        start = 0
        while True:
            head_h = header_lines * line_h + 0.07 if headers else 0.0
            self._room(head_h + row_h * 2)
            fit = max(int((bottom_limit - self.y - head_h) / row_h), 1)
            left = len(rows) - start - fit
            this_row_h = row_h
            if 0 < left <= ORPHAN_ROWS:
                # A few leftover rows would make a page of their own (an orphan page):
                # squeeze them in with slightly lower rows, or else carry more over.
                squeezed = (bottom_limit - self.y - head_h) / (len(rows) - start)
                if squeezed >= MIN_ROW_IN:
                    fit, this_row_h = len(rows) - start, squeezed
                elif start == 0 and head_h + row_h * len(rows) < bottom_limit - MARGIN_IN:
                    # The whole table fits on a page of its own: start it there.
                    self._new_page()
                    continue
                elif fit > 2 * ORPHAN_ROWS:
                    fit -= ORPHAN_ROWS + 1 - left
            chunk = rows[start : start + fit]
            body = [[r["label"]] + [c["text"] for c in r["cells"]] for r in chunk] or [
                [""] * n_cols
            ]
            height = head_h + this_row_h * len(body)
            ax = self.fig.add_axes(
                (
                    MARGIN_IN / A4_IN[0],
                    (A4_IN[1] - self.y - height) / A4_IN[1],
                    width / A4_IN[0],
                    height / A4_IN[1],
                )
            )
            ax.axis("off")
            tbl = ax.table(
                cellText=body,
                colLabels=headers,
                colWidths=[first_col] + [rest] * (n_cols - 1),
                cellLoc="right",
                colLoc="right",
                bbox=(0, 0, 1, 1),
            )
            tbl.auto_set_font_size(False)
            tbl.set_fontsize(6.8)
            for (row, col), cell in tbl.get_celld().items():
                cell.set_edgecolor("#e6ebee")
                # bbox scaling keeps the cells' relative heights: a taller header row fits
                # wrapped column titles.
                cell.set_height(head_h if headers and row == 0 else this_row_h)
                if col == 0:
                    cell.get_text().set_horizontalalignment("left")
                    cell.PAD = 0.03
                if headers and row == 0:
                    cell.set_text_props(weight="bold", color="#4a5a63")
                    cell.set_fontsize(header_sizes[col])
                    cell.set_facecolor("#f3f5f6")
            self.y += height + 0.15
            self.table_parts.append((self.pages, len(chunk)))
            start += len(chunk)
            if start >= len(rows):
                break


def render_pdf(view: Mapping[str, Any], drawers: Mapping[str, tuple[Callable, float]]) -> bytes:
    """The report as a multi-page A4 PDF (matplotlib ``PdfPages``; no browser needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_pdf import PdfPages

    t = view["t"]
    buf = io.BytesIO()
    # No creation date: the same data give the same bytes.
    metadata = {
        "Title": view["title"],
        "Creator": "bsin.reporting.programme_report",
        "CreationDate": None,
    }
    with PdfPages(buf, metadata=metadata) as pdf:
        w = _PdfWriter(pdf, view["footer"], t)
        w.heading(view["title"], size=17, new_page=True)
        w.paragraph(view["subtitle"], size=10)
        w.paragraph(view["status"])
        w.paragraph(view["intro"])
        w.heading(t("section_overview"))
        w.table(
            {
                "headers": [],
                "rows": [
                    {"label": k["label"], "cells": [{"id": k["id"], "text": k["text"]}]}
                    for k in view["kpis"]
                ],
            },
            first_col=0.7,
        )
        w.heading(t("section_countries"))
        w.paragraph(t("countries_intro"))
        w.table(view["totals"], first_col=0.2)

        w.heading(t("section_capability"), new_page=True)
        if view["has_capability"]:
            w.paragraph(t("capability_intro"))
            w.chart(*drawers["capability"])
            w.table(view["cap_network"], first_col=0.4)
            w.paragraph(t("capability_by_country"), size=10)
            w.table(view["cap_country"], first_col=0.3)
            w.paragraph(t("capability_overall_note"), size=8)
        else:
            w.paragraph(t("no_capability"))

        w.heading(t("section_connections"), new_page=True)
        w.paragraph(t("connections_intro"))
        w.chart(*drawers["connections"])
        w.table(view["connections"], first_col=0.4)

        w.heading(t("section_access"), new_page=True)
        w.paragraph(t("access_intro"))
        w.chart(*drawers["access"])
        w.table(view["access"], first_col=0.2)

        w.heading(t("section_trends"), new_page=True)
        for name in ("trend_satisfaction", "trend_nps", "trend_response_rate"):
            w.chart(*drawers[name])
        w.table(view["trends"], first_col=0.3)

        w.heading(t("section_method"), new_page=True)
        for text in view["method"]:
            w.paragraph(text)
        if view["any_suppressed"]:
            w.paragraph(view["suppressed_note"])
        w.close_page()
    return buf.getvalue()


# --------------------------------------------------------------------------- render


def render_programme_report(
    ctx: ProgrammeContext, language: str | None = None
) -> RenderedProgrammeReport:
    """Render ``ctx`` as a self-contained HTML page and a multi-page PDF."""
    t = ProgrammeTranslator(language or ctx.language)
    view = build_view(ctx, t)
    pngs = render_chart_pngs(ctx, t)
    alt_keys = {"capability": "chart_capability", "connections": "chart_connections"}
    alt_keys |= {"access": "chart_access"} | {
        name: "chart_" + name.removeprefix("trend_") for name in pngs if name.startswith("trend_")
    }
    charts = [
        {
            "name": name,
            "alt": t(alt_keys[name]),
            "src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        }
        for name, png in pngs.items()
    ]
    html = (
        _environment()
        .get_template(TEMPLATE)
        .render(**view, charts={c["name"]: c for c in charts}, min_respondents=ctx.min_respondents)
    )
    pdf = render_pdf(view, chart_drawers(ctx, t))
    return RenderedProgrammeReport(html=html, pdf=pdf, charts=pngs)


def _write_atomic(path: Path, data: bytes) -> None:
    # A reader (or a browser refresh) never sees a half-written report.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def report_languages(partners: PartnersConfig) -> list[str]:
    """English first, then every other report language of the partners, in order."""
    langs = ["en"]
    for p in partners.partners:
        if p.report_language not in langs:
            langs.append(p.report_language)
    return langs


def write_programme_report(
    rendered: RenderedProgrammeReport, out_dir: Path, language: str = "en"
) -> tuple[Path, Path]:
    """Write ``programme_report.html`` and ``.pdf`` (``programme_report.<lang>.*`` for a
    language other than English) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, pdf_path = out_dir / HTML_NAME, out_dir / PDF_NAME
    if language != "en":
        html_path = out_dir / HTML_NAME.replace(".html", f".{language}.html")
        pdf_path = out_dir / PDF_NAME.replace(".pdf", f".{language}.pdf")
    _write_atomic(html_path, rendered.html.encode("utf-8"))
    _write_atomic(pdf_path, rendered.pdf)
    return html_path, pdf_path


def produce_programme_report(
    wh: Any,
    partners: PartnersConfig,
    programme: ProgrammeConfig,
    out_dir: Path,
    force: bool = False,
    language: str = "en",
) -> ProgrammeReportResult:
    """Build, render and write the report when the programme's last month is in.

    Without ``force``, a warehouse that has no network indicators for
    ``programme.effective_last_month`` gives a ``skipped`` result (nothing written) whose message
    says what is missing and how to force an interim report.
    """
    latest = last_data_month(wh, programme)
    if latest is None or latest < programme.effective_last_month:
        have = f"data up to {latest:%Y-%m}" if latest else "no programme month"
        message = (
            f"programme report not produced: the warehouse has {have} in indicators_monthly, "
            f"the programme's last month is {programme.effective_last_month:%Y-%m} (programme.yaml "
            "last_month). Run that month's bsin_monthly_feedback DAG, or trigger "
            "bsin_programme_report with force=true for an interim report."
        )
        if not force:
            log.info(message)
            return ProgrammeReportResult("skipped", message, latest)
        log.warning("force=true: producing an interim report (%s)", have)
    ctx = build_programme_report(wh, partners, programme, language=language)
    rendered = render_programme_report(ctx)
    html_path, pdf_path = write_programme_report(rendered, out_dir)
    # The event is multilingual: the same report in every partner's report language.
    translations: dict[str, tuple[Path, Path]] = {}
    for lang in report_languages(partners):
        if lang == language:
            continue
        if not (PROGRAMME_I18N_DIR / f"{lang}.yaml").is_file():
            log.warning(
                "no programme report in %s: add %s (copy en.yaml and translate it)",
                lang,
                PROGRAMME_I18N_DIR / f"{lang}.yaml",
            )
            continue
        translations[lang] = write_programme_report(
            render_programme_report(ctx, lang), out_dir, lang
        )
    kind = "final" if ctx.complete else "interim"
    message = f"{kind} programme report written to {html_path} and {pdf_path}"
    if translations:
        message += f", and in {', '.join(translations)} next to it"
    log.info(message)
    return ProgrammeReportResult(
        "written", message, latest, html_path, pdf_path, translations=translations
    )


def produce_from_connection(
    force: bool = False, conn_id: str = "warehouse_default", out_dir: Path | None = None
) -> ProgrammeReportResult:
    """The Airflow task body: config from ``BSIN_CONFIG_DIR``, warehouse from ``conn_id``."""
    from bsin.core.config import load_partners, load_programme
    from bsin.core.paths import data_dir
    from bsin.warehouse.db import Warehouse

    with Warehouse.from_conn_id(conn_id) as wh:
        return produce_programme_report(
            wh,
            load_partners(),
            load_programme(),
            out_dir or data_dir() / "programme_report",
            force=force,
        )
