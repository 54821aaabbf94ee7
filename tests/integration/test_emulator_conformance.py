"""The emulator's JSON conforms to the Forms v1 discovery document bundled with the client.

Every sample form (Form), every sample response (FormResponse, via responses.get) and every
page of responses.list (ListFormResponsesResponse) is checked by a recursive walker over the
discovery ``schemas``; the walker itself is tested on deliberate mistakes first.
"""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlencode

import pytest
from bsin_dev.emulator import start_emulator
from bsin_dev.emulator.discovery import check, discovery_document
from bsin_dev.sample_data import generate_network

from bsin.core.config import load_partners
from bsin.core.paths import SAMPLE_DIR


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def sample_emulator():
    handle = start_emulator(SAMPLE_DIR)
    yield handle
    handle.stop()


# ----------------------------------------------------------------------------- the checker


def test_discovery_document_is_the_forms_v1_one():
    doc = discovery_document()
    assert doc["name"] == "forms" and doc["version"] == "v1"
    assert {"Form", "FormResponse", "ListFormResponsesResponse"} <= set(doc["schemas"])


@pytest.mark.parametrize(
    ("value", "schema", "expected"),
    [
        ({"formId": "x", "colour": "red"}, "Form", "$.colour: unknown property"),
        ({"formId": 5}, "Form", "$.formId: expected a string"),
        ({"items": {}}, "Form", "$.items: expected an array"),
        ({"items": [{"itemId": "a", "bogus": 1}]}, "Form", "$.items[0].bogus: unknown property"),
        (
            {"items": [{"questionItem": {"question": {"scaleQuestion": {"low": "1"}}}}]},
            "Form",
            "low: expected an integer",
        ),
        (
            {"items": [{"questionItem": {"question": {"scaleQuestion": {"high": 2**31}}}}]},
            "Form",
            "outside the int32 range",
        ),
        (
            {"items": [{"questionItem": {"question": {"required": "yes"}}}]},
            "Form",
            "required: expected a boolean",
        ),
        (
            {"items": [{"questionItem": {"question": {"choiceQuestion": {"type": "SLIDER"}}}}]},
            "Form",
            "is not one of",
        ),
        ({"lastSubmittedTime": "2023-03-01 10:00"}, "FormResponse", "not an RFC 3339"),
        ({"totalScore": "3"}, "FormResponse", "expected a number"),
        (
            {"answers": {"q1": {"textAnswers": {"answers": [{"value": 4}]}}}},
            "FormResponse",
            "$.answers['q1'].textAnswers.answers[0].value: expected a string",
        ),
        ({"responses": {}}, "ListFormResponsesResponse", "expected an array"),
        ({"nextPageToken": None}, "ListFormResponsesResponse", "expected a string"),
        ({"responses": [{"responseId": True}]}, "ListFormResponsesResponse", "expected a string"),
    ],
)
def test_checker_rejects_deviations(value, schema, expected):
    problems = check(value, schema)
    assert any(expected in p for p in problems), problems


def test_checker_accepts_valid_documents():
    form = {
        "formId": "f",
        "info": {"title": "t"},
        "items": [
            {
                "itemId": "a",
                "questionGroupItem": {
                    "questions": [{"questionId": "q", "rowQuestion": {"title": "r"}}],
                    "grid": {"columns": {"type": "RADIO", "options": [{"value": "1"}]}},
                },
            },
            {"itemId": "b", "pageBreakItem": {}},
        ],
    }
    assert check(form, "Form") == []
    assert check({}, "ListFormResponsesResponse") == []
    with pytest.raises(KeyError):
        check({}, "NoSuchSchema")


# ----------------------------------------------------------------------------- the emulator


def test_every_sample_form_and_response_conforms(sample_emulator):
    form_ids = sorted(p.stem for p in (SAMPLE_DIR / "forms").glob("*.json"))
    assert form_ids == sorted(p.form_id(k) for p in load_partners().partners for k in p.form_kinds)
    checked = 0
    for form_id in form_ids:
        form = get(f"{sample_emulator.url}v1/forms/{form_id}")
        assert check(form, "Form") == [], form_id
        rows = json.loads((SAMPLE_DIR / "responses" / f"{form_id}.json").read_text("utf-8"))
        for row in rows:
            served = get(f"{sample_emulator.url}v1/forms/{form_id}/responses/{row['responseId']}")
            assert served == row
            assert check(served, "FormResponse") == [], row["responseId"]
            checked += 1
    assert checked > 300


@pytest.mark.parametrize("page_size", [7, 5000])
def test_every_list_page_conforms(sample_emulator, page_size):
    for form_id in sorted(p.stem for p in (SAMPLE_DIR / "responses").glob("*.json")):
        token, pages = None, 0
        while True:
            params = {"pageSize": page_size, "filter": "timestamp >= 2022-08-01T00:00:00Z"}
            if token:
                params["pageToken"] = token
            page = get(f"{sample_emulator.url}v1/forms/{form_id}/responses?{urlencode(params)}")
            assert check(page, "ListFormResponsesResponse") == [], (form_id, pages)
            pages += 1
            token = page.get("nextPageToken")
            if not token:
                break
        assert pages > 1 or page_size == 5000


def test_synthetic_network_conforms(tmp_path):
    net = generate_network(tmp_path, countries=2, members_per_country=30, months=2)
    with start_emulator(net.emulator_dir) as emu:
        for form_id, count in net.responses_by_form.items():
            assert check(get(f"{emu.url}v1/forms/{form_id}"), "Form") == []
            page = get(f"{emu.url}v1/forms/{form_id}/responses?pageSize=40")
            assert len(page["responses"]) == min(40, count)
            assert check(page, "ListFormResponsesResponse") == [], form_id
