"""Builders of small Forms API ``Form`` / ``FormResponse`` dicts and matching mappings.

Shapes follow the discovery document (forms.v1.json): items[].questionItem.question,
items[].questionGroupItem.questions[] for grid rows, responses with answers keyed by
question id and ``textAnswers.answers[].value``. Every language of the network has a
small monthly form so label tests can run in sv, et, lv and lt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from bsin.transform.harmonise import HarmoniseResult, harmonise_feedback, harmonise_self_assessment
from bsin.transform.landed import LandedPayloads
from bsin.transform.mapping import (
    CAPABILITY_FIELDS,
    MONTHLY_QUESTIONS,
    FormMapping,
    validate_mapping,
)

KEY = b"test-pseudonym-key-0123456789"
TZ = "Europe/Riga"
GRACE = 7
#: The report month of ``response``'s default submission time.
MONTH = date(2023, 3, 1)


def qid(*parts: str) -> str:
    """A random-looking but stable question id, as Google makes them (8 hex digits)."""
    return hashlib.sha1(":".join(parts).encode()).hexdigest()[:8]


# --- Form items -------------------------------------------------------------------------


def choice_item(
    question_id: str, title: str, labels: list[str], *, kind: str = "RADIO", other: bool = False
) -> dict[str, Any]:
    options: list[dict[str, Any]] = [{"value": label} for label in labels]
    if other:
        options.append({"isOther": True})
    return {
        "itemId": "i" + question_id,
        "title": title,
        "questionItem": {
            "question": {
                "questionId": question_id,
                "required": True,
                "choiceQuestion": {"type": kind, "options": options},
            }
        },
    }


def scale_item(question_id: str, title: str, low: int, high: int) -> dict[str, Any]:
    return {
        "itemId": "i" + question_id,
        "title": title,
        "questionItem": {
            "question": {
                "questionId": question_id,
                "required": True,
                "scaleQuestion": {"low": low, "high": high},
            }
        },
    }


def text_item(question_id: str, title: str, *, paragraph: bool = False) -> dict[str, Any]:
    return {
        "itemId": "i" + question_id,
        "title": title,
        "questionItem": {
            "question": {"questionId": question_id, "textQuestion": {"paragraph": paragraph}}
        },
    }


def date_item(question_id: str, title: str) -> dict[str, Any]:
    return {
        "itemId": "i" + question_id,
        "title": title,
        "questionItem": {
            "question": {"questionId": question_id, "dateQuestion": {"includeYear": True}}
        },
    }


def grid_item(title: str, rows: list[tuple[str, str]], columns: list[str]) -> dict[str, Any]:
    return {
        "itemId": "g" + rows[0][0],
        "title": title,
        "questionGroupItem": {
            "grid": {"columns": {"type": "RADIO", "options": [{"value": c} for c in columns]}},
            "questions": [
                {"questionId": q, "required": True, "rowQuestion": {"title": t}} for q, t in rows
            ],
        },
    }


def form(form_id: str, items: list[dict[str, Any]], revision_id: str = "rev1") -> dict[str, Any]:
    return {
        "formId": form_id,
        "revisionId": revision_id,
        "info": {"title": form_id, "documentTitle": form_id},
        "items": items,
    }


def response(
    response_id: str,
    answers: dict[str, str | list[str]],
    *,
    email: str | None = "member1@example.org",
    submitted: str = "2023-03-30T10:00:00Z",
    form_id: str = "form",
) -> dict[str, Any]:
    """One FormResponse; a list value is a checkbox answer, an empty list is left out."""
    out: dict[str, Any] = {
        "formId": form_id,
        "responseId": response_id,
        "createTime": submitted,
        "lastSubmittedTime": submitted,
        "answers": {},
    }
    if email is not None:
        out["respondentEmail"] = email
    for question_id, value in answers.items():
        values = value if isinstance(value, list) else [value]
        if not values:
            continue
        out["answers"][question_id] = {
            "questionId": question_id,
            "textAnswers": {"answers": [{"value": v} for v in values]},
        }
    return out


# --- Localised monthly forms ------------------------------------------------------------

MONTHLY_TEXT: dict[str, dict[str, Any]] = {
    "sv": {
        "country": "SE",
        "yes_no": {"Ja": True, "Nej": False},
        "skill": {"Ja": "yes", "Delvis": "partly", "Nej": "no"},
        "stakeholders": {
            "Offentlig sektor": "public_sector",
            "Företag": "corporate",
            "Impact-investerare": "impact_investor",
            "Media": "media",
            "Ingen": "none",
        },
        "challenges": {
            "Finansiering": "funding",
            "Synlighet": "visibility",
            "Kapacitet": "capacity",
            "Team": "team",
            "Politik och regelverk": "policy",
        },
        "titles": [
            "Deltog du i månadens kollegiala lärträff?",
            "Deltog du i en expertworkshop?",
            "Hur nöjd är du med månadens program?",
            "Hur relevanta var månadens teman för dig?",
            "Hur troligt är det att du rekommenderar nätverket?",
            "Har du lärt dig något nytt?",
            "Hur många nya kontakter i andra länder fick du?",
            "Vilka aktörer fick du kontakt med?",
            "Vilka utmaningar har du just nu?",
            "Vad borde nätverket ändra?",
        ],
    },
    "et": {
        "country": "EE",
        "yes_no": {"Jah": True, "Ei": False},
        "skill": {"Jah": "yes", "Osaliselt": "partly", "Ei": "no"},
        "stakeholders": {
            "Avalik sektor": "public_sector",
            "Ettevõtted": "corporate",
            "Mõjuinvestorid": "impact_investor",
            "Meedia": "media",
            "Mitte ükski": "none",
        },
        "challenges": {
            "Rahastus": "funding",
            "Nähtavus": "visibility",
            "Võimekus": "capacity",
            "Meeskond": "team",
            "Poliitika ja regulatsioon": "policy",
        },
        "titles": [
            "Kas osalesid kuu kogemusõppe kohtumisel?",
            "Kas osalesid ekspertide töötoas?",
            "Kui rahul oled kuu programmiga?",
            "Kui asjakohased olid kuu teemad?",
            "Kui tõenäoliselt soovitaksid võrgustikku?",
            "Kas omandasid uue oskuse?",
            "Mitu uut välismaist kontakti said?",
            "Milliste osapooltega said ühendust?",
            "Millised on sinu praegused väljakutsed?",
            "Mida peaks võrgustik muutma?",
        ],
    },
    "lv": {
        "country": "LV",
        "yes_no": {"Jā": True, "Nē": False},
        "skill": {"Jā": "yes", "Daļēji": "partly", "Nē": "no"},
        "stakeholders": {
            "Publiskais sektors": "public_sector",
            "Uzņēmumi": "corporate",
            "Ietekmes investori": "impact_investor",
            "Mediji": "media",
            "Neviens": "none",
        },
        "challenges": {
            "Finansējums": "funding",
            "Atpazīstamība": "visibility",
            "Kapacitāte": "capacity",
            "Komanda": "team",
            "Politika un regulējums": "policy",
        },
        "titles": [
            "Vai piedalījāties mēneša mācīšanās sesijā?",
            "Vai piedalījāties ekspertu darbnīcā?",
            "Cik apmierināts esat ar mēneša programmu?",
            "Cik atbilstošas bija mēneša tēmas?",
            "Cik ticams, ka ieteiktu tīklu?",
            "Vai apguvāt jaunu prasmi?",
            "Cik jaunu kontaktu ārvalstīs ieguvāt?",
            "Ar kādām pusēm izveidojāt saikni?",
            "Kādi ir jūsu pašreizējie izaicinājumi?",
            "Ko tīklam vajadzētu mainīt?",
        ],
    },
    "lt": {
        "country": "LT",
        "yes_no": {"Taip": True, "Ne": False},
        "skill": {"Taip": "yes", "Iš dalies": "partly", "Ne": "no"},
        "stakeholders": {
            "Viešasis sektorius": "public_sector",
            "Įmonės": "corporate",
            "Poveikio investuotojai": "impact_investor",
            "Žiniasklaida": "media",
            "Nė vienas": "none",
        },
        "challenges": {
            "Finansavimas": "funding",
            "Matomumas": "visibility",
            "Pajėgumai": "capacity",
            "Komanda": "team",
            "Politika ir reguliavimas": "policy",
        },
        "titles": [
            "Ar dalyvavote mėnesio tarpusavio mokymosi sesijoje?",
            "Ar dalyvavote ekspertų dirbtuvėse?",
            "Kiek esate patenkinti mėnesio programa?",
            "Kiek aktualios buvo mėnesio temos?",
            "Kaip tikėtina, kad rekomenduotumėte tinklą?",
            "Ar įgijote naują įgūdį?",
            "Kiek naujų kontaktų užsienyje užmezgėte?",
            "Su kokiomis suinteresuotosiomis šalimis susisiekėte?",
            "Kokie jūsų dabartiniai iššūkiai?",
            "Ką tinklas turėtų keisti?",
        ],
    },
}


@dataclass
class Case:
    """A form, its mapping and helpers to answer it with canonical values."""

    language: str
    country: str
    form_kind: str
    form: dict[str, Any]
    mapping_data: dict[str, Any]
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def mapping(self) -> FormMapping:
        return validate_mapping(self.mapping_data, source=f"{self.country} {self.form_kind}")

    def label(self, field_name: str, value: Any) -> str:
        """The local label that means canonical ``value`` of ``field_name``."""
        entry = next(q for q in self.mapping_data["questions"] if q["field"] == field_name)
        for label, v in entry["choices"].items():
            if v == value:
                return label
        raise KeyError(f"{field_name}={value!r} has no label")

    def answers(self, **values: Any) -> dict[str, str | list[str]]:
        """Answers dict from canonical values; unspecified required fields get defaults."""
        defaults = DEFAULT_MONTHLY if self.form_kind == "monthly" else DEFAULT_SELF
        merged = {**defaults, **values}
        out: dict[str, str | list[str]] = {}
        for name, value in merged.items():
            if value is None:
                continue
            if name == "challenges_other":
                out.setdefault(self.ids["challenges"], [])
                out[self.ids["challenges"]].append(value)  # type: ignore[union-attr]
                continue
            question_id = self.ids[name]
            entry = next(q for q in self.mapping_data["questions"] if q["field"] == name)
            if isinstance(value, list):
                labels = [self.label(name, v) for v in value]
                out[question_id] = [*out.get(question_id, []), *labels]  # type: ignore[misc]
            elif "choices" in entry:
                out[question_id] = self.label(name, value)
            else:
                out[question_id] = str(value)
        return out


DEFAULT_MONTHLY: dict[str, Any] = {
    "attended_peer_session": True,
    "attended_workshop": False,
    "satisfaction": 4,
    "relevance": 3,
    "recommend": 9,
    "new_skill": "partly",
    "new_connections_abroad": 2,
    "stakeholder_access": ["corporate", "public_sector"],
    "challenges": ["funding"],
    "suggestion": "Fler workshops, tack.",
}


def monthly_case(language: str = "sv", *, with_month_question: bool = False) -> Case:
    """A complete monthly form in ``language`` with its valid mapping."""
    text = MONTHLY_TEXT[language]
    ids = {name: qid(language, "monthly", name) for name in (*MONTHLY_QUESTIONS, "feedback_month")}
    titles = dict(zip(MONTHLY_QUESTIONS, text["titles"], strict=True))
    items = [
        choice_item(
            ids["attended_peer_session"], titles["attended_peer_session"], list(text["yes_no"])
        ),
        choice_item(ids["attended_workshop"], titles["attended_workshop"], list(text["yes_no"])),
        scale_item(ids["satisfaction"], titles["satisfaction"], 1, 5),
        scale_item(ids["relevance"], titles["relevance"], 1, 5),
        scale_item(ids["recommend"], titles["recommend"], 0, 10),
        choice_item(ids["new_skill"], titles["new_skill"], list(text["skill"])),
        text_item(ids["new_connections_abroad"], titles["new_connections_abroad"]),
        choice_item(
            ids["stakeholder_access"],
            titles["stakeholder_access"],
            list(text["stakeholders"]),
            kind="CHECKBOX",
        ),
        choice_item(
            ids["challenges"],
            titles["challenges"],
            list(text["challenges"]),
            kind="CHECKBOX",
            other=True,
        ),
        text_item(ids["suggestion"], titles["suggestion"], paragraph=True),
    ]
    questions: list[dict[str, Any]] = [
        {"question_id": ids["attended_peer_session"], "field": "attended_peer_session",
         "title": titles["attended_peer_session"], "choices": dict(text["yes_no"])},
        {"question_id": ids["attended_workshop"], "field": "attended_workshop",
         "title": titles["attended_workshop"], "choices": dict(text["yes_no"])},
        {"question_id": ids["satisfaction"], "field": "satisfaction", "title": titles["satisfaction"]},
        {"question_id": ids["relevance"], "field": "relevance", "title": titles["relevance"]},
        {"question_id": ids["recommend"], "field": "recommend", "title": titles["recommend"]},
        {"question_id": ids["new_skill"], "field": "new_skill", "title": titles["new_skill"],
         "choices": dict(text["skill"])},
        {"question_id": ids["new_connections_abroad"], "field": "new_connections_abroad",
         "title": titles["new_connections_abroad"]},
        {"question_id": ids["stakeholder_access"], "field": "stakeholder_access",
         "title": titles["stakeholder_access"], "choices": dict(text["stakeholders"])},
        {"question_id": ids["challenges"], "field": "challenges", "title": titles["challenges"],
         "choices": dict(text["challenges"]), "other": "other"},
        {"question_id": ids["suggestion"], "field": "suggestion", "title": titles["suggestion"]},
    ]  # fmt: skip
    if with_month_question:
        items.insert(0, date_item(ids["feedback_month"], "Month"))
        questions.insert(
            0, {"question_id": ids["feedback_month"], "field": "feedback_month", "title": "Month"}
        )
    mapping = {
        "country": text["country"],
        "form_kind": "monthly",
        "language": language,
        "questions": questions,
    }
    return Case(
        language, text["country"], "monthly", form(f"{language}-monthly", items), mapping, ids
    )


# --- Self-assessment (Swedish) ------------------------------------------------------------

NEED_LABELS = {
    "Tillgång till finansiering": "funding_access",
    "Synlighet": "visibility",
    "Effektmätning": "impact_measurement",
    "Skalning": "scaling",
    "Offentlig upphandling": "public_procurement",
    "Företagspartnerskap": "corporate_partnerships",
    "Investeringsberedskap": "investor_readiness",
    "Teamledarskap": "team_leadership",
}

DEFAULT_SELF: dict[str, Any] = {
    "wave": "baseline",
    "needs": ["funding_access", "scaling"],
    **{name: 3 for name in CAPABILITY_FIELDS},
    "interests": "Impact-investeringar",
}


def self_assessment_case() -> Case:
    """A Swedish self-assessment form with a capability grid, and its valid mapping."""
    names = ("wave", "needs", *CAPABILITY_FIELDS, "interests")
    ids = {name: qid("sv", "self", name) for name in names}
    wave_labels = {"Vid start": "baseline", "Vid programmets slut": "endline"}
    rows = [(ids[f"capability_{need}"], label) for label, need in NEED_LABELS.items()]
    items = [
        choice_item(ids["wave"], "När fyller du i formuläret?", list(wave_labels)),
        choice_item(ids["needs"], "Vilka behov har du?", list(NEED_LABELS), kind="CHECKBOX"),
        grid_item("Hur stark är du inom…", rows, ["1", "2", "3", "4", "5"]),
        text_item(ids["interests"], "Vad är du intresserad av?", paragraph=True),
    ]
    questions: list[dict[str, Any]] = [
        {"question_id": ids["wave"], "field": "wave", "title": "När fyller du i formuläret?",
         "choices": wave_labels},
        {"question_id": ids["needs"], "field": "needs", "title": "Vilka behov har du?",
         "choices": dict(NEED_LABELS)},
        *({"question_id": q, "field": f"capability_{NEED_LABELS[t]}", "title": t} for q, t in rows),
        {"question_id": ids["interests"], "field": "interests", "title": "Vad är du intresserad av?"},
    ]  # fmt: skip
    mapping = {
        "country": "SE",
        "form_kind": "self_assessment",
        "language": "sv",
        "questions": questions,
    }
    return Case("sv", "SE", "self_assessment", form("sv-self", items), mapping, ids)


def harmonise_case(case: Case, responses: list[dict[str, Any]], **kw: Any) -> HarmoniseResult:
    """Harmonise ``responses`` of ``case``'s form with the fixtures' key, zone and grace days.

    Every case is harmonised twice: from the decoded responses, and from their JSON texts as
    the extract lands them (read by DuckDB, bsin.transform.landed). The two must agree to
    the last cell, so every harmonisation test holds the pipeline's path too.
    """
    fn = harmonise_feedback if case.form_kind == "monthly" else harmonise_self_assessment
    args = dict(country=case.country, key=KEY, tz=TZ, grace_days=GRACE, **kw)
    result = fn(responses, case.form, case.mapping, **args)
    landed = LandedPayloads([landed_text(r) for r in responses])
    assert_same_result(fn(landed, case.form, case.mapping, **args), result)
    return result


def landed_text(response: Any) -> str:
    """``response`` as the extract lands it (bsin.pipeline.extract)."""
    return json.dumps(response, ensure_ascii=False, sort_keys=True)


def assert_same_result(got: HarmoniseResult, want: HarmoniseResult) -> None:
    """Two harmonisations gave the same rows, selections, quarantine, notes and ids."""
    for name in ("rows", "selections", "quarantine", "notes"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name), obj=name)
    assert got.response_ids == want.response_ids


def merged_month(per_country: int = 5) -> pd.DataFrame:
    """Clean harmonised rows of all four fixture countries for ``MONTH``."""
    frames = []
    for language in sorted(MONTHLY_TEXT):
        case = monthly_case(language)
        responses = [
            response(f"{language}{i}", case.answers(), email=f"m{i}@{language}.example.org")
            for i in range(per_country)
        ]
        frames.append(harmonise_case(case, responses).rows)
    return pd.concat(frames, ignore_index=True)
