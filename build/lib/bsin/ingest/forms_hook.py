"""Airflow hook that builds the Google Forms API v1 client from the ``google_forms_default`` connection.

The connection's extra (JSON) holds:

``endpoint``
    optional API root, e.g. ``http://127.0.0.1:8765/`` for the local emulator
    (default ``https://forms.googleapis.com/``);
``key_json`` (alias ``keyfile_dict``) or ``key_path``
    a service-account key, as a JSON object/string or a file path; share each form with the
    service account's email (add it as a collaborator);
``token_json``
    or an authorised-user token (``refresh_token``, ``client_id``, ``client_secret``);
``num_retries``
    retries of a request on 429/5xx/connection errors (default 5);
``timeout``
    socket timeout in seconds (default 60);
``quota``
    the shared rate limit under Google's quotas (:mod:`bsin.ingest.quota`), e.g.
    ``{"store": "redis://redis:6379/1"}``; default: Google's limits x 0.9 in a local file.

Only the read-only scopes ``forms.body.readonly`` and ``forms.responses.readonly`` are asked
for. A local endpoint (127.0.0.1, localhost, ::1) without credentials gets anonymous
credentials; any other endpoint without credentials is a configuration error. Secrets are
never logged or put into error messages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from bsin.ingest.quota import QuotaConfig, build_limiter, parse_quota_config

log = logging.getLogger(__name__)

SCOPES = (
    "https://www.googleapis.com/auth/forms.body.readonly",
    "https://www.googleapis.com/auth/forms.responses.readonly",
)
DEFAULT_CONN_ID = "google_forms_default"
DEFAULT_ENDPOINT = "https://forms.googleapis.com/"
DEFAULT_NUM_RETRIES = 5
DEFAULT_TIMEOUT = 60.0
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
KNOWN_KEYS = frozenset(
    {
        "endpoint",
        "key_json",
        "keyfile_dict",
        "key_path",
        "token_json",
        "num_retries",
        "timeout",
        "emulator",
        "quota",
    }
)
_HOW = (
    "put a service-account key in the extra as key_json (or its file as key_path), or an "
    "authorised-user token as token_json; see README, 'Real Google Forms'"
)


class FormsConnectionError(ValueError):
    """The Forms connection is missing or its extra is unusable; the message says how to fix it."""


@dataclass(frozen=True)
class FormsSettings:
    """The non-secret settings of a Forms connection."""

    conn_id: str
    endpoint: str
    num_retries: int
    timeout: float
    credential_kind: str  # service_account | authorized_user | anonymous
    quota: QuotaConfig = field(default_factory=QuotaConfig)

    @property
    def is_local(self) -> bool:
        """Whether the endpoint is on this machine (the emulator)."""
        return is_local_endpoint(self.endpoint)


def is_local_endpoint(endpoint: str) -> bool:
    """True for an http(s) URL whose host is 127.0.0.1, localhost or ::1."""
    return (urlsplit(endpoint).hostname or "").lower() in LOCAL_HOSTS


def _scrub(message: str, secrets: Mapping[str, Any] | None) -> str:
    # Library errors could quote what they parsed; never let a secret value through.
    for value in (secrets or {}).values():
        if isinstance(value, str) and len(value) >= 8 and value in message:
            message = message.replace(value, "***")
    return message


def _json_object(value: Any, key: str, conn_id: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise FormsConnectionError(
                f"connection {conn_id!r}: extra {key} is not valid JSON ({exc.msg} at char "
                f"{exc.pos}); paste the downloaded JSON file's content unchanged"
            ) from None
        if isinstance(parsed, dict):
            return parsed
    raise FormsConnectionError(
        f"connection {conn_id!r}: extra {key} must be a JSON object (the key file's content)"
    )


def _number(extra: Mapping[str, Any], key: str, default: float, conn_id: str, *, integer: bool):
    value = extra.get(key, default)
    try:
        # Values from a connection URI's query string arrive as text.
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or number < 0 or (not integer and number == 0):
        kind = "a whole number >= 0" if integer else "a number of seconds > 0"
        raise FormsConnectionError(
            f"connection {conn_id!r}: extra {key} is {value!r}; write {kind}"
        ) from None
    return number


def resolve_settings(
    extra: Mapping[str, Any] | None, conn_id: str = DEFAULT_CONN_ID
) -> FormsSettings:
    """Validate a Forms connection's extra and return its non-secret settings."""
    extra = dict(extra or {})
    unknown = sorted(set(extra) - KNOWN_KEYS)
    if unknown:
        log.warning(
            "connection %r: ignoring unknown extra key(s) %s (known: %s)",
            conn_id,
            unknown,
            ", ".join(sorted(KNOWN_KEYS)),
        )
    endpoint = str(extra.get("endpoint") or DEFAULT_ENDPOINT).strip()
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FormsConnectionError(
            f"connection {conn_id!r}: extra endpoint {endpoint!r} is not an http(s) URL; "
            "write e.g. http://127.0.0.1:8765/ or leave it out for Google"
        )
    # googleapiclient joins method paths onto the endpoint with urljoin, which drops a last
    # path segment that has no trailing slash.
    endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
    given = [k for k in ("key_json", "keyfile_dict", "key_path", "token_json") if extra.get(k)]
    if len(given) > 1:
        raise FormsConnectionError(
            f"connection {conn_id!r}: extra has {', '.join(given)}; keep only one credential"
        )
    if given:
        kind = "authorized_user" if given[0] == "token_json" else "service_account"
    elif is_local_endpoint(endpoint) or str(extra.get("emulator", "")).lower() in ("true", "1"):
        # "emulator": true is the explicit opt-in for an emulator on another host, such as
        # the forms-emulator service of docker-compose; Google itself never answers without
        # credentials, so this cannot leak a real form.
        kind = "anonymous"
    else:
        raise FormsConnectionError(
            f"connection {conn_id!r} has no credentials for the Forms API at {endpoint}: {_HOW}"
        )
    return FormsSettings(
        conn_id=conn_id,
        endpoint=endpoint,
        num_retries=_number(extra, "num_retries", DEFAULT_NUM_RETRIES, conn_id, integer=True),
        timeout=_number(extra, "timeout", DEFAULT_TIMEOUT, conn_id, integer=False),
        credential_kind=kind,
        quota=_quota(extra.get("quota"), conn_id),
    )


def _quota(value: Any, conn_id: str) -> QuotaConfig:
    try:
        return parse_quota_config(value, conn_id)
    except ValueError as exc:
        raise FormsConnectionError(str(exc)) from None


def build_credentials(extra: Mapping[str, Any] | None, settings: FormsSettings) -> Any:
    """google-auth credentials for the connection, scoped read-only."""
    extra = dict(extra or {})
    conn_id = settings.conn_id
    if settings.credential_kind == "anonymous":
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    if settings.credential_kind == "authorized_user":
        from google.oauth2.credentials import Credentials

        info = _json_object(extra["token_json"], "token_json", conn_id)
        try:
            return Credentials.from_authorized_user_info(info, scopes=list(SCOPES))
        except (ValueError, KeyError) as exc:
            raise FormsConnectionError(
                f"connection {conn_id!r}: extra token_json is not an authorised-user token "
                f"({_scrub(str(exc), info)}); it needs refresh_token, client_id and client_secret"
            ) from None
    from google.oauth2 import service_account

    if extra.get("key_path"):
        path = Path(str(extra["key_path"])).expanduser()
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FormsConnectionError(
                f"connection {conn_id!r}: key_path {str(path)!r} does not exist on this worker; "
                "copy the key file there or use key_json"
            ) from None
        except (OSError, ValueError) as exc:
            raise FormsConnectionError(
                f"connection {conn_id!r}: cannot read key_path {str(path)!r} as a JSON key "
                f"({exc.__class__.__name__}); download the service account's key again"
            ) from None
        source = "key_path"
    else:
        source = "key_json" if extra.get("key_json") else "keyfile_dict"
        info = _json_object(extra[source], source, conn_id)
    if not isinstance(info, dict):
        raise FormsConnectionError(f"connection {conn_id!r}: {source} must hold a JSON object")
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
    except (ValueError, KeyError, TypeError) as exc:
        raise FormsConnectionError(
            f"connection {conn_id!r}: extra {source} is not a usable service-account key "
            f"({_scrub(str(exc), info)}); download a JSON key for the service account again"
        ) from None


def build_service(extra: Mapping[str, Any] | None = None, conn_id: str = DEFAULT_CONN_ID) -> Any:
    """The Forms v1 ``Resource`` for a connection extra (usable without Airflow, e.g. benchmarks).

    Uses the discovery document bundled with google-api-python-client (no network call) and
    an httplib2 transport with the connection's timeout.
    """
    import google_auth_httplib2
    import httplib2
    from googleapiclient.discovery import build

    settings = resolve_settings(extra, conn_id)
    credentials = build_credentials(extra, settings)
    http = google_auth_httplib2.AuthorizedHttp(
        credentials, http=httplib2.Http(timeout=settings.timeout)
    )
    limiter = build_limiter(
        settings.quota, settings.credential_kind, credentials, settings.endpoint
    )
    if limiter is not None:
        from bsin.ingest.quota import QuotaHttp

        # Below the auth layer's caller: every attempt, retries included, asks for quota.
        http = QuotaHttp(http, limiter)
    log.info(
        "Forms API at %s with %s credentials (connection %r, timeout %ss)",
        settings.endpoint,
        settings.credential_kind,
        conn_id,
        settings.timeout,
    )
    return build(
        "forms",
        "v1",
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": settings.endpoint},
    )


class FormsHook(BaseHook):
    """Builds the Google Forms API client from an Airflow connection (default ``google_forms_default``)."""

    conn_name_attr = "conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "google_cloud_platform"
    hook_name = "Google Forms (read-only)"

    def __init__(self, conn_id: str = DEFAULT_CONN_ID) -> None:
        super().__init__()
        self.conn_id = conn_id
        self._extra: dict[str, Any] | None = None
        self._settings: FormsSettings | None = None

    def _connection_extra(self) -> dict[str, Any]:
        if self._extra is None:
            try:
                conn = self.get_connection(self.conn_id)
            except Exception as exc:  # the SDK raises different types inside and outside tasks
                env = "AIRFLOW_CONN_" + self.conn_id.upper()
                raise FormsConnectionError(
                    f"Airflow connection {self.conn_id!r} not found ({exc.__class__.__name__}); "
                    f"create it in the UI or set {env}, with the extra described in "
                    "bsin.ingest.forms_hook"
                ) from None
            self._extra = dict(conn.extra_dejson or {})
        return self._extra

    @property
    def settings(self) -> FormsSettings:
        """Validated non-secret settings of the connection."""
        if self._settings is None:
            self._settings = resolve_settings(self._connection_extra(), self.conn_id)
        return self._settings

    @property
    def num_retries(self) -> int:
        """How often a request is retried (connection extra ``num_retries``, default 5)."""
        return self.settings.num_retries

    @property
    def endpoint(self) -> str:
        """API root the service talks to."""
        return self.settings.endpoint

    def get_service(self) -> Any:
        """A ``googleapiclient`` Forms v1 service for this connection."""
        return build_service(self._connection_extra(), self.conn_id)
