"""Where the Forms API limiter keeps its sliding logs: Redis, PostgreSQL or a SQLite file.

Every store has one method, ``try_acquire(buckets, window)``: in one atomic step it drops
the grants older than ``window`` seconds, and either records a grant in every bucket (when
each holds fewer than its limit) and returns 0, or records nothing and returns the seconds
until the oldest grant that blocks leaves the window. ``bsin.ingest.quota.RateLimiter``
decides what to do with that; docs/operations.md ("API quotas") says which store to use.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: A bucket a call counts against: (key, limit per window).
Bucket = tuple[str, int]
#: The URL schemes a ``quota.store`` setting may name (besides ``local`` and ``off``).
STORE_SCHEMES = ("redis://", "rediss://", "postgresql://", "postgres://", "sqlite:///")


@dataclass(frozen=True)
class _SlidingLogSql:
    """A SQL store's three statements (its table and parameter style differ)."""

    expire: str  # (key, oldest time still in the window)
    count: str  # (key,)
    oldest_blocking: str  # (key, offset)


def _wait_for_buckets(
    conn: Any, sql: _SlidingLogSql, buckets: Sequence[Bucket], now: float, window: float
) -> float:
    """Seconds until every bucket has room (0: all have), expiring old grants on the way.

    Runs inside the caller's transaction, which holds the store's lock.
    """
    wait = 0.0
    for key, limit in buckets:
        conn.execute(sql.expire, (key, now - window))
        (count,) = conn.execute(sql.count, (key,)).fetchone()
        if count >= limit:
            (oldest,) = conn.execute(sql.oldest_blocking, (key, count - limit)).fetchone()
            wait = max(wait, oldest + window - now)
    return wait


_SQLITE_SQL = _SlidingLogSql(
    expire="delete from grants where key = ? and t <= ?",
    count="select count(*) from grants where key = ?",
    oldest_blocking="select t from grants where key = ? order by t limit 1 offset ?",
)


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
            self._use_wal(conn)
            conn.execute("create table if not exists grants (key text not null, t real not null)")
            conn.execute("create index if not exists grants_key_t on grants (key, t)")
            self._local.conn = conn
        return conn

    @staticmethod
    def _use_wal(conn: sqlite3.Connection, patience: float = 60.0) -> None:
        """Put the file in WAL mode (kept in the file), waiting out other processes.

        Two processes opening a new file at once both hold a shared lock while each asks for
        the exclusive one the switch needs: SQLite answers one of them "database is locked"
        at once, without its busy timeout (it would be a deadlock). Try again shortly.
        """
        deadline = time.monotonic() + patience
        while True:
            try:
                if conn.execute("pragma journal_mode").fetchone()[0] != "wal":
                    conn.execute("pragma journal_mode=wal")
                return
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02 + random.random() * 0.05)

    def try_acquire(self, buckets: Sequence[Bucket], window: float) -> float:
        """0 when granted (recorded in every bucket), else seconds until a slot frees."""
        conn = self._conn()
        conn.execute("begin immediate")  # the write lock: one process decides at a time
        try:
            now = time.time()
            wait = _wait_for_buckets(conn, _SQLITE_SQL, buckets, now, window)
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


_POSTGRES_SQL = _SlidingLogSql(
    expire="delete from bsin_forms_quota_grant where key = %s and t <= %s",
    count="select count(*) from bsin_forms_quota_grant where key = %s",
    oldest_blocking=(
        "select t from bsin_forms_quota_grant where key = %s order by t limit 1 offset %s"
    ),
)


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
            wait = _wait_for_buckets(conn, _POSTGRES_SQL, buckets, now, window)
            if wait <= 0:
                with conn.cursor() as cur:
                    cur.executemany(
                        "insert into bsin_forms_quota_grant values (%s, %s)",
                        [(key, now) for key, _ in buckets],
                    )
        return max(wait, 0.0)


QuotaStore = SqliteStore | RedisStore | PostgresStore


def open_store(store: str) -> QuotaStore:
    """The store named by a ``quota.store`` setting (``local`` = the data folder's file)."""
    if store.startswith(("redis://", "rediss://")):
        return RedisStore(store)
    if store.startswith(("postgresql://", "postgres://")):
        return PostgresStore(store)
    if store.startswith("sqlite:///"):
        return SqliteStore(store.removeprefix("sqlite:///"))
    from bsin.core.paths import data_dir

    return SqliteStore(data_dir() / "forms_quota.sqlite")


def describe_store(store: Any) -> str:
    """The store's kind and place, without a password."""
    from urllib.parse import urlsplit

    if isinstance(store, SqliteStore):
        return f"SQLite file {str(store.path)!r}"
    url = getattr(store, "dsn", None) or getattr(store, "url", "")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}"
