"""Secrets never reach logs, XCom, reports, Data Docs or the warehouse (issue 6, section 4).

One month runs through the task bodies the way Airflow runs them: every credential comes
from a connection or the environment, nothing is handed in. The warehouse is PostgreSQL
with a password in its URI query (``?password=``) and, for a resend, in its user part (the
test server trusts local users, so any password works), the SMTP server requires a login,
the Forms API is reached with a freshly generated service-account key whose OAuth token
comes from a local token endpoint, and the pseudonymisation key is in
``BSIN_PSEUDONYM_KEY``. Afterwards every log line (DEBUG and up, plus stdout/stderr), every
XCom return value, the delivered email, every Data Docs file and every text value of every
warehouse table is searched for each secret, and for every respondent email address.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from bsin_dev.localenv import smtp_conn_uri
from bsin_dev.smtp_sink import start_sink
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bsin import pipeline
from bsin.warehouse.db import Warehouse, WarehouseError
from tests.support.pipeline_harness import MONTH, PipelineHarness

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

COUNTRY = "LV"
ACCESS_TOKEN = "ya29.SECRET-access-token-" + uuid.uuid4().hex


class _TokenEndpoint(BaseHTTPRequestHandler):
    """Google's OAuth token endpoint, as far as a service account's JWT grant needs it."""

    def do_POST(self) -> None:  # noqa: N802 (stdlib naming)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(
            {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.grants += 1  # type: ignore[attr-defined]

    def log_message(self, *args) -> None:
        pass


def _service_account(token_uri: str) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "bsin-secrets-test",
        "private_key_id": uuid.uuid4().hex + "SECRETKEYID",
        "private_key": pem,
        "client_email": "bsin-reader@bsin-secrets-test.iam.gserviceaccount.com",
        "client_id": "109876543210987654321",
        "token_uri": token_uri,
    }


def _with_password(dsn: str, password: str) -> str:
    parts = urlsplit(dsn)
    netloc = f"{quote(parts.username or 'postgres')}:{quote(password)}@{parts.hostname}"
    netloc += f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=netloc).geturl()


class _Everything(logging.Handler):
    """Keeps every record, formatted with its arguments and traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def secret_run(tmp_path_factory):
    from tests.support.services import require_postgres

    root = tmp_path_factory.mktemp("secrets")
    mp = pytest.MonkeyPatch()
    token_server = HTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    token_server.grants = 0  # type: ignore[attr-defined]
    threading.Thread(target=token_server.serve_forever, daemon=True).start()
    account = _service_account(f"http://127.0.0.1:{token_server.server_port}/token")
    password = "pw-SECRET-" + uuid.uuid4().hex
    query_password = "qpw-SECRET-" + uuid.uuid4().hex
    smtp_password = "smtp-SECRET-" + uuid.uuid4().hex
    pseudonym_key = "pseudonym-SECRET-" + uuid.uuid4().hex
    schema = f"bsin_secrets_{uuid.uuid4().hex[:10]}"
    warehouse_uri = _with_password(require_postgres(), password) + f"?schema={schema}"
    # libpq also takes the password from the query (issue 10, finding 5): a second form.
    query_uri = f"{require_postgres()}?schema={schema}&password={query_password}"

    # The harness serves a copy of the sample; the run itself builds everything from env.
    h = PipelineHarness(root, backend="duckdb")
    handler = _Everything()
    root_logger = logging.getLogger()
    old_level = root_logger.level
    # The SMTP server requires a login (issue 10, finding 6: its password leaked at DEBUG).
    sink = start_sink(root / "outbox", auth=("bsin-mailer", smtp_password))
    try:
        mp.setenv("BSIN_DATA_DIR", str(root / "data"))
        mp.setenv("BSIN_PSEUDONYM_KEY", pseudonym_key)
        mp.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", query_uri)
        mp.setenv(
            "AIRFLOW_CONN_SMTP_DEFAULT",
            smtp_conn_uri(sink.port, login="bsin-mailer", password=smtp_password),
        )
        mp.setenv(
            "AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT",
            json.dumps(
                {
                    "conn_type": "google_cloud_platform",
                    "extra": {"endpoint": h.emu.url, "key_json": account, "num_retries": 1},
                }
            ),
        )
        root_logger.addHandler(handler)
        root_logger.setLevel(logging.DEBUG)
        capture = _capture_fds()
        ctx = pipeline.Context.load()
        xcoms = [
            pipeline.prepare_warehouse(MONTH, ctx),
            pipeline.extract_country(COUNTRY, MONTH, ctx),
            pipeline.harmonise_country(COUNTRY, MONTH, ctx),
            pipeline.validate_month(MONTH, ctx),
            pipeline.build_marts_for_month(MONTH, ctx),
            pipeline.send_report(COUNTRY, MONTH, ctx=ctx),
            pipeline.summarise_run(MONTH, ctx),
        ]
        # The same month's report once more over the netloc-password connection.
        mp.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", warehouse_uri)
        xcoms.append(pipeline.send_report(COUNTRY, MONTH, resend=True, ctx=pipeline.Context.load()))
        output = capture()
        wh = Warehouse.from_uri(warehouse_uri)
        report = PipelineHarness(root / "inspect", warehouse=wh, start=False)
        warehouse_text = [f"{t}.{c}: {v}" for t, c, v in report.text_values()]
        yield {
            "secrets": {
                "warehouse password": password,
                "warehouse password in the URI query": query_password,
                "SMTP password": smtp_password,
                "pseudonymisation key": pseudonym_key,
                "private key": _pem_body(account["private_key"]),
                "private key id": account["private_key_id"],
                "access token": ACCESS_TOKEN,
            },
            "grants": token_server.grants,  # type: ignore[attr-defined]
            "logs": "\n".join(handler.lines) + "\n" + output,
            "xcom": json.dumps(xcoms, default=str),
            "email": [m.path.read_bytes() for m in sink.messages],
            "data_docs": root / "data" / "gx" / "data_docs",
            "warehouse": warehouse_text,
            "wh": wh,
        }
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(old_level)
        sink.stop()
        token_server.shutdown()
        h.close()
        mp.undo()
        _drop_schema(require_postgres(), schema)


def _capture_fds():
    """Capture what is written to stdout/stderr from now on (Airflow logs to stdout)."""
    import os
    import sys
    import tempfile

    saved, files = {}, {}
    for fd in (1, 2):
        files[fd] = tempfile.TemporaryFile()
        saved[fd] = os.dup(fd)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(files[fd].fileno(), fd)

    def stop() -> str:
        sys.stdout.flush()
        sys.stderr.flush()
        text = ""
        for fd in (1, 2):
            os.dup2(saved[fd], fd)
            os.close(saved[fd])
            files[fd].seek(0)
            text += files[fd].read().decode("utf-8", "replace")
            files[fd].close()
        return text

    return stop


def _drop_schema(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {schema} cascade")


def _pem_body(pem: str) -> str:
    """A long slice of the key's base64 body: any copy of the key contains it."""
    lines = [ln for ln in pem.splitlines() if ln and not ln.startswith("-----")]
    return "".join(lines)[100:164]


def _find(secrets: dict[str, str], where: str, text: str) -> list[str]:
    return [f"{name} in {where}" for name, value in secrets.items() if value in text]


def test_the_run_really_used_every_secret(secret_run) -> None:
    assert secret_run["grants"] >= 1, "the service account's token was requested"
    wh = secret_run["wh"]
    assert wh.backend == "postgres" and "***" in repr(wh)
    assert wh.query("select count(*) from feedback")[0][0] > 0
    assert len(secret_run["email"]) == 2  # the report and its resend, through SMTP AUTH


def test_no_secret_in_logs_or_xcom(secret_run) -> None:
    secrets = secret_run["secrets"]
    logs = secret_run["logs"]
    assert "LV" in logs and len(logs) > 1000, "the logs were captured"
    leaks = _find(secrets, "logs", logs) + _find(secrets, "XCom", secret_run["xcom"])
    assert not leaks, leaks


def test_no_secret_in_the_delivered_report(secret_run) -> None:
    secrets = secret_run["secrets"]
    leaks = []
    for raw in secret_run["email"]:
        leaks += _find(secrets, "raw email", raw.decode("utf-8", "replace"))
        for part in message_from_bytes(raw, policy=policy.default).walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True) or b""
            leaks += _find(secrets, part.get_content_type(), payload.decode("utf-8", "replace"))
    assert not leaks, leaks


def test_no_secret_in_data_docs(secret_run) -> None:
    files = [p for p in Path(secret_run["data_docs"]).rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files), "Data Docs were built"
    leaks = []
    for path in files:
        leaks += _find(secret_run["secrets"], str(path.name), path.read_text("utf-8", "replace"))
    assert not leaks, leaks


def test_no_secret_and_no_respondent_email_in_the_warehouse(secret_run) -> None:
    from bsin.core.paths import SAMPLE_DIR

    text = "\n".join(secret_run["warehouse"])
    assert "raw_response.payload" in text, "every text column was dumped"
    assert not _find(secret_run["secrets"], "warehouse", text)
    emails = {
        r["respondentEmail"]
        for path in (SAMPLE_DIR / "responses").glob("*.json")
        for r in json.loads(path.read_text(encoding="utf-8"))
        if r.get("respondentEmail")
    }
    lowered = text.lower()
    assert not [e for e in emails if e.lower() in lowered]
    assert "respondentEmail" not in text


def test_debug_logging_was_on(secret_run) -> None:
    assert " DEBUG " in secret_run["logs"], "the run logged at DEBUG: the test means something"


def test_connection_errors_do_not_echo_the_password() -> None:
    password = "pw-SECRET-" + uuid.uuid4().hex
    wh = Warehouse.from_uri(f"postgresql://postgres:{password}@127.0.0.1:1/nowhere")
    assert password not in repr(wh)
    with pytest.raises(WarehouseError) as err:
        wh.query("select 1")
    assert password not in str(err.value) and "***" in str(err.value)
