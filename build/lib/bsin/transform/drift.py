"""Form drift: what changed in a partner's Google Form since its mapping was written.

Run on every ``forms.get``. Additive or cosmetic changes are findings to record in
``form_drift`` and show to data staff; a change that breaks the mapping (a required field's
question gone, the form in another language) raises StructuralDriftError whose message says
exactly what changed and how to fix the mapping file. docs/data-quality.md lists the kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import pandas as pd

from bsin.reporting.text import guess_language, normalise_label, truncate
from bsin.transform.mapping import FormMapping, FormQuestion, form_questions

Severity = Literal["info", "warning", "error"]

DRIFT_COLUMNS: list[str] = [
    "country",
    "form_kind",
    "report_month",
    "kind",
    "detail",
    "form_id",
    "revision_id",
    "severity",
]
#: Every kind of finding, with its severity (mapped_question_gone: error when required).
KINDS: dict[str, str] = {
    "revision_changed": "info",
    "mapped_question_gone": "error / warning",
    "new_unmapped_question": "warning",
    "unknown_choice_label": "warning",
    "title_reworded": "info",
    "scale_range_changed": "warning",
    "language_mismatch": "error",
    "answer_to_unmapped_question": "info",
}
#: Below this share of the mapping's titles and labels found in the form, the form is taken
#: to be in another language than the mapping's.
LANGUAGE_MATCH_THRESHOLD = 0.5
_DETAIL_LIMIT = 1_000


@dataclass(frozen=True)
class DriftFinding:
    """One difference between a form and its mapping."""

    kind: str
    detail: str
    severity: Severity


class StructuralDriftError(RuntimeError):
    """The form no longer fits its mapping; ``findings`` holds every finding of the check."""

    def __init__(self, message: str, findings: list[DriftFinding]) -> None:
        super().__init__(message)
        self.findings = findings


def _source(mapping: FormMapping) -> str:
    return f"mappings/{mapping.country.lower()}_{mapping.form_kind}.yaml"


def _form_texts(questions: dict[str, FormQuestion]) -> set[str]:
    texts: set[str] = set()
    for q in questions.values():
        texts.add(normalise_label(q.title))
        if q.group_title:
            texts.add(normalise_label(f"{q.group_title} [{q.title}]"))
        texts.update(normalise_label(label) for label in q.labels)
    return texts


def _language_finding(
    form: Mapping[str, Any], mapping: FormMapping, questions: dict[str, FormQuestion]
) -> DriftFinding | None:
    """A form in another language shares almost no title or label with the mapping."""
    expected: set[str] = set()
    for q in mapping.questions:
        if q.title:
            expected.add(normalise_label(q.title))
        # Digits ("1".."5" grid columns) look the same in every language.
        expected.update(k for k in q.normalised_choices if not k.isdigit())
    if len(expected) < 3:  # too little text in the mapping to judge
        return None
    found = len(expected & _form_texts(questions))
    if found / len(expected) >= LANGUAGE_MATCH_THRESHOLD:
        return None
    sample = [q.title for q in questions.values()][:10]
    guess = guess_language(sample)
    looks = f" and looks like {guess!r}" if guess and guess != mapping.language else ""
    return DriftFinding(
        "language_mismatch",
        f"only {found} of {len(expected)} titles and labels of {_source(mapping)} "
        f"({mapping.language!r}) appear in form {form.get('formId', '?')}{looks}: the form seems "
        f"not to be in {mapping.language!r}. If the partner switched or replaced the form, write "
        f"its question ids, titles and labels into {_source(mapping)} (and form_language in "
        "partners.yaml); otherwise ask the partner to restore the form",
        "error",
    )


def _answer_findings(
    responses: Iterable[Mapping[str, Any]],
    mapping: FormMapping,
    questions: dict[str, FormQuestion],
) -> list[DriftFinding]:
    known = set(mapping.by_question_id) | set(mapping.ignored_questions) | set(questions)
    counts: dict[str, int] = {}
    for r in responses:
        for question_id in (r.get("answers") or {}).keys() - known:
            counts[question_id] = counts.get(question_id, 0) + 1
    return [
        DriftFinding(
            "answer_to_unmapped_question",
            f"{n} response(s) answer question {qid}, which is neither in the form nor in "
            f"{_source(mapping)}: the answers are ignored (a question deleted from the form)",
            "info",
        )
        for qid, n in sorted(counts.items())
    ]


def detect_drift(
    form: Mapping[str, Any],
    mapping: FormMapping,
    previous_revision_id: str | None = None,
    *,
    responses: Iterable[Mapping[str, Any]] | None = None,
    raise_on_error: bool = True,
) -> list[DriftFinding]:
    """Compare ``form`` (a Forms API Form dict) with its ``mapping``; findings in form order.

    ``previous_revision_id`` is the revision seen by the last run (None: not known).
    ``responses`` adds findings for answers to questions that are in neither form nor mapping.
    When a finding has severity ``error`` and ``raise_on_error`` is true, raises
    StructuralDriftError carrying all findings.
    """
    questions = form_questions(form)
    source = _source(mapping)
    findings: list[DriftFinding] = []
    revision = form.get("revisionId")
    if previous_revision_id and revision and revision != previous_revision_id:
        findings.append(
            DriftFinding(
                "revision_changed",
                f"form revision {previous_revision_id} -> {revision}: the partner edited the form",
                "info",
            )
        )
    language = _language_finding(form, mapping, questions)
    if language:
        findings.append(language)
    mapped_ids = set(mapping.by_question_id)
    unmapped = {
        qid: q
        for qid, q in questions.items()
        if qid not in mapped_ids and qid not in mapping.ignored_questions
    }
    for q in mapping.questions:
        spec = mapping.fields[q.field]
        current = questions.get(q.question_id)
        if current is None:
            title = f" {q.title!r}" if q.title else ""
            candidates = [
                u.question_id for u in unmapped.values() if q.title and u.title_matches(q.title)
            ]
            hint = (
                f"; question {candidates[0]} has the same title: set question_id: {candidates[0]!r}"
                if candidates
                else "; find the question that now asks it (forms.get: items[].questionItem."
                "question.questionId) and put its id as question_id"
            )
            required = spec.mapping_required
            findings.append(
                DriftFinding(
                    "mapped_question_gone",
                    f"question {q.question_id}{title} mapped to {'required' if required else 'optional'} "
                    f"field {q.field!r} is no longer in the form{hint} for field {q.field} in {source}"
                    + ("" if required else ", or remove the entry"),
                    "error" if required else "warning",
                )
            )
            continue
        if q.title and not current.title_matches(q.title):
            findings.append(
                DriftFinding(
                    "title_reworded",
                    f"question {q.question_id} ({q.field}) title was {q.title!r}, is now "
                    f"{current.title!r}: check the meaning is unchanged, then update title in {source}",
                    "info",
                )
            )
        if q.choices is not None:
            for label in current.labels:
                if normalise_label(label) not in q.normalised_choices:
                    findings.append(
                        DriftFinding(
                            "unknown_choice_label",
                            f"question {q.question_id} ({q.field}) has option {label!r} that "
                            f"{source} does not know; answers with it are quarantined until "
                            "you " + spec.new_option_advice(label, source),
                            "warning",
                        )
                    )
        if spec.kind == "int" and current.scale and not q.choices:
            low, high = current.scale
            if low < spec.low or high > spec.high:  # type: ignore[operator]
                findings.append(
                    DriftFinding(
                        "scale_range_changed",
                        f"question {q.question_id} ({q.field}) is a {low}-{high} scale but the "
                        f"canonical range is {spec.low}-{spec.high}: answers outside it are "
                        "quarantined; ask the partner to restore the scale",
                        "warning",
                    )
                )
    for q in unmapped.values():
        where = f" in grid {q.group_title!r}" if q.group_title else ""
        findings.append(
            DriftFinding(
                "new_unmapped_question",
                f"question {q.question_id} {q.title!r}{where} is not in {source}: map it to a "
                "canonical field, or list it under ignored_questions",
                "warning",
            )
        )
    if responses is not None:
        findings.extend(_answer_findings(responses, mapping, questions))
    findings = [
        DriftFinding(f.kind, truncate(f.detail, _DETAIL_LIMIT), f.severity) for f in findings
    ]
    errors = [f for f in findings if f.severity == "error"]
    if errors and raise_on_error:
        raise StructuralDriftError(
            f"{mapping.country} {mapping.form_kind} form {form.get('formId', '?')} no longer matches "
            f"{source}:\n" + "\n".join(f"  - {f.detail}" for f in errors),
            findings,
        )
    return findings


def drift_frame(
    findings: Iterable[DriftFinding],
    *,
    country: str,
    form_kind: str,
    report_month: date,
    form_id: str | None,
    revision_id: str | None,
) -> pd.DataFrame:
    """``form_drift`` rows (DRIFT_COLUMNS) for ``findings``; one row per (kind, detail)."""
    records = {
        (f.kind, f.detail): {
            "country": country,
            "form_kind": form_kind,
            "report_month": report_month,
            "kind": f.kind,
            "detail": f.detail,
            "form_id": form_id,
            "revision_id": revision_id,
            "severity": f.severity,
        }
        for f in findings
    }
    return pd.DataFrame(list(records.values()), columns=DRIFT_COLUMNS).astype(
        {c: "string" for c in DRIFT_COLUMNS if c != "report_month"}
    )
