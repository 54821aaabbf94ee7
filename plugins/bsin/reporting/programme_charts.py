"""Charts of the programme report, drawn with matplotlib for both the HTML page and the PDF.

Each chart is a function that draws into a matplotlib ``Axes`` (``chart_drawers``): the
PDF writer gives it a place on an A4 page, ``render_chart_pngs`` a figure of its own whose
PNG the HTML page inlines. Colours and trend-chart scales are the partner report's
(``bsin.reporting.report_charts``). matplotlib is imported lazily (DAG parsing stays light).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from bsin.reporting.programme_model import ACCESS_KEYS, Cell, ProgrammeContext
from bsin.reporting.programme_view import area_label, indicator_label
from bsin.reporting.report_charts import (
    CHART_META,
    COUNTRY_COLOUR,
    NETWORK_COLOUR,
    TREND_CHARTS,
    png_bytes,
)
from bsin.reporting.report_i18n import Translator


def _nan(cell: Cell, scale: float = 1.0) -> float:
    value = cell.shown
    return float("nan") if value is None else value * scale


def _tick(m: date, i: int, t: Translator) -> str:
    # The year only where it changes, so a 13-month axis stays readable.
    short = t.month(m, short=True)
    return f"{short}\n{t.fmt.year(m)}" if i == 0 or m.month == 1 else short


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
            label=indicator_label(key, t),
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
    labels = [area_label(a.area, t) for a in areas]
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

    pngs = {}
    for name, (draw, height) in chart_drawers(ctx, t).items():
        fig = Figure(figsize=(CHART_WIDTH_IN, height), layout="constrained")
        draw(fig.add_subplot())
        pngs[name] = png_bytes(fig)
    return pngs
