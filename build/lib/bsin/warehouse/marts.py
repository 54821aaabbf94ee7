"""Reference data from configuration, read by the dbt models that compute the indicators.

``load_reference_data`` fills ``member_roster`` (partners.yaml) and ``programme_topic``
(topics.yaml). The staging and mart models are the dbt project in ``include/dbt``, run by
``bsin.warehouse.dbt_project.build_marts`` and, in the monthly DAG, by the Cosmos task group of
``bsin.orchestration.dbt_airflow``. docs/indicators.md explains every indicator; docs/warehouse.md every
table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bsin.core.config import PartnersConfig, load_yaml_model
from bsin.core.months import parse_month
from bsin.core.paths import config_dir
from bsin.transform.mapping import NEEDS
from bsin.warehouse.db import Warehouse
from bsin.warehouse.dbt_project import INDICATORS, STAKEHOLDER_TYPES

__all__ = ["INDICATORS", "NETWORK", "STAKEHOLDER_TYPES", "load_reference_data", "load_topics"]

log = logging.getLogger(__name__)

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
