"""Right to erasure (issue 10, "What to build" 8): `make forget` leaves nothing of a member.

A member with a monthly response, an edited version of it (history), a duplicate that was
quarantined and a self-assessment is forgotten by email; afterwards no text column of any
table holds their member id, their address or any of their free-text answers, the marts
count one respondent fewer, ``erasure_log`` records the erasure without the address, and a
re-run of the month does not land them again. On DuckDB and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from bsin import pipeline
from bsin.core.months import format_rfc3339, parse_rfc3339
from bsin.ingest.pseudonymise import member_id
from bsin.transform.mapping import load_mapping
from bsin.warehouse.erasure import ErasureError, forget_member, resolve_member
from tests.support.pipeline_harness import KEY, harness

ROOT = Path(__file__).resolve().parents[2]
COUNTRY = "SE"
SUGGESTION = "Forgotten-member suggestion: more Gotland site visits 7f3a"
EDITED = "Forgotten-member edited suggestion: fewer evening calls 9c1e"
OLD_DUPLICATE = "Forgotten-member duplicate answer, the earlier one 2b8d"
INTERESTS = "Forgotten-member interests: seaweed packaging pilots 5e0f"


def _answer(mapping, field: str, value: str) -> tuple[str, dict]:
    qid = mapping.by_field[field].question_id
    return qid, {"questionId": qid, "textAnswers": {"answers": [{"value": value}]}}


def _plant_member(h) -> tuple[str, str]:
    """Give one SE member unique free texts and a duplicate March answer; their address, id."""
    monthly = load_mapping(COUNTRY, "monthly")
    march = h.responses_in_window(COUNTRY)[0]
    email = march["respondentEmail"]
    responses = h.read_responses(COUNTRY)
    for r in responses:
        if r["responseId"] == march["responseId"]:
            qid, answer = _answer(monthly, "suggestion", SUGGESTION)
            r["answers"][qid] = answer
    duplicate = json.loads(json.dumps(march))
    duplicate["responseId"] = march["responseId"] + "dup"
    earlier = parse_rfc3339(march["lastSubmittedTime"]) - timedelta(hours=2)
    duplicate["createTime"] = duplicate["lastSubmittedTime"] = format_rfc3339(earlier)
    qid, answer = _answer(monthly, "suggestion", OLD_DUPLICATE)
    duplicate["answers"][qid] = answer
    h.write_responses(COUNTRY, [*responses, duplicate])
    sa = h.read_responses(COUNTRY, "self_assessment")
    qid, answer = _answer(load_mapping(COUNTRY, "self_assessment"), "interests", INTERESTS)
    for r in sa:
        if r.get("respondentEmail") == email:
            r["answers"][qid] = answer
    h.write_responses(COUNTRY, sa, "self_assessment")
    return email, march["responseId"]


def _edit(h, response_id: str) -> None:
    monthly = load_mapping(COUNTRY, "monthly")
    responses = h.read_responses(COUNTRY)
    for r in responses:
        if r["responseId"] == response_id:
            qid, answer = _answer(monthly, "suggestion", EDITED)
            r["answers"][qid] = answer
            later = parse_rfc3339(r["lastSubmittedTime"]) + timedelta(minutes=5)
            r["lastSubmittedTime"] = format_rfc3339(later)
    h.write_responses(COUNTRY, responses)


def _traces(h, needles: list[str]) -> list[tuple[str, str, str]]:
    return [
        (table, col, needle)
        for table, col, value in h.text_values()
        for needle in needles
        if needle.lower() in value.lower()
    ]


def _respondents(h) -> int:
    return h.wh.query(
        "select respondents from indicators_monthly where scope_country = :c and month = :m",
        {"c": COUNTRY, "m": h.month},
    )[0][0]


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_forget_removes_every_trace_of_the_member(tmp_path, backend):
    with harness(tmp_path, backend=backend) as h:
        email, response_id = _plant_member(h)
        member = member_id(email, KEY)
        h.ingest(COUNTRY)
        h.validate()
        _edit(h, response_id)
        h.ingest(COUNTRY)
        h.validate()
        h.marts()
        needles = [member, email, SUGGESTION, EDITED, OLD_DUPLICATE, INTERESTS]
        found = {(t, n) for t, _, n in _traces(h, needles)}
        # The member is everywhere first: raw landing, history, feedback, quarantine, SA.
        assert {
            ("raw_response", member),
            ("raw_response_history", SUGGESTION),
            ("feedback", EDITED),
            ("quarantine", member),
            ("raw_response", OLD_DUPLICATE),
            ("self_assessment", INTERESTS),
        } <= found
        assert ("raw_response", email) not in found  # the address never landed
        respondents = _respondents(h)

        # Local output quoting rows (GX Data Docs pages, previews) goes too.
        docs = tmp_path / "data" / "gx" / "data_docs" / "validations"
        docs.mkdir(parents=True)
        (docs / "run.html").write_text(f"<td>{member}</td>", encoding="utf-8")
        (docs / "other.html").write_text("<td>m_00000000000000000000</td>", encoding="utf-8")

        result = forget_member(
            h.wh,
            resolve_member(email=email, member=None, key=KEY),
            rebuild_marts=lambda: pipeline.rebuild_marts(h.ctx),
            files_root=tmp_path / "data",
        )
        assert not (docs / "run.html").exists() and (docs / "other.html").exists()
        assert result.rows_removed["local_files"] == 1

        assert _traces(h, needles) == []
        assert _respondents(h) == respondents - 1
        log = h.wh.query_df("select * from erasure_log").to_dict("records")
        assert len(log) == 1
        assert log[0]["member_hash"] == hashlib.sha256(member.encode()).hexdigest()
        removed = json.loads(log[0]["rows_removed"])
        assert removed == result.rows_removed and log[0]["total_removed"] == result.total
        for table in ("raw_response", "raw_response_history", "feedback", "quarantine"):
            assert removed[table] >= 1, table
        assert removed["self_assessment"] == 1 and removed["raw_response"] == 3

        # The form still lists their answers (the partner has not deleted them yet): a re-run
        # of the month must not land them again.
        summary = h.extract(COUNTRY)
        assert summary["monthly_forgotten"] == 2 and summary["self_assessment_forgotten"] == 0
        h.harmonise(COUNTRY)
        h.validate()
        h.marts()
        assert _traces(h, needles) == []


def test_forget_refuses_bad_input_and_a_leftover_trace(tmp_path):
    with pytest.raises(ErasureError, match="exactly one"):
        resolve_member(email=None, member=None, key=KEY)
    with pytest.raises(ErasureError, match="exactly one"):
        resolve_member(email="a@b.org", member="m_" + "0" * 20, key=KEY)
    with pytest.raises(ErasureError, match="not a member id"):
        resolve_member(email=None, member="m_xyz", key=KEY)
    with pytest.raises(ErasureError, match="not an email"):
        resolve_member(email="no-at-sign", member=None, key=KEY)
    assert resolve_member(email=" A@B.org ", member=None, key=KEY) == member_id("a@b.org", KEY)

    with harness(tmp_path, start=False) as h:
        h.prepare()
        member = "m_" + "ab" * 10
        # A table erasure does not know about that still holds the member id.
        h.wh.execute("create table analyst_notes (note text)")
        h.wh.execute("insert into analyst_notes values (:n)", {"n": f"call {member} back"})
        with pytest.raises(ErasureError, match=r"analyst_notes\.note"):
            forget_member(h.wh, member, rebuild_marts=lambda: None)
        assert h.count("erasure_log") == 0  # not recorded as done


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["EMAIL=a@b.org", "MEMBER=m_00000000000000000000"],
        ["MEMBER=bogus"],
        ["EMAIL=not an address"],
        ["MEMBER=m_00000000000000000000", "BSIN_DATA_DIR=/nonexistent/bsin"],
    ],
)
def test_make_forget_fails_in_one_line_without_a_traceback(args):
    import os

    env_args = [a for a in args if a.startswith("BSIN_DATA_DIR=")]
    make_args = [a for a in args if a not in env_args]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_CONN_", "MAKE", "MFLAGS"))  # no parent make's variables
    }
    env.update(a.split("=", 1) for a in env_args)
    env["EMAIL"] = "from-the-environment@example.org"  # must never be used
    proc = subprocess.run(
        ["make", "-s", "forget", *make_args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("make")]
    assert len(errors) == 1 and errors[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_forget_command_erases_by_member_id(tmp_path):
    import sys

    import pandas as pd

    member = "m_" + "cd" * 10
    with harness(tmp_path, start=False) as h:
        h.prepare()
        row = {
            "country": COUNTRY,
            "feedback_month": h.month,
            "member_id": member,
            "response_id": "R1",
            "submitted_at": pd.Timestamp("2023-03-28 10:00"),
            "suggestion": SUGGESTION,
        }
        h.wh.insert("feedback", pd.DataFrame([row]))
        uri = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        h.wh.close()
        proc = subprocess.run(
            [sys.executable, "scripts/forget.py", "--member", member, "--warehouse", uri],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert f"member {member} erased" in proc.stdout and "feedback 1" in proc.stdout
        assert h.count("feedback") == 0 and h.count("erasure_log") == 1
        assert _traces(h, [member, SUGGESTION]) == []
