"""OpenLineage datasets of the Python tasks: what each one reads and writes.

The Airflow OpenLineage provider reports a task's ``inlets``/``outlets`` when its operator
has no extractor of its own (our ``@task`` functions). Which database the tables live in is
only known when the task runs (the ``warehouse_default`` connection), so each task body
calls :func:`declare` and the datasets are added to the running task then. The names follow
the OpenLineage dbt integration that Cosmos uses for the dbt models (namespace
``duckdb://<file>`` or ``postgres://host:port``, name ``database.schema.table``), so the
Python tasks and the dbt tasks join into one graph: Forms -> raw tables -> feedback ->
marts -> reports. Outside an Airflow task (scripts, tests) :func:`declare` does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bsin.warehouse.db import Warehouse

log = logging.getLogger(__name__)

FORMS_NAMESPACE = "https://forms.googleapis.com"


def warehouse_namespace(wh: Warehouse) -> tuple[str, str]:
    """``(namespace, "database.schema")`` of the warehouse's tables in OpenLineage terms."""
    if wh.backend == "duckdb":
        return f"duckdb://{wh.path}", f"{Path(wh.path).stem}.main"
    kw = wh._pg_kwargs  # noqa: SLF001 (the one parsed form of the connection)
    host, port = kw.get("host") or "localhost", kw.get("port") or 5432
    return f"postgres://{host}:{port}", f"{kw.get('dbname') or 'postgres'}.{wh.schema or 'public'}"


def table_datasets(wh: Warehouse, tables: Iterable[str]) -> list[Any]:
    """OpenLineage ``Dataset`` objects for warehouse ``tables``."""
    from openlineage.client.event_v2 import Dataset

    namespace, prefix = warehouse_namespace(wh)
    return [Dataset(namespace=namespace, name=f"{prefix}.{t}") for t in tables]


def form_datasets(form_ids: Iterable[str]) -> list[Any]:
    """OpenLineage ``Dataset`` objects for Google Forms (their responses are the input)."""
    from openlineage.client.event_v2 import Dataset

    return [Dataset(namespace=FORMS_NAMESPACE, name=f"forms/{f}") for f in form_ids]


def declare(
    wh: Warehouse | None,
    reads: Iterable[str] = (),
    writes: Iterable[str] = (),
    *,
    extra_inputs: Iterable[Any] = (),
    extra_outputs: Iterable[Any] = (),
) -> None:
    """Add the tables the running task reads and writes to its inlets and outlets.

    Airflow ignores inlets/outlets that are not assets when it records asset events, so
    these only feed OpenLineage. A no-op outside a running task or without the provider.
    """
    try:
        from airflow.sdk import get_current_context

        task = get_current_context()["task"]
    except Exception:  # not inside a task: scripts, tests, the pipeline harness
        return
    try:
        inputs = [*(table_datasets(wh, reads) if wh else []), *extra_inputs]
        outputs = [*(table_datasets(wh, writes) if wh else []), *extra_outputs]
    except ImportError:  # pragma: no cover - the provider pins openlineage-python
        return
    have = {(getattr(d, "namespace", None), d.name) for d in [*task.inlets, *task.outlets]}
    task.inlets = [*task.inlets, *(d for d in inputs if (d.namespace, d.name) not in have)]
    task.outlets = [*task.outlets, *(d for d in outputs if (d.namespace, d.name) not in have)]
