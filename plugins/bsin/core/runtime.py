"""Process-level helpers for the data path's hot loops."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with Python's cyclic garbage collector off (restored after).

    Parsing and harmonising a page of responses allocates hundreds of thousands of dicts,
    lists and strings. Each allocation burst triggers collections that rescan the task's
    whole heap (Airflow, pandas, GX: about 500,000 objects), which cost more than the work
    itself at network scale (docs/performance.md). What these blocks build has no reference
    cycles, so reference counting frees it as before; a nested block leaves the collector
    as the outer one set it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
