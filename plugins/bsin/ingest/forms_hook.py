"""Airflow hook for the Google Forms API v1: connection type ``google_forms``.

The hook follows the providers' conventions: its own connection type (registered with
Airflow through the provider info in :mod:`bsin.provider`, which also declares the UI's
connection form), ``default_conn_name`` ``google_forms_default``, a cached :meth:`FormsHook.get_conn`
returning the ``googleapiclient`` Forms service, and the API calls as hook methods
(:meth:`~FormsHook.get_form`, :meth:`~FormsHook.iter_responses` ...). It is a ``BaseHook``,
not a ``GoogleBaseHook``: apache-airflow-providers-google would add about 115 packages
(README, "Why FormsHook is not a GoogleBaseHook"), so the credentials are google-auth's,
loaded by :mod:`bsin.ingest.forms_connection` with only what a Forms reader needs.

The connection's extra (JSON; the UI shows each key as a field) holds:

``endpoint``
    optional API root, e.g. ``http://127.0.0.1:8765/`` for the local emulator
    (default ``https://forms.googleapis.com/``);
``keyfile_dict`` (alias ``key_json``) or ``key_path``
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
never logged or put into error messages, and the key's secret values are handed to
Airflow's secret masker however the key was given.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from airflow.sdk import BaseHook

from bsin.ingest.forms_connection import (
    DEFAULT_CONN_ID,
    SCOPES,
    FormsConnectionError,
    FormsSettings,
    build_credentials,
    is_local_endpoint,
    normalise_extra,
    resolve_settings,
)
from bsin.ingest.quota import build_limiter
from bsin.provider import FORMS_CONN_TYPE, FORMS_HOOK_NAME

__all__ = [
    "DEFAULT_CONN_ID",
    "SCOPES",
    "FormsConnectionError",
    "FormsHook",
    "FormsSettings",
    "build_credentials",
    "build_service",
    "is_local_endpoint",
    "resolve_settings",
]

log = logging.getLogger(__name__)


def build_service(extra: Mapping[str, Any] | None = None, conn_id: str = DEFAULT_CONN_ID) -> Any:
    """The Forms v1 ``Resource`` for a connection extra (usable without a connection: tests,
    benchmarks, the emulator tools).

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
    """Reads Google Forms through the Forms API v1 (connection type ``google_forms``).

    ``get_conn()`` builds the service once per hook (credentials, timeout, rate limiter);
    the API methods use it with the connection's ``num_retries`` and raise
    :class:`bsin.ingest.forms_client.FormsApiError` with the fix in the message. The
    connection's conn type is not checked: a connection made before ``google_forms`` existed
    (``google_cloud_platform``, ``generic``) with the same extra works as it did.
    """

    conn_name_attr = "forms_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = FORMS_CONN_TYPE
    hook_name = FORMS_HOOK_NAME

    def __init__(self, forms_conn_id: str = DEFAULT_CONN_ID) -> None:
        super().__init__()
        self.forms_conn_id = forms_conn_id
        self._extra: dict[str, Any] | None = None
        self._settings: FormsSettings | None = None
        self._service: Any = None

    @property
    def conn_id(self) -> str:
        """The Airflow connection id (``forms_conn_id``)."""
        return self.forms_conn_id

    def _connection_extra(self) -> dict[str, Any]:
        if self._extra is None:
            try:
                conn = self.get_connection(self.conn_id)
            except Exception as exc:  # the SDK raises different types inside and outside tasks
                env = "AIRFLOW_CONN_" + self.conn_id.upper()
                raise FormsConnectionError(
                    f"Airflow connection {self.conn_id!r} not found ({exc.__class__.__name__}); "
                    f"create it in the UI (type {FORMS_HOOK_NAME!r}) or set {env}, with the "
                    "extra described in bsin.ingest.forms_hook"
                ) from None
            self._extra = normalise_extra(conn.extra_dejson)
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

    def get_conn(self) -> Any:
        """The ``googleapiclient`` Forms v1 service for this connection (built once per hook)."""
        if self._service is None:
            self._service = build_service(self._connection_extra(), self.conn_id)
        return self._service

    def test_connection(self) -> tuple[bool, str]:
        """The UI's "Test" button: are endpoint and credentials usable? (no API call)

        The Forms API has no call without a form id, so this checks what can be checked
        without one: the extra's settings and that the credentials load.
        """
        try:
            settings = self.settings
            build_credentials(self._connection_extra(), settings)
        except FormsConnectionError as exc:
            return False, str(exc)
        return True, f"{settings.credential_kind} credentials for {settings.endpoint}"

    # ---- API calls (bsin.ingest.forms_client on this hook's service) ------------------

    def get_form(self, form_id: str) -> dict[str, Any]:
        """The Form resource (``forms.get``): structure, ``revisionId``, items."""
        from bsin.ingest import forms_client

        return forms_client.get_form(self.get_conn(), form_id, self.num_retries)

    def iter_response_pages(
        self,
        form_id: str,
        since_utc: datetime | None,
        page_size: int | None = None,
        *,
        inclusive: bool = True,
        fields: str | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of ``forms.responses.list`` submitted at/after ``since_utc`` (all when None)."""
        from bsin.ingest import forms_client

        return forms_client.iter_response_pages(
            self.get_conn(),
            form_id,
            since_utc,
            page_size or forms_client.MAX_PAGE_SIZE,
            self.num_retries,
            inclusive=inclusive,
            fields=fields,
        )

    def iter_responses(
        self, form_id: str, since_utc: datetime | None, *, inclusive: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Every FormResponse submitted at/after ``since_utc``, following ``nextPageToken``."""
        for page in self.iter_response_pages(form_id, since_utc, inclusive=inclusive):
            yield from page

    def list_response_ids(self, form_id: str, since_utc: datetime | None) -> set[str]:
        """Ids of every response the form lists at/after ``since_utc`` (ids and times only)."""
        from bsin.ingest import forms_client

        return forms_client.list_response_ids(
            self.get_conn(), form_id, since_utc, num_retries=self.num_retries
        )
