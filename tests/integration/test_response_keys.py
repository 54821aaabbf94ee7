"""Response ids are unique per form, not globally (issue 10, finding 7).

Google's ``responseId`` is unique within its form. Two countries' forms returning the same
id must both load, in the same month or in different months; a genuine clash (the same
form's id landed for another country, or naming another response) is quarantined with its
reason and never deletes the row landed first. The schema change is an idempotent
migration that upgrades an existing warehouse without losing rows, on both backends.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pandas as pd
import pytest

from bsin import pipeline
from bsin.core.months import format_rfc3339, month_window, parse_rfc3339
from bsin.core.paths import SQL_DIR
from bsin.ingest.reconcile import CLASH_RULE
from bsin.warehouse.db import Warehouse, WarehouseError
from tests.support.pipeline_harness import harness

MARCH, APRIL = date(2023, 3, 1), date(2023, 4, 1)
BACKENDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


def _run(h, month: date, countries: tuple[str, ...]) -> None:
    pipeline.prepare_warehouse(month, h.ctx)
    for c in countries:
        pipeline.extract_country(c, month, h.ctx, service=h.service, num_retries=0)
        pipeline.harmonise_country(c, month, h.ctx)
    pipeline.validate_month(month, h.ctx)


def _in_window(h, country: str, month: date) -> list[dict]:
    tz = h.partners.partner(country).timezone
    start, end = month_window(month, tz, h.programme.grace_days)
    return [
        r for r in h.read_responses(country) if start <= parse_rfc3339(r["lastSubmittedTime"]) < end
    ]


def _feedback(h, country: str, month: date) -> set[str]:
    return {
        r[0]
        for r in h.wh.query(
            "select response_id from feedback where country = :c and feedback_month = :m",
            {"c": country, "m": month},
        )
    }


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_response_id_in_two_countries_and_months_keeps_both_rows(tmp_path, backend):
    with harness(tmp_path, backend=backend, month=MARCH) as h:
        shared = _in_window(h, "EE", MARCH)[0]["responseId"]
        lt = h.read_responses("LT")
        april_ids = {r["responseId"] for r in _in_window(h, "LT", APRIL)}
        reused = next(r for r in lt if r["responseId"] in april_ids)
        reused["responseId"] = shared  # LT's form returns EE's March id in April
        h.write_responses("LT", lt)

        _run(h, MARCH, ("EE", "LT"))
        ee_march = _feedback(h, "EE", MARCH)
        assert shared in ee_march
        _run(h, APRIL, ("EE", "LT"))

        # Before the fix April's load deleted EE's March row (8 -> 7 respondents).
        assert _feedback(h, "EE", MARCH) == ee_march
        assert shared in _feedback(h, "LT", APRIL)
        assert h.count("quarantine", "response_id = :r", {"r": shared}) == 0
        assert h.count("raw_response", "response_id = :r", {"r": shared}) == 2


def test_reused_id_naming_another_response_is_quarantined_and_keeps_the_landed_one(tmp_path):
    with harness(tmp_path, month=MARCH) as h:
        h.prepare()
        h.extract("SE")
        march = _in_window(h, "SE", MARCH)[0]
        landed = h.dump()["raw_response"]
        # The same form now returns a different response (created in April) under that id.
        responses = [r for r in h.read_responses("SE") if r["responseId"] != march["responseId"]]
        start, _ = month_window(APRIL, h.partners.partner("SE").timezone, 7)
        other = dict(march, answers={})
        other["createTime"] = other["lastSubmittedTime"] = format_rfc3339(start + timedelta(days=2))
        h.write_responses("SE", [*responses, other])
        summary = pipeline.extract_country("SE", APRIL, h.ctx, service=h.service, num_retries=0)

        assert summary["clashes"] == 1
        rows = h.wh.query_df("select * from quarantine where rule = :r", {"r": CLASH_RULE}).to_dict(
            "records"
        )
        assert [(r["country"], r["report_month"], r["response_id"], r["stage"]) for r in rows] == [
            ("SE", APRIL, march["responseId"], "extract")
        ]
        assert "the landed response is kept" in rows[0]["reason"]
        kept = h.wh.query_df(
            "select report_month, payload from raw_response where response_id = :r",
            {"r": march["responseId"]},
        )
        assert list(kept["report_month"]) == [MARCH]
        assert [r for r in landed if r[1] == march["responseId"]] == [
            r for r in h.dump()["raw_response"] if r[1] == march["responseId"]
        ]


def test_a_form_landed_for_another_country_is_quarantined_not_moved(tmp_path):
    with harness(tmp_path, month=MARCH) as h:
        h.prepare()
        h.extract("SE")
        landed = h.wh.query_df("select * from raw_response where country = 'SE' limit 1")
        # What extract would land if partners.yaml later gave SE's form to LT.
        moved = landed.assign(country="LT")
        with h.wh.transaction():
            clashes = pipeline.extract._land_responses(h.wh, moved)
        assert clashes == 1
        q = h.wh.query_df(
            "select country, reason from quarantine where rule = :r", {"r": CLASH_RULE}
        )
        assert list(q["country"]) == ["LT"]
        assert "already landed for SE monthly" in q["reason"][0]
        assert h.count("raw_response", "response_id = :r", {"r": landed["response_id"][0]}) == 1
        assert (
            h.count(
                "raw_response",
                "response_id = :r and country = 'SE'",
                {"r": landed["response_id"][0]},
            )
            == 1
        )


def _feedback_row(country: str, response_id: str, member: str) -> dict:
    return {
        "country": country,
        "feedback_month": MARCH,
        "member_id": member,
        "response_id": response_id,
        "submitted_at": pd.Timestamp("2023-03-28 10:00"),
        "satisfaction": 4,
        "suggestion": f"kept {country}",
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_upgrades_an_old_warehouse_without_losing_rows(tmp_path, backend):
    old_schema = tmp_path / "schema_before"
    old_schema.mkdir()
    for f in sorted((SQL_DIR / "schema").glob("*.sql")):
        if f.name < "008":
            shutil.copy(f, old_schema / f.name)
    if backend == "duckdb":
        wh = Warehouse.from_uri(f"duckdb:///{tmp_path / 'old.duckdb'}")
    else:
        import uuid

        from tests.support.services import require_postgres

        wh = Warehouse.from_uri(require_postgres(), schema=f"bsin_mig_{uuid.uuid4().hex[:10]}")
    try:
        wh.migrate(old_schema)
        rows = pd.DataFrame(
            [_feedback_row("SE", "R1", "m_" + "a" * 20), _feedback_row("EE", "R2", "m_" + "b" * 20)]
        )
        wh.insert("feedback", rows)
        # The old schema refused one id in two countries: the finding's constraint.
        with pytest.raises(WarehouseError):
            with wh.transaction():
                wh.insert("feedback", pd.DataFrame([_feedback_row("LT", "R1", "m_" + "c" * 20)]))
        before = sorted(wh.query("select * from feedback"))
        applied = wh.migrate()
        assert "008_response_keys.sql" in applied
        assert sorted(wh.query("select * from feedback")) == before
        wh.insert("feedback", pd.DataFrame([_feedback_row("LT", "R1", "m_" + "c" * 20)]))
        with pytest.raises(WarehouseError):
            with wh.transaction():
                wh.insert("feedback", pd.DataFrame([_feedback_row("LT", "R1", "m_" + "d" * 20)]))
        # Idempotent: running the upgrade again keeps every row and the new key.
        with wh.transaction():
            wh.run_sql_file(SQL_DIR / "schema" / "008_response_keys.sql")
        assert len(wh.query("select * from feedback")) == 3
        assert wh.migrate() == []
    finally:
        if backend == "postgres":
            schema = wh.schema
            wh.close()
            wh.schema = None
            wh.execute(f"drop schema if exists {schema} cascade")
        wh.close()


def test_response_key_is_a_stable_signed_bigint():
    from bsin.ingest.reconcile import response_key

    ids = ["ACYDBNj", "ACYDBNj ", "x" * 5000, "\ud800lone", "ä"]
    keys = [response_key(i) for i in ids]
    assert all(0 <= k < 2**63 for k in keys)
    assert len(set(keys)) == len(ids)
    assert keys == [response_key(i) for i in ids]  # the same id always gets the same key


@pytest.mark.parametrize("backend", BACKENDS)
def test_rows_landed_without_a_key_get_one_and_are_not_landed_twice(tmp_path, backend):
    """A warehouse from before migration 016 (rows without response_key) re-runs cleanly."""
    with harness(tmp_path, backend=backend, month=MARCH) as h:
        country = h.partners.partners[0].country
        h.prepare()
        h.extract(country)
        before = h.dump()
        h.wh.execute("update raw_response set response_key = null")
        h.extract(country)  # the same responses again: the keys are filled, nothing doubles
        assert h.count("raw_response", "response_key is null") == 0
        assert h.dump() == before
