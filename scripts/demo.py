"""`make demo`: the monthly pipeline through Airflow on the built-in sample data.

Starts the Forms API emulator and a local SMTP server that saves every email under
data/outbox/, loads the months before the report month without sending (the report needs
their trend), runs the report month with delivery, and prints where everything is.
`--backfill` runs every programme month instead (without sending, unless --deliver).

The warehouse is ``--warehouse URI`` (``make demo WAREHOUSE=...``), else an exported
``AIRFLOW_CONN_WAREHOUSE_DEFAULT``, else the DuckDB file data/warehouse.duckdb.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

from bsin_dev.localenv import local_environment

from bsin.core.months import month_range, month_run_id, parse_month
from bsin.core.paths import SAMPLE_DIR, data_dir


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default="2023-03", help="report month, YYYY-MM")
    parser.add_argument("--backfill", action="store_true", help="run every programme month")
    parser.add_argument("--deliver", action="store_true", help="with --backfill: send reports")
    parser.add_argument("--verbose", action="store_true", help="show Airflow's task logs")
    parser.add_argument(
        "--warehouse",
        help="warehouse URI (default: AIRFLOW_CONN_WAREHOUSE_DEFAULT, else data/warehouse.duckdb)",
    )
    args = parser.parse_args(argv)
    if not args.verbose:
        # Task logs stay in Airflow's log folder; the terminal gets the results. Set before
        # anything imports Airflow (reading the warehouse connection does), which fixes
        # its logging level at import.
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"
        os.environ["PYTHONWARNINGS"] = "ignore"
        warnings.simplefilter("ignore")

    from bsin_dev.emulator import start_emulator
    from bsin_dev.smtp_sink import start_sink

    from bsin.core.config import load_programme

    programme = load_programme()
    months = month_range(programme.first_month, programme.effective_last_month)
    try:
        report_month = parse_month(args.month)
    except ValueError:
        return _error(f"MONTH {args.month!r} is not a month: write YYYY-MM, e.g. 2023-03")
    if report_month not in months:
        return _error(
            f"MONTH {args.month} is outside the programme ({months[0]:%Y-%m}..{months[-1]:%Y-%m})"
        )

    from bsin.warehouse.db import Warehouse, WarehouseError

    warehouse = args.warehouse or os.environ.get("AIRFLOW_CONN_WAREHOUSE_DEFAULT") or None
    if warehouse:
        os.environ["AIRFLOW_CONN_WAREHOUSE_DEFAULT"] = warehouse
        try:
            Warehouse.from_conn_id("warehouse_default")
        except WarehouseError as exc:
            return _error(f"WAREHOUSE / AIRFLOW_CONN_WAREHOUSE_DEFAULT: {exc}")

    from bsin.core.config import load_partners

    missing = [
        f"{p.country} {kind} ({p.form_id(kind)})"
        for p in load_partners().partners
        for kind in p.form_kinds
        if not (SAMPLE_DIR / "forms" / f"{p.form_id(kind)}.json").exists()
    ]
    if missing:
        return _error(
            f"the sample data in {SAMPLE_DIR} has no form for {', '.join(missing)}: run "
            "`make sample-data` to generate sample forms and answers for every partner in "
            "partners.yaml (any country and language), then `make demo` again"
        )

    data = data_dir()
    outbox = data / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    emulator = start_emulator(SAMPLE_DIR)
    sink = start_sink(outbox)
    env = local_environment(
        forms_endpoint=emulator.url, smtp_port=sink.port, warehouse_uri=warehouse
    )
    if not args.verbose:
        env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"
        env["DBT_QUIET"] = "true"  # dbt prints its progress to the terminal, errors still show
    os.environ.update(env)
    print(f"warehouse: {Warehouse.from_conn_id('warehouse_default')}", flush=True)
    before = set(outbox.glob("*.eml"))
    try:
        from bsin_dev.airflow_runner import migrate_metadata_db, run_month

        migrate_metadata_db(Path(env["AIRFLOW_HOME"]), {**os.environ})
        if args.backfill:
            plan = [(m, args.deliver) for m in months]
        else:
            plan = [(m, False) for m in months if m < report_month] + [(report_month, True)]
        runs = []
        for month, deliver in plan:
            started = time.monotonic()
            state = run_month(month, deliver=deliver)
            runs.append((month, state))
            print(
                f"  run {month_run_id(month)} ({'with' if deliver else 'without'} reports):"
                f" {state} in {time.monotonic() - started:.0f} s",
                flush=True,
            )
        from bsin_dev.demo_summary import print_backfill_summary, print_summary

        emails = sorted(set(outbox.glob("*.eml")) - before)
        if args.backfill:
            print_backfill_summary(runs, outbox, emails)
        else:
            print_summary(report_month, outbox, emails)
        return 1 if any(state != "success" for _, state in runs) else 0
    finally:
        sink.stop()
        emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
