"""CPU time of one warm partner report, on a warehouse the benchmark kept (issue 14, goal 2).

    python -m bench.run --countries 8 --members 300 --months 3 --reports 4 \\
        --skip-quota --skip-dag-parse --keep-run
    python -m bench.report_profile bench/data/run-XXXX bench/data/net-c8-m300-mo3-r0.9

opens the kept warehouse as ``bench/run.py`` does and renders ``--reports`` reports with
``send_report(deliver=False)`` (the bench's timed call) for the network's partners in turn,
after ``--warmup`` untimed ones (imports, Babel's locale data, first-use caches). It prints
one JSON line: median and mean CPU seconds (``time.process_time``) and wall seconds per
report. The machine the bench runs on is shared, so CPU time is the figure to compare, and
old against new code in alternating processes: run this script with another worktree's
venv (``<worktree>/.venv/bin/python -m bench.report_profile``, from that worktree) to time
that revision's ``bsin``. ``--warmup 0 --reports 1`` times a first report, imports
included, as an Airflow task process pays it. ``--profile N`` adds cProfile's top N
functions by cumulative and by own time on stderr; ``--split`` the median CPU seconds of
the report's parts (``PARTS``; nested parts are inside their callers' figures).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import statistics
import sys
import time
from datetime import date
from pathlib import Path

#: The parts of a report ``--split`` times: (module, function), looked up at call time there.
PARTS = (
    ("bsin.quality.country_status", "country_condition"),
    ("bsin.reporting.report", "build_report"),
    ("bsin.reporting.report_data", "read_respondents"),
    ("bsin.reporting.report_data", "read_values"),
    ("bsin.reporting.report_data", "read_network"),
    ("bsin.reporting.report_data", "member_rows"),
    ("bsin.reporting.report_data", "fired_signals"),
    ("bsin.reporting.report", "render_report"),
    ("bsin.reporting.report_charts", "render_charts"),
    ("bsin.reporting.report_render", "build_view"),
    ("css_inline", "inline"),
    ("bsin.reporting.report_render", "to_csv_bytes"),
    ("bsin.reporting.report", "build_message"),
)


def _split_parts(spent: dict[str, float]) -> None:
    """Wrap every function of ``PARTS`` so that its CPU seconds add up in ``spent``."""
    import functools
    import importlib

    for module_name, name in PARTS:
        module = importlib.import_module(module_name)
        inner = getattr(module, name)

        @functools.wraps(inner)
        def timed(*a, _inner=inner, _key=f"{module_name}.{name}", **kw):
            c0 = time.process_time()
            try:
                return _inner(*a, **kw)
            finally:
                spent[_key] = spent.get(_key, 0.0) + time.process_time() - c0

        setattr(module, name, timed)


def _setup_env(run_dir: Path, net_dir: Path) -> None:
    """The environment ``bench/run.py`` sets for the pipeline (config, data, Airflow home)."""
    from bench.run import _demo_key

    os.environ.update(
        BSIN_CONFIG_DIR=str(net_dir / "config"),
        BSIN_DATA_DIR=str(run_dir / "data"),
        AIRFLOW_HOME=str(run_dir / "airflow_home"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{run_dir / 'airflow_home' / 'airflow.db'}",
        MPLBACKEND="Agg",
        BSIN_DEMO="1",
    )
    os.environ.setdefault("BSIN_PSEUDONYM_KEY", _demo_key())


def main(argv: list[str] | None = None) -> int:
    """Render warm reports on a kept bench warehouse and print their CPU and wall seconds."""
    p = argparse.ArgumentParser(prog="bench.report_profile", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", type=Path, help="bench/data/run-* kept by --keep-run")
    p.add_argument("net_dir", type=Path, help="bench/data/net-* the run was generated from")
    p.add_argument("--reports", type=int, default=20, help="timed reports (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="untimed reports first (default 2)")
    p.add_argument("--month", help="report month YYYY-MM-01 (default: the network's last)")
    p.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile top N")
    p.add_argument("--split", action="store_true", help="CPU seconds of the report's parts")
    args = p.parse_args(argv)
    if args.reports < 1 or args.warmup < 0:
        p.error("--reports must be at least 1 and --warmup at least 0")
    run_dir, net_dir = args.run_dir.resolve(), args.net_dir.resolve()
    meta = json.loads((net_dir / "network.json").read_text())
    _setup_env(run_dir, net_dir)

    from bench.run import BENCH_KEY
    from bsin import pipeline
    from bsin.core.config import load_partners, load_programme
    from bsin.warehouse.db import Warehouse

    # After Airflow's import, which may set up logging: as bench/run.py, keep stderr short.
    logging.getLogger().setLevel(logging.WARNING)
    month = date.fromisoformat(args.month or meta["months"][-1])
    countries = meta["countries"]
    wh = Warehouse.from_uri(f"duckdb:///{run_dir / 'warehouse.duckdb'}")
    ctx = pipeline.Context(load_partners(), load_programme(), warehouse=wh, key=BENCH_KEY)
    cpu: list[float] = []
    wall: list[float] = []
    spent: dict[str, float] = {}
    parts: dict[str, list[float]] = {}
    if args.split:
        _split_parts(spent)
    prof = cProfile.Profile() if args.profile else None
    try:
        for i in range(args.warmup + args.reports):
            cc = countries[i % len(countries)]
            if prof is not None and i >= args.warmup:
                prof.enable()
            spent.clear()
            c0, w0 = time.process_time(), time.perf_counter()
            pipeline.send_report(cc, month, deliver=False, ctx=ctx)
            c1, w1 = time.process_time(), time.perf_counter()
            if prof is not None:
                prof.disable()
            if i >= args.warmup:
                cpu.append(c1 - c0)
                wall.append(w1 - w0)
                for key, seconds in spent.items():
                    parts.setdefault(key, []).append(seconds)
    finally:
        wh.close()
    if prof is not None:
        for key in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(key).print_stats(args.profile)
            print(out.getvalue(), file=sys.stderr)
    import bsin

    result = {
        "bsin": str(Path(bsin.__file__).resolve().parents[1]),
        "month": month.isoformat(),
        "reports": len(cpu),
        "cpu_median": round(statistics.median(cpu), 4),
        "cpu_mean": round(statistics.fmean(cpu), 4),
        "wall_median": round(statistics.median(wall), 4),
        "wall_mean": round(statistics.fmean(wall), 4),
        "profiled": bool(prof),
        "parts_cpu_median": {k: round(statistics.median(v), 4) for k, v in parts.items()},
        "loadavg": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
