"""Responses deleted in Google Forms leave the warehouse (issue 10, "What to build" 8).

A re-run of a month reconciles its landed response ids against the form's listing, and
every run reconciles ``reconcile_months`` earlier months, at the cost of at most one extra
ids-only ``responses.list`` call per form and page. What left is logged in
``response_removed``. Through the pipeline's task bodies, on both backends.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from bsin import pipeline
from bsin.core.months import format_rfc3339, parse_rfc3339
from bsin.ingest.forms_client import RESPONSE_ID_FIELDS
from bsin.ingest.reconcile import DELETED_AT_SOURCE
from tests.support.pipeline_harness import harness

FEB, MARCH, APRIL = date(2023, 2, 1), date(2023, 3, 1), date(2023, 4, 1)
COUNTRY = "SE"
# Tables a landed monthly response (or something derived from it) can live in.
RESPONSE_TABLES = ("raw_response", "raw_response_history", "feedback_candidate", "feedback")


def _run(h, month: date) -> None:
    pipeline.prepare_warehouse(month, h.ctx)
    pipeline.extract_country(COUNTRY, month, h.ctx, service=h.service, num_retries=0)
    pipeline.harmonise_country(COUNTRY, month, h.ctx)
    pipeline.validate_month(month, h.ctx)


def _where(h, rid: str) -> dict[str, int]:
    return {t: h.count(t, "response_id = :r", {"r": rid}) for t in RESPONSE_TABLES}


def _lists(h, form_id: str) -> Counter:
    """responses.list calls of one form: ``full`` listings and ``ids`` (reconciliation)."""
    return Counter(
        "ids" if e["fields"] else "full"
        for e in h.emu.requests()
        if e["op"] == "responses.list" and e["form_id"] == form_id
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_response_deleted_in_forms_leaves_every_table_on_rerun(tmp_path, backend):
    with harness(tmp_path, backend=backend, month=MARCH) as h:
        _run(h, MARCH)
        edited = h.wh.query(
            "select min(response_id) from feedback where country = :c", {"c": COUNTRY}
        )[0][0]
        # The member edits it once more: the landed version moves to history on the re-run.
        responses = h.read_responses(COUNTRY)
        r = next(r for r in responses if r["responseId"] == edited)
        r["lastSubmittedTime"] = format_rfc3339(
            parse_rfc3339(r["lastSubmittedTime"]) + timedelta(minutes=5)
        )
        h.write_responses(COUNTRY, responses)
        _run(h, MARCH)
        assert _where(h, edited) == dict.fromkeys(RESPONSE_TABLES, 1)
        baseline = h.wh.query_df(
            "select response_id, member_id from self_assessment where country = :c",
            {"c": COUNTRY},
        ).iloc[0]
        h.emu.delete_response(h.form_id(COUNTRY), edited)
        h.emu.delete_response(h.form_id(COUNTRY, "self_assessment"), baseline["response_id"])

        _run(h, MARCH)

        assert _where(h, edited) == dict.fromkeys(RESPONSE_TABLES, 0)
        assert h.count("self_assessment", "response_id = :r", {"r": baseline["response_id"]}) == 0
        assert h.count("self_assessment_need", "member_id = :m", {"m": baseline["member_id"]}) == 0
        removed = h.wh.query_df(
            "select form_id, response_id, country, form_kind, report_month, reason"
            " from response_removed order by form_kind"
        ).to_dict("records")
        assert [(r["response_id"], r["form_kind"], r["report_month"]) for r in removed] == [
            (edited, "monthly", MARCH),
            (baseline["response_id"], "self_assessment", MARCH),  # landed by this run
        ]
        assert {r["reason"] for r in removed} == {DELETED_AT_SOURCE}
        # The marts count what is left: one respondent fewer in SE's March.
        pipeline.build_marts_for_month(MARCH, h.ctx)
        respondents = h.wh.query(
            "select respondents from indicators_monthly where scope_country = :c and month = :m",
            {"c": COUNTRY, "m": MARCH},
        )[0][0]
        assert respondents == h.count(
            "feedback", "country = :c and feedback_month = :m", {"c": COUNTRY, "m": MARCH}
        )


def test_each_run_reconciles_earlier_months_with_one_extra_list_per_form_and_page(tmp_path):
    with harness(tmp_path, month=FEB) as h:
        for month in (FEB, MARCH):
            pipeline.prepare_warehouse(month, h.ctx)
            pipeline.extract_country(COUNTRY, month, h.ctx, service=h.service, num_retries=0)
        feb_id = h.wh.query(
            "select min(response_id) from raw_response where report_month = :m and country = :c",
            {"m": FEB, "c": COUNTRY},
        )[0][0]
        h.emu.delete_response(h.form_id(COUNTRY), feb_id)
        monthly, sa = h.form_id(COUNTRY), h.form_id(COUNTRY, "self_assessment")

        # reconcile_months = 1: April reaches back to March only, February stays.
        narrow = h.ctx.programme.model_copy(update={"reconcile_months": 1})
        ctx = pipeline.Context(h.partners, narrow, warehouse=h.wh, key=h.key)
        h.emu.reset_requests()
        pipeline.extract_country(COUNTRY, APRIL, ctx, service=h.service, num_retries=0)
        assert h.count("raw_response", "response_id = :r", {"r": feb_id}) == 1
        assert h.count("response_removed") == 0

        # The default window (3 months) reaches February: its deleted response leaves.
        assert h.programme.reconcile_months == 3
        h.emu.reset_requests()
        summary = pipeline.extract_country(COUNTRY, APRIL, h.ctx, service=h.service, num_retries=0)
        assert summary["removed_at_source"] == 1
        assert h.count("raw_response", "response_id = :r", {"r": feb_id}) == 0
        assert h.wh.query("select report_month from response_removed") == [(FEB,)]
        # Cost: the month's own listing (one page) + one ids-only page per form.
        assert _lists(h, monthly) == Counter(full=1, ids=1)
        assert _lists(h, sa) == Counter(full=1, ids=1)
        assert {e["fields"] for e in h.emu.requests() if e["fields"]} == {RESPONSE_ID_FIELDS}

        # Window of this month only: the month's listing covers it, no extra call.
        this_month = h.ctx.programme.model_copy(update={"reconcile_months": 0})
        ctx = pipeline.Context(h.partners, this_month, warehouse=h.wh, key=h.key)
        h.emu.reset_requests()
        pipeline.extract_country(COUNTRY, APRIL, ctx, service=h.service, num_retries=0)
        assert _lists(h, monthly) == Counter(full=1)


def test_id_listing_pages_like_the_full_listing(tmp_path):
    """5,001 responses: two ids-only pages, both of them small."""
    import copy

    from bsin.core.months import month_window
    from bsin.ingest.forms_client import list_response_ids

    with harness(tmp_path, month=MARCH) as h:
        template = h.read_responses(COUNTRY)[0]
        start, _ = month_window(MARCH, h.partners.partner(COUNTRY).timezone, 7)
        bulk = []
        for i in range(5_001):
            r = copy.deepcopy(template)
            r["responseId"] = f"ACYDBNbulk{i:06d}"
            r["createTime"] = r["lastSubmittedTime"] = format_rfc3339(start + timedelta(seconds=i))
            bulk.append(r)
        h.write_responses(COUNTRY, bulk)
        h.emu.reset_requests()
        ids = list_response_ids(h.service, h.form_id(COUNTRY), None, num_retries=0)
        assert ids == {r["responseId"] for r in bulk}
        log = h.emu.requests()
        assert [e["returned"] for e in log] == [5_000, 1]
        assert all(e["fields"] == RESPONSE_ID_FIELDS for e in log)
