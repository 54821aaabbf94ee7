"""Raw Forms API responses -> canonical rows, selections and quarantine (docs/data-quality.md).

Every response that comes in leaves either as exactly one canonical row or as one or more
quarantine rows, never both and never neither: ``responses in = rows + quarantined
responses`` (distinct response ids), always. Findings that do not reject a response (a
truncated long answer, an answer to a question the mapping does not know) are returned as
``notes`` with the same columns as the quarantine.

Respondent emails are turned into member ids here and never appear in any output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from bsin.core.months import feedback_month_for, month_start, parse_rfc3339
from bsin.ingest.pseudonymise import member_id
from bsin.reporting.text import (
    QUARANTINE_VALUE_LIMIT,
    TEXT_LIMIT,
    clean_text,
    normalise_label,
    truncate,
)
from bsin.transform.mapping import (
    CAPABILITY_FIELDS,
    FieldSpec,
    FormMapping,
    QuestionMapping,
    form_questions,
)

# Raw payloads carry this pseudonym in place of respondentEmail (bsin.pipeline).
LANDED_MEMBER_ID = re.compile(r"m_[0-9a-f]{20}")

FEEDBACK_COLUMNS: list[str] = [
    "country",
    "feedback_month",
    "member_id",
    "response_id",
    "submitted_at",
    "attended_peer_session",
    "attended_workshop",
    "satisfaction",
    "relevance",
    "recommend",
    "new_skill",
    "new_connections_abroad",
    "stakeholder_access",
    "challenges",
    "challenges_other",
    "suggestion",
    "form_revision_id",
]
SELECTION_COLUMNS: list[str] = ["country", "feedback_month", "member_id", "field", "value"]
SELF_ASSESSMENT_COLUMNS: list[str] = [
    "country",
    "wave",
    "member_id",
    "response_id",
    "submitted_at",
    "needs",
    *CAPABILITY_FIELDS,
    "interests",
]
NEED_COLUMNS: list[str] = ["country", "wave", "member_id", "need"]
QUARANTINE_COLUMNS: list[str] = [
    "country",
    "form_kind",
    "report_month",
    "response_id",
    "rule",
    "field",
    "reason",
    "value",
]

_BOOL = "boolean"
_INT = "Int64"
_TEXT = "string"
_TS = "datetime64[us]"
FEEDBACK_DTYPES: dict[str, str] = {
    "country": _TEXT,
    "feedback_month": "object",  # datetime.date, the 1st of the month
    "member_id": _TEXT,
    "response_id": _TEXT,
    "submitted_at": _TS,  # naive UTC
    "attended_peer_session": _BOOL,
    "attended_workshop": _BOOL,
    "satisfaction": _INT,
    "relevance": _INT,
    "recommend": _INT,
    "new_skill": _TEXT,
    "new_connections_abroad": _INT,
    "stakeholder_access": _TEXT,
    "challenges": _TEXT,
    "challenges_other": _TEXT,
    "suggestion": _TEXT,
    "form_revision_id": _TEXT,
}
SELECTION_DTYPES: dict[str, str] = {
    "country": _TEXT,
    "feedback_month": "object",
    "member_id": _TEXT,
    "field": _TEXT,
    "value": _TEXT,
}
SELF_ASSESSMENT_DTYPES: dict[str, str] = {
    "country": _TEXT,
    "wave": _TEXT,
    "member_id": _TEXT,
    "response_id": _TEXT,
    "submitted_at": _TS,
    "needs": _TEXT,
    **dict.fromkeys(CAPABILITY_FIELDS, _INT),
    "interests": _TEXT,
}
NEED_DTYPES: dict[str, str] = dict.fromkeys(NEED_COLUMNS, _TEXT)
QUARANTINE_DTYPES: dict[str, str] = {
    **dict.fromkeys(QUARANTINE_COLUMNS, _TEXT),
    "report_month": "object",
}

#: Quarantine rules that reject a response (see docs/data-quality.md).
RULES = (
    "missing_response_id",
    "missing_email",
    "missing_timestamp",
    "unknown_label",
    "not_a_number",
    "out_of_range",
    "not_a_date",
    "empty_required",
    "duplicate_submission",
)
#: Note rules: recorded, the response is kept.
NOTE_RULES = ("text_truncated", "answer_to_unmapped_question")

# Reasons quote answers; keep a row readable even when the answer is a megabyte.
_REASON_LIMIT = 2_000
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?[0-9]*[.,][0-9]+|[+-]?[0-9]+[.,][0-9]*")
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


@dataclass(frozen=True)
class HarmoniseResult:
    """Output of one harmonisation: canonical rows, their set selections, quarantine, notes.

    For feedback ``rows`` has FEEDBACK_COLUMNS and ``selections`` SELECTION_COLUMNS; for the
    self-assessment SELF_ASSESSMENT_COLUMNS and NEED_COLUMNS. ``quarantine`` and ``notes``
    have QUARANTINE_COLUMNS. ``response_ids`` are the distinct ids that came in.
    """

    rows: pd.DataFrame
    selections: pd.DataFrame
    quarantine: pd.DataFrame
    notes: pd.DataFrame
    response_ids: tuple[str, ...] = ()

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


@dataclass
class _Issue:
    rule: str
    field: str
    reason: str
    value: str = ""


@dataclass
class _Parsed:
    response_id: str
    member_id: str | None
    submitted_at: datetime | None
    values: dict[str, Any] = field(default_factory=dict)
    selections: dict[str, list[str]] = field(default_factory=dict)
    issues: list[_Issue] = field(default_factory=list)
    notes: list[_Issue] = field(default_factory=list)
    month: date | None = None


class _Context:
    """What parsing one response needs besides the response itself."""

    def __init__(self, form: Mapping[str, Any], mapping: FormMapping, source: str) -> None:
        self.mapping = mapping
        self.source = source
        questions = form_questions(form)
        self.form_question_ids = set(questions)
        self.known_questions = set(mapping.by_question_id) | set(mapping.ignored_questions)
        # Normalised regular option labels per question: tells "Other" text from a label
        # the mapping has not caught up with.
        self.form_labels = {
            qid: {normalise_label(label) for label in q.labels} for qid, q in questions.items()
        }


def _is_mapping(value: Any) -> bool:
    # Parsed JSON gives dicts: the exact-class check spares the ABC lookup of
    # isinstance(..., Mapping), a large share of harmonising at network scale.
    return value.__class__ is dict or isinstance(value, Mapping)


def _answers(response: Mapping[str, Any]) -> Mapping[str, Any]:
    answers = response.get("answers")
    return answers if _is_mapping(answers) else {}


def _answer_texts(response: Mapping[str, Any], question_id: str) -> list[str]:
    # Shapes are checked at every level: a payload that is not what the API documents
    # (hand-edited data, a proxy, a future API change) must give "no answer", not a crash.
    answer = _answers(response).get(question_id)
    text_answers = answer.get("textAnswers") if _is_mapping(answer) else None
    texts = text_answers.get("answers") if _is_mapping(text_answers) else None
    if not isinstance(texts, list):
        return []
    values = [t.get("value") for t in texts if _is_mapping(t)]
    return [str(v) for v in values if v is not None and str(v).strip()]


def _short(value: Any) -> str:
    # The raw value is kept for the reader, but NUL cannot be stored in PostgreSQL text.
    return truncate(str(value).replace("\x00", "\ufffd"), QUARANTINE_VALUE_LIMIT)


def _parse_int(text: str, spec: FieldSpec) -> tuple[int | None, _Issue | None]:
    # Invisible characters pasted along with a number (zero-width space, bidi marks) are not
    # part of what the respondent sees or means.
    stripped = clean_text(text) or ""
    if not _INTEGER.fullmatch(stripped):
        shown = _short(stripped)
        why = "is not a whole number" if _NUMBER.fullmatch(stripped) else "is not a number"
        return None, _Issue(
            "not_a_number",
            spec.name,
            f"{spec.name}: answer {shown!r} {why}; expected {spec.describe_values()}",
            text,
        )
    digits = stripped.lstrip("+-").lstrip("0")
    # int() refuses strings over 4300 digits; anything that long is out of range anyway.
    number = int(stripped) if len(digits) <= 18 else None
    if number is None or not spec.low <= number <= spec.high:  # type: ignore[operator]
        return None, _Issue(
            "out_of_range",
            spec.name,
            f"{spec.name}: {_short(stripped)} is outside {spec.low}..{spec.high}",
            text,
        )
    return number, None


def _unknown_label(spec: FieldSpec, q: QuestionMapping, label: str, ctx: _Context) -> _Issue:
    return _Issue(
        "unknown_label",
        spec.name,
        f"{spec.name}: label {_short(label)!r} ({ctx.mapping.language}) of question {q.question_id} is not "
        f"in the mapping; " + spec.new_option_advice(_short(label), ctx.source),
        label,
    )


def _parse_field(
    response: Mapping[str, Any], q: QuestionMapping, spec: FieldSpec, parsed: _Parsed, ctx: _Context
) -> None:
    """Parse one mapped answer into ``parsed.values`` or record why it cannot be used."""
    texts = _answer_texts(response, q.question_id)
    if not texts:
        if spec.answer_required:
            parsed.issues.append(
                _Issue(
                    "empty_required",
                    spec.name,
                    f"{spec.name}: no answer to question {q.question_id}",
                )
            )
        return
    if spec.kind == "text":
        text = clean_text("\n".join(texts))
        if text is not None and len(text) > TEXT_LIMIT:
            parsed.notes.append(
                _Issue(
                    "text_truncated",
                    spec.name,
                    f"{spec.name}: answer of {len(text):,} characters cut to {TEXT_LIMIT:,}",
                    text,
                )
            )
            text = truncate(text, TEXT_LIMIT)
        parsed.values[spec.name] = text
        return
    if spec.kind == "date":
        match = _DATE.fullmatch(clean_text(texts[0]) or "")
        try:
            if not match:
                raise ValueError
            parsed.month = month_start(date(*map(int, match.groups())))
        except ValueError:
            parsed.issues.append(
                _Issue(
                    "not_a_date",
                    spec.name,
                    f"{spec.name}: {_short(texts[0])!r} is not a date (YYYY-MM-DD)",
                    texts[0],
                )
            )
        return
    if spec.kind == "set":
        _parse_set(texts, q, spec, parsed, ctx)
        return
    if len(texts) > 1:
        parsed.issues.append(
            _Issue(
                "unknown_label",
                spec.name,
                f"{spec.name}: {len(texts)} answers to a single-answer question {q.question_id}",
                "; ".join(texts),
            )
        )
        return
    text = texts[0]
    if q.choices:
        value = q.normalised_choices.get(normalise_label(text), _MISSING)
        if value is _MISSING:
            parsed.issues.append(_unknown_label(spec, q, text, ctx))
            return
        # Mapping validation guarantees every choice value is canonical (and in range).
        parsed.values[spec.name] = value
        return
    if spec.kind == "int":
        number, issue = _parse_int(text, spec)
        if issue:
            parsed.issues.append(issue)
        else:
            parsed.values[spec.name] = number
        return
    # A bool/enum field always has choices (mapping validation); nothing else to do.
    raise AssertionError(f"{spec.name}: {spec.kind} field without choices passed validation")


_MISSING = object()


def _parse_set(
    texts: list[str], q: QuestionMapping, spec: FieldSpec, parsed: _Parsed, ctx: _Context
) -> None:
    chosen: set[str] = set()
    others: list[str] = []
    form_labels = ctx.form_labels.get(q.question_id, set())
    for text in texts:
        key = normalise_label(text)
        value = q.normalised_choices.get(key)
        if value is not None:
            chosen.add(value)
            if value == spec.other_value:
                # An option mapped to "other" keeps its label as the other-text
                # (FieldSpec.new_option_advice).
                others.append(text)
        elif q.other is not None and key not in form_labels:
            # An "Other" answer is the respondent's own text; a label that IS an option of
            # the form but missing from the mapping is a mapping gap, not an "Other" answer.
            chosen.add(q.other)
            others.append(text)
        else:
            parsed.issues.append(_unknown_label(spec, q, text, ctx))
    if not chosen:
        return
    parsed.values[spec.name] = ";".join(sorted(chosen))
    parsed.selections[spec.name] = sorted(chosen)
    if others:
        other_text = clean_text("\n".join(others))
        if other_text is not None and len(other_text) > TEXT_LIMIT:
            parsed.notes.append(
                _Issue(
                    "text_truncated",
                    f"{spec.name}_other",
                    f"{spec.name}_other: answer of {len(other_text):,} characters cut to {TEXT_LIMIT:,}",
                    other_text,
                )
            )
            other_text = truncate(other_text, TEXT_LIMIT)
        parsed.values[f"{spec.name}_other"] = other_text


def _parse_response(
    response: Mapping[str, Any], index: int, key: bytes | str, ctx: _Context
) -> _Parsed:
    response_id = str(response.get("responseId") or "").strip()
    parsed = _Parsed(response_id or f"(no id #{index})", None, None)
    if not response_id:
        parsed.issues.append(
            _Issue(
                "missing_response_id",
                "response_id",
                "the API returned a response without responseId",
            )
        )
    email = str(response.get("respondentEmail") or "").strip()
    landed_id = response.get("member_id")
    if email:
        parsed.member_id = member_id(email, key)
    elif isinstance(landed_id, str) and LANDED_MEMBER_ID.fullmatch(landed_id):
        # Raw payloads are landed with the email already replaced by its pseudonym.
        parsed.member_id = landed_id
    else:
        parsed.issues.append(
            _Issue(
                "missing_email",
                "member",
                "no respondentEmail: turn on 'Collect email addresses' in the form's settings",
            )
        )
    stamp = response.get("lastSubmittedTime") or response.get("createTime")
    try:
        parsed.submitted_at = parse_rfc3339(stamp) if stamp else None
    except ValueError:
        parsed.submitted_at = None
    if parsed.submitted_at is None:
        parsed.issues.append(
            _Issue(
                "missing_timestamp",
                "submitted_at",
                "lastSubmittedTime is missing or not RFC 3339",
                str(stamp or ""),
            )
        )
    specs = ctx.mapping.fields
    for q in ctx.mapping.questions:
        _parse_field(response, q, specs[q.field], parsed, ctx)
    for question_id in sorted(set(map(str, _answers(response))) - ctx.known_questions):
        where = (
            "is in the form but"
            if question_id in ctx.form_question_ids
            else "is no longer in the form and"
        )
        parsed.notes.append(
            _Issue(
                "answer_to_unmapped_question",
                question_id,
                f"question {question_id} {where} not in {ctx.source}; the answer is ignored "
                "(map it, or list it under ignored_questions)",
                "; ".join(_answer_texts(response, question_id)),
            )
        )
    return parsed


def _latest_versions(responses: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
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


def _deduplicate(parsed: list[_Parsed], group: str) -> None:
    """Keep the latest clean response per member and ``group``; mark the others duplicates.

    Only responses without other issues compete: a newer response quarantined for an
    unknown label must not push out an older clean one (fixing the mapping and re-running
    then lets the newer one win).
    """
    latest: dict[tuple[str, Any], _Parsed] = {}
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
                _Issue(
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
    parsed: list[_Parsed],
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
                    f"{merged[k]['reason']}; {issue.reason}", _REASON_LIMIT
                )
                merged[k]["value"] = _short(f"{merged[k]['value']}; {issue.value}")
                continue
            merged[k] = {
                "country": country,
                "form_kind": form_kind,
                "report_month": report_month if report_month is not None else p.month,
                "response_id": p.response_id,
                "rule": issue.rule,
                "field": issue.field,
                "reason": truncate(issue.reason, _REASON_LIMIT),
                "value": _short(issue.value),
            }
    records = [merged[k] for k in sorted(merged)]
    return _frame(records, QUARANTINE_COLUMNS, QUARANTINE_DTYPES)


def _naive_utc(ts: datetime | None) -> datetime | None:
    return ts.replace(tzinfo=None) if ts is not None else None


def _prepare(
    responses: Iterable[Mapping[str, Any]],
    form: Mapping[str, Any],
    mapping: FormMapping,
    key: bytes | str,
    country: str,
    form_kind: str,
) -> tuple[list[Mapping[str, Any]], list[_Parsed]]:
    if mapping.form_kind != form_kind:
        raise ValueError(
            f"{country}: a {mapping.form_kind} mapping was given for the {form_kind} form"
        )
    source = f"mappings/{country.lower()}_{form_kind}.yaml"
    ctx = _Context(form, mapping, source)
    versions = _latest_versions(responses)
    return versions, [_parse_response(r, i, key, ctx) for i, r in enumerate(versions)]


def _finish(
    parsed: list[_Parsed],
    rows: list[dict[str, Any]],
    selections: list[dict[str, Any]],
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
    sel_df = _frame(selections, sel_columns, sel_dtypes)
    if len(sel_df):
        sel_df = sel_df.sort_values(sel_columns, kind="stable").reset_index(drop=True)
    result = HarmoniseResult(
        rows=rows_df,
        selections=sel_df,
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
    responses: Iterable[Mapping[str, Any]],
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
    ``lastSubmittedTime`` wins), ``form`` the Form dict they answer. ``feedback_month`` is
    the mapped date question's month when answered, else
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
        [dict(zip(SELECTION_COLUMNS, s, strict=True)) for s in _selection_records(rows)],
        kind="monthly",
        country=country,
        report_month=report_month,
    )


#: Feedback fields that hold a set, stored as sorted ';'-joined text.
FEEDBACK_SET_FIELDS: tuple[str, ...] = ("stakeholder_access", "challenges")


def _selection_records(rows: Iterable[Mapping[str, Any]]) -> list[tuple]:
    """feedback_selections' rows, as tuples, of canonical feedback rows given as dicts."""
    out = []
    for r in rows:
        for field_name in FEEDBACK_SET_FIELDS:
            text = r[field_name]
            if isinstance(text, str) and text:
                out.extend(
                    (r["country"], r["feedback_month"], r["member_id"], field_name, value)
                    for value in sorted(set(text.split(";")))
                )
    return out


def feedback_selections(rows: pd.DataFrame) -> pd.DataFrame:
    """``feedback_selection`` rows (SELECTION_COLUMNS) of canonical feedback rows: one per
    chosen value of each set field, derived from its ';'-joined text column."""
    out = []
    for r in rows.itertuples(index=False):
        for field_name in FEEDBACK_SET_FIELDS:
            text = getattr(r, field_name)
            if isinstance(text, str) and text:
                out.extend(
                    (r.country, r.feedback_month, r.member_id, field_name, value)
                    for value in sorted(set(text.split(";")))
                )
    return pd.DataFrame(out, columns=SELECTION_COLUMNS)


def harmonise_self_assessment(
    responses: Iterable[Mapping[str, Any]],
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
