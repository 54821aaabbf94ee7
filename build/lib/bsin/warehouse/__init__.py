"""Warehouse: DuckDB/PostgreSQL access, migrations, the dbt marts, erasure and lineage."""
