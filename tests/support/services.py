"""Shared access to the external services some tests need (PostgreSQL, Redis, Chromium).

Each helper returns the address of a reachable service, or skips the calling test with a
reason that says which variable to set. With ``BSIN_REQUIRE_SERVICES=1`` (CI) a missing
service fails the test instead, so a broken CI machine cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlsplit

import pytest

DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def services_required() -> bool:
    """True when a missing service must fail the test run instead of skipping."""
    return os.environ.get("BSIN_REQUIRE_SERVICES", "") == "1"


def unavailable(reason: str) -> None:
    """Skip the calling test, or fail it when services are required."""
    if services_required():
        pytest.fail(f"{reason} (BSIN_REQUIRE_SERVICES=1, so this is a failure)")
    pytest.skip(reason)


def require_postgres() -> str:
    """DSN of a reachable PostgreSQL server (``BSIN_TEST_PG_DSN``)."""
    dsn = os.environ.get("BSIN_TEST_PG_DSN", DEFAULT_PG_DSN)
    try:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:  # any failure means "not usable here"
        unavailable(f"PostgreSQL not reachable at BSIN_TEST_PG_DSN={dsn!r}: {exc}")
    return dsn


def require_redis() -> str:
    """URL of a reachable Redis server (``BSIN_TEST_REDIS_URL``)."""
    url = os.environ.get("BSIN_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:
        unavailable(f"Redis not reachable at BSIN_TEST_REDIS_URL={url!r} ({host}:{port}): {exc}")
    return url


def require_chromium() -> str:
    """Path of a Chromium binary (``BSIN_CHROMIUM`` or ``chromium`` on PATH)."""
    path = os.environ.get("BSIN_CHROMIUM") or shutil.which("chromium")
    if not path or not os.access(path, os.X_OK):
        unavailable("Chromium not found: install Debian's chromium or set BSIN_CHROMIUM")
    return path
