"""Charts of the partner report, drawn with matplotlib (Agg) into PNG bytes.

Drawn for the width they are shown at: ``CHART_WIDTH_PX`` CSS pixels (the email shows a
chart at that width, or narrower on a phone), at ``DENSITY`` times that in image pixels
for sharp high-density screens. Every text is at least ``MIN_FONT_PX`` CSS pixels at full
width, so on a 375 px phone, where the chart shrinks to the column (``PHONE_COLUMN_PX``),
no text is under 12 px (tests/test_report_browser.py measures the displayed width).

Titles are not drawn into the image: the email shows each chart's title as text above it
and its finding as alt text (``bsin.reporting.report_view``). Month axes carry the year, points sit
inside padded limits (a 100 % or an NPS of -100 is not cut at the edge), and the legend
gives the n behind the month's points; the caption under the chart lists n per month.

The plot area sits at fixed margins (``MARGINS_PX``) rather than where a layout engine
would put it: the margins fit each chart's axis labels, two lines of month labels and the
legend in every report language, and a layout engine measured every text of a chart
twice, which was half the time of a report (docs/performance.md).

Each chart's fixed part (axes, ticks, month labels, axis title, indicator names) is the
same for every partner of a month and language: a thread keeps the last few charts' figures
with that part drawn (``_chart``), and a report only restores it and draws its lines, bars,
value labels and legend over it: the pixels of a full draw in about a third of the time
(docs/performance.md).

matplotlib is imported lazily: DAG parsing imports ``bsin`` and must stay light. Figures are
built with the object API (no pyplot) and kept per thread, so charts drawn in parallel task
threads do not share global state. PNG metadata is left out so the same data gives the same
bytes.
"""

from __future__ import annotations

import io
import math
import textwrap
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date

    from bsin.reporting.report_i18n import Translator
    from bsin.reporting.report_model import ReportContext

#: Width and height of a chart as laid out in the email, in CSS pixels.
CHART_WIDTH_PX, TREND_HEIGHT_PX = 400, 250
#: Bar chart height: per vertical unit (a line of text) and for axis and legend.
BAR_UNIT_PX, BARS_FIXED_PX = 18, 100
#: Image pixels per CSS pixel.
DENSITY = 2
#: Smallest text in a chart, in points, and what that is in CSS pixels at full width.
MIN_FONT_PT = 10.5
DPI = 192
MIN_FONT_PX = MIN_FONT_PT * DPI / 72 / DENSITY
COUNTRY_COLOUR, NETWORK_COLOUR = "#0b6e8a", "#7c8b94"
#: Longest line of an indicator name above its bars (characters), then it wraps.
LABEL_WRAP = 36
#: Most month labels on an axis: more would not fit at phone width.
MAX_MONTH_TICKS = 6

#: Plot area margins in CSS pixels, (left, right, bottom, top): the left one fits the
#: chart's y tick labels and axis title, the bottom one the month labels (two lines: the
#: year is under the first) or the percentage axis, and the legend under them.
MARGINS_PX: dict[str, tuple[float, float, float, float]] = {
    "trend_satisfaction": (42, 11, 82, 5),
    "trend_nps": (72, 11, 82, 5),
    "trend_response_rate": (60, 11, 82, 5),
    "comparison": (9, 5, 82, 5),
}
#: Distance of the legend from the bottom edge, in CSS pixels.
LEGEND_BOTTOM_PX = 4
#: What a trend chart grows by, under its plot, when its legend takes two rows (CSS px).
LEGEND_ROW_PX = 22

#: chart name -> (indicator or None for the bar chart, i18n key of its title)
CHART_META: dict[str, tuple[str | None, str]] = {
    "trend_satisfaction": ("satisfaction_mean", "chart_satisfaction"),
    "trend_nps": ("nps", "chart_nps"),
    "trend_response_rate": ("response_rate", "chart_response_rate"),
    "comparison": (None, "chart_comparison"),
}
TREND_CHARTS = {
    # chart name -> (indicator, y-axis label key, y limits, y ticks, scale)
    "trend_satisfaction": (
        "satisfaction_mean",
        "axis_mean_1_5",
        (0.75, 5.25),
        (1, 2, 3, 4, 5),
        1.0,
    ),
    "trend_nps": ("nps", "axis_nps", (-112, 112), (-100, -50, 0, 50, 100), 1.0),
    "trend_response_rate": (
        "response_rate",
        "axis_percent_members",
        (-6, 106),
        (0, 25, 50, 75, 100),
        100.0,
    ),
}
#: Shares of the members who answered (the response rate, a share of active members, has
#: its own trend chart: one axis, one denominator).
COMPARISON_INDICATORS = (
    "peer_session_rate",
    "workshop_rate",
    "skill_gain_rate",
    "satisfaction_low_share",
)


def png_bytes(fig) -> bytes:
    """``fig`` as a 256-colour PNG at ``DPI``, without metadata (the same data, the same bytes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return _encode(canvas)


def _encode(canvas) -> bytes:
    """What ``canvas`` holds as a 256-colour PNG at ``DPI``, without metadata.

    256 colours hold a chart's flat colours and their anti-aliased edges without a visible
    difference, in a third of the bytes of 32-bit RGBA and in less time to compress.
    """
    from PIL import Image

    rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
    image = rgba.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    image.save(buf, format="png", dpi=(DPI, DPI))
    return buf.getvalue()


class _Chart:
    """A chart figure whose fixed part is drawn once and its report's data over it.

    ``foreground`` lists the artists a report changes (lines, bars, value labels, legend),
    with those drawn after them (the spines), in the order a full draw takes them:
    matplotlib leaves them out of ``canvas.draw()`` (animated), the image without them is
    kept, and each report restores it and draws only these. Text is most of a chart's
    drawing time, and axes, ticks, month labels and indicator names are the same for every
    partner of a month and language. The pixels are those of a full draw. ``parts`` are
    the artists the chart's function updates for each report.
    """

    def __init__(self, fig, foreground: list, parts: tuple) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        for artist in foreground:
            artist.set_animated(True)
        self.fig, self.foreground, self.parts = fig, foreground, parts
        self.canvas = FigureCanvasAgg(fig)
        self.background = None

    def png(self) -> bytes:
        """The chart as it is now, as PNG bytes."""
        if self.background is None:
            from matplotlib.transforms import Bbox

            self.canvas.draw()
            # The canvas in whole pixels: the figure's box ends a rounding error short of
            # its last column (799.999...), which copy_from_bbox would leave out.
            width, height = self.canvas.get_width_height(physical=True)
            self.background = self.canvas.copy_from_bbox(Bbox.from_bounds(0, 0, width, height))
        else:
            self.canvas.restore_region(self.background)
        renderer = self.canvas.get_renderer()
        for artist in self.foreground:
            artist.draw(renderer)
        return _encode(self.canvas)


#: Charts kept per thread (the figure and its drawn fixed part, 3 to 5 MB each): the four
#: charts of two report languages of a month, and the trend charts' two-row legend
#: variants. Older ones are dropped first.
CHART_CACHE_SIZE = 14
_charts = threading.local()


def _chart(key: tuple, build: Callable[[], _Chart]) -> _Chart:
    """The thread's chart for ``key`` (every fixed text and size of it), built when missing.

    Per thread: task threads may draw charts at the same time, and a figure is not safe to
    draw from two threads.
    """
    cache: OrderedDict[tuple, _Chart] | None = getattr(_charts, "cache", None)
    if cache is None:
        cache = _charts.cache = OrderedDict()
    chart = cache.get(key)
    if chart is None:
        chart = cache[key] = build()
        while len(cache) > CHART_CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return chart


def _figure(name: str, height_px: int, below_px: float = 0):
    """A figure ``CHART_WIDTH_PX`` x ``height_px`` CSS pixels, its plot area at the chart's
    ``MARGINS_PX`` (``below_px`` more at the bottom)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    inches = DENSITY / DPI
    fig = Figure(figsize=(CHART_WIDTH_PX * inches, height_px * inches), dpi=DPI)
    left, right, bottom, top = MARGINS_PX[name]
    bottom += below_px
    ax = fig.add_axes(
        (
            left / CHART_WIDTH_PX,
            bottom / height_px,
            1 - (left + right) / CHART_WIDTH_PX,
            1 - (bottom + top) / height_px,
        )
    )
    return fig, ax


def _legend(fig, height_px: int, handles: list, labels: list[str], ncols: int = 2):
    """The legend centred under the plot, ``LEGEND_BOTTOM_PX`` above the bottom edge."""
    return fig.legend(
        handles,
        labels,
        loc="lower center",
        bbox_to_anchor=(0.5, LEGEND_BOTTOM_PX / height_px),
        borderaxespad=0,
        ncols=ncols,
        fontsize=MIN_FONT_PT,
        frameon=False,
    )


def _nan(value: float | None, scale: float) -> float:
    return math.nan if value is None else value * scale


def month_ticks(months: list[date], t: Translator) -> tuple[list[int], list[str]]:
    """Tick positions and labels: at most ``MAX_MONTH_TICKS``, the year under the first
    label and under every January, so no month is read in the wrong year."""
    if not months:
        return [], []
    step = max(1, math.ceil(len(months) / MAX_MONTH_TICKS))
    # Keep the last (report) month labelled: count the steps back from it.
    idx = list(range(len(months) - 1, -1, -step))[::-1]
    labels = []
    for n, i in enumerate(idx):
        m = months[i]
        text = t.month(m, short=True)
        if n == 0 or m.month == 1 or months[idx[n - 1]].year != m.year:
            text += "\n" + t.fmt.year(m)
        labels.append(text)
    return idx, labels


def trend_chart(ctx: ReportContext, name: str, t: Translator) -> bytes:
    """Line chart of one indicator over the programme so far: country vs network."""
    from bsin.reporting.report_view import country_name

    indicator, axis_key, _, _, scale = TREND_CHARTS[name]
    series = ctx.trends.get(indicator, ())
    ticks, tick_labels = month_ticks([p.month for p in series], t)
    ylabel = t(axis_key)
    last = series[-1] if series else None
    own_label, net_label = country_name(ctx, t), t("network")
    if last is not None and last.country.n is not None:
        own_label = t("legend_with_n", name=own_label, n=last.country.n)
    if last is not None and last.network.shown is not None and last.network.n is not None:
        net_label = t("legend_with_n", name=net_label, n=last.network.n)
    # Side by side while the two entries fit the width, else one above the other (wrapped
    # where long): a long country name or a large n would push a centred legend past both
    # edges of a phone. The chart grows by a row for every line past the first.
    key = (name, len(series), tuple(ticks), tuple(tick_labels), ylabel)
    labels = [net_label, own_label]
    rows = 1
    while True:
        chart = _chart(
            (*key, rows),
            lambda rows=rows: _trend_figure(name, len(series), ticks, tick_labels, ylabel, rows),
        )
        net_line, own_line, legend = chart.parts
        for text, label in zip(legend.get_texts(), labels, strict=True):
            text.set_text(label)
        if rows > 1 or _legend_fits(chart, legend):
            break
        labels = [_wrap_legend_label(label) for label in labels]
        rows = sum(label.count("\n") + 1 for label in labels)
    xs = list(range(len(series)))
    net_line.set_data(xs, [_nan(p.network.shown, scale) for p in series])
    own_line.set_data(xs, [_nan(p.country.value, scale) for p in series])
    return chart.png()


def _wrap_legend_label(label: str) -> str:
    """``label`` in lines of at most ``LABEL_WRAP`` characters, a closing "(n = ...)" whole."""
    head, sep, tail = label.rpartition(" (")
    if sep:
        label = f"{head} ({tail.replace(' ', chr(0xA0))}"
    return "\n".join(textwrap.wrap(label, LABEL_WRAP, break_long_words=False) or [label])


def _legend_fits(chart: _Chart, legend) -> bool:
    """Whether ``legend``, with its current texts, lies within the chart's width."""
    width, _ = chart.canvas.get_width_height(physical=True)
    box = legend.get_window_extent(chart.canvas.get_renderer())
    return box.x0 >= 0 and box.x1 <= width


def _trend_figure(
    name: str,
    points: int,
    ticks: list[int],
    tick_labels: list[str],
    ylabel: str,
    legend_rows: int = 1,
) -> _Chart:
    """The fixed part of a trend chart (axes, ticks, labels) and its empty lines and legend.

    With ``legend_rows`` (text lines) above 1 the legend's entries stand one above the
    other, and the figure is ``LEGEND_ROW_PX`` taller below the plot for every line past
    the first; the plot keeps its size.
    """
    indicator, _, ylim, yticks, _ = TREND_CHARTS[name]
    below = LEGEND_ROW_PX * (legend_rows - 1)
    height = TREND_HEIGHT_PX + below
    fig, ax = _figure(name, height, below)
    # clip_on=False: a marker on the axis limit is drawn whole.
    (net,) = ax.plot([], [], color=NETWORK_COLOUR, marker="o", ms=4, lw=1.6, clip_on=False)
    (own,) = ax.plot([], [], color=COUNTRY_COLOUR, marker="o", ms=5, lw=2.4, clip_on=False)
    ax.set_ylim(*ylim)
    ax.set_yticks(yticks)
    # Drawn over the lines, as it was added after them.
    zero = [ax.axhline(0, color="#bbbbbb", lw=0.8)] if indicator == "nps" else []
    ax.set_xticks(ticks, tick_labels)
    ax.set_xlim(-0.4, max(points - 0.6, 0.6))
    ax.tick_params(labelsize=MIN_FONT_PT)
    ax.set_ylabel(ylabel, fontsize=MIN_FONT_PT)
    ax.grid(axis="y", color="#eeeeee")
    ax.spines[["top", "right"]].set_visible(False)
    legend = _legend(fig, height, [net, own], ["", ""], ncols=1 if legend_rows > 1 else 2)
    return _Chart(fig, [net, own, *zero, *ax.spines.values(), legend], (net, own, legend))


def comparison_chart(ctx: ReportContext, t: Translator) -> bytes:
    """Bars of the month's shares, country vs network, each labelled with its value.

    The indicator names stand above their bars rather than beside them: beside them they
    would take half the width of a phone screen.
    """
    from bsin.reporting.report_view import country_name, label

    lines = {line.key: line for line in ctx.indicators}
    keys = [k for k in COMPARISON_INDICATORS if k in lines]
    names = tuple(tuple(textwrap.wrap(label(k, t), LABEL_WRAP) or [k]) for k in keys)
    xlabel, network = t("axis_percent_answers"), t("network")
    chart = _chart(
        ("comparison", names, xlabel, network),
        lambda: _comparison_figure(names, xlabel, network),
    )
    bars, values, legend = chart.parts
    n = 0
    for key in keys:
        line = lines[key]
        for value, hidden in (
            (line.country.value, False),
            (line.network.shown, line.network.suppressed),
        ):
            width = 0 if value is None else value * 100
            bars[n].set_width(width)
            values[n].set_x(width + 1.5)
            values[n].set_text(t("suppressed_marker") if hidden else t.percent(value))
            n += 1
    legend.get_texts()[0].set_text(country_name(ctx, t))
    return chart.png()


def _comparison_figure(names: tuple[tuple[str, ...], ...], xlabel: str, network: str) -> _Chart:
    """The fixed part of the comparison chart (axis, indicator names), its bars and their
    value labels at zero, and its legend."""
    from matplotlib.patches import Patch

    # Vertical units: one per label line, two bars and a gap per indicator; a unit is
    # about one line of text high (BAR_UNIT_PX), the axis and legend take the rest.
    units = sum(1.0 * len(lines) + 2.3 for lines in names) or 1.0
    height = int(units * BAR_UNIT_PX + BARS_FIXED_PX)
    fig, ax = _figure("comparison", height)
    top = 0.0
    ys, colours, values = [], [], []
    for lines in names:
        top += 1.0 * len(lines)
        # Screen "bottom": the name sits right above its own bars.
        ax.text(0, top, "\n".join(lines), va="bottom", ha="left", fontsize=MIN_FONT_PT)
        for y, colour in ((top + 0.5, COUNTRY_COLOUR), (top + 1.5, NETWORK_COLOUR)):
            ys.append(y)
            colours.append(colour)
            values.append(ax.text(1.5, y, "", va="center", fontsize=MIN_FONT_PT, color="#33434b"))
        top += 2.3
    # One call for every bar: each barh call costs about a millisecond of bookkeeping.
    bars = ax.barh(ys, [0] * len(ys), height=0.8, color=colours)
    ax.set_ylim(top - 0.3, -0.6)
    ax.set_xlim(0, 118)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_yticks([])
    ax.tick_params(labelsize=MIN_FONT_PT)
    ax.set_xlabel(xlabel, fontsize=MIN_FONT_PT)
    ax.spines[["top", "right", "left"]].set_visible(False)
    handles = [Patch(color=COUNTRY_COLOUR), Patch(color=NETWORK_COLOUR)]
    legend = _legend(fig, height, handles, ["", network])
    # A full draw takes the bars (zorder 1) before the axis: they do not overlap it, so
    # drawing them over the kept axis gives the same pixels.
    return _Chart(fig, [*bars, *ax.spines.values(), *values, legend], (list(bars), values, legend))


def render_charts(ctx: ReportContext, t: Translator) -> dict[str, bytes]:
    """Every chart of the report, keyed by chart name, in display order."""
    charts = {name: trend_chart(ctx, name, t) for name in TREND_CHARTS}
    charts["comparison"] = comparison_chart(ctx, t)
    return charts
