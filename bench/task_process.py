"""One pipeline task in a process of its own, as an Airflow task process runs it.

``python -m bench.task_process TASK MONTH [--country CC] --warehouse URI [--endpoint URL]
[--preloaded]`` prints one JSON line: the task, its seconds and CPU seconds, and the
process's peak resident set (``VmHWM``, imports included).

The benchmark (``bench.run``) times every stage inside its own single process, which
holds every stage's imports, caches and DuckDB buffer pool in turn. In production each
task instance is a process of its own (Airflow's task runner), so this is how much memory
a worker slot needs for the task (docs/performance.md, "Memory per task process"). The
tasks re-run the benchmark's last month: every task is idempotent, and the report is
rendered without being sent.

``--preloaded`` runs the task as a worker that imported ``bsin.orchestration.preload``'s
modules would (docker-compose.yaml's Celery workers): this process imports them, then
forks, and the child runs and times the task, as Airflow's supervisor forks a task process.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import traceback
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
    p.add_argument(
        "--preloaded",
        action="store_true",
        help="import the workers' preload, then fork and run the task in the child",
    )
    args = p.parse_args(argv)
    if args.task in COUNTRY_TASKS and not args.country:
        p.error(f"{args.task} needs --country")
    if args.task == "extract" and not args.endpoint:
        p.error("extract needs --endpoint")
    # The task runner has Airflow's task SDK loaded before the task's own code.
    import airflow.sdk  # noqa: F401

    if args.preloaded:
        from bsin.orchestration.preload import preload

        preload()
        pid = os.fork()
        if pid:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        code = 1
        try:
            _timed(args)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            # The child must not return into the parent's code (atexit handlers, buffers).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _timed(args)
    return 0


def _timed(args: argparse.Namespace) -> None:
    had = set(sys.modules)
    started, cpu = time.perf_counter(), time.process_time()
    run_task(args.task, args.month, args.country, args.warehouse, args.endpoint)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    charts = [m for m in set(sys.modules) - had if m.split(".")[0] == "matplotlib"]
    peak = process_peak_rss_mb()
    print(
        json.dumps(
            {
                "task": args.task,
                "country": args.country,
                "month": args.month.isoformat(),
                "preloaded": args.preloaded,
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu, 3),
                # What the task imported of the chart library itself, and what it found
                # frozen (gc.freeze) by the process it was forked from.
                "matplotlib_modules_imported": len(charts),
                "gc_frozen_objects": gc.get_freeze_count(),
                "peak_rss_mb": round(peak, 1) if peak is not None else None,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
