"""The programme report: the whole network over the programme, for the final event.

Same steps as the partner report (``bsin.reporting.report``), and built from the same marts:

* ``build_programme_report(wh, partners, programme) -> ProgrammeContext``
  (``bsin.reporting.programme_data``): aggregates only, every privacy rule applied there, once;
* ``render_programme_report(ctx) -> RenderedProgrammeReport``: HTML (Jinja2, charts inlined
  as ``data:`` PNGs, one self-contained file) and a multi-page PDF drawn with matplotlib's
  ``PdfPages`` (``bsin.reporting.programme_pdf``) from the same display-ready view
  (``bsin.reporting.programme_view``) and charts (``bsin.reporting.programme_charts``), so both show identical
  figures;
* ``produce_programme_report(wh, partners, programme, out_dir, force)``: what the Airflow
  task and ``scripts/programme_report.py`` call; skips (with the reason) when the warehouse
  has no data for the programme's last month, unless forced.

pandas and matplotlib are imported lazily: the DAG file imports nothing heavy at parse time.
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bsin.reporting.programme_charts import PHONE, chart_drawers, render_chart_pngs
from bsin.reporting.programme_data import build_programme_report, last_data_month, programme_months
from bsin.reporting.programme_model import (
    MIN_RESPONDENTS,
    NETWORK,
    PROGRAMME_I18N_DIR,
    Cell,
    ProgrammeContext,
    ProgrammeReportDataError,
    ProgrammeReportResult,
    RenderedProgrammeReport,
)
from bsin.reporting.programme_pdf import render_pdf
from bsin.reporting.programme_view import ProgrammeTranslator, build_view
from bsin.reporting.templates import template_environment

if TYPE_CHECKING:
    from bsin.core.config import PartnersConfig, ProgrammeConfig

__all__ = [
    "MIN_RESPONDENTS",
    "NETWORK",
    "Cell",
    "ProgrammeContext",
    "ProgrammeReportDataError",
    "build_programme_report",
    "programme_months",
    "produce_programme_report",
    "render_programme_report",
]

log = logging.getLogger(__name__)

TEMPLATE = "programme/programme_report.html"
HTML_NAME, PDF_NAME = "programme_report.html", "programme_report.pdf"


def render_programme_report(
    ctx: ProgrammeContext, language: str | None = None
) -> RenderedProgrammeReport:
    """Render ``ctx`` as a self-contained HTML page and a multi-page PDF."""
    t = ProgrammeTranslator(language or ctx.language)
    view = build_view(ctx, t)
    pngs = render_chart_pngs(ctx, t)
    # A phone shows its own rendition: the print one's text would be 6 px on a 375 px screen.
    phone = render_chart_pngs(ctx, t, PHONE)
    alt_keys = {"capability": "chart_capability", "connections": "chart_connections"}
    alt_keys |= {"access": "chart_access"} | {
        name: "chart_" + name.removeprefix("trend_") for name in pngs if name.startswith("trend_")
    }
    charts = [
        {
            "name": name,
            "alt": t(alt_keys[name]),
            "src": _data_uri(png),
            "phone_src": _data_uri(phone[name]),
        }
        for name, png in pngs.items()
    ]
    html = (
        template_environment()
        .get_template(TEMPLATE)
        .render(**view, charts={c["name"]: c for c in charts}, min_respondents=ctx.min_respondents)
    )
    pdf = render_pdf(view, chart_drawers(ctx, t))
    return RenderedProgrammeReport(html=html, pdf=pdf, charts=pngs)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


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
