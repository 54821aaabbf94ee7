"""Tasks ``build_marts`` (outside Airflow), ``signals`` and ``rebuild_marts``: the dbt marts and
the adaptation signals over them.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from bsin.pipeline.context import (
    Context,
    report_month,
)
from bsin.warehouse import lineage
from bsin.warehouse.sql_text import query_text

log = logging.getLogger(__name__)


def build_marts_for_month(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Rebuild the indicator marts (``dbt build``) and evaluate the month's adaptation signals.

    The DAG runs the same two steps as the ``build_marts`` dbt task group and ``signals``.
    """
    from bsin.warehouse.dbt_project import build_marts

    ctx = ctx or Context.load()
    build_marts(ctx.warehouse)
    return signals_for_month(data_interval_start, ctx)


def signals_for_month(data_interval_start: datetime | date, ctx: Context | None = None) -> dict:
    """Evaluate the adaptation signals of the month from the (already rebuilt) marts."""
    from bsin.reporting.signals import evaluate_signals

    ctx = ctx or Context.load()
    month = report_month(data_interval_start)
    lineage.declare(
        ctx.warehouse,
        reads=["indicator_value", "need_coverage_status"],
        writes=["adaptation_signal"],
    )
    fired = evaluate_signals(ctx.warehouse, month)
    log.info("%d adaptation signals fired for %s", len(fired), f"{month:%Y-%m}")
    return {"month": month.isoformat(), "signals": len(fired)}


def rebuild_marts(ctx: Context | None = None) -> dict:
    """Rebuild every mart, and the signals of every month with indicators, from current rows.

    Called after rows left the warehouse outside a monthly run (``make forget``). The one
    place that says how marts are built outside the DAG: re-point it when that changes.
    """
    from bsin.reporting.signals import evaluate_signals
    from bsin.warehouse.dbt_project import build_marts

    ctx = ctx or Context.load()
    wh = ctx.warehouse
    build_marts(wh)
    months = sorted(r[0] for r in wh.query(query_text("indicator_months")))
    for month in months:
        evaluate_signals(wh, month)
    return {"signal_months": len(months)}
