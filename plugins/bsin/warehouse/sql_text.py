"""SQL text helpers: split a file into statements, turn ``:name`` parameters into a driver's.

Splitting is the SQL hooks' own (``DbApiHook.split_sql_string``: sqlparse's splitter on the
text without comments), so a file runs here exactly as a ``SQLExecuteQueryOperator`` would
run it. Parameters stay the project's: one portable ``:name`` style for both backends, while
DuckDB wants ``?`` and psycopg ``%s``; sqlparse's lexer tells placeholders from ``::`` casts,
quoted strings and comments.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

from bsin.core.paths import SQL_DIR
from bsin.warehouse.errors import WarehouseError


def split_statements(sql: str) -> list[str]:
    """Split SQL text on ``;`` outside quotes and comments; drop comments and empty statements."""
    return list(_split_cached(sql))


@lru_cache(maxsize=128)
def _split_cached(sql: str) -> tuple[str, ...]:
    # sqlparse's splitter costs milliseconds a file, and the load runs the same few files
    # for every extract (about 0.3 s a month at the benchmark's size, docs/performance.md).
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    return tuple(
        s.strip() for s in DbApiHook.split_sql_string(sql, strip_semicolon=True) if s.strip()
    )


def convert_params(
    sql: str,
    params: Mapping[str, Any] | None,
    placeholder: str,
    escape_percent: bool,
    strict: bool = True,
) -> tuple[str, list[Any]]:
    """Rewrite ``:name`` parameters into positional ``placeholder`` and the value list.

    ``::`` casts, quoted strings and comments are left alone. psycopg reads ``%`` as the
    start of a placeholder everywhere in the text, so it is doubled when asked.
    """
    params = dict(params or {})
    text, names = _positional(sql, placeholder, escape_percent)
    values: list[Any] = []
    for name in names:
        if name not in params:
            raise WarehouseError(
                f"SQL parameter :{name} has no value: pass it in params (got {sorted(params)})"
            )
        values.append(params[name])
    unused = set(params) - set(names)
    if unused and strict:
        raise WarehouseError(f"params {sorted(unused)} are not used in the SQL: remove them")
    return text, values


#: Longest statement whose conversion is kept: the statements run again and again are short.
CACHED_SQL_CHARS = 20_000


def _positional(sql: str, placeholder: str, escape_percent: bool) -> tuple[str, tuple[str, ...]]:
    """``sql`` with ``placeholder`` for each ``:name``, and the names in order.

    Kept per statement: the lexer costs half a millisecond a statement, and the pipeline
    runs the same statements again and again (a partner report runs about ten).
    """
    if len(sql) > CACHED_SQL_CHARS:
        return _lex(sql, placeholder, escape_percent)
    return _lex_cached(sql, placeholder, escape_percent)


def _lex(sql: str, placeholder: str, escape_percent: bool) -> tuple[str, tuple[str, ...]]:
    from sqlparse import lexer, tokens

    names: list[str] = []
    out: list[str] = []
    for ttype, text in lexer.tokenize(sql):
        if ttype in tokens.Name.Placeholder and text.startswith(":"):
            names.append(text[1:])
            out.append(placeholder)
            continue
        out.append(text.replace("%", "%%") if escape_percent else text)
    return "".join(out), tuple(names)


_lex_cached = lru_cache(maxsize=512)(_lex)


def short(sql: str, limit: int = 300) -> str:
    """``sql`` on one line, cut at ``limit`` characters (for error messages)."""
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[:limit] + " ..."


@cache
def query_text(name: str) -> str:
    """The one statement of ``include/sql/queries/<name>.sql`` (the task bodies' reads).

    Kept in files like the load SQL, so every statement the pipeline runs is in include/sql
    and reads as SQL; parameters are ``:name`` as everywhere.
    """
    path = SQL_DIR / "queries" / f"{name}.sql"
    try:
        statements = split_statements(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WarehouseError(f"SQL file {path} not found") from None
    if len(statements) != 1:
        raise WarehouseError(f"{path} must hold exactly one statement, not {len(statements)}")
    return statements[0]
