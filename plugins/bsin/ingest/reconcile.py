"""Responses keyed by their form, and responses that leave the warehouse.

Google's ``responseId`` is unique within one form only, so every landed table is keyed by
the form (raw tables) or by country and form kind (harmonised tables, one form per country
and kind). Three things here:

* ``quarantine_clashes``: a landing that would make one form's response belong to two
  places (the form configured for another country or kind than the one it was landed for,
  or the same id now naming a different response: another ``createTime``) is quarantined
  with its reason; the row landed first is never replaced or deleted;
* ``reconcile_deleted``: landed responses that the form no longer lists were deleted in
  Google Forms (a test or duplicate answer, a member's request at the source) and leave
  every table, each recorded in ``response_removed``;
* ``remove_responses``: the one removal used by both reconciliation and erasure
  (``bsin.warehouse.erasure``): raw landing, history, feedback, selections, candidates,
  self-assessments and quarantine (include/sql/load/response_remove.sql).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

import pandas as pd

from bsin.core.paths import SQL_DIR
from bsin.warehouse.db import Warehouse, split_statements

log = logging.getLogger(__name__)

GONE_COLUMNS = ["form_id", "response_id", "country", "form_kind"]
REMOVED_COLUMNS = [
    "form_id",
    "response_id",
    "country",
    "form_kind",
    "report_month",
    "removed_at",
    "reason",
]
REMOVE_SQL = SQL_DIR / "load" / "response_remove.sql"
#: Quarantine rule of a response id that two places claim.
CLASH_RULE = "response_id_clash"
DELETED_AT_SOURCE = "deleted in Google Forms: the form no longer lists it"
_DELETE_FROM = re.compile(r"delete\s+from\s+([a-z_]+)", re.IGNORECASE)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def remove_responses(wh: Warehouse, gone: pd.DataFrame) -> dict[str, int]:
    """Delete the responses in ``gone`` (GONE_COLUMNS) from every table; rows per table.

    Runs inside the caller's transaction when there is one. ``form_id`` may be None for a
    response known only from a harmonised table (its raw rows are then matched elsewhere).
    """
    counts: dict[str, int] = {}
    if gone.empty:
        return counts
    wh.replace_staging("response_gone", gone[GONE_COLUMNS].drop_duplicates())
    text = REMOVE_SQL.read_text(encoding="utf-8")
    with wh.transaction():
        for stmt in split_statements(text):
            code = "\n".join(
                line for line in stmt.splitlines() if not line.lstrip().startswith("--")
            )
            table = _DELETE_FROM.search(code).group(1)
            n = wh.execute(stmt)
            counts[table] = counts.get(table, 0) + max(n, 0)
    return counts


# A landed row r that an incoming row (raw_response_incoming) clashes with; the same
# condition selects the clashes and then removes them from the staging table. Landed rows
# come from staging raw_response_landed: those sharing a response id's key with an incoming
# one (bsin.pipeline.extract), every row a clash can be with.
_CLASH_SELECT = """
select i.form_id, i.response_id, i.country, i.form_kind, i.report_month,
       r.form_id, r.country, r.form_kind, r.report_month, r.create_time, i.create_time
  from raw_response_incoming as i
  join raw_response_landed as r
    on r.response_id = i.response_id
   and ((r.form_id = i.form_id
         and (r.country <> i.country or r.form_kind <> i.form_kind
              or (r.create_time is not null and i.create_time is not null
                  and r.create_time <> i.create_time)))
     or (r.form_id <> i.form_id and r.country = i.country and r.form_kind = i.form_kind))
"""
_CLASH_DELETE = """
delete from raw_response_incoming as i
 where exists (
       select 1
         from raw_response_landed as r
        where r.response_id = i.response_id
          and ((r.form_id = i.form_id
                and (r.country <> i.country or r.form_kind <> i.form_kind
                     or (r.create_time is not null and i.create_time is not null
                         and r.create_time <> i.create_time)))
            or (r.form_id <> i.form_id and r.country = i.country and r.form_kind = i.form_kind))
 )
"""


def response_key(response_id: str) -> int:
    """The integer key of a response id in ``raw_response.response_key`` (migration 016).

    63 bits of a BLAKE2b hash, so it fits a signed BIGINT on both backends. It only narrows
    the comparison of incoming with landed responses to a few rows: two ids sharing a key
    are still told apart by the ids themselves.
    """
    digest = hashlib.blake2b(response_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def quarantine_clashes(wh: Warehouse) -> pd.DataFrame:
    """Take clashing rows out of staging ``raw_response_incoming``; their quarantine rows.

    Staging ``raw_response_landed`` holds the landed rows to compare with
    (``bsin.pipeline.extract._land_responses``).

    A clash: the (form, response id) is already landed for another country or form kind,
    or with another ``createTime`` (an edit keeps createTime, so this is a different
    response under a reused id); or the country's other form of the same kind (a partner
    who switched forms) already gave that id, which the harmonised tables, keyed by
    country and kind, could not tell apart. The landed row stays as it is.
    """
    rows = wh.query(_CLASH_SELECT)
    out = {}
    for row in rows:
        fid, rid, country, kind, month, l_fid, l_country, l_kind, l_month, l_created, created = row
        if l_fid != fid:
            reason = (
                f"response id {rid} of form {fid} was already landed for {country} {kind} "
                f"from form {l_fid} ({l_month:%Y-%m}); response ids must be unique per country "
                "and kind, so the landed response is kept"
            )
        elif (l_country, l_kind) != (country, kind):
            reason = (
                f"response {rid} of form {fid} is already landed for {l_country} {l_kind}: "
                f"a form belongs to one country and kind, so it is not counted for {country} "
                f"{kind} too; check the form ids in partners.yaml"
            )
        else:
            reason = (
                f"form {fid} returns another response (created {created:%Y-%m-%d %H:%M:%S}) "
                f"under id {rid}, landed for {l_month:%Y-%m} (created "
                f"{l_created:%Y-%m-%d %H:%M:%S}); the landed response is kept"
            )
        log.warning("%s %s: response %s quarantined: %s", country, kind, rid, reason)
        out[(country, kind, rid)] = {
            "country": country,
            "form_kind": kind,
            "report_month": month,
            "response_id": rid,
            "rule": CLASH_RULE,
            "field": "response_id",
            "reason": reason,
            "value": rid,
            "stage": "extract",
        }
    if out:
        wh.execute(_CLASH_DELETE)
    return pd.DataFrame(list(out.values()))


def reconcile_deleted(
    wh: Warehouse,
    *,
    form_id: str,
    listed_ids: Iterable[str],
    months: tuple[date, date] | None = None,
    reason: str = DELETED_AT_SOURCE,
) -> pd.DataFrame:
    """Remove the form's landed responses that ``listed_ids`` lacks; the removed rows.

    ``months`` limits the check to landed report months ``[first, last]`` (the listing must
    cover every response that can have landed there); None checks every landed response of
    the form. Each removal is recorded in ``response_removed``.
    """
    where = " where form_id = :form_id"
    params: dict = {"form_id": form_id}
    if months is not None:
        where += " and report_month between :first and :last"
        params.update(first=months[0], last=months[1])
    listed = set(listed_ids)
    # Ids first: nearly always every landed id is still listed, and then no row is built.
    landed_ids = wh.query(f"select response_id from raw_response{where}", params)  # noqa: S608 (constant text)
    if all(rid in listed for (rid,) in landed_ids):
        return pd.DataFrame(columns=REMOVED_COLUMNS)
    landed = wh.query_df(
        f"select form_id, response_id, country, form_kind, report_month from raw_response{where}",  # noqa: S608
        params,
    )
    gone = landed[~landed["response_id"].isin(listed)]
    removed = gone.assign(removed_at=_now(), reason=reason)[REMOVED_COLUMNS]
    with wh.transaction():
        if months is not None:
            # Before the rows go: the earlier months they leave are harmonised and
            # validated again in this run (docs/data-quality.md).
            wh.replace_staging("response_gone", gone[GONE_COLUMNS].drop_duplicates())
            wh.run_sql_file("load/month_revalidation_gone.sql", {"month": months[1]})
        counts = remove_responses(wh, gone)
        wh.insert("response_removed", removed)
    for r in removed.itertuples():
        log.warning(
            "%s %s response %s (%s) removed: %s",
            r.country,
            r.form_kind,
            r.response_id,
            f"{r.report_month:%Y-%m}",
            reason,
        )
    log.info("form %s: %d responses removed, rows per table %s", form_id, len(removed), counts)
    return removed
