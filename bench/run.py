"""``make bench``: the monthly pipeline at network scale, stage by stage, against two floors.

Generates (once, cached under bench/data/) a synthetic network, default 40 countries x
2,500 members x 10 months (about 900,000 monthly responses), serves it with the Forms API
emulator in its own process, and runs the pipeline's task bodies month by month as the
monthly DAG would: prepare, extract and harmonise per country, validate, marts and signals,
and the report of a sample of partners (rendered, not sent). Each stage is timed on its
own (docs/performance.md says how the time is split), next to two floors measured in the
same run: DuckDB ``read_json`` over the same raw JSON, and the parse time of an empty DAG
file. Every real DAG file's parse time and the API calls per country-month are reported too.

Output: one JSON object per line on stdout, also written to bench/results.jsonl. Progress
goes to stderr. ``--quick`` is the small configuration CI runs (under a minute).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from bench.measure import RssMeter, StageAccounts, process_peak_rss_mb
from bench.served import EmulatorProcess, NetworkSpec, ServedNetwork, ensure_network

ROOT = Path(__file__).resolve().parents[1]

DEFAULT = NetworkSpec(countries=40, members=2500, months=10)
# 5,100 members: every self-assessment list needs two pages, so CI checks the paging too.
QUICK = NetworkSpec(countries=2, members=5100, months=1)
PAGE_SIZE = 5000
TARGET_RATIO = 10.0
TARGET_RSS_MB = 2048.0
#: Issue 14, goal 2: seconds to render one partner report (queries, charts, HTML, CSV, MIME).
TARGET_REPORT_SECONDS = 0.25
STAGES = ("pull", "harmonise", "validate", "load", "indicators", "report")
#: What each task process prints (bench.task_process), shown per task as ``<field>_by_task_process``.
TASK_PROCESS_FIELDS = (
    "peak_rss_mb",
    "seconds",
    "cpu_seconds",
    "matplotlib_modules_imported",
    "gc_frozen_objects",
)
# Issue 14's targets (goal lines): the data path against the pull, memory, flat months.
DATA_PATH_STAGES = ("harmonise", "validate", "load", "indicators")
TARGET_DATA_PATH_RATIO = 0.5
TARGET_STAGE_RSS_MB = 1024.0
TARGET_MONTH_GROWTH = 1.2
# Every record carries the benchmark's common keys; a goal line has no rows of its own.
_GOAL_KEYS = {"rows": None, "rows_per_s": None, "peak_rss_mb": None, "ratio_to_floor": None}
# Benchmark-only pseudonymisation key: the data is synthetic.
BENCH_KEY = b"bsin-benchmark-key-not-a-secret-000000"


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """CPU model, cores and memory of this machine, for the record."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _record(
    stage: str, rows: int | None, seconds: float | None, peak: float | None, floor, **extra
):
    rate = round(rows / seconds, 3) if rows and seconds else None
    ratio = round(seconds / floor, 2) if seconds is not None and floor else None
    return {
        "stage": stage,
        "rows": rows,
        "seconds": round(seconds, 4) if seconds is not None else None,
        "rows_per_s": rate,
        "peak_rss_mb": round(peak, 1) if peak is not None else None,
        "ratio_to_floor": ratio,
        **extra,
    }


def _subprocess_json(args: list[str], env: dict[str, str], what: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    for line in reversed(proc.stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise RuntimeError(f"{what} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")


def expected_calls(returned: int) -> int:
    """API calls one form should need: forms.get + one list per 5,000 (an empty list too)."""
    return 1 + max(1, math.ceil(returned / PAGE_SIZE))


def api_calls(log: list[dict], form_kind: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per form kind: forms.get, lists, responses returned, from one extract's request log."""
    out: dict[str, dict[str, int]] = defaultdict(Counter)
    for e in log:
        kind = form_kind.get(e.get("form_id") or "", "other")
        c = out[kind]
        if e["op"] == "forms.get":
            c["forms_get"] += 1
        elif e["op"] == "responses.list" and e.get("fields"):
            # The reconciliation's ids-only listing (docs/security.md): counted apart.
            c["id_lists"] += 1
            c["id_returned"] += int(e.get("returned") or 0)
        elif e["op"] == "responses.list":
            c["lists"] += 1
            c["returned"] += int(e.get("returned") or 0)
        else:
            c[e["op"]] += 1
        if e.get("status") != 200:
            c["errors"] += 1
    return {k: dict(v) for k, v in out.items()}


def _demo_key() -> str:
    from bsin.ingest.pseudonymise import DEMO_PSEUDONYM_KEY

    return DEMO_PSEUDONYM_KEY


def run(args: argparse.Namespace, emit) -> int:
    """The whole benchmark; ``emit`` gets every result record. Returns the exit code."""
    spec = NetworkSpec(args.countries, args.members, args.months, args.response_rate)
    data_root = Path(args.data_dir).resolve()
    data_root.mkdir(parents=True, exist_ok=True)
    network, meta, cached = ensure_network(spec, data_root, _log)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=data_root))
    env = dict(os.environ)
    env.update(
        BSIN_CONFIG_DIR=str(network / "config"),
        BSIN_DATA_DIR=str(run_dir / "data"),
        AIRFLOW_HOME=str(run_dir / "airflow_home"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{run_dir / 'airflow_home' / 'airflow.db'}",
        MPLBACKEND="Agg",
        # Synthetic, fictitious members: a local tool like the demo, so the demo key rules
        # apply (docs/security.md); an exported key is used as it is.
        BSIN_DEMO="1",
        BSIN_PSEUDONYM_KEY=os.environ.get("BSIN_PSEUDONYM_KEY") or _demo_key(),
    )
    os.environ.update(env)
    rows_total = meta["monthly_responses"]
    emit(
        {
            "stage": "setup",
            "rows": rows_total,
            "seconds": 0.0 if cached else meta["generate_seconds"],
            "rows_per_s": None,
            "peak_rss_mb": None,
            "ratio_to_floor": None,
            "network": {
                "countries": args.countries,
                "members_per_country": args.members,
                "months": args.months,
                "response_rate": args.response_rate,
                "monthly_responses": rows_total,
                "json_mb": round(meta["json_bytes"] / 2**20, 1),
                "cached": cached,
                "dir": str(network.relative_to(ROOT) if network.is_relative_to(ROOT) else network),
            },
            "machine": machine(),
            "report_sample": args.reports,
            "task_connections": args.task_connections,
        }
    )

    # ---- floor 1: DuckDB over the same JSON, in its own process
    _log("floor: DuckDB read_json over the response files ...")
    source_files = sorted(str(p) for p in (network / "emulator" / "responses").glob("*.json"))
    duck = _subprocess_json(["bench.floors", "duckdb", *source_files], env, "DuckDB floor")
    floor = duck["seconds"]
    emit(
        _record(
            "floor_duckdb_read_json",
            duck["rows"],
            floor,
            duck["peak_rss_mb"],
            floor,
            duckdb_threads=duck["threads"],
            files=len(source_files),
        )
    )

    # ---- floor 2 and the real DAG files: parse times
    if not args.skip_dag_parse:
        _log("floor: DAG parse times (forked parser processes) ...")
        empty = run_dir / "bench_empty_dag.py"
        from bench.floors import EMPTY_DAG

        empty.write_text(EMPTY_DAG)
        dag_files = sorted(str(p) for p in (ROOT / "dags").glob("*.py"))
        parsed = _subprocess_json(
            [
                "bench.floors",
                "dagparse",
                "--repeats",
                str(args.parse_repeats),
                str(empty),
                *dag_files,
            ],
            env,
            "DAG parse",
        )
        base = parsed["files"][str(empty)]
        if "seconds" not in base:
            raise RuntimeError(f"the empty DAG did not parse: {base}")
        emit(
            _record(
                "floor_dag_parse_empty",
                base["dags"],
                base["seconds"],
                base["peak_rss_mb"],
                base["seconds"],
                airflow_import_seconds=round(parsed["airflow_import_seconds"], 3),
                repeats=args.parse_repeats,
            )
        )
        for path in dag_files:
            r = parsed["files"][path]
            emit(
                _record(
                    f"dag_parse:{Path(path).name}",
                    r.get("dags"),
                    r.get("seconds"),
                    r.get("peak_rss_mb"),
                    base["seconds"],
                    tasks=r.get("tasks"),
                    import_errors=r["errors"]
                    if "errors" in r
                    else [e.get("error") for e in r["runs"]],
                )
            )

    # ---- the pipeline, month by month
    logging.getLogger().setLevel(logging.WARNING)
    from bsin import pipeline
    from bsin.core.config import load_partners, load_programme
    from bsin.ingest.forms_hook import build_service
    from bsin.warehouse.db import Warehouse

    partners, programme = load_partners(), load_programme()
    months = [date.fromisoformat(m) for m in meta["months"]]
    countries = meta["countries"]
    served = ServedNetwork(network, run_dir / "served", partners, months, programme.grace_days)
    # Quotas are measured on their own (bench/quota.py); here the data path is measured.
    emulator = EmulatorProcess(served.served, env, ("--quotas", "off"))
    rss = RssMeter()
    acct = StageAccounts(rss)
    acct.instrument(Warehouse)
    wh = Warehouse.from_uri(f"duckdb:///{run_dir / 'warehouse.duckdb'}")
    logging.getLogger().setLevel(logging.WARNING)
    calls_ok = calls_total = 0
    worst: dict[str, Any] | None = None
    call_totals: Counter = Counter()
    sample = _report_sample(countries, args.reports)
    by_month: list[dict[str, float]] = []
    report_seconds: list[float] = []
    before: dict[str, float] = {}
    try:
        service = build_service(
            {"endpoint": emulator.url, "num_retries": 0, "quota": {"store": "off"}}
        )
        # Logging handlers may appear with Airflow's import: keep stderr readable.
        logging.getLogger().setLevel(logging.WARNING)
        ctx = pipeline.Context(partners, programme, warehouse=wh, key=BENCH_KEY)
        form_kind = {
            p.form_id(k): k for p in partners.partners for k in ("monthly", "self_assessment")
        }

        def task_done() -> None:
            # As an Airflow task process does when it ends: closing a DuckDB connection
            # checkpoints what the task wrote, a cost of the load.
            if args.task_connections:
                with acct.stage("load"):
                    wh.close()

        for i, month in enumerate(months):
            released = served.release_month(i)
            _log(f"{month:%Y-%m}: {released} new responses at the API; running the month ...")
            with acct.stage("load"):
                pipeline.prepare_warehouse(month, ctx)
            task_done()
            for cc in countries:
                partner = partners.partner(cc)
                emulator.warm([partner.form_id("monthly"), partner.form_id("self_assessment")])
                emulator.reset_log()
                with acct.stage("pull"):
                    s = pipeline.extract_country(cc, month, ctx, service=service)
                task_done()
                acct.add_rows("pull", s["monthly_responses"] + s["self_assessment_responses"])
                by_kind = api_calls(emulator.requests(), form_kind)
                for kind, c in by_kind.items():
                    calls_total += 1
                    want = expected_calls(c.get("returned", 0))
                    if c.get("id_lists"):
                        want += max(1, math.ceil(c.get("id_returned", 0) / PAGE_SIZE))
                    got = c.get("forms_get", 0) + c.get("lists", 0) + c.get("id_lists", 0)
                    call_totals.update({f"{kind}_{k}": v for k, v in c.items()})
                    if got == want and not c.get("errors"):
                        calls_ok += 1
                    elif worst is None or got - want > worst["calls"] - worst["expected"]:
                        worst = {"country": cc, "month": f"{month:%Y-%m}", "form_kind": kind}
                        worst.update(calls=got, expected=want, **c)
                with acct.stage("harmonise"):
                    h = pipeline.harmonise_country(cc, month, ctx)
                task_done()
                acct.add_rows(
                    "harmonise", h["monthly"]["responses"] + h["self_assessment"]["responses"]
                )
            with acct.stage("validate"):
                v = pipeline.validate_month(month, ctx)
            task_done()
            acct.add_rows("validate", v["candidates"])
            feedback_rows = int(wh.query("select count(*) from feedback")[0][0])
            with acct.stage("indicators"):
                pipeline.build_marts_for_month(month, ctx)
            task_done()
            acct.add_rows("indicators", feedback_rows)
            for cc in sample:
                spent = acct.seconds["report"]
                with acct.stage("report"):
                    pipeline.send_report(cc, month, deliver=False, ctx=ctx)
                acct.add_rows("report", 1)
                report_seconds.append(acct.seconds["report"] - spent)
            done = {k: round(acct.seconds[k], 1) for k in STAGES}
            by_month.append({k: round(acct.seconds[k] - before.get(k, 0.0), 2) for k in STAGES})
            before = dict(acct.seconds)
            _log(f"{month:%Y-%m} done; cumulative seconds {done}")
        _log("the last month's tasks again, each in a process of its own (memory per task) ...")
        task_peaks = task_process_peaks(
            wh, months[-1], sample[0] if sample else countries[0], emulator.url, env
        )
        loaded = int(wh.query("select count(*) from feedback")[0][0])
        quarantined = int(wh.query("select count(distinct response_id) from quarantine")[0][0])
        emulator_peak = process_peak_rss_mb(emulator.pid)
    finally:
        acct.restore()
        wh.close()
        emulator.stop()
        if not args.keep_run:
            shutil.rmtree(run_dir, ignore_errors=True)

    # ---- results
    floor_stage = floor
    for name in STAGES:
        extra: dict[str, Any] = {
            "calls": acct.calls[name],
            "seconds_by_month": [m[name] for m in by_month],
            # Inside ``seconds``: Python's cyclic collector in this (shared) process.
            "gc_seconds": round(acct.gc_seconds[name], 3),
            "gc_full_collections": acct.gc_full_collections[name],
        }
        if name == "report":
            per = acct.seconds[name] / max(1, acct.calls[name])
            extra.update(
                seconds_per_report=round(per, 3),
                reports_per_month=len(sample),
                projected_seconds_all_partners=round(per * len(countries) * len(months), 2),
            )
        if name == "pull":
            extra["emulator_peak_rss_mb"] = round(emulator_peak, 1) if emulator_peak else None
        if name == "indicators":
            extra["rows_are"] = "feedback rows scanned (marts rebuild every month from all history)"
        if name == "load":
            extra["rows_are"] = (
                "rows written by ingest tasks (raw, candidates, feedback, quarantine)"
            )
        emit(
            _record(
                name, acct.rows[name], acct.seconds[name], acct.peak_mb[name], floor_stage, **extra
            )
        )
    emit(report_goal(report_seconds))
    measured = sum(acct.seconds[k] for k in STAGES)
    report_scaled = (
        acct.seconds["report"] / max(1, acct.calls["report"]) * len(countries) * len(months)
    )
    e2e = measured - acct.seconds["report"] + report_scaled
    peak = max(acct.peak_mb.values(), default=0.0)
    emit(
        _record(
            "end_to_end",
            rows_total,
            e2e,
            peak,
            floor,
            measured_seconds=round(measured, 2),
            reports_scaled_to_all_partners=True,
            loaded=loaded,
            quarantined=quarantined,
            emulator_peak_rss_mb=round(emulator_peak, 1) if emulator_peak else None,
            rss_method=rss.method,
            target_ratio=TARGET_RATIO,
            within_ratio_target=bool(floor and e2e / floor <= TARGET_RATIO),
            target_peak_rss_mb=TARGET_RSS_MB,
            within_memory_target=peak <= TARGET_RSS_MB,
        )
    )
    for record in goal_records(acct, by_month, emulator_peak, task_peaks):
        emit(record)
    cm = len(countries) * len(months)
    emit(
        {
            "stage": "api_calls",
            "rows": cm,
            "seconds": round(acct.seconds["pull"], 4),
            "rows_per_s": None,
            "peak_rss_mb": None,
            "ratio_to_floor": None,
            "country_months": cm,
            "forms_per_country_month": 2,
            "per_country_month": {k: round(v / cm, 3) for k, v in sorted(call_totals.items())},
            "rule": "per form: 1 forms.get + max(1, ceil(responses / 5000)) responses.list"
            " (+ the same per page of the ids-only reconciliation listing, when made)",
            "forms_checked": calls_total,
            "forms_matching_rule": calls_ok,
            "worst": worst,
        }
    )
    if not args.skip_quota:
        from bench.quota import run_quota_modes

        quota_dir = Path(tempfile.mkdtemp(prefix="quota-", dir=data_root))
        try:
            run_quota_modes(
                network=network,
                run_dir=quota_dir,
                env=env,
                partners=partners,
                countries=countries,
                quota_scale=args.quota_scale,
                page_cap=args.page_cap,
                workers=min(len(countries), args.quota_workers),
                scale_since=f"{meta['months'][-1]}T00:00:00+00:00",
                emit=emit,
                log=_log,
                scale_repeats=args.scale_repeats,
            )
        finally:
            shutil.rmtree(quota_dir, ignore_errors=True)
    if loaded + quarantined == 0:
        _log("error: nothing was loaded or quarantined")
        return 1
    return 0


def report_goal(seconds: list[float]) -> dict[str, Any]:
    """The goal line of issue 14's goal 2: seconds per partner report, met or not.

    The figure is the mean over every report rendered, as ``seconds_per_report`` of the
    ``report`` stage; the first report of the run also pays the imports (matplotlib,
    Jinja, css-inline, Babel's locale data), so it is given on its own as well.
    """
    mean = sum(seconds) / len(seconds) if seconds else None
    warm = sorted(seconds[1:])
    return {
        "stage": "goal:report",
        "goal": "2: a partner report renders in <= 0.25 s",
        "rows": len(seconds),
        "seconds": round(mean, 3) if mean is not None else None,
        "rows_per_s": None,
        "peak_rss_mb": None,
        "ratio_to_floor": None,
        "target_seconds": TARGET_REPORT_SECONDS,
        "seconds_first_report": round(seconds[0], 3) if seconds else None,
        "seconds_median_after_first": round(warm[len(warm) // 2], 3) if warm else None,
        "seconds_max": round(max(seconds), 3) if seconds else None,
        "met": mean is not None and mean <= TARGET_REPORT_SECONDS,
        "rule": "mean seconds of send_report(deliver=False) over the sampled reports <= 0.25",
    }


def task_process_peaks(
    wh, month: date, country: str, endpoint: str, env: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Each stage's task of ``month`` run again in a process of its own (bench.task_process):
    ``{task: {"seconds", "cpu_seconds", "peak_rss_mb", ...}}``, and the report task once
    more as ``report_preloaded``. The warehouse connection of this process is closed first
    (a DuckDB file has one writing process) and reopens on its next use.
    """
    from bench.task_process import COUNTRY_TASKS, TASKS

    uri = f"duckdb:///{wh.path}"
    wh.close()
    out: dict[str, dict[str, Any]] = {}
    for task in TASKS:
        args = ["bench.task_process", task, month.isoformat(), "--warehouse", uri]
        if task in COUNTRY_TASKS:
            args += ["--country", country]
        if task == "extract":
            args += ["--endpoint", endpoint]
        out[task] = _subprocess_json(args, env, f"task process {task}")
        if task == "report":
            # As docker-compose.yaml's Celery workers run it: forked from a worker that
            # imported and froze bsin.orchestration.preload's modules.
            out["report_preloaded"] = _subprocess_json(
                [*args, "--preloaded"], env, "task process report --preloaded"
            )
    return out


def goal_records(
    acct,
    by_month: list[dict[str, float]],
    emulator_peak: float | None,
    task_peaks: dict[str, dict[str, Any]] | None = None,
) -> list[dict]:
    """Issue 14's goals 1, 3 and 4 as one JSON line each: figure, target, met.

    Goal 1: harmonise + validate + load + indicators over pull, in this run. Goal 3: the
    highest peak RSS of a stage's task in a process of its own, as Airflow runs it
    (``task_peaks``), and of the emulator; without ``task_peaks``, of this single process
    over each stage. Either way the single-process peaks are shown too. Goal 4: month N's
    seconds over month 1's, per stage (``met`` is None with one month: nothing to compare).
    """
    data_path = sum(acct.seconds[k] for k in DATA_PATH_STAGES)
    pull = acct.seconds["pull"]
    ratio = data_path / pull if pull else None
    peaks = {k: round(acct.peak_mb[k], 1) for k in STAGES}
    if emulator_peak is not None:
        peaks["emulator"] = round(emulator_peak, 1)
    single_mb = max(peaks.values(), default=0.0)
    by_task = {t: r.get("peak_rss_mb") for t, r in (task_peaks or {}).items()}
    judged = [v for v in by_task.values() if v is not None]
    if judged:
        judged += [peaks["emulator"]] if "emulator" in peaks else []
        worst_mb = max(judged)
        rule = (
            "max peak RSS (MiB) of each stage's task run in a process of its own, as an Airflow"
            " task process (imports included), and of the emulator process <= 1024"
        )
    else:
        worst_mb = single_mb
        rule = "max peak RSS (MiB) over the stages and the emulator process <= 1024"
    growth: dict[str, float | None] = {}
    for k in STAGES:
        first, last = (by_month[0][k], by_month[-1][k]) if by_month else (0.0, 0.0)
        growth[k] = round(last / first, 3) if len(by_month) > 1 and first > 0 else None
    known = [v for v in growth.values() if v is not None]
    # Month 1 carries one-off costs (GX and dbt imports, the self-assessment baseline): the
    # last month against the second is shown too, for how the cost grows with the warehouse.
    after_first: dict[str, float | None] = {}
    for k in STAGES:
        second = by_month[1][k] if len(by_month) > 2 else 0.0
        after_first[k] = round(by_month[-1][k] / second, 3) if second > 0 else None
    return [
        {
            **_GOAL_KEYS,
            "stage": "goal:data_path",
            "goal": "1: the data path costs at most half the pull",
            "seconds": round(data_path, 3),
            "pull_seconds": round(pull, 3),
            "seconds_by_stage": {k: round(acct.seconds[k], 3) for k in DATA_PATH_STAGES},
            "figure": round(ratio, 3) if ratio is not None else None,
            "target": TARGET_DATA_PATH_RATIO,
            "met": ratio is not None and ratio <= TARGET_DATA_PATH_RATIO,
            "rule": "(harmonise + validate + load + indicators) seconds / pull seconds <= 0.5",
        },
        {
            **_GOAL_KEYS,
            "stage": "goal:memory",
            "goal": "3: peak RSS <= 1 GiB for every stage and the emulator",
            "seconds": None,
            **{
                f"{field}_by_task_process": {t: r.get(field) for t, r in (task_peaks or {}).items()}
                for field in TASK_PROCESS_FIELDS
            },
            "peak_rss_mb_by_stage": peaks,
            "single_process_peak_mb": single_mb,
            "figure": worst_mb,
            "target": TARGET_STAGE_RSS_MB,
            "met": worst_mb <= TARGET_STAGE_RSS_MB,
            "rule": rule,
        },
        {
            **_GOAL_KEYS,
            "stage": "goal:flat_months",
            "goal": "4: month N costs no more than 1.2x month 1 in every stage",
            "seconds": round(sum(by_month[-1].values()), 3) if by_month else None,
            "seconds_first_month": round(sum(by_month[0].values()), 3) if by_month else None,
            "months": len(by_month),
            "last_over_first_by_stage": growth,
            "last_over_second_by_stage": after_first,
            "figure": max(known) if known else None,
            "target": TARGET_MONTH_GROWTH,
            "met": (max(known) <= TARGET_MONTH_GROWTH) if known else None,
            "rule": "per stage, seconds of the last month / seconds of the first <= 1.2"
            " (None: a single month)",
        },
    ]


def _report_sample(countries: list[str], n: int) -> list[str]:
    """``n`` partners spread over the list (first, last and between)."""
    if n >= len(countries):
        return list(countries)
    if n <= 1:
        return countries[:n]
    step = (len(countries) - 1) / (n - 1)
    return [countries[round(i * step)] for i in range(n)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; ``--quick`` sets the small CI configuration."""
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small network for CI (under a minute)")
    p.add_argument("--countries", type=int)
    p.add_argument("--members", type=int, help="members per country")
    p.add_argument("--months", type=int)
    p.add_argument("--response-rate", type=float, default=0.9)
    p.add_argument("--reports", type=int, help="partners whose report is rendered each month")
    p.add_argument("--data-dir", default=str(ROOT / "bench" / "data"), help="cache and run folder")
    p.add_argument("--out", default=str(ROOT / "bench" / "results.jsonl"))
    p.add_argument("--parse-repeats", type=int, help="parses per DAG file (median is reported)")
    p.add_argument("--skip-dag-parse", action="store_true", help="leave out the parse times")
    p.add_argument("--keep-run", action="store_true", help="keep the run folder (warehouse)")
    p.add_argument(
        "--quota-scale",
        type=float,
        help="quota mode: window and limits x this (default 1 = Google's; quick 0.1)",
    )
    p.add_argument("--page-cap", type=int, help="quota mode: responses per page at most")
    p.add_argument(
        "--quota-workers", type=int, default=8, help="quota mode: concurrent worker processes"
    )
    p.add_argument("--skip-quota", action="store_true", help="leave out quota and scale-out")
    p.add_argument(
        "--scale-repeats",
        type=int,
        help="scale-out: pulls per worker count, the median is reported (default 3; quick 1)",
    )
    p.add_argument(
        "--task-connections",
        action="store_true",
        help="close the warehouse connection after every task, as each Airflow task process "
        "does (DuckDB then checkpoints once per task)",
    )
    args = p.parse_args(argv)
    base = QUICK if args.quick else DEFAULT
    args.countries = args.countries or base.countries
    args.members = args.members or base.members
    args.months = args.months or base.months
    args.reports = args.reports if args.reports is not None else (1 if args.quick else 5)
    args.parse_repeats = args.parse_repeats or (1 if args.quick else 5)
    args.quota_scale = args.quota_scale or (0.1 if args.quick else 1.0)
    args.page_cap = args.page_cap or (1000 if args.quick else 2500)
    args.scale_repeats = args.scale_repeats or (1 if args.quick else 3)
    if args.quota_scale <= 0 or args.page_cap < 1 or args.quota_workers < 1:
        p.error("--quota-scale must be > 0, --page-cap and --quota-workers >= 1")
    if args.scale_repeats < 1:
        p.error("--scale-repeats must be at least 1")
    for name in ("countries", "members", "months"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if not 0 < args.response_rate <= 1:
        p.error("--response-rate must be in (0, 1]")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: run, print and write the JSON lines."""
    args = parse_args(argv)
    # Libraries (Airflow's logging setup among them) may print to stdout: keep stdout for
    # the JSON lines by pointing file descriptor 1 at stderr for everything else.
    out_stream = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []

    def emit(record: dict) -> None:
        records.append(record)
        out_stream.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

    started = time.perf_counter()
    try:
        code = run(args, emit)
    finally:
        out_path.write_text("".join(json.dumps(r, default=str) + "\n" for r in records))
    _log(f"finished in {time.perf_counter() - started:.1f} s; results in {out_path}")
    return code


if __name__ == "__main__":
    sys.exit(main())
