"""The partner's own per-member rows as a CSV attachment, safe to open in a spreadsheet.

A cell that starts with ``= + - @``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (CSV/formula injection, OWASP). Free text comes
from respondents, so every such text cell gets a leading apostrophe, which spreadsheets
show as plain text. Numbers stay numbers.

Excel in the partners' locales (sv, et, lv, lt: decimal comma) splits a CSV on ``;``, not
``,``, so a text such as ``ok;=HYPERLINK(...)`` would open as two cells, the second a
formula. A spreadsheet that imports the file with other separators, or breaks a quoted
cell at its line breaks, starts a new cell after a ``,``, tab, ``|`` or any line break
(``x\n=1+1;y``). So a trigger character after any of them (spaces in between
included) gets the apostrophe too, and so does one at the start after leading spaces.
Fullwidth ``＝ ＋ － ＠`` count as triggers: some locales' spreadsheets read them as
formulas as well.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_TRIGGER = "[" + re.escape("".join(FORMULA_TRIGGERS)) + "]"
#: Where a spreadsheet may start a new cell inside one CSV field.
_SEPARATORS = "[;,|\t\n\r\x0b\x0c\x85\u2028\u2029]"
_AFTER_SEPARATOR = re.compile(rf"({_SEPARATORS}[ \u00a0\u3000]*)(?={_TRIGGER})")
_LEADING = re.compile(rf"^[ \u00a0\u3000]*(?={_TRIGGER})")
_ANY_TRIGGER = re.compile(_TRIGGER)


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
    text = str(value)
    if not _ANY_TRIGGER.search(text):
        # Nothing a spreadsheet could read as a formula: most cells, one scan instead of two.
        return text
    text = _AFTER_SEPARATOR.sub(r"\1'", text)
    if _LEADING.match(text):
        return "'" + text
    return text


def safe_column(values: Sequence[object]) -> list[str]:
    """``safe_cell`` of every value of one column.

    A member month's CSV is tens of thousands of cells, nearly all of them whole numbers
    or text without a trigger character: such a column is converted at once (its text
    scanned in one search) instead of cell by cell.
    """
    kinds = {type(v) for v in values}
    kinds.discard(type(None))
    if kinds == {str}:
        # Joined with a line break, which is no trigger: a hit is a trigger in some cell.
        if not _ANY_TRIGGER.search("\n".join(v for v in values if v is not None)):
            return ["" if v is None else v for v in values]
    elif kinds == {int}:
        return ["" if v is None else str(v) for v in values]
    elif kinds == {datetime} and all(
        v is None or (v.tzinfo is None and v.year >= 1000) for v in values
    ):
        # safe_cell's strftime text, four times faster (strftime does not pad years < 1000).
        return ["" if v is None else v.isoformat(timespec="seconds") + "Z" for v in values]
    return [safe_cell(v) for v in values]


def to_csv_bytes(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    """CSV with a header row; UTF-8 with BOM so Excel shows Baltic letters correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    rows = list(rows)
    cells = [safe_column([row.get(col) for row in rows]) for col in columns]
    writer.writerows(zip(*cells, strict=True) if cells else ([] for _ in rows))
    return buf.getvalue().encode("utf-8-sig")
