"""`make catalog`: the dbt docs of the warehouse as a static site in data/catalog/.

Every table and column with its description, every dbt test and the lineage graph, in one
page that works offline (open data/catalog/index.html in a browser). Column types come from
the warehouse: the `warehouse_default` connection when set, else the demo's DuckDB file
(run `make demo` first). DuckDB files are opened read-write, so stop a running demo first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder (default data/catalog)")
    parser.add_argument("--warehouse", help="warehouse URI (default: the configured one)")
    args = parser.parse_args(argv)

    from bsin_dev.localenv import open_local_warehouse

    from bsin.core.paths import data_dir
    from bsin.warehouse.db import WarehouseError
    from bsin.warehouse.dbt_project import DbtBuildError, write_catalog

    out = args.out or data_dir() / "catalog"
    try:
        wh = open_local_warehouse(args.warehouse)
        with wh:
            if not wh.table_exists("indicators_monthly"):
                print(
                    f"note: the marts are not built in {wh!r}: the catalogue lists them "
                    "without column types (run `make demo` first)",
                    file=sys.stderr,
                )
            index = write_catalog(wh, out)
    except (DbtBuildError, WarehouseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"catalogue written: {index} (open it in a browser; it works offline)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
