"""The docker-compose deployment: validated by Debian's docker-compose and checked for shape.

Docker itself does not run here, so the file is proven in two ways: ``docker-compose
config -q`` (the real parser, interpolation and schema) when the binary is installed,
and structural assertions over the YAML that hold whatever the binary.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.env_example import ENV_EXAMPLE, env_example
from tests.support.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}
# `${NAME:?message}` makes docker-compose refuse to run without the value.
REQUIRED_VAR = re.compile(r"\$\{([A-Z0-9_]+):\?[^}]*\}")
ANY_VAR = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|PSEUDONYM_KEY|TOKEN")


@pytest.fixture(scope="module")
def compose() -> dict:
    """The compose file as PyYAML reads it (anchors and ``<<`` merges resolved)."""
    return yaml.safe_load(COMPOSE.read_text())


def mount(volume: str) -> tuple[str, str]:
    """``(host, container)`` of a short-syntax volume, defaults of ``${X:-d}`` applied."""
    plain = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", volume)
    host, container = plain.split(":")[:2]
    return host, container


def compose_text() -> str:
    """The compose file without its comments (they mention variables as examples)."""
    return "\n".join(
        line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#")
    )


def docker_compose(*args: str, env_file: Path) -> subprocess.CompletedProcess:
    """Run docker-compose on the project's file with a clean environment."""
    binary = shutil.which("docker-compose")
    if binary is None:
        unavailable("docker-compose not installed (Debian: apt-get install docker-compose)")
    return subprocess.run(
        [binary, "--project-directory", str(ROOT), "-f", str(COMPOSE)]
        + ["--env-file", str(env_file), *args],
        # No variables of the calling shell: only the env file may supply values.
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_docker_compose_config_validates():
    proc = docker_compose("config", "-q", env_file=ENV_EXAMPLE)
    assert proc.returncode == 0, proc.stderr
    profiles = docker_compose("--profile", "local", "config", "--services", env_file=ENV_EXAMPLE)
    assert profiles.returncode == 0, profiles.stderr
    assert {"forms-emulator", "smtp-sink"} <= set(profiles.stdout.split())


def test_docker_compose_refuses_to_run_without_secrets(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    proc = docker_compose("config", "-q", env_file=empty)
    assert proc.returncode != 0
    assert "in .env" in proc.stderr, proc.stderr


def test_resolved_config_shares_one_jwt_secret():
    proc = docker_compose("config", env_file=ENV_EXAMPLE)
    assert proc.returncode == 0, proc.stderr
    services = yaml.safe_load(proc.stdout)["services"]
    secrets = {
        name: services[name]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"]
        for name in AIRFLOW_SERVICES
    }
    assert set(secrets.values()) == {env_example()["AIRFLOW_JWT_SECRET"]}, secrets


def test_services_and_profiles(compose):
    services = compose["services"]
    assert AIRFLOW_SERVICES | {"postgres", "redis"} <= set(services)
    for name, profile in {
        "forms-emulator": "local",
        "smtp-sink": "local",
        "flower": "flower",
    }.items():
        assert services[name]["profiles"] == [profile], name
    for name in AIRFLOW_SERVICES | {"postgres", "redis"}:
        assert "profiles" not in services[name], f"{name} must start by default"
    assert "bsin_dev.emulator" in services["forms-emulator"]["command"]
    assert "bsin_dev.smtp_sink" in services["smtp-sink"]["command"]


def test_airflow_services_use_common_anchor(compose):
    raw = COMPOSE.read_text()
    common = compose["x-airflow-common"]
    assert common["build"] == {"context": ".", "target": "runtime"}
    assert raw.count("<<: *airflow-common\n") >= len(AIRFLOW_SERVICES)
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        assert service["image"] == common["image"], name
        assert service["volumes"] == common["volumes"], name
        for key, value in common["environment"].items():
            assert service["environment"][key] == value, f"{name}: {key}"
    mounts = {mount(v)[1] for v in common["volumes"]}
    assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts


def test_celery_postgres_redis_wiring(compose):
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert "@redis:6379/" in env["AIRFLOW__CELERY__BROKER_URL"]
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
    assert (
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    )
    assert env["AIRFLOW_CONN_WAREHOUSE_DEFAULT"].startswith("postgresql://")
    assert "@postgres:5432/" in env["AIRFLOW_CONN_WAREHOUSE_DEFAULT"]
    for var in (
        "AIRFLOW_CONN_SMTP_DEFAULT",
        "AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT",
        "BSIN_PSEUDONYM_KEY",
    ):
        assert REQUIRED_VAR.fullmatch(env[var]), f"{var} must come from .env"
    worker = compose["services"]["airflow-worker"]
    assert worker["command"] == "celery worker"
    assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_celery_workers_preload_what_task_processes_import(compose):
    """Each worker imports and freezes dbt, Cosmos, pandas and matplotlib once, before it
    forks (bsin.orchestration.preload), with the setting the Celery end-to-end test runs
    with (tests/e2e/test_celery_e2e.py)."""
    from tests.support.airflow_harness import CELERY_CONFIG_OPTIONS

    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == CELERY_CONFIG_OPTIONS
    assert CELERY_CONFIG_OPTIONS.startswith("bsin.")  # the runtime package, in the image


def test_postgres_creates_the_warehouse_database(compose):
    postgres = compose["services"]["postgres"]
    init_mount = next(v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v)
    host_dir = ROOT / mount(init_mount)[0]
    scripts = sorted(host_dir.glob("*.sh"))
    assert scripts, f"no init script in {host_dir}"
    text = scripts[0].read_text()
    assert "CREATE DATABASE" in text and "CREATE ROLE" in text
    assert os.access(scripts[0], os.X_OK), f"{scripts[0]} must be executable"


def test_healthchecks_and_start_order(compose):
    services = compose["services"]
    for name, service in services.items():
        if name in {"airflow-init", "airflow-cli"}:
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        deps = services[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == "service_healthy", name


def test_no_secret_inline(compose):
    """Every secret is a `${VAR:?...}` reference to .env, never a literal value."""
    offenders = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and SECRET_NAME.search(str(key)):
                    if not REQUIRED_VAR.fullmatch(value) and "_FILE" not in str(key):
                        offenders.append(f"{where}.{key}")
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}[{i}]")
        elif isinstance(node, str):
            # user:password@host in a URL: the password part must be a variable.
            for match in re.finditer(r"://[^:/@\s]*:([^@\s]+)@", node):
                if match.group(1) and not REQUIRED_VAR.fullmatch(match.group(1)):
                    offenders.append(f"{where}: {node}")

    walk(compose, "compose")
    assert not offenders, offenders


def test_published_ports_listen_on_loopback_unless_told_otherwise(compose):
    """Every published port binds ``${BSIN_BIND_ADDRESS:-127.0.0.1}`` (issue 10, finding 15)."""
    published = {
        name: port
        for name, service in compose["services"].items()
        for port in service.get("ports", [])
    }
    assert "airflow-apiserver" in published, "the UI is published"
    for name, port in published.items():
        assert isinstance(port, str), f"{name}: write ports as HOST_IP:HOST_PORT:PORT text"
        assert port.startswith("${BSIN_BIND_ADDRESS:-127.0.0.1}:"), (name, port)
    assert env_example()["BSIN_BIND_ADDRESS"] == "127.0.0.1"


def test_resolved_ports_bind_the_configured_address(tmp_path):
    env = tmp_path / "open.env"
    env.write_text(
        ENV_EXAMPLE.read_text().replace(
            "BSIN_BIND_ADDRESS=127.0.0.1", "BSIN_BIND_ADDRESS=192.0.2.7"
        )
    )
    for env_file, address in ((ENV_EXAMPLE, "127.0.0.1"), (env, "192.0.2.7")):
        proc = docker_compose("config", env_file=env_file)
        assert proc.returncode == 0, proc.stderr
        ports = yaml.safe_load(proc.stdout)["services"]["airflow-apiserver"]["ports"]
        assert [p["host_ip"] if isinstance(p, dict) else p.split(":")[0] for p in ports] == [
            address
        ]


def test_env_example_covers_every_variable():
    text = compose_text()
    required = set(REQUIRED_VAR.findall(text))
    documented = env_example()
    assert required <= set(documented), sorted(required - set(documented))
    # Optional variables with defaults are documented too, so .env.example is the full list.
    assert set(ANY_VAR.findall(text)) - {"AIRFLOW_UID"} <= set(documented) | {
        "BSIN_PROJECT_DIR",
        "BSIN_SECRETS_DIR",
    }
    for key in documented:
        if SECRET_NAME.search(key):
            assert "change-me" in documented[key], f"{key} in .env.example must be a placeholder"


def test_env_file_is_not_committed():
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", ".env"], cwd=ROOT, capture_output=True
    )
    assert tracked.returncode != 0, ".env is tracked by git"


def test_dockerfile_builds_on_the_pinned_airflow():
    text = DOCKERFILE.read_text()
    pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned, "requirements.txt pins apache-airflow"
    assert re.search(
        rf"^FROM apache/airflow:{re.escape(pinned.group(1))}-python3\.11 AS runtime$", text, re.M
    )
    assert re.search(r"^COPY requirements\.txt ", text, re.M)
    assert re.search(r"pip install .*-r /requirements\.txt", text)


def test_production_image_has_no_development_tooling(compose):
    """The runtime stage installs requirements.txt only; the emulator and SMTP sink get the
    local-tools stage, which adds aiosmtpd from requirements-dev.txt (issue 13)."""
    text = DOCKERFILE.read_text()
    runtime = text.split("FROM runtime AS local-tools")[0]
    assert "requirements-dev" not in runtime
    runtime_pins = (ROOT / "requirements.txt").read_text()
    for tool in ("pytest", "ruff", "hypothesis", "aiosmtpd"):
        assert not re.search(rf"^{tool}==", runtime_pins, re.M), tool
    assert re.search(r"^FROM runtime AS local-tools$", text, re.M)
    services = compose["services"]
    for name in ("forms-emulator", "smtp-sink"):
        assert services[name]["build"]["target"] == "local-tools", name
    for name, svc in services.items():
        if name.startswith("airflow"):
            assert svc["build"]["target"] == "runtime", name
