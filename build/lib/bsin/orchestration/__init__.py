"""Orchestration: the task bodies the DAGs call, timetables and the dbt task group."""
