"""The monthly partner report: data, rendering and the email message.

Three steps, each testable on its own, each in its own module:

* ``build_report(wh, partners, country, month) -> ReportContext`` (``bsin.reporting.report_data``):
  pure data read from the marts and the country's own ``feedback`` rows, with the
  privacy rules of ``bsin.reporting.disclosure`` applied there, once, so no template can leak what
  the context does not hold (docs/reports.md, "Privacy"). The context and the lists it is
  built from are in ``bsin.reporting.report_model``.
* ``render_report(ctx, language) -> RenderedReport`` (``bsin.reporting.report_render``): subject,
  HTML, plain text, PNG charts keyed by Content-ID (``bsin.reporting.report_charts``) and the CSV,
  from the display-ready view of ``bsin.reporting.report_view``.
* ``build_message(rendered, partner, sender) -> EmailMessage`` (``bsin.reporting.report_message``).

This module is the partner report's public face: callers import the three steps from here.
"""

from __future__ import annotations

from bsin.reporting.report_data import build_report
from bsin.reporting.report_message import build_message, message_id_for
from bsin.reporting.report_model import (
    MIN_RESPONDENTS,
    PROGRAMME_NAME,
    RenderedReport,
    ReportContext,
    ReportDataError,
)
from bsin.reporting.report_render import render_report

__all__ = [
    "MIN_RESPONDENTS",
    "PROGRAMME_NAME",
    "RenderedReport",
    "ReportContext",
    "ReportDataError",
    "build_message",
    "build_report",
    "message_id_for",
    "render_report",
]
