"""Mapping of a country's Google Form to the canonical questionnaire (docs/mapping.md).

One YAML file per country and form kind, ``include/config/mappings/<cc>_<form_kind>.yaml``.
It is validated completely at load, so a mistake shows up as one ConfigError naming the
file, the key and the fix, before any response is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bsin.core.config import ConfigError, FormKind, _location, load_partners, load_yaml_model
from bsin.core.paths import config_dir as default_config_dir
from bsin.reporting.text import normalise_label

FieldKind = Literal["bool", "int", "enum", "set", "text", "date"]


@dataclass(frozen=True)
class FieldSpec:
    """One canonical field: its type, allowed values and whether a mapping must have it."""

    name: str
    kind: FieldKind
    values: tuple[Any, ...] = ()
    low: int | None = None
    high: int | None = None
    #: The mapping file must map this field to a question.
    mapping_required: bool = True
    #: A response that leaves this field empty is quarantined (``empty_required``).
    answer_required: bool = True
    #: Canonical value an "Other" free-text answer may map to (via the ``other`` key).
    other_value: str | None = None

    def allowed(self, value: Any) -> bool:
        """Whether ``value`` is a canonical value of this field."""
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "int":
            return (
                isinstance(value, int)
                and not isinstance(value, bool)
                and self.low <= value <= self.high  # type: ignore[operator]
            )
        if self.kind in ("enum", "set"):
            return isinstance(value, str) and value in self.values
        return False

    def new_option_advice(self, label: str, source: str) -> str:
        """The one documented fix for an option label the mapping does not know (docs/mapping.md).

        A field with an ``other`` value takes an option that means none of its values as
        ``other``, the label kept as the ``<field>_other`` text; any other field's values are
        the network's common questionnaire, so the option must mean one of them.
        """
        if self.other_value is not None:
            values = ", ".join(v for v in self.values if v != self.other_value)
            return (
                f"add it under choices in {source}: as {label!r}: <value> if it means one of "
                f"{values}, otherwise as {label!r}: {self.other_value} (answers then count as "
                f"{self.other_value!r} and keep {label!r} as {self.name}_other text)"
            )
        return (
            f"add it under choices in {source} as {label!r}: <value> with the value it means "
            f"({self.describe_values()}); {self.name} has no 'other' value, so if the option "
            "means none of them ask the partner to remove or reword it: until then its "
            "answers stay quarantined"
        )

    def describe_values(self) -> str:
        """Human-readable list of the canonical values, for error messages."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "int":
            return f"a whole number from {self.low} to {self.high}"
        return ", ".join(self.values)


NEEDS: tuple[str, ...] = (
    "funding_access",
    "visibility",
    "impact_measurement",
    "scaling",
    "public_procurement",
    "corporate_partnerships",
    "investor_readiness",
    "team_leadership",
)
STAKEHOLDERS: tuple[str, ...] = ("public_sector", "corporate", "impact_investor", "media", "none")
CHALLENGES: tuple[str, ...] = ("funding", "visibility", "capacity", "team", "policy", "other")
CAPABILITY_FIELDS: tuple[str, ...] = tuple(f"capability_{need}" for need in NEEDS)


def _specs(*specs: FieldSpec) -> dict[str, FieldSpec]:
    return {s.name: s for s in specs}


MONTHLY_FIELDS: dict[str, FieldSpec] = _specs(
    FieldSpec("feedback_month", "date", mapping_required=False, answer_required=False),
    FieldSpec("attended_peer_session", "bool"),
    FieldSpec("attended_workshop", "bool"),
    FieldSpec("satisfaction", "int", low=1, high=5),
    FieldSpec("relevance", "int", low=1, high=5),
    FieldSpec("recommend", "int", low=0, high=10),
    FieldSpec("new_skill", "enum", values=("yes", "partly", "no")),
    FieldSpec("new_connections_abroad", "int", low=0, high=50),
    FieldSpec("stakeholder_access", "set", values=STAKEHOLDERS),
    # No challenge ticked is a legitimate answer (the set has no "none" value).
    FieldSpec("challenges", "set", values=CHALLENGES, answer_required=False, other_value="other"),
    FieldSpec("suggestion", "text", mapping_required=False, answer_required=False),
)
SELF_ASSESSMENT_FIELDS: dict[str, FieldSpec] = _specs(
    FieldSpec("wave", "enum", values=("baseline", "endline")),
    FieldSpec("needs", "set", values=NEEDS),
    *(FieldSpec(f, "int", low=1, high=5) for f in CAPABILITY_FIELDS),
    FieldSpec("interests", "text", mapping_required=False, answer_required=False),
)
FIELDS: dict[str, dict[str, FieldSpec]] = {
    "monthly": MONTHLY_FIELDS,
    "self_assessment": SELF_ASSESSMENT_FIELDS,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuestionMapping(_Strict):
    """One form question mapped to one canonical field."""

    question_id: str = Field(min_length=1)
    field: str
    title: str | None = None
    choices: dict[str, bool | int | str] | None = None
    other: str | None = None

    @field_validator("question_id", mode="before")
    @classmethod
    def _quoted_id(cls, value: Any) -> Any:
        # YAML turns an unquoted 12345678 into a number and 0123 into octal 83: refuse
        # rather than guess the id back.
        if not isinstance(value, str):
            raise ValueError(
                f'question_id {value!r} is not text: put it in quotes, e.g. question_id: "{value}"'
            )
        return value

    @cached_property
    def normalised_choices(self) -> dict[str, Any]:
        """Choices keyed by normalised label (see bsin.reporting.text.normalise_label)."""
        return {normalise_label(label): value for label, value in (self.choices or {}).items()}


class FormMapping(_Strict):
    """A whole mapping file: one country's form of one kind."""

    country: str = Field(pattern=r"^[A-Z]{2}$")
    form_kind: FormKind
    language: str = Field(min_length=2, max_length=3)
    questions: list[QuestionMapping] = Field(min_length=1)
    #: Question ids of the form that are deliberately not mapped (no drift warning for them).
    ignored_questions: list[str] = Field(default_factory=list)

    @property
    def fields(self) -> dict[str, FieldSpec]:
        """Canonical fields of this mapping's form kind."""
        return FIELDS[self.form_kind]

    @cached_property
    def by_question_id(self) -> dict[str, QuestionMapping]:
        """Mapped questions keyed by question id."""
        return {q.question_id: q for q in self.questions}

    @cached_property
    def by_field(self) -> dict[str, QuestionMapping]:
        """Mapped questions keyed by canonical field."""
        return {q.field: q for q in self.questions}

    def problems(self) -> list[str]:
        """Every semantic mistake in this mapping, one ``key: problem; fix`` line each."""
        out: list[str] = []
        specs = self.fields
        seen_ids: dict[str, int] = {}
        seen_fields: dict[str, int] = {}
        for i, q in enumerate(self.questions):
            where = f"questions[{i}] (question_id {q.question_id!r})"
            if q.question_id in seen_ids:
                out.append(
                    f"{where}.question_id: already mapped in questions[{seen_ids[q.question_id]}]; "
                    "a question maps to one field: remove one of them"
                )
            seen_ids.setdefault(q.question_id, i)
            spec = specs.get(q.field)
            if spec is None:
                out.append(
                    f"{where}.field: unknown canonical field {q.field!r} for a {self.form_kind} "
                    f"form; use one of {', '.join(specs)}"
                )
                continue
            if q.field in seen_fields:
                out.append(
                    f"{where}.field: {q.field!r} is already mapped by questions[{seen_fields[q.field]}]; "
                    "map each field from exactly one question"
                )
            seen_fields.setdefault(q.field, i)
            out.extend(_choice_problems(where, q, spec))
        for name, spec in specs.items():
            if spec.mapping_required and name not in seen_fields:
                out.append(
                    f"questions: required field {name!r} is not mapped; add an entry with "
                    f"field: {name} and the question_id of the form question that asks it"
                )
        for qid in self.ignored_questions:
            if qid in seen_ids:
                out.append(
                    f"ignored_questions: {qid!r} is also mapped in questions[{seen_ids[qid]}]; "
                    "remove it from one of the two lists"
                )
        return out


def _choice_problems(where: str, q: QuestionMapping, spec: FieldSpec) -> list[str]:
    out: list[str] = []
    if spec.kind in ("bool", "enum", "set") and not q.choices:
        out.append(
            f"{where}.choices: field {spec.name!r} is a choice question; list every label of "
            f"the form with its canonical value ({spec.describe_values()})"
        )
    if spec.kind in ("text", "date") and q.choices:
        out.append(
            f"{where}.choices: field {spec.name!r} takes the answer as it is; remove choices"
        )
    normalised: dict[str, str] = {}
    for label, value in (q.choices or {}).items():
        key = normalise_label(label)
        if not key:
            out.append(f"{where}.choices: an empty label; remove it or write the label text")
        elif key in normalised:
            out.append(
                f"{where}.choices.{label!r}: same label as {normalised[key]!r} once case, spaces "
                "and invisible characters are ignored; keep one of them"
            )
        normalised.setdefault(key, label)
        if spec.kind in ("text", "date"):
            continue
        if not spec.allowed(value):
            hint = ""
            if isinstance(value, bool) and spec.kind in ("enum", "set"):
                hint = " (YAML reads bare yes/no/on/off as true/false: put the value in quotes)"
            out.append(
                f"{where}.choices.{label!r}: {value!r} is not a value of {spec.name!r}{hint}; "
                f"use one of: {spec.describe_values()}"
            )
    if q.other is not None:
        if spec.other_value is None:
            out.append(
                f"{where}.other: field {spec.name!r} has no 'other' value; remove the other key"
            )
        elif q.other != spec.other_value:
            out.append(f"{where}.other: write other: {spec.other_value}")
    return out


def mapping_path(country: str, form_kind: str, config_dir: Path | None = None) -> Path:
    """Where the mapping file of ``country``'s ``form_kind`` form lives."""
    base = Path(config_dir) if config_dir is not None else default_config_dir()
    return base / "mappings" / f"{country.lower()}_{form_kind}.yaml"


def validate_mapping(data: Any, source: str = "<mapping>") -> FormMapping:
    """Validate a mapping given as a dict (tests, generators); ConfigError like load_mapping."""
    try:
        mapping = FormMapping.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {_location(e['loc'], data)}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise ConfigError(f"{source}: invalid mapping\n" + "\n".join(lines)) from None
    _raise_problems(mapping, source)
    return mapping


def _raise_problems(mapping: FormMapping, source: str) -> None:
    problems = mapping.problems()
    if problems:
        raise ConfigError(f"{source}: invalid mapping\n" + "\n".join(f"  {p}" for p in problems))


def load_mapping(country: str, form_kind: str, config_dir: Path | None = None) -> FormMapping:
    """Load and fully validate ``mappings/<cc>_<form_kind>.yaml``; ConfigError names the fix.

    Besides the file's own consistency this checks that it is the file of ``country`` and
    ``form_kind``, and that its ``language`` is the partner's ``form_language`` in
    partners.yaml (when the config folder has one).
    """
    path = mapping_path(country, form_kind, config_dir)
    if not path.exists():
        raise ConfigError(
            f"{path}: no mapping for {country}'s {form_kind} form; create it as described in "
            "docs/mapping.md (question ids from the form, labels in the form's language)"
        )
    mapping: FormMapping = load_yaml_model(path, FormMapping)
    _raise_problems(mapping, str(path))
    if mapping.country != country.upper():
        raise ConfigError(f"{path}: country: is {mapping.country!r}, expected {country.upper()!r}")
    if mapping.form_kind != form_kind:
        raise ConfigError(f"{path}: form_kind: is {mapping.form_kind!r}, expected {form_kind!r}")
    partners_file = path.parent.parent / "partners.yaml"
    if partners_file.exists():
        partners = load_partners(partners_file)
        try:
            partner = partners.partner(mapping.country)
        except KeyError:
            raise ConfigError(
                f"{path}: country {mapping.country!r} is not in {partners_file}; add the partner "
                "there or delete this mapping"
            ) from None
        if partner.form_language != mapping.language:
            raise ConfigError(
                f"{path}: language: is {mapping.language!r} but partners.yaml says the "
                f"{mapping.country} forms are in {partner.form_language!r}; make them agree"
            )
    return mapping


@dataclass(frozen=True)
class FormQuestion:
    """One answerable question of a Form (a grid row counts as its own question)."""

    question_id: str
    title: str
    #: Regular option labels as in the form (choice questions, grid columns); no "Other".
    labels: tuple[str, ...] = ()
    has_other: bool = False
    #: ``(low, high)`` of a scale question.
    scale: tuple[int, int] | None = None
    #: Title of the grid a row belongs to.
    group_title: str | None = None

    def title_matches(self, title: str) -> bool:
        """Whether a mapping's ``title`` names this question (a grid row also as "Grid [Row]")."""
        wanted = normalise_label(title)
        candidates = {normalise_label(self.title)}
        if self.group_title is not None:
            candidates.add(normalise_label(f"{self.group_title} [{self.title}]"))
        return wanted in candidates


def form_questions(form: Any) -> dict[str, FormQuestion]:
    """The questions of a Forms API ``Form`` dict keyed by question id, in form order."""
    out: dict[str, FormQuestion] = {}
    for item in form.get("items") or []:
        question = (item.get("questionItem") or {}).get("question")
        if question and question.get("questionId"):
            choice = question.get("choiceQuestion") or {}
            options = choice.get("options") or []
            scale = question.get("scaleQuestion")
            out[question["questionId"]] = FormQuestion(
                question_id=question["questionId"],
                title=item.get("title") or "",
                labels=tuple(
                    o["value"] for o in options if o.get("value") and not o.get("isOther")
                ),
                has_other=any(o.get("isOther") for o in options),
                scale=(int(scale.get("low", 0)), int(scale.get("high", 0))) if scale else None,
            )
        group = item.get("questionGroupItem") or {}
        columns = ((group.get("grid") or {}).get("columns") or {}).get("options") or []
        for row in group.get("questions") or []:
            if row.get("questionId"):
                out[row["questionId"]] = FormQuestion(
                    question_id=row["questionId"],
                    title=(row.get("rowQuestion") or {}).get("title") or "",
                    labels=tuple(o["value"] for o in columns if o.get("value")),
                    group_title=item.get("title") or "",
                )
    return out
