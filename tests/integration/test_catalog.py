"""`make catalog`: the dbt docs as one static page that works offline."""

from __future__ import annotations

import json
import re

from bsin.warehouse.dbt_project import DBT_PROJECT_DIR, build_marts, write_catalog
from tests.support import warehouse_data as wd


def test_catalog_is_static_offline_and_lists_every_model(tmp_path):
    from bsin.warehouse.db import Warehouse

    wh = Warehouse.from_uri(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    try:
        wh.migrate()
        wd.load(wh, wd.generated())
        build_marts(wh)
        index = write_catalog(wh, tmp_path / "catalog")
    finally:
        wh.close()
    html = index.read_text(encoding="utf-8")
    # Nothing fetched from the internet: no external script, style sheet or font...
    external = re.findall(r"""<(?:script|link|img)[^>]+(?:src|href)=["']?(?:https?:)?//""", html)
    assert external == []
    # ...and the usage tracker stays off (it would load a script from a CDN).
    manifest = json.loads((tmp_path / "catalog" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["metadata"]["send_anonymous_usage_stats"] is False
    catalog = json.loads((tmp_path / "catalog" / "catalog.json").read_text(encoding="utf-8"))
    models = sorted(p.stem for p in (DBT_PROJECT_DIR / "models").rglob("*.sql"))
    documented = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert sorted(documented) == models
    assert all(n["description"] for n in documented.values()), "every model has a description"
    # Column types come from the built warehouse; descriptions and tests from the YAML.
    value = catalog["nodes"]["model.bsin.indicator_value"]["columns"]
    assert value["value"]["type"].lower() in ("double", "double precision")
    assert documented["indicator_value"]["columns"]["prev_value"]["description"]
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    kinds = {t["test_metadata"]["name"] for t in tests if t.get("test_metadata")}
    assert {"unique_combination", "not_null", "accepted_values", "relationships"} <= kinds
    # The page embeds the lineage it draws (model -> model edges).
    assert "model.bsin.int_monthly_counts" in manifest["child_map"]["model.bsin.stg_feedback"]
    for name in models:
        assert name in html
