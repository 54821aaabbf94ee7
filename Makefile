# Baltic Sea Impact Network feedback pipeline. `make demo` and `make test` work on a fresh
# clone with only Python 3.11 and make: the first target that needs it builds .venv.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The stamp names the pinned files and the install recipe's version (VENV_RECIPE, bumped when
# the recipe below changes), so either change rebuilds .venv.
VENV_RECIPE := 2
STAMP := $(VENV)/.installed-$(shell (cat requirements.txt requirements-dev.txt pyproject.toml dev/pyproject.toml; echo $(VENV_RECIPE)) | cksum | cut -d' ' -f1)
MONTH ?= 2023-03
COUNTRY ?=
PYTEST_ARGS ?=

export BSIN_PROJECT_ROOT := $(CURDIR)

.PHONY: help venv demo test lint format lock bench airflow sql preview backfill sample-data clean forget map-form programme-report catalog

# `make help` lists every target that has a `## options | description` comment.
help: ## | this list
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z-]+:.*## / { split($$2, d, "[|]"); gsub(/^ +| +$$/, "", d[1]); gsub(/^ +| +$$/, "", d[2]); printf "make %-12s %-34s %s\n", $$1, d[1], d[2] }' $(MAKEFILE_LIST)

# Last, the installed packages are compiled to bytecode, as pip does on install and uv does
# not: otherwise every process compiles each module it imports, seconds per Airflow or dbt
# process, and with PYTHONDONTWRITEBYTECODE set (as on CI) it does so every time. Files
# that are not Python 3 (a package's Python 2 leftovers) are skipped silently.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml dev/pyproject.toml
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found; install Python 3.11 or pass PY=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.txt -r requirements-dev.txt
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e . -e dev
	$(BIN)/python -c 'import compileall, sysconfig; compileall.compile_dir(sysconfig.get_path("purelib"), quiet=2, workers=0)'
	rm -f $(VENV)/.installed-*
	touch $@

# The project's own modules are installed editable, outside site-packages, so the step
# above leaves them out: with PYTHONDONTWRITEBYTECODE set (as on CI) every process, each
# Airflow task and each test subprocess, compiled each of them again (about 0.1 s of a
# report task). Recompiled when a source file changes; only changed files are rewritten.
SOURCES_PYC := $(VENV)/.compiled-sources
PY_SOURCE_DIRS := plugins dev bench dags scripts tests
$(SOURCES_PYC): $(STAMP) $(shell find $(PY_SOURCE_DIRS) -name '*.py' 2>/dev/null)
	$(BIN)/python -m compileall -q $(PY_SOURCE_DIRS)
	touch $@

venv: $(STAMP) ## | build .venv from the pinned requirements (other targets do it when needed)

# The manifest the monthly DAG renders its dbt task group from (`dbt parse`); the DAG file
# would write it itself, but parsing in a DAG processor may hit its import timeout.
DBT_MANIFEST := include/dbt/target/manifest.json
$(DBT_MANIFEST): $(STAMP) $(shell find include/dbt -name '*.sql' -o -name '*.yml' 2>/dev/null) plugins/bsin/warehouse/dbt_project.py plugins/bsin/transform/mapping.py
	$(BIN)/python -m bsin.warehouse.dbt_project parse >/dev/null

demo: $(STAMP) $(DBT_MANIFEST) $(SOURCES_PYC) ## [MONTH=2023-03] [WAREHOUSE=uri] | the monthly pipeline through Airflow on the sample data
	$(BIN)/python scripts/demo.py --month '$(MONTH)' $(if $(WAREHOUSE),--warehouse '$(WAREHOUSE)',)

# Two pytest-xdist workers, one per core of the CI machine. A module stays on one worker
# (--dist loadscope), so its module-scoped fixtures (a whole DAG run) are built once; modules
# go out in the order tests/conftest.py sets (Airflow runs first). TEST_WORKERS=0 runs the
# tests in pytest's own process (for -s and --pdb).
TEST_WORKERS ?= 2

test: $(STAMP) $(DBT_MANIFEST) $(SOURCES_PYC) ## [PYTEST_ARGS=...] [TEST_WORKERS=2] | the test suite
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(STAMP) ## | ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## | ruff format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-resolve the pinned requirements from requirements.in.
lock: $(STAMP) ## | re-resolve requirements*.txt from requirements*.in
	$(BIN)/uv pip compile requirements.in --python-version 3.11 -o requirements.txt
	$(BIN)/uv pip compile requirements-dev.in --python-version 3.11 -o requirements-dev.txt

bench: $(STAMP) $(DBT_MANIFEST) $(SOURCES_PYC) ## [QUICK=1] | benchmark at network scale (QUICK=1: about a minute)
	$(BIN)/python -m bench.run $(if $(QUICK),--quick,)

airflow: $(STAMP) $(DBT_MANIFEST) $(SOURCES_PYC) ## [AIRFLOW_PORT=8080] | local Airflow UI with Forms emulator and SMTP sink
	bash scripts/airflow_local.sh

sql: $(STAMP) ## [QUERY=file.sql] | SQL prompt on the warehouse, or run a file's statements
	$(BIN)/python scripts/sql.py $(if $(QUERY),--file '$(QUERY)',)

# Every partner unless COUNTRY is given; SHOTS=1 adds 375/600 px screenshots (Chromium).
preview: $(STAMP) $(SOURCES_PYC) ## [MONTH=2023-03] [COUNTRY=cc] [SHOTS=1] | render partner reports to data/preview/ (every partner unless COUNTRY), send nothing
	$(BIN)/python scripts/preview_report.py $(if $(COUNTRY),--country '$(COUNTRY)',) --month '$(MONTH)' --out data/preview $(if $(SHOTS),--shots,)

programme-report: $(STAMP) ## | the programme report (HTML + PDF, English and every partner language) into data/programme_report/
	$(BIN)/python scripts/programme_report.py --out data/programme_report

backfill: $(STAMP) $(DBT_MANIFEST) $(SOURCES_PYC) ## [DELIVER=1] [WAREHOUSE=uri] | every programme month through Airflow, then a summary
	$(BIN)/python scripts/demo.py --backfill $(if $(DELIVER),--deliver,) $(if $(WAREHOUSE),--warehouse '$(WAREHOUSE)',)

# Only values given on the command line count: an EMAIL variable that happens to be in the
# environment (some mail tools set one) must never pick whom to erase.
forget_arg = $(if $(filter command line,$(origin $(1))),$(2) '$(subst ','\'',$($(1)))')

forget: $(STAMP) ## EMAIL=a@b.org or MEMBER=m_... | erase one member from every table, rebuild the marts
	@$(BIN)/python scripts/forget.py $(call forget_arg,EMAIL,--email) $(call forget_arg,MEMBER,--member)

catalog: $(STAMP) ## | dbt docs of the warehouse (tables, columns, tests, lineage) in data/catalog/index.html, offline
	$(BIN)/python scripts/catalog.py

sample-data: $(STAMP) ## | regenerate the sample Forms data in include/sample/emulator
	$(BIN)/python -m bsin_dev.sample_data --out include/sample/emulator

# Draft mapping of a partner's form, read through the google_forms_default connection
# (EMULATOR=<folder> serves local emulator data instead); see docs/mapping.md.
KIND ?= monthly
map-form: $(STAMP) ## FORM=<formId> COUNTRY=<cc> [KIND=monthly] [EMULATOR=dir] | draft a mapping YAML from a partner's form
	@test -n "$(FORM)" || { echo "usage: make map-form FORM=<formId> COUNTRY=<cc> KIND=monthly"; exit 2; }
	$(BIN)/python -m bsin_dev.map_form --form $(FORM) --country $(COUNTRY) --kind $(KIND) $(if $(LANGUAGE),--language $(LANGUAGE),) $(if $(OUT),--out $(OUT),) $(if $(EMULATOR),--emulator $(EMULATOR),)

clean: ## | remove data/, airflow_home/ and caches
	rm -rf data airflow_home .pytest_cache
