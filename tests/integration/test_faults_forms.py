"""Forms API faults during the extract step (issue 6, section 2).

Every case runs the real ``bsin.pipeline.extract_country`` against the emulator with a fault
armed. The step either succeeds after retries, landing exactly what a clean run lands, or
fails with a ``PipelineError`` that names the country, the form and the fix, leaving the
warehouse as it was; a re-run after the fault clears lands everything once.
"""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from bsin.core.months import format_rfc3339, month_window
from bsin.pipeline import PipelineError
from tests.support.pipeline_harness import PipelineHarness, harness

COUNTRY = "SE"


@pytest.fixture
def h(tmp_path, fast_retries):
    with harness(tmp_path, num_retries=2, timeout=0.5) as h:
        h.prepare()
        yield h


def _landed(h: PipelineHarness) -> dict[str, set[str]]:
    rows = h.wh.query(
        "select form_kind, response_id from raw_response where country = :c", {"c": COUNTRY}
    )
    out: dict[str, set[str]] = {"monthly": set(), "self_assessment": set()}
    for kind, rid in rows:
        out[kind].add(rid)
    return out


def _assert_complete(h: PipelineHarness) -> None:
    """Nothing lost, nothing duplicated: raw_response holds exactly the window, once each."""
    landed = _landed(h)
    for kind in ("monthly", "self_assessment"):
        expected = {r["responseId"] for r in h.responses_in_window(COUNTRY, kind)}
        assert expected, f"the sample has {kind} responses in the window"
        assert landed[kind] == expected
    assert h.count("raw_response", "country = :c", {"c": COUNTRY}) == sum(map(len, landed.values()))
    assert h.count("raw_form", "country = :c", {"c": COUNTRY}) == 2
    # The landed responses harmonise in full: every one becomes a row or a quarantine row.
    summary = h.harmonise(COUNTRY)
    assert summary["monthly"]["rows"] + summary["monthly"]["quarantined"] == len(landed["monthly"])


def _statuses(h: PipelineHarness, op: str = "responses.list") -> list[int]:
    return [
        r["status"]
        for r in h.emu.requests()
        if r["op"] == op and r["form_id"] == h.form_id(COUNTRY)
    ]


RECOVERABLE = [
    pytest.param({"kind": "status", "status": 429, "count": 2}, id="429-burst"),
    pytest.param({"kind": "status", "status": 503, "count": 2}, id="503-burst"),
    pytest.param({"kind": "status", "status": 500, "count": 1}, id="500"),
    pytest.param({"kind": "delay", "seconds": 1.5, "count": 1}, id="slow-past-timeout"),
    pytest.param({"kind": "drop", "count": 2}, id="dropped-mid-page"),
    pytest.param({"kind": "malformed", "count": 2}, id="malformed-json"),
]


@pytest.mark.parametrize("fault", RECOVERABLE)
def test_transient_fault_is_retried_and_lands_everything_once(h, fault) -> None:
    h.emu.set_faults([{**fault, "op": "responses.list", "form_id": h.form_id(COUNTRY)}])
    summary = h.extract(COUNTRY)
    assert h.emu.pending_faults() == [], "the fault fired"
    assert summary["monthly_responses"] == len(h.responses_in_window(COUNTRY))
    after_fault = h.dump()
    # A second, clean run changes nothing: the faulty run landed no more and no less.
    h.emu.reset_requests()
    h.extract(COUNTRY)
    assert h.dump() == after_fault
    _assert_complete(h)


def test_faults_on_forms_get_are_retried(h) -> None:
    h.emu.set_faults(
        [
            {"kind": "status", "status": 503, "count": 1, "op": "forms.get"},
            {"kind": "malformed", "count": 1, "op": "forms.get", "skip": 1},
        ]
    )
    h.extract(COUNTRY)
    assert h.emu.pending_faults() == []
    assert 503 in _statuses(h, "forms.get")
    _assert_complete(h)


PERSISTENT = [
    pytest.param({"kind": "status", "status": 503, "count": 10}, "HTTP 503", id="503-storm"),
    pytest.param({"kind": "status", "status": 429, "count": 10}, "HTTP 429", id="429-storm"),
    pytest.param({"kind": "status", "status": 500, "count": 10}, "HTTP 500", id="500-storm"),
    pytest.param({"kind": "delay", "seconds": 1.5, "count": 10}, "cannot reach", id="always-slow"),
    pytest.param({"kind": "drop", "count": 10}, "cannot reach", id="always-dropped"),
    pytest.param({"kind": "malformed", "count": 10}, "not a JSON object", id="always-malformed"),
    pytest.param({"kind": "status", "status": 403, "count": 1}, "Share the form", id="403"),
]


@pytest.mark.parametrize(("fault", "message"), PERSISTENT)
def test_fault_beyond_retries_fails_clearly_and_changes_nothing(h, fault, message) -> None:
    # A month already landed once: the failed re-run must leave it exactly as it was.
    h.extract(COUNTRY)
    before = h.dump()
    form_id = h.form_id(COUNTRY)
    h.emu.set_faults([{**fault, "op": "responses.list", "form_id": form_id}])
    with pytest.raises(PipelineError) as err:
        h.extract(COUNTRY)
    text = str(err.value)
    assert text.startswith(f"{COUNTRY} monthly form")
    assert form_id in text
    assert message in text
    assert "re-run" in text or "Share the form" in text  # says what to do
    assert h.dump() == before
    h.emu.clear_faults()
    h.extract(COUNTRY)
    assert h.dump() == before
    _assert_complete(h)


def test_failed_first_run_leaves_an_empty_month_empty(h) -> None:
    empty = h.dump()
    h.emu.set_faults([{"kind": "status", "status": 503, "count": 10, "op": "responses.list"}])
    with pytest.raises(PipelineError, match="still fails after 2 retries"):
        h.extract(COUNTRY)
    assert h.dump() == empty
    h.emu.clear_faults()
    h.extract(COUNTRY)
    _assert_complete(h)


def _clone_responses(h: PipelineHarness, n: int) -> list[dict]:
    """``n`` distinct monthly responses inside the window, made from a sample response."""
    template = h.responses_in_window(COUNTRY)[0]
    start, _ = month_window(h.month, h.partners.partner(COUNTRY).timezone, h.programme.grace_days)
    out = []
    for i in range(n):
        r = copy.deepcopy(template)
        r["responseId"] = f"ACYDBNbulk{i:06d}"
        r["respondentEmail"] = f"bulk{i:06d}@example.org"
        stamp = format_rfc3339(start + timedelta(days=2, seconds=i))
        r["createTime"] = r["lastSubmittedTime"] = stamp
        out.append(r)
    return out


@pytest.mark.slow
def test_invalid_page_token_fails_clearly_then_rerun_lands_every_page(h) -> None:
    # More than one page (5,000 per page): the fault corrupts page 1's nextPageToken.
    h.write_responses(COUNTRY, _clone_responses(h, 5_003))
    h.extract(COUNTRY)
    before = h.dump()
    assert h.count("raw_response", "form_kind = 'monthly'") == 5_003
    h.emu.set_faults(
        [{"kind": "bad_page_token", "op": "responses.list", "form_id": h.form_id(COUNTRY)}]
    )
    with pytest.raises(PipelineError, match="page token") as err:
        h.extract(COUNTRY)
    assert "re-run the task" in str(err.value)
    assert h.dump() == before
    h.emu.clear_faults()
    h.emu.reset_requests()
    h.extract(COUNTRY)
    assert h.dump() == before
    # One forms.get per form and ceil(5003 / 5000) = 2 list calls for the monthly form, and
    # as many ids-only calls for the reconciliation of earlier months (docs/security.md).
    lists = [
        e
        for e in h.emu.requests()
        if e["op"] == "responses.list" and e["form_id"] == h.form_id(COUNTRY)
    ]
    assert sum(1 for e in lists if not e["fields"]) == 2
    assert sum(1 for e in lists if e["fields"]) == 2
