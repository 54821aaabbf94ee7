"""The dbt models as Airflow tasks: an astronomer-cosmos ``DbtTaskGroup``, one task per model.

Imported by the monthly DAG at parse time, so nothing here touches a connection or runs
dbt while parsing: the task group is rendered from the manifest ``dbt parse`` wrote
(``bsin.warehouse.dbt_project.ensure_manifest``; re-parsed in a subprocess only when a project file
changed), and the dbt profile is resolved from ``warehouse_default`` when a task runs.
"""

from __future__ import annotations

import os
from typing import Any

# The pipeline runs offline: Cosmos must not phone home (its usage ping also waits for a
# network timeout after every dbt task). Read by cosmos.settings at import.
os.environ.setdefault("SCARF_NO_ANALYTICS", "true")

from cosmos import (  # noqa: E402
    DbtTaskGroup,
    ExecutionConfig,
    ProfileConfig,
    ProjectConfig,
    RenderConfig,
)
from cosmos import settings as cosmos_settings  # noqa: E402
from cosmos.constants import (
    ExecutionMode,
    InvocationMode,
    LoadMode,
    TestBehavior,
    TestIndirectSelection,
)
from cosmos.profiles.base import BaseProfileMapping

from bsin.warehouse import dbt_project

# Also when Airflow's plugin manager imported Cosmos before this module set the variable.
cosmos_settings.no_analytics = True

WAREHOUSE_CONN_ID = "warehouse_default"


class WarehouseProfileMapping(BaseProfileMapping):
    """A dbt profile from the project's warehouse connection, DuckDB or PostgreSQL alike.

    Cosmos' own mappings are bound to one connection type each; this one reads the
    connection the way every Python task does (``Warehouse.from_conn_id``), so dbt and the
    pipeline always write to the same database and schema. The PostgreSQL password reaches
    dbt as an environment variable, never in the profiles.yml on disk.
    """

    airflow_connection_type = "bsin_warehouse"
    dbt_profile_type = "duckdb"  # only used for Cosmos' mock profile (dbt ls rendering)
    secret_fields = ["password"]

    def _warehouse(self) -> Any:
        from bsin.warehouse.db import Warehouse

        return Warehouse.from_conn_id(self.conn_id)

    @property
    def profile(self) -> dict[str, Any]:
        """The dbt target for the warehouse connection (resolved at task run time)."""
        return dbt_project.profile_output(
            self._warehouse(), password_env=self.get_env_var_name("password")
        )

    @property
    def env_vars(self) -> dict[str, str]:
        """The PostgreSQL password, for the ``env_var`` the profile names."""
        wh = self._warehouse()
        password = wh._pg_kwargs.get("password") if wh.backend == "postgres" else None  # noqa: SLF001
        return {self.get_env_var_name("password"): str(password)} if password else {}


def _task_id(node: Any) -> str:
    return str(node.name)


def release_warehouse_instances(context: Any) -> None:
    """Before a dbt task: let go of the DuckDB instances earlier tasks of this process left.

    Cosmos runs dbt inside the task's process, and where one process runs several tasks
    (``dag.test``, ``make demo``) an earlier task's warehouse connection, closed but not
    yet collected, still has the file attached: dbt-duckdb then failed with "Unique file
    handle conflict" and the task needed its retry (docs/warehouse.md). A no-op cost on
    PostgreSQL and in a fresh worker process.
    """
    from bsin.warehouse.duckdb_hook import release_instances_of_this_process

    release_instances_of_this_process()


def marts_task_group(group_id: str = "build_marts", **kwargs: Any) -> DbtTaskGroup:
    """The Cosmos task group running every dbt model (with its tests) as one Airflow task.

    ``TestBehavior.BUILD`` runs ``dbt build --select <model>``: a failing dbt test fails
    its model's task (the log and the error name the test and the offending row count) and
    nothing downstream runs. dbt runs in the task's own process (``DBT_RUNNER``), which
    saves starting a dbt interpreter per model.
    """
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=dbt_project.DBT_PROJECT_DIR,
            manifest_path=dbt_project.ensure_manifest(),
            project_name="bsin",
            dbt_vars=dbt_project.dbt_vars(),
            install_dbt_deps=False,
        ),
        profile_config=ProfileConfig(
            profile_name=dbt_project.PROFILE_NAME,
            target_name=dbt_project.TARGET_NAME,
            profile_mapping=WarehouseProfileMapping(conn_id=WAREHOUSE_CONN_ID),
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
            # A model's task runs the tests of that model only; a test over two models
            # (relationships) gets its own task after both (should_detach_... below).
            test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            enable_owner_inheritance=False,
            # The graph shows build_marts.indicators_monthly, not ..._model_build.
            normalize_task_id=_task_id,
            should_detach_multiple_parents_tests=True,
            # Cosmos' per-model Airflow assets would be scheduled-on by nothing, and their
            # dbt-style URIs are not valid Airflow 3 asset URIs; OpenLineage still gets the
            # dbt datasets (docs/operations.md).
            emit_datasets=False,
        ),
        operator_args={
            "install_deps": False,
            "dbt_cmd_flags": list(dbt_project.NO_FILE_LOG),
            "pre_execute": release_warehouse_instances,
        },
        **kwargs,
    )
