"""Warehouse faults during a load (issue 6, section 2).

A load either commits in full or leaves the warehouse exactly as it was: the PostgreSQL
backend process is killed (``pg_terminate_backend`` from a second connection) in the middle
of a step's transaction, or a statement fails inside ``Warehouse.transaction()`` on either
backend. The re-run, on the same ``Warehouse`` object, then loads everything once.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bsin.core.months import format_rfc3339, parse_rfc3339
from bsin.warehouse.db import WarehouseError
from tests.support.pipeline_harness import PipelineHarness, copy_golden, harness

COUNTRY = "SE"


class Injected(RuntimeError):
    """The deliberate failure."""


def _terminate(h: PipelineHarness) -> None:
    """Kill the warehouse session's backend from a second connection, as an admin or OOM would."""
    import psycopg

    from tests.support.services import require_postgres

    pid = h.wh.conn.info.backend_pid
    with psycopg.connect(require_postgres(), autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s)", [pid])


def _break(h: PipelineHarness, how: str) -> None:
    if how == "terminate":
        _terminate(h)
    else:
        # Runs inside the caller's transaction, after some of its writes.
        h.wh.execute("insert into no_such_table values (1)")


def _edit_a_response(h: PipelineHarness) -> str:
    """An edited response (new answer, later lastSubmittedTime), as a member edit brings."""
    responses = h.read_responses(COUNTRY)
    in_window = {r["responseId"] for r in h.responses_in_window(COUNTRY)}
    target = next(r for r in responses if r["responseId"] in in_window)
    target["lastSubmittedTime"] = format_rfc3339(
        parse_rfc3339(target["lastSubmittedTime"]) + timedelta(hours=1)
    )
    suggestion_qid = next(
        q["question_id"] for q in _mapping_questions(COUNTRY) if q["field"] == "suggestion"
    )
    target["answers"][suggestion_qid] = {
        "questionId": suggestion_qid,
        "textAnswers": {"answers": [{"value": "Edited after the first load."}]},
    }
    h.write_responses(COUNTRY, responses)
    return target["responseId"]


def _mapping_questions(country: str) -> list[dict]:
    from bsin.transform.mapping import load_mapping

    return [q.model_dump() for q in load_mapping(country, "monthly").questions]


BREAKS = [
    pytest.param("duckdb", "statement", id="duckdb-failing-statement"),
    pytest.param("postgres", "statement", marks=pytest.mark.postgres, id="pg-failing-statement"),
    pytest.param("postgres", "terminate", marks=pytest.mark.postgres, id="pg-connection-killed"),
]


@pytest.mark.parametrize(("backend", "how"), BREAKS)
def test_extract_load_is_all_or_nothing(tmp_path, backend, how) -> None:
    with harness(tmp_path, backend=backend) as h:
        h.prepare()
        h.extract(COUNTRY)
        before = h.dump()
        edited = _edit_a_response(h)
        real = h.wh.run_sql_file

        def failing(path, params=None):
            # The history insert already ran in this transaction; the upsert is hit.
            if str(path).endswith("raw_response_upsert.sql"):
                _break(h, how)
            return real(path, params)

        h.wh.run_sql_file = failing
        with pytest.raises(WarehouseError) as err:
            h.extract(COUNTRY)
        assert "raw_response" in str(err.value) or "no_such_table" in str(err.value)
        del h.wh.run_sql_file
        assert h.dump() == before
        h.extract(COUNTRY)
        after = h.dump()
        # Nothing lost or duplicated: the window once, the edit landed, its old version kept.
        window = {r["responseId"] for r in h.responses_in_window(COUNTRY)}
        landed = [
            rid
            for (rid,) in h.wh.query(
                "select response_id from raw_response where form_kind = 'monthly'"
            )
        ]
        assert sorted(landed) == sorted(window)
        assert [r[1] for r in after["raw_response_history"]] == [edited]
        payload = h.wh.query(
            "select payload from raw_response where response_id = :r", {"r": edited}
        )[0][0]
        assert "Edited after the first load." in json.loads(payload)["answers"].__repr__()


@pytest.mark.parametrize(("backend", "how"), BREAKS)
def test_harmonise_load_is_all_or_nothing(tmp_path, backend, how) -> None:
    with harness(tmp_path, backend=backend) as h:
        h.ingest(COUNTRY)
        edited = _edit_a_response(h)
        h.extract(COUNTRY)
        before = h.dump()
        real = h.wh.replace
        calls: list[str] = []

        def failing(table, where, df):
            calls.append(table)
            # Every other table is already replaced when the quarantine's turn comes (a re-run
            # of the month harmonises its self-assessments again).
            if table == "quarantine":
                _break(h, how)
            return real(table, where, df)

        h.wh.replace = failing
        with pytest.raises(WarehouseError):
            h.harmonise(COUNTRY)
        del h.wh.replace
        assert calls == [
            "feedback_candidate",
            "self_assessment",
            "self_assessment_need",
            "harmonise_state",
            "quarantine",
        ]
        assert h.dump() == before
        summary = h.harmonise(COUNTRY)
        assert summary["monthly"]["rows"] == len(h.responses_in_window(COUNTRY))
        (suggestion,) = h.wh.query(
            "select suggestion from feedback_candidate where response_id = :r", {"r": edited}
        )[0]
        assert suggestion == "Edited after the first load."


@pytest.mark.slow
def test_validate_load_is_all_or_nothing(tmp_path) -> None:
    """The month's feedback load fails after its upsert ran: nothing of it may remain."""
    wh = copy_golden(tmp_path / "warehouse.duckdb")
    h = PipelineHarness(tmp_path, warehouse=wh, start=False)
    try:
        golden_feedback = h.dump()["feedback"]
        assert golden_feedback, "the golden month loaded feedback"
        # As if validation had not run yet for the month.
        with wh.transaction():
            wh.execute("delete from feedback_selection")
            wh.execute("delete from feedback")
            wh.execute("delete from quarantine where stage = 'validate'")
        before = h.dump()
        real = wh.run_sql_file

        def failing(path, params=None):
            result = real(path, params)
            if str(path).endswith("feedback_upsert.sql"):
                assert wh.query("select count(*) from feedback")[0][0] > 0  # it did write
                _break(h, "statement")
            return result

        wh.run_sql_file = failing
        with pytest.raises(WarehouseError, match="no_such_table"):
            h.validate()
        del wh.run_sql_file
        assert h.dump() == before
        h.validate()
        assert h.dump()["feedback"] == golden_feedback
    finally:
        h.close()
        wh.close()


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_validate_loads_nothing_when_the_candidates_change_under_it(
    tmp_path, backend, monkeypatch
) -> None:
    """The validated rows are staged from the candidates in the warehouse: should those
    change between validation and load (a harmonise task re-run meanwhile), the count
    check fails the task before anything is loaded, instead of loading other rows."""
    from bsin.pipeline.context import PipelineError
    from bsin.quality import validation

    with harness(tmp_path, backend=backend) as h:
        h.ingest(COUNTRY)
        with h.wh.transaction():
            h.wh.execute("delete from feedback_selection")
            h.wh.execute("delete from feedback")
        before = h.dump()
        real = validation.validate_feedback_month

        def meanwhile(*args, **kwargs):
            outcome = real(*args, **kwargs)
            h.wh.execute(
                "delete from feedback_candidate where response_id = "
                "(select min(response_id) from feedback_candidate)"
            )
            return outcome

        monkeypatch.setattr(validation, "validate_feedback_month", meanwhile)
        with pytest.raises(PipelineError, match=r"candidates changed while validation ran"):
            h.validate()
        after = h.dump()
        assert after["feedback"] == before["feedback"] == []
        # Everything but the changed candidate is as before: the month's quarantine too.
        del after["feedback_candidate"], before["feedback_candidate"]
        assert after == before
        monkeypatch.undo()
        h.harmonise(COUNTRY)  # the candidates as harmonise leaves them
        summary = h.validate()
        assert summary["loaded"] == len(h.dump()["feedback"]) > 0
