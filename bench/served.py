"""The benchmark's data source: a cached synthetic network, released month by month to an
emulator running as its own process.

``responses.list`` has no upper time bound, so a run for month M reads every response
submitted since M began. In production the run happens a few days after M ends and the
API holds nothing later; a benchmark that served all ten months at once would make the
first month's run pull all ten. :class:`ServedNetwork` therefore keeps the emulator's view
"as of" the current run: before month M it appends to the served files exactly the
responses submitted by the end of M's window (grace days included), which is what the
Forms API would hold when the monthly DAG runs.
"""

from __future__ import annotations

import array
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATOR_SOURCES = ("dev/bsin_dev/sample_data.py", "dev/bsin_dev/sample_texts.py")
_TS = re.compile(rb'"lastSubmittedTime":"([^"]+)"')
_FIXED_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@dataclass(frozen=True)
class NetworkSpec:
    """Size of the synthetic network."""

    countries: int
    members: int
    months: int
    response_rate: float = 0.9

    @property
    def key(self) -> str:
        return f"net-c{self.countries}-m{self.members}-mo{self.months}-r{self.response_rate:g}"


def generator_fingerprint() -> str:
    """Hash of the generator's source: cached data is rebuilt when the generator changes."""
    h = hashlib.sha256()
    for rel in GENERATOR_SOURCES:
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()[:16]


def ensure_network(spec: NetworkSpec, data_root: Path, log) -> tuple[Path, dict, bool]:
    """The generated network's folder and summary; generated only when not cached."""
    from bsin_dev.sample_data import generate_network

    from bsin.core import paths

    out = data_root / spec.key
    marker = out / "network.json"
    fingerprint = generator_fingerprint()
    if marker.exists():
        meta = json.loads(marker.read_text())
        if meta.get("fingerprint") == fingerprint:
            return out, meta, True
    log(f"generating {spec} into {out} ...")
    # generate_network copies topics.yaml/signals.yaml from the configured folder: make sure
    # that is the project's own, not a previous benchmark's.
    saved = os.environ.pop("BSIN_CONFIG_DIR", None)
    try:
        assert paths.config_dir() == paths.INCLUDE / "config"
        s = generate_network(
            out, spec.countries, spec.members, spec.months, response_rate=spec.response_rate
        )
    finally:
        if saved is not None:
            os.environ["BSIN_CONFIG_DIR"] = saved
    meta = {
        "fingerprint": fingerprint,
        "countries": s.countries,
        "months": [m.isoformat() for m in s.months],
        "members_per_country": s.members_per_country,
        "monthly_responses": s.responses,
        "responses_by_form": s.responses_by_form,
        "generate_seconds": round(s.seconds, 3),
        "json_bytes": sum(p.stat().st_size for p in (out / "emulator" / "responses").iterdir()),
    }
    marker.write_text(json.dumps(meta, indent=1))
    return out, meta, False


def _split_entries(raw: bytes) -> list[bytes]:
    """Entries of a one-response-per-line JSON list (the layout the generator writes)."""
    inner = raw.strip()
    if not (inner.startswith(b"[") and inner.endswith(b"]")):
        raise ValueError("not a JSON list")
    body = inner[1:-1].strip()
    return [p.strip() for p in body.split(b",\n")] if body else []


def _utc_text(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


class ServedNetwork:
    """Serve ``network/emulator`` through ``served/``, releasing responses month by month."""

    def __init__(self, network: Path, served: Path, partners, months: list[date], grace_days: int):
        from bsin.core.months import month_window

        self.source = network / "emulator"
        self.served = served
        shutil.rmtree(served, ignore_errors=True)
        (served / "responses").mkdir(parents=True)
        shutil.copytree(self.source / "forms", served / "forms")
        # Per response file: byte ranges of its entries, bucketed by the first run month
        # whose window end (partner time zone) comes after the entry's lastSubmittedTime.
        self._buckets: dict[str, list[tuple[array.array, array.array]]] = {}
        self._counts: dict[str, int] = {}
        for partner in partners.partners:
            cutoffs = [_utc_text(month_window(m, partner.timezone, grace_days)[1]) for m in months]
            for kind in ("monthly", "self_assessment"):
                form_id = partner.form_id(kind)
                self._index(form_id, cutoffs)
                (served / "responses" / f"{form_id}.json").write_bytes(b"[\n]\n")
                self._counts[form_id] = 0
        self.released = -1

    def _index(self, form_id: str, cutoffs: list[str]) -> None:
        from bsin.core.months import parse_rfc3339

        raw = (self.source / "responses" / f"{form_id}.json").read_bytes()
        buckets = [(array.array("q"), array.array("q")) for _ in cutoffs]
        pos = raw.index(b"[") + 1
        for entry in _split_entries(raw):
            start = raw.index(entry, pos)
            pos = start + len(entry)
            m = _TS.search(entry)
            ts = m.group(1).decode() if m else ""
            if not _FIXED_TS.match(ts):
                ts = _utc_text(parse_rfc3339(ts))
            for i, cut in enumerate(cutoffs):
                if ts < cut:
                    buckets[i][0].append(start)
                    buckets[i][1].append(pos)
                    break
        self._buckets[form_id] = buckets

    def release_month(self, index: int) -> int:
        """Append the responses the API holds when month ``index``'s run starts; their count."""
        if index != self.released + 1:
            raise ValueError(f"months are released in order: {self.released + 1} next, not {index}")
        added = 0
        for form_id, buckets in self._buckets.items():
            starts, ends = buckets[index]
            if not len(starts):
                continue
            raw = (self.source / "responses" / f"{form_id}.json").read_bytes()
            chunk = b",\n".join(raw[s:e] for s, e in zip(starts, ends, strict=True))
            path = self.served / "responses" / f"{form_id}.json"
            with path.open("r+b") as fh:
                fh.seek(-3, os.SEEK_END)  # drop the closing "\n]\n"
                fh.write((b",\n" if self._counts[form_id] else b"\n") + chunk + b"\n]\n")
            self._counts[form_id] += len(starts)
            added += len(starts)
        self.released = index
        return added

    def response_files(self) -> list[Path]:
        """The full (all months) response files the served ones are cut from."""
        return sorted((self.source / "responses").glob("*.json"))


class EmulatorProcess:
    """``python -m bsin_dev.emulator`` in its own process, with its admin API at hand."""

    def __init__(self, data_dir: Path, env: dict[str, str], args: tuple[str, ...] = ()):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bsin_dev.emulator",
                "--data",
                str(data_dir),
                "--port",
                "0",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=ROOT,
        )
        line = self.proc.stdout.readline().strip() if self.proc.stdout else ""
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"the emulator did not start (printed {line!r})")
        self.url = line

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _call(self, method: str, path: str) -> dict:
        req = urllib.request.Request(self.url + path.lstrip("/"), method=method)
        with urllib.request.urlopen(req, timeout=300) as resp:
            return json.loads(resp.read() or b"{}")

    def warm(self, form_ids: list[str]) -> None:
        """Make the emulator parse the forms' files now, outside the measured pull.

        The real API does not re-read a file when responses arrive; the emulator does,
        on the first request after a file changed.
        """
        for form_id in form_ids:
            self._call("GET", f"v1/forms/{form_id}/responses?pageSize=1")

    def preload(self, form_ids: list[str]) -> None:
        """Parse the forms' files now, without an API call (which would use quota)."""
        body = json.dumps({"forms": form_ids}).encode()
        req = urllib.request.Request(
            self.url + "_emulator/preload", data=body, method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=300) as resp:
            resp.read()

    def reset_log(self) -> None:
        """Empty the request log."""
        self._call("DELETE", "_emulator/requests")

    def requests(self) -> list[dict]:
        """The request log since the last reset."""
        return self._call("GET", "_emulator/requests")["requests"]

    def stop(self) -> None:
        """Terminate the process (and wait for it)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
