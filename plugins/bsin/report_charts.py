"""Charts of the partner report, drawn with matplotlib (Agg) into PNG bytes.

matplotlib is imported lazily: DAG parsing imports ``bsin`` and must stay light. Figures are
built with the object API (no pyplot), so charts drawn in parallel task threads do not
share global state. PNG metadata is left out so the same data gives the same bytes.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bsin.report import ReportContext
    from bsin.report_i18n import Translator

# Rendered at 2x for sharp display on high-density screens; shown 560 px wide in the email.
WIDTH_IN, HEIGHT_IN, DPI = 5.6, 2.3, 200
COUNTRY_COLOUR, NETWORK_COLOUR = "#0b6e8a", "#9aa5ad"

TREND_CHARTS = {
    # chart name -> (indicator, title key, y limits or None, scale)
    "trend_satisfaction": ("satisfaction_mean", "chart_satisfaction", (1, 5), 1.0),
    "trend_nps": ("nps", "chart_nps", (-100, 100), 1.0),
    "trend_response_rate": ("response_rate", "chart_response_rate", (0, 100), 100.0),
}
COMPARISON_INDICATORS = (
    "response_rate",
    "peer_session_rate",
    "workshop_rate",
    "skill_gain_rate",
    "satisfaction_low_share",
)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), layout="constrained")
    return fig, fig.add_subplot()


def _nan(value: float | None, scale: float) -> float:
    return math.nan if value is None else value * scale


def trend_chart(ctx: ReportContext, name: str, t: Translator) -> bytes:
    """Line chart of one indicator over the programme so far: country vs network."""
    indicator, title_key, ylim, scale = TREND_CHARTS[name]
    series = ctx.trends.get(indicator, ())
    fig, ax = _figure()
    xs = list(range(len(series)))
    own = [_nan(p.country.value, scale) for p in series]
    net = [_nan(p.network.shown, scale) for p in series]
    ax.plot(xs, net, color=NETWORK_COLOUR, marker="o", ms=3, lw=1.5, label=t("network"))
    ax.plot(xs, own, color=COUNTRY_COLOUR, marker="o", ms=4, lw=2.2, label=ctx.country_name)
    ax.set_title(t(title_key), fontsize=10, loc="left")
    if ylim:
        ax.set_ylim(*ylim)
    if indicator == "nps":
        ax.axhline(0, color="#cccccc", lw=0.8)
    ax.set_xticks(xs, [t.month(p.month, short=True) for p in series], fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", color="#eeeeee")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="best")
    return _png(fig)


def comparison_chart(ctx: ReportContext, t: Translator) -> bytes:
    """Grouped bars of the month's rates: country vs network (suppressed bars left out)."""
    lines = {line.key: line for line in ctx.indicators}
    keys = [k for k in COMPARISON_INDICATORS if k in lines]
    fig, ax = _figure()
    ys = list(range(len(keys)))
    own = [_nan(lines[k].country.value, 100) for k in keys]
    net = [_nan(lines[k].network.shown, 100) for k in keys]
    ax.barh([y + 0.2 for y in ys], own, height=0.38, color=COUNTRY_COLOUR, label=ctx.country_name)
    ax.barh([y - 0.2 for y in ys], net, height=0.38, color=NETWORK_COLOUR, label=t("network"))
    for y, k in zip(ys, keys, strict=True):
        if lines[k].network.suppressed:
            ax.text(1, y - 0.2, t("suppressed_marker"), va="center", fontsize=7, color="#666666")
    ax.set_yticks(ys, [t("ind." + k) for k in keys], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("%", fontsize=7)
    ax.set_title(t("chart_comparison"), fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    return _png(fig)


def render_charts(ctx: ReportContext, t: Translator) -> dict[str, bytes]:
    """Every chart of the report, keyed by chart name, in display order."""
    charts = {name: trend_chart(ctx, name, t) for name in TREND_CHARTS}
    charts["comparison"] = comparison_chart(ctx, t)
    return charts
