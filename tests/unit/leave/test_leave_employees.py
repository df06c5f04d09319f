"""Employees: joining, working weeks and transfers (GIVEN events / WHEN command / THEN)."""

from __future__ import annotations

from datetime import date

import pytest
from leave.commands import AddEmployee, ApproveLeave, Caller, ChangeWorkingWeek, TransferEmployee
from leave.employee import LeaveStatus, Placement, required_locations
from leave.errors import Forbidden, InvalidState, NotFound, RuleViolated
from leave.events import (
    ApproverUnassigned,
    EmployeeAddedToLocation,
    EmployeeJoined,
    EmployeeLeftLocation,
    EmployeeTransferred,
    LeaveApproved,
    WorkingWeekChanged,
)
from leave_gwt import ALEX, ANA, JOHN, MIKE, SARA, TODAY, A, B, approver, created, joined, office, policy, requested, states, when

W11 = (date(2026, 3, 9), date(2026, 3, 13))


def refused(error: type[Exception], given: list, command: object) -> str:
    with pytest.raises(error) as raised:
        when(given, command)  # type: ignore[arg-type]
    return raised.value.code  # type: ignore[attr-defined]


# --- joining -----------------------------------------------------------------------------


def test_admin_adds_a_new_employee_to_a_location() -> None:
    assert when(created(), AddEmployee(caller=ANA, location_id=A, employee_id="john", name=" John ")) == [
        EmployeeJoined(employee_id="john", name="John", location_id=A, effective_on=TODAY),
        EmployeeAddedToLocation(location_id=A, employee_id="john", name="John", effective_on=TODAY),
    ]


def test_an_existing_employee_cannot_be_added_again() -> None:
    given = [*office(), *created(B)]
    with pytest.raises(InvalidState) as error:
        when(given, AddEmployee(caller=ANA, location_id=B, employee_id="john", name="John"))
    assert error.value.code == "employee_exists" and "transfer" in error.value.message


def test_an_employee_cannot_join_an_unknown_location() -> None:
    assert refused(NotFound, [], AddEmployee(caller=ANA, location_id=A, employee_id="john", name="John")) == "location_not_found"


def test_only_an_admin_adds_employees() -> None:
    assert refused(Forbidden, created(), AddEmployee(caller=MIKE, location_id=A, employee_id="john", name="John")) == "admin_only"


def test_an_employee_needs_a_name() -> None:
    assert refused(RuleViolated, created(), AddEmployee(caller=ANA, location_id=A, employee_id="john", name=" ")) == "invalid_name"


# --- working week ------------------------------------------------------------------------


def test_admin_changes_the_working_week_in_week_order() -> None:
    command = ChangeWorkingWeek(caller=ANA, employee_id="john", days=("THU", "MON", "TUE", "WED"))
    assert when(office(), command) == [WorkingWeekChanged(employee_id="john", days=("MON", "TUE", "WED", "THU"))]


def test_setting_the_same_working_week_changes_nothing() -> None:
    command = ChangeWorkingWeek(caller=ANA, employee_id="john", days=("FRI", "THU", "WED", "TUE", "MON"))
    assert when(office(), command) == []


@pytest.mark.parametrize("days", [(), ("MON", "HOLIDAY")])
def test_a_working_week_needs_known_days(days: tuple[str, ...]) -> None:
    assert refused(RuleViolated, office(), ChangeWorkingWeek(caller=ANA, employee_id="john", days=days)) == "invalid_working_week"


def test_only_an_admin_changes_a_working_week() -> None:
    assert refused(Forbidden, office(), ChangeWorkingWeek(caller=JOHN, employee_id="john", days=("MON",))) == "admin_only"


def test_the_working_week_of_an_unknown_employee_is_not_found() -> None:
    assert refused(NotFound, office(), ChangeWorkingWeek(caller=ANA, employee_id="ghost", days=("MON",))) == "employee_not_found"


# --- transfers ---------------------------------------------------------------------------


def two_offices() -> list:
    """Office A (Mike approves, 20 days) and office B (Sara approves, 25 days, 3 roll over)."""
    return [*office(), *created(B, "Novi Sad"), *joined("sara", B), *approver("sara", B), *policy(25, 3, B)]


def transfer(effective_on: date | None = None, employee_id: str = "john", to: str = B, caller: Caller = ALEX) -> TransferEmployee:
    return TransferEmployee(caller=caller, employee_id=employee_id, to_location_id=to, effective_on=effective_on)


def test_admin_transfers_an_employee_from_today_with_their_pending_requests() -> None:
    given = [*two_offices(), *requested("john~2", *W11, 5)]
    assert when(given, transfer()) == [
        EmployeeTransferred(
            employee_id="john",
            from_location_id=A,
            to_location_id=B,
            effective_on=TODAY,
            approver_id="sara",
            pending_request_ids=("john~2",),
        ),
        EmployeeLeftLocation(location_id=A, employee_id="john", effective_on=TODAY, to_location_id=B),
        EmployeeAddedToLocation(location_id=B, employee_id="john", name="John", effective_on=TODAY, from_location_id=A),
    ]


def test_a_transfer_may_take_effect_on_another_day() -> None:
    moved, *_ = when(two_offices(), transfer(date(2026, 7, 1)))
    assert isinstance(moved, EmployeeTransferred) and moved.effective_on == date(2026, 7, 1)


def test_transferring_the_approver_leaves_the_location_without_one() -> None:
    events = when(two_offices(), transfer(employee_id="mike"))
    assert ApproverUnassigned(location_id=A, approver_id="mike") in events
    _, locations = states([*two_offices(), *events])
    assert locations[A].approver_id is None and "mike" in locations[B].members and "mike" not in locations[A].members


def test_after_a_transfer_the_new_locations_approver_decides_pending_requests() -> None:
    given = [*two_offices(), *requested("john~2", *W11, 5)]
    given += when(given, transfer())
    assert refused(Forbidden, given, ApproveLeave(caller=MIKE, request_id="john~2")) == "not_the_approver"
    (event,) = when(given, ApproveLeave(caller=SARA, request_id="john~2"))
    assert isinstance(event, LeaveApproved)


def test_a_transfer_to_the_current_location_is_refused() -> None:
    assert refused(InvalidState, two_offices(), transfer(to=A)) == "already_in_location"


def test_a_transfer_to_an_unknown_location_is_not_found() -> None:
    assert refused(NotFound, two_offices(), transfer(to="nowhere")) == "location_not_found"


def test_a_transfer_of_an_unknown_employee_is_not_found() -> None:
    assert refused(NotFound, two_offices(), transfer(employee_id="ghost")) == "employee_not_found"


def test_only_an_admin_transfers() -> None:
    assert refused(Forbidden, two_offices(), transfer(caller=MIKE)) == "admin_only"


def test_a_transfer_cannot_predate_the_current_placement() -> None:
    given = [*two_offices(), *when(two_offices(), transfer(date(2026, 7, 1)))]
    back = TransferEmployee(caller=ALEX, employee_id="john", to_location_id=A, effective_on=date(2026, 6, 30))
    assert refused(RuleViolated, given, back) == "invalid_effective_date"
    # The joining placement covers its whole year, so a transfer can date back to 1 January.
    (moved, *_) = when(two_offices(), transfer(date(2026, 1, 1)))
    assert isinstance(moved, EmployeeTransferred)
    assert refused(RuleViolated, two_offices(), transfer(date(2025, 12, 31))) == "invalid_effective_date"


def test_state_keeps_the_placement_history_and_leave_statuses() -> None:
    given = [*two_offices(), *requested("john~2", *W11, 5)]
    given += when(given, transfer(date(2026, 7, 1)))
    john = states(given)[0]["john"]
    assert john.placements == (
        Placement(location_id=A, since=date(2026, 1, 5)),
        Placement(location_id=B, since=date(2026, 7, 1)),
    )
    assert john.location_id == B and john.leaves["john~2"].status == LeaveStatus.PENDING
    assert john.location_periods(2026) == [(A, date(2026, 1, 1), date(2026, 6, 30)), (B, date(2026, 7, 1), date(2026, 12, 31))]
    assert john.location_periods(2025) == []


def test_required_locations_name_what_each_decision_reads() -> None:
    given = [*two_offices(), *when(two_offices(), transfer(date(2026, 7, 1)))]
    john = states(given)[0]["john"]
    assert required_locations(john, ApproveLeave(caller=SARA, request_id="john~2")) == (B,)
    assert required_locations(john, transfer(to=A)) == (A, B)
    assert required_locations(john, ChangeWorkingWeek(caller=ANA, employee_id="john", days=("MON",))) == ()
