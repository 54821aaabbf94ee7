"""GX Data Docs that work offline and say which month and countries they checked.

Great Expectations renders its Data Docs with Bootstrap, bootstrap-table, jQuery, Font
Awesome and Vega loaded from CDNs (jsdelivr, unpkg, cdnjs, bootstrapcdn, code.jquery.com),
and the index page's tables are filled in by bootstrap-table from JavaScript: opened
without internet the index is blank. :func:`make_offline` post-processes a built site so
that every page reads from local files only:

* every ``<script>`` and every remote ``<link>`` is removed (the pages need no script to be
  read; the few buttons that did something with jQuery are hidden by the stylesheet);
* the index's bootstrap-table data is written out as plain HTML rows;
* the GX logo comes from the site's own ``static/images`` instead of S3;
* a small stylesheet of the project's own (``include/gx/data_docs_offline.css``) stands in
  for Bootstrap and draws the pass/fail icons with plain characters;
* each page's title and a banner name the report month and the countries checked.
"""

from __future__ import annotations

import ast
import html
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bsin.core.paths import INCLUDE

OFFLINE_CSS = INCLUDE / "gx" / "data_docs_offline.css"
CSS_NAME = "bsin_offline.css"
# What a site build owns inside its folder: removed before the next build, so that the
# site shows only the latest validation of each suite and no stale folders pile up.
SITE_ENTRIES = ("index.html", "expectations", "validations", "static")

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)
_REMOTE_LINK = re.compile(r"<link\b[^>]*href=\"https?://[^\"]*\"[^>]*>", re.IGNORECASE)
_REMOTE_IMG = re.compile(r"(<img\b[^>]*src=\")https?://[^\"]*/([^/\"?]+)(?:\?[^\"]*)?\"")
_TITLE = re.compile(r"<title>.*?</title>", re.DOTALL)
_BODY = re.compile(r"<body[^>]*>")
_CTA_FOOTER = re.compile(r"<footer\b[^>]*id=\"ge-cta-footer\".*?</footer>", re.DOTALL)
_NEWSLETTER = re.compile(r"<footer>\s*<p>Stay current.*?</footer>", re.DOTALL)
_TABLE_INIT = re.compile(
    r"\$\('#(?P<id>[^']+)'\)\.bootstrapTable\(\s*Object\.assign\(\s*\{\s*"
    r"columns: (?P<columns>\[.*?\]),\s*data: (?P<data>\[.*?\]),\s*toolbar:",
    re.DOTALL,
)


def clear_site(directory: Path) -> None:
    """Remove what an earlier build wrote into ``directory`` (and nothing else)."""
    for name in SITE_ENTRIES:
        path = directory / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def prune_empty_dirs(directory: Path) -> int:
    """Remove empty folders under ``directory`` (deepest first); return how many."""
    removed = 0
    for root, _dirs, _files in os.walk(directory, topdown=False):
        path = Path(root)
        # Checked on disk: a parent's listing from the walk still names removed children.
        if path != directory and not any(path.iterdir()):
            path.rmdir()
            removed += 1
    return removed


def scope_title(month_label: str, countries: Iterable[str]) -> str:
    """``Data quality 2023-03 · <the month's countries, sorted>``: every page's title."""
    return f"Data quality {month_label} · {', '.join(sorted(countries)) or 'no countries'}"


def _cell(column: dict[str, Any], row: dict[str, Any]) -> str:
    field = column["field"]
    if field == "validation_success":
        # The icon needs Font Awesome; the text says the same without it.
        text = row.get("_validation_success_text") or ""
        css = "bsin-ok" if text.lower().startswith("succe") else "bsin-failed"
        return f'<span class="{css}">{html.escape(text)}</span>'
    value = row.get(field)
    sort_key = column.get("sortName")
    if isinstance(value, str) and "cooltip" in value and sort_key in row:
        # A hover tooltip built with CSS from the CDN: show its plain label instead.
        return html.escape(str(row[sort_key]))
    # Everything else is HTML that GX rendered from names this project chose.
    return "" if value is None else str(value)


def _static_table(table_id: str, columns: list[dict], data: list[dict]) -> str:
    if any("_run_time_sort" in r for r in data):
        data = sorted(data, key=lambda r: r.get("_run_time_sort") or 0, reverse=True)
    head = "".join(f"<th>{html.escape(str(c.get('title', c['field'])))}</th>" for c in columns)
    rows = []
    for row in data:
        cells = [_cell(c, row) for c in columns]
        link = row.get("_table_row_link_path")
        if link and cells and "<a " not in cells[0]:
            cells[0] = f'<a href="{html.escape(link)}">{cells[0]}</a>'
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    body = "".join(rows) or f'<tr><td colspan="{len(columns)}">(none)</td></tr>'
    return (
        f'<table id="{table_id}" class="table-sm bsin-static-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _fill_index_tables(text: str) -> str:
    for match in _TABLE_INIT.finditer(text):
        table_id = match["id"]
        # GX writes the table options as Python literals (repr of its dicts), not JSON.
        columns = ast.literal_eval(match["columns"])
        data = ast.literal_eval(match["data"])
        static = _static_table(table_id, columns, data)
        empty = re.compile(rf"<table\s+id=\"{re.escape(table_id)}\"[^>]*>\s*</table>", re.DOTALL)
        text = empty.sub(lambda _m, table=static: table, text, count=1)
    return text


def _offline_page(text: str, prefix: str, title: str, banner: str, images: set[str]) -> str:
    text = _fill_index_tables(text)
    text = _SCRIPT.sub("", text)
    text = _REMOTE_LINK.sub("", text)
    text = _CTA_FOOTER.sub("", text)
    text = _NEWSLETTER.sub("", text)

    def local_image(match: re.Match[str]) -> str:
        name = match[2]
        if name in images:
            return f'{match[1]}{prefix}static/images/{name}"'
        return f'{match[1]}data:,"'  # no remote fetch; the alt text shows instead

    text = _REMOTE_IMG.sub(local_image, text)
    text = _TITLE.sub("", text)
    css = f'<link rel="stylesheet" href="{prefix}static/styles/{CSS_NAME}">'
    text = text.replace("</head>", f"<title>{html.escape(title)}</title>\n{css}\n</head>", 1)
    text = _BODY.sub(lambda m: f'{m[0]}\n<div class="bsin-scope">{banner}</div>', text, count=1)
    return text


def make_offline(directory: Path, month_label: str, countries: Iterable[str]) -> list[Path]:
    """Rewrite every page of the site in ``directory`` to load nothing from the internet.

    Returns the pages rewritten. Also copies the project's stylesheet into the site and
    removes empty folders.
    """
    countries = sorted(countries)
    title = scope_title(month_label, countries)
    banner = (
        f"<strong>Report month {html.escape(month_label)}</strong> · countries checked: "
        f"{html.escape(', '.join(countries) or 'none')}"
    )
    styles = directory / "static" / "styles"
    styles.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(OFFLINE_CSS, styles / CSS_NAME)
    images_dir = directory / "static" / "images"
    images = {p.name for p in images_dir.iterdir()} if images_dir.is_dir() else set()
    pages = sorted(directory.rglob("*.html"))
    for page in pages:
        depth = len(page.relative_to(directory).parts) - 1
        text = page.read_text(encoding="utf-8")
        page.write_text(_offline_page(text, "../" * depth, title, banner, images), encoding="utf-8")
    prune_empty_dirs(directory)
    return pages
