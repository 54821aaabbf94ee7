"""The partner report rendered: subject, HTML, plain text, charts and the CSV.

``render_report(ctx, language) -> RenderedReport``: the HTML is Jinja2 with autoescape,
600 px wide, its CSS inlined by css-inline (mail clients drop ``<style>`` blocks); the
charts are PNGs keyed by Content-ID; the CSV holds the partner's own members' rows.
"""

from __future__ import annotations

from bsin.reporting.report_csv import to_csv_bytes
from bsin.reporting.report_i18n import Translator
from bsin.reporting.report_model import RenderedReport, ReportContext
from bsin.reporting.report_view import build_view, cid_for, csv_filename
from bsin.reporting.templates import template_environment


def render_report(ctx: ReportContext, language: str | None = None) -> RenderedReport:
    """Render ``ctx`` in ``language`` (default: the partner's ``report_language``)."""
    import css_inline

    from bsin.reporting.report_charts import render_charts

    lang = language or ctx.language
    t = Translator(lang)
    pngs = render_charts(ctx, t)
    view = build_view(ctx, t, list(pngs), ctx.min_respondents)
    env = template_environment()
    html = env.get_template("report.html").render(**view)
    # Mail clients drop <style> blocks; css-inline moves every rule onto its elements.
    html = css_inline.inline(html, load_remote_stylesheets=False)
    text = env.get_template("report.txt").render(**view)
    subject = t(
        "subject",
        programme=ctx.programme_name,
        country=view["country_name"],
        month=view["month_name"],
    )
    return RenderedReport(
        country=ctx.country,
        month=ctx.month,
        language=lang,
        subject=subject,
        html=html,
        text=text,
        images={cid_for(name, ctx): png for name, png in pngs.items()},
        csv_bytes=to_csv_bytes(ctx.csv_columns, ctx.member_rows),
        csv_filename=csv_filename(ctx),
    )
