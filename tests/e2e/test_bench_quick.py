"""``make bench QUICK=1`` in its smallest configuration: the JSON lines and their figures."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("stage", "rows", "seconds", "rows_per_s", "peak_rss_mb", "ratio_to_floor")
DATA_STAGES = ("pull", "harmonise", "validate", "load", "indicators", "report")
MEMBERS = 5100  # as in the quick mode: one self-assessment list needs two pages


@pytest.mark.slow
def test_quick_bench_prints_every_stage_with_sane_figures(tmp_path):
    out = tmp_path / "results.jsonl"
    env = dict(os.environ)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--countries",
            "1",
            "--members",
            str(MEMBERS),
            "--data-dir",
            str(tmp_path / "data"),
            "--out",
            str(out),
            # 9 lists per 3 s per user (the limiter grants 8): the 11 small pages need 2 windows.
            "--quota-scale",
            "0.05",
            # Each task on its own connection, as in Airflow (`make bench QUICK=1` in CI
            # runs the default, one connection).
            "--task-connections",
            # Two pulls per worker count: the figure is their median.
            "--scale-repeats",
            "2",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    # stdout carries the JSON lines only, and the file holds the same records.
    assert lines == [json.loads(line) for line in out.read_text().splitlines()]
    for rec in lines:
        missing = [k for k in REQUIRED if k not in rec]
        assert not missing, f"{rec['stage']} lacks {missing}"
    by_stage = {rec["stage"]: rec for rec in lines}
    expected = {
        "setup",
        "floor_duckdb_read_json",
        "floor_dag_parse_empty",
        "dag_parse:monthly_feedback.py",
        "dag_parse:programme_report.py",
        *DATA_STAGES,
        "end_to_end",
        "api_calls",
    }
    assert expected <= set(by_stage), sorted(expected - set(by_stage))

    setup = by_stage["setup"]
    assert setup["task_connections"] is True
    monthly = setup["network"]["monthly_responses"]
    assert 0 < monthly <= MEMBERS
    floor = by_stage["floor_duckdb_read_json"]
    assert floor["rows"] == monthly + MEMBERS  # every monthly and self-assessment response
    assert floor["seconds"] > 0 and floor["ratio_to_floor"] == 1.0

    for name in DATA_STAGES:
        rec = by_stage[name]
        assert rec["rows"] > 0 and rec["seconds"] > 0, rec
        assert rec["rows_per_s"] == pytest.approx(rec["rows"] / rec["seconds"], rel=0.01)
        assert 0 < rec["peak_rss_mb"] < 4096, rec
        assert rec["ratio_to_floor"] == pytest.approx(rec["seconds"] / floor["seconds"], rel=0.02)
        # Garbage collections are charged inside the stage they fell in.
        assert 0 <= rec["gc_seconds"] <= rec["seconds"], rec
        assert isinstance(rec["gc_full_collections"], int) and rec["gc_full_collections"] >= 0
    # The pull reads both forms in full (one month; self-assessments are all re-read).
    assert by_stage["pull"]["rows"] == monthly + MEMBERS

    # Issue 14, goal 2: seconds per partner report, against 0.25 s.
    goal2 = by_stage["goal:report"]
    assert goal2["rows"] == by_stage["report"]["calls"] >= 1
    assert goal2["seconds"] == pytest.approx(by_stage["report"]["seconds_per_report"], abs=0.002)
    assert goal2["target_seconds"] == 0.25 and isinstance(goal2["met"], bool)

    e2e = by_stage["end_to_end"]
    assert e2e["rows"] == monthly
    assert e2e["loaded"] + e2e["quarantined"] == monthly  # nothing lost on the way
    assert e2e["seconds"] >= sum(by_stage[s]["seconds"] for s in DATA_STAGES) * 0.99
    assert e2e["emulator_peak_rss_mb"] > 0

    for name in ("floor_dag_parse_empty", "dag_parse:monthly_feedback.py"):
        rec = by_stage[name]
        assert rec["rows"] >= 1 and rec["seconds"] > 0, rec
    assert by_stage["dag_parse:monthly_feedback.py"]["import_errors"] == {}

    calls = by_stage["api_calls"]
    per = calls["per_country_month"]
    assert calls["country_months"] == 1
    assert calls["forms_checked"] == calls["forms_matching_rule"] == 2
    # 1 forms.get + ceil(responses / 5000) lists per form, counted from the emulator's log.
    assert per["monthly_forms_get"] == per["self_assessment_forms_get"] == 1
    assert per["monthly_returned"] == monthly
    assert per["monthly_lists"] == max(1, math.ceil(monthly / 5000))
    assert per["self_assessment_returned"] == MEMBERS
    assert per["self_assessment_lists"] == math.ceil(MEMBERS / 5000) == 2
    # Reconciliation (issue 10): at most one ids-only list per form and page of 5,000.
    for kind in ("monthly", "self_assessment"):
        assert per.get(f"{kind}_id_lists", 0) <= max(
            1, math.ceil(per.get(f"{kind}_id_returned", 0) / 5000)
        )
    # The month's own self-assessment listing already covers them on a first run: no extra.
    assert per["monthly_id_lists"] == 1 and per.get("self_assessment_id_lists", 0) == 0

    # Issue 14, goal 5: small pages, all countries at once, scaled quotas, zero 429s.
    quota = by_stage["pull_under_quota"]
    assert quota["quota_errors"] == 0 and quota["statuses"] == {"200": quota["lists"] + 2}
    assert quota["rows"] == monthly + MEMBERS
    assert quota["pages"] == quota["lists"] == math.ceil(monthly / 1000) + math.ceil(MEMBERS / 1000)
    assert quota["window_seconds"] == 3.0 and quota["limit_per_user"] == 9
    assert quota["limiter_limit"] == 8
    assert max(quota["worst_window"].values()) <= quota["limit_per_user"]
    assert quota["minimum_seconds"] == (math.ceil(quota["lists"] / 8) - 1) * 3.0 > 0
    assert quota["seconds"] >= quota["minimum_seconds"]
    goal5 = by_stage["goal:quota"]
    assert goal5["quota_errors"] == 0 and isinstance(goal5["met"], bool)
    # Goal 6: the same month pulled by 1, 2 and 4 processes, with the speed-up.
    workers = [by_stage[f"pull_workers_{n}"] for n in (1, 2, 4)]
    assert len({w["rows"] for w in workers}) == 1 and workers[0]["rows"] > 0
    assert all(w["quota_errors"] == 0 for w in workers)
    assert [w["workers"] for w in workers] == [1, 2, 4]
    for w in workers:
        assert len(w["seconds_each"]) == 2
        assert w["seconds"] == pytest.approx(statistics.median(w["seconds_each"]), abs=0.002)
        assert w["speed_up"] == pytest.approx(workers[0]["seconds"] / w["seconds"], rel=0.01)
    goal6 = by_stage["goal:scale_out"]
    assert goal6["speed_up_4"] == workers[2]["speed_up"] and isinstance(goal6["met"], bool)

    # Goals 1, 3 and 4: one line each, with the figure, the target and whether it is met.
    goal1 = by_stage["goal:data_path"]
    data_path = sum(by_stage[s]["seconds"] for s in ("harmonise", "validate", "load", "indicators"))
    assert goal1["seconds"] == pytest.approx(data_path, rel=0.01)
    assert goal1["figure"] == pytest.approx(data_path / by_stage["pull"]["seconds"], rel=0.01)
    assert goal1["target"] == 0.5 and goal1["met"] == (goal1["figure"] <= 0.5)
    goal3 = by_stage["goal:memory"]
    peaks = goal3["peak_rss_mb_by_stage"]
    assert set(peaks) == {*DATA_STAGES, "emulator"}
    assert goal3["single_process_peak_mb"] == max(peaks.values())
    # Judged on each stage's task in a process of its own (as Airflow runs it) and the
    # emulator: every task ran there, and its peak counts its imports, so it is far above
    # an empty interpreter's.
    by_task = goal3["peak_rss_mb_by_task_process"]
    assert set(by_task) == {
        "prepare",
        "extract",
        "harmonise",
        "validate",
        "indicators",
        "report",
        "report_preloaded",
    }
    assert all(100 < v < 4096 for v in by_task.values()), by_task
    assert all(s > 0 for s in goal3["seconds_by_task_process"].values())
    cpu = goal3["cpu_seconds_by_task_process"]
    assert set(cpu) == set(by_task) and all(s > 0 for s in cpu.values())
    # The report task forked from a preloaded worker (as docker-compose.yaml's Celery workers
    # run it) found the chart library imported and the heap frozen; on its own it imported it.
    imported = goal3["matplotlib_modules_imported_by_task_process"]
    assert imported["report"] > 0 and imported["report_preloaded"] == 0
    frozen = goal3["gc_frozen_objects_by_task_process"]
    assert frozen["report"] == 0 and frozen["report_preloaded"] > 10_000
    assert goal3["figure"] == max([*by_task.values(), peaks["emulator"]])
    assert goal3["target"] == 1024 and goal3["met"] == (goal3["figure"] <= 1024)
    goal4 = by_stage["goal:flat_months"]
    # One month: nothing to compare, so neither met nor missed.
    assert goal4["months"] == 1 and goal4["figure"] is None and goal4["met"] is None
