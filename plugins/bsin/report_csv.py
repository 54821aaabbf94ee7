"""The partner's own per-member rows as a CSV attachment, safe to open in a spreadsheet.

A cell that starts with ``= + - @``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (CSV/formula injection, OWASP). Free text comes
from respondents, so every such text cell gets a leading apostrophe, which spreadsheets
show as plain text. Numbers stay numbers.

Excel in the partners' locales (sv, et, lv, lt: decimal comma) splits a CSV on ``;``, not
``,``, so a text such as ``ok;=HYPERLINK(...)`` would open as two cells, the second a
formula: a trigger character right after a ``;`` gets the apostrophe too.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_AFTER_SEMICOLON = re.compile(r";(?=[=+\-@\t\r])")


def safe_cell(value: object) -> str:
    """One CSV cell as text; text that a spreadsheet would evaluate is prefixed with ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    text = _AFTER_SEMICOLON.sub(";'", str(value))
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def to_csv_bytes(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    """CSV with a header row; UTF-8 with BOM so Excel shows Baltic letters correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(col)) for col in columns])
    return buf.getvalue().encode("utf-8-sig")
