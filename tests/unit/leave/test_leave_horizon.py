"""The horizon: every date a command records lies in 2000-01-01..2099-12-31 (`leave.horizon`).

Before the horizon, a one-day leave in 2150 was accepted (and then needed 125 years of
balance rows), and a leave ending 9999-12-31 crashed `balance` with an OverflowError.
"""

from __future__ import annotations

from datetime import date

import pytest
from acme_eventsourcing.runtime.commands import error_status
from leave.commands import AddPastLeave, AssignLeavePolicy, RequestLeave, RollOverLeave, TransferEmployee
from leave.errors import RuleViolated
from leave.horizon import FIRST_DAY, LAST_DAY, OutOfHorizon
from leave_gwt import ANA, JOHN, TODAY, B, created, joined, office, when

FAR = [
    (date(2150, 6, 1), date(2150, 6, 1)),
    (date(9998, 6, 1), date(9998, 6, 1)),
    (date(2026, 6, 1), date(9999, 12, 31)),
    (date(9999, 12, 31), date(9999, 12, 31)),
    (date(1, 1, 1), date(2026, 3, 2)),
    (date(1999, 12, 31), date(2000, 1, 3)),
    (date(2099, 12, 31), date(2100, 1, 1)),
]


@pytest.mark.parametrize(("start", "end"), FAR)
def test_a_leave_outside_the_horizon_is_refused_naming_the_field(start: date, end: date) -> None:
    command = RequestLeave(caller=JOHN, employee_id="john", leave_type="PTO", start=start, end=end)
    with pytest.raises(OutOfHorizon) as refused:
        when(office(), command)
    assert refused.value.code == "date_out_of_range" and error_status(refused.value) == 422
    assert refused.value.field == ("start" if not FIRST_DAY <= start <= LAST_DAY else "end")
    assert isinstance(refused.value, RuleViolated)


@pytest.mark.parametrize(("start", "end"), FAR[4:6])
def test_a_past_leave_outside_the_horizon_is_refused(start: date, end: date) -> None:
    command = AddPastLeave(caller=ANA, employee_id="john", leave_type="PTO", start=start, end=end)
    with pytest.raises(OutOfHorizon):
        when(office(), command)


@pytest.mark.parametrize("day", [date(2100, 1, 1), date(9999, 12, 31)])
def test_a_transfer_dated_outside_the_horizon_is_refused(day: date) -> None:
    command = TransferEmployee(caller=ANA, employee_id="john", to_location_id=B, effective_on=day)
    with pytest.raises(OutOfHorizon) as refused:
        when([*office(), *created(B, "Novi Sad")], command)
    assert refused.value.field == "effective_on"


@pytest.mark.parametrize("year", [1999, 2100, 9999])
def test_a_rollover_of_a_year_outside_the_horizon_is_refused(year: int) -> None:
    with pytest.raises(OutOfHorizon) as refused:
        when(office(), RollOverLeave(caller=ANA, from_year=year), employee_id="john", today=date(2026, 1, 4))
    assert refused.value.field == "from_year"


def test_the_last_day_of_the_horizon_is_accepted() -> None:
    given = [*created(), *joined("john", on=date(2099, 12, 1))]
    given += [e for e in office() if e.event_type == "LeavePolicyAssigned"]
    (event,) = when(given, RequestLeave(caller=JOHN, employee_id="john", leave_type="PTO", start=LAST_DAY, end=LAST_DAY))
    assert event.working_days == 1  # 2099-12-31 is a Thursday


def test_a_leave_outside_the_horizon_needs_no_location_beyond_the_current_one() -> None:
    # required_locations must not walk 8000 years of placements for a refused leave
    from leave import employee
    from leave_gwt import states

    employees, _ = states(office())
    command = RequestLeave(caller=JOHN, employee_id="john", leave_type="PTO", start=date(2026, 1, 5), end=date(9999, 12, 31))
    assert employee.required_locations(employees["john"], command) == ("loc_a",)


@pytest.mark.parametrize("days", [366.5, 1e308, float("inf"), float("nan"), -0.5])
def test_a_policy_beyond_a_year_of_days_is_refused(days: float) -> None:
    command = AssignLeavePolicy(caller=ANA, location_id="loc_a", leave_type="PTO", days_per_year=days, max_rollover_days=0)
    with pytest.raises(RuleViolated) as refused:
        when(office(), command, today=TODAY)
    assert refused.value.code == "invalid_policy"
