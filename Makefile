# Baltic Sea Impact Network feedback pipeline. `make demo` and `make test` work on a fresh
# clone with only Python 3.11 and make: the first target that needs it builds .venv.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | cksum | cut -d' ' -f1)
MONTH ?= 2023-03
COUNTRY ?= LV
PYTEST_ARGS ?=

export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)
export BSIN_PROJECT_ROOT := $(CURDIR)

.PHONY: help venv demo test lint format lock bench airflow sql preview backfill sample-data clean catalog

help:
	@echo "make demo     run the monthly pipeline through Airflow on the built-in sample data (MONTH=$(MONTH))"
	@echo "make test     run the whole test suite"
	@echo "make bench    benchmark at network scale (QUICK=1 for a one-minute run)"
	@echo "make airflow  local Airflow UI with emulator and SMTP sink"
	@echo "make sql      SQL prompt on the configured warehouse (QUERY=file.sql to run a file)"
	@echo "make preview  render one report to files: make preview COUNTRY=LV MONTH=2023-03"
	@echo "make backfill rebuild the whole programme through Airflow"
	@echo "make catalog  dbt docs of the warehouse (tables, columns, tests, lineage) in data/catalog/index.html, offline"
	@echo "make lint     ruff"

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found; install Python 3.11 or pass PY=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.txt -r requirements-dev.txt
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

# The manifest the monthly DAG renders its dbt task group from (`dbt parse`); the DAG file
# would write it itself, but parsing in a DAG processor may hit its import timeout.
DBT_MANIFEST := include/dbt/target/manifest.json
$(DBT_MANIFEST): $(STAMP) $(shell find include/dbt -name '*.sql' -o -name '*.yml' 2>/dev/null) plugins/bsin/dbt_project.py plugins/bsin/mapping.py
	$(BIN)/python -m bsin.dbt_project parse >/dev/null

demo: $(STAMP) $(DBT_MANIFEST)
	$(BIN)/python scripts/demo.py --month $(MONTH)

test: $(STAMP) $(DBT_MANIFEST)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-resolve the pinned requirements from requirements.in.
lock: $(STAMP)
	$(BIN)/uv pip compile requirements.in --python-version 3.11 -o requirements.txt
	$(BIN)/uv pip compile requirements-dev.in --python-version 3.11 -o requirements-dev.txt

bench: $(STAMP) $(DBT_MANIFEST)
	$(BIN)/python bench/run.py $(if $(QUICK),--quick,)

airflow: $(STAMP) $(DBT_MANIFEST)
	bash scripts/airflow_local.sh

sql: $(STAMP)
	$(BIN)/python scripts/sql.py $(if $(QUERY),--file $(QUERY),)

preview: $(STAMP)
	$(BIN)/python scripts/preview_report.py --country $(COUNTRY) --month $(MONTH) --out data/preview

backfill: $(STAMP) $(DBT_MANIFEST)
	$(BIN)/python scripts/demo.py --backfill $(if $(DELIVER),--deliver,)

catalog: $(STAMP)
	$(BIN)/python scripts/catalog.py

sample-data: $(STAMP)
	$(BIN)/python -m bsin.sample_data --out include/sample/emulator

clean:
	rm -rf data airflow_home .pytest_cache
