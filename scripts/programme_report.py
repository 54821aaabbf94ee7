"""Render the programme report (HTML and PDF) from the warehouse, on demand.

    python scripts/programme_report.py --out data/programme_report
    python scripts/programme_report.py --out /tmp/riga --warehouse duckdb:///abs/warehouse.duckdb

Writes ``programme_report.html`` (self-contained, charts inline) and ``programme_report.pdf``
into ``--out``. Unlike the Airflow DAG, which waits for the programme's last month, the
command always renders: before the last month it produces an interim report and says so.
``--final-only`` makes it behave like the DAG (exit code 3 and nothing written).

The warehouse is ``--warehouse URI``, else the ``warehouse_default`` connection
(``AIRFLOW_CONN_WAREHOUSE_DEFAULT``), else ``data/warehouse.duckdb``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bsin_dev.localenv import open_local_warehouse

from bsin.core.config import ConfigError, load_partners, load_programme
from bsin.core.paths import data_dir

EXIT_SKIPPED = 3


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, render, print where the files are; 0 on success."""
    parser = argparse.ArgumentParser(description="Render the programme report (HTML + PDF).")
    parser.add_argument("--out", type=Path, default=data_dir() / "programme_report")
    parser.add_argument("--warehouse", help="warehouse URI (default: warehouse_default)")
    parser.add_argument(
        "--final-only",
        action="store_true",
        help="like the DAG: write nothing unless the programme's last month is in",
    )
    args = parser.parse_args(argv)

    from bsin.reporting.programme_report import ProgrammeReportDataError, produce_programme_report

    try:
        partners, programme = load_partners(), load_programme()
        with open_local_warehouse(args.warehouse) as wh:
            result = produce_programme_report(
                wh, partners, programme, args.out, force=not args.final_only
            )
    except (ConfigError, ProgrammeReportDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.message)
    if result.status == "skipped":
        return EXIT_SKIPPED
    if result.last_data_month is None or result.last_data_month < programme.effective_last_month:
        print(
            f"note: interim report, the programme's last month {programme.effective_last_month:%Y-%m} "
            "is not in the warehouse yet"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
