"""What the programme report shows, display-ready, for both the HTML page and the PDF.

``build_view(ctx, t)`` turns a ``ProgrammeContext`` (aggregates, privacy applied) into
strings and tables that the template and the PDF writer only lay out, so both outputs
show identical figures. Strings come from the programme report's own catalogue
(``include/templates/programme/i18n``), then from the partner report's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bsin.reporting.programme_model import (
    ACCESS_KEYS,
    CONNECTION_KEYS,
    COUNT_KEYS,
    KPI_LABELS,
    NETWORK,
    PROGRAMME_I18N_DIR,
    TOTAL_KEYS,
    TREND_TABLE_KEYS,
    Cell,
    ProgrammeContext,
)
from bsin.reporting.report_i18n import TranslationError, Translator, load_catalogue
from bsin.reporting.report_view import format_value, label

#: A table for both outputs: {"headers": [...], "rows": [{"label", "cells": [{id, text}]}]}.
Table = dict[str, Any]


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


def indicator_label(key: str, t: Translator) -> str:
    """A figure's name: the partner report's indicator names, and ``respondents``."""
    return t("col_respondents") if key == "respondents" else label(key, t)


def area_label(area: str, t: Translator) -> str:
    """A capability area's name in the report language (its key when there is none)."""
    return t("area." + area) if t.has("area." + area) else area


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


def table(headers: Sequence[str], rows: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> Table:
    """A table for both outputs: headers, then rows of (label, [(cell id, text), ...])."""
    return {
        "headers": list(headers),
        "rows": [
            {"label": row_label, "cells": [{"id": cid, "text": text} for cid, text in cells]}
            for row_label, cells in rows
        ],
    }


def build_view(ctx: ProgrammeContext, t: Translator) -> dict[str, Any]:
    """Display-ready strings for the HTML template and the PDF (they show the same)."""
    period = {"first": t.month(ctx.first_month), "last": t.month(ctx.last_month)}
    n_countries = len(ctx.countries)
    return {
        "t": t,
        "ctx": ctx,
        "title": t("title", programme=ctx.programme_name),
        "subtitle": t("subtitle", months=len(ctx.months), countries=n_countries, **period),
        "status": status_line(ctx, t, period),
        "intro": t("intro", members=ctx.active_members, countries=n_countries),
        "kpis": kpis(ctx, t),
        "cap_network": capability_network_table(ctx, t),
        "cap_country": capability_country_table(ctx, t),
        "has_capability": bool(ctx.capability),
        "connections": series_table(
            ctx, t, CONNECTION_KEYS, [t("col_connections_month"), t("col_connections_cumulative")]
        ),
        "access": series_table(ctx, t, ACCESS_KEYS, [indicator_label(k, t) for k in ACCESS_KEYS]),
        "trends": series_table(
            ctx, t, TREND_TABLE_KEYS, [indicator_label(k, t) for k in TREND_TABLE_KEYS]
        ),
        "totals": totals_table(ctx, t),
        "any_suppressed": any_suppressed(ctx),
        "suppressed_note": t(
            "suppressed_note", marker=t("suppressed_marker"), n=ctx.min_respondents
        ),
        "method": method_notes(ctx, t),
        "footer": t("footer", programme=ctx.programme_name),
    }


def status_line(ctx: ProgrammeContext, t: Translator, period: dict[str, str]) -> str:
    """Final, interim (data up to a month) or empty."""
    if ctx.last_data_month is None:
        return t("status_empty")
    if ctx.complete:
        return t("status_final", month=t.month(ctx.last_data_month))
    return t("status_interim", month=t.month(ctx.last_data_month), **period)


def kpis(ctx: ProgrammeContext, t: Translator) -> list[dict[str, str]]:
    """The headline figures: network programme totals and the overall capability growth."""
    network = ctx.total(NETWORK)
    assert network is not None  # build_programme_report always adds the network row
    out = [
        {"id": f"kpi.{k}", "label": t(key), "text": cell_text(k, network.cells[k], t)}
        for k, key in KPI_LABELS.items()
    ]
    out.append(
        {
            "id": "kpi.capability_growth",
            "label": t("kpi_capability"),
            "text": cell_text("growth", ctx.capability_overall, t),
        }
    )
    return out


def capability_network_table(ctx: ProgrammeContext, t: Translator) -> Table:
    """Per area: members in both waves, baseline, end-line and growth of the network."""

    def cells(a: Any) -> list[tuple[str, str]]:
        hidden, n = a.network.suppressed, a.network.n
        prefix = f"cap.NETWORK.{a.area}"
        return [
            (f"{prefix}.members", cell_text("members", Cell(n, n, hidden), t)),
            (f"{prefix}.baseline", cell_text("level", Cell(a.baseline, n, hidden), t)),
            (f"{prefix}.endline", cell_text("level", Cell(a.endline, n, hidden), t)),
            (f"{prefix}.growth", cell_text("growth", a.network, t)),
        ]

    return table(
        [t("col_area"), t("col_members"), t("col_baseline"), t("col_endline"), t("col_growth")],
        [(area_label(a.area, t), cells(a)) for a in ctx.capability],
    )


def capability_country_table(ctx: ProgrammeContext, t: Translator) -> Table:
    """Per area: each country's growth, then the network's."""
    return table(
        [t("col_area")] + [code for code, _ in ctx.countries] + [t("network")],
        [
            (
                area_label(a.area, t),
                [
                    (f"cap.{c}.{a.area}", cell_text("growth", a.by_country[c], t))
                    for c, _ in ctx.countries
                ]
                + [(f"cap.NETWORK.{a.area}", cell_text("growth", a.network, t))],
            )
            for a in ctx.capability
        ],
    )


def series_table(
    ctx: ProgrammeContext, t: Translator, keys: Sequence[str], headers: Sequence[str]
) -> Table:
    """The network's ``keys`` month by month."""
    return table(
        [t("col_month"), *headers],
        [
            (
                t.month(p.month),
                [(f"series.{p.month:%Y-%m}.{k}", cell_text(k, p.cells[k], t)) for k in keys],
            )
            for p in ctx.series
        ],
    )


def totals_table(ctx: ProgrammeContext, t: Translator) -> Table:
    """Programme totals per country, then the network."""
    headers = [
        t("col_" + k) if k in ("participants", "responses") else indicator_label(k, t)
        for k in TOTAL_KEYS
    ]
    return table(
        [t("col_country"), *headers],
        [
            (
                t("network") if s.scope == NETWORK else t.country(s.scope, s.name),
                [(f"total.{s.scope}.{k}", cell_text(k, s.cells[k], t)) for k in TOTAL_KEYS],
            )
            for s in ctx.totals
        ],
    )


def any_suppressed(ctx: ProgrammeContext) -> bool:
    """Whether any figure of the report is hidden (the method section then says why)."""
    return (
        any(c.suppressed for p in ctx.series for c in p.cells.values())
        or any(c.suppressed for s in ctx.totals for c in s.cells.values())
        or any(
            a.network.suppressed or any(c.suppressed for c in a.by_country.values())
            for a in ctx.capability
        )
    )


def method_notes(ctx: ProgrammeContext, t: Translator) -> list[str]:
    """How the figures are computed and protected, and the months a country was left out of."""
    notes = [
        t("method_weighted"),
        t("method_privacy", n=ctx.min_respondents, marker=t("suppressed_marker")),
        t("method_source"),
    ]
    if ctx.excluded_months:
        months = ", ".join(t.month(m) for m in ctx.excluded_months)
        notes.append(t("excluded_note", months=months))
    return notes
