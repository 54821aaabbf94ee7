"""One raw Forms API response -> one parsed canonical record and its issues: answers read by
question id through the mapping, labels to canonical values, numbers, dates and texts
checked (docs/data-quality.md, "Quarantine reasons")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bsin.core.months import month_start, parse_rfc3339
from bsin.ingest.pseudonymise import member_id
from bsin.reporting.text import (
    QUARANTINE_VALUE_LIMIT,
    TEXT_LIMIT,
    clean_text,
    normalise_label,
    truncate,
)
from bsin.transform.landed import LandedResponse
from bsin.transform.mapping import (
    FieldSpec,
    FormMapping,
    QuestionMapping,
    form_questions,
)

# Raw payloads carry this pseudonym in place of respondentEmail (bsin.pipeline).
LANDED_MEMBER_ID = re.compile(r"m_[0-9a-f]{20}")

# Reasons quote answers; keep a row readable even when the answer is a megabyte.
REASON_LIMIT = 2_000
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?[0-9]*[.,][0-9]+|[+-]?[0-9]+[.,][0-9]*")
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


@dataclass
class Issue:
    rule: str
    field: str
    reason: str
    value: str = ""


@dataclass
class ParsedResponse:
    response_id: str
    member_id: str | None
    submitted_at: datetime | None
    values: dict[str, Any] = field(default_factory=dict)
    selections: dict[str, list[str]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)
    month: date | None = None


class ParseContext:
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
        # (question id, *answer texts) -> the parsed outcome (_parse_answer).
        self.memo: dict[tuple[str, ...], ParsedResponse] = {}
        # Per mapped question, in order: its field, whether free text, and its memo of
        # decoded Answer -> (values, None) when the outcome only sets values, else
        # (values, outcome) (parse_landed).
        self.landed_questions: list[tuple[QuestionMapping, FieldSpec, bool, dict]] = [
            (q, mapping.fields[q.field], mapping.fields[q.field].kind == "text", {})
            for q in mapping.questions
        ]


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
    return _texts_of(_answers(response).get(question_id))


def _texts_of(answer: Any) -> list[str]:
    # The shape the API documents, checked by exact class: most of harmonising at network
    # scale was these few lookups. Anything else takes the general path below.
    if answer is None:  # a question left unanswered
        return []
    if answer.__class__ is dict:
        text_answers = answer.get("textAnswers")
        if text_answers.__class__ is dict:
            texts = text_answers.get("answers")
            if texts.__class__ is list:
                out = []
                for t in texts:
                    if t.__class__ is not dict:
                        return _texts_general(answer)
                    v = t.get("value")
                    if v.__class__ is not str:
                        return _texts_general(answer)
                    if v and not v.isspace():
                        out.append(v)
                return out
    return _texts_general(answer)


def _texts_general(answer: Any) -> list[str]:
    text_answers = answer.get("textAnswers") if _is_mapping(answer) else None
    texts = text_answers.get("answers") if _is_mapping(text_answers) else None
    if not isinstance(texts, list):
        return []
    values = [t.get("value") for t in texts if _is_mapping(t)]
    return [str(v) for v in values if v is not None and str(v).strip()]


def short_text(value: Any) -> str:
    # The raw value is kept for the reader, but NUL cannot be stored in PostgreSQL text.
    return truncate(str(value).replace("\x00", "\ufffd"), QUARANTINE_VALUE_LIMIT)


def _parse_int(text: str, spec: FieldSpec) -> tuple[int | None, Issue | None]:
    # Invisible characters pasted along with a number (zero-width space, bidi marks) are not
    # part of what the respondent sees or means.
    stripped = clean_text(text) or ""
    if not _INTEGER.fullmatch(stripped):
        shown = short_text(stripped)
        why = "is not a whole number" if _NUMBER.fullmatch(stripped) else "is not a number"
        return None, Issue(
            "not_a_number",
            spec.name,
            f"{spec.name}: answer {shown!r} {why}; expected {spec.describe_values()}",
            text,
        )
    digits = stripped.lstrip("+-").lstrip("0")
    # int() refuses strings over 4300 digits; anything that long is out of range anyway.
    number = int(stripped) if len(digits) <= 18 else None
    if number is None or not spec.low <= number <= spec.high:  # type: ignore[operator]
        return None, Issue(
            "out_of_range",
            spec.name,
            f"{spec.name}: {short_text(stripped)} is outside {spec.low}..{spec.high}",
            text,
        )
    return number, None


def _unknown_label(spec: FieldSpec, q: QuestionMapping, label: str, ctx: ParseContext) -> Issue:
    return Issue(
        "unknown_label",
        spec.name,
        f"{spec.name}: label {short_text(label)!r} ({ctx.mapping.language}) of question {q.question_id} is not "
        f"in the mapping; " + spec.new_option_advice(short_text(label), ctx.source),
        label,
    )


# Distinct answers remembered per form and question: past this, parse without memo.
_MEMO_LIMIT = 100_000


def _parse_answer(
    texts: list[str],
    q: QuestionMapping,
    spec: FieldSpec,
    parsed: ParsedResponse,
    ctx: ParseContext,
) -> None:
    """Parse one mapped answer into ``parsed``; answers to choice, number, date and set
    questions repeat across responses, so their outcome is computed once per form."""
    if spec.kind == "text":
        _parse_field(texts, q, spec, parsed, ctx)
        return
    key = (q.question_id, *texts)
    outcome = ctx.memo.get(key)
    if outcome is None:
        outcome = _answer_outcome(texts, q, spec, ctx)
        if len(ctx.memo) < _MEMO_LIMIT:
            ctx.memo[key] = outcome
    _merge(parsed, outcome)


def _answer_outcome(
    texts: list[str], q: QuestionMapping, spec: FieldSpec, ctx: ParseContext
) -> ParsedResponse:
    # The outcome depends on the answer texts, the question and the form only.
    outcome = ParsedResponse("", None, None)
    _parse_field(texts, q, spec, outcome, ctx)
    return outcome


def _merge(parsed: ParsedResponse, outcome: ParsedResponse) -> None:
    if outcome.values:
        parsed.values.update(outcome.values)
    if outcome.selections:
        parsed.selections.update(outcome.selections)
    if outcome.issues:
        parsed.issues.extend(outcome.issues)
    if outcome.notes:
        parsed.notes.extend(outcome.notes)
    if outcome.month is not None:
        parsed.month = outcome.month


def _parse_field(
    texts: list[str],
    q: QuestionMapping,
    spec: FieldSpec,
    parsed: ParsedResponse,
    ctx: ParseContext,
) -> None:
    """Parse one mapped answer into ``parsed.values`` or record why it cannot be used."""
    if not texts:
        if spec.answer_required:
            parsed.issues.append(
                Issue(
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
                Issue(
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
                Issue(
                    "not_a_date",
                    spec.name,
                    f"{spec.name}: {short_text(texts[0])!r} is not a date (YYYY-MM-DD)",
                    texts[0],
                )
            )
        return
    if spec.kind == "set":
        _parse_set(texts, q, spec, parsed, ctx)
        return
    if len(texts) > 1:
        parsed.issues.append(
            Issue(
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
    texts: list[str], q: QuestionMapping, spec: FieldSpec, parsed: ParsedResponse, ctx: ParseContext
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
                Issue(
                    "text_truncated",
                    f"{spec.name}_other",
                    f"{spec.name}_other: answer of {len(other_text):,} characters cut to {TEXT_LIMIT:,}",
                    other_text,
                )
            )
            other_text = truncate(other_text, TEXT_LIMIT)
        parsed.values[f"{spec.name}_other"] = other_text


def _parse_header(response: Mapping[str, Any], index: int, key: bytes | str) -> ParsedResponse:
    """The response id, member and submission time of ``response`` (anything with ``get``)."""
    response_id = str(response.get("responseId") or "").strip()
    parsed = ParsedResponse(response_id or f"(no id #{index})", None, None)
    if not response_id:
        parsed.issues.append(
            Issue(
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
            Issue(
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
            Issue(
                "missing_timestamp",
                "submitted_at",
                "lastSubmittedTime is missing or not RFC 3339",
                str(stamp or ""),
            )
        )
    return parsed


def parse_response(
    response: Mapping[str, Any], index: int, key: bytes | str, ctx: ParseContext
) -> ParsedResponse:
    """Parse one decoded FormResponse: its header, every mapped answer, and a note for each
    answer to a question the mapping neither maps nor ignores."""
    parsed = _parse_header(response, index, key)
    specs = ctx.mapping.fields
    answers = _answers(response)
    for q in ctx.mapping.questions:
        _parse_answer(_texts_of(answers.get(q.question_id)), q, specs[q.field], parsed, ctx)
    for question_id in sorted(set(map(str, answers)) - ctx.known_questions):
        _note_unmapped(parsed, question_id, _answer_texts(response, question_id), ctx)
    return parsed


def _note_unmapped(
    parsed: ParsedResponse, question_id: str, texts: list[str], ctx: ParseContext
) -> None:
    where = (
        "is in the form but"
        if question_id in ctx.form_question_ids
        else "is no longer in the form and"
    )
    parsed.notes.append(
        Issue(
            "answer_to_unmapped_question",
            question_id,
            f"question {question_id} {where} not in {ctx.source}; the answer is ignored "
            "(map it, or list it under ignored_questions)",
            "; ".join(texts),
        )
    )


def parse_landed(
    response: LandedResponse, index: int, key: bytes | str, ctx: ParseContext
) -> ParsedResponse:
    """Parse a payload decoded by ``bsin.transform.landed.decode`` as :func:`parse_response`
    parses the same payload decoded by ``json.loads``.

    A decoded answer is frozen and hashable: each distinct answer of a question is parsed
    once, and responses that repeat it reuse the outcome. Free-text answers are parsed each
    time, as :func:`_parse_answer` does.
    """
    parsed = _parse_header(response, index, key)
    values = parsed.values
    answers = response.answers or {}
    for q, spec, is_text, memo in ctx.landed_questions:
        answer = answers.get(q.question_id)
        if is_text:
            _parse_field(answer.texts() if answer else [], q, spec, parsed, ctx)
            continue
        entry = memo.get(answer)
        if entry is None:
            outcome = _answer_outcome(answer.texts() if answer else [], q, spec, ctx)
            only_values = not (
                outcome.selections or outcome.issues or outcome.notes or outcome.month
            )
            entry = (outcome.values, None if only_values else outcome)
            if len(memo) < _MEMO_LIMIT:
                memo[answer] = entry
        if entry[1] is None:
            if entry[0]:
                values.update(entry[0])
        else:
            _merge(parsed, entry[1])
    for question_id in sorted(set(answers) - ctx.known_questions):
        answer = answers[question_id]
        _note_unmapped(parsed, question_id, answer.texts() if answer else [], ctx)
    return parsed
