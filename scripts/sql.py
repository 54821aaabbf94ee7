"""`make sql`: a SQL prompt on the configured warehouse, or run a query file.

The warehouse is the `warehouse_default` connection (AIRFLOW_CONN_WAREHOUSE_DEFAULT), by
default the demo's DuckDB file data/warehouse.duckdb. Statements end with `;`. DuckDB files
are opened read-write, so stop a running demo or Airflow first (DuckDB allows one writer).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from bsin.localenv import local_environment  # noqa: E402


def _print(df) -> None:  # noqa: ANN001
    import pandas as pd

    with pd.option_context(
        "display.max_rows", 200, "display.max_columns", 50, "display.width", 200
    ):
        print(df.to_string(index=False) if len(df.columns) else "(no result)")
    print(f"({len(df)} rows)")


def run(wh, sql: str) -> None:
    """Run one statement; print its rows when it returns any."""
    sql = sql.strip().rstrip(";")
    if not sql:
        return
    head = sql.split(None, 1)[0].lower()
    if head in {"select", "with", "show", "describe", "explain", "values", "table"}:
        _print(wh.query_df(sql, {}))
    else:
        wh.execute(sql)
        print("ok")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, help="run the statements of this file and exit")
    parser.add_argument("--query", "-c", help="run this statement and exit")
    args = parser.parse_args(argv)
    os.environ.setdefault(
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT", local_environment()["AIRFLOW_CONN_WAREHOUSE_DEFAULT"]
    )
    from bsin.warehouse import Warehouse, WarehouseError, split_statements

    wh = Warehouse.from_conn_id("warehouse_default")
    print(f"connected to {wh}", file=sys.stderr)
    try:
        if args.query or args.file:
            text = args.query or args.file.read_text(encoding="utf-8")
            for stmt in split_statements(text):
                run(wh, stmt)
            return 0
        print(
            "SQL prompt: end statements with ';', quit with Ctrl-D. Tables: see docs/warehouse.md"
        )
        buffer: list[str] = []
        while True:
            try:
                line = input("bsin> " if not buffer else "  ... ")
            except EOFError:
                print()
                return 0
            buffer.append(line)
            if line.rstrip().endswith(";"):
                try:
                    run(wh, "\n".join(buffer))
                except WarehouseError as exc:
                    print(f"error: {exc}")
                buffer = []
    finally:
        wh.close()


if __name__ == "__main__":
    sys.exit(main())
