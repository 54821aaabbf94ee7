"""The DuckDB provider's hook, on a connection object instead of a connection id."""

from __future__ import annotations

from typing import Any

from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

# DuckDB option -> the connection extra key that sets it (DuckDBHook's names).
_EXTENSION_POLICY = {
    "autoinstall_known_extensions": "autoinstall_extensions",
    "autoload_known_extensions": "autoload_extensions",
    "allow_community_extensions": "allow_community_extensions",
}


class WarehouseDuckDBHook(DuckDBHook):
    """``DuckDBHook`` on the connection object passed as ``connection=``.

    ``DuckDBHook`` looks its connection up by id and falls back to an in-memory database when
    the default one is missing; a warehouse built from a URI has no id to look up, and a
    warehouse must never fall back to memory. So the object given to ``DbApiHook``'s own
    ``connection=`` argument is the connection, and everything else (memory limit, threads,
    extensions and settings from the extra) is the provider's.
    """

    @property
    def airflow_connection(self) -> Any:
        """The connection this hook was built on."""
        return self.connection

    def get_connect_config(self) -> dict[str, Any]:
        """The provider's configuration without its extension-policy defaults.

        dbt-duckdb opens the same file in the same process (the marts task), and DuckDB
        refuses a second connection to an open file whose configuration differs. So only
        what the connection's extra sets explicitly is passed, and both share one instance.
        """
        config = super().get_connect_config()
        for option, extra_key in _EXTENSION_POLICY.items():
            if self.connection_extra.get(extra_key) is None:
                config.pop(option, None)
        return config
