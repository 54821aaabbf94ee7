"""The benchmark's two floors and the DAG parse times, each in a process of its own.

``python -m bench.floors duckdb FILE...`` reads the emulator's response files (the same JSON
the API pages are cut from) with DuckDB's ``read_json`` and prints seconds, rows and peak
RSS as one JSON object: the fastest anything could read this data on this machine.

``python -m bench.floors dagparse FILE...`` imports Airflow once, then forks one child per
file and repeat, which parses that file alone with a ``DagBag``: what the DAG processor
does (its parsing processes start with Airflow already imported). The median per file is
printed; an empty DAG file measured the same way is the parse floor.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

EMPTY_DAG = '''"""Parse-time floor: a DAG with nothing in it."""

from airflow.sdk import DAG

with DAG(dag_id="bench_empty", schedule=None):
    pass
'''


def _peak_mb() -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def duckdb_floor(files: list[str]) -> dict:
    """Read every response with DuckDB: ids, timestamps, email and the answers as JSON."""
    import duckdb

    con = duckdb.connect()
    columns = {
        "responseId": "VARCHAR",
        "createTime": "VARCHAR",
        "lastSubmittedTime": "VARCHAR",
        "respondentEmail": "VARCHAR",
        "answers": "JSON",
    }
    started = time.perf_counter()
    # Aggregates over every column force DuckDB to parse each response in full.
    rows, ids, answer_bytes, last = con.execute(
        "select count(*), count(distinct responseId), sum(length(answers::varchar)),"
        " max(lastSubmittedTime)"
        " from read_json(?, format = 'array', columns = ?, maximum_object_size = 16777216)",
        [files, columns],
    ).fetchone()
    seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "distinct_ids": ids,
        "answer_bytes": answer_bytes,
        "last_submitted": last,
        "seconds": seconds,
        "threads": con.execute("select current_setting('threads')").fetchone()[0],
        "peak_rss_mb": _peak_mb(),
    }


def _parse_in_child(path: str) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=path, safe_mode=False)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "dags": len(bag.dags),
        "tasks": sum(len(d.tasks) for d in bag.dags.values()),
        "errors": {k: str(v)[:500] for k, v in bag.import_errors.items()},
        "peak_rss_mb": _peak_mb(),
    }


def dag_parse(files: list[str], repeats: int) -> dict:
    """Median parse seconds per file, each parse in a forked child of a warm interpreter."""
    started = time.perf_counter()
    import airflow  # noqa: F401
    import airflow.sdk  # noqa: F401
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401

    result = {"airflow_import_seconds": time.perf_counter() - started, "files": {}}
    for path in files:
        runs = []
        for _ in range(repeats):
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # child: parse, report, leave without running the parent's cleanup
                os.close(read_fd)
                try:
                    out = _parse_in_child(path)
                except BaseException as exc:  # reported to the parent, which decides
                    out = {"error": f"{type(exc).__name__}: {exc}"}
                os.write(write_fd, json.dumps(out).encode())
                os.close(write_fd)
                os._exit(0)
            os.close(write_fd)
            chunks = []
            while chunk := os.read(read_fd, 65536):
                chunks.append(chunk)
            os.close(read_fd)
            os.waitpid(pid, 0)
            runs.append(json.loads(b"".join(chunks) or b'{"error": "child died"}'))
        good = [r for r in runs if "seconds" in r]
        entry = {"runs": runs}
        if good:
            entry.update(
                seconds=statistics.median(r["seconds"] for r in good),
                dags=good[0]["dags"],
                tasks=good[0]["tasks"],
                errors=good[0]["errors"],
                peak_rss_mb=max(r["peak_rss_mb"] or 0 for r in good),
            )
        result["files"][path] = entry
    return result


def main(argv: list[str]) -> int:
    """Command line: ``duckdb FILE...`` or ``dagparse [--repeats N] FILE...``."""
    if not argv or argv[0] not in ("duckdb", "dagparse"):
        print(
            "usage: python -m bench.floors duckdb|dagparse [--repeats N] FILE...", file=sys.stderr
        )
        return 2
    if argv[0] == "duckdb":
        print(json.dumps(duckdb_floor(argv[1:])))
        return 0
    args, repeats = argv[1:], 3
    if args[:1] == ["--repeats"]:
        repeats, args = int(args[1]), args[2:]
    print(json.dumps(dag_parse(args, repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
