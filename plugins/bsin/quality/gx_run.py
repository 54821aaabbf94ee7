"""Running a suite with GX Core 1.x on one merged month: an ephemeral context, the Data Docs
site, and GX's unexpected rows turned into quarantine rows with a readable reason.

``great_expectations`` is imported inside functions only, never at module import, so that
DAG parsing and the other tasks do not pay for it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from bsin.core.months import month_run_id
from bsin.core.paths import data_dir
from bsin.quality.expectations import INDEX_COLUMNS, Expectation
from bsin.reporting.text import QUARANTINE_VALUE_LIMIT, truncate
from bsin.transform.schema import QUARANTINE_COLUMNS, QUARANTINE_DTYPES


def conform(df: pd.DataFrame, columns: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    """Bring a frame read back from the warehouse to the canonical dtypes where it can be.

    DuckDB returns DATE as datetime64 and PostgreSQL as ``date``; an int column with NULLs may
    come back as float. A column that cannot be converted is left as it is, so that the type
    expectation reports it instead of this function raising.
    """
    out = df.copy()
    if "feedback_month" in out.columns:
        out["feedback_month"] = [
            v.date() if isinstance(v, pd.Timestamp) else (None if pd.isna(v) else v)
            for v in out["feedback_month"]
        ]
    for col in columns:
        if col not in out.columns or col == "feedback_month":
            continue
        try:
            out[col] = out[col].astype(dtypes[col])
        except (TypeError, ValueError):
            pass
    return out


GX_LOG_LEVEL_ENV = "BSIN_GX_LOG_LEVEL"


def quiet_gx_logging() -> None:
    """Keep GX's own loggers at WARNING (``BSIN_GX_LOG_LEVEL=INFO`` or ``DEBUG`` turns them up).

    Call before and after importing GX. At INFO, GX logs every store, data source and
    renderer it sets up: some 200 lines per validate task that drown the pipeline's own.
    """
    wanted = os.environ.get(GX_LOG_LEVEL_ENV, "WARNING").strip().upper() or "WARNING"
    level = logging.getLevelName(wanted)
    if not isinstance(level, int):
        logging.getLogger(__name__).warning(
            "%s=%r is not a log level (DEBUG, INFO, WARNING, ERROR); using WARNING",
            GX_LOG_LEVEL_ENV,
            wanted,
        )
        level = logging.WARNING
    logging.getLogger("great_expectations").setLevel(level)
    # Some GX modules pin their own logger to INFO at import; let them follow the parent.
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith("great_expectations.") and isinstance(logger, logging.Logger):
            logger.setLevel(logging.NOTSET)


def _gx_context(data_docs_dir: Path | None) -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no network calls from tasks
    quiet_gx_logging()  # GX logs at INFO while it is being imported
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    quiet_gx_logging()

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if data_docs_dir is not None:
        context.add_data_docs_site(
            "bsin",
            {
                "class_name": "SiteBuilder",
                # No "how to" footer: it links to GX tutorials and needs Bootstrap's script.
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(data_docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return context


class DataDocsSite:
    """One Data Docs site for one report month: every suite run through it is on its index.

    GX keeps validation results in its (here ephemeral) context, and a site build lists
    only what that context holds, so the suites of a month share one context and the site
    is built once, after the last suite, by :meth:`build`. The build replaces the previous
    site in ``directory``: the index shows each suite's latest validation.
    """

    def __init__(self, directory: Path | str, month: date, countries: Iterable[str]) -> None:
        self.directory = Path(directory)
        self.month = month
        self.countries = sorted(countries)
        self.suites: list[str] = []
        self._context: Any = None
        self._source: Any = None

    @property
    def context(self) -> Any:
        """The GX context the suites of this site run in (created on first use)."""
        if self._context is None:
            self._context = _gx_context(self.directory)
        return self._context

    def data_source(self) -> Any:
        """The pandas data source every suite's asset of this site hangs off."""
        if self._source is None:
            self._source = self.context.data_sources.add_pandas("bsin")
        return self._source

    def run_name(self) -> str:
        """GX run name of the site's validations: the report month, as Airflow's run id."""
        return month_run_id(self.month)

    def build(self) -> str:
        """Write the site (offline, titled with month and countries); return the index URI."""
        from bsin.quality.data_docs import clear_site, make_offline

        self.directory.mkdir(parents=True, exist_ok=True)
        clear_site(self.directory)
        self.context.build_data_docs(site_names=["bsin"])
        make_offline(self.directory, f"{self.month:%Y-%m}", self.countries)
        return (self.directory / "index.html").resolve().as_uri()


def run_suite(
    df: pd.DataFrame,
    suite_name: str,
    expectations: list[Expectation],
    site: DataDocsSite | None = None,
) -> tuple[list[dict[str, Any]], list[str], dict[str, Any]]:
    """Run ``expectations`` on ``df`` with GX; return (row failures, batch failures, info).

    A row failure is ``{country, response_id, rule, field, reason, value}``. With ``site``
    the validation is recorded for that Data Docs site (built later by ``site.build()``).
    """
    started = time.perf_counter()
    quiet_gx_logging()
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.core.run_identifier import RunIdentifier

    imported = time.perf_counter()
    if site is not None:
        context, source = site.context, site.data_source()
        run_id = RunIdentifier(run_name=site.run_name())
        site.suites.append(suite_name)
    else:
        context = _gx_context(None)
        source = context.data_sources.add_pandas("bsin")
        run_id = None
    asset = source.add_dataframe_asset(suite_name)
    batch = asset.add_batch_definition_whole_dataframe("month")
    # The suite is stored once with all its expectations: ``suite.add_expectation`` on a
    # stored suite re-serialises the whole suite per call (quadratic; about 5 s a month for
    # the feedback and self-assessment suites, docs/performance.md).
    suite = context.suites.add(
        gx.ExpectationSuite(
            name=suite_name,
            expectations=[getattr(gxe, e.name)(**e.kwargs) for e in expectations],
        )
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": df},
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": INDEX_COLUMNS,
            "return_unexpected_index_query": False,
        },
        run_id=run_id,
    )
    rows: list[dict[str, Any]] = []
    batch_failures: list[str] = []
    for r in result.results:
        if r.success:
            continue
        config = r.expectation_config
        rule = config.type
        kwargs = dict(config.kwargs)
        column = kwargs.get("column") or ",".join(kwargs.get("column_list") or [])
        exception = r.exception_info or {}
        if exception.get("raised_exception"):
            batch_failures.append(
                f"{rule} on {column}: GX raised {exception.get('exception_message')}"
            )
            continue
        index_list = (r.result or {}).get("unexpected_index_list")
        if not index_list:
            observed = (r.result or {}).get("observed_value")
            batch_failures.append(
                f"{rule} on {column or 'the table'} failed"
                + (f" (observed {observed!r})" if observed is not None else "")
            )
            continue
        for entry in index_list:
            rows.append(
                {
                    "country": entry.get("country"),
                    "response_id": entry.get("response_id"),
                    "rule": rule,
                    "field": column,
                    "reason": _reason(rule, kwargs, column, entry),
                    "value": _value(kwargs, entry),
                }
            )
    info: dict[str, Any] = {
        "suite": suite_name,
        "expectations": len(expectations),
        "failed_expectations": sum(1 for r in result.results if not r.success),
        "gx_import_seconds": round(imported - started, 3),
    }
    info["gx_seconds"] = round(time.perf_counter() - started, 3)
    return rows, batch_failures, info


def _value(kwargs: dict[str, Any], entry: dict[str, Any]) -> str:
    cols = kwargs.get("column_list") or [kwargs.get("column")]
    values = [entry.get(c) for c in cols if c]
    text = "; ".join(
        "" if v is None or (not isinstance(v, list) and pd.isna(v)) else str(v) for v in values
    )
    return truncate(text, QUARANTINE_VALUE_LIMIT)


def _num(value: Any) -> Any:
    # GX stores numeric bounds as floats: show 5, not 5.0.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _reason(rule: str, kwargs: dict[str, Any], column: str, entry: dict[str, Any]) -> str:
    value = _value(kwargs, entry)
    if rule == "expect_column_values_to_not_be_null":
        return f"{column} is empty"
    if rule == "expect_column_values_to_be_between":
        return f"{column} = {value} is outside {_num(kwargs.get('min_value'))}..{_num(kwargs.get('max_value'))}"
    if rule == "expect_column_values_to_be_in_set":
        return f"{column} = {value!r} is not one of {kwargs.get('value_set')}"
    if rule == "expect_column_values_to_match_regex":
        return f"{column} = {value!r} does not match {kwargs.get('regex')}"
    if rule == "expect_column_values_to_be_unique":
        return f"{column} = {value!r} occurs in more than one row"
    if rule == "expect_compound_columns_to_be_unique":
        return f"more than one row with the same {column} ({value})"
    return f"{column}: failed {rule}"


def quarantine_frame(
    rows: list[dict[str, Any]], form_kind: str, report_month: date
) -> pd.DataFrame:
    records = [{**r, "form_kind": form_kind, "report_month": report_month} for r in rows]
    df = pd.DataFrame.from_records(records, columns=QUARANTINE_COLUMNS).astype(QUARANTINE_DTYPES)
    # One row per (response, rule, field): the quarantine table's key.
    df = df.drop_duplicates(["country", "response_id", "rule", "field"])
    return df.sort_values(["country", "response_id", "rule", "field"]).reset_index(drop=True)


def docs_site(
    data_docs_dir: Path | str | bool | DataDocsSite | None, month: date, countries: Iterable[str]
) -> tuple[DataDocsSite | None, bool]:
    """(site, whether this call builds it): a caller's site is built by the caller."""
    if isinstance(data_docs_dir, DataDocsSite):
        return data_docs_dir, False
    if data_docs_dir is None or data_docs_dir is False:
        return None, False
    folder = data_dir() / "gx" / "data_docs" if data_docs_dir is True else Path(data_docs_dir)
    return DataDocsSite(folder, month, countries), True
