"""`make airflow` (scripts/airflow_local.sh) with a stand-in for the `airflow` command.

The real `airflow standalone` is covered by the end-to-end tests' components; here a fake
`airflow` records the environment it was started with and whether the Forms emulator and
the SMTP sink answered, so the script's own job is checked in seconds: environment and
connections, login and URL printed, stand-ins started (or not), all stopped afterwards.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bsin.core.paths import SAMPLE_DIR
from bsin.ingest.pseudonymise import DEMO_PSEUDONYM_KEY
from tests.support.airflow_harness import PROJECT_ROOT, free_port

SCRIPT = PROJECT_ROOT / "scripts" / "airflow_local.sh"

FAKE_AIRFLOW = """#!{python}
import json, os, socket, sys

def answers(port):
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()
        return True
    except OSError:
        return False

record = {{
    "argv": sys.argv[1:],
    "env": {{k: v for k, v in os.environ.items() if k.startswith(("AIRFLOW", "BSIN"))}},
    "emulator_up": answers(os.environ["BSIN_EMULATOR_PORT"]),
    "sink_up": answers(os.environ["BSIN_SMTP_PORT"]),
}}
with open(os.environ["FAKE_AIRFLOW_RECORD"], "w") as fh:
    json.dump(record, fh)
"""


@pytest.fixture
def fake_bin(tmp_path) -> Path:
    """A folder with `python` (the venv's) and a fake `airflow` next to it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    airflow = bin_dir / "airflow"
    airflow.write_text(FAKE_AIRFLOW.format(python=sys.executable))
    airflow.chmod(0o755)
    return bin_dir


def run_script(
    tmp_path: Path, fake_bin: Path, *, expect_ok: bool = True, **extra: str
) -> tuple[str, dict]:
    """Run the script once; return its output and what the fake airflow recorded."""
    if not SAMPLE_DIR.is_dir():
        pytest.fail(f"sample data {SAMPLE_DIR} missing: run `make sample-data`")
    record = tmp_path / "record.json"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "BSIN_AIRFLOW", "BSIN_DEMO", "BSIN_PSEUDONYM_KEY"))
    }
    env.update(
        PY_BIN=str(fake_bin / "python"),
        FAKE_AIRFLOW_RECORD=str(record),
        AIRFLOW_PORT=str(free_port()),
        BSIN_EMULATOR_PORT=str(free_port()),
        BSIN_SMTP_PORT=str(free_port()),
        BSIN_AIRFLOW_HOME=str(tmp_path / "airflow_home"),
        BSIN_DATA_DIR=str(tmp_path / "data"),
        **extra,
    )
    proc = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    if not expect_ok:
        assert proc.returncode != 0 and not record.exists(), proc.stdout + proc.stderr
        return proc.stdout + proc.stderr, {}
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rec = json.loads(record.read_text())
    rec["ports"] = {k: env[k] for k in ("AIRFLOW_PORT", "BSIN_EMULATOR_PORT", "BSIN_SMTP_PORT")}
    return proc.stdout, rec


def port_closed(port: str) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", int(port))) != 0


def test_local_airflow_environment_and_stand_ins(tmp_path, fake_bin):
    out, rec = run_script(tmp_path, fake_bin, BSIN_AIRFLOW_PASSWORD="pw-for-test")
    env, ports = rec["env"], rec["ports"]

    assert rec["argv"] == ["standalone"]
    assert f"http://127.0.0.1:{ports['AIRFLOW_PORT']}" in out
    assert "login       admin / pw-for-test" in out
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(PROJECT_ROOT / "dags")
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(PROJECT_ROOT / "plugins")
    assert env["AIRFLOW__API__PORT"] == ports["AIRFLOW_PORT"]
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow_home")
    # Task processes fork from workers that imported the preload (bsin.orchestration.preload).
    assert env["AIRFLOW__SCHEDULER__MP_START_METHOD"] == "forkserver"
    assert "matplotlib.figure" in env["AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD"].split(",")
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 64
    forms = json.loads(env["AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT"])
    assert forms["extra"]["endpoint"] == f"http://127.0.0.1:{ports['BSIN_EMULATOR_PORT']}/"
    assert json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"])["port"] == int(ports["BSIN_SMTP_PORT"])
    assert env["AIRFLOW_CONN_WAREHOUSE_DEFAULT"].startswith("duckdb:///")
    # Only stand-ins: the demo, which may use the demo pseudonymisation key.
    assert env["BSIN_DEMO"] == "1" and env["BSIN_PSEUDONYM_KEY"] == DEMO_PSEUDONYM_KEY
    passwords = json.loads(
        Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text()
    )
    assert passwords == {"admin": "pw-for-test"}

    # Both stand-ins answered while Airflow ran, and are gone once the script ended.
    assert rec["emulator_up"] and rec["sink_up"]
    assert port_closed(ports["BSIN_EMULATOR_PORT"]) and port_closed(ports["BSIN_SMTP_PORT"])

    # A second start keeps the generated secrets: the same JWT secret and login.
    _, again = run_script(tmp_path, fake_bin)
    assert again["env"]["AIRFLOW__API_AUTH__JWT_SECRET"] == env["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert (
        json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())
        == passwords
    )


def test_connections_from_environment_win(tmp_path, fake_bin):
    smtp = "smtp://user:s3cret@smtp.example.org:587?from_email=reports%40bsin.example.org"
    warehouse = "postgresql://bsin:wh-s3cret@db.example.org:5432/warehouse"
    key = "Zr8-real-key-" + "x1y2z3w4v5u6t7s8r9q0"
    out, rec = run_script(
        tmp_path,
        fake_bin,
        AIRFLOW_CONN_SMTP_DEFAULT=smtp,
        AIRFLOW_CONN_WAREHOUSE_DEFAULT=warehouse,
        BSIN_PSEUDONYM_KEY=key,
    )
    # Real connections: not the demo, and the caller's key (issue 10, finding 8).
    assert "BSIN_DEMO" not in rec["env"] and rec["env"]["BSIN_PSEUDONYM_KEY"] == key
    assert rec["env"]["AIRFLOW_CONN_SMTP_DEFAULT"] == smtp
    assert rec["env"]["AIRFLOW_CONN_WAREHOUSE_DEFAULT"] == warehouse
    assert "SMTP        from AIRFLOW_CONN_SMTP_DEFAULT" in out
    assert not rec["sink_up"], "the SMTP sink must not start when a real server is configured"
    assert rec["emulator_up"]
    # The banner names the warehouse without its password.
    assert "wh-s3cret" not in out and "s3cret" not in out
    assert "postgresql://bsin:***@db.example.org:5432/warehouse" in out


@pytest.mark.parametrize("key", [None, DEMO_PSEUDONYM_KEY, "a" * 16])
def test_real_connections_never_run_with_the_demo_key(tmp_path, fake_bin, key):
    extra = {"AIRFLOW_CONN_WAREHOUSE_DEFAULT": "postgresql://bsin:pw@db.example.org/warehouse"}
    if key is not None:
        extra["BSIN_PSEUDONYM_KEY"] = key
    out, _ = run_script(tmp_path, fake_bin, expect_ok=False, **extra)
    assert "error: real connections are exported" in out
    assert "BSIN_PSEUDONYM_KEY" in out
