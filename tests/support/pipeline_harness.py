"""Run the real pipeline steps of one month without Airflow, for fault, corpus and security tests.

``PipelineHarness`` holds what one run needs: a copy of the sample emulator data in a
temporary folder (tests may edit forms and responses there), a running Forms API emulator,
a real Forms client from ``bsin.ingest.forms_hook.build_service``, a fresh warehouse (a DuckDB
file, or a new PostgreSQL schema that is dropped afterwards) and a ``bsin.pipeline.Context``
with a test key. Each step method calls the task body of ``bsin.pipeline`` the DAG calls.

``dump()`` returns every row of every warehouse table, so a test can assert that a failed
step left the warehouse exactly as it was.

``golden_warehouse()`` runs one complete month (every country, GX validation, marts) once per
test process and returns the DuckDB file; tests copy it instead of paying for GX again.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from bsin import pipeline
from bsin.core.config import PartnersConfig, ProgrammeConfig, load_partners, load_programme
from bsin.core.paths import SAMPLE_DIR
from bsin.warehouse.db import Warehouse

#: The report month of every harness run: the sample has every configured country's answers
#: for it, and an edited response.
MONTH = date(2023, 3, 1)
#: Pseudonymisation key of harness runs (test-only; long enough for bsin.ingest.pseudonymise).
KEY = b"harness-pseudonym-key-5b1c9e0d"
SAMPLE_EMULATOR = SAMPLE_DIR


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class PipelineHarness:
    """One month of the pipeline on temporary data; see the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        backend: str = "duckdb",
        num_retries: int = 2,
        timeout: float = 5.0,
        partners: PartnersConfig | None = None,
        programme: ProgrammeConfig | None = None,
        key: bytes = KEY,
        month: date = MONTH,
        warehouse: Warehouse | None = None,
        start: bool = True,
        data_docs: bool = False,
    ) -> None:
        self.root = Path(root)
        self.month = month
        self.backend = backend
        self.data_dir = self.root / "emulator"
        if not self.data_dir.exists():
            shutil.copytree(SAMPLE_EMULATOR, self.data_dir)
        self.partners = partners or load_partners()
        self.programme = programme or load_programme()
        self.key = key
        self.num_retries = num_retries
        # GX Data Docs cost a second a validation: written only for a test that reads them.
        self.data_docs = data_docs
        self.timeout = timeout
        self.wh = warehouse or self._new_warehouse(backend)
        self._own_warehouse = warehouse is None
        self.ctx = pipeline.Context(self.partners, self.programme, warehouse=self.wh, key=key)
        self.emu = None
        self.service = None
        if start:
            self.start_emulator()

    # ---- set-up ---------------------------------------------------------------------

    def _new_warehouse(self, backend: str) -> Warehouse:
        if backend == "duckdb":
            path = self.root / "warehouse.duckdb"
            # Migrating costs most of a second; a copy of a migrated file costs nothing.
            shutil.copyfile(_migrated_duckdb(), path)
            return Warehouse.from_uri(f"duckdb:///{path}")
        if backend == "postgres":
            from tests.support.services import require_postgres

            dsn = require_postgres()
            return Warehouse.from_uri(dsn, schema=f"bsin_h_{uuid.uuid4().hex[:12]}")
        raise ValueError(f"unknown backend {backend!r}: use duckdb or postgres")

    def start_emulator(self) -> None:
        """Serve ``data_dir`` and build a real Forms client for it."""
        from bsin_dev.emulator import start_emulator

        from bsin.ingest.forms_hook import build_service

        self.emu = start_emulator(self.data_dir)
        self.service = build_service(
            {"endpoint": self.emu.url, "num_retries": self.num_retries, "timeout": self.timeout}
        )

    def reopen_warehouse(self) -> None:
        """A fresh connection, as an Airflow task retry (a new process) would have."""
        self.wh.close()

    def close(self) -> None:
        """Stop the emulator; drop the PostgreSQL schema or close the DuckDB file."""
        if self.emu is not None:
            self.emu.stop()
            self.emu = None
        if not self._own_warehouse:
            return
        if self.wh.backend == "postgres":
            schema = self.wh.schema
            self.wh.close()
            self.wh.schema = None  # reconnect without re-creating the schema
            try:
                self.wh.execute(f"drop schema if exists {schema} cascade")
            finally:
                self.wh.close()
        else:
            self.wh.close()

    # ---- emulator data --------------------------------------------------------------

    def form_id(self, country: str, kind: str = "monthly") -> str:
        """The form ID partners.yaml gives ``country``'s ``kind`` form."""
        return self.partners.partner(country).form_id(kind)

    def form_path(self, country: str, kind: str = "monthly") -> Path:
        """The Form JSON the emulator serves for the country's form."""
        return self.data_dir / "forms" / f"{self.form_id(country, kind)}.json"

    def responses_path(self, country: str, kind: str = "monthly") -> Path:
        """The responses file (JSON list, one response per line) of the country's form."""
        return self.data_dir / "responses" / f"{self.form_id(country, kind)}.json"

    def read_form(self, country: str, kind: str = "monthly") -> dict[str, Any]:
        return json.loads(self.form_path(country, kind).read_text(encoding="utf-8"))

    def write_form(self, country: str, form: dict[str, Any], kind: str = "monthly") -> None:
        self.form_path(country, kind).write_text(
            json.dumps(form, ensure_ascii=False, indent=1), encoding="utf-8"
        )

    def read_responses(self, country: str, kind: str = "monthly") -> list[dict[str, Any]]:
        return json.loads(self.responses_path(country, kind).read_text(encoding="utf-8"))

    def write_responses(
        self, country: str, responses: list[dict[str, Any]], kind: str = "monthly"
    ) -> None:
        """Replace the form's responses (one per line, the layout the emulator streams)."""
        lines = ",\n".join(json.dumps(r, ensure_ascii=False) for r in responses)
        self.responses_path(country, kind).write_text(f"[\n{lines}\n]\n", encoding="utf-8")

    def responses_in_window(self, country: str, kind: str = "monthly") -> list[dict[str, Any]]:
        """The served responses extract should land for ``month`` (the contract's window)."""
        from bsin.core.months import add_months, month_window, parse_rfc3339

        tz = self.partners.partner(country).timezone
        grace = self.programme.grace_days
        if kind == "monthly":
            start, end = month_window(self.month, tz, grace)
        else:
            start, _ = month_window(add_months(self.programme.first_month, -3), tz, 0)
            _, end = month_window(self.month, tz, grace)
        return [
            r
            for r in self.read_responses(country, kind)
            if start <= parse_rfc3339(r["lastSubmittedTime"]) < end
        ]

    # ---- pipeline steps -------------------------------------------------------------

    def prepare(self) -> dict:
        return pipeline.prepare_warehouse(self.month, self.ctx)

    def extract(self, country: str, **kwargs: Any) -> dict:
        kwargs.setdefault("num_retries", self.num_retries)
        return pipeline.extract_country(
            country, self.month, self.ctx, service=self.service, **kwargs
        )

    def harmonise(self, country: str) -> dict:
        return pipeline.harmonise_country(country, self.month, self.ctx)

    def validate(self) -> dict:
        return pipeline.validate_month(self.month, self.ctx, data_docs=self.data_docs)

    def marts(self) -> dict:
        return pipeline.build_marts_for_month(self.month, self.ctx)

    def send(self, country: str, **kwargs: Any) -> dict:
        return pipeline.send_report(country, self.month, ctx=self.ctx, **kwargs)

    def ingest(self, *countries: str) -> list[dict]:
        """prepare, then extract and harmonise each country: everything before GX."""
        out = [self.prepare()]
        for country in countries:
            out.append(self.extract(country))
            out.append(self.harmonise(country))
        return out

    # ---- warehouse inspection -------------------------------------------------------

    def tables(self) -> list[str]:
        """Every permanent table of the warehouse schema (no staging temp tables)."""
        rows = self.wh.query(
            "select table_name from information_schema.tables "
            "where table_schema = current_schema() and table_catalog = current_database() "
            "and table_type = 'BASE TABLE' order by table_name"
        )
        return [r[0] for r in rows]

    def dump(self, exclude: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
        """All rows of all tables, each table's rows sorted: equal dumps = equal warehouses."""
        out: dict[str, list[tuple]] = {}
        for table in self.tables():
            if table in exclude:
                continue
            rows = self.wh.query(f"select * from {table}")  # noqa: S608 (names from the catalogue)
            out[table] = sorted(rows, key=lambda r: tuple(_text(v) for v in r))
        return out

    def text_values(self) -> Iterator[tuple[str, str, str]]:
        """``(table, column, value)`` for every non-empty value of every text column."""
        types = {table: self.wh.column_types(table) for table in self.tables()}
        for table, cols in types.items():
            for col, sql_type in cols.items():
                if sql_type.lower() not in ("text", "varchar", "character varying"):
                    continue
                for (value,) in self.wh.query(
                    f"select {col} from {table} where {col} is not null"  # noqa: S608
                ):
                    yield table, col, str(value)

    def count(self, table: str, where: str = "", params: dict | None = None) -> int:
        sql = f"select count(*) from {table}" + (f" where {where}" if where else "")  # noqa: S608
        return int(self.wh.query(sql, params or {})[0][0])


@contextmanager
def harness(root: Path, **kwargs: Any) -> Iterator[PipelineHarness]:
    """A started ``PipelineHarness`` that is closed afterwards."""
    h = PipelineHarness(root, **kwargs)
    try:
        yield h
    finally:
        h.close()


@cache
def _migrated_duckdb() -> Path:
    """An empty, migrated DuckDB warehouse file to copy (built once per process)."""
    path = Path(tempfile.mkdtemp(prefix="bsin-migrated-")) / "warehouse.duckdb"
    with Warehouse.from_uri(f"duckdb:///{path}") as wh:
        wh.migrate()
    return path


# ---- one complete month, built once per test process ------------------------------------

#: Every configured country (the sample has data for each: make sample-data).
GOLDEN_COUNTRIES = tuple(load_partners().countries)


@cache
def golden_warehouse() -> Path:
    """A DuckDB file holding one complete month of the sample (all countries, validated, marts).

    Nothing is delivered (``delivery_log`` is empty). Built once per process (GX is slow):
    copy the file with ``copy_golden`` before writing to it.
    """
    root = Path(tempfile.mkdtemp(prefix="bsin-golden-"))
    with harness(root) as h:
        h.ingest(*GOLDEN_COUNTRIES)
        h.validate()
        h.marts()
    return root / "warehouse.duckdb"


def copy_golden(dest: Path) -> Warehouse:
    """A private copy of the golden warehouse at ``dest`` (a DuckDB file path)."""
    golden = golden_warehouse()
    shutil.copyfile(golden, dest)
    # dbt's in-process DuckDB connection may leave the marts in the write-ahead log.
    wal = golden.with_name(golden.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, dest.with_name(dest.name + ".wal"))
    return Warehouse.from_uri(f"duckdb:///{dest}")
