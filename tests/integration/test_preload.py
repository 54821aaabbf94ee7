"""The workers' preload (bsin.orchestration.preload): what a Celery worker holds before it
forks, so that every task process it forks inherits it instead of importing it.

The report task's own side (no chart module imported, the heap found frozen) is measured by
the benchmark's ``report_preloaded`` task process (tests/e2e/test_bench_quick.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The worker's side in a fresh interpreter: Celery's loader imports the config's ``imports``
# in the worker's main process, then sends ``worker_init``, then starts the pool.
_WORKER = """
import gc, json, sys
from celery import Celery
from celery.signals import worker_init
from bsin.orchestration.celery_config import CELERY_CONFIG
from bsin.orchestration.preload import TASK_PRELOAD

app = Celery(set_as_current=False)
app.conf.update(CELERY_CONFIG)
app.loader.import_default_modules()
imported = [m for m in TASK_PRELOAD if m in sys.modules]
frozen_before = gc.get_freeze_count()
worker_init.send(sender=None)
print(json.dumps({"imported": imported, "frozen_before": frozen_before,
                  "frozen_after": gc.get_freeze_count()}))
"""


def test_celery_worker_imports_and_freezes_the_task_modules_before_its_pool_forks():
    from bsin.orchestration.preload import TASK_PRELOAD

    done = subprocess.run(
        [sys.executable, "-c", _WORKER], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    # Every name imports (LocalExecutor's forkserver would skip a misspelt one silently).
    assert got["imported"] == list(TASK_PRELOAD)
    assert {"matplotlib.figure", "pandas", "dbt.cli.main"} <= set(got["imported"])
    assert got["frozen_before"] == 0
    assert got["frozen_after"] > 100_000  # dbt, Cosmos, pandas and matplotlib's objects
