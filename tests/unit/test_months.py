"""Month windows and the feedback-month rule."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bsin.core.months import (
    add_months,
    feedback_month_for,
    format_rfc3339,
    month_range,
    month_window,
    parse_month,
    parse_rfc3339,
)


def test_add_months_crosses_years():
    assert add_months(date(2022, 12, 1), 1) == date(2023, 1, 1)
    assert add_months(date(2023, 1, 1), -1) == date(2022, 12, 1)
    assert add_months(date(2022, 8, 1), 12) == date(2023, 8, 1)


def test_programme_has_thirteen_months():
    months = month_range(date(2022, 8, 1), date(2023, 8, 1))
    assert len(months) == 13
    assert months[0] == date(2022, 8, 1) and months[-1] == date(2023, 8, 1)


def test_parse_month():
    assert parse_month("2023-03") == date(2023, 3, 1)
    assert parse_month("2023-03-17") == date(2023, 3, 1)
    with pytest.raises(ValueError):
        parse_month("March")


def test_window_is_local_midnight_plus_grace():
    start, end = month_window(date(2023, 3, 1), "Europe/Riga", 7)
    # Riga is UTC+2 in winter, UTC+3 from the last Sunday of March.
    assert start == datetime(2023, 3, 7, 22, 0, tzinfo=UTC)
    assert end == datetime(2023, 4, 7, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("submitted", "expected"),
    [
        (datetime(2023, 3, 25, 12, tzinfo=UTC), date(2023, 3, 1)),
        (datetime(2023, 4, 6, 12, tzinfo=UTC), date(2023, 3, 1)),  # within grace
        (datetime(2023, 4, 7, 20, 59, tzinfo=UTC), date(2023, 3, 1)),  # last second of grace, local
        (datetime(2023, 4, 7, 21, 0, tzinfo=UTC), date(2023, 4, 1)),  # local midnight 8 April
        (datetime(2023, 3, 5, 12, tzinfo=UTC), date(2023, 2, 1)),  # late answer for February
    ],
)
def test_feedback_month_rule_agrees_with_window(submitted, expected):
    assert feedback_month_for(submitted, "Europe/Riga", 7) == expected
    start, end = month_window(expected, "Europe/Riga", 7)
    assert start <= submitted < end


def test_rfc3339_round_trip_and_nanoseconds():
    ts = parse_rfc3339("2023-03-01T10:00:00.123456789Z")
    assert ts == datetime(2023, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert format_rfc3339(ts) == "2023-03-01T10:00:00.123456Z"
    assert parse_rfc3339("2023-03-01T10:00:00Z").tzinfo is not None
