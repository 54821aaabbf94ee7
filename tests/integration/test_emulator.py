"""The Forms API emulator over plain HTTP: routes, filter, pagination, errors, faults, reloads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from bsin_dev.emulator import start_emulator
from bsin_dev.emulator.server import encode_page_token
from bsin_dev.emulator.store import timestamp_ns

from bsin.core.config import load_partners
from bsin.core.paths import SAMPLE_DIR

FORM_ID = "1TestFormAbcdefghijklmnopqrstuvwxyz0123456789"
BASE = datetime(2023, 3, 1, tzinfo=UTC)


def _ts(i: int) -> str:
    return (BASE + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_data(root: Path, n: int, form_id: str = FORM_ID, title: str = "Test form") -> Path:
    """A data dir with one form and ``n`` responses one minute apart from BASE."""
    (root / "forms").mkdir(parents=True, exist_ok=True)
    (root / "responses").mkdir(parents=True, exist_ok=True)
    form = {"formId": form_id, "info": {"title": title}, "revisionId": "00000001", "items": []}
    (root / "forms" / f"{form_id}.json").write_text(json.dumps(form), encoding="utf-8")
    # Written in reverse to prove the emulator sorts.
    rows = [
        {
            "formId": form_id,
            "responseId": f"R{i:06d}",
            "createTime": _ts(i),
            "lastSubmittedTime": _ts(i),
            "answers": {},
        }
        for i in reversed(range(n))
    ]
    (root / "responses" / f"{form_id}.json").write_text(json.dumps(rows), encoding="utf-8")
    return root


def call(url: str, method: str = "GET", body: object | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def emu(tmp_path):
    handle = start_emulator(write_data(tmp_path / "data", 12))
    yield handle
    handle.stop()


def list_url(emu, **params) -> str:
    return f"{emu.url}v1/forms/{FORM_ID}/responses?{urlencode(params)}"


def test_forms_get_and_unknown_form_is_google_style_404(emu):
    status, body = call(f"{emu.url}v1/forms/{FORM_ID}")
    assert status == 200 and body["formId"] == FORM_ID and body["revisionId"] == "00000001"
    status, body = call(f"{emu.url}v1/forms/NoSuchForm")
    assert status == 404
    assert body == {
        "error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}
    }


def test_responses_get_by_id(emu):
    status, body = call(f"{emu.url}v1/forms/{FORM_ID}/responses/R000003")
    assert status == 200 and body["lastSubmittedTime"] == _ts(3)
    status, body = call(f"{emu.url}v1/forms/{FORM_ID}/responses/NOPE")
    assert status == 404 and body["error"]["status"] == "NOT_FOUND"


def test_list_is_sorted_and_filter_boundaries(emu):
    status, body = call(list_url(emu))
    assert status == 200
    assert [r["responseId"] for r in body["responses"]] == [f"R{i:06d}" for i in range(12)]
    assert "nextPageToken" not in body
    _, ge = call(list_url(emu, filter=f"timestamp >= {_ts(5)}"))
    _, gt = call(list_url(emu, filter=f"timestamp > {_ts(5)}"))
    assert ge["responses"][0]["responseId"] == "R000005" and len(ge["responses"]) == 7
    assert gt["responses"][0]["responseId"] == "R000006" and len(gt["responses"]) == 6
    # Nanosecond precision: one nanosecond before response 5 still includes it with ">".
    just_before = (BASE + timedelta(minutes=5) - timedelta(microseconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.%f"
    ) + "999Z"
    _, nano = call(list_url(emu, filter=f"timestamp > {just_before}"))
    assert nano["responses"][0]["responseId"] == "R000005"
    _, empty = call(list_url(emu, filter="timestamp > 2030-01-01T00:00:00Z"))
    assert empty == {}


@pytest.mark.parametrize(
    "bad",
    [
        "timestamp < 2023-03-01T00:00:00Z",
        "timestamp >= 2023-03-01",
        "timestamp >= 2023-03-01T00:00:00+02:00",
        "timestamp >= 2023-02-30T00:00:00Z",
        "createTime >= 2023-03-01T00:00:00Z",
        "timestamp >= 2023-03-01T00:00:00Z AND timestamp < 2023-04-01T00:00:00Z",
    ],
)
def test_unsupported_filter_is_invalid_argument(emu, bad):
    status, body = call(list_url(emu, filter=bad))
    assert status == 400
    assert body["error"]["status"] == "INVALID_ARGUMENT" and "filter" in body["error"]["message"]


def test_pagination_tokens_cover_everything_once(emu):
    seen, token, pages = [], None, 0
    flt = f"timestamp >= {_ts(1)}"
    while True:
        params = {"filter": flt, "pageSize": 5} | ({"pageToken": token} if token else {})
        status, body = call(list_url(emu, **params))
        assert status == 200
        seen += [r["responseId"] for r in body["responses"]]
        pages += 1
        token = body.get("nextPageToken")
        if not token:
            break
    assert pages == 3 and seen == [f"R{i:06d}" for i in range(1, 12)]


def test_page_token_bound_to_filter_and_form_and_garbage_rejected(emu):
    _, first = call(list_url(emu, pageSize=5, filter=f"timestamp >= {_ts(0)}"))
    token = first["nextPageToken"]
    status, body = call(list_url(emu, pageSize=5, filter=f"timestamp >= {_ts(1)}", pageToken=token))
    assert status == 400 and "filter" in body["error"]["message"]
    other = encode_page_token("AnotherForm", f"timestamp >= {_ts(0)}", 5)
    status, _ = call(list_url(emu, pageSize=5, filter=f"timestamp >= {_ts(0)}", pageToken=other))
    assert status == 400
    for garbage in ("garbage", token[:-3] + "abc", "a.b.c", token.split(".")[0] + ".AAAA"):
        status, body = call(list_url(emu, pageSize=5, pageToken=garbage))
        assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT", garbage


@pytest.mark.parametrize(
    ("size", "status"), [("abc", 400), ("-1", 400), ("99999999999", 400), ("1.5", 400)]
)
def test_bad_page_size(emu, size, status):
    assert call(list_url(emu, pageSize=size))[0] == status


def test_unknown_query_parameter_is_rejected_like_google(emu):
    status, body = call(f"{emu.url}v1/forms/{FORM_ID}?foo=1")
    assert status == 400 and 'Unknown name "foo"' in body["error"]["message"]
    assert call(f"{emu.url}v1/forms/{FORM_ID}?alt=json&prettyPrint=false")[0] == 200
    assert call(list_url(emu, limit=3))[0] == 400


def test_page_size_default_and_cap_is_5000(tmp_path):
    with start_emulator(write_data(tmp_path, 5003)) as emu:
        for params in ({}, {"pageSize": 0}, {"pageSize": 100000}):
            _, body = call(list_url(emu, **params))
            assert len(body["responses"]) == 5000 and body["nextPageToken"], params
        _, rest = call(list_url(emu, pageToken=body["nextPageToken"], pageSize=100000))
        assert [r["responseId"] for r in rest["responses"]] == ["R005000", "R005001", "R005002"]


def test_reloads_changed_files_and_swaps_data_dir(emu, tmp_path):
    data = Path(emu.state.store.data_dir)
    assert call(f"{emu.url}v1/forms/{FORM_ID}")[1]["info"]["title"] == "Test form"
    # Same size, rewritten immediately: must still be noticed (content hash, not only mtime).
    write_data(data, 12, title="Test FORM")
    assert call(f"{emu.url}v1/forms/{FORM_ID}")[1]["info"]["title"] == "Test FORM"
    write_data(data, 3)
    assert len(call(list_url(emu))[1]["responses"]) == 3
    other = write_data(tmp_path / "other", 2, form_id="OtherForm")
    emu.set_data_dir(other)
    assert call(f"{emu.url}v1/forms/{FORM_ID}")[0] == 404
    assert len(call(f"{emu.url}v1/forms/OtherForm/responses")[1]["responses"]) == 2


def test_broken_data_file_is_a_500_naming_the_file(emu):
    path = Path(emu.state.store.data_dir) / "responses" / f"{FORM_ID}.json"
    path.write_text('[{"responseId": "x", "lastSubmittedTime": "yesterday"}]')
    status, body = call(list_url(emu))
    assert status == 500 and f"{FORM_ID}.json" in body["error"]["message"]
    assert "lastSubmittedTime" in body["error"]["message"]


def test_status_fault_burst_then_recovery_and_request_log(emu):
    status, _ = call(
        f"{emu.url}_emulator/faults",
        "POST",
        {"faults": [{"kind": "status", "status": 503, "count": 2, "op": "responses.list"}]},
    )
    assert status == 200
    assert call(f"{emu.url}v1/forms/{FORM_ID}")[0] == 200  # other ops are not hit
    codes = [call(list_url(emu))[0] for _ in range(3)]
    assert codes == [503, 503, 200]
    status, log = call(f"{emu.url}_emulator/requests")
    assert [e["status"] for e in log["requests"]] == [200, 503, 503, 200]
    assert log["counts"][f"responses.list {FORM_ID}"] == 3
    assert emu.call_counts()[("forms.get", FORM_ID)] == 1
    assert call(f"{emu.url}_emulator/requests", "DELETE")[0] == 200 and emu.requests() == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_status_fault_bodies_are_google_style(emu, status):
    emu.set_faults({"kind": "status", "status": status})
    code, body = call(f"{emu.url}v1/forms/{FORM_ID}")
    assert code == status and body["error"]["code"] == status and body["error"]["status"]


def test_skip_and_form_filter_of_faults(emu):
    emu.set_faults({"kind": "status", "status": 500, "skip": 1, "form_id": FORM_ID})
    assert call(f"{emu.url}v1/forms/NoSuchForm")[0] == 404  # another form: not counted
    assert call(f"{emu.url}v1/forms/{FORM_ID}")[0] == 200  # skipped
    assert call(f"{emu.url}v1/forms/{FORM_ID}")[0] == 500
    assert call(f"{emu.url}v1/forms/{FORM_ID}")[0] == 200
    assert emu.pending_faults() == []


def test_invalid_fault_is_refused(emu):
    status, body = call(f"{emu.url}_emulator/faults", "POST", {"faults": [{"kind": "explode"}]})
    assert status == 400 and "explode" in body["error"]["message"]
    status, body = call(f"{emu.url}_emulator/faults", "POST", [{"kind": "delay"}])
    assert status == 400 and "seconds" in body["error"]["message"]


def test_delay_fault(emu):
    emu.set_faults({"kind": "delay", "seconds": 0.4})
    started = time.perf_counter()
    assert call(f"{emu.url}v1/forms/{FORM_ID}")[0] == 200
    assert time.perf_counter() - started >= 0.4


def test_drop_fault_sends_half_a_body(emu):
    import http.client

    emu.set_faults({"kind": "drop"})
    with pytest.raises(http.client.IncompleteRead):
        urllib.request.urlopen(list_url(emu), timeout=5).read()
    assert call(list_url(emu))[0] == 200


def test_malformed_fault_sends_truncated_json(emu):
    emu.set_faults({"kind": "malformed"})
    with urllib.request.urlopen(f"{emu.url}v1/forms/{FORM_ID}", timeout=5) as resp:
        raw = resp.read()
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)


def test_bad_page_token_fault_makes_next_page_fail(emu):
    emu.set_faults({"kind": "bad_page_token"})
    _, first = call(list_url(emu, pageSize=5))
    status, body = call(list_url(emu, pageSize=5, pageToken=first["nextPageToken"]))
    assert status == 400 and "page token" in body["error"]["message"].lower()


def test_timestamp_ns_precision():
    assert timestamp_ns("1970-01-01T00:00:01.000000001Z") == 1_000_000_001
    assert timestamp_ns("2023-03-01T00:00:00Z") < timestamp_ns("2023-03-01T00:00:00.1Z")
    with pytest.raises(ValueError):
        timestamp_ns("2023-03-01T00:00:00")


def test_command_line_serves_sample_data():
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bsin_dev.emulator", "--data", str(SAMPLE_DIR), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if not url else url
        status, health = call(f"{url}_emulator/health")
        forms = sum(len(p.form_kinds) for p in load_partners().partners)
        assert status == 200 and len(health["forms"]) == forms
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0


@pytest.mark.parametrize("layout", ["one_per_line", "indented", "single_line"])
def test_every_file_layout_serves_the_same_responses(tmp_path, layout):
    from bsin_dev.emulator.store import read_responses

    rows = [
        {"formId": FORM_ID, "responseId": f"R{i}", "lastSubmittedTime": _ts(i), "answers": {}}
        for i in range(3)
    ]
    path = write_data(tmp_path, 0) / "responses" / f"{FORM_ID}.json"
    if layout == "one_per_line":
        path.write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    else:
        path.write_text(json.dumps(rows, indent=2 if layout == "indented" else None))
    items, raw = read_responses(path)
    assert items == rows and (raw is not None) == (layout == "one_per_line")
    with start_emulator(tmp_path) as emu:
        assert call(list_url(emu))[1]["responses"] == rows


@pytest.mark.parametrize(
    "layout",
    ["one_per_line", "pretty_printed", "single_line", "empty"],
)
def test_the_line_reader_serves_what_a_whole_file_parse_reads(tmp_path, layout):
    """The streaming line reader and the whole-file parse agree; any layout is served."""
    from bsin_dev.emulator.store import load_response_set

    items = [
        {"responseId": f"r{i}", "lastSubmittedTime": f"2022-08-0{i + 1}T10:00:00Z", "note": "a,\n"}
        for i in range(3)
    ]
    if layout == "empty":
        items = []
    path = tmp_path / "f.json"
    if layout == "one_per_line":
        text = "[\n" + ",\n".join(json.dumps(r) for r in items) + "\n]\n"
    elif layout == "pretty_printed":
        text = json.dumps(items, indent=2)
    elif layout == "single_line":
        text = json.dumps(items)
    else:
        text = "[]\n"
    path.write_text(text, encoding="utf-8")
    rs = load_response_set(path, "form")
    assert [json.loads(b) for b in rs.bodies] == items
    assert set(rs.by_id) == {r["responseId"] for r in items}


def test_the_cache_bound_decides_which_files_are_parsed_again(tmp_path, monkeypatch):
    """The parsed response files are kept up to ``cache_bytes`` (``--cache-mb``): under a
    small bound every request to an evicted form parses its file again; a bound that holds
    the network parses each file once (the benchmark's scale-out relies on it)."""
    from bsin_dev.emulator import store

    other = "1OtherFormAbcdefghijklmnopqrstuvwxyz012345678"
    data = write_data(write_data(tmp_path / "data", 50), 50, form_id=other)
    parsed: list[str] = []
    real = store.load_response_set

    def counting(path, form_id):
        parsed.append(form_id)
        return real(path, form_id)

    monkeypatch.setattr(store, "load_response_set", counting)
    for cache_bytes, parses in ((1, 6), (store.DEFAULT_CACHE_BYTES, 2)):
        parsed.clear()
        ds = store.DataStore(data, cache_bytes)
        for _ in range(3):
            assert len(ds.responses(FORM_ID)) == 50 and len(ds.responses(other)) == 50
        assert len(parsed) == parses, (cache_bytes, parsed)


def test_command_line_refuses_a_cache_below_one_megabyte():
    proc = subprocess.run(
        [sys.executable, "-m", "bsin_dev.emulator", "--data", str(SAMPLE_DIR), "--cache-mb", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--cache-mb must be >= 1" in proc.stderr
