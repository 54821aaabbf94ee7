"""Task ``prepare_warehouse``: migrate the warehouse and refresh reference data from config."""

from __future__ import annotations

import logging
from datetime import date, datetime

from bsin.pipeline.context import (
    Context,
    report_month,
)
from bsin.warehouse import lineage

log = logging.getLogger(__name__)


def prepare_warehouse(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Create or upgrade the warehouse schema and refresh reference data from config."""
    from bsin.core.months import month_range
    from bsin.warehouse.marts import load_reference_data

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    wh = ctx.warehouse
    lineage.declare(wh, writes=["member_roster", "programme_topic"])
    wh.migrate()
    # Before any member id is written: a changed key would split every member in two.
    from bsin.ingest.pseudonymise import check_key_fingerprint

    check_key_fingerprint(wh, ctx.key)
    months = month_range(ctx.programme.first_month, max(month, ctx.programme.effective_last_month))
    load_reference_data(wh, ctx.partners, months)
    log.info("warehouse ready for %s (%s)", f"{month:%Y-%m}", wh)
    return {"month": month.isoformat()}
