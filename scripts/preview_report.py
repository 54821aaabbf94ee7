"""Render partner reports to files without sending anything, optionally with screenshots.

    python scripts/preview_report.py --month 2023-03                  # every partner
    python scripts/preview_report.py --country CC --month 2023-03 --out data/preview
    python scripts/preview_report.py --country CC --month 2023-03 --language en --eml

(``CC``: a partner's country code, as in partners.yaml.)
    python scripts/preview_report.py --month 2023-03 --shots           # + phone/desktop PNGs

Writes into ``<out>/<cc>_<YYYY-MM>[_<lang>]/``: ``report.html`` (charts referenced as local
PNG files so a browser shows them), ``report_email.html`` (exactly as mailed, ``cid:``
references), ``report.txt``, ``subject.txt``, one PNG per chart, the CSV attachment and,
with ``--eml``, the complete message as ``report.eml`` (open it in a mail client).

``--shots`` also renders the programme report (interim if the programme is not over) into
``<out>/programme_report/`` and writes screenshots of every email and of the programme
report, in each language it exists in, at 375 px (a phone) and 600 px into
``<out>/shots/`` for a person to look at (headless Chromium, ``bsin_dev.report_shots``: two
launches a page, whatever the number of widths).

``--language`` accepts any language with a catalogue in include/templates/i18n/.
The warehouse is the ``warehouse_default`` connection (``AIRFLOW_CONN_WAREHOUSE_DEFAULT``),
or ``data/warehouse.duckdb`` when that is not set, or ``--warehouse URI``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from bsin_dev.localenv import open_local_warehouse

from bsin.core.config import ConfigError, load_partners, load_programme
from bsin.core.languages import available_languages
from bsin.core.months import parse_month
from bsin.core.paths import data_dir


class PreviewError(Exception):
    """Bad input for a preview: printed as one ``error:`` line, exit status 2."""


def check_arguments(country: str, month: str) -> date:
    """The report month of a valid (country, month); PreviewError names the bad one."""
    partners = load_partners()
    programme = load_programme()
    if country not in partners.countries:
        raise PreviewError(
            f"unknown COUNTRY {country!r}: partners.yaml has {', '.join(partners.countries)}"
        )
    try:
        first = parse_month(month)
    except ValueError:
        raise PreviewError(f"MONTH {month!r} is not a month: write YYYY-MM, e.g. 2023-03") from None
    last = programme.effective_last_month
    if not programme.first_month <= first <= last:
        raise PreviewError(
            f"MONTH {month} is outside the programme ({programme.first_month:%Y-%m}..{last:%Y-%m})"
        )
    return first


def preview(
    country: str,
    month: str,
    out: Path,
    language: str | None,
    eml: bool,
    uri: str | None,
    wh=None,
) -> Path:
    """Render and write the files; return the folder they are in."""
    from bsin.reporting.report import ReportDataError, build_message, build_report, render_report

    partners = load_partners()
    programme = load_programme()
    first = check_arguments(country, month)
    if wh is None:
        with open_local_warehouse(uri) as own:
            return preview(country, month, out, language, eml, uri, own)
    try:
        ctx = build_report(
            wh,
            partners,
            country,
            first,
            programme_name=programme.name,
            min_respondents=programme.min_respondents,
        )
    except ReportDataError as exc:
        raise PreviewError(str(exc)) from None
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


def shots(folders: list[Path], out: Path, wh) -> list[Path]:
    """Screenshots of each email folder and of the programme report, at every check width."""
    from bsin_dev.report_shots import WIDTHS, screenshots

    from bsin.reporting.programme_report import produce_programme_report

    result = produce_programme_report(
        wh, load_partners(), load_programme(), out / "programme_report", force=True
    )
    pages = [(folder.name, folder / "report.html") for folder in folders]
    if result.html_path is not None:
        pages.append(("programme_report", result.html_path))
        pages += [(f"programme_report_{lang}", h) for lang, (h, _) in result.translations.items()]
    written = []
    for name, page in pages:
        pngs = {width: out / "shots" / f"{name}_{width}px.png" for width in WIDTHS}
        written += screenshots(page, pngs)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render partner reports to files (no email).")
    parser.add_argument(
        "--country", help="a partner's country code, as in partners.yaml (default: every partner)"
    )
    parser.add_argument("--month", required=True, help="report month, YYYY-MM")
    parser.add_argument("--out", type=Path, default=data_dir() / "preview")
    parser.add_argument(
        "--language", choices=available_languages(), help="default: the partner's own"
    )
    parser.add_argument("--eml", action="store_true", help="also write the complete message")
    parser.add_argument(
        "--shots", action="store_true", help="also write 375/600 px screenshots (Chromium)"
    )
    parser.add_argument("--warehouse", help="warehouse URI (default: warehouse_default)")
    args = parser.parse_args(argv)
    from bsin.warehouse.db import WarehouseError

    try:
        partners = load_partners()
        countries = [args.country.strip().upper()] if args.country else partners.countries
        for country in countries:  # before the warehouse is opened: bad input needs none
            check_arguments(country, args.month)
        with open_local_warehouse(args.warehouse) as wh:
            folders = [
                preview(c, args.month, args.out, args.language, args.eml, args.warehouse, wh)
                for c in countries
            ]
            pngs = shots(folders, args.out, wh) if args.shots else []
    except ConfigError as exc:  # names file, key and fix, possibly over several lines
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (PreviewError, WarehouseError) as exc:
        print(f"error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    for folder in folders:
        print(f"preview written to {folder}")
        for path in sorted(folder.iterdir()):
            print(f"  {path.name}")
    if pngs:
        print(f"screenshots in {pngs[0].parent}:")
        for png in pngs:
            print(f"  {png.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
