"""Working days: which days of a leave count against the balance.

A working week is a tuple of day names in week order, e.g. ``("MON", "TUE", "WED", "THU")``.
Only the employee's working days count; public holidays are out of scope (every working day
counts, holiday or not).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

WEEKDAYS: tuple[str, ...] = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
"""Day names, indexed like `date.weekday()` (Monday is 0)."""

DEFAULT_WORKING_WEEK: tuple[str, ...] = WEEKDAYS[:5]


def normalize_week(days: Iterable[str]) -> tuple[str, ...]:
    """The working week in week order without duplicates; `ValueError` if empty or a name is unknown."""
    given = set(days)
    unknown = sorted(given - set(WEEKDAYS))
    if unknown:
        raise ValueError(f"unknown day names {unknown}; use {', '.join(WEEKDAYS)}")
    if not given:
        raise ValueError("a working week needs at least one working day")
    return tuple(day for day in WEEKDAYS if day in given)


def count_working_days(start: date, end: date, week: Iterable[str]) -> int:
    """Working days in ``start..end`` inclusive (0 if `end` is before `start`)."""
    if end < start:
        return 0
    working = {WEEKDAYS.index(day) for day in week}
    full_weeks, rest = divmod((end - start).days + 1, 7)
    first = start.weekday()
    return full_weeks * len(working) + sum(1 for i in range(rest) if (first + i) % 7 in working)


def working_days_by_year(start: date, end: date, week: Iterable[str]) -> dict[int, int]:
    """Working days of ``start..end`` per calendar year, for every year the range touches."""
    week = tuple(week)
    return {
        year: count_working_days(max(start, date(year, 1, 1)), min(end, date(year, 12, 31)), week)
        for year in range(start.year, end.year + 1)
    }
