"""The dbt project under ``include/dbt`` that builds every staging and mart table.

One place knows how to run it: the profile comes from the same ``Warehouse`` (and so the
same ``warehouse_default`` connection) the Python steps use, the vars are the project's
single lists (indicators, stakeholder types, capability areas), and a failing model or
dbt test becomes a ``DbtBuildError`` naming the node and the number of offending rows.

Callers: the monthly DAG's Cosmos task group (``bsin.orchestration.dbt_airflow``), ``build_marts``
(the pipeline harness, tests, the programme report fixtures), ``make catalog``.

Light at import (the DAG file imports it at parse): dbt itself is imported only to run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bsin.core.paths import INCLUDE
from bsin.transform.mapping import NEEDS, STAKEHOLDERS

if TYPE_CHECKING:
    from bsin.warehouse.db import Warehouse

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = INCLUDE / "dbt"
PROFILE_NAME = "bsin"
TARGET_NAME = "warehouse"


def target_dir() -> Path:
    """Where ``dbt parse`` leaves the manifest the DAG renders its task group from.

    ``include/dbt/target`` (git-ignored) when writable, else a folder in the temp dir (the
    compose deployment mounts include/ read-only); ``BSIN_DBT_TARGET_DIR`` overrides both.
    """
    if env := os.environ.get("BSIN_DBT_TARGET_DIR"):
        return Path(env)
    local = DBT_PROJECT_DIR / "target"
    if os.access(local if local.exists() else DBT_PROJECT_DIR, os.W_OK):
        return local
    return Path(tempfile.gettempdir()) / "bsin-dbt-target"


def manifest_path() -> Path:
    """The manifest ``ensure_manifest`` writes (see ``target_dir``)."""
    return target_dir() / "manifest.json"


# The indicators of indicator_value (and columns of indicators_monthly), in report order,
# each with the int_monthly_counts column that counts the answers behind it. The
# indicator_value model loops over this (var 'indicators'); Python reads INDICATORS.
INDICATOR_COUNTS: dict[str, str] = {
    "response_rate": "respondents",
    "peer_session_rate": "peer_n",
    "workshop_rate": "workshop_n",
    "satisfaction_mean": "satisfaction_n",
    "satisfaction_low_share": "satisfaction_n",
    "relevance_mean": "relevance_n",
    "nps": "recommend_n",
    "skill_gain_rate": "skill_n",
    "connections_sum": "connections_n",
    "connections_mean": "connections_n",
    "connections_cumulative": "connections_n_cumulative",
    "access_public_sector_rate": "access_n",
    "access_corporate_rate": "access_n",
    "access_impact_investor_rate": "access_n",
    "access_media_rate": "access_n",
    "access_any_rate": "access_n",
    "needs_coverage": "baseline_members",
}
INDICATORS: tuple[str, ...] = tuple(INDICATOR_COUNTS)
# Stakeholder types a member can reach ('none' is an answer, not a type).
STAKEHOLDER_TYPES: tuple[str, ...] = tuple(s for s in STAKEHOLDERS if s != "none")

# The dbt invocations of the pipeline (`build` = run every model and its tests in order).
BUILD_ARGS: tuple[str, ...] = ("build",)
# dbt writes a debug-level dbt.log beside every run by default, formatting each of its
# events for it; the pipeline's runs are in a folder deleted after the run, and writing
# that file cost about 0.6 s a build (docs/performance.md, eighth run).
# What dbt prints (warnings, errors, the failing node) still reaches the task log.
NO_FILE_LOG: tuple[str, ...] = ("--log-level-file", "none")


class DbtBuildError(RuntimeError):
    """A dbt model or test failed; the message names each failing node and its row count.

    ``result`` is dbt's own ``dbtRunnerResult`` (None when dbt did not run).
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


def dbt_vars() -> dict[str, Any]:
    """The vars every dbt invocation gets: the project's one definition of each list."""
    return {
        "indicators": [{"name": k, "n": v} for k, v in INDICATOR_COUNTS.items()],
        "stakeholder_types": list(STAKEHOLDER_TYPES),
        "capability_areas": list(NEEDS),
    }


# Connection parameters libpq takes that dbt-postgres also accepts in a profile.
_PG_PASSTHROUGH = ("sslmode", "sslcert", "sslkey", "sslrootcert", "connect_timeout")


def _cli_args(work: Path) -> list[str]:
    """The dbt arguments every invocation shares: project, a private profiles, target and
    log folder under ``work``, the project's vars, quiet output."""
    return [
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(work),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--vars",
        json.dumps(dbt_vars()),
        "--no-use-colors",
        "--quiet",
        *NO_FILE_LOG,
    ]


def profile_output(wh: Warehouse, password_env: str | None = None) -> dict[str, Any]:
    """The dbt profile target for ``wh``.

    With ``password_env`` the PostgreSQL password is written as ``env_var(...)`` instead of
    its value, so a profiles.yml on disk never holds it.
    """
    if wh.backend == "duckdb":
        if wh.path == ":memory:":
            raise DbtBuildError(
                "dbt needs a DuckDB file: an in-memory warehouse is private to one connection"
            )
        from bsin.warehouse.connection import duckdb_memory_limit

        # DuckDB allows one writer per file: wait (1+2+4+...+32 s) for a parallel task's lock.
        # dbt opens its own DuckDB instance, so it gets the buffer-pool bound of every
        # warehouse connection: without it the month-10 build of the benchmark peaked at
        # 865-984 MB, with it at 576 MB (docs/performance.md).
        # One model at a time: DuckDB runs each query on every core already, and models
        # built side by side share the one bounded pool. At four threads a month-10 build
        # once ran out of it (two marts at once); one thread builds as fast.
        # No vacuum: dbt opens the file by path, with DuckDB's 122,880-row groups, and a
        # checkpoint of such a connection merged every table's 16,384-row groups
        # (duckdb_hook.ROW_GROUP_SIZE) into large ones, rewriting the whole warehouse
        # each month (docs/performance.md, "Tenth full run"). dbt replaces its tables
        # whole, so it leaves no deleted rows for a vacuum to reclaim.
        return {
            "type": "duckdb",
            "path": wh.path,
            "threads": 1,
            "retries": {"connect_attempts": 7},
            "settings": {
                "TimeZone": "UTC",
                "memory_limit": duckdb_memory_limit(),
                "max_vacuum_tasks": 0,
            },
        }
    kw = wh._pg_kwargs  # noqa: SLF001 (the one parsed form of the connection)
    out: dict[str, Any] = {
        "type": "postgres",
        "host": kw.get("host") or "localhost",
        "port": int(kw.get("port") or 5432),
        "user": kw.get("user") or os.environ.get("PGUSER") or "postgres",
        "password": kw.get("password") or "",
        "dbname": kw.get("dbname") or "postgres",
        "schema": wh.schema or "public",
        "threads": 4,
    }
    if password_env and out["password"]:
        out["password"] = "{{ env_var('" + password_env + "') }}"
    out.update({k: kw[k] for k in _PG_PASSTHROUGH if k in kw})
    return out


def profiles_yml(wh: Warehouse, password_env: str | None = None) -> str:
    """A whole profiles.yml text for ``wh`` (profile ``bsin``, target ``warehouse``)."""
    import yaml

    body = {
        PROFILE_NAME: {
            "target": TARGET_NAME,
            "outputs": {TARGET_NAME: profile_output(wh, password_env)},
        }
    }
    return yaml.safe_dump(body, sort_keys=True)


# --------------------------------------------------------------------------- running dbt


@dataclass
class DbtResult:
    """What one dbt invocation did: ``(node unique_id, status, failures, message)`` per node."""

    nodes: list[tuple[str, str, int | None, str]]

    @property
    def models(self) -> list[str]:
        """Names of the models built, in run order."""
        return [n.split(".")[-1] for n, *_ in self.nodes if n.startswith("model.")]


@contextmanager
def _workdir() -> Iterator[Path]:
    # dbt writes target/ and logs/; one folder per invocation keeps parallel tasks and
    # test workers apart.
    with tempfile.TemporaryDirectory(prefix="bsin-dbt-") as tmp:
        path = Path(tmp)
        (path / "target").mkdir()
        yield path


# Parsed manifests of this process, by project state and backend, with the (database,
# schema) they point at: parsing costs seconds, running the models a fraction of that. Of
# the warehouse, only where relations live is baked into a manifest, so one parse serves
# every later warehouse of the same backend once retargeted (see _retarget).
_MANIFESTS: dict[tuple[str, str], list[Any]] = {}


def _relation_home(wh: Warehouse) -> tuple[str, str]:
    if wh.backend == "duckdb":
        return Path(wh.path).stem, "main"
    return str(wh._pg_kwargs.get("dbname") or "postgres"), wh.schema or "public"  # noqa: SLF001


def _retarget(manifest: Any, old: tuple[str, str], new: tuple[str, str]) -> None:
    """Move every relation of ``manifest`` from database/schema ``old`` to ``new`` (in place:
    a copy would lose dbt's lookup caches, and this process runs one dbt at a time)."""
    if old == new:
        return
    for node in [*manifest.nodes.values(), *manifest.sources.values()]:
        if (getattr(node, "database", None), getattr(node, "schema", None)) == old:
            node.database, node.schema = new
            if getattr(node, "relation_name", None):
                node.relation_name = node.relation_name.replace(
                    f'"{old[0]}"."{old[1]}".', f'"{new[0]}"."{new[1]}".'
                )


def run_dbt(wh: Warehouse, args: Sequence[str], *, keep_target: Path | None = None) -> DbtResult:
    """Run ``dbt <args>`` in this process against ``wh``; raise ``DbtBuildError`` on failure.

    ``keep_target`` copies dbt's target folder there afterwards (``make catalog``).
    """
    from dbt.cli.main import dbtRunner

    # A DuckDB file takes one writer: the caller's own connection must let go first.
    if wh.backend == "duckdb":
        wh.close()
    secret_env = "BSIN_DBT_WAREHOUSE_PASSWORD"
    with _workdir() as work:
        (work / "profiles.yml").write_text(profiles_yml(wh, secret_env), encoding="utf-8")
        password = wh._pg_kwargs.get("password") if wh.backend == "postgres" else None  # noqa: SLF001
        common = _cli_args(work)
        previous = os.environ.get(secret_env)
        if password:
            os.environ[secret_env] = str(password)
        try:
            home = _relation_home(wh)
            key = (f"{DBT_PROJECT_DIR}:{_source_key()}", wh.backend)
            cached = _MANIFESTS.get(key)
            if cached is None:
                parsed = dbtRunner().invoke(["parse", *common, "--no-write-json"])
                if not parsed.success:
                    raise DbtBuildError(
                        f"dbt parse of {DBT_PROJECT_DIR} failed: {parsed.exception}"
                    )
                cached = _MANIFESTS[key] = [parsed.result, home]
            _retarget(cached[0], cached[1], home)
            cached[1] = home
            extra = [] if keep_target is not None else ["--no-write-json"]
            try:
                res = dbtRunner(manifest=cached[0]).invoke([*args, *common, *extra])
            finally:
                if wh.backend == "duckdb":
                    from bsin.warehouse.duckdb_hook import release_dbt_instance

                    release_dbt_instance()
        finally:
            if password:
                if previous is None:
                    os.environ.pop(secret_env, None)
                else:
                    os.environ[secret_env] = previous
        nodes = _node_results(res.result)
        if keep_target is not None and res.success:
            keep_target.mkdir(parents=True, exist_ok=True)
            shutil.copytree(work / "target", keep_target, dirs_exist_ok=True)
        if not res.success:
            raise DbtBuildError(failure_message(args, nodes, res.exception), res)
    return DbtResult(nodes)


def _node_results(result: Any) -> list[tuple[str, str, int | None, str]]:
    out = []
    for r in getattr(result, "results", None) or []:
        node = getattr(r, "node", None)
        if node is None:
            continue
        status = str(getattr(r.status, "value", r.status))
        message = " ".join(str(getattr(r, "message", "") or "").split())
        out.append((node.unique_id, status, getattr(r, "failures", None), message))
    return out


def failure_message(
    args: Sequence[str], nodes: Sequence[tuple[str, str, int | None, str]], exc: Any = None
) -> str:
    """One readable line per failed node: the model or test and the offending row count."""
    bad = [n for n in nodes if n[1] in ("error", "fail", "runtime error")]
    lines = []
    for node, status, failures, message in bad:
        # unique_id is "<kind>.<project>.<name>[.<hash>]": keep project.name
        kind, name = node.split(".")[0], ".".join(node.split(".")[1:3])
        if kind == "test":
            rows = (
                f"{failures} offending row(s)"
                if status == "fail" and failures is not None
                else f"error: {message[:500]}"
            )
            lines.append(f"dbt test {name} failed: {rows}")
        else:
            lines.append(f"dbt {kind} {name} failed ({status}): {message[:500]}")
    skipped = [n[0].split(".")[2] for n in nodes if n[1] == "skipped" and n[0].startswith("model.")]
    head = f"dbt {' '.join(args)} failed"
    if not lines:
        lines.append(str(exc) if exc else "see the dbt log above")
    msg = head + ":\n  " + "\n  ".join(lines)
    if skipped:
        msg += f"\n  not built (downstream of the failure): {', '.join(skipped)}"
    return msg


def build_marts(wh: Warehouse) -> list[str]:
    """Rebuild every staging and mart model and run their dbt tests (``dbt build``).

    Deterministic: the same canonical rows give the same mart rows on every run. Each
    model replaces its table atomically; a failing model or test stops everything
    downstream of it (``DbtBuildError``), leaving those tables as they were.
    Returns the names of the models built.
    """
    result = run_dbt(wh, BUILD_ARGS)
    log.info("dbt built %d models on %r", len(result.models), wh)
    return result.models


def write_catalog(wh: Warehouse, out: Path) -> Path:
    """``dbt docs generate --static`` for ``wh`` into ``out``; returns ``out/index.html``.

    One self-contained page (manifest and catalog inlined, no internet asset: usage
    tracking is off in dbt_project.yml, so the page loads no tracker script) plus the
    manifest.json and catalog.json next to it for other tools.
    """
    with tempfile.TemporaryDirectory(prefix="bsin-dbt-docs-") as tmp:
        target = Path(tmp)
        run_dbt(wh, ("docs", "generate", "--static"), keep_target=target)
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target / "static_index.html", out / "index.html")
        for name in ("manifest.json", "catalog.json"):
            shutil.copy2(target / name, out / name)
    return out / "index.html"


# --------------------------------------------------------------------------- manifest


def _source_key() -> str:
    digest = hashlib.sha256(json.dumps(dbt_vars(), sort_keys=True).encode())
    for f in sorted(DBT_PROJECT_DIR.rglob("*")):
        rel = f.relative_to(DBT_PROJECT_DIR)
        if f.is_file() and rel.parts[0] not in ("target", "logs", "dbt_packages"):
            digest.update(str(rel).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


def manifest_is_current() -> bool:
    """Whether ``manifest_path()`` was parsed from the project files as they are now."""
    key_file = target_dir() / "manifest.source-sha256"
    try:
        return manifest_path().exists() and key_file.read_text().strip() == _source_key()
    except OSError:
        return False


def write_manifest() -> Path:
    """``dbt parse`` the project into ``manifest_path()`` (and the partial-parse cache).

    Parsing connects to nothing: the profile is a DuckDB placeholder. The files are
    replaced atomically, so a DAG processor never reads a half-written manifest.
    """
    from dbt.cli.main import dbtRunner

    key = _source_key()
    target = target_dir()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bsin-dbt-parse-", dir=target) as tmp:
        work = Path(tmp)
        profile = {
            PROFILE_NAME: {
                "target": TARGET_NAME,
                "outputs": {TARGET_NAME: {"type": "duckdb", "path": str(work / "p.duckdb")}},
            }
        }
        (work / "profiles.yml").write_text(json.dumps(profile), encoding="utf-8")
        res = dbtRunner().invoke(["parse", *_cli_args(work)])
        if not res.success:
            raise DbtBuildError(f"dbt parse of {DBT_PROJECT_DIR} failed: {res.exception}")
        for name in ("partial_parse.msgpack", "manifest.json"):
            os.replace(work / "target" / name, target / name)
        (target / "manifest.source-sha256").write_text(key + "\n", encoding="utf-8")
    return target / "manifest.json"


def ensure_manifest() -> Path:
    """``manifest_path()``, re-parsed first when a project file changed (in a subprocess,
    so a DAG processor never imports dbt and its adapters)."""
    if not manifest_is_current():
        proc = subprocess.run(
            [sys.executable, "-m", "bsin.warehouse.dbt_project", "parse"],
            env={**os.environ},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            # Becomes the DAG's import error in the UI: say which project and why.
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise DbtBuildError(f"dbt parse of {DBT_PROJECT_DIR} failed:\n{tail}")
    return manifest_path()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bsin.warehouse.dbt_project parse``: write the manifest the DAG renders from."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv != ["parse"]:
        print("usage: python -m bsin.warehouse.dbt_project parse", file=sys.stderr)
        return 2
    print(write_manifest())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
