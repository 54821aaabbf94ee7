"""Draft a mapping file from a partner's Google Form: ``make map-form FORM=... COUNTRY=...``.

Reads the form through the configured Forms connection (``google_forms_default``; or a
local emulator with ``--emulator DIR``), lists every question with its id, title, type and
options, and pre-fills the canonical field and values wherever a title or option label
matches a known translation: the mapping files already in ``mappings/`` and the sample
texts of every language. Each guess is marked ``# GUESS: review`` and each question
without one gets ``field: TODO``; the draft is then validated and every remaining problem
printed. docs/mapping.md walks a new partner through it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bsin.core.config import FORM_KINDS, ConfigError
from bsin.core.paths import config_dir, data_dir
from bsin.reporting.text import normalise_label
from bsin.transform.mapping import FIELDS, FormQuestion, form_questions, validate_mapping

TODO = "TODO"


@dataclass
class Knowledge:
    """Known translations of one form kind: titles -> field, labels -> (field, value)."""

    titles: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    labels: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def add_title(self, title: str | None, field_name: str) -> None:
        if title:
            self.titles[normalise_label(title)][field_name] += 1

    def add_label(self, label: str, field_name: str, value: Any) -> None:
        key = normalise_label(label)
        if key and not key.isdigit():
            self.labels[key][(field_name, json.dumps(value))] += 1

    def field_for(self, q: FormQuestion) -> str | None:
        """The canonical field a question's title (or grid "Title [Row]") is known to mean."""
        keys = [normalise_label(q.title)]
        if q.group_title is not None:
            keys.insert(0, normalise_label(f"{q.group_title} [{q.title}]"))
        for key in keys:
            if key in self.titles:
                return self.titles[key].most_common(1)[0][0]
        return None

    def value_for(self, label: str, field_name: str | None) -> Any:
        """The canonical value a label is known to mean (for ``field_name`` when given)."""
        known = self.labels.get(normalise_label(label))
        if not known:
            return None
        for (f, value), _ in known.most_common():
            if field_name is None or f == field_name:
                return json.loads(value)
        return None

    def field_from_labels(self, q: FormQuestion) -> str | None:
        """A field most of a choice question's labels are known to belong to."""
        votes: Counter = Counter()
        for label in q.labels:
            for (f, _), n in self.labels.get(normalise_label(label), Counter()).items():
                votes[f] += n
        if not votes:
            return None
        best, n = votes.most_common(1)[0]
        return best if n >= max(2, len(q.labels) // 2) else None


def known_translations(kind: str, mappings_dir: Path | None = None) -> Knowledge:
    """Everything the project knows about titles and labels of ``kind`` forms."""
    import yaml

    from bsin.transform.mapping import NEEDS
    from bsin_dev.sample_texts import TEXTS

    k = Knowledge()
    folder = mappings_dir or config_dir() / "mappings"
    for path in sorted(folder.glob(f"*_{kind}.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            continue
        for q in data.get("questions") or []:
            k.add_title(q.get("title"), q.get("field"))
            for label, value in (q.get("choices") or {}).items():
                k.add_label(str(label), q.get("field"), value)
    for texts in TEXTS.values():
        t = texts.get(kind) or {}
        for name, spec in t.items():
            if kind == "self_assessment" and name == "areas":
                for label, area in zip(spec, NEEDS, strict=True):
                    k.add_label(label, "needs", area)
                    k.add_title(f"{t['capability']} [{label}]", f"capability_{area}")
                continue
            if name not in FIELDS[kind]:
                continue
            if isinstance(spec, str):
                k.add_title(spec, name)
            elif isinstance(spec, tuple):
                title, choices = spec
                k.add_title(title, name)
                if isinstance(choices, dict):
                    for label, value in choices.items():
                        k.add_label(label, name, value)
        if kind == "self_assessment" and t.get("needs"):
            k.add_title(t["needs"], "needs")
    return k


def _q(text: str) -> str:
    # JSON strings are valid YAML double-quoted scalars: no yes/no/number surprises.
    return json.dumps(text, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _q(str(value))


def _type(q: FormQuestion, raw: dict[str, Any]) -> str:
    if q.group_title is not None:
        return f"grid row of {q.group_title!r}, columns {list(q.labels)}"
    if q.scale:
        return f"scale {q.scale[0]}-{q.scale[1]}"
    question = raw.get(q.question_id) or {}
    if "choiceQuestion" in question:
        kind = question["choiceQuestion"].get("type", "RADIO")
        return f"choice ({kind}{', with Other' if q.has_other else ''})"
    if "dateQuestion" in question:
        return "date"
    if "textQuestion" in question:
        return "paragraph text" if question["textQuestion"].get("paragraph") else "short text"
    return "question"


def _raw_questions(form: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for item in form.get("items") or []:
        question = (item.get("questionItem") or {}).get("question")
        if question and question.get("questionId"):
            out[question["questionId"]] = question
    return out


def draft_mapping(
    form: dict[str, Any], country: str, kind: str, language: str, knowledge: Knowledge
) -> tuple[str, dict[str, Any], int]:
    """(YAML text, the same as data, number of guesses) of a draft mapping for ``form``."""
    specs = FIELDS[kind]
    questions = form_questions(form)
    raw = _raw_questions(form)
    guesses = 0
    used: set[str] = set()
    lines = [
        f"# DRAFT mapping of {country}'s {kind.replace('_', '-')} form {form.get('formId')} "
        f"(revision {form.get('revisionId')}), written by `make map-form`.",
        "# Review every line marked GUESS, replace every TODO (a canonical field from",
        "# docs/mapping.md, or move the question id to ignored_questions), then move this",
        f"# file to include/config/mappings/{country.lower()}_{kind}.yaml.",
        f"country: {_q(country)}",
        f"form_kind: {kind}",
        f"language: {language}",
        "questions:",
    ]
    data: dict[str, Any] = {
        "country": country,
        "form_kind": kind,
        "language": language,
        "questions": [],
    }
    for q in questions.values():
        guess = knowledge.field_for(q)
        if guess is None and q.labels and q.group_title is None:
            guess = knowledge.field_from_labels(q)
        if guess in used or guess not in specs:
            guess = None
        spec = specs.get(guess) if guess else None
        entry: dict[str, Any] = {"question_id": q.question_id, "field": guess or TODO}
        lines.append(f"  - question_id: {_q(q.question_id)}")
        lines.append(f"    # {_type(q, raw)}")
        if guess:
            used.add(guess)
            guesses += 1
            lines.append(f"    field: {guess}  # GUESS from a known title or its options: review")
        else:
            fields_left = ", ".join(f for f in specs if f not in used)
            lines.append(f"    field: {TODO}  # one of: {fields_left}")
        title = f"{q.group_title} [{q.title}]" if q.group_title is not None else q.title
        entry["title"] = title
        lines.append(f"    title: {_q(title)}")
        choice_kind = spec.kind in ("bool", "enum", "set") if spec else bool(q.labels)
        if q.labels and choice_kind and not (spec and spec.kind == "int"):
            entry["choices"] = {}
            lines.append("    choices:")
            for label in q.labels:
                value = knowledge.value_for(label, guess)
                if value is None:
                    allowed = spec.describe_values() if spec else "the canonical value"
                    lines.append(f"      {_q(label)}: {TODO}  # one of: {allowed}")
                    entry["choices"][label] = TODO
                else:
                    guesses += 1
                    lines.append(f"      {_q(label)}: {_value(value)}  # GUESS: review")
                    entry["choices"][label] = value
        elif q.labels and spec and spec.kind == "int":
            lines.append(f"    # options {list(q.labels)}: numbers, read as they are")
        if q.has_other:
            if spec is not None and spec.other_value is not None:
                lines.append(f"    other: {spec.other_value}  # the form's Other option")
                entry["other"] = spec.other_value
            else:
                lines.append("    # the form has an Other option: only a field with an other")
                lines.append("    # value (challenges) can take it; otherwise ask to remove it")
        data["questions"].append(entry)
    lines.append("ignored_questions: []")
    data["ignored_questions"] = []
    return "\n".join(lines) + "\n", data, guesses


def _service(emulator: Path | None):
    if emulator is not None:
        from bsin.ingest.forms_hook import build_service
        from bsin_dev.emulator import start_emulator

        emu = start_emulator(emulator)
        return build_service({"endpoint": emu.url, "num_retries": 1}), emu
    from bsin.ingest.forms_hook import FormsHook

    return FormsHook("google_forms_default").get_conn(), None


def main(argv: list[str] | None = None) -> int:
    """Command line of ``make map-form``; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--form", required=True, help="Google Form id")
    parser.add_argument("--country", required=True, help="ISO 3166-1 alpha-2 code, e.g. NO")
    parser.add_argument("--kind", default="monthly", choices=FORM_KINDS)
    parser.add_argument("--language", help="form language (default: partners.yaml form_language)")
    parser.add_argument("--out", type=Path, help="draft file (default: data/mapping-drafts/)")
    parser.add_argument("--emulator", type=Path, help="serve this emulator data folder instead")
    args = parser.parse_args(argv)
    country = args.country.upper()
    language = args.language
    if language is None:
        from bsin.core.config import load_partners

        try:
            language = load_partners().partner(country).form_language
        except KeyError:
            print(
                f"error: {country} is not in partners.yaml: add the partner first, or pass "
                "--language (LANGUAGE=) with the form's language code",
                file=sys.stderr,
            )
            return 2
    from bsin.ingest.forms_client import FormsApiError, get_form

    service, emu = _service(args.emulator)
    try:
        form = get_form(service, args.form, num_retries=1)
    except FormsApiError as exc:
        print(f"error: cannot read form {args.form}: {exc}", file=sys.stderr)
        return 2
    finally:
        if emu is not None:
            emu.stop()
    text, data, guesses = draft_mapping(
        form, country, args.kind, language, known_translations(args.kind)
    )
    out = args.out or data_dir() / "mapping-drafts" / f"{country.lower()}_{args.kind}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}: {len(data['questions'])} questions, {guesses} guesses to review")
    try:
        validate_mapping(data, source=str(out))
    except ConfigError as exc:
        print(f"still to do before the draft is a valid mapping:\n{exc}")
        return 0
    print(
        "the draft is a valid mapping; review every GUESS, then move it to "
        f"include/config/mappings/{country.lower()}_{args.kind}.yaml"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
