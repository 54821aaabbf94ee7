"""Airflow plugin of the project: registers the monthly DAG's timetable.

Custom timetables must be registered for the scheduler, DAG processor and API server to
deserialize the DAG; everything else of the project is the ordinary package ``bsin``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from bsin.orchestration.timetables import ReportMonthTimetable


class BsinPlugin(AirflowPlugin):
    """Registers :class:`bsin.orchestration.timetables.ReportMonthTimetable`."""

    name = "bsin"
    timetables = [ReportMonthTimetable]
