"""Raw Forms API responses -> canonical rows, selections and quarantine (docs/data-quality.md).

Every response that comes in leaves either as exactly one canonical row or as one or more
quarantine rows, never both and never neither: ``responses in = rows + quarantined
responses`` (distinct response ids), always. Findings that do not reject a response (a
truncated long answer, an answer to a question the mapping does not know) are returned as
``notes`` with the same columns as the quarantine.

Respondent emails are turned into member ids here and never appear in any output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

import pandas as pd

from bsin.core.months import feedback_month_for
from bsin.reporting.text import (
    truncate,
)
from bsin.transform.answers import (
    REASON_LIMIT,
    Issue,
    ParseContext,
    ParsedResponse,
    parse_landed,
    parse_response,
    short_text,
)
from bsin.transform.landed import LandedPayloads, LandedResponse, decode
from bsin.transform.mapping import (
    FormMapping,
)
from bsin.transform.schema import (
    FEEDBACK_COLUMNS,
    FEEDBACK_DTYPES,
    NEED_COLUMNS,
    NEED_DTYPES,
    QUARANTINE_COLUMNS,
    QUARANTINE_DTYPES,
    SELECTION_COLUMNS,
    SELECTION_DTYPES,
    SELF_ASSESSMENT_COLUMNS,
    SELF_ASSESSMENT_DTYPES,
)


@dataclass(frozen=True)
class HarmoniseResult:
    """Output of one harmonisation: canonical rows, their set selections, quarantine, notes.

    For feedback ``rows`` has FEEDBACK_COLUMNS and ``selections`` SELECTION_COLUMNS; for the
    self-assessment SELF_ASSESSMENT_COLUMNS and NEED_COLUMNS. ``quarantine`` and ``notes``
    have QUARANTINE_COLUMNS. ``response_ids`` are the distinct ids that came in.
    """

    rows: pd.DataFrame
    # None for feedback: derived from ``rows`` when asked (see ``selections``).
    given_selections: pd.DataFrame | None
    quarantine: pd.DataFrame
    notes: pd.DataFrame
    response_ids: tuple[str, ...] = ()

    @cached_property
    def selections(self) -> pd.DataFrame:
        """The set selections of ``rows``, sorted by every column.

        Feedback selections are derived from the rows' ';'-joined set columns by
        :func:`feedback_selections`, and only when asked: the monthly task loads none of
        its own (validation's load derives the month's in SQL by the same rule).
        """
        if self.given_selections is not None:
            return self.given_selections
        sel = feedback_selections(self.rows).astype(SELECTION_DTYPES)
        return sel.sort_values(SELECTION_COLUMNS, kind="stable").reset_index(drop=True)

    @property
    def quarantined_ids(self) -> set[str]:
        """Distinct response ids with at least one quarantine row."""
        return set(self.quarantine["response_id"])

    def is_balanced(self) -> bool:
        """Every response id is either in ``rows`` (once) or in ``quarantine``, never both."""
        kept = list(self.rows["response_id"])
        return (
            len(kept) == len(set(kept))
            and not set(kept) & self.quarantined_ids
            and set(kept) | self.quarantined_ids == set(self.response_ids)
        )


def _latest_versions(
    responses: Iterable[Mapping[str, Any] | LandedResponse],
) -> list[Mapping[str, Any] | LandedResponse]:
    """One version per response id: an edited response comes back with a newer lastSubmittedTime."""
    by_id: dict[str, Mapping[str, Any]] = {}
    unnamed: list[Mapping[str, Any]] = []
    for r in responses:
        rid = str(r.get("responseId") or "").strip()
        if not rid:
            unnamed.append(r)
            continue
        previous = by_id.get(rid)
        if previous is None or str(r.get("lastSubmittedTime") or "") >= str(
            previous.get("lastSubmittedTime") or ""
        ):
            by_id[rid] = r
    return [by_id[rid] for rid in sorted(by_id)] + unnamed


def _deduplicate(parsed: list[ParsedResponse], group: str) -> None:
    """Keep the latest clean response per member and ``group``; mark the others duplicates.

    Only responses without other issues compete: a newer response quarantined for an
    unknown label must not push out an older clean one (fixing the mapping and re-running
    then lets the newer one win).
    """
    latest: dict[tuple[str, Any], ParsedResponse] = {}
    for p in parsed:
        if p.issues:
            continue
        key = (p.member_id or "", p.values.get(group) if group != "month" else p.month)
        best = latest.get(key)
        if best is None or (p.submitted_at, p.response_id) > (best.submitted_at, best.response_id):
            latest[key] = p
    for p in parsed:
        if p.issues:
            continue
        key = (p.member_id or "", p.values.get(group) if group != "month" else p.month)
        kept = latest[key]
        if kept is not p:
            what = f"{key[1]:%Y-%m}" if group == "month" else f"the {key[1]} wave"
            p.issues.append(
                Issue(
                    "duplicate_submission",
                    "member",
                    f"member {p.member_id} answered {what} more than once; the latest "
                    f"response {kept.response_id} ({kept.submitted_at:%Y-%m-%d %H:%M} UTC) is kept",
                    f"{p.submitted_at:%Y-%m-%dT%H:%M:%SZ}",
                )
            )


def _frame(
    records: list[dict[str, Any]], columns: list[str], dtypes: dict[str, str]
) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records, columns=columns)
    return df.astype(dtypes)


def _issue_frame(
    parsed: list[ParsedResponse],
    attr: str,
    *,
    country: str,
    form_kind: str,
    report_month: date | None,
) -> pd.DataFrame:
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for p in parsed:
        for issue in getattr(p, attr):
            # One row per (response, rule, field), the table's primary key: several
            # unknown labels of one checkbox answer become one row naming them all.
            k = (p.response_id, issue.rule, issue.field)
            if k in merged:
                merged[k]["reason"] = truncate(
                    f"{merged[k]['reason']}; {issue.reason}", REASON_LIMIT
                )
                merged[k]["value"] = short_text(f"{merged[k]['value']}; {issue.value}")
                continue
            merged[k] = {
                "country": country,
                "form_kind": form_kind,
                "report_month": report_month if report_month is not None else p.month,
                "response_id": p.response_id,
                "rule": issue.rule,
                "field": issue.field,
                "reason": truncate(issue.reason, REASON_LIMIT),
                "value": short_text(issue.value),
            }
    records = [merged[k] for k in sorted(merged)]
    return _frame(records, QUARANTINE_COLUMNS, QUARANTINE_DTYPES)


def _naive_utc(ts: datetime | None) -> datetime | None:
    return ts.replace(tzinfo=None) if ts is not None else None


def _prepare(
    responses: Iterable[Mapping[str, Any]] | LandedPayloads,
    form: Mapping[str, Any],
    mapping: FormMapping,
    key: bytes | str,
    country: str,
    form_kind: str,
) -> tuple[list[Mapping[str, Any]], list[ParsedResponse]]:
    if mapping.form_kind != form_kind:
        raise ValueError(
            f"{country}: a {mapping.form_kind} mapping was given for the {form_kind} form"
        )
    source = f"mappings/{country.lower()}_{form_kind}.yaml"
    ctx = ParseContext(form, mapping, source)
    if isinstance(responses, LandedPayloads):
        # Landed texts: decoded into the documented shape only (bsin.transform.landed).
        responses = decode(responses)
    versions = _latest_versions(responses)
    return versions, [_parse(r, i, key, ctx) for i, r in enumerate(versions)]


def _parse(
    response: Mapping[str, Any] | LandedResponse, index: int, key: bytes | str, ctx: ParseContext
) -> ParsedResponse:
    if isinstance(response, LandedResponse):
        return parse_landed(response, index, key, ctx)
    return parse_response(response, index, key, ctx)


def _finish(
    parsed: list[ParsedResponse],
    rows: list[dict[str, Any]],
    selections: list[dict[str, Any]] | None,
    *,
    kind: str,
    country: str,
    report_month: date | None,
) -> HarmoniseResult:
    columns, dtypes, sel_columns, sel_dtypes, order = (
        (
            FEEDBACK_COLUMNS,
            FEEDBACK_DTYPES,
            SELECTION_COLUMNS,
            SELECTION_DTYPES,
            ["feedback_month", "member_id"],
        )
        if kind == "monthly"
        else (
            SELF_ASSESSMENT_COLUMNS,
            SELF_ASSESSMENT_DTYPES,
            NEED_COLUMNS,
            NEED_DTYPES,
            ["wave", "member_id"],
        )
    )
    rows_df = _frame(rows, columns, dtypes)
    if len(rows_df):
        rows_df = rows_df.sort_values(order, kind="stable").reset_index(drop=True)
    sel_df = None
    if selections is not None:
        sel_df = _frame(selections, sel_columns, sel_dtypes)
        if len(sel_df):
            sel_df = sel_df.sort_values(sel_columns, kind="stable").reset_index(drop=True)
    result = HarmoniseResult(
        rows=rows_df,
        given_selections=sel_df,
        quarantine=_issue_frame(
            parsed, "issues", country=country, form_kind=kind, report_month=report_month
        ),
        notes=_issue_frame(
            parsed, "notes", country=country, form_kind=kind, report_month=report_month
        ),
        response_ids=tuple(p.response_id for p in parsed),
    )
    if not result.is_balanced():  # a bug here would silently lose responses: fail loudly
        raise RuntimeError(f"{country} {kind}: harmonisation lost or duplicated a response")
    return result


def harmonise_feedback(
    responses: Iterable[Mapping[str, Any]] | LandedPayloads,
    form: Mapping[str, Any],
    mapping: FormMapping,
    *,
    country: str,
    key: bytes | str,
    tz: str,
    grace_days: int,
    report_month: date | None = None,
) -> HarmoniseResult:
    """Harmonise monthly feedback responses of one country's form.

    ``responses`` are FormResponse dicts (several versions of one response id: the latest
    ``lastSubmittedTime`` wins), or their landed JSON texts as ``LandedPayloads``
    (bsin.transform.landed; the same outcome). ``form`` is the Form dict they answer.
    ``feedback_month`` is the mapped date question's month when answered, else
    ``feedback_month_for(lastSubmittedTime, tz, grace_days)``. ``report_month`` fills the
    quarantine's ``report_month`` (default: each response's own feedback month).
    """
    _, parsed = _prepare(responses, form, mapping, key, country, "monthly")
    for p in parsed:
        if p.month is None and p.submitted_at is not None:
            p.month = feedback_month_for(p.submitted_at, tz, grace_days)
    _deduplicate(parsed, "month")
    rows: list[dict[str, Any]] = []
    revision = form.get("revisionId")
    for p in parsed:
        if p.issues:
            continue
        row = {name: p.values.get(name) for name in FEEDBACK_COLUMNS}
        row.update(
            country=country,
            feedback_month=p.month,
            member_id=p.member_id,
            response_id=p.response_id,
            submitted_at=_naive_utc(p.submitted_at),
            form_revision_id=revision,
        )
        rows.append(row)
    return _finish(
        parsed,
        rows,
        None,
        kind="monthly",
        country=country,
        report_month=report_month,
    )


#: Feedback fields that hold a set, stored as sorted ';'-joined text.
FEEDBACK_SET_FIELDS: tuple[str, ...] = ("stakeholder_access", "challenges")


def feedback_selections(rows: pd.DataFrame) -> pd.DataFrame:
    """``feedback_selection`` rows (SELECTION_COLUMNS) of canonical feedback rows: one per
    chosen value of each set field, derived from its ';'-joined text column.

    By row, then field (FEEDBACK_SET_FIELDS' order), then value; a value chosen twice in
    one answer counts once. The load derives the month's in the warehouse by the same rule
    (include/sql/queries/feedback_selections_incoming.sql); a test holds the two equal.
    """
    keys = ["country", "feedback_month", "member_id"]
    parts = []
    for order, field_name in enumerate(FEEDBACK_SET_FIELDS):
        texts = rows[field_name]
        chosen = pd.Series(
            [isinstance(t, str) and t != "" for t in texts], index=texts.index, dtype=bool
        )
        if not chosen.any():
            continue
        part = rows.loc[chosen, keys].copy()
        # Plain str.split: pandas' .str accessor cost twice the whole derivation.
        part["value"] = [t.split(";") for t in texts[chosen]]
        part = part.explode("value")
        part["field"] = field_name
        part["_row"] = part.index
        part["_field"] = order
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=SELECTION_COLUMNS)
    out = pd.concat(parts)
    out = out.drop_duplicates(["_row", "_field", "value"])
    out = out.sort_values(["_row", "_field", "value"], kind="stable")
    return out[SELECTION_COLUMNS].reset_index(drop=True)


def harmonise_self_assessment(
    responses: Iterable[Mapping[str, Any]] | LandedPayloads,
    form: Mapping[str, Any],
    mapping: FormMapping,
    *,
    country: str,
    key: bytes | str,
    tz: str,
    grace_days: int,
    report_month: date | None = None,
) -> HarmoniseResult:
    """Harmonise self-assessment responses: one row per member and wave (latest wins).

    ``responses`` as for :func:`harmonise_feedback`: dicts or ``LandedPayloads``.
    ``tz`` and ``grace_days`` give the quarantine's ``report_month`` when none is passed
    (the wave, not the month, identifies a self-assessment).
    """
    _, parsed = _prepare(responses, form, mapping, key, country, "self_assessment")
    for p in parsed:
        if p.submitted_at is not None:
            p.month = feedback_month_for(p.submitted_at, tz, grace_days)
    _deduplicate(parsed, "wave")
    rows: list[dict[str, Any]] = []
    needs: list[dict[str, Any]] = []
    for p in parsed:
        if p.issues:
            continue
        row = {name: p.values.get(name) for name in SELF_ASSESSMENT_COLUMNS}
        row.update(
            country=country,
            member_id=p.member_id,
            response_id=p.response_id,
            submitted_at=_naive_utc(p.submitted_at),
        )
        rows.append(row)
        needs.extend(
            {"country": country, "wave": p.values["wave"], "member_id": p.member_id, "need": n}
            for n in p.selections.get("needs", [])
        )
    return _finish(
        parsed, rows, needs, kind="self_assessment", country=country, report_month=report_month
    )
