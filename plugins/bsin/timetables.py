"""The monthly DAG's timetable: one convention for scheduled and manual runs.

A run is about one **report month**, and its logical date and ``data_interval_start`` are
that month's first day, however the run was started:

* scheduled: Airflow's cron data-interval timetable already does this (the run for March
  starts after 1 April with logical date 1 March);
* manual (UI *Trigger*, REST API without an interval, ``dag.test``): Airflow infers "the last
  complete month before the logical date", so March needed logical date 1 April. Here a
  manual run's interval is the month **containing** its logical date: trigger March with
  any logical date in March.

Registered with Airflow by the plugin ``plugins/bsin_airflow_plugin.py`` (custom timetables
must be, for the scheduler and the API server to read the serialized DAG).
"""

from __future__ import annotations

from airflow.timetables.base import DataInterval
from airflow.timetables.interval import CronDataIntervalTimetable
from pendulum import DateTime


class ReportMonthTimetable(CronDataIntervalTimetable):
    """Monthly cron data intervals; a manual run covers the month of its logical date."""

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The interval containing ``run_after`` (the start itself when it is on a boundary)."""
        start = self._align_to_prev(run_after)
        return DataInterval(start=start, end=self._get_next(start))
