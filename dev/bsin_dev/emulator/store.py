"""Forms and responses the emulator serves, read from a data directory.

Layout: ``<dir>/forms/<formId>.json`` holds one Form resource, ``<dir>/responses/<formId>.json``
a JSON list of FormResponse. Files are re-read when they change, so a test can edit a form
between two runs to simulate a partner changing it.

Responses are kept as pre-serialised JSON bytes next to their sort keys rather than as
dicts: a benchmark form with 25,000 responses then costs a few MB of memory, and a 5,000
response page is a join of bytes instead of a json.dumps of 5,000 dicts.
"""

from __future__ import annotations

import bisect
import calendar
import gc
import hashlib
import json
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

FORM_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$")
# Files this small are compared by content hash too: a rewrite within the file system's
# timestamp granularity with the same size would otherwise go unnoticed.
_HASH_LIMIT = 4 * 1024 * 1024


class DataError(ValueError):
    """A data file is unreadable or not what the emulator expects; the message names it."""


def timestamp_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 UTC ``Z`` timestamp; ValueError otherwise.

    Integer nanoseconds keep ``timestamp > T`` exact at the precision Google documents
    (``2014-10-02T15:01:23.045123456Z``), which ``datetime`` (microseconds) cannot.
    """
    m = _TS_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not an RFC 3339 UTC timestamp like 2023-03-01T10:00:00Z")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and h < 24 and mi < 60):
        raise ValueError(f"{text!r} is not a valid date and time")
    if s > 59:
        raise ValueError(f"{text!r} is not a valid date and time")
    frac = (m.group(7) or "").ljust(9, "0")
    return calendar.timegm((y, mo, d, h, mi, s)) * 1_000_000_000 + int(frac or 0)


@dataclass(frozen=True)
class ResponseSet:
    """One form's responses sorted by (lastSubmittedTime, responseId)."""

    timestamps: list[int]
    bodies: list[bytes]
    by_id: dict[str, int]
    nbytes: int = 0

    @property
    def ids(self) -> list[str]:
        """Response ids in list order (built on first use)."""
        cached = self.__dict__.get("_ids")
        if cached is None:
            cached = [""] * len(self.bodies)
            for rid, idx in self.by_id.items():
                cached[idx] = rid
            object.__setattr__(self, "_ids", cached)
        return cached

    def __len__(self) -> int:
        return len(self.bodies)

    def first_index(self, op: str | None, ts: int | None) -> int:
        """Index of the first response passing ``timestamp <op> ts`` (0 without a filter)."""
        if op is None or ts is None:
            return 0
        if op == ">=":
            return bisect.bisect_left(self.timestamps, ts)
        return bisect.bisect_right(self.timestamps, ts)


def _file_key(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    key: tuple = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
    if st.st_size <= _HASH_LIMIT:
        key += (hashlib.blake2b(path.read_bytes(), digest_size=16).digest(),)
    return key


def _load_json(path: Path) -> object:
    try:
        return json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            f"{path}: cannot read emulator data: {exc}; fix or regenerate the file"
        ) from None


def read_responses(path: Path) -> tuple[object, list[bytes] | None]:
    """A responses file's parsed content, plus each entry's raw JSON when it is one per line.

    The generators write one response per line; then every line is parsed on its own and its
    bytes are served as they are, which saves re-serialising 25,000 responses of a benchmark
    form. Any other layout (e.g. pretty-printed by hand) is parsed as a whole.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read emulator data: {exc}") from None
    # Parsing builds hundreds of thousands of containers; collecting garbage in between
    # only rescans them (the parse creates no cycles).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        inner = raw.strip()
        if inner.startswith(b"[") and inner.endswith(b"]"):
            body = inner[1:-1].strip()
            parts = [p.strip() for p in body.split(b",\n")] if body else []
            try:
                items = [json.loads(p) for p in parts]
            except (json.JSONDecodeError, UnicodeDecodeError):
                items = None
            if items is not None and all(isinstance(i, dict) for i in items):
                return items, parts
        try:
            return json.loads(raw), None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(
                f"{path}: cannot read emulator data: {exc}; fix or regenerate the file"
            ) from None
    finally:
        if gc_was_enabled:
            gc.enable()


def load_response_set(path: Path, form_id: str) -> ResponseSet:
    """A responses file as a ResponseSet, parsing one entry at a time when it is one per line.

    The file is read line by line and each entry's dict lives only while its sort keys are
    read: a 225,000-response benchmark form then costs its bytes once, not the file's bytes
    several times over nor hundreds of MB of parsed objects (docs/performance.md). Any
    other layout is parsed whole (read_responses), as before.
    """
    try:
        parts = _entry_lines(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read emulator data: {exc}") from None
    if parts is None:
        return build_response_set(path, form_id, *read_responses(path))
    keys: list[dict] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as in read_responses: the parses create no cycles
    try:
        for part in parts:
            try:
                item = json.loads(part)
            except (json.JSONDecodeError, UnicodeDecodeError):
                item = None
            if not isinstance(item, dict):
                return build_response_set(path, form_id, *read_responses(path))
            keys.append({k: item[k] for k in _KEY_FIELDS if k in item})
    finally:
        if gc_was_enabled:
            gc.enable()
    return build_response_set(path, form_id, keys, parts)


def _entry_lines(path: Path) -> list[bytes] | None:
    """The entries of a ``[`` / one entry per line / ``]`` file, or None for another layout."""
    parts: list[bytes] = []
    with path.open("rb") as f:
        for first in f:
            if first.strip():
                break
        else:
            return None
        head = first.strip()
        if head == b"[]":
            return parts
        if head != b"[":
            return None
        closed = False
        for line in f:
            entry = line.strip()
            if not entry:
                continue
            if closed:
                return None  # something after the closing bracket
            if entry == b"]":
                closed = True
                continue
            parts.append(entry[:-1] if entry.endswith(b",") else entry)
    return parts if closed else None


_KEY_FIELDS = ("responseId", "lastSubmittedTime", "formId")


def build_response_set(
    path: Path, form_id: str, items: object, raw: list[bytes] | None = None
) -> ResponseSet:
    """Sort and serialise a responses file's content; DataError names the bad entry.

    ``raw`` are the entries' JSON bytes when the caller already has them (one per item).
    """
    if not isinstance(items, list):
        raise DataError(f"{path}: expected a JSON list of FormResponse objects")
    keyed: list[tuple[int, str, bytes]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("responseId"), str):
            raise DataError(f"{path}: entry {i} has no responseId string")
        try:
            ts = timestamp_ns(item.get("lastSubmittedTime", ""))
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"{path}: entry {i} ({item['responseId']}): lastSubmittedTime {exc}"
            ) from None
        if item.get("formId", form_id) != form_id:
            raise DataError(
                f"{path}: entry {i} ({item['responseId']}) has formId {item['formId']!r}, "
                f"expected {form_id!r}: move it to the right file"
            )
        if raw is not None:
            body = raw[i]
        else:
            body = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        keyed.append((ts, item["responseId"], body))
    # Sorting on (time, id) gives every page request the same order, so offsets in page
    # tokens stay meaningful between requests.
    keyed.sort(key=lambda t: (t[0], t[1]))
    by_id: dict[str, int] = {}
    for idx, (_, rid, _) in enumerate(keyed):
        if rid in by_id:
            raise DataError(
                f"{path}: responseId {rid!r} appears twice; keep the latest version only"
            )
        by_id[rid] = idx
    bodies = [t[2] for t in keyed]
    return ResponseSet([t[0] for t in keyed], bodies, by_id, sum(map(len, bodies)))


#: Parsed response files kept in memory by default (``--cache-mb``): enough for the sample
#: and the benchmark's month-by-month feed. A network's whole history needs more, or every
#: request to an evicted form parses its file again (docs/performance.md, scale-out).
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024


class DataStore:
    """Thread-safe, change-aware reader of an emulator data directory.

    Parsed response sets are cached least-recently-used up to ``cache_bytes`` so that a
    benchmark network of a million responses does not have to fit in memory at once.
    """

    def __init__(self, data_dir: str | os.PathLike[str], cache_bytes: int = DEFAULT_CACHE_BYTES):
        self._lock = threading.RLock()
        self._cache_bytes = cache_bytes
        self.set_data_dir(data_dir)

    @property
    def data_dir(self) -> Path:
        return self._dir

    def set_data_dir(self, data_dir: str | os.PathLike[str]) -> None:
        """Serve another directory from the next request on (tests swap data this way)."""
        path = Path(data_dir)
        if not path.is_dir():
            raise DataError(f"emulator data directory {path} does not exist")
        with self._lock:
            self._dir = path
            self._forms: dict[str, tuple[tuple, bytes]] = {}
            self._responses: OrderedDict[str, tuple[tuple, ResponseSet]] = OrderedDict()

    def invalidate(self) -> None:
        """Forget every cached file (they are re-read on the next request)."""
        self.set_data_dir(self._dir)

    def form_ids(self) -> list[str]:
        """IDs of every form in the data directory."""
        return sorted(p.stem for p in (self._dir / "forms").glob("*.json"))

    def form(self, form_id: str) -> bytes | None:
        """The Form resource as JSON bytes, or None when there is no such form."""
        if not FORM_ID_RE.match(form_id):
            return None
        path = self._dir / "forms" / f"{form_id}.json"
        key = _file_key(path)
        if key is None:
            return None
        with self._lock:
            cached = self._forms.get(form_id)
            if cached and cached[0] == key:
                return cached[1]
        data = _load_json(path)
        if not isinstance(data, dict):
            raise DataError(f"{path}: expected one Form object")
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with self._lock:
            self._forms[form_id] = (key, body)
        return body

    def delete_response(self, form_id: str, response_id: str) -> bool:
        """Remove one response from the form's data file, as deleting it in Google Forms does.

        The file is rewritten one response per line (the layout the generators write); the
        next request re-reads it. Returns False when the form has no such response.
        """
        if not FORM_ID_RE.match(form_id):
            return False
        path = self._dir / "responses" / f"{form_id}.json"
        with self._lock:
            if not path.exists():
                return False
            items, _ = read_responses(path)
            if not isinstance(items, list):
                raise DataError(f"{path}: expected a JSON list of FormResponse objects")
            kept = [
                r for r in items if not (isinstance(r, dict) and r.get("responseId") == response_id)
            ]
            if len(kept) == len(items):
                return False
            lines = ",\n".join(json.dumps(r, ensure_ascii=False) for r in kept)
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(f"[\n{lines}\n]\n" if kept else "[]\n", encoding="utf-8")
            os.replace(tmp, path)
            self._responses.pop(form_id, None)
        return True

    def responses(self, form_id: str) -> ResponseSet | None:
        """The form's responses (empty when it has no responses file), None for no such form."""
        if self.form(form_id) is None:
            return None
        path = self._dir / "responses" / f"{form_id}.json"
        key = _file_key(path)
        if key is None:
            return ResponseSet([], [], {})
        with self._lock:
            cached = self._responses.get(form_id)
            if cached and cached[0] == key:
                self._responses.move_to_end(form_id)
                return cached[1]
        rs = load_response_set(path, form_id)
        with self._lock:
            self._responses[form_id] = (key, rs)
            self._responses.move_to_end(form_id)
            total = sum(r.nbytes for _, r in self._responses.values())
            while total > self._cache_bytes and len(self._responses) > 1:
                _, (_, old) = self._responses.popitem(last=False)
                total -= old.nbytes
        return rs
