"""Local Google Forms API v1 emulator: the built-in data source of the demo, tests and benchmark.

Run it with ``python -m bsin_dev.emulator --data include/sample/emulator --port 8765`` or in-process
with :func:`start_emulator`. It answers ``forms.get``, ``forms.responses.list`` and
``forms.responses.get`` from JSON files, in the shapes the discovery document bundled with
google-api-python-client declares, so the pipeline talks to it through the real client.
"""

from bsin_dev.emulator.faults import Fault, FaultPlan
from bsin_dev.emulator.server import EmulatorHandle, start_emulator
from bsin_dev.emulator.store import DataError, DataStore

__all__ = ["DataError", "DataStore", "EmulatorHandle", "Fault", "FaultPlan", "start_emulator"]
