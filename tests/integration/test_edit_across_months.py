"""A member edits last month's response after its window closed (issue 14, bad input).

The new version's ``lastSubmittedTime`` falls in the next report month's window, so that
month's extract lands it and its landed row moves there. Harmonising that month used to
fail the country's task ("feedback_candidate would hold a key twice"): the earlier month's
candidate of the same response was still there. Now the response belongs to the report
month its latest version landed in, once, on both backends, and re-running either month
changes nothing. The earlier month is harmonised and validated again in the same run
(``month_revalidation``): a member's earlier answer there, quarantined as the duplicate of
the response that moved away, counts again.

Three partners: the first configured one, a configured one whose form asks which month
the feedback is about (the response then keeps that month; only its report month moves),
and an invented one (tests/support/nordic_network.py: a Norwegian form).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bsin.core.months import add_months, format_rfc3339, month_window
from bsin.core.paths import data_dir
from bsin.transform.mapping import load_mapping
from tests.conftest import BACKENDS
from tests.support.nordic_network import NEW_PARTNERS, build_nordic_network
from tests.support.pipeline_harness import harness

# Each case runs a few pipeline months (minutes of CPU for the module): sent out
# with the long modules, not left for the end of `make test` (tests/conftest.py).
pytestmark = pytest.mark.slow

PARTNERS = ["first configured", "asks the month", "invented"]


def cases(postgres: str, kinds: list[str] = PARTNERS) -> list:
    """(backend, partner) pairs: every partner on DuckDB, ``postgres`` on PostgreSQL too.

    The partner decides the form and its mapping (Python, the same on both backends); the
    backend decides the SQL, which is the same for every partner. Across the module each
    partner has its PostgreSQL case, without every case running twice (a case costs a few
    pipeline months).
    """
    return [pytest.param("duckdb", k, id=f"duckdb-{k}") for k in kinds] + [
        pytest.param("postgres", postgres, marks=pytest.mark.postgres, id=f"postgres-{postgres}")
    ]


def _satisfaction_qid(country: str) -> str:
    return load_mapping(country, "monthly").by_field["satisfaction"].question_id


def _text_answer(qid: str, value: str) -> dict:
    return {"questionId": qid, "textAnswers": {"answers": [{"value": value}]}}


def _months_of(h, table: str, month_col: str, rid: str) -> list:
    return [
        r[0]
        for r in h.wh.query(
            f"select {month_col} from {table} where response_id = :r order by 1",  # noqa: S608
            {"r": rid},
        )
    ]


def _partner(h, which: str) -> str:
    if which == "invented":
        return NEW_PARTNERS[0]["country"]
    if which == "first configured":
        return h.partners.countries[0]
    asking = [
        c for c in h.partners.countries if "feedback_month" in load_mapping(c, "monthly").by_field
    ]
    if not asking:
        pytest.skip("no configured form asks which month the feedback is about")
    return asking[0]


@pytest.mark.parametrize(("backend", "which"), cases(postgres="invented"))
def test_a_response_edited_into_the_next_window_moves_there_once(
    tmp_path, monkeypatch, backend, which
) -> None:
    kwargs = {}
    if which == "invented":
        from bsin.core.config import load_partners

        cfg, _ = build_nordic_network(tmp_path, monkeypatch)  # its data in tmp_path/emulator
        monkeypatch.setenv("BSIN_CONFIG_DIR", str(cfg))
        kwargs["partners"] = load_partners(cfg / "partners.yaml")
    with harness(tmp_path, backend=backend, **kwargs) as h:
        country = _partner(h, which)
        first = h.month
        rid, fixed = (r["responseId"] for r in h.responses_in_window(country)[:2])
        # ``fixed``'s first version is quarantined; its edit corrects the answer.
        responses = h.read_responses(country)
        broken = next(r for r in responses if r["responseId"] == fixed)
        original = dict(broken["answers"])
        qid = _satisfaction_qid(country)
        broken["answers"][qid] = _text_answer(qid, "not on the scale")
        h.write_responses(country, responses)
        h.ingest(country)
        h.validate()
        assert h.count("quarantine", "response_id = :r", {"r": fixed})
        assert not h.count("feedback", "response_id = :r", {"r": fixed})
        loaded_first = h.count("feedback", "feedback_month = :m", {"m": first})
        assert _months_of(h, "feedback", "feedback_month", rid) == [first]

        # Both members edit at the end of the next month's window: each edit is its
        # member's latest submission there.
        nxt = add_months(first, 1)
        tz = h.partners.partner(country).timezone
        _, end = month_window(nxt, tz, h.programme.grace_days)
        responses = h.read_responses(country)
        for r in responses:
            if r["responseId"] in (rid, fixed):
                r["lastSubmittedTime"] = format_rfc3339(end - timedelta(seconds=1))
            if r["responseId"] == fixed:
                r["answers"] = original
        h.write_responses(country, responses)

        h.month = nxt
        h.ingest(country)  # failed here before: the key (country, response_id) twice
        for r in (rid, fixed):
            assert _months_of(h, "raw_response", "report_month", r) == [nxt]
            assert _months_of(h, "feedback_candidate", "report_month", r) == [nxt]
        assert h.count("raw_response_history", "response_id = :r", {"r": rid}) == 1
        summary = h.validate()
        assert summary["loaded"] == summary["candidates"]
        months = {
            r: h.wh.query(
                "select feedback_month from feedback_candidate where response_id = :r", {"r": r}
            )[0][0]
            for r in (rid, fixed)
        }
        if which == "asks the month":
            assert months == {rid: first, fixed: first}  # the answer names the month
        else:
            assert months == {rid: nxt, fixed: nxt}  # the month of the new submission
        # Each once, under that month; neither counted as quarantined any more.
        for r in (rid, fixed):
            assert _months_of(h, "feedback", "feedback_month", r) == [months[r]]
            assert not h.count("quarantine", "response_id = :r", {"r": r})
        in_first = loaded_first - (months[rid] != first) + (months[fixed] == first)
        assert h.count("feedback", "feedback_month = :m", {"m": first}) == in_first

        # A re-run of the new month changes nothing.
        moved = h.dump()
        h.ingest(country)
        h.validate()
        assert h.dump() == moved

        # Clearing the earlier month's run does not bring the old versions back.
        h.month = first
        h.harmonise(country)
        h.validate()
        for r in (rid, fixed):
            assert _months_of(h, "feedback_candidate", "report_month", r) == [nxt]
            assert _months_of(h, "feedback", "feedback_month", r) == [months[r]]
            assert not h.count("quarantine", "response_id = :r", {"r": r})
        assert h.count("feedback", "feedback_month = :m", {"m": first}) == in_first


@pytest.mark.parametrize(("backend", "which"), cases(postgres="asks the month"))
def test_a_members_earlier_answer_counts_again_when_their_later_one_moves_out(
    tmp_path, monkeypatch, backend, which
) -> None:
    """A member answers twice in a month (the later answer counts, the earlier one is
    quarantined as a duplicate), then edits the later one in the next month's window.

    The earlier answer is then the member's only one about the month it was given in: it
    counts there again, without waiting for someone to re-run that month. Where the form
    asks the month, the edited answer still names it and still wins.
    """
    kwargs = {}
    if which == "invented":
        from bsin.core.config import load_partners

        cfg, _ = build_nordic_network(tmp_path, monkeypatch)
        monkeypatch.setenv("BSIN_CONFIG_DIR", str(cfg))
        kwargs["partners"] = load_partners(cfg / "partners.yaml")
    monkeypatch.setenv("BSIN_DATA_DIR", str(tmp_path / "data"))
    with harness(tmp_path, backend=backend, data_docs=True, **kwargs) as h:
        country = _partner(h, which)
        first = h.month
        early, rid = _member_answers_twice_then_edits_into_the_next_month(h, country)
        nxt = h.month
        # Before the next month's run: the later answer counted, the earlier was a duplicate.
        assert _months_of(h, "feedback", "feedback_month", rid) == [first]
        assert not h.count("feedback", "response_id = :r", {"r": early})
        [(rule, stage)] = h.wh.query(
            "select rule, stage from quarantine where response_id = :r", {"r": early}
        )
        assert (rule, stage) == ("duplicate_submission", "harmonise")
        loaded_first = h.count("feedback", "feedback_month = :m", {"m": first})
        [(member,)] = h.wh.query(
            "select member_id from feedback where response_id = :r", {"r": rid}
        )
        selections = (
            "select field, value from feedback_selection"
            " where feedback_month = :m and member_id = :who order by 1, 2"
        )
        chosen = h.wh.query(selections, {"m": first, "who": member})
        assert chosen

        h.ingest(country)
        summary = h.validate()

        if which == "asks the month":
            # The edit still answers about the first month and is the later submission.
            assert _months_of(h, "feedback", "feedback_month", rid) == [first]
            assert not h.count("feedback", "response_id = :r", {"r": early})
            [(rule, reason)] = h.wh.query(
                "select rule, reason from quarantine where response_id = :r", {"r": early}
            )
            assert rule == "duplicate_submission" and rid in reason, reason
            assert h.count("feedback", "feedback_month = :m", {"m": first}) == loaded_first
        else:
            assert _months_of(h, "feedback", "feedback_month", rid) == [nxt]
            # Counted again in the first month, and no longer called a duplicate.
            assert _months_of(h, "feedback", "feedback_month", early) == [first]
            assert _months_of(h, "feedback_candidate", "report_month", early) == [first]
            assert not h.count("quarantine", "response_id = :r", {"r": early})
            assert h.count("feedback", "feedback_month = :m", {"m": first}) == loaded_first
        # The member's choices in the first month stand: the same answers, from whichever
        # response now counts there (the copy has the same answers).
        assert h.wh.query(selections, {"m": first, "who": member}) == chosen
        # The first month was harmonised and validated again within this month's run; the
        # Data Docs data staff open are still this month's, the first month's beside them.
        assert summary["revalidated"] == [first.isoformat()]
        docs = data_dir() / "gx" / "data_docs"
        assert f"{nxt:%Y-%m}" in (docs / "index.html").read_text(encoding="utf-8")
        earlier_docs = docs / "revalidated" / f"{first:%Y-%m}" / "index.html"
        assert f"{first:%Y-%m}" in earlier_docs.read_text(encoding="utf-8")
        assert not h.count("month_revalidation")

        # Re-running either month changes nothing: the cascade did what a re-run does.
        _rerunning_either_month_changes_nothing(h, country, first)


@pytest.mark.parametrize("backend", BACKENDS)
def test_re_running_a_month_keeps_the_choices_of_a_later_answer_about_it(tmp_path, backend) -> None:
    """A form that asks the month: a member answers about a month in its own window, then
    again about the same month in the next window. The later answer counts (the earlier
    one is quarantined as superseded). Re-running the earlier month used to delete the
    later answer's choices (``feedback_selection``) while its feedback row stayed."""
    with harness(tmp_path, backend=backend) as h:
        country = _partner(h, "asks the month")
        first, nxt = h.month, add_months(h.month, 1)
        tz = h.partners.partner(country).timezone
        start, _ = month_window(nxt, tz, h.programme.grace_days)
        answer = h.responses_in_window(country)[0]
        again = {
            **answer,
            "responseId": f"{answer['responseId']}x",
            "createTime": format_rfc3339(start + timedelta(seconds=1)),
            "lastSubmittedTime": format_rfc3339(start + timedelta(seconds=1)),
        }
        h.write_responses(country, [*h.read_responses(country), again])
        h.ingest(country)
        h.validate()
        h.month = nxt
        h.ingest(country)
        h.validate()
        assert _months_of(h, "feedback", "feedback_month", again["responseId"]) == [first]
        [(stage,)] = h.wh.query(
            "select stage from quarantine where response_id = :r", {"r": answer["responseId"]}
        )
        assert stage == "supersede"
        loaded = h.dump()
        assert loaded["feedback_selection"]

        h.month = first
        h.harmonise(country)
        h.validate()
        assert h.dump() == loaded


def _rerunning_either_month_changes_nothing(h, country: str, first) -> None:
    """Re-run the current month (ingest, validate), then ``first`` (harmonise, validate):
    the warehouse stays byte-identical each time."""
    after = h.dump()
    h.ingest(country)
    h.validate()
    assert h.dump() == after
    h.month = first
    h.harmonise(country)
    h.validate()
    assert h.dump() == after


def _member_answers_twice_then_edits_into_the_next_month(h, country: str) -> tuple[str, str]:
    """A member of ``country`` answers the run month twice (both loaded and validated), then
    edits the later answer in the next month's window; ``h.month`` is then the next month,
    not yet run. Returns the earlier and the later response ids."""
    first = h.month
    tz = h.partners.partner(country).timezone
    start, _ = month_window(first, tz, h.programme.grace_days)
    later = max(h.responses_in_window(country), key=lambda r: r["lastSubmittedTime"])
    early = {**later, "responseId": f"{later['responseId']}x"}
    early["createTime"] = early["lastSubmittedTime"] = format_rfc3339(start + timedelta(seconds=1))
    h.write_responses(country, [*h.read_responses(country), early])
    h.ingest(country)
    h.validate()
    nxt = add_months(first, 1)
    _, end = month_window(nxt, tz, h.programme.grace_days)
    responses = h.read_responses(country)
    for r in responses:
        if r["responseId"] == later["responseId"]:
            r["lastSubmittedTime"] = format_rfc3339(end - timedelta(seconds=1))
    h.write_responses(country, responses)
    h.month = nxt
    return early["responseId"], later["responseId"]


def test_an_earlier_month_that_fails_validation_again_stays_requested(
    tmp_path, monkeypatch
) -> None:
    """The cascade's earlier month fails its validation (a fault injected into that call
    only): the run's own month still loads, the request stays, and the next validation
    of any month does it."""
    from bsin.pipeline import validate as validate_task
    from bsin.pipeline.context import PipelineError

    with harness(tmp_path, backend="duckdb") as h:
        first = h.month
        country = _partner(h, "first configured")
        early, later = _member_answers_twice_then_edits_into_the_next_month(h, country)
        h.ingest(country)
        real = validate_task.validate_month

        def failing(month, ctx=None, **kwargs):
            if not kwargs.get("earlier", True):
                raise PipelineError(f"validation of {month:%Y-%m} failed (injected)")
            return real(month, ctx, **kwargs)

        monkeypatch.setattr(validate_task, "validate_month", failing)
        summary = h.validate()
        assert summary["revalidated"] == []
        assert list(summary["revalidation_failed"]) == [first.isoformat()]
        assert _months_of(h, "feedback", "feedback_month", later) == [h.month]
        assert not h.count("feedback", "response_id = :r", {"r": early})
        assert h.wh.query("select report_month, harmonised from month_revalidation") == [
            (first, True)
        ]

        monkeypatch.undo()
        summary = h.validate()
        assert summary["revalidated"] == [first.isoformat()]
        assert _months_of(h, "feedback", "feedback_month", early) == [first]
        assert not h.count("month_revalidation")


def test_an_earlier_month_whose_harmonisation_fails_is_done_by_the_retry(
    tmp_path, monkeypatch
) -> None:
    """The country's task fails while harmonising the earlier month again (a fault injected
    into that call only): the request stays, not yet harmonised, so validation leaves that
    month alone; the task's retry harmonises it and the next validation validates it."""
    from bsin.pipeline import harmonise as harmonise_task

    with harness(tmp_path, backend="duckdb") as h:
        first = h.month
        country = _partner(h, "first configured")
        early, _ = _member_answers_twice_then_edits_into_the_next_month(h, country)
        h.prepare()
        h.extract(country)
        real = harmonise_task._harmonise  # noqa: SLF001

        def failing(c, month, ctx):
            if month == first:
                raise RuntimeError("injected")
            return real(c, month, ctx)

        monkeypatch.setattr(harmonise_task, "_harmonise", failing)
        with pytest.raises(RuntimeError, match="injected"):
            h.harmonise(country)
        assert h.wh.query("select report_month, harmonised from month_revalidation") == [
            (first, False)
        ]
        assert h.validate()["revalidated"] == []
        assert not h.count("feedback", "response_id = :r", {"r": early})

        monkeypatch.undo()
        assert h.harmonise(country)["harmonised_again"] == [first.isoformat()]
        assert h.validate()["revalidated"] == [first.isoformat()]
        assert _months_of(h, "feedback", "feedback_month", early) == [first]
        assert not h.count("month_revalidation")


@pytest.mark.parametrize(
    ("backend", "which"), cases(postgres="first configured", kinds=["first configured", "invented"])
)
def test_a_members_earlier_answer_counts_again_when_their_later_one_is_deleted_at_source(
    tmp_path, monkeypatch, backend, which
) -> None:
    """The same member answers a month twice; in the next month the partner deletes the
    later answer in Google Forms. The next run's reconciliation removes it everywhere, and
    the earlier answer, quarantined as its duplicate until then, counts again."""
    kwargs = {}
    if which == "invented":
        from bsin.core.config import load_partners

        cfg, _ = build_nordic_network(tmp_path, monkeypatch)
        monkeypatch.setenv("BSIN_CONFIG_DIR", str(cfg))
        kwargs["partners"] = load_partners(cfg / "partners.yaml")
    with harness(tmp_path, backend=backend, **kwargs) as h:
        country = _partner(h, which)
        first = h.month
        early, later = _member_answers_twice_then_edits_into_the_next_month(h, country)
        loaded_first = h.count("feedback", "feedback_month = :m", {"m": first})
        # Not edited after all: deleted at the source.
        h.write_responses(
            country, [r for r in h.read_responses(country) if r["responseId"] != later]
        )
        h.ingest(country)
        summary = h.validate()
        assert h.count("response_removed", "response_id = :r", {"r": later}) == 1
        assert not h.count("feedback", "response_id = :r", {"r": later})
        assert _months_of(h, "feedback", "feedback_month", early) == [first]
        assert not h.count("quarantine", "response_id = :r", {"r": early})
        assert h.count("feedback", "feedback_month = :m", {"m": first}) == loaded_first
        assert summary["revalidated"] == [first.isoformat()]
        assert not h.count("month_revalidation")

        # Re-running either month changes nothing: the cascade did what a re-run does.
        _rerunning_either_month_changes_nothing(h, country, first)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_late_answer_deleted_at_source_gives_the_month_back_its_earlier_answer(
    tmp_path, backend
) -> None:
    """A form that asks the month: a member's later answer about a month, given in the next
    month's window, wins over their earlier one (quarantined as superseded). The month
    after, the partner deletes the later answer in Google Forms: the earlier answer counts
    again for the month it is about, and is no longer quarantined."""
    with harness(tmp_path, backend=backend) as h:
        country = _partner(h, "asks the month")
        first, nxt = h.month, add_months(h.month, 1)
        tz = h.partners.partner(country).timezone
        start, _ = month_window(nxt, tz, h.programme.grace_days)
        answer = h.responses_in_window(country)[0]
        late = {**answer, "responseId": f"{answer['responseId']}x"}
        late["createTime"] = late["lastSubmittedTime"] = format_rfc3339(
            start + timedelta(seconds=1)
        )
        h.write_responses(country, [*h.read_responses(country), late])
        h.ingest(country)
        h.validate()
        loaded_first = h.count("feedback", "feedback_month = :m", {"m": first})
        h.month = nxt
        h.ingest(country)
        h.validate()
        assert _months_of(h, "feedback", "feedback_month", late["responseId"]) == [first]
        assert not h.count("feedback", "response_id = :r", {"r": answer["responseId"]})

        h.write_responses(
            country, [r for r in h.read_responses(country) if r["responseId"] != late["responseId"]]
        )
        h.month = add_months(nxt, 1)
        h.ingest(country)
        h.validate()
        assert not h.count("feedback", "response_id = :r", {"r": late["responseId"]})
        assert _months_of(h, "feedback", "feedback_month", answer["responseId"]) == [first]
        assert not h.count("quarantine", "response_id = :r", {"r": answer["responseId"]})
        assert h.count("feedback", "feedback_month = :m", {"m": first}) == loaded_first
        assert not h.count("month_revalidation")


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_edit_naming_another_month_gives_the_month_it_named_its_earlier_answer_back(
    tmp_path, backend
) -> None:
    """A form that asks the month: a member's later answer about a month, given in the next
    month's window, wins over their earlier one (quarantined as superseded). The month
    after, the member edits the later answer to be about the next month instead. The earlier
    answer is then the member's only one about its month: it counts there again, though it
    was landed in neither month the edited response moved between."""
    with harness(tmp_path, backend=backend) as h:
        country = _partner(h, "asks the month")
        first, nxt, third = h.month, add_months(h.month, 1), add_months(h.month, 2)
        tz = h.partners.partner(country).timezone
        qid = load_mapping(country, "monthly").by_field["feedback_month"].question_id
        start, _ = month_window(nxt, tz, h.programme.grace_days)
        answer = h.responses_in_window(country)[0]
        late = {**answer, "responseId": f"{answer['responseId']}x"}
        late["createTime"] = late["lastSubmittedTime"] = format_rfc3339(
            start + timedelta(seconds=1)
        )
        late["answers"] = {**answer["answers"], qid: _text_answer(qid, first.isoformat())}
        h.write_responses(country, [*h.read_responses(country), late])
        h.ingest(country)
        h.validate()
        loaded_first = h.count("feedback", "feedback_month = :m", {"m": first})
        h.month = nxt
        h.ingest(country)
        h.validate()
        assert _months_of(h, "feedback", "feedback_month", late["responseId"]) == [first]
        assert not h.count("feedback", "response_id = :r", {"r": answer["responseId"]})

        # Edited in the third month's window: now about the next month.
        _, end = month_window(third, tz, h.programme.grace_days)
        responses = h.read_responses(country)
        for r in responses:
            if r["responseId"] == late["responseId"]:
                r["lastSubmittedTime"] = format_rfc3339(end - timedelta(seconds=1))
                r["answers"] = {**r["answers"], qid: _text_answer(qid, nxt.isoformat())}
        h.write_responses(country, responses)
        h.month = third
        h.ingest(country)
        summary = h.validate()

        assert _months_of(h, "feedback", "feedback_month", late["responseId"]) == [nxt]
        assert _months_of(h, "feedback_candidate", "report_month", late["responseId"]) == [third]
        assert _months_of(h, "feedback", "feedback_month", answer["responseId"]) == [first]
        assert not h.count("quarantine", "response_id = :r", {"r": answer["responseId"]})
        assert h.count("feedback", "feedback_month = :m", {"m": first}) == loaded_first
        assert first.isoformat() in summary["revalidated"]
        assert not h.count("month_revalidation")

        # Re-running any of the three months changes nothing.
        after = h.dump()
        _rerunning_either_month_changes_nothing(h, country, first)
        h.month = nxt
        h.harmonise(country)
        h.validate()
        assert h.dump() == after
