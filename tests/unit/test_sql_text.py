"""The pipeline's reads live in include/sql/queries, one statement a file (issue 13)."""

from __future__ import annotations

import pytest

from bsin.core.paths import SQL_DIR
from bsin.warehouse import sql_text
from bsin.warehouse.errors import WarehouseError
from bsin.warehouse.sql_text import convert_params, query_text, split_statements


@pytest.mark.parametrize("path", sorted((SQL_DIR / "queries").glob("*.sql")), ids=lambda p: p.stem)
def test_every_query_file_is_one_statement_with_named_parameters(path):
    sql = query_text(path.stem)
    assert split_statements(sql) == [sql]
    # Comments are not statements, and their words never become parameters.
    assert "--" not in sql
    names = ["month", "country", "kind", "form_id", "fingerprint"]
    converted, _ = convert_params(
        sql, dict.fromkeys(names), "?", escape_percent=False, strict=False
    )
    assert ":" not in converted.replace("::", "")


def test_a_missing_or_multi_statement_query_file_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "two.sql").write_text("select 1;\nselect 2;\n")
    monkeypatch.setattr(sql_text, "SQL_DIR", tmp_path)
    sql_text.query_text.cache_clear()
    try:
        with pytest.raises(WarehouseError, match="exactly one statement, not 2"):
            query_text("two")
        with pytest.raises(WarehouseError, match="not found"):
            query_text("absent")
    finally:
        sql_text.query_text.cache_clear()
