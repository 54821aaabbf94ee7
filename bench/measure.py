"""Timing and memory accounting for the benchmark: stages, peak RSS, warehouse-write time.

The pipeline's task bodies interleave work of several stages (an extract task pulls pages
and then lands them; validation loads the valid rows), so the benchmark runs each task as
it is and splits its time here: every top-level warehouse write (``Warehouse.transaction``
and the write methods outside one) made by an ingest task counts as ``load``, the rest of
the task as the task's own stage. Stage times therefore add up to the end-to-end time.

Peak memory is the resident-set high-water mark of this process (``VmHWM``), reset at the
start of every measured segment through ``/proc/self/clear_refs`` so that each stage gets
its own peak, not the peak of everything before it. Where that file is not writable (not
Linux) the process-wide ``ru_maxrss`` is used and the peaks are cumulative.

Python's cyclic garbage collector runs when allocations call for it, in whatever stage is
running; a full (generation 2) collection rescans the whole process, which in the bench
holds every stage's leftovers. Its seconds are charged to the stage they fell in (and are
inside that stage's seconds), so a stage slowed by a collection shows it.
"""

from __future__ import annotations

import functools
import gc
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Stages whose warehouse writes are split off as ``load``.
LOAD_SPLIT_STAGES = frozenset({"pull", "harmonise", "validate", "load"})
_WRITE_METHODS = ("replace", "replace_staging", "insert", "upsert", "run_sql_file")


def _read_kib(pid: int | str, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def process_peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident set of a process in MiB (``VmHWM``), None when /proc is not there."""
    kib = _read_kib(pid, "VmHWM")
    return None if kib is None else kib / 1024


class RssMeter:
    """Per-segment peak RSS of this process; segments may nest (inner peaks count outside)."""

    def __init__(self) -> None:
        self.resettable = self._try_reset()
        self.method = "VmHWM reset per segment" if self.resettable else "ru_maxrss (cumulative)"
        self._open: list[list[float]] = []
        self.overall_mb = 0.0

    @staticmethod
    def _try_reset() -> bool:
        if _read_kib("self", "VmHWM") is None:
            return False
        try:
            # "5" resets only the peak-RSS counter (Linux >= 4.0), nothing else.
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def current_peak_mb(self) -> float:
        """The peak since the last reset (or since process start)."""
        if self.resettable:
            kib = _read_kib("self", "VmHWM") or 0
            return kib / 1024
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024

    def _flush(self) -> None:
        peak = self.current_peak_mb()
        self.overall_mb = max(self.overall_mb, peak)
        for seg in self._open:
            seg[0] = max(seg[0], peak)
        if self.resettable:
            Path("/proc/self/clear_refs").write_text("5")

    @contextmanager
    def segment(self) -> Iterator[list[float]]:
        """Measure the peak RSS of the block; ``seg[0]`` holds it (MiB) afterwards."""
        self._flush()
        seg = [0.0]
        self._open.append(seg)
        try:
            yield seg
        finally:
            self._flush()
            # Segments nest, so the innermost open one is this one; compare by identity
            # (two segments with the same peak are equal lists).
            assert self._open[-1] is seg
            self._open.pop()


class StageAccounts:
    """Seconds, rows and peak RSS per stage, with warehouse writes split off as ``load``."""

    def __init__(self, rss: RssMeter) -> None:
        self.rss = rss
        self.seconds: dict[str, float] = defaultdict(float)
        self.rows: dict[str, int] = defaultdict(int)
        self.calls: dict[str, int] = defaultdict(int)
        self.peak_mb: dict[str, float] = defaultdict(float)
        self.gc_seconds: dict[str, float] = defaultdict(float)
        self.gc_full_collections: dict[str, int] = defaultdict(int)
        self._gc_started: float | None = None
        self._stage: str | None = None
        self._write_depth = 0
        self._frame_depth = 0
        self._patched: list[tuple[Any, str, Any]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time one task call as stage ``name`` (minus its warehouse writes when split)."""
        if self._stage is not None:
            raise RuntimeError(f"stage {name} started inside stage {self._stage}")
        self._stage = name
        load_before = self.seconds["load"]
        started = time.perf_counter()
        try:
            with self.rss.segment() as seg:
                yield
        finally:
            elapsed = time.perf_counter() - started
            self._stage = None
            own = elapsed - (self.seconds["load"] - load_before if name != "load" else 0.0)
            self.seconds[name] += own
            self.calls[name] += 1
            self.peak_mb[name] = max(self.peak_mb[name], seg[0])

    def add_rows(self, stage: str, n: int) -> None:
        """Count ``n`` rows processed by ``stage``."""
        self.rows[stage] += int(n)

    @contextmanager
    def _write(self, rows: int = 0) -> Iterator[None]:
        split = self._stage in LOAD_SPLIT_STAGES and self._stage != "load"
        if not split or self._write_depth:
            self._write_depth += 1
            try:
                yield
            finally:
                self._write_depth -= 1
            return
        self._write_depth += 1
        started = time.perf_counter()
        try:
            with self.rss.segment() as seg:
                yield
        finally:
            self._write_depth -= 1
            self.seconds["load"] += time.perf_counter() - started
            self.peak_mb["load"] = max(self.peak_mb["load"], seg[0])

    def instrument(self, warehouse_cls: type) -> None:
        """Wrap the warehouse's write entry points and start charging garbage collections
        to stages (undo both with :meth:`restore`)."""
        accounts = self
        gc.callbacks.append(self._on_gc)
        original_tx = warehouse_cls.transaction

        @contextmanager
        def transaction(wh, *args, **kwargs):
            with accounts._write(), original_tx(wh, *args, **kwargs) as tx:
                yield tx

        self._patched.append((warehouse_cls, "transaction", original_tx))
        warehouse_cls.transaction = transaction
        for name in _WRITE_METHODS:
            original = getattr(warehouse_cls, name)

            def wrapper(wh, *args, __original=original, **kwargs):
                frame = next((a for a in (*args, *kwargs.values()) if hasattr(a, "columns")), None)
                with accounts._write():
                    # replace() calls insert(): count a frame's rows at the outermost call only.
                    if frame is not None and not accounts._frame_depth:
                        if accounts._stage in LOAD_SPLIT_STAGES:
                            accounts.rows["load"] += len(frame)
                    accounts._frame_depth += frame is not None
                    try:
                        return __original(wh, *args, **kwargs)
                    finally:
                        accounts._frame_depth -= frame is not None

            functools.update_wrapper(wrapper, original)
            self._patched.append((warehouse_cls, name, original))
            setattr(warehouse_cls, name, wrapper)

    def _charged_stage(self) -> str | None:
        # A write inside a split stage is timed as load (``_write``), so is what falls in it.
        if self._stage in LOAD_SPLIT_STAGES and self._write_depth:
            return "load"
        return self._stage

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        if self._gc_started is None:
            return
        elapsed, self._gc_started = time.perf_counter() - self._gc_started, None
        stage = self._charged_stage()
        if stage is None:
            return
        self.gc_seconds[stage] += elapsed
        if info.get("generation") == 2:
            self.gc_full_collections[stage] += 1

    def restore(self) -> None:
        """Undo :meth:`instrument`."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        while self._patched:
            owner, name, original = self._patched.pop()
            setattr(owner, name, original)
