"""The location aggregate: creation, approver, policies (GIVEN events / WHEN command / THEN)."""

from __future__ import annotations

from datetime import date

import pytest
from acme_eventsourcing.runtime.commands import error_status
from leave.commands import AssignApprover, AssignLeavePolicy, CreateLocation
from leave.errors import Forbidden, InvalidState, NotFound, RuleViolated
from leave.events import (
    ApproverAssigned,
    ApproverUnassigned,
    EmployeeLeftLocation,
    LeavePolicyAssigned,
    LocationCreated,
    LocationRegistered,
)
from leave.location import Policy
from leave_gwt import ANA, JOHN, TODAY, A, approver, created, joined, office, policy, states, when


def test_admin_creates_a_location_and_lists_it_in_the_directory() -> None:
    assert when([], CreateLocation(caller=ANA, name="  Belgrade "), new_location_id="loc_1") == [
        LocationCreated(location_id="loc_1", name="Belgrade"),
        LocationRegistered(location_id="loc_1", name="Belgrade"),
    ]


def test_only_an_admin_creates_a_location() -> None:
    with pytest.raises(Forbidden) as error:
        when([], CreateLocation(caller=JOHN, name="Belgrade"))
    assert error.value.code == "admin_only" and error_status(error.value) == 403


def test_a_location_needs_a_name() -> None:
    with pytest.raises(RuleViolated) as error:
        when([], CreateLocation(caller=ANA, name="   "))
    assert error.value.code == "invalid_name" and error_status(error.value) == 422


def test_a_location_id_cannot_be_created_twice() -> None:
    with pytest.raises(InvalidState) as error:
        when(created("loc_new"), CreateLocation(caller=ANA, name="Again"))
    assert error.value.code == "location_exists" and error_status(error.value) == 409


def test_admin_makes_a_member_the_approver() -> None:
    given = [*created(), *joined("mike")]
    assert when(given, AssignApprover(caller=ANA, location_id=A, employee_id="mike")) == [
        ApproverAssigned(location_id=A, approver_id="mike", previous_approver_id=None)
    ]


def test_a_new_approver_replaces_the_previous_one() -> None:
    given = [*created(), *joined("mike"), *joined("sara"), *approver("mike")]
    assert when(given, AssignApprover(caller=ANA, location_id=A, employee_id="sara")) == [
        ApproverAssigned(location_id=A, approver_id="sara", previous_approver_id="mike")
    ]


def test_assigning_the_current_approver_again_changes_nothing() -> None:
    assert when(office(), AssignApprover(caller=ANA, location_id=A, employee_id="mike")) == []


def test_the_approver_must_be_a_member_of_the_location() -> None:
    with pytest.raises(RuleViolated) as error:
        when(created(), AssignApprover(caller=ANA, location_id=A, employee_id="mike"))
    assert error.value.code == "approver_not_member"


def test_only_an_admin_assigns_the_approver() -> None:
    with pytest.raises(Forbidden):
        when(office(), AssignApprover(caller=JOHN, location_id=A, employee_id="john"))


def test_assigning_an_approver_to_an_unknown_location_is_not_found() -> None:
    with pytest.raises(NotFound) as error:
        when([], AssignApprover(caller=ANA, location_id="nowhere", employee_id="mike"))
    assert error.value.code == "location_not_found" and error_status(error.value) == 404


def test_admin_assigns_a_policy_from_today() -> None:
    command = AssignLeavePolicy(caller=ANA, location_id=A, leave_type="PTO", days_per_year=20, max_rollover_days=5)
    assert when(created(), command) == [
        LeavePolicyAssigned(location_id=A, leave_type="PTO", days_per_year=20, max_rollover_days=5, effective_on=TODAY)
    ]


def test_a_policy_may_use_half_days() -> None:
    command = AssignLeavePolicy(caller=ANA, location_id=A, leave_type="PTO", days_per_year=20.5, max_rollover_days=2.5)
    (event,) = when(created(), command)
    assert isinstance(event, LeavePolicyAssigned) and event.days_per_year == 20.5


@pytest.mark.parametrize(
    ("leave_type", "days", "cap"), [("PTO", -1, 5), ("PTO", 20, -0.5), ("PTO", 20.3, 5), ("PTO", 20, 1.25), ("", 20, 5)]
)
def test_a_policy_needs_non_negative_half_days_and_a_leave_type(leave_type: str, days: float, cap: float) -> None:
    command = AssignLeavePolicy(caller=ANA, location_id=A, leave_type=leave_type, days_per_year=days, max_rollover_days=cap)
    with pytest.raises(RuleViolated) as error:
        when(created(), command)
    assert error.value.code == "invalid_policy"


def test_only_an_admin_assigns_a_policy() -> None:
    command = AssignLeavePolicy(caller=JOHN, location_id=A, leave_type="PTO", days_per_year=99, max_rollover_days=99)
    with pytest.raises(Forbidden):
        when(created(), command)


def test_assigning_a_policy_to_an_unknown_location_is_not_found() -> None:
    command = AssignLeavePolicy(caller=ANA, location_id="nowhere", leave_type="PTO", days_per_year=20, max_rollover_days=5)
    with pytest.raises(NotFound):
        when([], command)


def test_state_tracks_members_approver_and_version() -> None:
    given = [
        *office(),
        EmployeeLeftLocation(location_id=A, employee_id="mike", effective_on=TODAY, to_location_id="loc_b"),
        ApproverUnassigned(location_id=A, approver_id="mike"),
    ]
    _, locations = states(given)
    state = locations[A]
    assert (state.name, state.members, state.approver_id, state.version) == ("Belgrade", frozenset({"john"}), None, 7)


def test_a_policy_applies_from_its_date_and_the_first_one_also_before() -> None:
    given = [*created(), *policy(20, 5, on=date(2026, 1, 5)), *policy(25, 3, on=date(2026, 7, 1))]
    state = states(given)[1][A]
    first = Policy(days_per_year=20, max_rollover_days=5, effective_on=date(2026, 1, 5))
    second = Policy(days_per_year=25, max_rollover_days=3, effective_on=date(2026, 7, 1))
    assert state.policy_on("PTO", date(2025, 6, 1)) == first
    assert state.policy_on("PTO", date(2026, 6, 30)) == first
    assert state.policy_on("PTO", date(2026, 7, 1)) == second
    assert state.policy_on("SICK", date(2026, 7, 1)) is None
