"""The calendar the leave domain accepts: dates in ``FIRST_DAY..LAST_DAY`` (2000-01-01..2099-12-31).

Why a horizon: every date a command carries becomes arithmetic over calendar years (working
days per year, balances per year, read-model rows per year). Unbounded, a one-day leave in
2150 asks the balance projection for 125 years of rows and a leave ending 9999-12-31
overflows `date`. A leave tracker needs neither: past leave is entered for recent years, and
nobody books leave, or dates a transfer, beyond this century. The same window is published
in the API's JSON Schemas (`leave_api.schemas.DATE`, `YEAR`), so clients see it in the
OpenAPI document; the domain enforces it too, so no other path (a script, a test, another
handler) can bypass it.
"""

from __future__ import annotations

from datetime import date

from leave.errors import RuleViolated

FIRST_YEAR = 2000
LAST_YEAR = 2099
FIRST_DAY = date(FIRST_YEAR, 1, 1)
LAST_DAY = date(LAST_YEAR, 12, 31)


class OutOfHorizon(RuleViolated):
    """A date or year outside the horizon (422 `date_out_of_range`, naming the field)."""

    def __init__(self, field: str, value: object) -> None:
        super().__init__("date_out_of_range", f"{field} {value} is outside {FIRST_DAY}..{LAST_DAY}, the dates this service accepts")
        self.field = field


def within(day: date) -> bool:
    """Whether `day` is in the horizon."""
    return FIRST_DAY <= day <= LAST_DAY


def check_day(field: str, day: date) -> None:
    """`OutOfHorizon` unless `day` is in the horizon."""
    if not within(day):
        raise OutOfHorizon(field, day.isoformat())


def check_year(field: str, year: int) -> None:
    """`OutOfHorizon` unless `year` is a year of the horizon."""
    if isinstance(year, bool) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise OutOfHorizon(field, year)
