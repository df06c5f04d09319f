"""The leave balance of an employee for a year: a pure function of the streams' states.

Used by the command side (a leave must fit the remaining days) and by the balance projector,
so both always agree. Arithmetic is exact (`fractions.Fraction`); only the allowance is
rounded, to the nearest half day (halves round up).

For a year Y and a leave type:

- the employee's year is split into periods by location (a transfer starts a new period on
  its effective date; the location the employee joined covers their whole joining year), and
  each location period into periods by policy (a policy applies from the day it is assigned;
  a location's first policy of a type also covers the days before);
- ``allowance = round_half(sum(days_per_year * days_in_period / days_in_year))``;
- ``rolled_over`` = days rolled over from Y-1 into Y; ``rolled_out`` = days rolled over from Y
  into Y+1 (they can no longer be taken in Y);
- ``used`` = working days in Y of approved leaves (including past leaves), ``pending`` = of
  pending requests;
- ``remaining = allowance + rolled_over - used - pending - rolled_out`` (may be negative after a
  transfer to a less generous location).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from leave.events import number
from leave.location import LocationState, Policy
from leave.record import Record

if TYPE_CHECKING:
    from leave.employee import EmployeeState


class PolicyPeriod(Record):
    """Days ``start..end`` (inclusive) of a year spent in one location under one policy (None: no policy)."""

    location_id: str
    start: date
    end: date
    policy: Policy | None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class Balance(Record):
    """An employee's days of one leave type in one year (numbers: int when whole, else float)."""

    employee_id: str
    year: int
    leave_type: str
    allowance: float
    rolled_over: float
    used: float
    pending: float
    rolled_out: float
    remaining: float

    def as_dict(self) -> dict[str, Any]:
        """The body of ``GET /employees/{employee_id}/balance`` (API.md), plus `rolled_out`."""
        return {
            "employee_id": self.employee_id,
            "year": self.year,
            "leave_type": self.leave_type,
            "allowance": self.allowance,
            "rolled_over": self.rolled_over,
            "used": self.used,
            "pending": self.pending,
            "rolled_out": self.rolled_out,
            "remaining": self.remaining,
        }


def policy_periods(employee: EmployeeState, locations: Mapping[str, LocationState], year: int, leave_type: str) -> list[PolicyPeriod]:
    """The employee's days of `year`, by location and policy, in order; empty before the joining year.

    `locations` must hold every location the employee belonged to in `year`
    (`EmployeeState.location_ids(year, year)`).
    """
    periods: list[PolicyPeriod] = []
    for location_id, start, end in employee.location_periods(year):
        location = locations.get(location_id)
        if location is None:
            raise ValueError(f"balance of {employee.employee_id} in {year} needs the state of location {location_id}")
        timeline = location.policies.get(leave_type, ())
        changes = [p.effective_on for p in timeline[1:] if start < p.effective_on <= end]
        for first, following in zip([start, *changes], [*changes, end + timedelta(days=1)], strict=True):
            if first < following:
                last = following - timedelta(days=1)
                periods.append(PolicyPeriod(location_id=location_id, start=first, end=last, policy=location.policy_on(leave_type, first)))
    return periods


def has_policy(periods: list[PolicyPeriod]) -> bool:
    """Whether any day of the periods is under a policy."""
    return any(p.policy is not None for p in periods)


def allowance(periods: list[PolicyPeriod], year: int) -> Fraction:
    """Days per year of each period's policy, pro-rata by calendar days, rounded to the nearest half day."""
    days_in_year = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    exact = sum(
        (Fraction(p.policy.days_per_year) * p.days / days_in_year for p in periods if p.policy is not None),
        Fraction(0),
    )
    return round_half_day(exact)


def rollover_cap(periods: list[PolicyPeriod]) -> Fraction:
    """The `max_rollover_days` of the policy in effect on the year's last day (0 without one)."""
    if not periods or periods[-1].policy is None:
        return Fraction(0)
    return Fraction(periods[-1].policy.max_rollover_days)


def round_half_day(days: Fraction) -> Fraction:
    """`days` rounded to the nearest half day, halves (x.25, x.75) rounding up."""
    return Fraction(math.floor(days * 2 + Fraction(1, 2)), 2)


def balance(employee: EmployeeState, locations: Mapping[str, LocationState], year: int, leave_type: str) -> Balance:
    """The balance of `employee` for `year` and `leave_type` (see the module docstring)."""
    periods = policy_periods(employee, locations, year, leave_type)
    granted = allowance(periods, year)
    rolled_in = Fraction(employee.rolled_over(leave_type, year - 1))
    rolled_out = Fraction(employee.rolled_over(leave_type, year))
    used = employee.days_taken(leave_type, year, pending=False)
    pending = employee.days_taken(leave_type, year, pending=True)
    return Balance(
        employee_id=employee.employee_id,
        year=year,
        leave_type=leave_type,
        allowance=_number(granted),
        rolled_over=_number(rolled_in),
        used=_number(used),
        pending=_number(pending),
        rolled_out=_number(rolled_out),
        remaining=_number(granted + rolled_in - used - pending - rolled_out),
    )


def _number(days: Fraction | int) -> int | float:
    return number(float(days))
