"""Right to erasure: remove every trace of one member from the warehouse (``make forget``).

A member is named by their email (pseudonymised here with the pipeline's key, the address
itself is never stored or logged) or by their member id. What identifies their rows:

* raw landing (``raw_response``, ``raw_response_history``): the pipeline replaced the email
  by ``member_id`` inside the payload JSON (``bsin.pipeline._strip_email``), so payloads are
  searched for the id and each hit is confirmed by parsing it;
* harmonised rows (``feedback``, ``feedback_candidate``, ``self_assessment``): the
  ``member_id`` column; selections and needs by member; quarantine by the member's
  responses and by rows that name the member id in their reason or value.

Every response found leaves every table through ``bsin.ingest.reconcile.remove_responses`` (the
same removal as a response deleted at the source), then the marts are rebuilt, then every
text column of every table is searched for the member id: a hit stops with an error naming
the table and column. ``erasure_log`` records the erasure with a SHA-256 of the member id
(never the address or the id), and a later extract skips that member's responses when the
form still lists them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from bsin.ingest.pseudonymise import member_id as make_member_id
from bsin.ingest.reconcile import GONE_COLUMNS, remove_responses
from bsin.quality.expectations import MEMBER_ID_REGEX
from bsin.warehouse.db import Warehouse

log = logging.getLogger(__name__)

_TEXT_TYPES = ("text", "varchar", "character varying")
# Tables whose rows are keyed by member (deleted by member id after the responses went).
_MEMBER_TABLES = (
    "feedback_selection",
    "feedback",
    "feedback_candidate",
    "self_assessment_need",
    "self_assessment",
)


class ErasureError(RuntimeError):
    """The member cannot be (or was not completely) erased; the message says why."""


@dataclass
class ErasureResult:
    """What ``forget_member`` removed: rows per table (the address is never part of it)."""

    member_hash: str
    rows_removed: dict[str, int] = field(default_factory=dict)
    erased_at: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.rows_removed.values())


def member_hash(member: str) -> str:
    """SHA-256 (hex) of a member id: what ``erasure_log`` keeps instead of the member."""
    return hashlib.sha256(member.encode("utf-8")).hexdigest()


def response_member_hash(response: dict[str, Any], key: bytes) -> str | None:
    """``member_hash`` of the respondent of a FormResponse, None without an email."""
    email = response.get("respondentEmail") if isinstance(response, dict) else None
    if not isinstance(email, str) or not email.strip():
        return None
    return member_hash(make_member_id(email, key))


def forgotten_member_hashes(wh: Warehouse) -> set[str]:
    """Hashes of every erased member (empty before the erasure migration ran)."""
    if not wh.table_exists("erasure_log"):
        return set()
    return {r[0] for r in wh.query("select distinct member_hash from erasure_log")}


def resolve_member(*, email: str | None, member: str | None, key: bytes | None) -> str:
    """The member id to erase from exactly one of ``email`` / ``member``; ErasureError else."""
    if bool(email) == bool(member):
        raise ErasureError("give exactly one of EMAIL=<address> or MEMBER=<member id>")
    if member:
        member = member.strip()
        if not re.match(MEMBER_ID_REGEX, member):
            raise ErasureError(
                f"MEMBER={member!r} is not a member id: they look like m_ and 20 hex digits "
                "(the member_id column), or give EMAIL=<address> instead"
            )
        return member
    assert email is not None
    if "@" not in email or any(c.isspace() for c in email.strip()):
        raise ErasureError("EMAIL is not an email address: write it as name@domain.tld")
    if key is None:
        raise ErasureError("EMAIL needs the pseudonymisation key (BSIN_PSEUDONYM_KEY)")
    return make_member_id(email, key)


def _member_responses(wh: Warehouse, member: str) -> pd.DataFrame:
    """(form_id, response_id, country, form_kind) of every response of ``member``."""
    found: list[tuple] = []
    for table, cols in (
        ("raw_response", "form_id, response_id, country, form_kind, payload"),
        ("raw_response_history", "form_id, response_id, null, null, payload"),
    ):
        rows = wh.query(
            f"select {cols} from {table} where strpos(payload, :m) > 0",  # noqa: S608
            {"m": member},
        )
        for form_id, response_id, country, kind, payload in rows:
            try:
                landed = json.loads(payload).get("member_id")
            except (ValueError, AttributeError):
                landed = None
            # The id inside someone else's free text is not their response: confirm by key.
            if landed == member:
                found.append((form_id, response_id, country, kind))
    for table, kind in (
        ("feedback", "monthly"),
        ("feedback_candidate", "monthly"),
        ("self_assessment", "self_assessment"),
    ):
        rows = wh.query(
            f"select country, response_id from {table} where member_id = :m",  # noqa: S608
            {"m": member},
        )
        found.extend((None, rid, country, kind) for country, rid in rows)
    return pd.DataFrame(found, columns=GONE_COLUMNS).drop_duplicates()


def find_member_traces(wh: Warehouse, needle: str) -> list[tuple[str, str, int]]:
    """``(table, column, rows)`` of every text column of every table that contains ``needle``."""
    tables = [
        r[0]
        for r in wh.query(
            "select table_name from information_schema.tables"
            " where table_schema = current_schema() and table_catalog = current_database()"
            " and table_type = 'BASE TABLE' order by table_name"
        )
    ]
    hits = []
    for table in tables:
        for col, sql_type in wh.column_types(table).items():
            if sql_type.lower() not in _TEXT_TYPES:
                continue
            n = wh.query(
                f"select count(*) from {table} where strpos({col}, :n) > 0",  # noqa: S608
                {"n": needle},
            )[0][0]
            if n:
                hits.append((table, col, int(n)))
    return hits


#: Local run output that can quote rows: GX Data Docs pages (row-level results) and report
#: previews. Regenerated by the next validation / preview, so a file naming the member goes.
LOCAL_OUTPUT_DIRS = ("gx/data_docs", "preview")


def scrub_local_files(member: str, root: Path | None = None) -> int:
    """Delete files under ``root`` (default data_dir()) LOCAL_OUTPUT_DIRS naming ``member``."""
    from bsin.core.paths import data_dir

    root = root or data_dir()
    needle = member.encode("utf-8")
    removed = 0
    for sub in LOCAL_OUTPUT_DIRS:
        folder = root / sub
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                path.unlink()
                removed += 1
    return removed


def forget_member(
    wh: Warehouse,
    member: str,
    *,
    rebuild_marts: Callable[[], Any] | None = None,
    files_root: Path | None = None,
) -> ErasureResult:
    """Remove every row of ``member`` from every table, rebuild the marts, log the erasure.

    ``rebuild_marts`` (default: the marts build on ``wh``) runs after the removal commits.
    Local output files that name the member (``scrub_local_files`` under ``files_root``,
    default data_dir()) are deleted too. Raises ErasureError, with nothing of the erasure
    logged, when a trace remains.
    """
    digest = member_hash(member)
    result = ErasureResult(member_hash=digest)
    with wh.transaction():
        gone = _member_responses(wh, member)
        result.rows_removed = remove_responses(wh, gone)
        for table in _MEMBER_TABLES:
            n = wh.execute(
                f"delete from {table} where member_id = :m",  # noqa: S608 (fixed names)
                {"m": member},
            )
            result.rows_removed[table] = result.rows_removed.get(table, 0) + max(n, 0)
        n = wh.execute(
            "delete from quarantine where strpos(reason, :m) > 0 or strpos(value, :m) > 0",
            {"m": member},
        )
        result.rows_removed["quarantine"] = result.rows_removed.get("quarantine", 0) + max(n, 0)
    if rebuild_marts is None:
        from bsin.warehouse.dbt_project import build_marts

        build_marts(wh)
    else:
        rebuild_marts()
    left = find_member_traces(wh, member)
    if left:
        where = ", ".join(f"{t}.{c} ({n} rows)" for t, c, n in left)
        raise ErasureError(
            f"the member id still occurs in {where}: the erasure is incomplete; add that "
            "table to bsin.warehouse.erasure and run make forget again"
        )
    files = scrub_local_files(member, files_root)
    if files:
        result.rows_removed["local_files"] = files
    result.erased_at = datetime.now(UTC).replace(tzinfo=None)
    result.rows_removed = {t: n for t, n in sorted(result.rows_removed.items()) if n}
    wh.insert(
        "erasure_log",
        pd.DataFrame(
            [
                {
                    "erased_at": result.erased_at,
                    "member_hash": digest,
                    "rows_removed": json.dumps(result.rows_removed, sort_keys=True),
                    "total_removed": result.total,
                }
            ]
        ),
    )
    log.info("member erased (hash %s…): %s", digest[:12], result.rows_removed)
    return result
