"""Calls to the Google Forms API v1 that the pipeline makes, with pagination and clear errors.

The service comes from :class:`bsin.ingest.forms_hook.FormsHook` (or ``build_service`` outside
Airflow). Requests go through ``execute(num_retries=...)``, which retries 429, 5xx, timeouts
and refused connections with exponential back-off. Two transient failures that the client
library does not retry (a connection dropped mid-body, a body that is not JSON) are retried
here as often. Whatever still fails becomes a :class:`FormsApiError` that names the form and
the fix; the caller adds the country.

``responses.list`` has only a lower time bound (``timestamp >= T``), so a month is cut on the
client side with :func:`cut_window`.
"""

from __future__ import annotations

import http.client
import logging
import random
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from bsin.core.months import format_rfc3339, parse_rfc3339
from bsin.core.runtime import gc_paused

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 5000
DEFAULT_NUM_RETRIES = 5
# Patched by tests to keep retry back-off instant; production sleeps for real.
_sleep = time.sleep


class FormsApiError(RuntimeError):
    """A Forms API call failed for good; the message names the form and what to do."""

    def __init__(self, message: str, *, form_id: str, status: int | None = None):
        super().__init__(message)
        self.form_id = form_id
        self.status = status


def _http_error_message(exc: Any, form_id: str, what: str, endpoint: str, retries: int) -> str:
    status = int(getattr(exc.resp, "status", 0) or 0)
    reason = exc.reason if hasattr(exc, "reason") else str(exc)
    if status == 404:
        return (
            f"{what}: form {form_id!r} not found at {endpoint} (HTTP 404). Check the form ID in "
            "partners.yaml (the long ID in the form's edit URL) and that the form still exists "
            "and is shared with the service account."
        )
    if status == 403:
        return (
            f"{what}: no permission to read form {form_id!r} (HTTP 403: {reason}). Share the form "
            "with the service account's email (add it as a collaborator) and enable the Google "
            "Forms API in its project."
        )
    if status == 401:
        return (
            f"{what}: the credentials for form {form_id!r} were refused (HTTP 401). Renew the key or "
            "token in the Forms connection (see bsin.ingest.forms_hook)."
        )
    if status == 429 or status >= 500:
        return (
            f"{what}: form {form_id!r} still fails after {retries} retries (HTTP {status}: {reason}). "
            "The API is overloaded or down: re-run the task later, or raise num_retries in the "
            "Forms connection."
        )
    return f"{what}: form {form_id!r} request rejected (HTTP {status}: {reason})."


def execute(request: Any, form_id: str, what: str, num_retries: int = DEFAULT_NUM_RETRIES) -> dict:
    """Run one API request; return its JSON object or raise FormsApiError."""
    from googleapiclient.errors import HttpError

    endpoint = getattr(request, "uri", "") or "the Forms API"
    endpoint = endpoint.split("/v1/")[0] + "/" if "/v1/" in endpoint else endpoint
    attempt = 0
    while True:
        try:
            # A 5,000-response page parses into ~200,000 containers (bsin.core.runtime).
            with gc_paused():
                result = request.execute(num_retries=num_retries)
        except HttpError as exc:
            status = int(getattr(exc.resp, "status", 0) or 0)
            raise FormsApiError(
                _http_error_message(exc, form_id, what, endpoint, num_retries),
                form_id=form_id,
                status=status,
            ) from None
        except (http.client.HTTPException, OSError) as exc:
            # OSError covers refused connections and timeouts, which the library has already
            # retried num_retries times; HTTPException (IncompleteRead: a connection dropped
            # mid-body) it does not retry, so we do.
            retried_by_library = isinstance(exc, OSError)
            if retried_by_library or attempt >= num_retries:
                raise FormsApiError(
                    f"{what}: cannot reach {endpoint} for form {form_id!r} "
                    f"({exc.__class__.__name__}: {exc}) after {num_retries} retries. Check the "
                    "endpoint in the Forms connection and that the API (or the local emulator) "
                    "is running, then re-run the task.",
                    form_id=form_id,
                ) from None
            problem = f"{exc.__class__.__name__}"
        else:
            if isinstance(result, dict):
                return result
            # The client returns the raw text when a body is not JSON (e.g. truncated by a proxy).
            if attempt >= num_retries:
                raise FormsApiError(
                    f"{what}: {endpoint} answered form {form_id!r} with a body that is not a JSON "
                    f"object, {num_retries + 1} times. Check the endpoint in the Forms connection "
                    "(a proxy or captive portal?) and re-run the task.",
                    form_id=form_id,
                )
            problem = "a body that is not JSON"
        attempt += 1
        delay = min(30.0, random.random() * 2**attempt)
        log.warning(
            "%s for form %s: %s; retry %d of %d in %.1f s",
            what,
            form_id,
            problem,
            attempt,
            num_retries,
            delay,
        )
        _sleep(delay)


def get_form(service: Any, form_id: str, num_retries: int = DEFAULT_NUM_RETRIES) -> dict[str, Any]:
    """The Form resource (``forms.get``): structure, ``revisionId``, items."""
    return execute(service.forms().get(formId=form_id), form_id, "forms.get", num_retries)


def iter_response_pages(
    service: Any,
    form_id: str,
    since_utc: datetime | None,
    page_size: int = MAX_PAGE_SIZE,
    num_retries: int = DEFAULT_NUM_RETRIES,
    *,
    inclusive: bool = True,
    fields: str | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of ``forms.responses.list`` submitted at/after ``since_utc`` (all when None).

    ``inclusive`` chooses ``timestamp >= T`` (default) or ``timestamp > T``. One API call per
    page: with the maximum page size that is ``ceil(responses / 5000)`` calls. ``fields`` is
    the standard partial-response mask (e.g. ``RESPONSE_ID_FIELDS``).
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
    kwargs: dict[str, Any] = {"formId": form_id, "pageSize": page_size}
    if fields:
        kwargs["fields"] = fields
    if since_utc is not None:
        if since_utc.tzinfo is None:
            raise ValueError("since_utc must be timezone-aware (UTC)")
        kwargs["filter"] = f"timestamp {'>=' if inclusive else '>'} {format_rfc3339(since_utc)}"
    seen_tokens: set[str] = set()
    page_no = 0
    while True:
        try:
            page = execute(
                service.forms().responses().list(**kwargs),
                form_id,
                f"responses.list page {page_no + 1}",
                num_retries,
            )
        except FormsApiError as exc:
            if exc.status == 400 and "pageToken" in kwargs:
                raise FormsApiError(
                    f"responses.list: the API rejected the page token for page {page_no + 1} of "
                    f"form {form_id!r} ({exc}). Page tokens expire: re-run the task to list "
                    "from the start.",
                    form_id=form_id,
                    status=400,
                ) from None
            raise
        responses = page.get("responses", [])
        if not isinstance(responses, list):
            raise FormsApiError(
                f"responses.list: form {form_id!r} page {page_no + 1} has 'responses' that is "
                "not a list; the endpoint does not speak the Forms API v1",
                form_id=form_id,
            )
        yield responses
        page_no += 1
        token = page.get("nextPageToken")
        if not token:
            return
        if token in seen_tokens:
            # A server repeating a token would otherwise make us loop forever.
            raise FormsApiError(
                f"responses.list: form {form_id!r} returned the same page token twice (page "
                f"{page_no}); the API misbehaves, re-run the task later",
                form_id=form_id,
            )
        seen_tokens.add(token)
        kwargs["pageToken"] = token


def iter_responses(
    service: Any,
    form_id: str,
    since_utc: datetime | None,
    page_size: int = MAX_PAGE_SIZE,
    num_retries: int = DEFAULT_NUM_RETRIES,
    *,
    inclusive: bool = True,
) -> Iterator[dict[str, Any]]:
    """Every FormResponse submitted at/after ``since_utc``, following ``nextPageToken``."""
    for page in iter_response_pages(
        service, form_id, since_utc, page_size, num_retries, inclusive=inclusive
    ):
        yield from page


#: Partial-response mask of an id listing: what reconciliation needs, not the answers.
RESPONSE_ID_FIELDS = "nextPageToken,responses(responseId,lastSubmittedTime)"


def list_response_ids(
    service: Any,
    form_id: str,
    since_utc: datetime | None,
    num_retries: int = DEFAULT_NUM_RETRIES,
) -> set[str]:
    """Ids of every response the form lists, submitted at/after ``since_utc`` (all when None).

    One ``responses.list`` call per page of 5,000 with only ids and times in each page, so
    it costs one extra call per page, and little data, next to the month's own listing.
    """
    ids: set[str] = set()
    for page in iter_response_pages(
        service, form_id, since_utc, num_retries=num_retries, fields=RESPONSE_ID_FIELDS
    ):
        ids.update(r["responseId"] for r in page if isinstance(r, dict) and r.get("responseId"))
    return ids


def submitted_at(response: dict[str, Any], form_id: str | None = None) -> datetime:
    """A response's ``lastSubmittedTime`` as an aware UTC datetime; FormsApiError when invalid."""
    value = response.get("lastSubmittedTime") if isinstance(response, dict) else None
    try:
        return parse_rfc3339(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, AttributeError):
        rid = response.get("responseId") if isinstance(response, dict) else None
        fid = form_id or (response.get("formId") if isinstance(response, dict) else None)
        raise FormsApiError(
            f"response {rid!r} of form {fid!r} has no valid lastSubmittedTime ({value!r}); "
            "the API always sends one, so check the endpoint in the Forms connection",
            form_id=str(fid),
        ) from None


def cut_window(
    responses: Iterable[dict[str, Any]], start_utc: datetime, end_utc: datetime
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, str, str]]]:
    """Responses submitted in ``[start_utc, end_utc)``, and ``(response_id, rule, field, reason,
    value)`` for those that cannot be landed.

    The API's filter has no upper bound, so the month is cut here. A response without a
    usable ``lastSubmittedTime`` or ``responseId`` cannot be placed: it is reported, not
    dropped. A response listed twice (edited while the pages were read) lands once, in its
    latest version.
    """
    if start_utc.tzinfo is None or end_utc.tzinfo is None:
        raise ValueError("cut_window needs timezone-aware start_utc and end_utc")
    latest: dict[str, tuple[datetime, dict]] = {}
    unusable = []
    for r in responses:
        if not isinstance(r, dict):
            unusable.append(
                ("", "malformed_response", "response", "not a JSON object", str(r)[:200])
            )
            continue
        rid = r.get("responseId")
        if not isinstance(rid, str) or not rid:
            unusable.append(
                ("", "missing_response_id", "response_id", "the API sent no responseId", "")
            )
            continue
        stamp = r.get("lastSubmittedTime")
        try:
            submitted = parse_rfc3339(stamp)
        except (TypeError, ValueError, AttributeError):
            reason = "lastSubmittedTime is missing or not RFC 3339"
            unusable.append((rid, "missing_timestamp", "submitted_at", reason, str(stamp)[:200]))
            continue
        if start_utc <= submitted < end_utc and (rid not in latest or submitted >= latest[rid][0]):
            latest[rid] = (submitted, r)
    return [r for _, r in latest.values()], unusable
