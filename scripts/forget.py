"""`make forget EMAIL=<address>` or `make forget MEMBER=<member id>`: erase one member.

Removes every row of the member from every warehouse table (raw landing, history,
feedback, self-assessment, quarantine), rebuilds the marts and records the erasure in
`erasure_log` without the address (docs/security.md, "Right to erasure"). The address is
pseudonymised with the pipeline's key (BSIN_PSEUDONYM_KEY or the bsin_pseudonym_key
connection) and never printed. The warehouse is `warehouse_default`
(AIRFLOW_CONN_WAREHOUSE_DEFAULT), by default the demo's DuckDB file; stop a running demo
or Airflow first on DuckDB (one writer at a time).
"""

from __future__ import annotations

import argparse
import os
import sys


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def forget(email: str | None, member: str | None, warehouse: str | None) -> int:
    from bsin.warehouse.erasure import forget_member, resolve_member

    key = None
    if email:
        from bsin_dev.localenv import local_environment

        from bsin.ingest.pseudonymise import load_key

        # The local demo's key when nothing else is configured, as `make demo` uses.
        os.environ.setdefault("BSIN_PSEUDONYM_KEY", local_environment()["BSIN_PSEUDONYM_KEY"])
        key = load_key()
    member_id = resolve_member(email=email, member=member, key=key)
    # The arguments are good: only now load the pipeline (and with it Airflow, seconds).
    from bsin_dev.localenv import open_local_warehouse

    from bsin import pipeline

    wh = open_local_warehouse(warehouse)
    try:
        wh.migrate()
        ctx = pipeline.Context.load(warehouse=wh, key=key)
        result = forget_member(wh, member_id, rebuild_marts=lambda: pipeline.rebuild_marts(ctx))
    finally:
        wh.close()
    if result.total:
        rows = ", ".join(f"{t} {n}" for t, n in result.rows_removed.items())
        print(f"member {member_id} erased from {wh}: {result.total} rows removed ({rows})")
    else:
        print(
            f"member {member_id}: no rows in {wh} (if you expected some, check that the key "
            "is the pipeline's); the erasure is recorded, so later runs will not land them"
        )
    print("marts rebuilt; erasure_log records it without the address")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--email", help="the member's email address")
    parser.add_argument("--member", help="the member id (m_ and 20 hex digits)")
    parser.add_argument("--warehouse", help="warehouse URI (default: warehouse_default)")
    args = parser.parse_args(argv)
    try:
        return forget(args.email or None, args.member or None, args.warehouse)
    except SystemExit:
        raise
    except Exception as exc:  # one readable line for the operator, never a traceback
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
