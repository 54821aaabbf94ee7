#!/usr/bin/env bash
# `make airflow`: the Airflow UI on this machine with the project's DAGs, the Forms API
# emulator and the local SMTP sink.
#
# Runs `airflow standalone` (api-server, scheduler, dag-processor, triggerer; SQLite
# metadata DB and LocalExecutor in ./airflow_home) with the environment of bsin_dev.localenv.
# Connections come from the environment: an AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT,
# AIRFLOW_CONN_SMTP_DEFAULT or AIRFLOW_CONN_WAREHOUSE_DEFAULT you export yourself wins,
# and then the matching local stand-in is not started. Ctrl-C stops everything.
#
# Variables: AIRFLOW_PORT (8080), BSIN_EMULATOR_PORT (8765), BSIN_SMTP_PORT (8025),
# BSIN_AIRFLOW_PASSWORD (login password; generated once and kept in airflow_home),
# BSIN_AIRFLOW_HOME (another Airflow home than ./airflow_home).
# With only local stand-ins this is the demo (BSIN_DEMO=1, the demo pseudonymisation key);
# once any connection is exported, BSIN_PSEUDONYM_KEY must hold a real key or nothing starts.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY_BIN:-$ROOT/.venv/bin/python}
AIRFLOW=$(dirname "$PY")/airflow
AIRFLOW_PORT=${AIRFLOW_PORT:-8080}
EMULATOR_PORT=${BSIN_EMULATOR_PORT:-8765}
SMTP_PORT=${BSIN_SMTP_PORT:-8025}
# `airflow standalone` starts its components as `airflow ...` from PATH.
PATH="$(dirname "$PY"):$PATH"
export PATH
export BSIN_PROJECT_ROOT=$ROOT

port_busy() {
  "$PY" -c 'import socket, sys
s = socket.socket()
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

for port in "$AIRFLOW_PORT"; do
  if port_busy "$port"; then
    echo "error: port $port is in use (another Airflow?). Stop it or set AIRFLOW_PORT." >&2
    exit 1
  fi
done

# Which local stand-ins are needed: only for connections the caller did not provide.
start_emulator=0
start_sink=0
[[ -z "${AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT:-}" ]] && start_emulator=1
[[ -z "${AIRFLOW_CONN_SMTP_DEFAULT:-}" ]] && start_sink=1

# Environment of bsin_dev.localenv (the same the demo and the tests use); values the caller
# exported for connections are kept.
eval "$(
  START_EMULATOR=$start_emulator START_SINK=$start_sink EMULATOR_PORT=$EMULATOR_PORT \
    SMTP_PORT=$SMTP_PORT "$PY" - <<'PY'
import os
import shlex
from pathlib import Path

from bsin.orchestration.preload import local_executor_preload_environment
from bsin_dev.localenv import local_environment

home = os.environ.get("BSIN_AIRFLOW_HOME")
env = local_environment(
    Path(home).resolve() if home else None,
    forms_endpoint=f"http://127.0.0.1:{os.environ['EMULATOR_PORT']}/"
    if os.environ["START_EMULATOR"] == "1"
    else None,
    smtp_port=int(os.environ["SMTP_PORT"]) if os.environ["START_SINK"] == "1" else None,
    warehouse_uri=os.environ.get("AIRFLOW_CONN_WAREHOUSE_DEFAULT") or None,
    # Real connections mean real members: no demo key, no demo mode.
    demo=os.environ["START_EMULATOR"] == "1"
    and os.environ["START_SINK"] == "1"
    and not os.environ.get("AIRFLOW_CONN_WAREHOUSE_DEFAULT"),
)
# Task processes start from a LocalExecutor worker that already imported dbt, pandas and
# matplotlib (bsin.orchestration.preload; bsin itself is not preloaded, so edits to
# plugins/bsin reach the next task without a restart).
env.update(local_executor_preload_environment())
if env.get("BSIN_DEMO") != "1":
    from bsin.ingest.pseudonymise import PseudonymKeyError, check_key

    try:
        check_key(env.get("BSIN_PSEUDONYM_KEY", ""))
    except PseudonymKeyError as exc:
        print(f"echo {shlex.quote('error: real connections are exported: ' + str(exc))} >&2")
        print("exit 1")
for key, value in env.items():
    if key.startswith("AIRFLOW_CONN_") and os.environ.get(key):
        continue
    print(f"export {key}={shlex.quote(value)}")
PY
)"

export AIRFLOW__API__PORT=$AIRFLOW_PORT
# Only this machine reaches the UI; its SimpleAuthManager is for development.
export AIRFLOW__API__HOST=${AIRFLOW__API__HOST:-127.0.0.1}
# LocalExecutor worker processes: enough for the countries' parallel tasks on a laptop.
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-4}
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$AIRFLOW_PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$AIRFLOW_PORT/execution/"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json"
# The JWT secret must be the same for every component standalone starts; keep one per home.
mkdir -p "$AIRFLOW_HOME" "$ROOT/data/outbox"
if [[ ! -s "$AIRFLOW_HOME/jwt_secret" ]]; then
  (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(64))' >"$AIRFLOW_HOME/jwt_secret")
fi
AIRFLOW__API_AUTH__JWT_SECRET=$(cat "$AIRFLOW_HOME/jwt_secret")
export AIRFLOW__API_AUTH__JWT_SECRET

# Login: BSIN_AIRFLOW_PASSWORD, else the password generated on the first run.
PASSWORDS=$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE
(umask 077 && BSIN_AIRFLOW_PASSWORD=${BSIN_AIRFLOW_PASSWORD:-} "$PY" - "$PASSWORDS" <<'PY'
import json
import os
import secrets
import sys
from pathlib import Path

path = Path(sys.argv[1])
users = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
wanted = os.environ.get("BSIN_AIRFLOW_PASSWORD")
if wanted or "admin" not in users:
    users["admin"] = wanted or secrets.token_urlsafe(12)
    path.write_text(json.dumps(users))
PY
)
PASSWORD=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["admin"])' "$PASSWORDS")

pids=()
af_pid=
stop_airflow() {
  # SIGINT to the whole `airflow standalone` process group, as Ctrl-C would send it: the
  # components shut down gracefully. standalone itself can then hang joining its output
  # threads while a grandchild holds a pipe open, hence TERM and KILL after a while.
  local sig
  for sig in INT TERM KILL; do
    kill -"$sig" -- "-$af_pid" 2>/dev/null || return 0
    for _ in $(seq 40); do
      kill -0 -- "-$af_pid" 2>/dev/null || return 0
      sleep 0.5
    done
  done
}
cleanup() {
  trap - EXIT INT TERM
  [[ -n "$af_pid" ]] && stop_airflow
  # Then the stand-ins: only processes this script started.
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A stand-in is started once it listens on its port: Airflow's tasks call it, and on a busy
# machine its first second may not be enough. One that dies instead (bad data folder, port
# taken) stops the start-up with its log. Arguments: pid, port, name, log.
check_started() {
  local _
  for _ in $(seq 300); do
    if ! kill -0 "$1" 2>/dev/null; then
      echo "error: $3 did not start:" >&2
      tail -n 20 "$4" >&2
      exit 1
    fi
    port_busy "$2" && return 0
    sleep 0.1
  done
  echo "error: $3 not listening on port $2 after 30 s:" >&2
  tail -n 20 "$4" >&2
  exit 1
}

LOGS=$AIRFLOW_HOME/logs
mkdir -p "$LOGS"
if ((start_emulator)); then
  port_busy "$EMULATOR_PORT" && { echo "error: port $EMULATOR_PORT busy; set BSIN_EMULATOR_PORT" >&2; exit 1; }
  "$PY" -m bsin_dev.emulator --data "$ROOT/include/sample/emulator" --port "$EMULATOR_PORT" \
    >"$LOGS/emulator.log" 2>&1 &
  pids+=($!)
  check_started $! "$EMULATOR_PORT" "the Forms emulator (python -m bsin_dev.emulator)" "$LOGS/emulator.log"
fi
if ((start_sink)); then
  port_busy "$SMTP_PORT" && { echo "error: port $SMTP_PORT busy; set BSIN_SMTP_PORT" >&2; exit 1; }
  "$PY" -m bsin_dev.smtp_sink --outbox "$ROOT/data/outbox" --port "$SMTP_PORT" \
    >"$LOGS/smtp_sink.log" 2>&1 &
  pids+=($!)
  check_started $! "$SMTP_PORT" "the SMTP sink (python -m bsin_dev.smtp_sink)" "$LOGS/smtp_sink.log"
fi

cat <<EOF

  Baltic Sea Impact Network: local Airflow
  ----------------------------------------
  UI          http://127.0.0.1:$AIRFLOW_PORT   (DAG: bsin_monthly_feedback)
  login       admin / $PASSWORD
  AIRFLOW_HOME $AIRFLOW_HOME
  Forms API   $( ((start_emulator)) && echo "emulator on http://127.0.0.1:$EMULATOR_PORT/ (log: $LOGS/emulator.log)" || echo "from AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT")
  SMTP        $( ((start_sink)) && echo "sink on 127.0.0.1:$SMTP_PORT, messages in data/outbox/" || echo "from AIRFLOW_CONN_SMTP_DEFAULT")
  warehouse   $(sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"${AIRFLOW_CONN_WAREHOUSE_DEFAULT%%\?*}")

  Trigger a month: the UI's Trigger button with logical date = the month's first day
  (2023-03-01) and run id month__2023-03, or see docs/operations.md.
  Ctrl-C stops Airflow and the local services.

EOF

# Job control puts standalone into a process group of its own (the ID is its PID), so
# that cleanup can signal all of its components at once.
set -m
"$AIRFLOW" standalone &
af_pid=$!
set +m
wait "$af_pid"
