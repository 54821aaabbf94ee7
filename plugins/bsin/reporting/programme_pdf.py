"""The programme report as a multi-page A4 PDF, drawn with matplotlib's ``PdfPages``.

No browser is needed: ``render_pdf(view, drawers)`` lays out the same display-ready view
as the HTML page (``bsin.reporting.programme_view``) and draws the same charts
(``bsin.reporting.programme_charts``), so both outputs show identical figures. Tables split across
pages without leaving a few orphan rows on a page of their own.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bsin.reporting.report_i18n import Translator

#: Chart name -> (draw into an Axes, height in inches).
Drawers = Mapping[str, tuple[Callable[[Any], None], float]]

A4_IN = (8.27, 11.69)
MARGIN_IN = 0.6
#: A table split leaves at least this many rows on a page of their own, else it
#: squeezes them onto the page (rows no lower than MIN_ROW_IN) or carries more over.
ORPHAN_ROWS, MIN_ROW_IN = 5, 0.16
#: Table row and header line heights (inches).
ROW_IN, HEADER_LINE_IN = 0.2, 0.13
#: Lowest point a table may reach on a page (inches from the top), above the footer.
BOTTOM_IN = A4_IN[1] - MARGIN_IN - 0.3


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
        if self.fig is None or self.y + height > BOTTOM_IN:
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
        n_cols = len(table["headers"]) or (1 + len(rows[0]["cells"]) if rows else 1)
        rest = (1 - first_col) / max(n_cols - 1, 1)
        widths = [first_col] + [rest] * (n_cols - 1)
        headers, sizes = _fitted_headers(table["headers"], widths)
        head_h = max(h.count("\n") + 1 for h in headers) * HEADER_LINE_IN + 0.07 if headers else 0.0
        start = 0
        while True:
            fit, row_h = self._part_size(len(rows) - start, head_h, first=start == 0)
            chunk = rows[start : start + fit]
            body = [[r["label"]] + [c["text"] for c in r["cells"]] for r in chunk] or [
                [""] * n_cols
            ]
            self._table_part(body, widths, headers, sizes, head_h, row_h)
            self.table_parts.append((self.pages, len(chunk)))
            start += len(chunk)
            if start >= len(rows):
                break

    def _part_size(self, left_rows: int, head_h: float, first: bool) -> tuple[int, float]:
        """How many of the ``left_rows`` rows go on this page, and their height.

        A few leftover rows would make a page of their own (an orphan page): they are
        squeezed in with slightly lower rows, or the whole table starts on a new page when
        it fits there, or else more rows are carried over.
        """
        while True:
            self._room(head_h + ROW_IN * 2)
            room = BOTTOM_IN - self.y - head_h
            fit = max(int(room / ROW_IN), 1)
            left = left_rows - fit
            if not 0 < left <= ORPHAN_ROWS:
                return fit, ROW_IN
            if room / left_rows >= MIN_ROW_IN:
                return left_rows, room / left_rows
            if first and head_h + ROW_IN * left_rows < BOTTOM_IN - MARGIN_IN:
                self._new_page()
                continue
            if fit > 2 * ORPHAN_ROWS:
                fit -= ORPHAN_ROWS + 1 - left
            return fit, ROW_IN

    def _table_part(
        self,
        body: list[list[str]],
        widths: list[float],
        headers: list[str] | None,
        sizes: list[float],
        head_h: float,
        row_h: float,
    ) -> None:
        """Draw one page's part of a table at the current height."""
        width = A4_IN[0] - 2 * MARGIN_IN
        height = head_h + row_h * len(body)
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
            colWidths=widths,
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
            cell.set_height(head_h if headers and row == 0 else row_h)
            if col == 0:
                cell.get_text().set_horizontalalignment("left")
                cell.PAD = 0.03
            if headers and row == 0:
                cell.set_text_props(weight="bold", color="#4a5a63")
                cell.set_fontsize(sizes[col])
                cell.set_facecolor("#f3f5f6")
        self.y += height + 0.15


def _fitted_headers(
    headers: Sequence[str], widths: Sequence[float]
) -> tuple[list[str] | None, list[float]]:
    """Column titles wrapped to their columns and their font sizes (None: no header row).

    Titles wrap at spaces, never inside a word; a word wider than its column gets a
    smaller font (measured with the font the PDF uses).
    """
    if not any(headers):
        return None, []
    text_width = A4_IN[0] - 2 * MARGIN_IN
    fitted = [_fit_header(h, w * text_width * 72 - 5) for h, w in zip(headers, widths, strict=True)]
    return [f[0] for f in fitted], [f[1] for f in fitted]


def render_pdf(view: Mapping[str, Any], drawers: Drawers) -> bytes:
    """The report as a multi-page A4 PDF (matplotlib ``PdfPages``; no browser needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    # No creation date: the same data give the same bytes.
    metadata = {
        "Title": view["title"],
        "Creator": "bsin.reporting.programme_report",
        "CreationDate": None,
    }
    with PdfPages(buf, metadata=metadata) as pdf:
        w = _PdfWriter(pdf, view["footer"], view["t"])
        for section in (_overview, _capability, _connections_and_access, _trends, _method):
            section(w, view, drawers)
        w.close_page()
    return buf.getvalue()


def _overview(w: _PdfWriter, view: Mapping[str, Any], drawers: Drawers) -> None:
    t = view["t"]
    w.heading(view["title"], size=17, new_page=True)
    w.paragraph(view["subtitle"], size=10)
    w.paragraph(view["status"])
    w.paragraph(view["intro"])
    w.heading(t("section_overview"))
    kpis = [
        {"label": k["label"], "cells": [{"id": k["id"], "text": k["text"]}]} for k in view["kpis"]
    ]
    w.table({"headers": [], "rows": kpis}, first_col=0.7)
    w.heading(t("section_countries"))
    w.paragraph(t("countries_intro"))
    w.table(view["totals"], first_col=0.2)


def _capability(w: _PdfWriter, view: Mapping[str, Any], drawers: Drawers) -> None:
    t = view["t"]
    w.heading(t("section_capability"), new_page=True)
    if not view["has_capability"]:
        w.paragraph(t("no_capability"))
        return
    w.paragraph(t("capability_intro"))
    w.chart(*drawers["capability"])
    w.table(view["cap_network"], first_col=0.4)
    w.paragraph(t("capability_by_country"), size=10)
    w.table(view["cap_country"], first_col=0.3)
    w.paragraph(t("capability_overall_note"), size=8)


def _connections_and_access(w: _PdfWriter, view: Mapping[str, Any], drawers: Drawers) -> None:
    t = view["t"]
    w.heading(t("section_connections"), new_page=True)
    w.paragraph(t("connections_intro"))
    w.chart(*drawers["connections"])
    w.table(view["connections"], first_col=0.4)
    w.heading(t("section_access"), new_page=True)
    w.paragraph(t("access_intro"))
    w.chart(*drawers["access"])
    w.table(view["access"], first_col=0.2)


def _trends(w: _PdfWriter, view: Mapping[str, Any], drawers: Drawers) -> None:
    w.heading(view["t"]("section_trends"), new_page=True)
    for name in ("trend_satisfaction", "trend_nps", "trend_response_rate"):
        w.chart(*drawers[name])
    w.table(view["trends"], first_col=0.3)


def _method(w: _PdfWriter, view: Mapping[str, Any], drawers: Drawers) -> None:
    w.heading(view["t"]("section_method"), new_page=True)
    for text in view["method"]:
        w.paragraph(text)
    if view["any_suppressed"]:
        w.paragraph(view["suppressed_note"])
