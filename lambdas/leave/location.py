"""The location aggregate (stream ``location#<location_id>``): members, approver, policies.

`evolve` folds the stream into a `LocationState`; `decide` turns a location command into new
events or refuses it with a `DomainError`. Adding and transferring employees also write to
this stream, but are decided by the employee aggregate (`leave.employee`), which owns them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import field
from datetime import date
from fractions import Fraction

from leave.commands import AssignApprover, AssignLeavePolicy, Caller, CreateLocation
from leave.errors import Forbidden, InvalidState, NotFound, RuleViolated
from leave.events import (
    ApproverAssigned,
    ApproverUnassigned,
    EmployeeAddedToLocation,
    EmployeeLeftLocation,
    Event,
    LeavePolicyAssigned,
    LocationCreated,
    LocationRegistered,
)
from leave.record import Record, replace

LocationCommand = CreateLocation | AssignApprover | AssignLeavePolicy

MAX_DAYS_PER_YEAR = 366
"""The most days a policy grants (or rolls over) in a year: a year has at most 366 days."""


class Policy(Record):
    """A leave policy of one leave type, in effect from `effective_on`."""

    days_per_year: float
    max_rollover_days: float
    effective_on: date


class LocationState(Record):
    """What the location's stream says so far; `version` is the number of events folded."""

    location_id: str
    version: int = 0
    name: str = ""
    approver_id: str | None = None
    members: frozenset[str] = frozenset()
    policies: Mapping[str, tuple[Policy, ...]] = field(default_factory=dict)
    """Per leave type, every policy ever assigned, oldest first."""

    @property
    def exists(self) -> bool:
        return self.version > 0

    def policy_on(self, leave_type: str, day: date) -> Policy | None:
        """The policy in effect on `day`: the last one assigned on or before it; the first
        policy of a leave type also covers the days before it was assigned."""
        timeline = self.policies.get(leave_type, ())
        current = timeline[0] if timeline else None
        for policy in timeline:
            if policy.effective_on <= day:
                current = policy
        return current


def evolve(state: LocationState, event: Event) -> LocationState:
    """The state after one more event of the location's stream."""
    state = replace(state, version=state.version + 1)
    match event:
        case LocationCreated(name=name):
            return replace(state, name=name)
        case EmployeeAddedToLocation(employee_id=employee_id):
            return replace(state, members=state.members | {employee_id})
        case EmployeeLeftLocation(employee_id=employee_id):
            return replace(state, members=state.members - {employee_id})
        case ApproverAssigned(approver_id=approver_id):
            return replace(state, approver_id=approver_id)
        case ApproverUnassigned():
            return replace(state, approver_id=None)
        case LeavePolicyAssigned(leave_type=leave_type):
            policy = Policy(
                days_per_year=event.days_per_year,
                max_rollover_days=event.max_rollover_days,
                effective_on=event.effective_on,
            )
            timeline = state.policies.get(leave_type, ()) + (policy,)
            return replace(state, policies={**state.policies, leave_type: timeline})
    return state


def fold(location_id: str, events: list[Event]) -> LocationState:
    """The state of a location from its whole stream."""
    state = LocationState(location_id=location_id)
    for event in events:
        state = evolve(state, event)
    return state


def decide(state: LocationState, command: LocationCommand, *, today: date) -> list[Event]:
    """New events for a location command (possibly none: nothing to change), or a `DomainError`."""
    require_admin(command.caller)
    match command:
        case CreateLocation():
            if state.exists:
                raise InvalidState("location_exists", f"location {state.location_id} already exists")
            name = _required_name(command.name)
            return [
                LocationCreated(location_id=state.location_id, name=name),
                LocationRegistered(location_id=state.location_id, name=name),
            ]
        case AssignApprover():
            require_location(state)
            if command.employee_id not in state.members:
                raise RuleViolated(
                    "approver_not_member",
                    f"{command.employee_id} is not an employee of location {state.location_id}; add or transfer them first",
                )
            if command.employee_id == state.approver_id:
                return []
            return [
                ApproverAssigned(
                    location_id=state.location_id,
                    approver_id=command.employee_id,
                    previous_approver_id=state.approver_id,
                )
            ]
        case AssignLeavePolicy():
            require_location(state)
            if not command.leave_type:
                raise RuleViolated("invalid_policy", "leave_type must not be empty")
            for name in ("days_per_year", "max_rollover_days"):
                value = getattr(command, name)
                valid = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                if not valid or not 0 <= value <= MAX_DAYS_PER_YEAR or Fraction(value) * 2 % 1 != 0:
                    raise RuleViolated(
                        "invalid_policy", f"{name} must be a number of half days from 0 to {MAX_DAYS_PER_YEAR}, got {value!r}"
                    )
            return [
                LeavePolicyAssigned(
                    location_id=state.location_id,
                    leave_type=command.leave_type,
                    days_per_year=command.days_per_year,
                    max_rollover_days=command.max_rollover_days,
                    effective_on=today,
                )
            ]
    raise TypeError(f"not a location command: {type(command).__name__}")


def require_admin(caller: Caller) -> None:
    """`Forbidden` unless the caller is an admin."""
    if not caller.is_admin:
        raise Forbidden("admin_only", "only an admin may do this")


def require_location(state: LocationState) -> None:
    """`NotFound` unless the location exists."""
    if not state.exists:
        raise NotFound("location_not_found", f"no location {state.location_id}")


def _required_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise RuleViolated("invalid_name", "name must not be blank")
    return name
