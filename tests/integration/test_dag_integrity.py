"""DAG files: import cleanly and fast, follow the house rules, touch no connection at parse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pendulum
import pytest
import yaml
from airflow.timetables.base import DataInterval, TimeRestriction

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook

    calls = []
    original = BaseHook.get_connection

    def spy(conn_id, *a, **kw):  # noqa: ANN001
        calls.append(conn_id)
        return original(conn_id, *a, **kw)

    BaseHook.get_connection = staticmethod(spy)  # type: ignore[method-assign]
    try:
        bag = DagBag(dag_folder=str(ROOT / "dags"))
    finally:
        BaseHook.get_connection = original  # type: ignore[method-assign]
    bag.connection_calls = calls
    return bag


def test_dag_files_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "bsin_monthly_feedback" in dagbag.dags


def test_no_connection_lookup_at_parse_time(dagbag):
    assert dagbag.connection_calls == []


def test_house_rules(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag_id} needs a doc_md"
        assert "bsin" in dag.tags, f"{dag_id} needs the bsin tag"
        assert dag.max_active_runs == 1, f"{dag_id}: one run at a time keeps the warehouse safe"
        for task in dag.tasks:
            assert task.owner == "bsin-data-staff", f"{dag_id}.{task.task_id} owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} needs retries"
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id} needs backoff"


def test_monthly_dag_shape(dagbag):
    dag = dagbag.dags["bsin_monthly_feedback"]
    ids = set(dag.task_ids)
    assert {
        "wait_for_grace_period",
        "prepare_warehouse",
        "country.extract",
        "country.harmonise",
        "validate",
        "signals",
        "send_report",
        "finish",
    } <= ids
    # One task per dbt model (astronomer-cosmos), each `dbt build` of the model and its tests.
    models = sorted(p.stem for p in (ROOT / "include" / "dbt" / "models").rglob("*.sql"))
    # ...plus the test over two models, in its own task after both.
    dbt_tasks = sorted(t.split(".", 1)[1] for t in ids if t.startswith("build_marts."))
    assert dbt_tasks == sorted([*models, "indicators_monthly_scopes_have_counts_test"])
    assert dag.get_task("build_marts.stg_feedback").upstream_task_ids == {"validate"}
    assert (
        "build_marts.int_monthly_counts"
        in dag.get_task("build_marts.stg_feedback").downstream_task_ids
    )
    assert dag.get_task("signals").outlets, (
        "signals updates the asset the programme report waits on"
    )
    assert "send_report" in dag.get_task("signals").downstream_task_ids
    assert dag.get_task("country.extract").map_index_template
    # Monthly data intervals, not cron trigger points; a manual run is the month of its
    # logical date, like a scheduled run (bsin.orchestration.timetables).
    from airflow.timetables.interval import CronDataIntervalTimetable

    from bsin.orchestration.timetables import ReportMonthTimetable

    assert isinstance(dag.timetable, ReportMonthTimetable)
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    for run_after in ("2023-03-01T00:00:00Z", "2023-03-31T23:59:00Z"):
        interval = dag.timetable.infer_manual_data_interval(run_after=pendulum.parse(run_after))
        assert (interval.start, interval.end) == (
            pendulum.datetime(2023, 3, 1, tz="UTC"),
            pendulum.datetime(2023, 4, 1, tz="UTC"),
        )
    # Runs Airflow names itself say their report month too.
    from airflow.utils.types import DagRunType

    march = dag.timetable.infer_manual_data_interval(run_after=pendulum.parse("2023-03-01"))
    after = pendulum.datetime(2023, 4, 8, 1, 2, 3, tz="UTC")
    name = dag.timetable.generate_run_id
    scheduled = name(run_type=DagRunType.SCHEDULED, run_after=after, data_interval=march)
    manual = name(run_type=DagRunType.MANUAL, run_after=after, data_interval=march)
    backfill = name(run_type=DagRunType.BACKFILL_JOB, run_after=after, data_interval=march)
    assert scheduled == "month__2023-03"
    assert manual == "month__2023-03__manual_20230408T010203"
    assert backfill == "month__2023-03__backfill_20230408T010203"


def test_dag_files_import_no_heavy_libraries():
    # One fresh interpreter for every DAG file (importing Airflow costs seconds): each file
    # is charged with the heavy modules that appeared while it ran, so a heavy import names
    # its file, and none of them may add any.
    heavy = ["pandas", "great_expectations", "duckdb", "googleapiclient", "matplotlib", "psycopg"]
    paths = [str(p) for p in DAG_FILES]
    code = textwrap.dedent(
        f"""
        import runpy, sys
        heavy = {heavy!r}
        for path in {paths!r}:
            before = {{m for m in heavy if m in sys.modules}}
            runpy.run_path(path)
            added = [m for m in heavy if m in sys.modules and m not in before]
            print("HEAVY:" + path + ":" + ",".join(added))
        """
    )
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    # Cosmos logs its parsing to stdout too: read the marked lines only.
    found = dict(
        line.removeprefix("HEAVY:").rsplit(":", 1)
        for line in out.stdout.splitlines()
        if line.startswith("HEAVY:")
    )
    assert sorted(found) == sorted(paths), out.stdout[-3000:]
    assert {path: mods for path, mods in found.items() if mods} == {}, "heavy imports"


def _bad_config_dir(tmp_path: Path, mutate) -> Path:
    src = ROOT / "include" / "config"
    dst = tmp_path / "config"
    dst.mkdir()
    for f in src.glob("*.yaml"):
        (dst / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copytree(src / "mappings", dst / "mappings")
    data = yaml.safe_load((dst / "partners.yaml").read_text(encoding="utf-8"))
    mutate(data["partners"])
    (dst / "partners.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return dst


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda ps: ps.append(dict(ps[0])), "duplicate country 'SE'"),
        (lambda ps: ps[0].update(recipients=[]), "partners[0 SE].recipients"),
        (lambda ps: ps[1].update(recipients=["nobody-at-example.org"]), "invalid email"),
        (lambda ps: ps[2].update(timezone="Europe/Riga2"), "unknown time zone"),
    ],
    ids=["duplicate-country", "missing-recipient", "invalid-email", "unknown-timezone"],
)
def test_bad_partner_config_is_an_import_error_naming_file_and_key(
    tmp_path, monkeypatch, mutate, expected
):
    """Data staff see a readable import error in the UI, not a task failure a month later."""
    from airflow.dag_processing.dagbag import DagBag

    cfg = _bad_config_dir(tmp_path, mutate)
    monkeypatch.setenv("BSIN_CONFIG_DIR", str(cfg))
    bag = DagBag(dag_folder=str(ROOT / "dags" / "monthly_feedback.py"))
    assert "bsin_monthly_feedback" not in bag.dags
    (message,) = bag.import_errors.values()
    assert str(cfg / "partners.yaml") in message
    assert expected in message


def _first_partner(cfg: Path) -> dict:
    return yaml.safe_load((cfg / "partners.yaml").read_text(encoding="utf-8"))["partners"][0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # the partner's monthly form has no mapping file
        (
            lambda cfg, p: (cfg / "mappings" / f"{p['country'].lower()}_monthly.yaml").unlink(),
            "_monthly.yaml: missing",
        ),
        # a mapping for a country partners.yaml does not have
        (
            lambda cfg, p: (cfg / "mappings" / "zz_monthly.yaml").write_text(
                (cfg / "mappings" / f"{p['country'].lower()}_monthly.yaml").read_text("utf-8"),
                "utf-8",
            ),
            "mapping for country ZZ, which is not in",
        ),
        # a mapping file whose name is no form kind
        (
            lambda cfg, p: (cfg / "mappings" / "se_weekly.yaml").write_text("x: 1\n"),
            "not a mapping file name",
        ),
    ],
    ids=["missing-mapping", "mapping-for-unknown-country", "unknown-form-kind"],
)
def test_mapping_problems_are_import_errors_naming_file_and_fix(
    tmp_path, monkeypatch, change, expected
):
    """A mapping mistake shows at parse time, not when the country's task runs."""
    from airflow.dag_processing.dagbag import DagBag

    cfg = _bad_config_dir(tmp_path, lambda ps: None)
    change(cfg, _first_partner(cfg))
    monkeypatch.setenv("BSIN_CONFIG_DIR", str(cfg))
    bag = DagBag(dag_folder=str(ROOT / "dags" / "monthly_feedback.py"))
    assert "bsin_monthly_feedback" not in bag.dags
    (message,) = bag.import_errors.values()
    assert str(cfg / "mappings") in message
    assert expected in message


def test_mapping_for_a_form_the_partner_does_not_have_names_the_fix(tmp_path):
    from bsin.core.config import ConfigError, load_partners
    from bsin.core.config_checks import check_config_files

    cfg = _bad_config_dir(tmp_path, lambda ps: ps[0]["forms"].pop("self_assessment"))
    country = _first_partner(cfg)["country"]
    with pytest.raises(ConfigError) as err:
        check_config_files(load_partners(cfg / "partners.yaml"), cfg)
    assert f"{country.lower()}_self_assessment.yaml" in str(err.value)
    assert "no forms.self_assessment" in str(err.value)
    # Deleting the file, as the message says, makes the configuration valid.
    (cfg / "mappings" / f"{country.lower()}_self_assessment.yaml").unlink()
    check_config_files(load_partners(cfg / "partners.yaml"), cfg)


def test_schedule_ends_with_the_programme(dagbag):
    """Unpausing after the programme creates no run; the programme's months still run."""
    from airflow.timetables.interval import CronDataIntervalTimetable

    from bsin.core.config import load_programme

    programme = load_programme()
    dag = dagbag.dags["bsin_monthly_feedback"]
    assert dag.end_date is not None and dag.end_date.date() == programme.last_month
    # The scheduler's own timetable with the DAG's bounds (the test machine's clock is
    # years after the programme, as on a real late unpause).
    timetable = CronDataIntervalTimetable("0 0 1 * *", timezone="UTC")
    unpaused = TimeRestriction(earliest=dag.start_date, latest=dag.end_date, catchup=False)
    if pendulum.now("UTC").date() > programme.last_month:
        assert (
            timetable.next_dagrun_info(last_automated_data_interval=None, restriction=unpaused)
            is None
        )
    backfill = TimeRestriction(earliest=dag.start_date, latest=dag.end_date, catchup=True)
    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=backfill)
    assert first is not None and first.logical_date.date() == programme.first_month
    last = pendulum.datetime(programme.last_month.year, programme.last_month.month, 1, tz="UTC")
    previous = DataInterval(start=last.subtract(months=1), end=last)
    after_previous = timetable.next_dagrun_info(
        last_automated_data_interval=previous, restriction=backfill
    )
    assert after_previous is not None and after_previous.logical_date == last
    last_interval = DataInterval(start=last, end=last.add(months=1))
    assert (
        timetable.next_dagrun_info(last_automated_data_interval=last_interval, restriction=backfill)
        is None
    )


def test_open_ended_programme_has_no_end_date(tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    cfg = _bad_config_dir(tmp_path, lambda ps: None)
    text = (cfg / "programme.yaml").read_text(encoding="utf-8")
    (cfg / "programme.yaml").write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("last_month:")),
        encoding="utf-8",
    )
    monkeypatch.setenv("BSIN_CONFIG_DIR", str(cfg))
    bag = DagBag(dag_folder=str(ROOT / "dags" / "monthly_feedback.py"))
    assert bag.import_errors == {}
    assert bag.dags["bsin_monthly_feedback"].end_date is None


def _approval_config(tmp_path: Path) -> Path:
    """A copy of include/config with ``approval: required`` in programme.yaml."""
    import shutil

    dst = tmp_path / "config"
    shutil.copytree(ROOT / "include" / "config", dst)
    programme = dst / "programme.yaml"
    text = programme.read_text(encoding="utf-8")
    assert 'approval: "off"' in text
    programme.write_text(text.replace('approval: "off"', "approval: required"), encoding="utf-8")
    return dst


def _approval_tasks(dag) -> dict[str, tuple[list[str], str]]:
    """``{task_id: (upstream task ids, operator class)}`` of the approval path's tasks."""
    return {
        task_id: (
            sorted(dag.get_task(task_id).upstream_task_ids),
            type(dag.get_task(task_id)).__name__,
        )
        for task_id in ("render_for_approval", "approve_reports", "send_report")
        if task_id in dag.task_ids
    }


def test_no_approval_step_by_default(dagbag):
    tasks = _approval_tasks(dagbag.dags["bsin_monthly_feedback"])
    assert set(tasks) == {"send_report"}
    assert "signals" in tasks["send_report"][0]


def test_approval_step_when_required(tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("BSIN_CONFIG_DIR", str(_approval_config(tmp_path)))
    bag = DagBag(dag_folder=str(ROOT / "dags" / "monthly_feedback.py"))
    assert bag.import_errors == {}
    tasks = _approval_tasks(bag.dags["bsin_monthly_feedback"])
    assert tasks["render_for_approval"][0] == ["signals"]
    assert tasks["approve_reports"] == (["render_for_approval"], "MonthApprovalOperator")
    assert tasks["send_report"][0] == ["approve_reports"]
