"""Render one partner-month report to files without sending anything.

    python scripts/preview_report.py --country LV --month 2023-03 --out data/preview
    python scripts/preview_report.py --country SE --month 2023-03 --language en --eml

Writes into ``<out>/<cc>_<YYYY-MM>[_<lang>]/``: ``report.html`` (charts referenced as local
PNG files so a browser shows them), ``report_email.html`` (exactly as mailed, ``cid:``
references), ``report.txt``, ``subject.txt``, one PNG per chart, the CSV attachment and,
with ``--eml``, the complete message as ``report.eml`` (open it in a mail client).

The warehouse is the ``warehouse_default`` connection (``AIRFLOW_CONN_WAREHOUSE_DEFAULT``),
or ``data/warehouse.duckdb`` when that is not set, or ``--warehouse URI``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from bsin.config import LANGUAGES, ConfigError, load_partners, load_programme  # noqa: E402
from bsin.localenv import open_local_warehouse  # noqa: E402
from bsin.paths import data_dir  # noqa: E402


def preview(
    country: str, month: str, out: Path, language: str | None, eml: bool, uri: str | None
) -> Path:
    """Render and write the files; return the folder they are in."""
    from bsin.report import ReportDataError, build_message, build_report, render_report

    partners = load_partners()
    programme = load_programme()
    with open_local_warehouse(uri) as wh:
        try:
            ctx = build_report(
                wh,
                partners,
                country,
                month,
                programme_name=programme.name,
                min_respondents=programme.min_respondents,
            )
        except ReportDataError as exc:
            raise SystemExit(f"error: {exc}") from None
        rendered = render_report(ctx, language)
    folder = out / (f"{country}_{ctx.month_label}" + (f"_{language}" if language else ""))
    folder.mkdir(parents=True, exist_ok=True)
    html_local = rendered.html
    for cid, png in rendered.images.items():
        name = cid.split("@")[0] + ".png"
        (folder / name).write_bytes(png)
        html_local = html_local.replace(f"cid:{cid}", name)
    (folder / "report.html").write_text(html_local, encoding="utf-8")
    (folder / "report_email.html").write_text(rendered.html, encoding="utf-8")
    (folder / "report.txt").write_text(rendered.text, encoding="utf-8")
    (folder / "subject.txt").write_text(rendered.subject + "\n", encoding="utf-8")
    (folder / rendered.csv_filename).write_bytes(rendered.csv_bytes)
    if eml:
        message = build_message(rendered, partners.partner(country), programme.sender)
        (folder / "report.eml").write_bytes(bytes(message))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render a partner report to files (no email).")
    parser.add_argument("--country", required=True, help="partner country code, e.g. LV")
    parser.add_argument("--month", required=True, help="report month, YYYY-MM")
    parser.add_argument("--out", type=Path, default=data_dir() / "preview")
    parser.add_argument("--language", choices=LANGUAGES, help="default: the partner's own")
    parser.add_argument("--eml", action="store_true", help="also write the complete message")
    parser.add_argument("--warehouse", help="warehouse URI (default: warehouse_default)")
    args = parser.parse_args(argv)
    try:
        folder = preview(
            args.country.upper(), args.month, args.out, args.language, args.eml, args.warehouse
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"preview written to {folder}")
    for path in sorted(folder.iterdir()):
        print(f"  {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
