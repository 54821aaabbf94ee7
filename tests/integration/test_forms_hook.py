"""FormsHook: connection extra -> credentials, endpoint, retries; clear errors; no secrets in logs."""

from __future__ import annotations

import json
import logging

import pytest
from bsin_dev.emulator import start_emulator
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bsin.core.paths import SAMPLE_DIR
from bsin.ingest.forms_hook import (
    SCOPES,
    FormsConnectionError,
    FormsHook,
    build_credentials,
    build_service,
    resolve_settings,
)

SE_MONTHLY = "1K4Nh0Ob3N6eHfVKZi1H4vbgD91ionX5JeP3Ga3rdd1P"


@pytest.fixture(scope="module")
def service_account_info() -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "bsin-test",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": "bsin-reader@bsin-test.iam.gserviceaccount.com",
        "client_id": "123456789012345678901",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


TOKEN = {
    "refresh_token": "1//refresh-token-secret-value",
    "client_id": "client-id.apps.googleusercontent.com",
    "client_secret": "client-secret-value-xyz",
    "type": "authorized_user",
}


@pytest.fixture(scope="module")
def emulator():
    handle = start_emulator(SAMPLE_DIR)
    yield handle
    handle.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_local_endpoint_without_credentials_is_anonymous(host):
    settings = resolve_settings({"endpoint": f"http://{host}:8765"})
    assert settings.credential_kind == "anonymous" and settings.is_local
    assert settings.endpoint == f"http://{host}:8765/"  # trailing slash for urljoin
    from google.auth.credentials import AnonymousCredentials

    assert isinstance(build_credentials({}, settings), AnonymousCredentials)


@pytest.mark.parametrize(
    "extra",
    [{}, {"endpoint": "https://forms.googleapis.com/"}, {"endpoint": "http://10.0.0.5:8765/"}],
)
def test_remote_endpoint_without_credentials_is_a_clear_error(extra):
    with pytest.raises(FormsConnectionError) as err:
        resolve_settings(extra, "google_forms_default")
    msg = str(err.value)
    assert "'google_forms_default'" in msg and "key_json" in msg and "token_json" in msg


def test_defaults_and_uri_style_strings():
    s = resolve_settings({"endpoint": "http://127.0.0.1:1/", "num_retries": "2", "timeout": "7.5"})
    assert (s.num_retries, s.timeout) == (2, 7.5)
    d = resolve_settings({"endpoint": "http://127.0.0.1:1/"})
    assert (d.num_retries, d.timeout) == (5, 60.0)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"endpoint": "ftp://127.0.0.1/"}, "endpoint"),
        ({"endpoint": "http://127.0.0.1/", "num_retries": "many"}, "num_retries"),
        ({"endpoint": "http://127.0.0.1/", "num_retries": -1}, "num_retries"),
        ({"endpoint": "http://127.0.0.1/", "timeout": 0}, "timeout"),
        ({"key_json": "{}", "token_json": "{}"}, "only one"),
    ],
)
def test_bad_extra_names_the_key(extra, needle):
    with pytest.raises(FormsConnectionError, match=needle):
        resolve_settings(extra, "my_forms")


def test_service_account_key_as_dict_string_and_path(service_account_info, tmp_path):
    from google.oauth2 import service_account

    path = tmp_path / "key.json"
    path.write_text(json.dumps(service_account_info))
    for extra in (
        {"key_json": service_account_info},
        {"key_json": json.dumps(service_account_info)},
        {"keyfile_dict": service_account_info},
        {"key_path": str(path)},
    ):
        settings = resolve_settings(extra)
        creds = build_credentials(extra, settings)
        assert settings.credential_kind == "service_account"
        assert isinstance(creds, service_account.Credentials)
        assert tuple(creds.scopes) == SCOPES
        assert creds.service_account_email == service_account_info["client_email"]


def test_authorised_user_token(service_account_info):
    from google.oauth2.credentials import Credentials

    extra = {"token_json": json.dumps(TOKEN)}
    creds = build_credentials(extra, resolve_settings(extra))
    assert isinstance(creds, Credentials) and tuple(creds.scopes) == SCOPES


def test_broken_credentials_never_echo_secrets(service_account_info, tmp_path):
    broken = dict(service_account_info, private_key="-----BEGIN PRIVATE KEY-----\nnot-a-key\n")
    del broken["token_uri"]
    cases = [
        {"key_json": broken},
        {"key_json": "{not json"},
        {"key_path": str(tmp_path / "missing.json")},
        {"token_json": {"client_id": "x", "client_secret": "client-secret-value-xyz"}},
    ]
    for extra in cases:
        with pytest.raises(FormsConnectionError) as err:
            build_credentials(extra, resolve_settings(extra, "forms_conn"))
        msg = str(err.value)
        assert "'forms_conn'" in msg
        assert "PRIVATE KEY" not in msg and "not-a-key" not in msg
        assert "client-secret-value-xyz" not in msg


def test_build_service_talks_to_the_emulator(emulator):
    service = build_service({"endpoint": emulator.url, "timeout": 5})
    form = service.forms().get(formId=SE_MONTHLY).execute(num_retries=0)
    assert form["formId"] == SE_MONTHLY
    request = service.forms().responses().list(formId=SE_MONTHLY, pageSize=3)
    assert request.uri.startswith(emulator.url + "v1/forms/")
    http = service._http  # the transport must carry the configured timeout
    assert http.http.timeout == 5


def test_hook_reads_the_airflow_connection(monkeypatch, emulator, caplog, service_account_info):
    conn = {"conn_type": "generic", "extra": {"endpoint": emulator.url, "num_retries": 2}}
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT", json.dumps(conn))
    hook = FormsHook()
    assert hook.conn_id == "google_forms_default" and hook.num_retries == 2
    assert hook.endpoint == emulator.url
    with caplog.at_level(logging.INFO, logger="bsin.ingest.forms_hook"):
        service = hook.get_conn()
    assert service.forms().get(formId=SE_MONTHLY).execute()["revisionId"]
    assert "anonymous" in caplog.text

    # A key in the connection must not reach the log.
    secret_conn = {
        "conn_type": "generic",
        "extra": {"endpoint": emulator.url, "key_json": service_account_info},
    }
    monkeypatch.setenv("AIRFLOW_CONN_FORMS_WITH_KEY", json.dumps(secret_conn))
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        FormsHook("forms_with_key").get_conn()
    assert "service_account" in caplog.text
    assert (
        "PRIVATE KEY" not in caplog.text
        and service_account_info["private_key_id"] not in caplog.text
    )


def test_missing_connection_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_FORMS_CONN", raising=False)
    with pytest.raises(FormsConnectionError) as err:
        FormsHook("no_such_forms_conn").get_conn()
    assert "'no_such_forms_conn'" in str(err.value)
    assert "AIRFLOW_CONN_NO_SUCH_FORMS_CONN" in str(err.value)


def test_uri_style_connection(monkeypatch, emulator):
    from urllib.parse import quote

    uri = f"google-forms://?endpoint={quote(emulator.url, safe='')}&num_retries=3&timeout=9"
    monkeypatch.setenv("AIRFLOW_CONN_FORMS_BY_URI", uri)
    hook = FormsHook("forms_by_uri")
    assert (hook.endpoint, hook.num_retries, hook.settings.timeout) == (emulator.url, 3, 9.0)
    assert hook.get_conn().forms().get(formId=SE_MONTHLY).execute()["formId"] == SE_MONTHLY


def test_remote_emulator_needs_the_explicit_opt_in():
    from bsin.ingest.forms_hook import FormsConnectionError, resolve_settings

    with pytest.raises(FormsConnectionError, match="no credentials"):
        resolve_settings({"endpoint": "http://forms-emulator:8765/"})
    settings = resolve_settings({"endpoint": "http://forms-emulator:8765/", "emulator": True})
    assert settings.credential_kind == "anonymous"
    assert settings.endpoint == "http://forms-emulator:8765/"


# ---------------------------------------------------------------- provider conventions


def test_connection_type_is_registered_with_airflow():
    """The entry point in pyproject.toml makes google_forms a connection type of Airflow's.

    Tasks find the hook through the task SDK's providers manager; the API server's (core)
    one serves the connection form.
    """
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    pm = ProvidersManager()
    assert "bsin-feedback-pipeline" in pm.providers
    info = ProvidersManagerTaskRuntime().hooks["google_forms"]
    assert info is not None
    assert info.hook_class_name == "bsin.ingest.forms_hook.FormsHook"
    assert (info.connection_id_attribute_name, info.hook_name) == (
        "forms_conn_id",
        "Google Forms (read-only)",
    )
    assert info.connection_testable
    # Connection.get_hook() of a google_forms connection is a FormsHook on it.
    from airflow.sdk import Connection

    hook = Connection(conn_id="forms_by_type", conn_type="google_forms").get_hook()
    assert isinstance(hook, FormsHook) and hook.conn_id == "forms_by_type"
    # The UI's form: the key fields are sensitive (shown as passwords, masked in the API).
    widgets = pm.connection_form_widgets
    assert widgets["extra__google_forms__keyfile_dict"].is_sensitive
    assert widgets["extra__google_forms__token_json"].is_sensitive
    assert not widgets["extra__google_forms__endpoint"].is_sensitive
    assert "login" in pm.field_behaviours["google_forms"]["hidden_fields"]


def test_ui_fields_are_keys_the_hook_reads():
    from bsin.ingest.forms_connection import KNOWN_KEYS
    from bsin.provider import FORMS_CONN_FIELDS, get_provider_info

    assert set(FORMS_CONN_FIELDS) <= KNOWN_KEYS
    (conn_type,) = get_provider_info()["connection-types"]
    assert (conn_type["connection-type"], FormsHook.conn_type) == ("google_forms", "google_forms")
    assert FormsHook.default_conn_name == "google_forms_default"


def test_get_conn_is_built_once_per_hook(monkeypatch, emulator):
    conn = {"conn_type": "google_forms", "extra": {"endpoint": emulator.url}}
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT", json.dumps(conn))
    hook = FormsHook()
    service = hook.get_conn()
    assert hook.get_conn() is service
    assert FormsHook().get_conn() is not service  # a new hook, a new service


def test_hook_methods_call_the_api(monkeypatch, emulator):
    conn = {"conn_type": "google_forms", "extra": {"endpoint": emulator.url, "num_retries": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_FORMS_DEFAULT", json.dumps(conn))
    hook = FormsHook()
    assert hook.get_form(SE_MONTHLY)["formId"] == SE_MONTHLY
    responses = list(hook.iter_responses(SE_MONTHLY, None))
    assert responses
    assert hook.list_response_ids(SE_MONTHLY, None) == {r["responseId"] for r in responses}
    pages = list(hook.iter_response_pages(SE_MONTHLY, None, page_size=2))
    assert [r for page in pages for r in page] == responses and len(pages) > 1
    from bsin.ingest.forms_client import FormsApiError

    with pytest.raises(FormsApiError, match="not found"):
        hook.get_form("no-such-form")


def test_extra_as_the_ui_form_stores_it(monkeypatch, emulator):
    """Every field saved, empty ones as "" or null, possibly prefixed: empty means unset."""
    extra = {
        "endpoint": emulator.url,
        "keyfile_dict": "",
        "key_path": None,
        "token_json": "",
        "num_retries": None,
        "extra__google_forms__timeout": 7,
        "emulator": False,
        "quota": "",
    }
    monkeypatch.setenv(
        "AIRFLOW_CONN_FORMS_FROM_UI", json.dumps({"conn_type": "google_forms", "extra": extra})
    )
    hook = FormsHook("forms_from_ui")
    s = hook.settings
    assert (s.credential_kind, s.num_retries, s.timeout) == ("anonymous", 5, 7.0)
    assert hook.test_connection() == (True, f"anonymous credentials for {emulator.url}")


def test_test_connection_reports_what_is_missing(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_FORMS_NO_KEY", json.dumps({"conn_type": "google_forms"}))
    ok, message = FormsHook("forms_no_key").test_connection()
    assert not ok and "no credentials" in message and "keyfile_dict" in message


@pytest.mark.parametrize("field", ["key_json", "keyfile_dict", "key_path"])
def test_the_key_is_masked_however_it_is_given(monkeypatch, tmp_path, field, service_account_info):
    """Airflow masks keyfile_dict by name; key_json pasted as text and key_path it cannot see."""
    from airflow.sdk._shared.secrets_masker import redact

    info = dict(service_account_info, private_key_id="keyid-SECRET-" + field)
    value = json.dumps(info)
    if field == "key_path":
        path = tmp_path / "key.json"
        path.write_text(value)
        value = str(path)
    conn = {"conn_type": "google_forms", "extra": {"endpoint": "https://x.test/", field: value}}
    monkeypatch.setenv("AIRFLOW_CONN_FORMS_MASKED", json.dumps(conn))
    hook = FormsHook("forms_masked")
    assert hook.test_connection()[0]
    line = f"leak {info['private_key']} {info['private_key_id']}"
    assert "PRIVATE KEY" not in redact(line) and info["private_key_id"] not in redact(line)
