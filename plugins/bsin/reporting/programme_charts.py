"""Charts of the programme report, drawn with matplotlib for both the HTML page and the PDF.

Each chart is a function that draws into a matplotlib ``Axes`` (``chart_drawers``): the
PDF writer gives it a place on an A4 page, ``render_chart_pngs`` a figure of its own whose
PNG the HTML page inlines. Colours and trend-chart scales are the partner report's
(``bsin.reporting.report_charts``). matplotlib is imported lazily (DAG parsing stays light).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bsin.reporting.programme_model import ACCESS_KEYS, Cell, ProgrammeContext
from bsin.reporting.programme_view import area_label, indicator_label
from bsin.reporting.report_charts import (
    CHART_META,
    CHART_WIDTH_PX,
    COUNTRY_COLOUR,
    DENSITY,
    DPI,
    MIN_FONT_PT,
    NETWORK_COLOUR,
    TREND_CHARTS,
    month_ticks,
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


@dataclass(frozen=True)
class ChartStyle:
    """Sizes of one rendition of the charts: text (points), width and heights (inches)."""

    font_pt: float
    title_pt: float
    width_in: float
    #: Chart height for every chart but the capability one (chart name -> inches).
    heights: dict[str, float]
    #: Capability chart: inches per area and for axis, title and legend.
    area_in: float
    #: Label every month (the PDF's 7 inches hold 13), else at most six, year included.
    every_month: bool
    #: Columns of the access chart's legend.
    legend_cols: int
    #: Titles wrap at this many characters and start at the figure's left edge, not the
    #: plot's (None: one line over the plot).
    title_wrap: int | None = None
    #: Legends of the connections and capability charts under the plot (else inside it).
    legend_below: bool = False
    #: Capability area names and axis titles wrap at this many characters (None: one line).
    label_wrap: int | None = None


#: The PDF's text width, and the HTML page's charts on a screen wider than a phone.
PRINT = ChartStyle(
    font_pt=8.0,
    title_pt=10.0,
    width_in=7.0,
    heights={"connections": 2.6, "access": 3.4, "trend": 2.05},
    area_in=0.32,
    every_month=True,
    legend_cols=2,
)
#: The HTML page's charts on a phone: drawn as wide as the partner email's charts, with
#: its text size, so no chart text is under 12 px on a 375 px screen
#: (tests/integration/test_report_browser.py measures it).
PHONE = ChartStyle(
    font_pt=MIN_FONT_PT,
    title_pt=MIN_FONT_PT + 1.5,
    width_in=CHART_WIDTH_PX * DENSITY / DPI,
    heights={"connections": 3.4, "access": 4.9, "trend": 2.7},
    area_in=0.6,
    every_month=False,
    legend_cols=1,
    title_wrap=32,
    legend_below=True,
    label_wrap=16,
)


def _month_axis(ax: Any, ctx: ProgrammeContext, t: Translator, style: ChartStyle) -> None:
    months = [p.month for p in ctx.series]
    if style.every_month:
        ticks, labels = list(range(len(months))), [_tick(m, i, t) for i, m in enumerate(months)]
    else:
        ticks, labels = month_ticks(months, t)
    ax.set_xticks(ticks, labels, fontsize=style.font_pt)
    # Half a month of room either side: the first and last points are not cut.
    ax.set_xlim(-0.6, max(len(months) - 0.4, 0.6))


def _style(
    ax: Any,
    ctx: ProgrammeContext,
    t: Translator,
    title: str,
    ylabel: str = "",
    style: ChartStyle = PRINT,
) -> None:
    _month_axis(ax, ctx, t, style)
    ax.tick_params(axis="y", labelsize=style.font_pt)
    if ylabel:
        # An axis title longer than a short plot is high would be cut at the figure's edge.
        text = textwrap.fill(ylabel, 2 * style.label_wrap) if style.label_wrap else ylabel
        ax.set_ylabel(text, fontsize=style.font_pt)
    ax.grid(axis="y", color="#eeeeee")
    ax.set_axisbelow(True)  # grid lines behind the bars
    ax.spines[["top", "right"]].set_visible(False)
    _title(ax, title, style)


def _title(ax: Any, title: str, style: ChartStyle) -> None:
    if style.title_wrap is None:
        ax.set_title(title, fontsize=style.title_pt, loc="left")
        return
    # A narrow chart's plot starts well right of its edge: the title uses the whole width.
    ax.figure.suptitle(
        textwrap.fill(title, style.title_wrap), x=0.02, ha="left", fontsize=style.title_pt
    )


def draw_trend(
    ax: Any, ctx: ProgrammeContext, name: str, t: Translator, style: ChartStyle = PRINT
) -> None:
    """One network indicator over the programme (months with suppressed values left blank)."""
    indicator, axis_key, ylim, yticks, scale = TREND_CHARTS[name]
    xs = list(range(len(ctx.series)))
    ys = [_nan(p.cells[indicator], scale) for p in ctx.series]
    ax.plot(xs, ys, color=COUNTRY_COLOUR, marker="o", ms=4, lw=2.2, clip_on=False)
    ax.set_ylim(*ylim)
    ax.set_yticks(yticks)
    if indicator == "nps":
        ax.axhline(0, color="#cccccc", lw=0.8)
    _style(ax, ctx, t, t(CHART_META[name][1]), t(axis_key), style)


def draw_connections(
    ax: Any, ctx: ProgrammeContext, t: Translator, style: ChartStyle = PRINT
) -> None:
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
    twin.tick_params(axis="y", labelsize=style.font_pt, colors=COUNTRY_COLOUR)
    # Both axes say what they count: bars on the left, the running total on the right.
    twin.set_ylabel(t("legend_cumulative"), fontsize=style.font_pt, color=COUNTRY_COLOUR)
    twin.spines[["top"]].set_visible(False)
    _style(ax, ctx, t, t("chart_connections"), t("legend_month"), style)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    if style.legend_below:
        ax.legend(
            handles=handles,
            fontsize=style.font_pt,
            frameon=False,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.25),
        )
    else:
        ax.legend(handles=handles, fontsize=style.font_pt, frameon=False, loc="upper left")


def draw_access(ax: Any, ctx: ProgrammeContext, t: Translator, style: ChartStyle = PRINT) -> None:
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
    _style(ax, ctx, t, t("chart_access"), t("axis_percent_answers"), style)
    ax.legend(
        fontsize=style.font_pt - 0.5 * style.every_month,
        frameon=False,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22),
        ncols=style.legend_cols,
    )


def draw_capability(
    ax: Any, ctx: ProgrammeContext, t: Translator, style: ChartStyle = PRINT
) -> None:
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
                fontsize=style.font_pt,
                color="#666666",
            )
        elif a.network.value is not None and a.endline is not None:
            ax.text(
                a.endline + 0.05,
                y + 0.2,
                t.number(a.network.value, decimals=1, signed=True),
                va="center",
                fontsize=style.font_pt,
                color=COUNTRY_COLOUR,
            )
    labels = [area_label(a.area, t) for a in areas]
    if style.label_wrap:
        labels = [textwrap.fill(text, style.label_wrap) for text in labels]
    ax.set_yticks(ys, labels, fontsize=style.font_pt)
    ax.invert_yaxis()
    ax.set_xlim(1, 5.6)
    ax.tick_params(axis="x", labelsize=style.font_pt)
    ax.set_xlabel(t("axis_level"), fontsize=style.font_pt)
    ax.spines[["top", "right"]].set_visible(False)
    _title(ax, t("chart_capability"), style)
    if style.legend_below:
        legend = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.12), "ncols": 2}
    else:
        legend = {"loc": "lower right"}
    ax.legend(fontsize=style.font_pt, frameon=False, **legend)


def chart_drawers(
    ctx: ProgrammeContext, t: Translator, style: ChartStyle = PRINT
) -> dict[str, tuple[Callable[[Any], None], float]]:
    """Chart name -> (draw into an Axes, height in inches), in display order."""
    charts: dict[str, tuple[Callable[[Any], None], float]] = {}
    if ctx.capability:
        charts["capability"] = (
            lambda ax: draw_capability(ax, ctx, t, style),
            max(2.3, style.area_in * len(ctx.capability) + 0.8 + 0.5 * (not style.every_month)),
        )
    charts["connections"] = (
        lambda ax: draw_connections(ax, ctx, t, style),
        style.heights["connections"],
    )
    charts["access"] = (lambda ax: draw_access(ax, ctx, t, style), style.heights["access"])
    for name in ("trend_satisfaction", "trend_nps", "trend_response_rate"):
        # In print, three to a page with the 13-row monthly table under them: no orphan page.
        charts[name] = (
            lambda ax, name=name: draw_trend(ax, ctx, name, t, style),
            style.heights["trend"],
        )
    return charts


def render_chart_pngs(
    ctx: ProgrammeContext, t: Translator, style: ChartStyle = PRINT
) -> dict[str, bytes]:
    """Every chart as PNG bytes in ``style`` (the partner report's resolution and metadata)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    pngs = {}
    for name, (draw, height) in chart_drawers(ctx, t, style).items():
        fig = Figure(figsize=(style.width_in, height), layout="constrained")
        draw(fig.add_subplot())
        pngs[name] = png_bytes(fig)
    return pngs
