"""What one partner's monthly report holds: its data model and the lists it is built from.

``ReportContext`` is everything one partner's report shows, and nothing else: the marts'
figures with the disclosure rule applied (``bsin.reporting.report_data.build_report``). The view
(``bsin.reporting.report_view``), charts (``bsin.reporting.report_charts``) and rendering
(``bsin.reporting.report_render``) only read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bsin.reporting.disclosure import DEFAULT_MIN_RESPONDENTS, NETWORK, Cell

__all__ = ["NETWORK", "Cell"]

#: Default smallest number of answers behind a figure shown outside their own country
#: (the configured value is ``programme.yaml`` ``min_respondents``).
MIN_RESPONDENTS = DEFAULT_MIN_RESPONDENTS
PROGRAMME_NAME = "Baltic Sea Impact Network"

#: Indicators in display order; any other indicator in the marts follows alphabetically.
INDICATOR_ORDER = (
    "response_rate",
    "satisfaction_mean",
    "satisfaction_low_share",
    "relevance_mean",
    "nps",
    "skill_gain_rate",
    "peer_session_rate",
    "workshop_rate",
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
TREND_INDICATORS = ("satisfaction_mean", "nps", "response_rate")
COMPARISON_COLUMNS = ("response_rate", "satisfaction_mean", "nps")
#: Columns of the CSV attachment: an explicit allow-list, so a column added to ``feedback``
#: later never reaches a partner by accident.
CSV_COLUMNS = (
    "member_id",
    "feedback_month",
    "submitted_at",
    "attended_peer_session",
    "attended_workshop",
    "satisfaction",
    "relevance",
    "recommend",
    "new_skill",
    "new_connections_abroad",
    "stakeholder_access",
    "challenges",
    "challenges_other",
    "suggestion",
)
FREE_TEXT_COLUMNS = ("challenges_other", "suggestion")
#: Indicators that rest on the self-assessment form.
SELF_ASSESSMENT_INDICATORS: tuple[str, ...] = ("needs_coverage",)


class ReportDataError(LookupError):
    """The marts lack what the report needs; the message names country, month and the fix."""


@dataclass(frozen=True)
class IndicatorLine:
    """One indicator of the month: the country's value and trend beside the network's."""

    key: str
    country: Cell
    prev_value: float | None
    delta: float | None
    running_mean: float | None
    mean_3m: float | None
    network: Cell


@dataclass(frozen=True)
class TrendPoint:
    """One month of a trend chart."""

    month: date
    country: Cell
    network: Cell


@dataclass(frozen=True)
class ComparisonRow:
    """A country (or the network) in the month's comparison table."""

    scope: str
    name: str
    own: bool
    respondents: Cell
    cells: Mapping[str, Cell]


@dataclass(frozen=True)
class FiredSignal:
    """An adaptation signal that fired for the country this month."""

    rule_id: str
    subject: str
    indicator: str
    measure: str
    observed: float | None
    comparison: str
    threshold: float | None
    recommendation: str
    #: The indicator's value in the month (the observed quantity may be a change).
    value: float | None = None


@dataclass(frozen=True)
class ReportContext:
    """Everything one partner's report shows, and nothing else."""

    country: str
    country_name: str
    organisation: str
    language: str
    recipients: tuple[str, ...]
    month: date
    programme_name: str
    active_members: int | None
    respondents: int
    indicators: tuple[IndicatorLine, ...]
    trends: Mapping[str, tuple[TrendPoint, ...]]
    comparison: tuple[ComparisonRow, ...]
    signals: tuple[FiredSignal, ...]
    suggestions: tuple[str, ...]
    csv_columns: tuple[str, ...] = CSV_COLUMNS
    member_rows: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    min_respondents: int = MIN_RESPONDENTS
    #: (countries with data this month, countries configured with members): the network
    #: figures cover the first; the report says so when it is fewer.
    network_countries: tuple[int, int] | None = None
    #: Indicators this partner does not collect (no self-assessment form): "not collected".
    not_collected: tuple[str, ...] = ()
    #: (countries collecting self-assessments, countries): the network's needs figures
    #: cover the first; the report says so when it is fewer.
    self_assessment_countries: tuple[int, int] | None = None

    def line(self, key: str) -> IndicatorLine | None:
        """The indicator line ``key`` (None when the marts do not have it)."""
        return next((line for line in self.indicators if line.key == key), None)

    @property
    def month_label(self) -> str:
        """``YYYY-MM``."""
        return self.month.strftime("%Y-%m")


@dataclass(frozen=True)
class RenderedReport:
    """The rendered report, ready to be packed into an email or written to files."""

    country: str
    month: date
    language: str
    subject: str
    html: str
    text: str
    images: dict[str, bytes]
    csv_bytes: bytes
    csv_filename: str
