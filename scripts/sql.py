"""`make sql`: a SQL prompt on the configured warehouse, or run a query file.

The warehouse is the `warehouse_default` connection (AIRFLOW_CONN_WAREHOUSE_DEFAULT), by
default the demo's DuckDB file data/warehouse.duckdb. Statements end with `;`; every
statement's result is printed, also when several share one line. DuckDB files are opened
read-write, so stop a running demo or Airflow first (DuckDB allows one writer).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bsin_dev.localenv import local_environment

# Statement kinds (as sqlparse names them) that change data: report the row count.
_WRITES = {"INSERT", "UPDATE", "DELETE", "MERGE"}


class SqlError(Exception):
    """A statement failed; the message is one line naming the statement."""


def statements(text: str) -> list[tuple[str, str]]:
    """``[(statement, kind)]`` of ``text``, split on ``;`` outside quotes and comments.

    sqlparse (already installed with Airflow) knows both dialects' quoting, including
    PostgreSQL's dollar quotes; comment-only pieces are dropped.
    """
    import sqlparse

    out = []
    for stmt in sqlparse.parse(text):
        code = sqlparse.format(str(stmt), strip_comments=True).strip().rstrip(";").strip()
        if code:
            out.append((str(stmt).strip(), stmt.get_type()))
    return out


def _complete(text: str) -> bool:
    import sqlparse

    return sqlparse.format(text, strip_comments=True).rstrip().endswith(";")


def _first_line(sql: str, limit: int = 60) -> str:
    line = next(
        (ln.strip() for ln in sql.splitlines() if ln.strip() and not ln.strip().startswith("--")),
        "",
    )
    return line if len(line) <= limit else line[: limit - 3] + "..."


def execute(wh: Any, sql: str) -> tuple[list[str] | None, list[tuple], int]:
    """Run one statement on the warehouse's own connection: (columns or None, rows, rowcount)."""
    sql = sql.strip().rstrip(";")
    if wh.backend == "duckdb":
        cur = wh.conn.execute(sql)
    else:
        cur = wh.conn.cursor()
        cur.execute(sql)
    if cur.description is None:
        return None, [], getattr(cur, "rowcount", -1)
    columns = [d[0] for d in cur.description]
    return columns, cur.fetchall(), getattr(cur, "rowcount", -1)


def _print_rows(columns: list[str], rows: list[tuple]) -> None:
    import pandas as pd

    df = pd.DataFrame.from_records(rows, columns=columns)
    with pd.option_context(
        "display.max_rows", 200, "display.max_columns", 50, "display.width", 200
    ):
        print(df.to_string(index=False) if len(df) else "  ".join(columns))
    print(f"({len(df)} rows)")


def run_text(wh: Any, text: str) -> int:
    """Run every statement of ``text`` in order and print each result; return how many ran.

    Raises :class:`SqlError` at the first failing statement (later ones may depend on it).
    """
    stmts = statements(text)
    for n, (sql, kind) in enumerate(stmts, start=1):
        if len(stmts) > 1:
            print(f"-- [{n}/{len(stmts)}] {_first_line(sql)}")
        try:
            columns, rows, count = execute(wh, sql)
        except Exception as exc:  # any driver error: one line, no traceback
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SqlError(f"statement {n} ({_first_line(sql)}): {message}") from None
        if kind in _WRITES:
            # DuckDB answers a write with a one-row "Count" result, PostgreSQL with rowcount.
            changed = rows[0][0] if columns == ["Count"] and rows else count
            print(f"ok, {changed} rows" if changed is not None and changed >= 0 else "ok")
        elif columns is None or (columns == ["Count"] and kind != "SELECT"):
            print("ok")  # DDL and settings; DuckDB reports them as an empty "Count"
        else:
            _print_rows(columns, rows)
    return len(stmts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, help="run the statements of this file and exit")
    parser.add_argument("--query", "-c", help="run these statements and exit")
    args = parser.parse_args(argv)
    text = args.query
    if args.file is not None:
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            print(f"error: cannot read QUERY file {args.file}: {reason}", file=sys.stderr)
            return 2
    os.environ.setdefault(
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT", local_environment()["AIRFLOW_CONN_WAREHOUSE_DEFAULT"]
    )
    from bsin.warehouse.db import Warehouse, WarehouseError

    try:
        wh = Warehouse.from_conn_id("warehouse_default")
        wh.conn  # noqa: B018 - connect now, so a bad connection is one clear line
    except WarehouseError as exc:
        print(f"error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"connected to {wh}", file=sys.stderr)
    try:
        if text is not None:
            try:
                if not run_text(wh, text):
                    print("error: no SQL statement to run", file=sys.stderr)
                    return 2
            except SqlError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            return 0
        print(
            "SQL prompt: end statements with ';', quit with Ctrl-D. Tables: see docs/warehouse.md"
        )
        buffer: list[str] = []
        while True:
            try:
                line = input("bsin> " if not buffer else "  ... ")
            except EOFError:
                line = None
            if line is not None:
                buffer.append(line)
            # A statement is complete at a ';' outside quotes, even with a comment after it;
            # at end of input whatever is left runs too.
            if buffer and (line is None or _complete("\n".join(buffer))):
                try:
                    run_text(wh, "\n".join(buffer))
                except SqlError as exc:
                    print(f"error: {exc}")
                buffer = []
            if line is None:
                print()
                return 0
    finally:
        wh.close()


if __name__ == "__main__":
    sys.exit(main())
