"""What the programme report holds: its lists of figures and its data model.

``ProgrammeContext`` holds aggregates only, with every privacy rule applied
(``bsin.reporting.programme_data.build_programme_report``); the view, charts, PDF and rendering
(``bsin.reporting.programme_view``, ``bsin.reporting.programme_charts``, ``bsin.reporting.programme_pdf``,
``bsin.reporting.programme_report``) only read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bsin.core.paths import TEMPLATES_DIR
from bsin.reporting.disclosure import NETWORK, Cell
from bsin.reporting.report_model import MIN_RESPONDENTS

__all__ = ["MIN_RESPONDENTS", "NETWORK", "Cell"]

PROGRAMME_I18N_DIR = TEMPLATES_DIR / "programme" / "i18n"

#: Network indicators shown per month (``respondents`` is the count behind response_rate).
SERIES_KEYS = (
    "respondents",
    "response_rate",
    "satisfaction_mean",
    "nps",
    "connections_sum",
    "connections_cumulative",
    "access_public_sector_rate",
    "access_corporate_rate",
    "access_impact_investor_rate",
    "access_media_rate",
    "access_any_rate",
)
TREND_TABLE_KEYS = ("respondents", "response_rate", "satisfaction_mean", "nps")
CONNECTION_KEYS = ("connections_sum", "connections_cumulative")
ACCESS_KEYS = (
    "access_public_sector_rate",
    "access_corporate_rate",
    "access_impact_investor_rate",
    "access_media_rate",
    "access_any_rate",
)
#: Programme totals per country and for the network, in column order.
TOTAL_KEYS = (
    "participants",
    "responses",
    "response_rate",
    "satisfaction_mean",
    "nps",
    "skill_gain_rate",
    "connections_sum",
    "access_any_rate",
)
#: The ``feedback`` column whose distinct members stand behind each programme total.
DISTINCT_COLUMN = {
    "satisfaction_mean": "satisfaction",
    "nps": "recommend",
    "skill_gain_rate": "new_skill",
    "connections_sum": "new_connections_abroad",
    "access_any_rate": "stakeholder_access",
}
COUNT_KEYS = frozenset({"participants", "responses", "respondents", "members"})
#: Headline figures (network programme totals) and their label keys.
KPI_LABELS = {
    "participants": "kpi_participants",
    "responses": "kpi_responses",
    "response_rate": "kpi_response_rate",
    "satisfaction_mean": "kpi_satisfaction",
    "nps": "kpi_nps",
    "connections_sum": "kpi_connections",
}


class ProgrammeReportDataError(LookupError):
    """The warehouse lacks what the programme report needs; the message names the fix."""


@dataclass(frozen=True)
class MonthPoint:
    """The network in one programme month: ``key -> Cell`` for every ``SERIES_KEYS``."""

    month: date
    cells: Mapping[str, Cell]


@dataclass(frozen=True)
class CapabilityArea:
    """Baseline vs end-line of one capability area: network and per-country growth."""

    area: str
    network: Cell  # growth_mean, n = members who rated the area in both waves
    baseline: float | None
    endline: float | None
    by_country: Mapping[str, Cell]


@dataclass(frozen=True)
class ScopeTotals:
    """One country (or the network) over the whole programme: ``key -> Cell``."""

    scope: str
    name: str
    cells: Mapping[str, Cell]


@dataclass(frozen=True)
class ProgrammeContext:
    """Everything the programme report shows (aggregates only), and nothing else."""

    programme_name: str
    first_month: date
    last_month: date
    months: tuple[date, ...]
    last_data_month: date | None
    countries: tuple[tuple[str, str], ...]  # (code, name)
    active_members: int
    series: tuple[MonthPoint, ...]
    totals: tuple[ScopeTotals, ...]
    capability: tuple[CapabilityArea, ...]
    capability_overall: Cell
    excluded_months: tuple[date, ...] = ()  # months a country under k was left out of
    language: str = "en"
    min_respondents: int = MIN_RESPONDENTS

    @property
    def complete(self) -> bool:
        """Whether the warehouse holds the programme's last month."""
        return self.last_data_month is not None and self.last_data_month >= self.last_month

    def total(self, scope: str) -> ScopeTotals | None:
        """Programme totals of ``scope`` (a country code or ``NETWORK``)."""
        return next((s for s in self.totals if s.scope == scope), None)


@dataclass(frozen=True)
class RenderedProgrammeReport:
    """The rendered report: one self-contained HTML page and a PDF."""

    html: str
    pdf: bytes
    charts: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ProgrammeReportResult:
    """What ``produce_programme_report`` did: ``written`` or ``skipped``, and why."""

    status: str
    message: str
    last_data_month: date | None
    html_path: Path | None = None
    pdf_path: Path | None = None
    #: The same report in each other report language of the partners: language ->
    #: (html, pdf).
    translations: Mapping[str, tuple[Path, Path]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (an Airflow task's return value goes to XCom)."""
        return {
            "status": self.status,
            "message": self.message,
            "last_data_month": self.last_data_month.isoformat() if self.last_data_month else None,
            "html": str(self.html_path) if self.html_path else None,
            "pdf": str(self.pdf_path) if self.pdf_path else None,
            "translations": {
                lang: {"html": str(h), "pdf": str(p)} for lang, (h, p) in self.translations.items()
            },
        }
