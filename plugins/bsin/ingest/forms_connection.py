"""The Forms connection's extra: its non-secret settings and its google-auth credentials.

The keys are described in :mod:`bsin.ingest.forms_hook`; the UI's form for them is declared
in :mod:`bsin.provider`. Everything here works on a plain mapping, so tests, benchmarks and
tools use it without an Airflow connection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bsin.ingest.quota import QuotaConfig, parse_quota_config
from bsin.provider import FORMS_CONN_TYPE

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
CREDENTIAL_KEYS = ("keyfile_dict", "key_json", "key_path", "token_json")
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
    "put a service-account key in the extra as keyfile_dict or key_json (or its file as "
    "key_path), or an authorised-user token as token_json; see README, 'Real Google Forms'"
)
# What the UI's connection form may prefix to a field's key in the extra (Airflow 2 style).
_UI_PREFIX = f"extra__{FORMS_CONN_TYPE}__"
# Values of a key file or token that are secret, handed to Airflow's secret masker.
_SECRET_FIELDS = ("private_key", "private_key_id", "client_secret", "refresh_token", "token")


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


def normalise_extra(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The extra with UI-prefixed keys unprefixed and empty fields (``""``, null) dropped.

    The UI's connection form stores every field, empty or not; an empty field means "not
    set", exactly like a key left out of a hand-written extra.
    """
    out = {}
    for key, value in (extra or {}).items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        out[key.removeprefix(_UI_PREFIX)] = value
    return out


def _mask(info: Mapping[str, Any]) -> None:
    # Airflow masks extra values under names it knows to be secret (keyfile_dict, *token*,
    # a nested private_key), but not a key file pasted as a string under key_json or read
    # from key_path: the key's secret values are registered here, whatever the source.
    from airflow.sdk.log import mask_secret

    for name in _SECRET_FIELDS:
        value = info.get(name)
        if isinstance(value, str) and value:
            mask_secret(value)


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
    extra = normalise_extra(extra)
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
    given = [k for k in CREDENTIAL_KEYS if extra.get(k)]
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
    extra = normalise_extra(extra)
    conn_id = settings.conn_id
    if settings.credential_kind == "anonymous":
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    if settings.credential_kind == "authorized_user":
        from google.oauth2.credentials import Credentials

        info = _json_object(extra["token_json"], "token_json", conn_id)
        _mask(info)
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
    _mask(info)
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
    except (ValueError, KeyError, TypeError) as exc:
        raise FormsConnectionError(
            f"connection {conn_id!r}: extra {source} is not a usable service-account key "
            f"({_scrub(str(exc), info)}); download a JSON key for the service account again"
        ) from None
