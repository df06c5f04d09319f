"""Working days: only the employee's working days count, split by calendar year; N working days later."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leave.workdays import (
    DEFAULT_WORKING_WEEK,
    WEEKDAYS,
    add_working_days,
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


# --- add_working_days: when a pending request is N working days old --------------------------

weeks = st.sets(st.sampled_from(WEEKDAYS), min_size=1).map(normalize_week)
moments = st.datetimes(datetime(2000, 1, 1), datetime(2099, 1, 1), timezones=st.just(UTC))


def test_a_friday_request_is_two_working_days_old_on_tuesday_at_the_same_time() -> None:
    friday = datetime(2026, 3, 6, 10, 30, tzinfo=UTC)
    assert add_working_days(friday, 2, DEFAULT_WORKING_WEEK) == datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
    saturday = datetime(2026, 3, 7, 10, 30, tzinfo=UTC)
    assert add_working_days(saturday, 2, DEFAULT_WORKING_WEEK) == datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
    assert add_working_days(friday, 5, MON_THU) == datetime(2026, 3, 16, 10, 30, tzinfo=UTC)  # Mon..Thu, then Mon


def test_add_working_days_refuses_less_than_one_day_and_an_unknown_week() -> None:
    with pytest.raises(ValueError, match="n must be >= 1"):
        add_working_days(datetime(2026, 3, 6, tzinfo=UTC), 0, DEFAULT_WORKING_WEEK)
    with pytest.raises(ValueError, match="unknown day names"):
        add_working_days(datetime(2026, 3, 6, tzinfo=UTC), 1, ("MON", "FUNDAY"))


@given(moments, st.integers(1, 40), weeks)
def test_n_working_days_later_is_a_working_day_with_exactly_n_working_days_since(moment: datetime, n: int, week: tuple[str, ...]) -> None:
    later = add_working_days(moment, n, week)
    assert later > moment and later.time() == moment.time() and later.tzinfo == moment.tzinfo
    assert WEEKDAYS[later.weekday()] in week
    day_after = moment.date() + timedelta(days=1)
    assert count_working_days(day_after, later.date(), week) == n
    # and not a day earlier: the day before it has only n - 1 working days since
    assert count_working_days(day_after, later.date() - timedelta(days=1), week) == n - 1


@given(moments, st.integers(1, 20), st.integers(1, 20), weeks)
def test_more_working_days_is_never_earlier(moment: datetime, a: int, b: int, week: tuple[str, ...]) -> None:
    low, high = sorted((a, b))
    assert add_working_days(moment, low, week) <= add_working_days(moment, high, week)
