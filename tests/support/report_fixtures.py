"""One place that builds the warehouse the report and delivery tests read.

``feedback_rows()`` is the seeded truth: four countries, three months, with the cases the
privacy tests need (a country with 2 respondents, a month where the network has only 2
respondents outside Latvia, hostile free text). ``build_fixture_warehouse`` loads it into a
fresh DuckDB warehouse and builds the real marts (``bsin.warehouse.dbt_project.build_marts``) and adaptation
signals (``bsin.reporting.signals.evaluate_signals``).

Tests compare report values with ``expected_*`` helpers that compute from
``feedback_rows()`` directly, never from the marts.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import mean

import pandas as pd

from bsin.core.config import PartnersConfig
from bsin.reporting.signals import evaluate_signals
from bsin.warehouse.db import Warehouse
from bsin.warehouse.dbt_project import build_marts
from bsin.warehouse.marts import load_reference_data

MONTHS = (date(2023, 1, 1), date(2023, 2, 1), date(2023, 3, 1))
REPORT_MONTH = MONTHS[-1]
ACTIVE = {"SE": 8, "EE": 8, "LV": 7, "LT": 7}
# Respondents per (country, month). Jan: only LV (4) and LT (2) answered, so the network
# seen from Latvia has 2 foreign respondents and must be hidden. LT has 2 in March.
RESPONDENTS = {
    ("SE", MONTHS[0]): 0,
    ("EE", MONTHS[0]): 0,
    ("LV", MONTHS[0]): 4,
    ("LT", MONTHS[0]): 2,
    ("SE", MONTHS[1]): 7,
    ("EE", MONTHS[1]): 6,
    ("LV", MONTHS[1]): 6,
    ("LT", MONTHS[1]): 5,
    ("SE", MONTHS[2]): 6,
    ("EE", MONTHS[2]): 4,
    ("LV", MONTHS[2]): 5,
    ("LT", MONTHS[2]): 2,
}
SCRIPT_SUGGESTION = "<script>alert('x')</script> more <b>bold</b> sessions & fewer slides"
FORMULA_SUGGESTION = '=HYPERLINK("http://evil.example","click")'
EMAIL_SUGGESTION = "Call me, anna.berzina@example.org, about the Riga event"
RESPONDENT_EMAIL = "anna.berzina@example.org"
LONG_SUGGESTION = "Pleasemakethesessionslonger" * 12  # one unbreakable 324-letter word
FOREIGN_MARKERS = {c: f"{c}-ONLY-SUGGESTION-7f3a" for c in ACTIVE}


def member(country: str, i: int) -> str:
    """Pseudonymous member id of the fixture's i-th member of ``country``."""
    return "m_" + hashlib.sha256(f"{country}-{i}".encode()).hexdigest()[:20]


def feedback_rows() -> list[dict]:
    """The seeded feedback rows (canonical ``feedback`` columns)."""
    rows = []
    for (country, month), count in RESPONDENTS.items():
        shift = list(ACTIVE).index(country) + month.month
        for i in range(count):
            k = i + shift
            suggestion = None
            if i == 0:
                suggestion = FOREIGN_MARKERS[country]
            if country == "LV" and month == REPORT_MONTH:
                suggestion = {
                    0: SCRIPT_SUGGESTION,
                    1: FORMULA_SUGGESTION,
                    2: EMAIL_SUGGESTION,
                    3: LONG_SUGGESTION,
                    4: FOREIGN_MARKERS[country],
                }.get(i, suggestion)
            rows.append(
                {
                    "country": country,
                    "feedback_month": month,
                    "report_month": month,
                    "member_id": member(country, i),
                    "response_id": f"r-{country}-{month:%Y%m}-{i}",
                    "submitted_at": datetime(month.year, month.month, 25, 9, i, tzinfo=UTC),
                    "attended_peer_session": k % 3 != 0,
                    "attended_workshop": k % 2 == 0,
                    "satisfaction": [5, 4, 3, 4, 2, 5, 1, 4][k % 8],
                    "relevance": [4, 3, 5, 2, 4][k % 5],
                    "recommend": [10, 9, 7, 3, 8, 6, 10, 0, 9][k % 9],
                    "new_skill": ["yes", "partly", "no"][k % 3],
                    "new_connections_abroad": k % 4,
                    "stakeholder_access": ["public_sector", "corporate;media", "none"][k % 3],
                    "challenges": ["funding", "other;team", "visibility"][k % 3],
                    "challenges_other": "-1 volunteers left" if k % 3 == 1 else None,
                    "suggestion": suggestion,
                    "form_revision_id": "rev1",
                }
            )
    return rows


# ---------------------------------------------------------------- independent computation


def _slice(country: str | None, month: date) -> list[dict]:
    return [
        r
        for r in feedback_rows()
        if r["feedback_month"] == month and (country is None or r["country"] == country)
    ]


def expected_satisfaction(country: str | None, month: date) -> float:
    """Mean satisfaction (``None`` country = the network)."""
    return mean(r["satisfaction"] for r in _slice(country, month))


def expected_nps(country: str | None, month: date) -> float:
    """% promoters (9-10) minus % detractors (0-6)."""
    scores = [r["recommend"] for r in _slice(country, month)]
    return 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)


def expected_response_rate(country: str | None, month: date) -> float:
    """Respondents / active members (a fraction); the network counts the members of the
    countries that answered in the month only."""
    present = {r["country"] for r in _slice(None, month)}
    active = ACTIVE[country] if country else sum(ACTIVE[c] for c in present)
    return len(_slice(country, month)) / active


# ---------------------------------------------------------------- warehouse


def build_fixture_warehouse(folder: Path, rows: list[dict] | None = None) -> Warehouse:
    """A migrated DuckDB warehouse holding the fixture's feedback (or ``rows``) and its marts."""
    wh = Warehouse.from_uri(f"duckdb:///{folder / 'report_fixture.duckdb'}")
    wh.migrate()
    feedback = pd.DataFrame(feedback_rows() if rows is None else rows)
    feedback = feedback[[c for c in feedback.columns if c in wh.columns("feedback")]]
    wh.replace("feedback", {}, feedback)
    load_reference_data(wh, partners(), MONTHS)
    build_marts(wh)
    for month in MONTHS:
        evaluate_signals(wh, month)
    return wh


#: The fixture's own partners (report languages cover English and three others), so the
#: fixture holds whatever countries partners.yaml configures.
FIXTURE_PARTNERS = {
    "SE": ("Sweden", "sv", "sv", "Europe/Stockholm"),
    "EE": ("Estonia", "et", "et", "Europe/Tallinn"),
    "LV": ("Latvia", "lv", "en", "Europe/Riga"),
    "LT": ("Lithuania", "lt", "lt", "Europe/Vilnius"),
}


def partners() -> PartnersConfig:
    """The fixture's four partners (independent of the shipped partners.yaml)."""
    return PartnersConfig.model_validate(
        {
            "partners": [
                {
                    "country": code,
                    "name": name,
                    "organisation": f"{name} fixture partner",
                    "form_language": form_language,
                    "report_language": language,
                    "timezone": tz,
                    "recipients": [f"report@{code.lower()}.example.org"],
                    "active_members": ACTIVE[code],
                    "forms": {
                        "monthly": f"fixture-{code}-monthly",
                        "self_assessment": f"fixture-{code}-sa",
                    },
                }
                for code, (name, form_language, language, tz) in FIXTURE_PARTNERS.items()
            ]
        }
    )
