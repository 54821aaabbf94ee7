"""One pipeline task in a process of its own, as an Airflow task process runs it.

``python -m bench.task_process TASK MONTH [--country CC] --warehouse URI [--endpoint URL]``
prints one JSON line: the task, its seconds and the process's peak resident set
(``VmHWM``, imports included).

The benchmark (``bench.run``) times every stage inside its own single process, which
holds every stage's imports, caches and DuckDB buffer pool in turn. In production each
task instance is a process of its own (Airflow's task runner), so this is how much memory
a worker slot needs for the task (docs/performance.md, "Memory per task process"). The
tasks re-run the benchmark's last month: every task is idempotent, and the report is
rendered without being sent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date

from bench.measure import process_peak_rss_mb

#: The tasks this module runs: the monthly DAG's task bodies, one per stage.
TASKS = ("prepare", "extract", "harmonise", "validate", "indicators", "report")
#: The tasks that run for one partner (``--country``).
COUNTRY_TASKS = ("extract", "harmonise", "report")


def run_task(task: str, month: date, country: str | None, uri: str, endpoint: str | None) -> None:
    """Run one task body against the warehouse at ``uri`` (and the emulator at ``endpoint``)."""
    from bench.run import BENCH_KEY
    from bsin import pipeline
    from bsin.core.config import load_partners, load_programme
    from bsin.warehouse.db import Warehouse

    wh = Warehouse.from_uri(uri)
    ctx = pipeline.Context(load_partners(), load_programme(), warehouse=wh, key=BENCH_KEY)
    try:
        if task == "prepare":
            pipeline.prepare_warehouse(month, ctx)
        elif task == "extract":
            from bsin.ingest.forms_hook import build_service

            service = build_service(
                {"endpoint": endpoint, "num_retries": 0, "quota": {"store": "off"}}
            )
            pipeline.extract_country(country, month, ctx, service=service)
        elif task == "harmonise":
            pipeline.harmonise_country(country, month, ctx)
        elif task == "validate":
            pipeline.validate_month(month, ctx)
        elif task == "indicators":
            pipeline.build_marts_for_month(month, ctx)
        elif task == "report":
            pipeline.send_report(country, month, deliver=False, ctx=ctx)
    finally:
        wh.close()


def main(argv: list[str] | None = None) -> int:
    """Run the task named on the command line; print its JSON line."""
    p = argparse.ArgumentParser(prog="bench.task_process", description=__doc__.split("\n\n")[0])
    p.add_argument("task", choices=TASKS)
    p.add_argument("month", type=date.fromisoformat)
    p.add_argument("--country")
    p.add_argument("--warehouse", required=True)
    p.add_argument("--endpoint")
    args = p.parse_args(argv)
    if args.task in COUNTRY_TASKS and not args.country:
        p.error(f"{args.task} needs --country")
    if args.task == "extract" and not args.endpoint:
        p.error("extract needs --endpoint")
    # The task runner has Airflow's task SDK loaded before the task's own code.
    import airflow.sdk  # noqa: F401

    started = time.perf_counter()
    run_task(args.task, args.month, args.country, args.warehouse, args.endpoint)
    seconds = time.perf_counter() - started
    peak = process_peak_rss_mb()
    print(
        json.dumps(
            {
                "task": args.task,
                "country": args.country,
                "month": args.month.isoformat(),
                "seconds": round(seconds, 3),
                "peak_rss_mb": round(peak, 1) if peak is not None else None,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
