"""bsin.ingest.forms_client against the running emulator through the real googleapiclient."""

from __future__ import annotations

import json
import math
import socket
from datetime import UTC, datetime, timedelta

import pytest
from bsin_dev.emulator import start_emulator
from bsin_dev.sample_data import format_timestamp

from bsin.core.paths import SAMPLE_DIR
from bsin.ingest.forms_client import (
    FormsApiError,
    cut_window,
    get_form,
    iter_response_pages,
    iter_responses,
)
from bsin.ingest.forms_hook import build_service

SE_MONTHLY = "1K4Nh0Ob3N6eHfVKZi1H4vbgD91ionX5JeP3Ga3rdd1P"
ALL_SE = json.loads((SAMPLE_DIR / "responses" / f"{SE_MONTHLY}.json").read_text("utf-8"))


@pytest.fixture
def emulator():
    handle = start_emulator(SAMPLE_DIR)
    yield handle
    handle.stop()


@pytest.fixture
def service(emulator):
    return build_service({"endpoint": emulator.url, "timeout": 2})


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_get_form(service):
    form = get_form(service, SE_MONTHLY, num_retries=0)
    assert form["formId"] == SE_MONTHLY and form["items"]


@pytest.mark.parametrize("page_size", [1, 7, 50, 5000])
def test_pagination_returns_everything_once_in_one_call_per_page(service, emulator, page_size):
    got = list(iter_responses(service, SE_MONTHLY, None, page_size=page_size, num_retries=0))
    assert sorted(r["responseId"] for r in got) == sorted(r["responseId"] for r in ALL_SE)
    assert len(got) == len(ALL_SE)
    lists = emulator.call_counts()[("responses.list", SE_MONTHLY)]
    assert lists == math.ceil(len(ALL_SE) / page_size)


def test_pages_are_lists(service):
    pages = list(iter_response_pages(service, SE_MONTHLY, None, page_size=40, num_retries=0))
    assert [len(p) for p in pages] == [40, 40, len(ALL_SE) - 80]


def test_filter_boundary_inclusive_vs_exclusive(service):
    pivot = sorted(ALL_SE, key=lambda r: r["lastSubmittedTime"])[30]
    since = ts(pivot["lastSubmittedTime"])
    ge = list(iter_responses(service, SE_MONTHLY, since, page_size=10, num_retries=0))
    gt = list(
        iter_responses(service, SE_MONTHLY, since, page_size=10, num_retries=0, inclusive=False)
    )
    assert pivot["responseId"] in {r["responseId"] for r in ge}
    assert pivot["responseId"] not in {r["responseId"] for r in gt}
    assert len(ge) == len(gt) + 1
    assert all(ts(r["lastSubmittedTime"]) >= since for r in ge)


def test_since_must_be_aware(service):
    with pytest.raises(ValueError, match="timezone-aware"):
        list(iter_responses(service, SE_MONTHLY, datetime(2023, 3, 1)))


def test_cut_window_is_half_open():
    start = datetime(2023, 3, 8, tzinfo=UTC)
    end = datetime(2023, 4, 8, tzinfo=UTC)
    rows = [
        {
            "responseId": "a",
            "lastSubmittedTime": format_timestamp(start - timedelta(microseconds=1)),
        },
        {"responseId": "b", "lastSubmittedTime": format_timestamp(start)},
        {"responseId": "c", "lastSubmittedTime": "2023-04-07T23:59:59.999999999Z"},
        {"responseId": "d", "lastSubmittedTime": format_timestamp(end)},
    ]
    kept, unusable = cut_window(rows, start, end)
    assert [r["responseId"] for r in kept] == ["b", "c"] and unusable == []
    # A response without a timestamp is reported with its id and reason, never dropped.
    kept, unusable = cut_window([{"responseId": "x", "formId": "F"}], start, end)
    assert kept == [] and unusable[0][0] == "x" and "lastSubmittedTime" in unusable[0][3]
    with pytest.raises(ValueError):
        cut_window(rows, datetime(2023, 3, 8), end)


def test_unknown_form_names_the_form_and_the_fix(service):
    with pytest.raises(FormsApiError) as err:
        get_form(service, "1NoSuchFormId", num_retries=0)
    assert err.value.status == 404 and err.value.form_id == "1NoSuchFormId"
    assert "'1NoSuchFormId'" in str(err.value) and "partners.yaml" in str(err.value)
    with pytest.raises(FormsApiError, match="not found"):
        list(iter_responses(service, "1NoSuchFormId", None, num_retries=0))


def test_unreachable_endpoint(fast_retries):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    service = build_service({"endpoint": f"http://127.0.0.1:{port}/", "timeout": 2})
    with pytest.raises(FormsApiError) as err:
        get_form(service, SE_MONTHLY, num_retries=2)
    msg = str(err.value)
    assert f"127.0.0.1:{port}" in msg and SE_MONTHLY in msg and "running" in msg
    assert len(fast_retries) == 2  # the library retried before giving up


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_over_an_error_burst_succeed(service, emulator, fast_retries, status):
    emulator.set_faults({"kind": "status", "status": status, "count": 3, "op": "responses.list"})
    got = list(iter_responses(service, SE_MONTHLY, None, page_size=50, num_retries=5))
    assert len(got) == len(ALL_SE)
    assert [e["status"] for e in emulator.requests()][:4] == [status] * 3 + [200]
    assert len(fast_retries) == 3


def test_burst_longer_than_retries_is_a_clear_error(service, emulator, fast_retries):
    emulator.set_faults({"kind": "status", "status": 503, "count": 10})
    with pytest.raises(FormsApiError) as err:
        get_form(service, SE_MONTHLY, num_retries=2)
    assert err.value.status == 503 and "after 2 retries" in str(err.value)
    assert "re-run" in str(err.value)


def test_dropped_connection_and_malformed_body_are_retried(service, emulator, fast_retries):
    emulator.set_faults(
        [
            {"kind": "drop", "op": "responses.list", "skip": 1},
            {"kind": "malformed", "op": "responses.list", "skip": 2},
        ]
    )
    got = list(iter_responses(service, SE_MONTHLY, None, page_size=30, num_retries=3))
    assert sorted(r["responseId"] for r in got) == sorted(r["responseId"] for r in ALL_SE)
    assert len(got) == len(ALL_SE)  # nothing lost, nothing twice
    assert [e["fault"] for e in emulator.requests()].count("drop") == 1
    assert [e["fault"] for e in emulator.requests()].count("malformed") == 1


def test_malformed_every_time_is_a_clear_error(service, emulator, fast_retries):
    emulator.set_faults({"kind": "malformed", "count": 5})
    with pytest.raises(FormsApiError, match="not a JSON object"):
        get_form(service, SE_MONTHLY, num_retries=1)


def test_slow_response_past_the_timeout_is_retried(emulator, fast_retries):
    service = build_service({"endpoint": emulator.url, "timeout": 0.3})
    emulator.set_faults({"kind": "delay", "seconds": 1.5, "op": "forms.get"})
    assert get_form(service, SE_MONTHLY, num_retries=2)["formId"] == SE_MONTHLY
    assert len(fast_retries) == 1


def test_rejected_page_token_says_to_rerun(service, emulator):
    emulator.set_faults({"kind": "bad_page_token"})
    with pytest.raises(FormsApiError) as err:
        list(iter_responses(service, SE_MONTHLY, None, page_size=20, num_retries=0))
    assert err.value.status == 400 and "page token" in str(err.value) and "re-run" in str(err.value)


def test_page_size_is_checked(service):
    with pytest.raises(ValueError, match="page_size"):
        list(iter_responses(service, SE_MONTHLY, None, page_size=5001))
