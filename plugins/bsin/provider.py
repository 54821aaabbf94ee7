"""Provider info: tells Airflow about the project's connection type, ``google_forms``.

Airflow discovers providers through the ``apache_airflow_provider`` entry point of installed
distributions (pyproject.toml: ``bsin.provider:get_provider_info``); ``ProvidersManager``
then lists ``google_forms`` among the connection types with the hook that serves it, and the
UI's connection form shows the fields below. Since Airflow 3.2 the form is declared here
(``conn-fields``, ``ui-field-behaviour``) rather than by the hook's deprecated
``get_connection_form_widgets``/``get_ui_field_behaviour``, so the UI needs no import of the
hook. Keep this module free of heavy imports: every Airflow component loads it.
"""

from __future__ import annotations

from typing import Any

PACKAGE_NAME = "bsin-feedback-pipeline"
FORMS_CONN_TYPE = "google_forms"
FORMS_HOOK = "bsin.ingest.forms_hook.FormsHook"
FORMS_HOOK_NAME = "Google Forms (read-only)"

#: Fields of the Forms connection, stored in its extra under these names.
FORMS_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "endpoint": {
        "label": "API endpoint",
        "description": "Leave empty for Google (https://forms.googleapis.com/); "
        "http://127.0.0.1:8765/ for the local emulator.",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "keyfile_dict": {
        "label": "Service-account key (JSON)",
        "description": "The content of the service account's JSON key file. Share each form "
        "with the account's email.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "key_path": {
        "label": "Service-account key file path",
        "description": "Or: the key file's path on every worker.",
        "schema": {"type": ["string", "null"]},
    },
    "token_json": {
        "label": "Authorised-user token (JSON)",
        "description": "Or: a token with refresh_token, client_id and client_secret.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "num_retries": {
        "label": "Retries",
        "description": "Retries of a request on HTTP 429/5xx, timeouts and refused connections.",
        "schema": {"type": ["integer", "null"], "minimum": 0, "default": 5},
    },
    "timeout": {
        "label": "Timeout (s)",
        "description": "Socket timeout of one request, in seconds.",
        "schema": {"type": ["number", "null"], "minimum": 0, "default": 60},
    },
    "emulator": {
        "label": "Emulator on another host",
        "description": "Allow anonymous access to a non-local endpoint (the docker-compose "
        "emulator); a local endpoint never needs it.",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
    "quota": {
        "label": "Quota (JSON)",
        "description": 'Shared rate limit, e.g. {"store": "redis://redis:6379/1"}; empty: '
        "Google's limits x 0.9 in a local file (docs/operations.md, 'API quotas').",
        "schema": {"type": ["string", "null"], "format": "json"},
    },
}

#: The standard fields a Forms connection does not use are hidden.
FORMS_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["host", "port", "login", "password", "schema"],
    "relabeling": {},
    "placeholders": {},
}


def get_provider_info() -> dict[str, Any]:
    """The provider info Airflow reads from the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "BSIN feedback pipeline",
        "description": "Hooks of the Baltic Sea Impact Network feedback pipeline.",
        "versions": ["0.1.0"],
        "connection-types": [
            {
                "connection-type": FORMS_CONN_TYPE,
                "hook-class-name": FORMS_HOOK,
                "hook-name": FORMS_HOOK_NAME,
                "conn-fields": FORMS_CONN_FIELDS,
                "ui-field-behaviour": FORMS_UI_FIELD_BEHAVIOUR,
            }
        ],
    }
