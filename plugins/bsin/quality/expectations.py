"""The Great Expectations suites of the canonical data, defined in code: one list of
expectations per form kind, built from the field specs of bsin.transform.mapping (so a new
field or option needs no edit here)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bsin.core.months import add_months
from bsin.transform.mapping import MONTHLY_FIELDS, SELF_ASSESSMENT_FIELDS, FieldSpec
from bsin.transform.schema import (
    FEEDBACK_COLUMNS,
    FEEDBACK_DTYPES,
    SELF_ASSESSMENT_COLUMNS,
    SELF_ASSESSMENT_DTYPES,
)

INDEX_COLUMNS = ["country", "response_id"]
MEMBER_ID_REGEX = r"^m_[0-9a-f]{20}$"

_TYPE_LISTS = {
    "Int64": ["Int64Dtype", "Int32Dtype", "int64", "int32"],
    "boolean": ["BooleanDtype", "bool"],
    "string": ["StringDtype"],
    "datetime64[us]": ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64[s]"],
}


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


def _row_basics(
    columns: list[str], dtypes: dict[str, str], required: tuple[str, ...], countries: Iterable[str]
) -> list[Expectation]:
    """What every canonical table's suite starts with: its columns and their types, the
    required values, a configured country and a well-formed member pseudonym."""
    out = [Expectation("ExpectColumnToExist", {"column": c}) for c in columns]
    out += _type_expectations(dtypes)
    out += [Expectation("ExpectColumnValuesToNotBeNull", {"column": c}) for c in required]
    out += [
        Expectation(
            "ExpectColumnValuesToBeInSet", {"column": "country", "value_set": sorted(countries)}
        ),
        Expectation(
            "ExpectColumnValuesToMatchRegex", {"column": "member_id", "regex": MEMBER_ID_REGEX}
        ),
    ]
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
    out = _row_basics(
        FEEDBACK_COLUMNS,
        FEEDBACK_DTYPES,
        ("country", "feedback_month", "member_id", "response_id", "submitted_at"),
        countries,
    )
    out += [
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
    out = _row_basics(
        SELF_ASSESSMENT_COLUMNS,
        SELF_ASSESSMENT_DTYPES,
        ("country", "member_id", "response_id", "submitted_at"),
        countries,
    )
    out += [
        Expectation(
            "ExpectCompoundColumnsToBeUnique", {"column_list": ["country", "wave", "member_id"]}
        ),
        Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["country", "response_id"]}),
    ]
    for spec in SELF_ASSESSMENT_FIELDS.values():
        out += _field_expectations(spec)
    return out
