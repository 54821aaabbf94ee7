"""The benchmark charges Python's garbage collections to the stage they fell in (issue 14:
a report slowed by a full collection of the bench's own process must show it)."""

from __future__ import annotations

import gc
from contextlib import contextmanager

from bench.measure import RssMeter, StageAccounts


class _Warehouse:
    """The write entry points StageAccounts wraps, doing nothing."""

    @contextmanager
    def transaction(self):
        yield self

    def replace(self, *a, **k): ...
    def replace_staging(self, *a, **k): ...
    def insert(self, *a, **k): ...
    def upsert(self, *a, **k): ...
    def run_sql_file(self, *a, **k): ...


def _cycles(n: int = 20_000) -> None:
    for _ in range(n):
        a: list = []
        a.append(a)


def test_collections_are_charged_to_the_running_stage_and_writes_to_load() -> None:
    acct = StageAccounts(RssMeter())
    acct.instrument(_Warehouse)
    enabled = gc.isenabled()
    gc.disable()  # only this test's own collections, so the counts are exact
    try:
        gc.collect()  # outside any stage: charged to none
        assert not acct.gc_seconds and not acct.gc_full_collections

        with acct.stage("report"):
            _cycles()
            gc.collect()
        assert acct.gc_full_collections["report"] == 1
        assert 0 < acct.gc_seconds["report"] <= acct.seconds["report"]

        with acct.stage("harmonise"):
            with _Warehouse().transaction():  # a write: its time, and its collections, are load
                _cycles()
                gc.collect(1)
        assert acct.gc_seconds["load"] > 0
        assert acct.gc_full_collections["load"] == 0  # generation 1 is not a full one
        assert acct.gc_seconds["harmonise"] == 0
        acct.restore()
        assert acct._on_gc not in gc.callbacks
        with acct.stage("report"):
            gc.collect()
        assert acct.gc_full_collections["report"] == 1  # no longer counted after restore
    finally:
        acct.restore()
        if enabled:
            gc.enable()
