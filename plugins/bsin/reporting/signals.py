"""Adaptation signals: rules over the indicators, kept as data in ``signals.yaml``.

A rule says which quantity to compare (an indicator's value, its change on the previous
month, or its distance from the 3-month or running mean), how, against which threshold,
for which scope, and what to recommend. Two rule types exist:

* ``threshold``: over ``indicator_value`` rows of the month;
* ``uncovered_need``: over ``need_coverage_status``: a need named by at least
  ``threshold`` of a scope's baseline members that no programme topic covered so far.

Both are evaluated in SQL built only from whitelisted fragments; the rule's numbers travel
as parameters. Adding a rule of an existing type needs only YAML.
"""

from __future__ import annotations

import logging
import re
import string
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bsin.core.config import load_yaml_model
from bsin.core.languages import available_languages
from bsin.core.paths import config_dir
from bsin.warehouse.db import Warehouse, month_param
from bsin.warehouse.marts import INDICATORS, NETWORK

log = logging.getLogger(__name__)

# Values compared at a threshold may carry floating-point noise (a mean of three means);
# a rule "fires at the threshold" within this tolerance, on both backends alike.
EPSILON = 1e-9

MEASURES: dict[str, str] = {
    "value": "value",
    "delta": "delta",
    "vs_mean_3m": "value - mean_3m",
    "vs_running_mean": "value - running_mean",
}
SCOPES: dict[str, str] = {
    "country": f"and scope_country <> '{NETWORK}'",
    "network": f"and scope_country = '{NETWORK}'",
    "all": "",
}
PLACEHOLDERS = ("country", "month", "indicator", "value", "observed", "threshold", "subject")
SIGNAL_COLUMNS = [
    "country",
    "month",
    "rule_id",
    "subject",
    "indicator",
    "measure",
    "value",
    "observed",
    "comparison",
    "threshold",
    "recommendation",
]


# The number specs advice texts use: sign, precision, fixed or percent ({value:+.1f}).
_NUMBER_SPEC = re.compile(r"^(?P<sign>\+)?\.(?P<decimals>\d)(?P<type>[f%])$")


class _NoneSafeFormatter(string.Formatter):
    """``str.format`` that prints a missing number as ``n/a`` whatever its format spec, and
    numbers in the report language through ``bsin.reporting.formatting`` (decimal comma, minus
    sign, half-up rounding), so the advice reads like the rest of the report."""

    def __init__(self, language: str = "en") -> None:
        super().__init__()
        self.language = language

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return "n/a"
        match = _NUMBER_SPEC.match(format_spec)
        if match and isinstance(value, (int, float)) and not isinstance(value, bool):
            from bsin.reporting.formatting import Formatter

            fmt = Formatter(self.language)
            decimals, signed = int(match["decimals"]), bool(match["sign"])
            if match["type"] == "%":
                return fmt.percent(value, decimals=decimals, signed=signed)
            return fmt.number(value, decimals=decimals, signed=signed)
        return super().format_field(value, format_spec)


_FORMATTER = _NoneSafeFormatter()


def _check_template(text: str) -> str:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ValueError(
            f"bad placeholder syntax ({exc}): write placeholders like {{value:.1f}}"
        ) from None
    unknown = sorted(f for f in fields if f not in PLACEHOLDERS)
    if unknown:
        raise ValueError(f"unknown placeholder(s) {unknown}: use only {', '.join(PLACEHOLDERS)}")
    sample = {
        "country": "SE",
        "month": "2023-01",
        "indicator": "nps",
        "value": 0.5,
        "observed": -0.5,
        "threshold": 0.4,
        "subject": "public procurement",
    }
    try:
        _FORMATTER.format(text, **sample)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"a format spec does not fit a number ({exc}): use e.g. {{value:.1f}}"
        ) from None
    return text


class SignalRule(BaseModel):
    """One adaptation-signal rule (see the header of signals.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: Literal["threshold", "uncovered_need"] = "threshold"
    indicator: str | None = None
    measure: Literal["value", "delta", "vs_mean_3m", "vs_running_mean"] = "value"
    comparison: Literal["<", "<=", ">", ">="] = "<"
    threshold: float
    scope: Literal["country", "network", "all"] = "country"
    min_n: int = Field(0, ge=0)
    recommendation: str = Field(min_length=1)
    translations: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _type_defaults(cls, data: Any) -> Any:
        # An uncovered-need rule fires above a share, so its natural default is ">=".
        if isinstance(data, dict) and data.get("type") == "uncovered_need":
            data = {"comparison": ">=", **data}
        return data

    @field_validator("recommendation")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value)

    @field_validator("translations")
    @classmethod
    def _translations(cls, value: dict[str, str]) -> dict[str, str]:
        languages = available_languages()
        for lang, text in value.items():
            if lang not in languages or lang == "en":
                others = [x for x in languages if x != "en"]
                raise ValueError(
                    f"translation language {lang!r} unknown: use one of {others}, the "
                    "languages with a file in include/templates/i18n/ "
                    "(English goes in 'recommendation')"
                )
            try:
                _check_template(text)
            except ValueError as exc:
                raise ValueError(f"translation {lang}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _type_fields(self) -> SignalRule:
        if self.type == "threshold":
            if not self.indicator:
                raise ValueError("a threshold rule needs 'indicator': add it")
            if self.indicator not in INDICATORS:
                raise ValueError(
                    f"unknown indicator {self.indicator!r}: use one of {', '.join(INDICATORS)}"
                )
        else:
            if self.indicator not in (None, "need_share"):
                raise ValueError("an uncovered_need rule has no 'indicator': remove it")
            if self.measure != "value":
                raise ValueError(
                    "an uncovered_need rule compares the need's share: remove 'measure'"
                )
            if self.comparison not in (">", ">="):
                raise ValueError("an uncovered_need rule fires above a share: use '>=' or '>'")
            if not 0 <= self.threshold <= 1:
                raise ValueError("an uncovered_need threshold is a share: write it as 0..1")
        return self

    @property
    def indicator_name(self) -> str:
        """The indicator the signal row names (``need_share`` for uncovered needs)."""
        return self.indicator or "need_share"

    def render(self, row: dict[str, Any], language: str = "en") -> str:
        """The recommendation for one fired row, in ``language`` (English as fallback)."""
        template = self.translations.get(language, self.recommendation)
        month = row["month"]
        values = {
            "country": row["country"],
            "month": month.strftime("%Y-%m") if isinstance(month, date) else str(month),
            "indicator": row["indicator"],
            "value": row["value"],
            "observed": row["observed"],
            "threshold": row["threshold"],
            "subject": str(row.get("subject") or "").replace("_", " "),
        }
        # English advice (no translation) keeps English number format.
        number_language = language if language in self.translations else "en"
        text = _NoneSafeFormatter(number_language).format(template, **values)
        # YAML folding leaves line breaks and runs of spaces; a no-break space (CLDR puts
        # one before "%" in several languages) is kept.
        return re.sub(r"[ \t\r\n]+", " ", text).strip()


class SignalsConfig(BaseModel):
    """signals.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[SignalRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> SignalsConfig:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"rule id(s) {dupes} used twice: give every rule its own id")
        return self

    def rule(self, rule_id: str) -> SignalRule | None:
        """The rule with ``rule_id``, or None when the config no longer has it."""
        return next((r for r in self.rules if r.id == rule_id), None)


def load_signals(path: Path | None = None) -> SignalsConfig:
    """Load and validate ``signals.yaml`` (errors name the file, the key and the fix)."""
    return load_yaml_model(path or config_dir() / "signals.yaml", SignalsConfig)


# Shift of the threshold per comparison: strict comparisons do not fire on a value that
# equals the threshold up to float noise, inclusive ones do.
_BOUND_SHIFT = {"<": -EPSILON, "<=": EPSILON, ">": EPSILON, ">=": -EPSILON}


def _bound(rule: SignalRule) -> float:
    return rule.threshold + _BOUND_SHIFT[rule.comparison]


def _rule_sql(rule: SignalRule) -> str:
    # Only whitelisted fragments are spliced in; every rule value is a bound parameter.
    cmp = rule.comparison
    scope = SCOPES[rule.scope]
    if rule.type == "threshold":
        expr = MEASURES[rule.measure]
        return (
            "select scope_country as country, month, indicator, value, "  # noqa: S608
            f"{expr} as observed, '' as subject "
            "from indicator_value "
            "where month = :month and indicator = :indicator and n >= :min_n "
            f"and {expr} is not null and {expr} {cmp} :bound {scope} "
            "order by scope_country"
        )
    return (
        "select scope_country as country, month, 'need_share' as indicator, "  # noqa: S608
        "share as value, share as observed, need as subject "
        "from need_coverage_status "
        "where month = :month and not covered_so_far and baseline_members >= :min_n "
        f"and share {cmp} :bound {scope} "
        "order by scope_country, need"
    )


def fired_signals(
    wh: Warehouse, month: date | str, config: SignalsConfig | None = None
) -> pd.DataFrame:
    """The signals that fire in ``month`` (columns of ``adaptation_signal``), not stored."""
    month = month_param(month)
    config = config or load_signals()
    rows: list[dict[str, Any]] = []
    for rule in config.rules:
        params: dict[str, Any] = {"month": month, "min_n": rule.min_n, "bound": _bound(rule)}
        if rule.type == "threshold":
            params["indicator"] = rule.indicator
        for rec in wh.query_df(_rule_sql(rule), params).to_dict("records"):
            row = {
                "country": rec["country"],
                "month": month,
                "rule_id": rule.id,
                "subject": rec["subject"] or "",
                "indicator": rule.indicator_name,
                "measure": rule.measure,
                "value": rec["value"],
                "observed": rec["observed"],
                "comparison": rule.comparison,
                "threshold": rule.threshold,
            }
            row["recommendation"] = rule.render(row)
            rows.append(row)
    df = pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
    return df.sort_values(["country", "rule_id", "subject"], ignore_index=True)


def evaluate_signals(
    wh: Warehouse, month: date | str, config: SignalsConfig | None = None
) -> pd.DataFrame:
    """Evaluate every rule for ``month`` and replace that month's ``adaptation_signal`` rows.

    Reads the marts, so run ``bsin.warehouse.dbt_project.build_marts`` first. Returns the fired rows.
    """
    month = month_param(month)
    df = fired_signals(wh, month, config)
    wh.replace("adaptation_signal", {"month": month}, df)
    log.info(
        "%s: %d adaptation signal(s) fired: %s",
        f"{month:%Y-%m}",
        len(df),
        sorted(set(zip(df["country"], df["rule_id"], strict=True))),
    )
    return df


def signals_for(
    wh: Warehouse,
    country: str,
    month: date | str,
    language: str = "en",
    config: SignalsConfig | None = None,
) -> pd.DataFrame:
    """Stored signals of one country (or ``NETWORK``) and month, advice in ``language``.

    The recommendation is re-rendered from the rule's translation; a rule that has since
    left the config keeps its stored English text.
    """
    month = month_param(month)
    config = config or load_signals()
    df = wh.query_df(
        "select * from adaptation_signal where country = :country and month = :month "
        "order by rule_id, subject",
        {"country": country, "month": month},
    )
    if df.empty:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    texts = []
    for row in df.to_dict("records"):
        rule = config.rule(row["rule_id"])
        texts.append(rule.render(row, language) if rule else row["recommendation"])
    df["recommendation"] = texts
    return df[SIGNAL_COLUMNS]
