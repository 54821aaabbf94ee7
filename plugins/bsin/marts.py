"""Reference data from configuration and the SQL models that compute the indicators.

``load_reference_data`` fills ``member_roster`` (partners.yaml) and ``programme_topic``
(topics.yaml); ``build_marts`` runs ``include/sql/staging/*.sql`` and then
``include/sql/marts/*.sql`` in name order, all in one transaction, so a reader sees either
the old or the new indicators, never a half-built set. docs/indicators.md explains every
indicator; docs/warehouse.md every table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bsin.config import PartnersConfig, load_yaml_model
from bsin.mapping import NEEDS
from bsin.months import parse_month
from bsin.paths import SQL_DIR, config_dir
from bsin.warehouse import Warehouse

log = logging.getLogger(__name__)

MODEL_DIRS: tuple[str, ...] = ("staging", "marts")

# The indicators of indicator_value (and columns of indicators_monthly), in report order.
INDICATORS: tuple[str, ...] = (
    "response_rate",
    "peer_session_rate",
    "workshop_rate",
    "satisfaction_mean",
    "satisfaction_low_share",
    "relevance_mean",
    "nps",
    "skill_gain_rate",
    "connections_sum",
    "connections_mean",
    "connections_cumulative",
    "access_public_sector_rate",
    "access_corporate_rate",
    "access_impact_investor_rate",
    "access_media_rate",
    "access_any_rate",
    "needs_coverage",
)
STAKEHOLDER_TYPES: tuple[str, ...] = ("public_sector", "corporate", "impact_investor", "media")
NETWORK = "NETWORK"
_MONTH_KEY = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class MonthTopics(BaseModel):
    """What one month's peer session and workshops covered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = ""
    topics: list[str] = Field(default_factory=list)

    @field_validator("topics")
    @classmethod
    def _canonical(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in NEEDS]
        if unknown:
            raise ValueError(
                f"unknown topic(s) {unknown}: use the canonical needs {', '.join(NEEDS)}"
            )
        if len(set(value)) != len(value):
            raise ValueError("a topic is listed twice in the same month: keep it once")
        return value


class TopicsConfig(BaseModel):
    """topics.yaml: month (``YYYY-MM``) -> the need topics the programme covered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    months: dict[str, MonthTopics]

    @field_validator("months")
    @classmethod
    def _month_keys(cls, value: dict[str, MonthTopics]) -> dict[str, MonthTopics]:
        bad = [k for k in value if not _MONTH_KEY.match(str(k))]
        if bad:
            raise ValueError(f'month key(s) {bad} are not YYYY-MM: quote them, e.g. "2023-01"')
        return value

    def topics_by_month(self) -> dict[date, list[str]]:
        """``{first day of month: [topic, ...]}``."""
        return {parse_month(k): list(v.topics) for k, v in self.months.items()}


def load_topics(path: Path | None = None) -> TopicsConfig:
    """Load and validate ``topics.yaml`` (errors name the file, the key and the fix)."""
    return load_yaml_model(path or config_dir() / "topics.yaml", TopicsConfig)


def load_reference_data(
    wh: Warehouse,
    partners: PartnersConfig,
    months: Iterable[date],
    topics: TopicsConfig | None = None,
) -> None:
    """Fill ``member_roster`` for every partner x month and ``programme_topic`` from config.

    Both tables are replaced as a whole (one transaction): configuration is the only
    source of truth for them, so a country or topic removed from config disappears.
    """
    months = sorted(set(months))
    topics = topics or load_topics()
    roster = pd.DataFrame(
        [
            {"country": p.country, "month": m, "active_members": p.members_in(m)}
            for p in partners.partners
            for m in months
        ],
        columns=["country", "month", "active_members"],
    )
    calendar = pd.DataFrame(
        [
            {"month": m, "topic": t}
            for m, ts in sorted(topics.topics_by_month().items())
            for t in sorted(ts)
        ],
        columns=["month", "topic"],
    )
    with wh.transaction():
        wh.replace("member_roster", {}, roster)
        wh.replace("programme_topic", {}, calendar)
    log.info("reference data: %d roster rows, %d programme topics", len(roster), len(calendar))


def model_files(sql_dir: Path | None = None) -> list[Path]:
    """The SQL model files in the order ``build_marts`` runs them."""
    root = sql_dir or SQL_DIR
    return [f for d in MODEL_DIRS for f in sorted((root / d).glob("*.sql"))]


def build_marts(wh: Warehouse, sql_dir: Path | None = None) -> list[str]:
    """Rebuild every staging model and mart from the canonical tables, atomically.

    Deterministic: the same canonical rows give the same mart rows on every run.
    Returns the model file names run.
    """
    files = model_files(sql_dir)
    with wh.transaction():
        for f in files:
            wh.run_sql_file(f)
    log.info("built %d models on %r", len(files), wh)
    return [f"{f.parent.name}/{f.name}" for f in files]
