"""GIVEN past events / WHEN a command / THEN new events or an error, for the leave domain.

`when(given, command)` folds the given events into the states of their streams and runs the
aggregate's `decide` with only the locations `required_locations` names, so a test also
proves the service would load enough.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from leave import employee, location
from leave.commands import AssignApprover, AssignLeavePolicy, Caller, Command, CreateLocation
from leave.events import (
    ApproverAssigned,
    EmployeeAddedToLocation,
    EmployeeJoined,
    Event,
    LeaveApproved,
    LeavePolicyAssigned,
    LeaveRequested,
    LocationCreated,
)
from leave.ids import EMPLOYEE_STREAM_PREFIX, LOCATION_STREAM_PREFIX

TODAY = date(2026, 3, 2)  # a Monday
JOINED_ON = date(2026, 1, 5)

ANA = Caller(sub="ana", groups=frozenset({"admin"}))
ALEX = Caller(sub="alex", groups=frozenset({"admin"}))
JOHN = Caller(sub="john")
MIKE = Caller(sub="mike", groups=frozenset({"approver"}))
SARA = Caller(sub="sara", groups=frozenset({"approver"}))

A, B = "loc_a", "loc_b"


def states(given: Iterable[Event]) -> tuple[dict[str, employee.EmployeeState], dict[str, location.LocationState]]:
    """Employee and location states of every stream the events touch."""
    employees: dict[str, employee.EmployeeState] = {}
    locations: dict[str, location.LocationState] = {}
    for event in given:
        ident = event.stream_id.partition("#")[2]
        if event.stream_id.startswith(EMPLOYEE_STREAM_PREFIX):
            employees[ident] = employee.evolve(employees.get(ident, employee.EmployeeState(employee_id=ident)), event)
        elif event.stream_id.startswith(LOCATION_STREAM_PREFIX):
            locations[ident] = location.evolve(locations.get(ident, location.LocationState(location_id=ident)), event)
    return employees, locations


def when(
    given: Iterable[Event],
    command: Command,
    *,
    today: date = TODAY,
    new_location_id: str = "loc_new",
    employee_id: str | None = None,
) -> list[Event]:
    """The events `decide` returns for `command` after `given` (or the error it raises).

    `employee_id` names the employee a rollover is decided for (rollover walks everyone).
    """
    employees, locations = states(given)
    if isinstance(command, CreateLocation):
        state = locations.get(new_location_id, location.LocationState(location_id=new_location_id))
        return location.decide(state, command, today=today)
    if isinstance(command, (AssignApprover, AssignLeavePolicy)):
        state = locations.get(command.location_id, location.LocationState(location_id=command.location_id))
        return location.decide(state, command, today=today)
    if employee_id is not None:
        subject = employee_id
    elif hasattr(command, "request_id"):
        subject = employee.employee_of_request(command.request_id)
    else:
        subject = command.employee_id
    state = employees.get(subject, employee.EmployeeState(employee_id=subject))
    needed = {i: locations.get(i, location.LocationState(location_id=i)) for i in employee.required_locations(state, command)}
    return employee.decide(state, command, locations=needed, today=today)


# --- GIVEN builders ----------------------------------------------------------------------


def created(location_id: str = A, name: str = "Belgrade") -> list[Event]:
    return [LocationCreated(location_id=location_id, name=name)]


def joined(employee_id: str, location_id: str = A, *, on: date = JOINED_ON) -> list[Event]:
    name = employee_id.title()
    return [
        EmployeeJoined(employee_id=employee_id, name=name, location_id=location_id, effective_on=on),
        EmployeeAddedToLocation(location_id=location_id, employee_id=employee_id, name=name, effective_on=on),
    ]


def approver(employee_id: str, location_id: str = A) -> list[Event]:
    return [ApproverAssigned(location_id=location_id, approver_id=employee_id)]


def policy(days: float = 20, cap: float = 5, location_id: str = A, *, on: date = JOINED_ON, leave_type: str = "PTO") -> list[Event]:
    return [LeavePolicyAssigned(location_id=location_id, leave_type=leave_type, days_per_year=days, max_rollover_days=cap, effective_on=on)]


def requested(request_id: str, start: date, end: date, working_days: int, *, location_id: str = A, leave_type: str = "PTO") -> list[Event]:
    employee_id = request_id.split("~")[0]
    return [
        LeaveRequested(
            employee_id=employee_id,
            request_id=request_id,
            location_id=location_id,
            approver_id="mike",
            leave_type=leave_type,
            start=start,
            end=end,
            working_days=working_days,
        )
    ]


def approved(request_id: str, start: date, end: date, working_days: int, *, leave_type: str = "PTO") -> list[Event]:
    return [
        LeaveApproved(
            employee_id=request_id.split("~")[0],
            request_id=request_id,
            approved_by="mike",
            leave_type=leave_type,
            start=start,
            end=end,
            working_days=working_days,
        )
    ]


def office() -> list[Event]:
    """Slide 13, steps 1-3: location A with John and Mike, Mike approves, 20 PTO days (5 roll over).

    John's stream is at version 1, so his next leave is ``john~2``.
    """
    return [*created(), *joined("john"), *joined("mike"), *approver("mike"), *policy()]
