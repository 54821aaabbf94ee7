"""Switchable faults of the emulator, for testing how the pipeline survives a bad API day.

A fault is a small dict (JSON over ``POST /_emulator/faults`` or ``EmulatorHandle.set_faults``):

``{"kind": "status", "status": 503, "count": 3}``
    the next 3 matching requests get HTTP 503 with a Google-style error body
    (429, 500, 502, 503, 504, 403, ... all work);
``{"kind": "delay", "seconds": 5}``
    the next matching request is answered only after 5 s (beyond the client's timeout);
``{"kind": "drop"}``
    the response's headers and half its body are sent, then the connection is closed;
``{"kind": "malformed"}``
    HTTP 200 with a truncated, unparseable JSON body;
``{"kind": "bad_page_token"}``
    the next matching list page carries a corrupted ``nextPageToken``, so the request for
    the following page is refused with 400 as Google refuses a stale token.

Optional keys on every fault: ``count`` (how many requests it hits, default 1), ``skip``
(let this many matching requests through first), ``op`` (``forms.get``,
``responses.list`` or ``responses.get``) and ``form_id`` to aim it at one form.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("status", "delay", "drop", "malformed", "bad_page_token")
OPS = ("forms.get", "responses.list", "responses.get")

# Google's canonical status names and messages for the codes a fault may return.
STATUS_NAMES = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    409: ("ABORTED", "The operation was aborted."),
    429: ("RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Read requests'."),
    500: ("INTERNAL", "Internal error encountered."),
    502: ("UNAVAILABLE", "Bad gateway."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "The request timed out."),
}


@dataclass
class Fault:
    """One armed fault; ``count`` goes down each time it fires."""

    kind: str
    count: int = 1
    skip: int = 0
    op: str | None = None
    form_id: str | None = None
    status: int = 503
    seconds: float = 0.0

    @classmethod
    def from_dict(cls, data: Any) -> Fault:
        """Validate a fault given as JSON; ValueError says which key is wrong and how to fix it."""
        if not isinstance(data, dict):
            raise ValueError(f"a fault must be a JSON object, got {data!r}")
        unknown = set(data) - {"kind", "count", "skip", "op", "form_id", "status", "seconds"}
        if unknown:
            raise ValueError(
                f"unknown fault key(s) {sorted(unknown)}: see bsin_dev.emulator.faults"
            )
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"fault kind {kind!r} is unknown: use one of {KINDS}")
        fault = cls(kind=kind)
        for key in ("count", "skip"):
            value = data.get(key, getattr(fault, key))
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"fault {key} must be a whole number >= 0, got {value!r}")
            setattr(fault, key, value)
        if data.get("op") is not None and data["op"] not in OPS:
            raise ValueError(f"fault op {data['op']!r} is unknown: use one of {OPS}")
        fault.op = data.get("op")
        fault.form_id = data.get("form_id")
        if kind == "status":
            status = data.get("status", 503)
            if status not in STATUS_NAMES:
                raise ValueError(
                    f"fault status {status!r} unsupported: use one of {sorted(STATUS_NAMES)}"
                )
            fault.status = status
        if kind == "delay":
            seconds = data.get("seconds")
            if (
                not isinstance(seconds, int | float)
                or isinstance(seconds, bool)
                or not 0 < seconds <= 600
            ):
                raise ValueError(f"delay fault needs seconds between 0 and 600, got {seconds!r}")
            fault.seconds = float(seconds)
        return fault

    def matches(self, op: str, form_id: str | None) -> bool:
        """Whether a request of ``op`` on ``form_id`` is one this fault aims at."""
        return (self.op is None or self.op == op) and (
            self.form_id is None or self.form_id == form_id
        )


class FaultPlan:
    """The armed faults, consulted once per API request (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def set(self, faults: list[dict[str, Any]] | dict[str, Any]) -> None:
        """Replace the plan; every fault is validated before any is armed."""
        items = faults if isinstance(faults, list) else [faults]
        parsed = [Fault.from_dict(f) for f in items]
        with self._lock:
            self._faults = parsed

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults = []

    def pending(self) -> list[dict[str, Any]]:
        """Faults that still have requests to hit, as dicts."""
        with self._lock:
            return [asdict(f) for f in self._faults if f.count > 0]

    def take(self, op: str, form_id: str | None) -> Fault | None:
        """The fault that hits this request, if any (its count is used up by one)."""
        fired: Fault | None = None
        with self._lock:
            for fault in self._faults:
                if fault.count <= 0 or not fault.matches(op, form_id):
                    continue
                if fault.skip > 0:
                    # Every armed fault "sees" the request, so skips count requests, not turns.
                    fault.skip -= 1
                    continue
                if fired is None:
                    fault.count -= 1
                    fired = Fault(**asdict(fault))
            self._faults = [f for f in self._faults if f.count > 0]
        return fired
