"""Shared by every task body: the run's report month, config and lazily opened connections,
and the errors a task raises.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from airflow.sdk.exceptions import AirflowFailException

from bsin.core.config import (
    PartnersConfig,
    ProgrammeConfig,
    load_partners,
    load_programme,
)
from bsin.core.months import month_start

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "warehouse_default"
FORMS_CONN_ID = "google_forms_default"
SMTP_CONN_ID = "smtp_default"


class PipelineError(RuntimeError):
    """A step cannot complete; the message names the country, form and what to fix."""


class CountryHeldBack(PipelineError, AirflowFailException):
    """One country's month is held back (its own problem); fail its task without retries.

    Retrying cannot fix a changed form or a month without answers: the task fails at once,
    red on that country's task in the UI, and the failure alert reaches data staff.
    """


def report_month(data_interval_start: datetime | date) -> date:
    """The report month of a run: the month its data interval starts in."""
    return month_start(data_interval_start)


class Context:
    """Config and connections one task needs; connections open lazily, on first use.

    Tests and the benchmark pass their own ``warehouse`` and ``key``; tasks take them from
    the Airflow connections.
    """

    def __init__(
        self,
        partners: PartnersConfig,
        programme: ProgrammeConfig,
        *,
        warehouse=None,
        key: bytes | None = None,
    ) -> None:
        self.partners = partners
        self.programme = programme
        self._warehouse = warehouse
        self._key = key

    @classmethod
    def load(cls, **kwargs) -> Context:
        """Context from the configured files (``BSIN_CONFIG_DIR`` or include/config)."""
        return cls(load_partners(), load_programme(), **kwargs)

    @property
    def warehouse(self):
        if self._warehouse is None:
            from bsin.warehouse.db import Warehouse

            self._warehouse = Warehouse.from_conn_id(WAREHOUSE_CONN_ID)
        return self._warehouse

    @property
    def key(self) -> bytes:
        if self._key is None:
            from bsin.ingest.pseudonymise import load_key

            self._key = load_key()
        return self._key
