"""Working days: only the employee's working days count, split by calendar year."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from leave.workdays import (
    DEFAULT_WORKING_WEEK,
    WEEKDAYS,
    count_working_days,
    normalize_week,
    working_days_by_year,
)

MON_THU = ("MON", "TUE", "WED", "THU")


def test_a_monday_to_sunday_week_has_five_default_working_days() -> None:
    assert count_working_days(date(2026, 2, 2), date(2026, 2, 8), DEFAULT_WORKING_WEEK) == 5


def test_a_four_day_week_counts_four() -> None:
    assert count_working_days(date(2026, 2, 2), date(2026, 2, 8), MON_THU) == 4


def test_a_weekend_has_no_working_days() -> None:
    assert count_working_days(date(2026, 2, 7), date(2026, 2, 8), DEFAULT_WORKING_WEEK) == 0


def test_a_range_ending_before_it_starts_has_no_working_days() -> None:
    assert count_working_days(date(2026, 2, 8), date(2026, 2, 2), DEFAULT_WORKING_WEEK) == 0


def day_by_day(first: date, last: date, week: tuple[str, ...]) -> int:
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return sum(1 for day in days if WEEKDAYS[day.weekday()] in week)


def test_counting_agrees_with_checking_day_by_day() -> None:
    start = date(2026, 1, 1)
    for week in (DEFAULT_WORKING_WEEK, MON_THU, ("SAT", "SUN"), ("WED",)):
        for offset in range(0, 9):
            for length in range(0, 40, 3):
                first = start + timedelta(days=offset)
                last = first + timedelta(days=length)
                assert count_working_days(first, last, week) == day_by_day(first, last, week)


def test_a_leave_over_new_year_is_split_by_year() -> None:
    assert working_days_by_year(date(2026, 12, 28), date(2027, 1, 8), DEFAULT_WORKING_WEEK) == {2026: 4, 2027: 6}


def test_normalize_week_orders_and_deduplicates() -> None:
    assert normalize_week(["THU", "MON", "THU"]) == ("MON", "THU")


@pytest.mark.parametrize(("days", "message"), [([], "at least one"), (["MON", "Funday"], "Funday")])
def test_normalize_week_rejects_empty_and_unknown_days(days: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_week(days)
