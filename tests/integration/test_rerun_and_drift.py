"""Issue-level guarantees of the load: a month re-run three times leaves byte-identical
tables on DuckDB and PostgreSQL, responses in = loaded + quarantined, and form drift is
noticed when the partner edits its form between runs (against the emulator)."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from bsin.core.config import load_partners
from bsin.core.months import add_months, format_rfc3339, parse_rfc3339
from bsin.pipeline import PipelineError
from tests.support.pipeline_harness import harness

COUNTRIES = tuple(load_partners().countries)


def _run_month(h) -> None:
    h.ingest(*COUNTRIES)
    h.validate()
    h.marts()


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_month_rerun_three_times_leaves_identical_tables(tmp_path, backend):
    with harness(tmp_path, backend=backend) as h:
        dumps = []
        for _ in range(3):
            _run_month(h)
            dumps.append(h.dump())
        assert dumps[0]["feedback"], "the month loaded nothing"
        assert dumps[0] == dumps[1] == dumps[2]
        # The load derives the set selections in SQL: they are exactly those the Python rule
        # gives for the loaded feedback rows, on either backend.
        from bsin.transform.harmonise import feedback_selections
        from bsin.transform.schema import SELECTION_COLUMNS

        loaded = h.wh.query_df("select * from feedback")
        selected = h.wh.query_df("select * from feedback_selection")
        assert len(selected) > 0

        def as_rows(frame):
            return sorted(map(tuple, frame[SELECTION_COLUMNS].astype(str).values))

        assert as_rows(selected) == as_rows(feedback_selections(loaded))


def test_every_response_read_is_loaded_or_quarantined(tmp_path):
    with harness(tmp_path) as h:
        # Two bad answers injected into Latvia's month: one unknown label, one missing email.
        responses = h.read_responses("LV")
        in_window = {r["responseId"] for r in h.responses_in_window("LV")}
        bad = [r for r in responses if r["responseId"] in in_window][:2]
        qid = next(iter(bad[0]["answers"]))
        bad[0]["answers"][qid]["textAnswers"]["answers"][0]["value"] = "Pilnīgi nezināma atbilde"
        bad[1].pop("respondentEmail")
        h.write_responses("LV", responses)
        _run_month(h)
        for country in COUNTRIES:
            read = {
                r[0]
                for r in h.wh.query(
                    "select response_id from raw_response where country = :c"
                    " and form_kind = 'monthly' and report_month = :m",
                    {"c": country, "m": h.month},
                )
            }
            loaded = {
                r[0]
                for r in h.wh.query(
                    "select response_id from feedback where country = :c", {"c": country}
                )
            } & read
            quarantined = {
                r[0]
                for r in h.wh.query(
                    "select distinct response_id from quarantine where country = :c"
                    " and form_kind = 'monthly' and report_month = :m",
                    {"c": country, "m": h.month},
                )
            }
            assert read, country
            assert loaded.isdisjoint(quarantined), country
            assert read == loaded | quarantined, country
        assert (
            len(
                quarantined := {
                    r[0]
                    for r in h.wh.query(
                        "select distinct response_id from quarantine where country = 'LV'"
                    )
                }
            )
            == 2
        ), quarantined


def _first_question_item(form: dict, predicate) -> dict:
    return next(i for i in form["items"] if "questionItem" in i and predicate(i))


def test_drift_between_runs_is_recorded_and_a_structural_break_fails_only_that_country(tmp_path):
    with harness(tmp_path) as h:
        h.prepare()
        h.extract("LV")
        assert h.count("form_drift", "country = 'LV'") == 0

        # The partner adds a question and a new option to a checkbox question.
        form = h.read_form("LV")
        form["revisionId"] = "00000099"
        new_item = copy.deepcopy(
            _first_question_item(form, lambda i: "textQuestion" in i["questionItem"]["question"])
        )
        new_item["itemId"] = "7e57a11d"
        new_item["title"] = "Kā jūs uzzinājāt par tīklu?"
        new_item["questionItem"]["question"]["questionId"] = "7e57a11e"
        form["items"].append(new_item)
        checkbox = _first_question_item(
            form,
            lambda i: (
                i["questionItem"]["question"].get("choiceQuestion", {}).get("type") == "CHECKBOX"
            ),
        )
        checkbox["questionItem"]["question"]["choiceQuestion"]["options"].insert(
            0, {"value": "Jauna iespēja"}
        )
        h.write_form("LV", form)
        h.extract("LV")
        kinds = {
            r[0]: r[1]
            for r in h.wh.query("select kind, severity from form_drift where country = 'LV'")
        }
        assert kinds.get("new_unmapped_question") == "warning"
        assert kinds.get("unknown_choice_label") == "warning"
        # revision_changed compares with the previous month's snapshot, so that re-running a
        # month gives the same findings; within one month it does not fire.
        assert "revision_changed" not in kinds

        # Then it deletes the satisfaction question: a structural break.
        mapping_qid = next(
            r
            for r in __import__("bsin.transform.mapping", fromlist=["load_mapping"])
            .load_mapping("LV", "monthly")
            .questions
            if r.field == "satisfaction"
        ).question_id
        form["items"] = [
            i
            for i in form["items"]
            if i.get("questionItem", {}).get("question", {}).get("questionId") != mapping_qid
        ]
        h.write_form("LV", form)
        before = h.dump()
        with pytest.raises(PipelineError) as err:
            h.extract("LV")
        message = str(err.value)
        assert "LV" in message and "satisfaction" in message
        # Only the condition is recorded (for the partner's notice and the drift message).
        status = h.wh.query(
            "select country, stage, status from country_month_status where country = 'LV'"
        )
        assert status == [("LV", "extract", "structural_drift")]
        after = h.dump(exclude=("country_month_status",))
        assert after == {t: rows for t, rows in before.items() if t != "country_month_status"}, (
            "a failed extract must leave the warehouse as it was"
        )
        # Other countries are not held back.
        assert h.extract("EE")["monthly_responses"] > 0


def test_self_assessments_are_pulled_incrementally_and_old_months_rerun_unchanged(tmp_path):
    from datetime import date

    from bsin import pipeline

    with harness(tmp_path, month=date(2022, 8, 1)) as h:
        h.prepare()
        first = h.extract("SE")
        assert first["self_assessment_responses"] == 8  # every baseline
        after_august = h.dump()
        september = pipeline.extract_country(
            "SE", date(2022, 9, 1), h.ctx, service=h.service, num_retries=0
        )
        # Only what is new since the latest landed one (that one is re-read at the boundary).
        assert september["self_assessment_responses"] <= 1
        after_september = h.dump()
        h.extract("SE")  # August again
        assert h.dump()["raw_response"] == after_september["raw_response"]
        assert after_august["raw_response"] != after_september["raw_response"]


def test_unchanged_self_assessments_are_not_harmonised_again_and_a_change_redoes_them(tmp_path):
    with harness(tmp_path) as h:
        h.ingest("SE")
        first = h.dump()
        assert first["harmonise_state"], "the self-assessment harmonisation is recorded"
        # A re-run of the month harmonises them again (its validation runs again too),
        # with the same result.
        rerun = h.harmonise("SE")
        assert rerun["self_assessment"]["responses"] > 0
        assert "unchanged_since" not in rerun["self_assessment"]
        assert h.dump() == first
        # Nothing new at the source by the next month: the form is skipped, its rows stand.
        sa_tables = ("self_assessment", "self_assessment_need", "harmonise_state")
        h.month = add_months(h.month, 1)
        h.extract("SE")
        again = h.harmonise("SE")
        assert again["self_assessment"]["responses"] == 0
        assert again["self_assessment"]["unchanged_since"] == add_months(h.month, -1).isoformat()
        assert {t: h.dump()[t] for t in sa_tables} == {t: first[t] for t in sa_tables}
        # An edited self-assessment lands as a newer version: harmonised again, in full.
        responses = h.read_responses("SE", "self_assessment")
        in_window = h.responses_in_window("SE", "self_assessment")
        target = next(r for r in responses if r["responseId"] == in_window[0]["responseId"])
        # An edit is newer than anything landed (the form is pulled from the latest one on).
        latest = max(parse_rfc3339(r["lastSubmittedTime"]) for r in in_window)
        target["lastSubmittedTime"] = format_rfc3339(latest + timedelta(seconds=1))
        h.write_responses("SE", responses, "self_assessment")
        h.extract("SE")
        redone = h.harmonise("SE")
        assert "unchanged_since" not in redone["self_assessment"]
        assert redone["self_assessment"]["responses"] == len(in_window)
        assert h.dump()["harmonise_state"] != first["harmonise_state"]
        (submitted,) = h.wh.query(
            "select submitted_at from self_assessment where response_id = :r",
            {"r": target["responseId"]},
        )[0]
        assert submitted == parse_rfc3339(target["lastSubmittedTime"]).replace(tzinfo=None)


def test_validation_reads_the_self_assessments_harmonised_for_the_month(tmp_path):
    """Self-assessments are validated in the month they are harmonised; after that their
    rows stand (harmonise_state): a later month's validation neither reads nor rejects them."""
    from datetime import date

    from bsin import pipeline
    from bsin.transform.mapping import CAPABILITY_FIELDS

    march, april = date(2023, 3, 1), date(2023, 4, 1)
    field = CAPABILITY_FIELDS[0]
    with harness(tmp_path, month=march) as h:
        country = h.partners.partners[0].country

        def month(m, tamper=False):
            pipeline.prepare_warehouse(m, h.ctx)
            pipeline.extract_country(country, m, h.ctx, service=h.service, num_retries=0)
            pipeline.harmonise_country(country, m, h.ctx)
            if tamper:  # out of the GX range, as a bad harmonisation would leave it
                h.wh.execute(
                    f"update self_assessment set {field} = 99 where response_id = "  # noqa: S608 (a canonical column)
                    "(select min(response_id) from self_assessment where country = :c)",
                    {"c": country},
                )
            return pipeline.validate_month(m, h.ctx)

        sa_quarantine = (
            "select response_id, rule, field from quarantine where country = :c "
            "and form_kind = 'self_assessment' and stage = 'validate'"
        )
        first = month(march, tamper=True)
        assert first["self_assessment_quarantined"] == 1  # harmonised in March: validated
        sa_count = h.count("self_assessment", "country = :c", {"c": country})
        rejected = h.count(
            "quarantine",
            "country = :c and form_kind = 'self_assessment' and stage = 'validate'",
            {"c": country},
        )
        assert rejected == 1
        why = h.wh.query(sa_quarantine, {"c": country})
        # Re-running March harmonises and validates March's self-assessments again: the
        # rejected one is rejected again and keeps its quarantine row, nothing else moves.
        again = month(march, tamper=True)
        assert again["self_assessment_quarantined"] == 1
        assert h.wh.query(sa_quarantine, {"c": country}) == why
        assert h.count("self_assessment", "country = :c", {"c": country}) == sa_count
        second = month(april, tamper=True)
        state = h.wh.query(
            "select report_month from harmonise_state where country = :c", {"c": country}
        )
        assert state == [(march,)]  # nothing new: April did not harmonise them again
        assert second["self_assessment_quarantined"] == 0  # so it did not validate them
        assert h.count("self_assessment", "country = :c", {"c": country}) == sa_count
        assert (
            h.count(
                "quarantine",
                "country = :c and form_kind = 'self_assessment' and stage = 'validate'",
                {"c": country},
            )
            == rejected
        )
