"""Run real Airflow components as subprocesses for end-to-end tests.

``AirflowHarness`` gives every test its own AIRFLOW_HOME in a temporary folder, a fresh
PostgreSQL metadata database (SQLite's single-writer locking breaks as soon as the
scheduler, the DAG processor and the API server write at the same time), free ports, a
SimpleAuthManager admin with a known password and a random JWT secret shared by every
component. ``start()`` runs ``airflow db migrate`` (unless the database is a copy of a
migrated template, ``create_metadata_database``) and then each component in its own
process group; ``stop()`` kills the groups (with every child: uvicorn workers, executor
processes, task supervisors, Celery pool processes) and drops the database.

The REST API v2 helpers (``token``, ``trigger_run``, ``wait_for_run``, ...) drive the
running instance the way data staff and their scripts do.

Only the standard library, httpx, psycopg and bsin.orchestration.preload are imported at module
level.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from bsin.orchestration.preload import local_executor_preload_environment

#: What docker-compose.yaml's workers are given too (tests/e2e/test_compose.py).
CELERY_CONFIG_OPTIONS = "bsin.orchestration.celery_config.CELERY_CONFIG"

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
AIRFLOW_BIN = VENV_BIN / "airflow"
HARNESS_DAGS = PROJECT_ROOT / "tests" / "support" / "dags_harness"
PROJECT_DAGS = PROJECT_ROOT / "dags"
ADMIN_USER = "admin"

TERMINAL_RUN_STATES = {"success", "failed"}
# Every component a run needs in Airflow 3: the API server also serves the task
# execution API that workers call, the DAG processor is no longer part of the scheduler,
# and the triggerer runs deferred sensors (the grace-period wait of the real DAG).
DEFAULT_COMPONENTS = ("api-server", "dag-processor", "scheduler", "triggerer")

# Process groups still alive, killed at interpreter exit should a test forget stop().
_LIVE_GROUPS: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_groups(pgids: Iterable[int], grace: float = 5.0) -> None:
    """SIGTERM process groups, then SIGKILL whatever is left after ``grace`` seconds.

    All groups get the signal at once: a graceful Airflow shutdown (the triggerer waits
    for its triggers, the scheduler for its executor) can take half a minute per
    component, and a test does not need it.
    """
    alive = set()
    for pgid in pgids:
        try:
            os.killpg(pgid, signal.SIGTERM)
            alive.add(pgid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        for pgid in list(alive):
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                alive.discard(pgid)
        time.sleep(0.2)
    for pgid in alive:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _LIVE_GROUPS.difference_update(pgids)


@atexit.register
def _kill_leftovers() -> None:
    _kill_groups(list(_LIVE_GROUPS), grace=2.0)


def database_url(dsn: str, dbname: str) -> str:
    """``dsn`` pointing at database ``dbname`` instead of its own."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, ""))


def sqlalchemy_url(dsn: str, driver: str = "psycopg") -> str:
    """A ``postgresql://`` DSN as a SQLAlchemy URL using psycopg 3 (the installed driver)."""
    scheme, rest = dsn.split("://", 1)
    if scheme not in {"postgresql", "postgres"}:
        raise ValueError(f"expected a postgresql:// DSN, got {scheme}://")
    return f"postgresql+{driver}://{rest}"


def create_database(admin_dsn: str, prefix: str, template: str | None = None) -> str:
    """Create a fresh, uniquely named database next to ``admin_dsn``; return its DSN.

    With ``template`` (a database name) the new database is a copy of that one.
    """
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    return database_url(admin_dsn, name)


# The migrated metadata database of this process, by admin DSN (see metadata_template).
_METADATA_TEMPLATES: dict[str, str] = {}


def metadata_template(admin_dsn: str) -> str:
    """Name of a database holding Airflow's migrated, empty metadata schema; made once per
    process (per xdist worker) and dropped at exit.

    ``airflow db migrate`` costs 15-20 s of a busy machine even on a current database;
    PostgreSQL copies a migrated one (``CREATE DATABASE ... TEMPLATE``) in about a second.
    """
    if admin_dsn not in _METADATA_TEMPLATES:
        import tempfile

        dsn = create_database(admin_dsn, "bsin_af_template")
        atexit.register(drop_database, admin_dsn, dsn)
        with tempfile.TemporaryDirectory(prefix="bsin-af-template-") as home:
            AirflowHarness(home=Path(home), metadata_dsn=dsn).run_cli("db", "migrate")
        _METADATA_TEMPLATES[admin_dsn] = urlsplit(dsn).path.lstrip("/")
    return _METADATA_TEMPLATES[admin_dsn]


def create_metadata_database(admin_dsn: str) -> str:
    """A fresh metadata database, already migrated (a copy of ``metadata_template``); pass
    ``migrated=True`` to the harness using it."""
    return create_database(admin_dsn, "bsin_af", template=metadata_template(admin_dsn))


def drop_database(admin_dsn: str, dsn: str) -> None:
    """Drop the database ``dsn`` names, disconnecting whoever is still connected."""
    import psycopg

    name = urlsplit(dsn).path.lstrip("/")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class AirflowHarnessError(AssertionError):
    """A component died or a wait timed out; the message carries the relevant logs."""


@dataclass
class AirflowHarness:
    """One isolated Airflow installation made of real component processes.

    ``metadata_dsn`` is a ``postgresql://`` DSN of an existing (normally fresh) database;
    ``migrated`` says it already holds Airflow's schema (``create_metadata_database``), so
    ``start()`` skips ``airflow db migrate``.
    ``extra_env`` adds environment (connections, executor settings, bsin variables) to
    every component; ``AIRFLOW_*`` variables of the calling shell are not inherited, so a
    developer's own Airflow settings cannot leak into a test.
    """

    home: Path
    metadata_dsn: str
    dags_folder: Path = HARNESS_DAGS
    executor: str = "LocalExecutor"
    migrated: bool = False
    extra_env: Mapping[str, str] = field(default_factory=dict)
    api_port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(64))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    started_at: float = 0.0
    _token: str | None = None

    # ------------------------------------------------------------------ environment
    @property
    def api_url(self) -> str:
        """Base URL of the API server."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def log_dir(self) -> Path:
        """Where each component's stdout/stderr and Airflow's task logs go."""
        return self.home / "logs"

    def env(self, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment of every Airflow command of this harness."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        passwords = self.home / "simple_auth_manager_passwords.json"
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                # As in production; plugins/.airflowignore keeps the plugin manager out of bsin.
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
                "BSIN_PROJECT_ROOT": str(PROJECT_ROOT),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                # Two task processes at a time, one per core of the test machine (the default
                # 32 forks as many LocalExecutor workers at start). It also lets the first
                # dbt tasks leave Cosmos a partial-parse cache for the warehouse before the
                # others start, instead of every model task parsing the project in full.
                "AIRFLOW__CORE__PARALLELISM": "2",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(self.metadata_dsn),
                # Airflow would derive postgresql+asyncpg, which is not installed.
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": sqlalchemy_url(
                    self.metadata_dsn, "psycopg_async"
                ),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
                # Distinct log-server ports: two harnesses (or `make airflow`) may run at once.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.log_dir),
                # Cosmos' partial-parse and profile caches of this instance only: the shared
                # default (/tmp/cosmos) would be written by parallel test workers at once.
                "AIRFLOW__COSMOS__CACHE_DIR": str(self.home / "cosmos"),
                # Pick up the DAG folder quickly instead of every 5 minutes, but parse each
                # file once: no test changes a DAG file while Airflow runs, and re-parsing
                # every 30 s (the default) costs seconds of CPU each time.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                # Unpausing must not add a scheduled run for the latest month next to the
                # run the test triggers: only API-triggered runs execute.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "True",
                "NO_COLOR": "1",
            }
        )
        # Task processes start with dbt, Cosmos, pandas and matplotlib already imported
        # (bsin.orchestration.preload, as docker-compose.yaml's workers do):
        # each of the thirteen dbt model tasks imported them itself, about half its time.
        if self.executor == "LocalExecutor":
            env.update(local_executor_preload_environment())
        elif self.executor == "CeleryExecutor":
            env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] = CELERY_CONFIG_OPTIONS
        env.update(self.extra_env)
        if overrides:
            env.update(overrides)
        return env

    # ------------------------------------------------------------------ processes
    def run_cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run one ``airflow`` CLI command to completion; raise with its output on failure."""
        proc = subprocess.run(
            [str(AIRFLOW_BIN), *args],
            env=self.env(),
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise AirflowHarnessError(
                f"`airflow {' '.join(args)}` exited {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
            )
        return proc

    def spawn(self, name: str, args: Iterable[str], env: Mapping[str, str] | None = None) -> None:
        """Start ``airflow <args>`` as component ``name`` in its own process group."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            [str(AIRFLOW_BIN), *args],
            env=self.env(env),
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self.processes[name] = proc
        _LIVE_GROUPS.add(proc.pid)

    def start(self, components: Iterable[str] = DEFAULT_COMPONENTS, timeout: float = 180) -> None:
        """Migrate the metadata DB, start ``components`` and wait until the API is healthy."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "simple_auth_manager_passwords.json").write_text(
            json.dumps({ADMIN_USER: self.password})
        )
        if not self.migrated:
            with self.timed("db migrate"):
                self.run_cli("db", "migrate")
        self.started_at = time.monotonic()
        for name in components:
            if name == "api-server":
                self.spawn(
                    name, ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)]
                )
            else:
                self.spawn(name, name.split())
        with self.timed("components healthy"):
            self.wait_healthy(components, timeout=timeout)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Record how long ``phase`` took in ``timings`` (printed by the tests)."""
        begin = time.monotonic()
        try:
            yield
        finally:
            self.timings[phase] = round(time.monotonic() - begin, 1)

    def stop(self) -> None:
        """Kill every component's process group (idempotent)."""
        _kill_groups([proc.pid for proc in self.processes.values()])
        for proc in self.processes.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.processes.clear()

    def check_alive(self) -> None:
        """Raise with the component's log if any component has exited."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise AirflowHarnessError(
                    f"Airflow component {name!r} exited with {proc.returncode}\n"
                    + self.component_log(name)
                )

    def component_log(self, name: str, tail: int = 6000) -> str:
        """Last ``tail`` characters of a component's output."""
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else "(no output)"
        return f"--- {name} ({path}) ---\n{text[-tail:]}"

    def diagnostics(self) -> str:
        """Tails of every component log and of every task log, for failure messages."""
        parts = [self.component_log(name, tail=3000) for name in self.processes]
        for path in sorted(self.log_dir.glob("dag_id=*/**/*.log")):
            parts.append(f"--- task log {path.relative_to(self.log_dir)} ---")
            parts.append(path.read_text(errors="replace")[-2500:])
        return "\n".join(parts)

    # ------------------------------------------------------------------ REST API v2
    def wait_healthy(self, components: Iterable[str], timeout: float = 120) -> None:
        """Wait until /api/v2/monitor/health reports every started job component healthy."""
        wanted = {
            "scheduler": "scheduler",
            "dag-processor": "dag_processor",
            "triggerer": "triggerer",
        }
        needed = [wanted[c] for c in components if c in wanted]
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                resp = httpx.get(f"{self.api_url}/api/v2/monitor/health", timeout=5)
                last = resp.json() if resp.status_code == 200 else resp.text
                if resp.status_code == 200 and all(
                    (last.get(key) or {}).get("status") == "healthy" for key in needed
                ):
                    return
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(1)
        raise AirflowHarnessError(
            f"Airflow not healthy after {timeout}s: {last}\n{self.diagnostics()}"
        )

    def token(self) -> str:
        """JWT of the admin user from the SimpleAuthManager's POST /auth/token."""
        if self._token is None:
            resp = httpx.post(
                f"{self.api_url}/auth/token",
                json={"username": ADMIN_USER, "password": self.password},
                timeout=10,
            )
            if resp.status_code != 201:
                raise AirflowHarnessError(f"POST /auth/token: {resp.status_code} {resp.text}")
            self._token = resp.json()["access_token"]
        return self._token

    def anonymous(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call ``/api/v2`` + ``path`` without a token (to check it is refused)."""
        return httpx.request(method, f"{self.api_url}/api/v2{path}", timeout=30, **kwargs)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Authenticated call to ``/api/v2`` + ``path``."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        return httpx.request(
            method, f"{self.api_url}/api/v2{path}", headers=headers, timeout=30, **kwargs
        )

    def api_json(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        """``api`` that insists on status ``expect`` and returns the JSON body."""
        resp = self.api(method, path, **kwargs)
        if resp.status_code != expect:
            raise AirflowHarnessError(
                f"{method} /api/v2{path}: expected {expect}, got {resp.status_code}: {resp.text}"
            )
        return resp.json()

    def import_errors(self) -> list[dict]:
        """DAG import errors the DAG processor recorded."""
        return self.api_json("GET", "/importErrors")["import_errors"]

    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> dict:
        """Wait until the DAG processor has serialised ``dag_id``; fail on an import error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            resp = self.api("GET", f"/dags/{dag_id}")
            if resp.status_code == 200:
                return resp.json()
            errors = self.import_errors()
            if errors:
                raise AirflowHarnessError(
                    "DAG import errors:\n"
                    + "\n".join(f"{e['filename']}: {e['stack_trace']}" for e in errors)
                )
            time.sleep(1)
        raise AirflowHarnessError(
            f"DAG {dag_id!r} not parsed after {timeout}s\n{self.diagnostics()}"
        )

    def unpause(self, dag_id: str) -> dict:
        """PATCH the DAG to unpaused, as the UI toggle does."""
        return self.api_json("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger_run(
        self,
        dag_id: str,
        logical_date: str,
        data_interval_start: str | None = None,
        data_interval_end: str | None = None,
        conf: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> dict:
        """POST a manual DAG run; without an interval the DAG's timetable infers it."""
        body: dict[str, Any] = {"logical_date": logical_date, "conf": dict(conf or {})}
        if data_interval_start and data_interval_end:
            body["data_interval_start"] = data_interval_start
            body["data_interval_end"] = data_interval_end
        if run_id:
            body["dag_run_id"] = run_id
        return self.api_json("POST", f"/dags/{dag_id}/dagRuns", expect=200, json=body)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 150) -> dict:
        """Poll the run until it succeeds or fails; return its last JSON."""
        deadline = time.monotonic() + timeout
        run: dict = {}
        while time.monotonic() < deadline:
            self.check_alive()
            run = self.api_json("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in TERMINAL_RUN_STATES:
                return run
            time.sleep(2)
        states = self.task_states(dag_id, run_id)
        raise AirflowHarnessError(
            f"run {run_id} still {run.get('state')} after {timeout}s; tasks {states}\n"
            + self.diagnostics()
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """Every task instance of the run (mapped ones included)."""
        data = self.api_json(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000}
        )
        return data["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``{task_id or task_id[label]: state}`` of the run."""
        states = {}
        for ti in self.task_instances(dag_id, run_id):
            key = ti["task_id"]
            if ti["map_index"] >= 0:
                key += f"[{ti.get('rendered_map_index') or ti['map_index']}]"
            states[key] = ti["state"]
        return states


# ---------------------------------------------------------------------- project services
REAL_DAG_ID = "bsin_monthly_feedback"


@dataclass
class ProjectServices:
    """What a run of the real DAG talks to: Forms emulator, SMTP sink, PostgreSQL warehouse."""

    env: dict[str, str]
    warehouse_dsn: str
    outbox: Path
    emulator: Any
    sink: Any
    # Values that must never show up in a log, by name: warehouse password, pseudonym key.
    secrets: dict[str, str]


@contextmanager
def project_services(tmp: Path, admin_dsn: str) -> Iterator[ProjectServices]:
    """Start the emulator on the built-in sample data, the SMTP sink and a fresh warehouse
    database; yield the ``AIRFLOW_CONN_*``/``BSIN_*`` environment Airflow needs for them.

    The connections are built by :mod:`bsin_dev.localenv`, the same code ``make airflow`` and
    the demo use, so the test exercises the configuration users get.
    """
    from bsin_dev.emulator import start_emulator
    from bsin_dev.localenv import forms_conn_uri, smtp_conn_uri
    from bsin_dev.smtp_sink import start_sink

    from bsin.core.paths import SAMPLE_DIR

    if not SAMPLE_DIR.is_dir():
        raise AirflowHarnessError(
            f"sample data {SAMPLE_DIR} missing: run `make sample-data` (bsin_dev.sample_data)"
        )
    warehouse_dsn = create_database(admin_dsn, "bsin_wh")
    outbox = tmp / "outbox"
    emulator = start_emulator(SAMPLE_DIR)
    # The SMTP server requires a login, as a provider's does: its password is a canary too.
    smtp_login, smtp_password = "bsin-mailer", f"canary-smtp-{secrets.token_hex(8)}"
    sink = start_sink(outbox, auth=(smtp_login, smtp_password))
    # A password in the warehouse connection, as production has. With the test server's
    # trust authentication PostgreSQL ignores it, so a random canary works whatever the
    # DSN; a DSN that has its own password keeps it (and that one is checked instead).
    parts = urlsplit(warehouse_dsn)
    password = parts.password or f"canary-pw-{secrets.token_hex(8)}"
    netloc = parts.netloc
    if parts.password is None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user or 'postgres'}:{password}@{host}"
    # And one in the query (libpq reads ?password= too), which lands in the extra.
    query_password = f"canary-qpw-{secrets.token_hex(8)}"
    query = "&".join(q for q in (parts.query, f"password={query_password}") if q)
    conn_dsn = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    pseudonym_key = f"canary-key-{secrets.token_hex(12)}"
    try:
        env = {
            "AIRFLOW_CONN_WAREHOUSE_DEFAULT": conn_dsn,
            "AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT": forms_conn_uri(emulator.url),
            "AIRFLOW_CONN_SMTP_DEFAULT": smtp_conn_uri(
                sink.port, login=smtp_login, password=smtp_password
            ),
            "BSIN_PSEUDONYM_KEY": pseudonym_key,
            "BSIN_DATA_DIR": str(tmp / "data"),
        }
        yield ProjectServices(
            env,
            warehouse_dsn,
            outbox,
            emulator,
            sink,
            secrets={
                "warehouse password": password,
                "warehouse password in the URI query": query_password,
                "SMTP password": smtp_password,
                "BSIN_PSEUDONYM_KEY": pseudonym_key,
            },
        )
    finally:
        emulator.stop()
        sink.stop()
        drop_database(admin_dsn, warehouse_dsn)


def month_interval(month: str) -> dict[str, str]:
    """``trigger_run`` keyword arguments for report month ``YYYY-MM``, as data staff trigger it.

    The run id names the month (``month__2023-03``) and the logical date is the month's
    first day, as for scheduled runs; no data interval is given, so the DAG's timetable
    (bsin.orchestration.timetables) must infer exactly that month.
    """
    from bsin.core.months import month_run_id, parse_month

    first = parse_month(month)
    return {"logical_date": f"{first:%Y-%m}-01T00:00:00Z", "run_id": month_run_id(first)}


def check_run_names_month(run: Mapping[str, Any], month: str) -> None:
    """Assert the run's id, logical date and data interval all say report ``month``."""
    year, mon = (int(x) for x in month.split("-"))
    end = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}-01"
    assert run["dag_run_id"] == f"month__{month}", run
    assert run["logical_date"].startswith(f"{month}-01T00:00:00"), run
    assert run["data_interval_start"].startswith(f"{month}-01T00:00:00"), run
    assert run["data_interval_end"].startswith(f"{end}T00:00:00"), run


def check_month_run(
    harness: AirflowHarness, services: ProjectServices, run_id: str, month: str
) -> list[dict]:
    """Assert what a successful run of the real DAG for ``month`` leaves behind.

    Task instances (through the API): every task succeeded, one mapped extract, harmonise
    and send_report per partner country, labelled with the country code. Warehouse
    (directly): feedback rows and indicators for the month, a delivery_log row per country.
    Outbox: one message per country. Returns the task instances for further checks.
    """
    import psycopg

    from bsin.core.config import load_partners

    countries = sorted(load_partners().countries)
    tis = harness.task_instances(REAL_DAG_ID, run_id)
    not_ok = {
        f"{t['task_id']}[{t.get('rendered_map_index') or t['map_index']}]": t["state"]
        for t in tis
        if t["state"] != "success"
    }
    assert not not_ok, f"task instances not successful: {not_ok}\n{harness.diagnostics()}"
    for task_id in ("country.extract", "country.harmonise", "send_report"):
        labels = sorted(t["rendered_map_index"] for t in tis if t["task_id"] == task_id)
        assert labels == countries, f"{task_id} mapped over {labels}, expected {countries}"
    for task_id in ("wait_for_grace_period", "prepare_warehouse", "validate", "signals"):
        assert [t["state"] for t in tis if t["task_id"] == task_id] == ["success"], task_id
    dbt_tasks = [t for t in tis if t["task_id"].startswith("build_marts.")]
    assert dbt_tasks and {t["state"] for t in dbt_tasks} == {"success"}, dbt_tasks

    first = f"{month}-01"
    with psycopg.connect(services.warehouse_dsn) as conn:
        feedback = dict(
            conn.execute(
                "select country, count(*) from feedback where feedback_month = %s group by 1",
                (first,),
            ).fetchall()
        )
        scopes = {
            r[0]
            for r in conn.execute(
                "select scope_country from indicators_monthly where month = %s", (first,)
            )
        }
        deliveries = dict(
            conn.execute(
                "select country, status from delivery_log where report_month = %s", (first,)
            ).fetchall()
        )
    assert sorted(feedback) == countries and all(n > 0 for n in feedback.values()), feedback
    assert scopes >= {*countries, "NETWORK"}, scopes
    assert sorted(deliveries) == countries, deliveries
    assert set(deliveries.values()) == {"sent"}, deliveries
    sent = sorted(services.outbox.glob(f"*_{month}.eml"))
    assert len(sent) == len(countries), [p.name for p in sent]
    return tis


def leaked_secrets(harness: AirflowHarness, named: Mapping[str, str]) -> dict[str, list[str]]:
    """``{log file: [names of the secrets found in it]}`` over every component and task log.

    Names, not values, so that a failing assertion does not print the secret once more.
    """
    found: dict[str, list[str]] = {}
    for path in harness.log_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            hits = [name for name, value in named.items() if value and value in text]
            if hits:
                found[str(path.relative_to(harness.log_dir))] = hits
    return found


# ---------------------------------------------------------------------- approval (HITL)
def approval_required_config(tmp: Path) -> Path:
    """A copy of the project's configuration folder whose programme.yaml requires approval
    of each month's reports before sending; pass it as ``BSIN_CONFIG_DIR``."""
    import shutil

    config = tmp / "config"
    shutil.copytree(PROJECT_ROOT / "include" / "config", config)
    programme = config / "programme.yaml"
    text = programme.read_text(encoding="utf-8")
    if 'approval: "off"' not in text:
        raise AirflowHarnessError(f"{programme} has no 'approval: \"off\"' to switch")
    programme.write_text(text.replace('approval: "off"', "approval: required"), encoding="utf-8")
    return config


def hitl_path(run_id: str) -> str:
    """REST API path of the approval task's human-in-the-loop details in run ``run_id``."""
    from bsin.delivery.approval import TASK_ID

    return f"/dags/{REAL_DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}/-1/hitlDetails"


def wait_for_approval_request(
    harness: AirflowHarness, run_id: str, timeout: float = 900
) -> dict[str, str | None]:
    """Wait until the run's approval task awaits input and the scheduler has seen its
    first process end; return the run's task states.

    The task defers to the triggerer while it waits, and the scheduler learns that the
    deferring process ended from an executor event. An answer that resumes the task before
    a lagging scheduler has taken that event makes it fail the resumed task ("state changed
    externally"); seen on a loaded machine when the test answered within a second, which a
    person never does. The timeout is generous: the suite's other worker shares the cores.
    """
    from bsin.delivery.approval import TASK_ID

    deadline = time.monotonic() + timeout
    states: dict[str, str | None] = {}
    event = (
        "Received executor event with state success for task instance TaskInstanceKey("
        f"dag_id='{REAL_DAG_ID}', task_id='{TASK_ID}', run_id='{run_id}'"
    )
    while time.monotonic() < deadline:
        harness.check_alive()
        states = harness.task_states(REAL_DAG_ID, run_id)
        if states.get(TASK_ID) == "awaiting_input" and event in harness.component_log(
            "scheduler", tail=10**8
        ):
            return states
        assert "failed" not in states.values(), f"{states}\n{harness.diagnostics()}"
        time.sleep(1)
    raise AirflowHarnessError(
        f"no approval request (or no executor event for it) after {timeout}s: {states}"
    )


def approval_row(services: ProjectServices, month: str) -> tuple | None:
    """``(decision, reason, decided_by)`` recorded in ``report_approval`` for ``month``."""
    import psycopg

    with psycopg.connect(services.warehouse_dsn) as conn:
        return conn.execute(
            "select decision, reason, decided_by from report_approval where report_month = %s",
            (f"{month}-01",),
        ).fetchone()


def check_no_secret_in_logs_or_mails(harness: AirflowHarness, services: ProjectServices) -> None:
    """Assert no secret reached a log (the harness runs at DEBUG for this) or an email:
    warehouse passwords (user part and ?password=), SMTP password, pseudonym key, JWT
    secret, login (issue 10, findings 5 and 6)."""
    canaries = {**services.secrets, "JWT secret": harness.jwt_secret, "login": harness.password}
    assert leaked_secrets(harness, canaries) == {}
    assert any(
        " DEBUG " in p.read_text(errors="replace") or '"debug"' in p.read_text(errors="replace")
        for p in harness.log_dir.rglob("*")
        if p.is_file()
    ), "logs were at DEBUG"
    mails = [p.read_text(errors="replace") for p in services.outbox.glob("*.eml")]
    assert not [name for name, value in canaries.items() for m in mails if value in m]
