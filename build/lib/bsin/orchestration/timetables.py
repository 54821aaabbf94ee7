"""The monthly DAG's timetable: one convention for scheduled and manual runs.

A run is about one **report month**, and its logical date and ``data_interval_start`` are
that month's first day, however the run was started:

* scheduled: Airflow's cron data-interval timetable already does this (the run for March
  starts after 1 April with logical date 1 March);
* manual (UI *Trigger*, REST API without an interval, ``dag.test``): Airflow infers "the last
  complete month before the logical date", so March needed logical date 1 April. Here a
  manual run's interval is the month **containing** its logical date: trigger March with
  any logical date in March.

Runs are named by their report month, too (``generate_run_id``): a scheduled run of March
is ``month__2023-03``; a run Airflow creates otherwise (UI or CLI trigger without a run id,
``airflow backfill create``) is ``month__2023-03__manual_20260401T120000`` (run type and
creation time keep it unique). Runs the project starts pass ``month__2023-03`` themselves.

Registered with Airflow by the plugin ``plugins/bsin_airflow_plugin.py`` (custom timetables
must be, for the scheduler and the API server to read the serialized DAG).
"""

from __future__ import annotations

from typing import Any

from airflow.timetables.base import DataInterval
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.utils.types import DagRunType
from pendulum import DateTime

from bsin.core.months import month_run_id


class ReportMonthTimetable(CronDataIntervalTimetable):
    """Monthly cron data intervals; a manual run covers the month of its logical date."""

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The interval containing ``run_after`` (the start itself when it is on a boundary)."""
        start = self._align_to_prev(run_after)
        return DataInterval(start=start, end=self._get_next(start))

    def generate_run_id(
        self,
        *,
        run_type: DagRunType,
        run_after: DateTime,
        data_interval: DataInterval | None,
        **extra: Any,
    ) -> str:
        """``month__YYYY-MM`` for a scheduled run, plus run type and time for any other."""
        if data_interval is None:
            return super().generate_run_id(
                run_type=run_type, run_after=run_after, data_interval=data_interval, **extra
            )
        name = month_run_id(data_interval.start.date())
        if run_type == DagRunType.SCHEDULED:
            return name
        return f"{name}__{DagRunType(run_type).value}_{run_after:%Y%m%dT%H%M%S}"
