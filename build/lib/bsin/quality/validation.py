"""Great Expectations (GX Core 1.x) suites for the canonical data, run on one merged month.

The suites are defined in code (:func:`feedback_expectations`, :func:`self_assessment_expectations`)
and run on a pandas DataFrame that holds every country of the month, with ``country`` as a
column: importing GX costs 10-17 s per process, so the month is validated once rather than
once per country (measured in docs/data-quality.md).

Row-level failures come back from GX with ``result_format`` COMPLETE and
``unexpected_index_column_names`` = (country, response_id) and become quarantine rows
(rule = expectation type, field = column). Failures that are not about rows (a column
missing or of the wrong type, no responses from a country with members, too large a share
quarantined, an implausible response rate) raise ValidationFailed.

``great_expectations`` is imported inside functions only, never at module import, so that
DAG parsing and the other tasks do not pay for it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from bsin.core.config import PartnersConfig, ValidationLimits
from bsin.core.months import add_months, month_run_id
from bsin.core.paths import data_dir
from bsin.reporting.text import QUARANTINE_VALUE_LIMIT, truncate
from bsin.transform.harmonise import (
    FEEDBACK_COLUMNS,
    FEEDBACK_DTYPES,
    QUARANTINE_COLUMNS,
    QUARANTINE_DTYPES,
    SELF_ASSESSMENT_COLUMNS,
    SELF_ASSESSMENT_DTYPES,
)
from bsin.transform.mapping import MONTHLY_FIELDS, SELF_ASSESSMENT_FIELDS, FieldSpec

INDEX_COLUMNS = ["country", "response_id"]
FEEDBACK_SUITE = "bsin_feedback"
SELF_ASSESSMENT_SUITE = "bsin_self_assessment"
MEMBER_ID_REGEX = r"^m_[0-9a-f]{20}$"

_TYPE_LISTS = {
    "Int64": ["Int64Dtype", "Int32Dtype", "int64", "int32"],
    "boolean": ["BooleanDtype", "bool"],
    "string": ["StringDtype"],
    "datetime64[us]": ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64[s]"],
}


class ValidationFailed(RuntimeError):
    """A batch-level check failed; ``failures`` lists each, ``outcome`` holds the row results."""

    def __init__(self, failures: list[str], outcome: ValidationOutcome) -> None:
        super().__init__(
            f"validation of {outcome.summary.get('suite')} for {outcome.summary.get('month')} failed:\n"
            + "\n".join(f"  - {f}" for f in failures)
        )
        self.failures = failures
        self.outcome = outcome


@dataclass
class ValidationOutcome:
    """Rows that passed, quarantine rows (QUARANTINE_COLUMNS) for those that did not, a summary."""

    valid_df: pd.DataFrame
    quarantine_df: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


# --- suites ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """A GX expectation described without importing GX: class name and keyword arguments."""

    name: str
    kwargs: dict[str, Any]


def _set_regex(values: Iterable[str]) -> str:
    alternatives = "|".join(sorted(values))
    return rf"^(?:{alternatives})(?:;(?:{alternatives}))*$"


def _field_expectations(spec: FieldSpec) -> list[Expectation]:
    out: list[Expectation] = []
    col = spec.name
    if spec.answer_required:
        out.append(Expectation("ExpectColumnValuesToNotBeNull", {"column": col}))
    if spec.kind == "int":
        out.append(
            Expectation(
                "ExpectColumnValuesToBeBetween",
                {"column": col, "min_value": spec.low, "max_value": spec.high},
            )
        )
    elif spec.kind == "bool":
        out.append(
            Expectation("ExpectColumnValuesToBeInSet", {"column": col, "value_set": [True, False]})
        )
    elif spec.kind == "enum":
        out.append(
            Expectation(
                "ExpectColumnValuesToBeInSet", {"column": col, "value_set": list(spec.values)}
            )
        )
    elif spec.kind == "set":
        out.append(
            Expectation(
                "ExpectColumnValuesToMatchRegex", {"column": col, "regex": _set_regex(spec.values)}
            )
        )
    return out


def _type_expectations(dtypes: dict[str, str]) -> list[Expectation]:
    return [
        Expectation(
            "ExpectColumnValuesToBeInTypeList", {"column": col, "type_list": _TYPE_LISTS[dtype]}
        )
        for col, dtype in dtypes.items()
        if dtype in _TYPE_LISTS
    ]


def feedback_expectations(
    countries: Iterable[str], month: date, first_month: date | None = None
) -> list[Expectation]:
    """The canonical feedback suite for ``month``'s merged candidates of ``countries``.

    ``first_month`` (the programme's first month) is the earliest month feedback may be
    about; without it, the year before ``month``.
    """
    earliest = add_months(month, -12)
    if first_month is not None:
        earliest = max(earliest, first_month)
    out = [Expectation("ExpectColumnToExist", {"column": c}) for c in FEEDBACK_COLUMNS]
    out += _type_expectations(FEEDBACK_DTYPES)
    for col in ("country", "feedback_month", "member_id", "response_id", "submitted_at"):
        out.append(Expectation("ExpectColumnValuesToNotBeNull", {"column": col}))
    out += [
        Expectation(
            "ExpectColumnValuesToBeInSet", {"column": "country", "value_set": sorted(countries)}
        ),
        Expectation(
            "ExpectColumnValuesToMatchRegex", {"column": "member_id", "regex": MEMBER_ID_REGEX}
        ),
        # A response is about a past month: never later than the report month, never before
        # the programme and at most a year earlier (a mistyped year in a month question).
        Expectation(
            "ExpectColumnValuesToBeBetween",
            {"column": "feedback_month", "min_value": earliest, "max_value": month},
        ),
        Expectation(
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["country", "feedback_month", "member_id"]},
        ),
        # Response ids are unique per form (one monthly form per country), not across
        # forms: two countries' forms may return the same id and both rows load.
        Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["country", "response_id"]}),
    ]
    for spec in MONTHLY_FIELDS.values():
        if spec.name != "feedback_month":
            out += _field_expectations(spec)
    return out


def self_assessment_expectations(countries: Iterable[str]) -> list[Expectation]:
    """The canonical self-assessment suite."""
    out = [Expectation("ExpectColumnToExist", {"column": c}) for c in SELF_ASSESSMENT_COLUMNS]
    out += _type_expectations(SELF_ASSESSMENT_DTYPES)
    for col in ("country", "member_id", "response_id", "submitted_at"):
        out.append(Expectation("ExpectColumnValuesToNotBeNull", {"column": col}))
    out += [
        Expectation(
            "ExpectColumnValuesToBeInSet", {"column": "country", "value_set": sorted(countries)}
        ),
        Expectation(
            "ExpectColumnValuesToMatchRegex", {"column": "member_id", "regex": MEMBER_ID_REGEX}
        ),
        Expectation(
            "ExpectCompoundColumnsToBeUnique", {"column_list": ["country", "wave", "member_id"]}
        ),
        Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["country", "response_id"]}),
    ]
    for spec in SELF_ASSESSMENT_FIELDS.values():
        out += _field_expectations(spec)
    return out


# --- running GX ------------------------------------------------------------------------------


def _conform(df: pd.DataFrame, columns: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
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
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
    for e in expectations:
        suite.add_expectation(getattr(gxe, e.name)(**e.kwargs))
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


def _quarantine(rows: list[dict[str, Any]], form_kind: str, report_month: date) -> pd.DataFrame:
    records = [{**r, "form_kind": form_kind, "report_month": report_month} for r in rows]
    df = pd.DataFrame.from_records(records, columns=QUARANTINE_COLUMNS).astype(QUARANTINE_DTYPES)
    # One row per (response, rule, field): the quarantine table's key.
    df = df.drop_duplicates(["country", "response_id", "rule", "field"])
    return df.sort_values(["country", "response_id", "rule", "field"]).reset_index(drop=True)


def _docs_site(
    data_docs_dir: Path | str | bool | DataDocsSite | None, month: date, countries: Iterable[str]
) -> tuple[DataDocsSite | None, bool]:
    """(site, whether this call builds it): a caller's site is built by the caller."""
    if isinstance(data_docs_dir, DataDocsSite):
        return data_docs_dir, False
    if data_docs_dir is None or data_docs_dir is False:
        return None, False
    folder = data_dir() / "gx" / "data_docs" if data_docs_dir is True else Path(data_docs_dir)
    return DataDocsSite(folder, month, countries), True


#: Reasons a country's month is held back (``country_month_status.status``), each one
#: country's own problem that never holds back another country.
COUNTRY_PROBLEMS = ("no_responses", "quarantined", "low_response_rate", "roster", "not_configured")


def _batch_checks(
    df: pd.DataFrame,
    quarantine: pd.DataFrame,
    partners: PartnersConfig,
    month: date,
    countries: Iterable[str],
    limits: ValidationLimits,
    prior_quarantined: dict[str, int],
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, dict[str, Any]]]:
    """Per-country batch checks: ``{country: [(status, message), ...]}`` and the counts."""
    problems: dict[str, list[tuple[str, str]]] = {}
    per_country: dict[str, dict[str, Any]] = {}
    bad_ids = (
        quarantine.groupby("country")["response_id"].nunique().to_dict() if len(quarantine) else {}
    )
    for country in sorted(countries):
        try:
            members = partners.partner(country).members_in(month)
        except KeyError:
            problems.setdefault(country, []).append(
                ("not_configured", f"{country}: rows for a country that is not in partners.yaml")
            )
            continue
        candidates = int((df["country"] == country).sum()) if len(df) else 0
        quarantined = int(bad_ids.get(country, 0))
        earlier = int(prior_quarantined.get(country, 0))
        responses = candidates + earlier
        loaded = candidates - quarantined
        share = (quarantined + earlier) / responses if responses else 0.0
        rate = loaded / members if members else None
        per_country[country] = {
            "members": members,
            "candidates": candidates,
            "quarantined": quarantined + earlier,
            "loaded": loaded,
            "quarantined_share": round(share, 4),
            "response_rate": None if rate is None else round(rate, 4),
        }
        failures: list[tuple[str, str]] = problems.setdefault(country, [])
        if members and responses == 0:
            failures.append(
                (
                    "no_responses",
                    f"{country}: no responses for {month:%Y-%m} although {members} members are active; "
                    "check that the form still accepts responses and ask the partner to remind its members; "
                    "if nobody was expected to answer, set active_members_by_month to 0 in partners.yaml",
                )
            )
            continue
        if share > limits.max_quarantine_share:
            failures.append(
                (
                    "quarantined",
                    f"{country}: {quarantined + earlier} of {responses} responses quarantined "
                    f"({share:.0%} > max_quarantine_share {limits.max_quarantine_share:.0%} in "
                    "programme.yaml); read the quarantine table for the reasons",
                )
            )
        if rate is not None and rate < limits.min_response_rate:
            failures.append(
                (
                    "low_response_rate",
                    f"{country}: response rate {rate:.0%} is below min_response_rate "
                    f"{limits.min_response_rate:.0%} in programme.yaml",
                )
            )
        if rate is not None and rate > 1:
            failures.append(
                (
                    "roster",
                    f"{country}: {loaded} members answered but partners.yaml lists {members} active "
                    f"members for {month:%Y-%m}; update active_members(_by_month)",
                )
            )
    return {c: p for c, p in problems.items() if p}, per_country


def _require_index(df: pd.DataFrame, suite: str, month: date) -> None:
    missing = [c for c in INDEX_COLUMNS if c not in df.columns]
    if missing:
        empty = pd.DataFrame(columns=QUARANTINE_COLUMNS).astype(QUARANTINE_DTYPES)
        outcome = ValidationOutcome(
            df.iloc[0:0], empty, {"suite": suite, "month": month.isoformat()}
        )
        raise ValidationFailed(
            [f"column(s) {missing} missing: rows cannot be identified; check the harmonise step"],
            outcome,
        )


def validate_feedback_month(
    df: pd.DataFrame,
    partners: PartnersConfig,
    month: date,
    data_docs_dir: Path | str | bool | DataDocsSite | None = None,
    *,
    countries: Iterable[str] | None = None,
    limits: ValidationLimits | None = None,
    prior_quarantined: dict[str, int] | None = None,
    first_month: date | None = None,
) -> ValidationOutcome:
    """Validate the month's merged feedback candidates (all countries, ``country`` a column).

    ``first_month``: the programme's first month; feedback about an earlier month is
    quarantined.

    ``countries``: the countries expected this month (default: every partner). A country
    with active members but no rows, too large a quarantined share or an impossible
    response rate is held back alone: its rows leave ``valid_df`` and
    ``summary["country_problems"]`` maps it to ``[(status, message), ...]`` (status one of
    COUNTRY_PROBLEMS). ``prior_quarantined`` counts responses each country already lost in
    harmonisation, so the quarantined share covers both steps.
    ``data_docs_dir``: a folder (or True for data/gx/data_docs) to build Data Docs into, or
    a :class:`DataDocsSite` the caller builds after its other suites of the month.
    Raises ValidationFailed (with the outcome attached) only when a check over the whole
    batch fails (a missing column): then no row can be trusted.
    """
    expected = sorted(countries) if countries is not None else partners.countries
    limits = limits or ValidationLimits()
    _require_index(df, FEEDBACK_SUITE, month)
    frame = _conform(df, FEEDBACK_COLUMNS, FEEDBACK_DTYPES)
    site, build = _docs_site(data_docs_dir, month, expected)
    rows, batch_failures, info = run_suite(
        frame, FEEDBACK_SUITE, feedback_expectations(partners.countries, month, first_month), site
    )
    if site is not None and build:
        info["data_docs"] = site.build()
    quarantine = _quarantine(rows, "monthly", month)
    bad = set(zip(quarantine["country"], quarantine["response_id"], strict=True))
    keep = [(c, r) not in bad for c, r in zip(frame["country"], frame["response_id"], strict=True)]
    valid = frame.loc[keep, [c for c in FEEDBACK_COLUMNS if c in frame.columns]].reset_index(
        drop=True
    )
    problems, per_country = _batch_checks(
        frame, quarantine, partners, month, expected, limits, prior_quarantined or {}
    )
    # A country with a batch problem is held back alone: its rows are not loaded, every
    # other country's are (issue 9: countries are independent).
    if problems:
        valid = valid.loc[~valid["country"].isin(list(problems))].reset_index(drop=True)
    summary = {
        **info,
        "month": month.isoformat(),
        "rows": len(frame),
        "valid": len(valid),
        "quarantined": len(bad),
        "countries": per_country,
        "batch_failures": batch_failures,
        "country_problems": problems,
    }
    outcome = ValidationOutcome(valid, quarantine, summary)
    if batch_failures:
        raise ValidationFailed(batch_failures, outcome)
    return outcome


def validate_self_assessment(
    df: pd.DataFrame,
    partners: PartnersConfig,
    month: date,
    data_docs_dir: Path | str | bool | DataDocsSite | None = None,
) -> ValidationOutcome:
    """Validate self-assessment rows (all countries); quarantine rows carry ``month``.

    Only column-level problems fail the batch: self-assessments are few and arrive at
    joining and at the end, so no response-rate check applies.
    """
    _require_index(df, SELF_ASSESSMENT_SUITE, month)
    frame = _conform(df, SELF_ASSESSMENT_COLUMNS, SELF_ASSESSMENT_DTYPES)
    site, build = _docs_site(data_docs_dir, month, partners.countries)
    rows, batch_failures, info = run_suite(
        frame, SELF_ASSESSMENT_SUITE, self_assessment_expectations(partners.countries), site
    )
    if site is not None and build:
        info["data_docs"] = site.build()
    quarantine = _quarantine(rows, "self_assessment", month)
    bad = set(zip(quarantine["country"], quarantine["response_id"], strict=True))
    keep = [(c, r) not in bad for c, r in zip(frame["country"], frame["response_id"], strict=True)]
    valid = frame.loc[keep, [c for c in SELF_ASSESSMENT_COLUMNS if c in frame.columns]].reset_index(
        drop=True
    )
    summary = {
        **info,
        "month": month.isoformat(),
        "rows": len(frame),
        "valid": len(valid),
        "quarantined": len(bad),
        "batch_failures": batch_failures,
    }
    outcome = ValidationOutcome(valid, quarantine, summary)
    if batch_failures:
        raise ValidationFailed(batch_failures, outcome)
    return outcome
