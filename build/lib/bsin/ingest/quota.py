"""Google Forms API read quotas, and one rate limit shared by every process that pulls.

Google meters the Forms API per minute, per project and per user (one service account is
one user): ``responses.list`` is an *expensive read* (450 per project, 180 per user),
``forms.get`` and ``responses.get`` are *reads* (975 and 390). :data:`GOOGLE_QUOTAS` is the
one definition of those numbers; the emulator enforces them and the client keeps under them.

The client side is a **sliding-log limiter**: a call is granted when fewer than ``limit``
calls were granted in the last ``window`` seconds, for every bucket it counts against (its
quota class, per project and per user), and all of them are recorded in one atomic step.
Unlike a fixed window (up to twice the limit across a boundary) or a token bucket/GCRA
(a full burst plus the refill within one window), a sliding log guarantees that *no*
interval of one window ever holds more than ``limit`` calls, whatever the quota server's
window alignment. A caller that is refused sleeps until the oldest grant leaves the window.

The log lives where every worker reaches it (see docs/operations.md, "API quotas"):

* ``redis://...``: a sorted set per bucket, updated by one Lua script (atomic on the server,
  timed by the server's clock). The Celery broker is a Redis every worker already reaches.
* ``postgresql://...``: a table of grants under a transaction-scoped advisory lock (the
  warehouse's server will do), timed by the server's clock.
* ``local`` (default): a SQLite file under the data folder, serialised by SQLite's write lock
  (``BEGIN IMMEDIATE``): every process on this host (LocalExecutor, several local Celery
  workers, the benchmark's worker processes) shares it.
* ``off``: no limiter (the 429 retry of the client library is then the only guard).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

log = logging.getLogger(__name__)

#: Path of a Forms v1 call -> its method: the one routing rule of the emulator and the client.
API_ROUTE = re.compile(r"^/v1/forms/([^/]+)(/responses(?:/([^/]+))?)?$")
EXPENSIVE, READ = "expensive_read", "read"
#: The quota class each method counts against.
OP_CLASS = {"responses.list": EXPENSIVE, "forms.get": READ, "responses.get": READ}


@dataclass(frozen=True)
class QuotaClass:
    """One of Google's per-minute quota metrics with its project and user limits."""

    name: str
    metric: str  # Google's quota metric name, as in its 429 body
    label: str  # the human name Google prints ("Expensive read requests")
    per_project: int
    per_user: int


@dataclass(frozen=True)
class Quotas:
    """The limits in force: a window in seconds and the classes' limits per window."""

    window_seconds: float = 60.0
    classes: dict[str, QuotaClass] = field(default_factory=dict)

    def scaled(self, factor: float) -> Quotas:
        """The same rate over a window ``factor`` times as long (tests: 0.1 -> 18 per 6 s)."""
        return Quotas(
            self.window_seconds * factor,
            {
                k: QuotaClass(
                    c.name,
                    c.metric,
                    c.label,
                    max(1, math.ceil(c.per_project * factor)),
                    max(1, math.ceil(c.per_user * factor)),
                )
                for k, c in self.classes.items()
            },
        )

    def with_limits(self, **limits: int) -> Quotas:
        """Override limits given as ``expensive_read_per_user=...`` and the like."""
        classes = dict(self.classes)
        for key, value in limits.items():
            name, scope = key.rsplit("_per_", 1)
            c = classes[name]
            classes[name] = QuotaClass(
                c.name,
                c.metric,
                c.label,
                value if scope == "project" else c.per_project,
                value if scope == "user" else c.per_user,
            )
        return Quotas(self.window_seconds, classes)


#: Google's published Forms API limits (developers.google.com/forms/api/limits).
GOOGLE_QUOTAS = Quotas(
    60.0,
    {
        EXPENSIVE: QuotaClass(
            EXPENSIVE, "forms.googleapis.com/expensive_read_requests", "Expensive read requests",
            450, 180,
        ),
        READ: QuotaClass(READ, "forms.googleapis.com/read_requests", "Read requests", 975, 390),
    },
)  # fmt: skip


def api_op(path: str) -> str | None:
    """``forms.get``, ``responses.list`` or ``responses.get`` for a Forms v1 path, else None."""
    m = API_ROUTE.match(path)
    if not m:
        return None
    if not m.group(2):
        return "forms.get"
    return "responses.get" if m.group(3) else "responses.list"


# ---- configuration ------------------------------------------------------------------------


class QuotaConfig(BaseModel):
    """The ``quota`` object of the Forms connection's extra (all keys optional)."""

    model_config = ConfigDict(extra="forbid")

    # A deployment names its shared store once for every connection (docker-compose: the
    # Celery broker's Redis); the extra's quota.store wins.
    store: str = Field(
        default_factory=lambda: os.environ.get("BSIN_FORMS_QUOTA_STORE") or "local",
        validate_default=True,
    )
    safety: float = Field(0.9, gt=0, le=1)
    window_seconds: float = Field(60.0, gt=0)
    expensive_read_per_project: int = Field(GOOGLE_QUOTAS.classes[EXPENSIVE].per_project, ge=1)
    expensive_read_per_user: int = Field(GOOGLE_QUOTAS.classes[EXPENSIVE].per_user, ge=1)
    read_per_project: int = Field(GOOGLE_QUOTAS.classes[READ].per_project, ge=1)
    read_per_user: int = Field(GOOGLE_QUOTAS.classes[READ].per_user, ge=1)
    project: str | None = None
    user: str | None = None
    max_wait_seconds: float = Field(900.0, gt=0)

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if value in ("local", "off") or value.startswith(_STORE_SCHEMES):
            return value
        raise ValueError(
            f"{value!r} is no store: write 'local', 'off', a redis:// or postgresql:// URL or "
            "sqlite:///PATH "
            "(in the extra's quota.store, or BSIN_FORMS_QUOTA_STORE for every connection)"
        )

    def quotas(self) -> Quotas:
        """The configured limits, before the safety margin."""
        limits = self.model_dump(include={f"{c}_per_{s}" for c in OP_CLASSES for s in SCOPES})
        return Quotas(self.window_seconds, GOOGLE_QUOTAS.classes).with_limits(**limits)


OP_CLASSES = (EXPENSIVE, READ)
_STORE_SCHEMES = ("redis://", "rediss://", "postgresql://", "postgres://", "sqlite:///")
SCOPES = ("project", "user")


def parse_quota_config(value: Any, conn_id: str) -> QuotaConfig:
    """Validate the extra's ``quota``; ValueError naming the connection, key and fix."""
    if value is None:
        value = {}
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, Mapping):
        raise ValueError(
            f"connection {conn_id!r}: extra quota must be a JSON object, e.g. "
            '{"store": "redis://redis:6379/1"}; see docs/operations.md'
        )
    try:
        return QuotaConfig.model_validate(dict(value))
    except ValidationError as exc:
        problems = "; ".join(
            f"quota.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(
            f"connection {conn_id!r}: {problems} (see docs/operations.md, 'API quotas')"
        ) from None


# ---- stores -------------------------------------------------------------------------------

Bucket = tuple[str, int]  # (key, limit per window)


class SqliteStore:
    """Sliding logs in a SQLite file: shared by every process on this host."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("pragma journal_mode=wal")
            conn.execute("create table if not exists grants (key text not null, t real not null)")
            conn.execute("create index if not exists grants_key_t on grants (key, t)")
            self._local.conn = conn
        return conn

    def try_acquire(self, buckets: Sequence[Bucket], window: float) -> float:
        """0 when granted (recorded in every bucket), else seconds until a slot frees."""
        conn = self._conn()
        conn.execute("begin immediate")  # the write lock: one process decides at a time
        try:
            now = time.time()
            wait = 0.0
            for key, limit in buckets:
                conn.execute("delete from grants where key = ? and t <= ?", (key, now - window))
                (count,) = conn.execute(
                    "select count(*) from grants where key = ?", (key,)
                ).fetchone()
                if count >= limit:
                    (oldest,) = conn.execute(
                        "select t from grants where key = ? order by t limit 1 offset ?",
                        (key, count - limit),
                    ).fetchone()
                    wait = max(wait, oldest + window - now)
            if wait <= 0:
                conn.executemany(
                    "insert into grants values (?, ?)", [(key, now) for key, _ in buckets]
                )
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        return max(wait, 0.0)


_REDIS_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local window = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 + i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
end
return '0'
"""


class RedisStore:
    """Sliding logs as Redis sorted sets, checked and written by one Lua script."""

    def __init__(self, url: str):
        import redis

        self.url = url
        self._redis = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)
        self._script = self._redis.register_script(_REDIS_SCRIPT)

    def try_acquire(self, buckets: Sequence[Bucket], window: float) -> float:
        """0 when granted (recorded in every bucket), else seconds until a slot frees."""
        keys = [k for k, _ in buckets]
        args = [repr(window), uuid.uuid4().hex, *(limit for _, limit in buckets)]
        return max(0.0, float(self._script(keys=keys, args=args)))


class PostgresStore:
    """Sliding logs in a PostgreSQL table (e.g. the warehouse), one transaction per try.

    A transaction-scoped advisory lock serialises the check-and-record of all processes;
    ``clock_timestamp()`` is the server's clock, one for every host.
    """

    def __init__(self, dsn: str):
        self.dsn = dsn
        self._local = threading.local()

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            import psycopg

            conn = psycopg.connect(self.dsn, autocommit=False, connect_timeout=10)
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(hashtext('bsin_forms_quota_grant'))")
                conn.execute(
                    "create table if not exists bsin_forms_quota_grant "
                    "(key text not null, t double precision not null)"
                )
                conn.execute(
                    "create index if not exists bsin_forms_quota_grant_key_t on bsin_forms_quota_grant (key, t)"
                )
            self._local.conn = conn
        return conn

    def try_acquire(self, buckets: Sequence[Bucket], window: float) -> float:
        """0 when granted (recorded in every bucket), else seconds until a slot frees."""
        conn = self._conn()
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('bsin_forms_quota_grant'))")
            (now,) = conn.execute("select extract(epoch from clock_timestamp())::float8").fetchone()
            wait = 0.0
            for key, limit in buckets:
                conn.execute(
                    "delete from bsin_forms_quota_grant where key = %s and t <= %s",
                    (key, now - window),
                )
                (count,) = conn.execute(
                    "select count(*) from bsin_forms_quota_grant where key = %s", (key,)
                ).fetchone()
                if count >= limit:
                    (oldest,) = conn.execute(
                        "select t from bsin_forms_quota_grant where key = %s order by t limit 1 offset %s",
                        (key, count - limit),
                    ).fetchone()
                    wait = max(wait, oldest + window - now)
            if wait <= 0:
                with conn.cursor() as cur:
                    cur.executemany(
                        "insert into bsin_forms_quota_grant values (%s, %s)",
                        [(key, now) for key, _ in buckets],
                    )
        return max(wait, 0.0)


def open_store(store: str) -> SqliteStore | RedisStore | PostgresStore:
    """The store named by a ``quota.store`` setting (``local`` = the data folder's file)."""
    if store.startswith(("redis://", "rediss://")):
        return RedisStore(store)
    if store.startswith(("postgresql://", "postgres://")):
        return PostgresStore(store)
    if store.startswith("sqlite:///"):
        return SqliteStore(store.removeprefix("sqlite:///"))
    from bsin.core.paths import data_dir

    return SqliteStore(data_dir() / "forms_quota.sqlite")


# ---- the limiter --------------------------------------------------------------------------


class QuotaTimeout(RuntimeError):
    """The shared limit stayed exhausted longer than ``max_wait_seconds``."""


class QuotaStoreError(RuntimeError):
    """The limiter's store (Redis, PostgreSQL, SQLite file) cannot be used."""


def describe_store(store: Any) -> str:
    """The store's kind and place, without a password."""
    from urllib.parse import urlsplit

    if isinstance(store, SqliteStore):
        return f"SQLite file {str(store.path)!r}"
    url = getattr(store, "dsn", None) or getattr(store, "url", "")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}"


# Patched by tests; production sleeps for real.
_sleep = time.sleep


class RateLimiter:
    """Waits before a call until every quota bucket it counts against has room."""

    def __init__(
        self,
        store: SqliteStore | RedisStore | PostgresStore,
        quotas: Quotas,
        *,
        project: str,
        user: str,
        safety: float = 0.9,
        max_wait_seconds: float = 900.0,
    ):
        self.store, self.quotas = store, quotas
        self.max_wait_seconds = max_wait_seconds
        self.buckets: dict[str, list[Bucket]] = {}
        for name, c in quotas.classes.items():
            self.buckets[name] = [
                (f"bsin:quota:{name}:project:{project}", max(1, math.floor(c.per_project * safety))),
                (f"bsin:quota:{name}:user:{project}:{user}", max(1, math.floor(c.per_user * safety))),
            ]  # fmt: skip
        self.waited_seconds = 0.0
        self.quota_errors = 0

    def acquire(self, op: str) -> float:
        """Block until ``op`` may be sent; returns the seconds waited."""
        buckets = self.buckets[OP_CLASS[op]]
        waited = 0.0
        while True:
            try:
                wait = self.store.try_acquire(buckets, self.quotas.window_seconds)
            except Exception as exc:  # redis, psycopg and sqlite3 each raise their own
                raise QuotaStoreError(
                    f"{op}: cannot use the Forms API quota store {describe_store(self.store)} "
                    f"({exc.__class__.__name__}). Check quota.store in the Forms connection "
                    "(or BSIN_FORMS_QUOTA_STORE) and that the service is up, then re-run."
                ) from exc
            if wait <= 0:
                self.waited_seconds += waited
                return waited
            if waited + wait > self.max_wait_seconds:
                raise QuotaTimeout(
                    f"{op}: the shared Forms API quota stayed exhausted for "
                    f"{waited:.0f} s; another process may be pulling without end. Raise "
                    "quota.max_wait_seconds in the Forms connection or re-run the task later."
                )
            # A few ms past the slot, so the next try finds it free despite clock rounding.
            wait += 0.005
            _sleep(wait)
            waited += wait


def identity(credential_kind: str, credentials: Any, endpoint: str) -> tuple[str, str]:
    """``(project, user)`` the quota is counted against, for the limiter's bucket keys.

    A service account is one user in its key's project. An authorised user's token is one
    user (keyed by a hash, never the secret itself). Anonymous calls to an emulator are one
    user per endpoint.
    """
    if credential_kind == "service_account":
        project = getattr(credentials, "project_id", None) or "unknown"
        return str(project), str(getattr(credentials, "service_account_email", None) or "sa")
    if credential_kind == "authorized_user":
        token = str(getattr(credentials, "refresh_token", None) or "")
        user = hashlib.sha256(token.encode()).hexdigest()[:16]
        project = getattr(credentials, "quota_project_id", None) or getattr(
            credentials, "client_id", None
        )
        return str(project or "unknown"), user
    return f"emulator@{endpoint}", f"anonymous@{endpoint}"


class QuotaHttp:
    """An httplib2-compatible transport that asks the limiter before every Forms call.

    It wraps the transport under googleapiclient, so every HTTP attempt (the library's own
    429/5xx retries included) is counted, as Google counts it. A 429 that still comes
    (another application on the same project) is logged and counted here and retried with
    back-off by ``execute(num_retries=...)``.
    """

    def __init__(self, http: Any, limiter: RateLimiter):
        self._http, self.limiter = http, limiter

    def request(self, uri: str, method: str = "GET", *args: Any, **kwargs: Any):
        """Wait for quota, then send through the wrapped transport."""
        from urllib.parse import urlsplit

        path = urlsplit(uri).path
        # An endpoint may carry a path prefix (an emulator behind a proxy).
        op = api_op(path[path.find("/v1/forms/") :]) if "/v1/forms/" in path else None
        if op is not None:
            self.limiter.acquire(op)
        resp, content = self._http.request(uri, method, *args, **kwargs)
        if op is not None and int(getattr(resp, "status", 0) or 0) == 429:
            self.limiter.quota_errors += 1
            log.warning(
                "%s: HTTP 429 from the Forms API despite the shared limiter (another "
                "application on the project?); the client retries with back-off",
                op,
            )
        return resp, content

    def __getattr__(self, name: str) -> Any:
        return getattr(self._http, name)


def build_limiter(
    config: QuotaConfig, credential_kind: str, credentials: Any, endpoint: str
) -> RateLimiter | None:
    """The limiter a connection's ``quota`` settings ask for (None when ``store`` is off)."""
    if config.store == "off":
        return None
    project, user = identity(credential_kind, credentials, endpoint)
    return RateLimiter(
        open_store(config.store),
        config.quotas(),
        project=config.project or project,
        user=config.user or user,
        safety=config.safety,
        max_wait_seconds=config.max_wait_seconds,
    )
