"""Deterministic sample data for the Forms API emulator, and a scaled-up network for benchmarks.

``python -m bsin_dev.sample_data --out include/sample/emulator`` writes, for every partner in
partners.yaml, its two Google Forms (monthly feedback, self-assessment) in the partner's
language with random-looking question IDs as Google makes them, the members' responses
over the programme months of programme.yaml, and the mapping files
``include/config/mappings/<cc>_<form_kind>.yaml`` that tie those forms to the canonical
questionnaire (docs/mapping.md). A fixed seed makes every run byte-identical.

What the sample data contains, so tests and reports can rely on it:

* the members are fictitious (``anna.lindqvist@example.org``), ``active_members`` per country;
* every monthly response is submitted between day 22 of its month and day 5 of the next
  (partner time zone), so the default feedback-month rule (bsin.core.months) assigns it to that
  month; 10-20 % of members do not answer in a given month (varying);
* the Estonian monthly form also asks for the feedback month (a date question);
* one Swedish response of March 2023 was edited later: same ``responseId``, later
  ``lastSubmittedTime``, other satisfaction; its first version is in ``superseded/``;
* Latvian satisfaction dips by about 1.5 points in February and March 2023;
* everyone fills in a baseline self-assessment in the first month, most an end-line one in
  the last month, with capability growth in the areas they named as needs.

``generate_network(...)`` writes a synthetic network of any size in the same shapes (see its
docstring) for the benchmark.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import math
import random
import shutil
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bsin.core.config import Partner, load_partners, load_programme
from bsin.core.months import add_months, feedback_month_for, month_range
from bsin.core.paths import SAMPLE_DIR, config_dir
from bsin.transform.mapping import NEEDS
from bsin_dev.sample_texts import email_local_part, texts_for

SEED = "bsin-sample-2022"
#: Countries whose monthly form has a "which month is this about" date question.
DATE_QUESTION_COUNTRIES = frozenset({"EE"})
#: (country, months) whose satisfaction dips, and by how much.
DIP_COUNTRY, DIP_MONTHS, DIP_POINTS = "LV", (date(2023, 2, 1), date(2023, 3, 1)), 1.5
#: The response that is edited after submission.
EDIT_COUNTRY, EDIT_MONTH = "SE", date(2023, 3, 1)
#: Month of the final in-person event (Riga): more cross-border contacts.
FINAL_EVENT_MONTH = date(2023, 8, 1)
EMAIL_DOMAIN = "example.org"


# --------------------------------------------------------------------------------------
# Forms
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MappedQuestion:
    """One question of a generated form and the canonical field it holds."""

    question_id: str
    field: str
    title: str
    choices: dict[str, Any] | None = None
    other: bool = False


@dataclass
class GeneratedForm:
    """A Form resource plus what its questions mean (the source of its mapping file)."""

    country: str
    kind: str
    language: str
    form: dict[str, Any]
    questions: list[MappedQuestion]

    def by_field(self, name: str) -> MappedQuestion:
        for q in self.questions:
            if q.field == name:
                return q
        raise KeyError(name)

    def label_for(self, name: str, value: Any) -> str:
        """The local label whose canonical value is ``value`` in question ``name``."""
        for label, canonical in (self.by_field(name).choices or {}).items():
            if canonical == value:
                return label
        raise KeyError(f"{name}={value!r}")


class _Ids:
    """Unique 8-hex-digit item and question IDs, like the ones Google Forms assigns."""

    def __init__(self, rng: random.Random):
        self.rng, self.used = rng, set()

    def __call__(self) -> str:
        while True:
            value = f"{self.rng.getrandbits(32):08x}"
            if value not in self.used:
                self.used.add(value)
                return value


def _question(qid: str, required: bool = True, **kind: Any) -> dict[str, Any]:
    return {"questionId": qid, "required": required, **kind}


def _choice(labels: Iterable[str], kind: str = "RADIO", other: bool = False) -> dict[str, Any]:
    options: list[dict[str, Any]] = [{"value": label} for label in labels]
    if other:
        options.append({"isOther": True})
    return {"type": kind, "options": options}


def _item(ids: _Ids, title: str, question: dict[str, Any], description: str | None = None):
    item: dict[str, Any] = {"itemId": ids(), "title": title}
    if description:
        item["description"] = description
    item["questionItem"] = {"question": question}
    return item


def _form_shell(form_id: str, texts: dict[str, Any], rng: random.Random, revision: int) -> dict:
    responder = "1FAIpQLS" + base64.urlsafe_b64encode(rng.randbytes(36)).decode().rstrip("=")
    return {
        "formId": form_id,
        "info": {
            "title": texts["title"],
            "description": texts["description"],
            "documentTitle": texts["title"],
        },
        "settings": {"emailCollectionType": "VERIFIED"},
        "revisionId": f"{revision:08x}",
        "responderUri": f"https://docs.google.com/forms/d/e/{responder}/viewform",
        "items": [],
    }


def build_monthly_form(
    country: str, language: str, form_id: str, *, date_question: bool, seed: str = SEED
) -> GeneratedForm:
    """The monthly feedback form of ``country`` in ``language`` (docs/mapping.md questions)."""
    t = texts_for(language)["monthly"]
    rng = random.Random(f"{seed}:{country}:monthly:form")
    ids = _Ids(rng)
    form = _form_shell(form_id, t, rng, revision=rng.randrange(20, 90))
    items, mapped = form["items"], []

    def add(field_name: str, title: str, question: dict, choices=None, other=False, desc=None):
        items.append(_item(ids, title, question, desc))
        mapped.append(MappedQuestion(question["questionId"], field_name, title, choices, other))

    if date_question:
        title, desc = t["feedback_month"]
        add(
            "feedback_month", title, _question(ids(), dateQuestion={"includeYear": True}), desc=desc
        )
    for name in ("attended_peer_session", "attended_workshop"):
        title, choices = t[name]
        add(name, title, _question(ids(), choiceQuestion=_choice(choices)), choices)
    for name, low, high in (("satisfaction", 1, 5), ("relevance", 1, 5), ("recommend", 0, 10)):
        title, (low_label, high_label) = t[name]
        scale = {"low": low, "high": high, "lowLabel": low_label, "highLabel": high_label}
        add(name, title, _question(ids(), scaleQuestion=scale))
    title, choices = t["new_skill"]
    add("new_skill", title, _question(ids(), choiceQuestion=_choice(choices)), choices)
    add(
        "new_connections_abroad",
        t["new_connections_abroad"],
        _question(ids(), textQuestion={}),
    )
    # A section break, as real forms have: items without a question must not confuse anyone.
    items.append({"itemId": ids(), "title": t["section"], "pageBreakItem": {}})
    title, choices = t["stakeholder_access"]
    add(
        "stakeholder_access",
        title,
        _question(ids(), choiceQuestion=_choice(choices, "CHECKBOX")),
        choices,
    )
    title, choices = t["challenges"]
    add(
        "challenges",
        title,
        _question(ids(), required=False, choiceQuestion=_choice(choices, "CHECKBOX", other=True)),
        choices,
        other=True,
    )
    add(
        "suggestion",
        t["suggestion"],
        _question(ids(), required=False, textQuestion={"paragraph": True}),
    )
    return GeneratedForm(country, "monthly", language, form, mapped)


def build_self_assessment_form(
    country: str, language: str, form_id: str, *, seed: str = SEED
) -> GeneratedForm:
    """The self-assessment form: wave, needs, capability grid (one row per area), interests."""
    t = texts_for(language)["self_assessment"]
    rng = random.Random(f"{seed}:{country}:self_assessment:form")
    ids = _Ids(rng)
    form = _form_shell(form_id, t, rng, revision=rng.randrange(5, 30))
    items, mapped = form["items"], []
    title, choices = t["wave"]
    items.append(_item(ids, title, _question(ids(), choiceQuestion=_choice(choices))))
    mapped.append(
        MappedQuestion(items[-1]["questionItem"]["question"]["questionId"], "wave", title, choices)
    )
    needs = dict(zip(t["areas"], NEEDS, strict=True))
    items.append(
        _item(ids, t["needs"], _question(ids(), choiceQuestion=_choice(needs, "CHECKBOX")))
    )
    mapped.append(
        MappedQuestion(
            items[-1]["questionItem"]["question"]["questionId"], "needs", t["needs"], needs
        )
    )
    rows = []
    for label, area in needs.items():
        qid = ids()
        rows.append(_question(qid, rowQuestion={"title": label}))
        mapped.append(MappedQuestion(qid, f"capability_{area}", label))
    columns = _choice([str(n) for n in range(1, 6)])
    items.append(
        {
            "itemId": ids(),
            "title": t["capability"],
            "questionGroupItem": {"questions": rows, "grid": {"columns": columns}},
        }
    )
    items.append(
        _item(
            ids, t["interests"], _question(ids(), required=False, textQuestion={"paragraph": True})
        )
    )
    mapped.append(
        MappedQuestion(
            items[-1]["questionItem"]["question"]["questionId"], "interests", t["interests"]
        )
    )
    return GeneratedForm(country, "self_assessment", language, form, mapped)


# --------------------------------------------------------------------------------------
# Mapping files
# --------------------------------------------------------------------------------------


def _yaml_str(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar; quoting every string keeps YAML
    # from reading "yes"/"no"/"12345678" as booleans or numbers.
    return json.dumps(text, ensure_ascii=False)


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _yaml_str(str(value))


def mapping_yaml(gen: GeneratedForm) -> str:
    """The mapping file of a generated form, in the format of docs/mapping.md."""
    form = gen.form
    lines = [
        f"# Mapping of {gen.country}'s {gen.kind.replace('_', '-')} form "
        f"{form['formId']} (revision {form['revisionId']}).",
        "# Generated by `python -m bsin_dev.sample_data` for the sample data; a real partner's file",
        "# is written by hand from its form (see docs/mapping.md).",
        f"country: {_yaml_str(gen.country)}",  # quoted: YAML reads a bare NO as false
        f"form_kind: {gen.kind}",
        f"language: {gen.language}",
        "questions:",
    ]
    for q in gen.questions:
        lines += [
            f"  - question_id: {_yaml_str(q.question_id)}",
            f"    field: {q.field}",
            f"    title: {_yaml_str(q.title)}",
        ]
        if q.choices:
            lines.append("    choices:")
            lines += [f"      {_yaml_str(k)}: {_yaml_value(v)}" for k, v in q.choices.items()]
        if q.other:
            lines.append("    other: other")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Members and responses (the 30-member sample)
# --------------------------------------------------------------------------------------


@dataclass
class Member:
    """A fictitious member and the traits that shape their answers."""

    country: str
    email: str
    responsiveness: float  # multiplies the country-month non-response rate
    satisfaction: float  # personal mean satisfaction 1-5
    relevance: float
    peer_attendance: float
    workshop_attendance: float
    networking: float  # mean new cross-border contacts per month
    needs: list[str] = field(default_factory=list)
    baseline: dict[str, int] = field(default_factory=dict)


def make_members(partner: Partner, seed: str = SEED) -> list[Member]:
    """``partner.active_members`` fictitious members with local names at example.org."""
    names = texts_for(partner.form_language)["names"]
    rng = random.Random(f"{seed}:{partner.country}:members")
    members = []
    for i in range(partner.active_members):
        first, last = names[i % len(names)]
        # More members than names: a numbered surname keeps every email distinct.
        if i >= len(names):
            last = f"{last}{i // len(names) + 1}"
        needs = sorted(rng.sample(NEEDS, rng.randint(2, 4)), key=NEEDS.index)
        baseline = {
            area: rng.randint(1, 3) if area in needs else rng.randint(2, 4) for area in NEEDS
        }
        members.append(
            Member(
                country=partner.country,
                email=f"{email_local_part(first, last)}@{EMAIL_DOMAIN}",
                responsiveness=rng.uniform(0.5, 1.5),
                satisfaction=rng.uniform(3.5, 4.6),
                relevance=rng.uniform(3.2, 4.4),
                peer_attendance=rng.uniform(0.6, 0.95),
                workshop_attendance=rng.uniform(0.3, 0.8),
                networking=rng.uniform(0.4, 2.0),
                needs=needs,
                baseline=baseline,
            )
        )
    return members


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: exact and fast for the small means used here.
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def format_timestamp(ts: datetime) -> str:
    """RFC 3339 UTC as proto3 JSON writes it: 3 or 6 fractional digits, ``Z``."""
    ts = ts.astimezone(UTC)
    frac = f"{ts.microsecond:06d}"
    frac = frac[:3] if frac.endswith("000") else frac
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


def _response_id(rng: random.Random) -> str:
    return "ACYDBN" + base64.urlsafe_b64encode(rng.randbytes(48)).decode().rstrip("=")


def _answer(qid: str, *values: str) -> dict[str, Any]:
    return {"questionId": qid, "textAnswers": {"answers": [{"value": v} for v in values]}}


def _local_time(rng: random.Random, day: date, tz: ZoneInfo) -> datetime:
    # Daytime hours only: no DST gap or fold, and it is when people fill in forms.
    hour = rng.choice((8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22))
    micro = rng.randrange(1000) * 1000 if rng.random() < 0.7 else rng.randrange(1_000_000)
    return datetime(
        day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), micro, tzinfo=tz
    )


def _submission_days(month: date, grace_days: int) -> list[date]:
    """Local dates on which a month's feedback is submitted: day 22 to day 5 of the next."""
    last = add_months(month, 1) + timedelta(days=min(5, grace_days) - 1)
    first = month.replace(day=22)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def monthly_answers(
    gen: GeneratedForm,
    member: Member,
    month: date,
    rng: random.Random,
    local_submitted: datetime,
) -> dict[str, dict[str, Any]]:
    """One member's plausible answers for ``month`` as the API's ``answers`` map."""
    texts = texts_for(gen.language)
    dip = DIP_POINTS if member.country == DIP_COUNTRY and month in DIP_MONTHS else 0.0
    # Less spread in a dip month: with 7 members the dip must show, not drown in noise.
    sat = _clamp(rng.gauss(member.satisfaction - dip, 0.35 if dip else 0.6), 1, 5)
    rel = _clamp(
        rng.gauss(member.relevance + 0.3 * (sat - member.satisfaction) - dip / 2, 0.6), 1, 5
    )
    rec = _clamp(rng.gauss(2.1 * sat - 0.6, 1.1), 0, 10)
    r = rng.random()
    skill = "yes" if r < 0.3 + 0.1 * (sat - 3) else "partly" if r < 0.75 else "no"
    contacts = _poisson(rng, member.networking + (3.0 if month == FINAL_EVENT_MONTH else 0.0))
    stakeholders = [
        s
        for s, p in (
            ("public_sector", 0.25),
            ("corporate", 0.2),
            ("impact_investor", 0.12),
            ("media", 0.08),
        )
        if rng.random() < p
    ] or ["none"]
    challenges = [
        c
        for c, p in (
            ("funding", 0.55),
            ("visibility", 0.35),
            ("capacity", 0.3),
            ("team", 0.2),
            ("policy", 0.15),
        )
        if rng.random() < p
    ]
    other = rng.choice(texts["other_challenges"]) if rng.random() < 0.08 else None

    answers: dict[str, dict[str, Any]] = {}
    for q in gen.questions:
        qid, name = q.question_id, q.field
        if name == "feedback_month":
            # Members pick a date in the month they report on: today, or its 1st when late.
            local_day = local_submitted.date()
            day = local_day if month_start_of(local_day) == month else month
            answers[qid] = _answer(qid, day.isoformat())
        elif name in ("attended_peer_session", "attended_workshop"):
            p = (
                member.peer_attendance
                if name == "attended_peer_session"
                else member.workshop_attendance
            )
            answers[qid] = _answer(qid, gen.label_for(name, rng.random() < p))
        elif name == "satisfaction":
            answers[qid] = _answer(qid, str(sat))
        elif name == "relevance":
            answers[qid] = _answer(qid, str(rel))
        elif name == "recommend":
            answers[qid] = _answer(qid, str(rec))
        elif name == "new_skill":
            answers[qid] = _answer(qid, gen.label_for(name, skill))
        elif name == "new_connections_abroad":
            answers[qid] = _answer(qid, str(contacts))
        elif name == "stakeholder_access":
            answers[qid] = _answer(qid, *(gen.label_for(name, s) for s in stakeholders))
        elif name == "challenges":
            values = [gen.label_for(name, c) for c in challenges] + ([other] if other else [])
            if values:  # not required: no challenge ticked means no answer at all
                answers[qid] = _answer(qid, *values)
        elif name == "suggestion":
            if rng.random() < (0.75 if dip else 0.5):
                answers[qid] = _answer(qid, rng.choice(texts["suggestions"]))
    return answers


def month_start_of(d: date) -> date:
    """First day of ``d``'s month."""
    return d.replace(day=1)


def _response(form_id: str, rid: str, submitted: datetime, email: str, answers: dict) -> dict:
    ts = format_timestamp(submitted)
    return {
        "formId": form_id,
        "responseId": rid,
        "createTime": ts,
        "lastSubmittedTime": ts,
        "respondentEmail": email,
        "answers": answers,
    }


def monthly_responses(
    gen: GeneratedForm,
    partner: Partner,
    members: list[Member],
    months: list[date],
    grace_days: int,
    seed: str = SEED,
) -> list[dict[str, Any]]:
    """Every monthly response of a partner's members over ``months`` (non-response included)."""
    rng = random.Random(f"{seed}:{partner.country}:monthly:responses")
    tz = ZoneInfo(partner.timezone)
    out = []
    for month in months:
        nonresponse = rng.uniform(0.08, 0.22)
        days = _submission_days(month, grace_days)
        for member in members:
            if rng.random() < nonresponse * member.responsiveness:
                continue
            # Most answer in the last days of the month or just after it.
            day = days[min(len(days) - 1, int(rng.triangular(0, len(days), len(days) * 0.6)))]
            local = _local_time(rng, day, tz)
            submitted = local.astimezone(UTC)
            if feedback_month_for(submitted, partner.timezone, grace_days) != month:
                raise AssertionError(f"sample submission {submitted} falls outside {month}")
            answers = monthly_answers(gen, member, month, rng, local)
            out.append(
                _response(gen.form["formId"], _response_id(rng), submitted, member.email, answers)
            )
    return out


def self_assessment_responses(
    gen: GeneratedForm,
    partner: Partner,
    members: list[Member],
    first: date,
    last: date,
    seed: str = SEED,
) -> list[dict[str, Any]]:
    """Baseline (``first`` month, everyone) and end-line (``last`` month, most) self-assessments."""
    rng = random.Random(f"{seed}:{partner.country}:self_assessment:responses")
    tz = ZoneInfo(partner.timezone)
    texts = texts_for(gen.language)
    out = []
    # One member per country never fills in the end-line form.
    no_endline = rng.choice(members).email if len(members) > 3 else None
    for wave, month in (("baseline", first), ("endline", last)):
        for member in members:
            if wave == "endline" and member.email == no_endline:
                continue
            scores = dict(member.baseline)
            if wave == "endline":
                for area in NEEDS:
                    growth = rng.choices(
                        (0, 1, 2), (0.15, 0.5, 0.35) if area in member.needs else (0.6, 0.35, 0.05)
                    )[0]
                    scores[area] = min(5, scores[area] + growth)
            day = month.replace(
                day=rng.randint(2, 20) if wave == "baseline" else rng.randint(18, 28)
            )
            submitted = _local_time(rng, day, tz).astimezone(UTC)
            answers: dict[str, dict[str, Any]] = {}
            for q in gen.questions:
                if q.field == "wave":
                    answers[q.question_id] = _answer(q.question_id, gen.label_for("wave", wave))
                elif q.field == "needs":
                    labels = [gen.label_for("needs", n) for n in member.needs]
                    answers[q.question_id] = _answer(q.question_id, *labels)
                elif q.field.startswith("capability_"):
                    area = q.field.removeprefix("capability_")
                    answers[q.question_id] = _answer(q.question_id, str(scores[area]))
                elif q.field == "interests" and rng.random() < 0.8:
                    answers[q.question_id] = _answer(q.question_id, rng.choice(texts["interests"]))
            rid = _response_id(rng)
            out.append(_response(gen.form["formId"], rid, submitted, member.email, answers))
    return out


def apply_edit(
    responses: list[dict[str, Any]],
    gen: GeneratedForm,
    partner: Partner,
    month: date,
    grace_days: int,
) -> dict[str, Any]:
    """Edit one response of ``month`` in place (later time, other satisfaction); return the original.

    The edit keeps ``createTime`` and ``responseId``, as a Google Forms edit does, and stays
    within the same feedback month.
    """
    sat_q = gen.by_field("satisfaction").question_id
    candidates = sorted(
        (
            r
            for r in responses
            if feedback_month_for(
                datetime.fromisoformat(r["lastSubmittedTime"].replace("Z", "+00:00")),
                partner.timezone,
                grace_days,
            )
            == month
        ),
        key=lambda r: r["lastSubmittedTime"],
    )
    if not candidates:
        raise ValueError(f"{partner.country}: no response in {month} to edit")
    target = candidates[0]
    original = copy.deepcopy(target)
    submitted = datetime.fromisoformat(target["lastSubmittedTime"].replace("Z", "+00:00"))
    edited = submitted + timedelta(days=2, hours=3, minutes=17, seconds=41)
    if feedback_month_for(edited, partner.timezone, grace_days) != month:
        raise AssertionError("the sample edit must stay in its feedback month")
    old = int(target["answers"][sat_q]["textAnswers"]["answers"][0]["value"])
    new = old + 2 if old <= 3 else old - 2
    target["lastSubmittedTime"] = format_timestamp(edited)
    target["answers"][sat_q] = _answer(sat_q, str(new))
    return original


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, list):
        # One response per line: readable, greppable and small diffs when regenerated.
        lines = [json.dumps(item, ensure_ascii=False, separators=(",", ":")) for item in data]
        text = "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"
    else:
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")


def _clear_json(folder: Path, keep: set[str]) -> None:
    # Remove files of forms that no longer exist (e.g. a form ID changed in partners.yaml).
    if folder.is_dir():
        for path in folder.glob("*.json"):
            if path.name not in keep:
                path.unlink()


@dataclass
class SampleSummary:
    """What ``generate_sample`` wrote."""

    out_dir: Path
    mappings_dir: Path
    responses: dict[str, int]  # form id -> number of responses
    files: list[Path]


def partner_forms(partner: Partner, seed: str = SEED) -> dict[str, GeneratedForm]:
    """The generated forms of a partner (the kinds it has in partners.yaml), by form kind.

    A form language without sample texts gets the generic English texts (bsin_dev.sample_texts).
    """
    forms = {
        "monthly": build_monthly_form(
            partner.country,
            partner.form_language,
            partner.forms.monthly,
            date_question=partner.country in DATE_QUESTION_COUNTRIES,
            seed=seed,
        )
    }
    if partner.has_form("self_assessment"):
        forms["self_assessment"] = build_self_assessment_form(
            partner.country, partner.form_language, partner.form_id("self_assessment"), seed=seed
        )
    return forms


def generate_sample(
    out_dir: Path = SAMPLE_DIR,
    mappings_dir: Path | None = None,
    config: Path | None = None,
    seed: str = SEED,
) -> SampleSummary:
    """Write the sample forms, responses and mapping files; byte-identical for the same input.

    ``config`` is the folder with partners.yaml and programme.yaml (default: the project's).
    """
    base = Path(config) if config else config_dir()
    partners = load_partners(base / "partners.yaml")
    programme = load_programme(base / "programme.yaml")
    months = month_range(programme.first_month, programme.effective_last_month)
    mappings_dir = Path(mappings_dir) if mappings_dir else base / "mappings"
    out_dir = Path(out_dir)
    files: list[Path] = []
    counts: dict[str, int] = {}
    names: set[str] = set()
    superseded: dict[str, list[dict[str, Any]]] = {}
    for partner in partners.partners:
        forms = partner_forms(partner, seed)
        members = make_members(partner, seed)
        responses = {
            "monthly": monthly_responses(
                forms["monthly"], partner, members, months, programme.grace_days, seed
            )
        }
        if "self_assessment" in forms:
            responses["self_assessment"] = self_assessment_responses(
                forms["self_assessment"], partner, members, months[0], months[-1], seed
            )
        if partner.country == EDIT_COUNTRY and EDIT_MONTH in months:
            original = apply_edit(
                responses["monthly"], forms["monthly"], partner, EDIT_MONTH, programme.grace_days
            )
            superseded[partner.forms.monthly] = [original]
        for kind in partner.form_kinds:
            gen, form_id = forms[kind], partner.form_id(kind)
            rows = sorted(responses[kind], key=lambda r: (r["lastSubmittedTime"], r["responseId"]))
            names.add(f"{form_id}.json")
            for sub, data in (("forms", gen.form), ("responses", rows)):
                path = out_dir / sub / f"{form_id}.json"
                _dump(path, data)
                files.append(path)
            counts[form_id] = len(rows)
            mpath = mappings_dir / f"{partner.country.lower()}_{kind}.yaml"
            mpath.parent.mkdir(parents=True, exist_ok=True)
            mpath.write_text(mapping_yaml(gen), encoding="utf-8")
            files.append(mpath)
    for form_id, rows in superseded.items():
        path = out_dir / "superseded" / f"{form_id}.json"
        _dump(path, rows)
        files.append(path)
    _clear_json(out_dir / "forms", names)
    _clear_json(out_dir / "responses", names)
    _clear_json(out_dir / "superseded", {f"{f}.json" for f in superseded})
    return SampleSummary(out_dir, mappings_dir, counts, files)


# --------------------------------------------------------------------------------------
# Scaled-up synthetic network (benchmark)
# --------------------------------------------------------------------------------------

_COUNTRY_CODES = (
    "SE EE LV LT FI NO DK IS DE PL NL BE FR ES PT IT IE AT CH CZ SK HU SI HR RO BG GR CY MT "
    "LU GB UA MD RS BA ME MK AL GE AM"
).split()
_TIMEZONES = (
    "Europe/Stockholm",
    "Europe/Tallinn",
    "Europe/Riga",
    "Europe/Vilnius",
    "Europe/Helsinki",
    "Europe/Oslo",
    "Europe/Copenhagen",
    "Atlantic/Reykjavik",
    "Europe/Berlin",
    "Europe/Warsaw",
)
_LANG_CYCLE = ("sv", "et", "lv", "lt")


def network_country_codes(n: int) -> list[str]:
    """``n`` distinct two-letter codes: real European ones first, then made-up ``Q?``/``X?``."""
    codes = list(_COUNTRY_CODES[:n])
    extra = (a + b for a in "QXZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    while len(codes) < n:
        code = next(extra)
        if code not in codes:
            codes.append(code)
    if len(codes) < n:
        raise ValueError(f"at most {len(codes)} synthetic countries are supported")
    return codes


def _fake_form_id(rng: random.Random) -> str:
    return "1" + base64.urlsafe_b64encode(rng.randbytes(33)).decode()[:43]


@dataclass
class NetworkSummary:
    """What ``generate_network`` wrote."""

    out_dir: Path
    emulator_dir: Path
    config_dir: Path
    countries: list[str]
    months: list[date]
    members_per_country: int
    responses: int  # monthly responses in total
    responses_by_form: dict[str, int]
    seconds: float


def _partners_yaml(rows: list[dict[str, Any]]) -> str:
    lines = [
        "# Synthetic benchmark network written by bsin_dev.sample_data.generate_network.",
        "partners:",
    ]
    for p in rows:
        lines += [
            f"  - country: {_yaml_str(p['country'])}",
            f"    name: {_yaml_str(p['name'])}",
            f"    organisation: {_yaml_str(p['organisation'])}",
            f"    form_language: {p['form_language']}",
            "    report_language: en",
            f"    timezone: {p['timezone']}",
            f"    recipients: [{p['recipient']}]",
            f"    active_members: {p['active_members']}",
            "    forms:",
            f"      monthly: {_yaml_str(p['monthly'])}",
            f"      self_assessment: {_yaml_str(p['self_assessment'])}",
        ]
    return "\n".join(lines) + "\n"


class _FastMonthly:
    """Writes monthly responses of one generated form as JSON text without building dicts.

    Every fragment that does not vary (question prefixes, encoded labels) is encoded once, so
    a response costs a handful of random draws and one string join: a million responses
    take seconds, not minutes.
    """

    def __init__(self, gen: GeneratedForm):
        self.gen = gen
        enc = lambda s: json.dumps(s, ensure_ascii=False)  # noqa: E731
        self.prefix = {
            q.field: f'{enc(q.question_id)}:{{"questionId":{enc(q.question_id)},"textAnswers":{{"answers":['
            for q in gen.questions
        }
        self.value = {
            q.field: {c: '{"value":' + enc(label) + "}" for label, c in (q.choices or {}).items()}
            for q in gen.questions
        }
        self.number = ['{"value":"' + str(n) + '"}' for n in range(51)]
        texts = texts_for(gen.language)
        self.suggestions = ['{"value":' + enc(s) + "}" for s in texts["suggestions"]]
        self.head = '{"formId":' + enc(gen.form["formId"]) + ',"responseId":"'

    def response(self, rng: random.Random, rid: str, ts: str, email: str, sat_mean: float) -> str:
        rnd = rng.random
        sat = max(1, min(5, round(sat_mean + (rnd() - 0.5) * 2.4)))
        rel = max(1, min(5, round(sat_mean - 0.3 + (rnd() - 0.5) * 2.4)))
        rec = max(0, min(10, round(2.1 * sat - 0.6 + (rnd() - 0.5) * 3.0)))
        r = rnd()
        skill = "yes" if r < 0.35 else "partly" if r < 0.75 else "no"
        p, v, num = self.prefix, self.value, self.number
        parts = [
            p["attended_peer_session"] + v["attended_peer_session"][rnd() < 0.8] + "]}}",
            p["attended_workshop"] + v["attended_workshop"][rnd() < 0.5] + "]}}",
            p["satisfaction"] + num[sat] + "]}}",
            p["relevance"] + num[rel] + "]}}",
            p["recommend"] + num[rec] + "]}}",
            p["new_skill"] + v["new_skill"][skill] + "]}}",
            p["new_connections_abroad"] + num[int(rnd() * rnd() * 6)] + "]}}",
        ]
        sh = v["stakeholder_access"]
        chosen = [sh[s] for s, q in (("public_sector", 0.25), ("corporate", 0.2)) if rnd() < q]
        parts.append(p["stakeholder_access"] + (",".join(chosen) or sh["none"]) + "]}}")
        ch = v["challenges"]
        chosen = [
            ch[c] for c, q in (("funding", 0.5), ("visibility", 0.3), ("team", 0.2)) if rnd() < q
        ]
        if chosen:
            parts.append(p["challenges"] + ",".join(chosen) + "]}}")
        if rnd() < 0.3:
            parts.append(
                p["suggestion"] + self.suggestions[int(rnd() * len(self.suggestions))] + "]}}"
            )
        return (
            f'{self.head}{rid}","createTime":"{ts}","lastSubmittedTime":"{ts}",'
            f'"respondentEmail":"{email}","answers":{{{",".join(parts)}}}}}'
        )


def generate_network(
    out_dir: str | Path,
    countries: int = 40,
    members_per_country: int = 2500,
    months: int = 10,
    *,
    first_month: date = date(2022, 8, 1),
    response_rate: float = 0.9,
    grace_days: int = 7,
    seed: str = "bsin-network",
) -> NetworkSummary:
    """Write a synthetic network of any size for the benchmark (issue 6); deterministic.

    Layout under ``out_dir``:

    * ``emulator/forms/<formId>.json``, ``emulator/responses/<formId>.json``: serve with
      ``start_emulator(out_dir / "emulator")``; one response per line inside the JSON list;
    * ``config/partners.yaml``, ``config/programme.yaml``, ``config/mappings/*.yaml``, plus
      copies of the project's ``topics.yaml`` and ``signals.yaml`` when they exist: point
      ``BSIN_CONFIG_DIR`` at it.

    Forms reuse the four sample languages in turn; members answer each month with
    probability ``response_rate`` at a time the default feedback-month rule assigns to that
    month; everyone has a baseline self-assessment in the first month. The default
    (40 x 2,500 x 10 at 0.9) gives about 900,000 monthly responses (~1 GB of JSON).
    """
    started = time.perf_counter()
    out = Path(out_dir)
    emulator_dir, cfg_dir = out / "emulator", out / "config"
    for sub in ("forms", "responses"):
        shutil.rmtree(emulator_dir / sub, ignore_errors=True)
        (emulator_dir / sub).mkdir(parents=True)
    shutil.rmtree(cfg_dir / "mappings", ignore_errors=True)
    (cfg_dir / "mappings").mkdir(parents=True)
    month_list = [add_months(first_month, i) for i in range(months)]
    codes = network_country_codes(countries)
    partner_rows, by_form, total = [], {}, 0
    for i, cc in enumerate(codes):
        rng = random.Random(f"{seed}:{cc}")
        lang, tz_name = _LANG_CYCLE[i % len(_LANG_CYCLE)], _TIMEZONES[i % len(_TIMEZONES)]
        ids = {"monthly": _fake_form_id(rng), "self_assessment": _fake_form_id(rng)}
        gens = {
            "monthly": build_monthly_form(cc, lang, ids["monthly"], date_question=False, seed=seed),
            "self_assessment": build_self_assessment_form(
                cc, lang, ids["self_assessment"], seed=seed
            ),
        }
        for kind, gen in gens.items():
            (emulator_dir / "forms" / f"{ids[kind]}.json").write_text(
                json.dumps(gen.form, ensure_ascii=False, indent=2), encoding="utf-8"
            )
            (cfg_dir / "mappings" / f"{cc.lower()}_{kind}.yaml").write_text(
                mapping_yaml(gen), encoding="utf-8"
            )
        partner_rows.append(
            {
                "country": cc,
                "name": f"Country {cc}",
                "organisation": f"Partner organisation {cc}",
                "form_language": lang,
                "timezone": tz_name,
                "recipient": f"reports@{cc.lower()}.example.org",
                "active_members": members_per_country,
                **ids,
            }
        )
        emails = [f"member{j:05d}.{cc.lower()}@{EMAIL_DOMAIN}" for j in range(members_per_country)]
        sat_means = [rng.uniform(3.0, 4.7) for _ in emails]
        fast = _FastMonthly(gens["monthly"])
        tz = ZoneInfo(tz_name)
        path = emulator_dir / "responses" / f"{ids['monthly']}.json"
        count = 0
        with path.open("w", encoding="utf-8") as fh:
            fh.write("[\n")
            first = True
            for month in month_list:
                days = _submission_days(month, grace_days)
                lo = datetime(days[0].year, days[0].month, days[0].day, tzinfo=tz).timestamp()
                end = days[-1] + timedelta(days=1)
                hi = datetime(end.year, end.month, end.day, tzinfo=tz).timestamp()
                span, chunk = hi - lo, []
                for email, sat_mean in zip(emails, sat_means, strict=True):
                    if rng.random() >= response_rate:
                        continue
                    t = lo + rng.random() * span
                    ts = (
                        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
                        + f".{int(t % 1 * 1000):03d}Z"
                    )
                    rid = "ACYDBN" + base64.urlsafe_b64encode(rng.randbytes(36)).decode()
                    chunk.append(fast.response(rng, rid, ts, email, sat_mean))
                if chunk:
                    fh.write(("" if first else ",\n") + ",\n".join(chunk))
                    first = False
                    count += len(chunk)
            fh.write("\n]\n")
        by_form[ids["monthly"]] = count
        total += count
        by_form[ids["self_assessment"]] = _write_network_baselines(
            emulator_dir / "responses" / f"{ids['self_assessment']}.json",
            gens["self_assessment"],
            emails,
            month_list[0],
            tz,
            rng,
        )
    (cfg_dir / "partners.yaml").write_text(_partners_yaml(partner_rows), encoding="utf-8")
    (cfg_dir / "programme.yaml").write_text(
        "# Synthetic benchmark programme written by bsin_dev.sample_data.generate_network.\n"
        "name: Synthetic benchmark network\n"
        f"first_month: {month_list[0].isoformat()}\n"
        f"last_month: {month_list[-1].isoformat()}\n"
        f"grace_days: {grace_days}\n"
        "sender: Benchmark <bench@bsin.example.org>\n",
        encoding="utf-8",
    )
    for name in ("topics.yaml", "signals.yaml"):
        src = config_dir() / name
        if src.exists():
            shutil.copyfile(src, cfg_dir / name)
    return NetworkSummary(
        out,
        emulator_dir,
        cfg_dir,
        codes,
        month_list,
        members_per_country,
        total,
        by_form,
        time.perf_counter() - started,
    )


def _write_network_baselines(
    path: Path, gen: GeneratedForm, emails: list[str], month: date, tz: ZoneInfo, rng: random.Random
) -> int:
    """Baseline self-assessments for every synthetic member (streamed, one per line)."""
    wave_q, needs_q = gen.by_field("wave"), gen.by_field("needs")
    wave = json.dumps(gen.label_for("wave", "baseline"), ensure_ascii=False)
    need_labels = {v: json.dumps(k, ensure_ascii=False) for k, v in (needs_q.choices or {}).items()}
    grid = [q for q in gen.questions if q.field.startswith("capability_")]
    lo = datetime(month.year, month.month, 2, tzinfo=tz).timestamp()
    head = '{"formId":' + json.dumps(gen.form["formId"]) + ',"responseId":"'

    def ans(qid: str, *encoded: str) -> str:
        values = ",".join('{"value":' + e + "}" for e in encoded)
        return f'"{qid}":{{"questionId":"{qid}","textAnswers":{{"answers":[{values}]}}}}'

    with path.open("w", encoding="utf-8") as fh:
        rows = []
        for email in emails:
            t = lo + rng.random() * 18 * 86400
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"
            needs = rng.sample(NEEDS, 2)
            parts = [ans(wave_q.question_id, wave)]
            parts.append(ans(needs_q.question_id, *(need_labels[n] for n in NEEDS if n in needs)))
            parts += [ans(q.question_id, f'"{rng.randint(1, 4)}"') for q in grid]
            rid = "ACYDBN" + base64.urlsafe_b64encode(rng.randbytes(36)).decode()
            rows.append(
                f'{head}{rid}","createTime":"{ts}","lastSubmittedTime":"{ts}",'
                f'"respondentEmail":"{email}","answers":{{{",".join(parts)}}}}}'
            )
        fh.write("[\n" + ",\n".join(rows) + "\n]\n")
    return len(emails)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m bsin_dev.sample_data``: write the sample data (or ``--network`` for a benchmark)."""
    parser = argparse.ArgumentParser(
        prog="python -m bsin_dev.sample_data", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", default=str(SAMPLE_DIR), help="output folder (forms/, responses/)")
    parser.add_argument(
        "--mappings", help="where to write <cc>_<form_kind>.yaml (default: config's mappings/)"
    )
    parser.add_argument("--config", help="folder with partners.yaml and programme.yaml")
    parser.add_argument(
        "--network", action="store_true", help="write a scaled-up synthetic network instead"
    )
    parser.add_argument("--countries", type=int, default=40)
    parser.add_argument("--members", type=int, default=2500, help="members per country")
    parser.add_argument("--months", type=int, default=10)
    parser.add_argument("--response-rate", type=float, default=0.9)
    args = parser.parse_args(argv)
    if args.network:
        s = generate_network(
            args.out, args.countries, args.members, args.months, response_rate=args.response_rate
        )
        print(
            f"wrote {s.responses} monthly responses of {len(s.countries)} countries in "
            f"{s.seconds:.1f} s: serve {s.emulator_dir}, config {s.config_dir}"
        )
        return 0
    try:
        summary = generate_sample(
            Path(args.out), args.mappings and Path(args.mappings), args.config and Path(args.config)
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {len(summary.responses)} forms with {sum(summary.responses.values())} responses "
        f"to {summary.out_dir} and mappings to {summary.mappings_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
