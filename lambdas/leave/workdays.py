"""Working days: which days of a leave count against the balance.

A working week is a tuple of day names in week order, e.g. ``("MON", "TUE", "WED", "THU")``.
Only the employee's working days count; public holidays are out of scope (every working day
counts, holiday or not).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

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


def add_working_days(moment: datetime, n: int, week: Iterable[str]) -> datetime:
    """The same time of day on the `n`-th working day after `moment`'s day (`n` >= 1).

    "Pending after N working days": a request made on Friday at 10:00 with a MON..FRI week is
    2 working days old on Tuesday at 10:00; one made on Saturday at 10:00 also on Tuesday at
    10:00 (Monday is its first working day). The days of `week` count, nothing else."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    working = {WEEKDAYS.index(day) for day in normalize_week(week)}
    per_week = len(working)
    # whole weeks first (each holds `per_week` working days), then day by day
    full_weeks, rest = divmod(n, per_week)
    if rest == 0:
        full_weeks, rest = full_weeks - 1, per_week
    day = moment + timedelta(weeks=full_weeks)
    while rest:
        day += timedelta(days=1)
        if day.weekday() in working:
            rest -= 1
    return day
