"""The dbt models give byte-identical mart tables to the hand-written SQL runner they
replaced (issue 12): same rows, same values to the last bit, same column names, order and
types, on DuckDB and on PostgreSQL. The golden files were written by that runner."""

from __future__ import annotations

import pytest

from bsin.warehouse.dbt_project import build_marts
from tests.support import warehouse_data as wd
from tests.support.marts_golden import DATASETS, GOLDEN_TABLES, dump_table, golden_path


@pytest.mark.parametrize(("dataset", "seed"), DATASETS, ids=[d for d, _ in DATASETS])
def test_dbt_marts_equal_the_golden_copies(warehouse, dataset, seed):
    backend = "duckdb" if warehouse.backend == "duckdb" else "postgres"
    wd.load(warehouse, wd.generated(seed=seed))
    build_marts(warehouse)
    for table in GOLDEN_TABLES:
        expected = golden_path(backend, dataset, table).read_text(encoding="utf-8")
        assert expected.count("\n") > 2, f"golden {table} must hold rows"
        assert dump_table(warehouse, table) == expected, f"{backend} {dataset} {table}"
