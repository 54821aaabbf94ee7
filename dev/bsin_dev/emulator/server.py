"""HTTP server of the Forms API emulator (stdlib ``http.server``, no framework).

Implements the three read methods the pipeline uses, as documented in the Forms v1
discovery document:

* ``GET /v1/forms/{formId}`` (forms.get)
* ``GET /v1/forms/{formId}/responses`` (forms.responses.list: ``filter``, ``pageSize``,
  ``pageToken``)
* ``GET /v1/forms/{formId}/responses/{responseId}`` (forms.responses.get)

Errors use Google's JSON error body. A small admin API under ``/_emulator/`` arms faults
(see :mod:`bsin_dev.emulator.faults`) and exposes the request log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import socket
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from bsin.ingest.quota import API_ROUTE, OP_CLASS, Quotas, api_op
from bsin_dev.emulator.faults import STATUS_NAMES, Fault, FaultPlan
from bsin_dev.emulator.store import (
    DEFAULT_CACHE_BYTES,
    DataError,
    DataStore,
    ResponseSet,
    timestamp_ns,
)

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 5000
# The project number the emulator's 429 bodies name (Google prints the caller's).
PROJECT_NUMBER = "000000000000"
_ADMIN_RESPONSE = re.compile(r"^forms/([^/]+)/responses/([^/]+)$")
_FILTER = re.compile(r"^\s*timestamp\s*(>=|>)\s*(\S+)\s*$")
# Standard query parameters every Google API accepts besides a method's own.
_SYSTEM_PARAMS = {
    "alt",
    "prettyPrint",
    "fields",
    "key",
    "quotaUser",
    "access_token",
    "$.xgafv",
    "callback",
    "upload_protocol",
    "uploadType",
    "oauth_token",
}
_METHOD_PARAMS = {
    "forms.get": set(),
    "responses.get": set(),
    "responses.list": {"filter", "pageSize", "pageToken"},
}
# Page tokens are signed only to tell a real token from garbage; the key is not a secret.
_TOKEN_KEY = b"bsin-forms-emulator-page-token"


class ApiError(Exception):
    """An error to answer with Google's JSON error body."""

    def __init__(self, code: int, message: str | None = None, details: list[dict] | None = None):
        status, default = STATUS_NAMES.get(code, ("UNKNOWN", "Error."))
        super().__init__(message or default)
        self.code, self.status, self.message = code, status, message or default
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def quota_error(op: str, scope: str, limit: int, quotas: Quotas) -> ApiError:
    """Google's 429 for an exhausted per-minute quota: message, ErrorInfo and Help details."""
    c = quotas.classes[OP_CLASS[op]]
    per = "per minute per user" if scope == "user" else "per minute"
    limit_name = c.label.title().replace(" ", "") + (
        "PerMinutePerUser" if scope == "user" else "PerMinutePerProject"
    )
    message = (
        f"Quota exceeded for quota metric '{c.label}' and limit '{c.label} {per}' of service "
        f"'forms.googleapis.com' for consumer 'project_number:{PROJECT_NUMBER}'."
    )
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "consumer": f"projects/{PROJECT_NUMBER}",
                "quota_limit": limit_name,
                "quota_limit_value": str(limit),
                "quota_location": "global",
                "quota_metric": c.metric,
                "quota_unit": "1/min/{project}/{user}" if scope == "user" else "1/min/{project}",
                "service": "forms.googleapis.com",
            },
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Request a higher quota limit.",
                    "url": "https://cloud.google.com/docs/quotas/help/request_increase",
                }
            ],
        },
    ]
    return ApiError(429, message, details)


class QuotaMeter:
    """Google's per-minute quotas as sliding logs per (class, project) and (class, user).

    A refused request does not use quota. The emulator serves one project; the user is the
    caller's credential (the bearer token), and every anonymous call is the same user.
    """

    def __init__(self, quotas: Quotas):
        self.quotas = quotas
        self._lock = threading.Lock()
        self._logs: dict[tuple[str, str], deque[float]] = {}

    def admit(self, op: str, user: str, now: float) -> ApiError | None:
        """None when ``op`` is within quota at ``now`` (and counted), else the 429 to send."""
        c = self.quotas.classes[OP_CLASS[op]]
        window = self.quotas.window_seconds
        checks = (("user", (c.name, "user:" + user), c.per_user),
                  ("project", (c.name, "project"), c.per_project))  # fmt: skip
        with self._lock:
            for scope, key, limit in checks:
                log_ = self._logs.setdefault(key, deque())
                while log_ and log_[0] <= now - window:
                    log_.popleft()
                if len(log_) >= limit:
                    return quota_error(op, scope, limit, self.quotas)
            for _, key, _ in checks:
                self._logs[key].append(now)
        return None


def encode_page_token(form_id: str, filter_text: str, offset: int) -> str:
    """Opaque token for the page starting ``offset`` responses after the filter's first match."""
    payload = json.dumps({"f": form_id, "q": filter_text, "o": offset}, separators=(",", ":"))
    raw = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=")
    sig = base64.urlsafe_b64encode(hmac.new(_TOKEN_KEY, raw, hashlib.sha256).digest()[:12])
    return (raw + b"." + sig).decode()


def decode_page_token(token: str, form_id: str, filter_text: str) -> int:
    """Offset in ``token``; ApiError 400 when it is garbage or was made for another request."""
    try:
        raw, sig = token.encode("ascii").split(b".")
        good = base64.urlsafe_b64encode(hmac.new(_TOKEN_KEY, raw, hashlib.sha256).digest()[:12])
        if not hmac.compare_digest(sig, good):
            raise ValueError("bad signature")
        data = json.loads(base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)))
        offset = data["o"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError("bad offset")
    except (ValueError, KeyError, TypeError, UnicodeError):
        raise ApiError(400, "Invalid page token.") from None
    if data.get("f") != form_id or data.get("q") != filter_text:
        # The discovery document: "the form and the values of the filter must be the same
        # as for the original request".
        raise ApiError(
            400,
            "The page token does not match the request: the form ID and filter must not change.",
        )
    return offset


def parse_filter(text: str | None) -> tuple[str | None, int | None]:
    """``("timestamp", ">=" | ">", ns)`` of a filter, ApiError 400 for anything unsupported."""
    if text is None or text == "":
        return None, None
    m = _FILTER.match(text)
    if not m:
        raise ApiError(
            400,
            f"Invalid filter: {text!r}. Only 'timestamp > T' and 'timestamp >= T' with an "
            "RFC 3339 UTC timestamp are supported.",
        )
    try:
        return m.group(1), timestamp_ns(m.group(2))
    except ValueError:
        raise ApiError(
            400,
            f'Invalid filter: {text!r}. The timestamp must be RFC 3339 in UTC "Zulu" format, '
            "e.g. 2014-10-02T15:01:23Z or 2014-10-02T15:01:23.045123456Z.",
        ) from None


def parse_page_size(text: str | None) -> int:
    """Effective page size: 0 or absent means the maximum, larger values are capped."""
    if text is None or text == "":
        return MAX_PAGE_SIZE
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"Invalid value at 'page_size' (TYPE_INT32), \"{text}\"") from None
    if not -(2**31) <= value < 2**31:
        raise ApiError(400, f"Invalid value at 'page_size' (TYPE_INT32), \"{text}\"")
    if value < 0:
        raise ApiError(400, "page_size must not be negative.")
    return min(value, MAX_PAGE_SIZE) if value else MAX_PAGE_SIZE


_FIELDS_ITEM = re.compile(r"\s*([A-Za-z]+)\s*(?:\(([^()]*)\))?\s*(?:,|$)")
# Response fields the emulator can project without parsing the stored bodies.
_CHEAP_FIELDS = ("responseId", "lastSubmittedTime")


def parse_fields(text: str | None) -> dict[str, tuple[str, ...] | None] | None:
    """A ``fields`` mask of responses.list as ``{top-level field: subfields or None}``.

    Only the partial-response syntax a list call needs is understood (``a,b(c,d)``); None
    means "every field". Anything else is refused with 400 as Google refuses a bad mask.
    """
    if text is None or not text.strip():
        return None
    out: dict[str, tuple[str, ...] | None] = {}
    pos = 0
    while pos < len(text):
        m = _FIELDS_ITEM.match(text, pos)
        if not m or m.end() == pos:
            raise ApiError(400, f"Invalid field selection {text!r}.")
        name, sub = m.group(1), m.group(2)
        out[name] = tuple(f.strip() for f in sub.split(",") if f.strip()) if sub else None
        pos = m.end()
    unknown = set(out) - {"responses", "nextPageToken"}
    if unknown:
        raise ApiError(400, f"Invalid field selection {text!r}: unknown {sorted(unknown)}.")
    return out


def _format_ns(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    head = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return head + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"


def _project(rs: ResponseSet, index: int, subfields: tuple[str, ...] | None) -> bytes:
    if subfields is None:
        return rs.bodies[index]
    if set(subfields) <= set(_CHEAP_FIELDS):
        # Ids and times are kept next to the bodies: an id listing costs no JSON parsing.
        values = {
            "responseId": rs.ids[index],
            "lastSubmittedTime": _format_ns(rs.timestamps[index]),
        }
    else:
        values = json.loads(rs.bodies[index])
    return json.dumps({f: values[f] for f in subfields if f in values}).encode("utf-8")


def list_page(
    rs: ResponseSet,
    form_id: str,
    filter_text: str,
    page_size: int,
    token: str | None,
    fields: str | None = None,
) -> tuple[bytes, int, str | None]:
    """Body of one responses.list page, how many responses it holds and its next token.

    ``fields`` is the partial-response mask (e.g. ``nextPageToken,responses(responseId)``).
    """
    mask = parse_fields(fields)
    op, ts = parse_filter(filter_text)
    offset = decode_page_token(token, form_id, filter_text) if token else 0
    first = rs.first_index(op, ts)
    start = min(first + offset, len(rs))
    end = min(start + page_size, len(rs))
    if start == end:
        # proto3 JSON omits empty fields: an empty page is "{}".
        return b"{}", 0, None
    next_token = None
    if end < len(rs):
        next_token = encode_page_token(form_id, filter_text, end - first)
    if mask is None:
        items = rs.bodies[start:end]
    elif "responses" in mask:
        items = [_project(rs, i, mask["responses"]) for i in range(start, end)]
    else:
        items = None
    parts = [b'"responses":[' + b",".join(items) + b"]"] if items is not None else []
    if next_token and (mask is None or "nextPageToken" in mask):
        parts.append(b'"nextPageToken":' + json.dumps(next_token).encode())
    return b"{" + b",".join(parts) + b"}", end - start, next_token


class EmulatorState:
    """What the request handlers share: data, faults, request log."""

    def __init__(
        self,
        data_dir: str | Path,
        quotas: Quotas | None = None,
        page_cap: int | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ):
        self.store = DataStore(data_dir, cache_bytes)
        self.page_cap = page_cap
        self.faults = FaultPlan()
        self.quota = QuotaMeter(quotas) if quotas else None
        self.stopping = threading.Event()
        self._log_lock = threading.Lock()
        self.log: list[dict[str, Any]] = []

    def record(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self.log.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self.log)

    def reset_requests(self) -> None:
        with self._log_lock:
            self.log.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httplib2 expects
    server_version = "bsin-forms-emulator/1.0"
    timeout = 60  # idle keep-alive connections end eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
        # and the client's delayed ACK add ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s - " + format, self.address_string(), *args)

    # -- plumbing -------------------------------------------------------------------------

    def _send(self, code: int, body: bytes, content_type: str = "application/json; charset=UTF-8"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, code: int, data: Any) -> None:
        self._send(code, json.dumps(data, ensure_ascii=False).encode("utf-8"))

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"request body is not JSON: {exc}") from None

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            if url.path.startswith("/_emulator/"):
                self._admin(method, url.path.removeprefix("/_emulator/"))
            else:
                self._api(method, url.path, url.query)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its timeout hit during a delay fault): nothing to answer.
            self.close_connection = True

    # -- admin ----------------------------------------------------------------------------

    def _admin(self, method: str, what: str) -> None:
        state = self.server.state
        try:
            if what == "health" and method == "GET":
                self._send_json(200, {"ok": True, "forms": state.store.form_ids()})
            elif what == "faults" and method == "GET":
                self._send_json(200, {"faults": state.faults.pending()})
            elif what == "faults" and method == "POST":
                body = self._read_json()
                faults = body.get("faults", body) if isinstance(body, dict) else body
                try:
                    state.faults.set(faults)
                except ValueError as exc:
                    raise ApiError(400, str(exc)) from None
                self._send_json(200, {"faults": state.faults.pending()})
            elif what == "faults" and method == "DELETE":
                state.faults.clear()
                self._send_json(200, {"faults": []})
            elif what == "preload" and method == "POST":
                # Parse data files now, outside a measured pull and without using quota.
                body = self._read_json()
                forms = body.get("forms") if isinstance(body, dict) else None
                if not isinstance(forms, list):
                    raise ApiError(400, 'preload needs {"forms": [formId, ...]}')
                for form_id in forms:
                    state.store.responses(str(form_id))
                self._send_json(200, {"preloaded": len(forms)})
            elif what == "requests" and method == "GET":
                entries = state.requests()
                counts = Counter(f"{e['op']} {e['form_id']}" for e in entries)
                self._send_json(200, {"requests": entries, "counts": dict(counts)})
            elif what == "requests" and method == "DELETE":
                state.reset_requests()
                self._send_json(200, {"requests": []})
            elif (m := _ADMIN_RESPONSE.match(what)) and method == "DELETE":
                # Google Forms has no API to delete a response (a form owner deletes it in
                # the UI); tests simulate that here.
                form_id, response_id = unquote(m.group(1)), unquote(m.group(2))
                if not state.store.delete_response(form_id, response_id):
                    raise ApiError(404, f"form {form_id} has no response {response_id}")
                self._send_json(200, {"deleted": response_id})
            else:
                raise ApiError(404, f"no admin endpoint {method} /_emulator/{what}")
        except ApiError as err:
            self._send_json(err.code, err.body())

    # -- API ------------------------------------------------------------------------------

    def _api(self, method: str, path: str, query: str) -> None:
        state = self.server.state
        started = time.perf_counter()
        arrived = time.time()
        m = API_ROUTE.match(path)
        op = api_op(path)
        form_id = response_id = None
        if m:
            form_id = unquote(m.group(1))
            response_id = unquote(m.group(3)) if m.group(3) else None
        entry: dict[str, Any] = {
            "op": op or "unknown",
            "form_id": form_id,
            "path": path,
            "fields": None,
            "filter": None,
            "page_size": None,
            "page_token": False,
            "fault": None,
            "returned": 0,
            "status": None,
            "t": arrived,
            "user": self._user(),
        }
        fault: Fault | None = None
        body = b""
        try:
            if op is None or method != "GET":
                raise ApiError(404, f"Method not found: {method} {path}")
            if state.quota and (refused := state.quota.admit(op, entry["user"], arrived)):
                raise refused
            params = self._params(op, query)
            entry.update(
                fields=params.get("fields"),
                filter=params.get("filter"),
                page_size=params.get("pageSize"),
                page_token=bool(params.get("pageToken")),
            )
            fault = state.faults.take(op, form_id)
            entry["fault"] = fault.kind if fault else None
            if fault and fault.kind == "status":
                raise ApiError(fault.status)
            if fault and fault.kind == "delay":
                state.stopping.wait(fault.seconds)
            body, entry["returned"] = self._result(op, form_id, response_id, params, fault)
            entry["status"] = 200
        except ApiError as err:
            entry["status"] = err.code
            body = json.dumps(err.body(), ensure_ascii=False).encode("utf-8")
        except DataError as exc:
            # A broken data file is the emulator operator's problem: say which file.
            log.error("%s", exc)
            entry["status"] = 500
            body = json.dumps(ApiError(500, str(exc)).body(), ensure_ascii=False).encode("utf-8")
        # Logged before answering: a client that checks the log right after its response
        # must find its request there.
        entry["seconds"] = round(time.perf_counter() - started, 6)
        state.record(entry)
        if entry["status"] != 200:
            self._send(entry["status"], body)
        elif fault and fault.kind == "drop":
            self._send_dropped(body)
        elif fault and fault.kind == "malformed":
            self._send(200, body[: max(1, len(body) // 2)])
        else:
            self._send(200, body)

    def _user(self) -> str:
        # The quota's "user": a hash of the bearer token, never the token itself.
        auth = self.headers.get("Authorization") or ""
        if not auth.lower().startswith("bearer "):
            return "anonymous"
        return "token:" + hashlib.sha256(auth[7:].strip().encode()).hexdigest()[:12]

    def _params(self, op: str, query: str) -> dict[str, str]:
        params: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key in params:
                raise ApiError(400, f"Parameter {key!r} given more than once.")
            if key not in _METHOD_PARAMS[op] and key not in _SYSTEM_PARAMS:
                raise ApiError(
                    400,
                    f'Invalid JSON payload received. Unknown name "{key}": Cannot bind query '
                    f"parameter. Field '{key}' could not be found in request message.",
                )
            params[key] = value
        if params.get("alt", "json") != "json":
            raise ApiError(
                400, f"Unsupported alt={params['alt']!r}: the emulator speaks JSON only."
            )
        return params

    def _result(
        self,
        op: str,
        form_id: str,
        response_id: str | None,
        params: dict[str, str],
        fault: Fault | None,
    ) -> tuple[bytes, int]:
        store = self.server.state.store
        if op == "forms.get":
            body = store.form(form_id)
            if body is None:
                raise ApiError(404)
            return body, 1
        rs = store.responses(form_id)
        if rs is None:
            raise ApiError(404)
        if op == "responses.get":
            idx = rs.by_id.get(response_id or "")
            if idx is None:
                raise ApiError(404)
            return rs.bodies[idx], 1
        filter_text = params.get("filter", "")
        page_size = parse_page_size(params.get("pageSize"))
        if self.server.state.page_cap:
            # Google may return fewer than pageSize: a client must follow nextPageToken.
            page_size = min(page_size, self.server.state.page_cap)
        body, count, next_token = list_page(
            rs, form_id, filter_text, page_size, params.get("pageToken"), params.get("fields")
        )
        if fault and fault.kind == "bad_page_token" and next_token:
            body = body.replace(next_token.encode(), next_token[:-4].encode() + b"XXXX")
        return body, count

    def _send_dropped(self, body: bytes) -> None:
        # Promise the whole body, send half, hang up: the client sees an incomplete read.
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: EmulatorState):
        self.state = state
        super().__init__(address, _Handler)


class EmulatorHandle:
    """A running emulator: ``url`` to point a client at, ``stop()`` to end it.

    Tests also use it to arm faults, read the request log and swap the served data.
    """

    def __init__(self, server: _Server, thread: threading.Thread):
        self._server, self._thread = server, thread
        self.state = server.state
        host, port = server.server_address[:2]
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}/"

    def stop(self) -> None:
        """Stop serving and close the listening socket (idempotent)."""
        self.state.stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_faults(self, faults: list[dict[str, Any]] | dict[str, Any]) -> None:
        """Arm faults (see :mod:`bsin_dev.emulator.faults`), replacing those armed before."""
        self.state.faults.set(faults)

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self.state.faults.clear()

    def pending_faults(self) -> list[dict[str, Any]]:
        """Faults that have not fired as often as asked."""
        return self.state.faults.pending()

    def requests(self) -> list[dict[str, Any]]:
        """Every API request so far: op, form_id, status, fault, filter, returned, seconds."""
        return self.state.requests()

    def reset_requests(self) -> None:
        """Empty the request log."""
        self.state.reset_requests()

    def call_counts(self) -> Counter[tuple[str, str | None]]:
        """API calls per ``(op, form_id)``, e.g. for "calls per country-month"."""
        return Counter((e["op"], e["form_id"]) for e in self.state.requests())

    def set_data_dir(self, data_dir: str | Path) -> None:
        """Serve another data directory from the next request on."""
        self.state.store.set_data_dir(data_dir)

    def delete_response(self, form_id: str, response_id: str) -> None:
        """Delete one response, as a form owner does in Google Forms (KeyError if unknown)."""
        if not self.state.store.delete_response(form_id, response_id):
            raise KeyError(f"form {form_id} has no response {response_id}")

    def invalidate(self) -> None:
        """Re-read every data file on the next request (after editing files in place)."""
        self.state.store.invalidate()


def start_emulator(
    data_dir: str | Path,
    port: int = 0,
    host: str = "127.0.0.1",
    quotas: Quotas | None = None,
    page_cap: int | None = None,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> EmulatorHandle:
    """Serve ``data_dir`` in a background thread; ``port=0`` picks a free port.

    ``quotas`` (e.g. ``bsin.ingest.quota.GOOGLE_QUOTAS``, or ``.scaled(0.1)`` in tests) makes it
    answer 429 past Google's per-minute limits; None (default in-process) enforces none.
    ``page_cap`` returns at most that many responses per page, whatever ``pageSize`` asks.
    ``cache_bytes`` bounds the parsed response files kept in memory (least recently used
    go first; an evicted file is parsed again on its next request).
    """
    state = EmulatorState(data_dir, quotas, page_cap, cache_bytes)
    server = _Server((host, port), state)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="forms-emulator",
        daemon=True,
    )
    thread.start()
    handle = EmulatorHandle(server, thread)
    log.info("Forms API emulator serving %s at %s", data_dir, handle.url)
    return handle
