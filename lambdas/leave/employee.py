"""The employee aggregate (stream ``employee#<employee_id>``): placements, working week, leaves.

`evolve` folds the stream into an `EmployeeState`. `decide` turns an employee command into new
events, given the states of the locations it needs (`required_locations`), or refuses it with
a `DomainError`. Events of a decision may belong to several streams (a new employee also joins
the location's stream, a transfer writes to both locations); each event knows its `stream_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import date, timedelta
from enum import StrEnum

from leave.balance import balance, has_policy, policy_periods, rollover_cap
from leave.commands import (
    AddEmployee,
    AddPastLeave,
    ApproveLeave,
    Caller,
    CancelLeave,
    ChangeWorkingWeek,
    DenyLeave,
    RequestLeave,
    RollOverLeave,
    TransferEmployee,
)
from leave.errors import Forbidden, InvalidState, NotFound, RuleViolated
from leave.events import (
    ApprovalEscalated,
    ApprovalReminderSent,
    ApproverUnassigned,
    EmployeeAddedToLocation,
    EmployeeJoined,
    EmployeeLeftLocation,
    EmployeeTransferred,
    Event,
    LeaveApproved,
    LeaveCancelled,
    LeaveDenied,
    LeaveRequested,
    LeaveRolledOver,
    PastLeaveAdded,
    WorkingWeekChanged,
)
from leave.horizon import check_day, check_year, within
from leave.ids import make_request_id, parse_request_id
from leave.location import LocationState, require_admin, require_location
from leave.record import Record, replace
from leave.workdays import DEFAULT_WORKING_WEEK, normalize_week, working_days_by_year

EmployeeCommand = (
    AddEmployee
    | ChangeWorkingWeek
    | RequestLeave
    | ApproveLeave
    | DenyLeave
    | CancelLeave
    | AddPastLeave
    | TransferEmployee
    | RollOverLeave
)


class LeaveStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    CANCELLED = "cancelled"


class Leave(Record):
    """A leave request or a recorded past leave, with its working days per calendar year."""

    request_id: str
    leave_type: str
    start: date
    end: date
    working_days: int
    days_by_year: Mapping[int, int]
    status: LeaveStatus
    reminded: bool = False
    """Its approver was reminded of it (`ApprovalReminderSent`)."""
    escalated: bool = False
    """It was escalated to the admins (`ApprovalEscalated`)."""

    @property
    def active(self) -> bool:
        """Pending or approved: it holds days and blocks overlapping leaves."""
        return self.status in (LeaveStatus.PENDING, LeaveStatus.APPROVED)

    def overlaps(self, start: date, end: date) -> bool:
        return self.start <= end and start <= self.end


class Placement(Record):
    """Membership of a location from `since` (the join or transfer date)."""

    location_id: str
    since: date


class EmployeeState(Record):
    """What the employee's stream says so far; `version` is the number of events folded."""

    employee_id: str
    version: int = 0
    name: str = ""
    placements: tuple[Placement, ...] = ()
    working_week: tuple[str, ...] = DEFAULT_WORKING_WEEK
    leaves: Mapping[str, Leave] = field(default_factory=dict)
    rollovers: Mapping[tuple[str, int], float] = field(default_factory=dict)
    """Days rolled over, by (leave type, from year)."""

    @property
    def exists(self) -> bool:
        return bool(self.placements)

    @property
    def location_id(self) -> str:
        """The current location."""
        return self.placements[-1].location_id

    def placement_start(self, index: int) -> date:
        """First day a placement counts: its date, except that the first covers its whole year."""
        since = self.placements[index].since
        return date(since.year, 1, 1) if index == 0 else since

    def location_periods(self, year: int) -> list[tuple[str, date, date]]:
        """``(location_id, first_day, last_day)`` of each location the employee belonged to in `year`."""
        periods = []
        for i, placement in enumerate(self.placements):
            end = self.placement_start(i + 1) - timedelta(days=1) if i + 1 < len(self.placements) else date.max
            first, last = max(self.placement_start(i), date(year, 1, 1)), min(end, date(year, 12, 31))
            if first <= last:
                periods.append((placement.location_id, first, last))
        return periods

    def location_ids(self, first_year: int, last_year: int) -> set[str]:
        """The locations the employee belonged to in any year of ``first_year..last_year``."""
        return {loc for year in range(first_year, last_year + 1) for loc, _, _ in self.location_periods(year)}

    def rolled_over(self, leave_type: str, from_year: int) -> float:
        """Days rolled over from `from_year` into the next year (0 if not rolled over yet)."""
        return self.rollovers.get((leave_type, from_year), 0)

    def days_taken(self, leave_type: str, year: int, *, pending: bool) -> int:
        """Working days in `year` of the pending (or else approved) leaves of `leave_type`."""
        status = LeaveStatus.PENDING if pending else LeaveStatus.APPROVED
        return sum(
            leave.days_by_year.get(year, 0) for leave in self.leaves.values() if leave.leave_type == leave_type and leave.status == status
        )


# --- evolve ----------------------------------------------------------------------------


def evolve(state: EmployeeState, event: Event) -> EmployeeState:
    """The state after one more event of the employee's stream."""
    state = replace(state, version=state.version + 1)
    match event:
        case EmployeeJoined():
            placement = Placement(location_id=event.location_id, since=event.effective_on)
            return replace(state, name=event.name, placements=(placement,))
        case WorkingWeekChanged():
            return replace(state, working_week=event.days)
        case LeaveRequested() | PastLeaveAdded():
            leave = Leave(
                request_id=event.request_id,
                leave_type=event.leave_type,
                start=event.start,
                end=event.end,
                working_days=event.working_days,
                days_by_year=working_days_by_year(event.start, event.end, state.working_week),
                status=LeaveStatus.PENDING if isinstance(event, LeaveRequested) else LeaveStatus.APPROVED,
            )
            return _with_leave(state, leave)
        case LeaveApproved() | LeaveDenied() | LeaveCancelled():
            status = {
                LeaveApproved: LeaveStatus.APPROVED,
                LeaveDenied: LeaveStatus.DENIED,
                LeaveCancelled: LeaveStatus.CANCELLED,
            }[type(event)]
            return _with_leave(state, replace(state.leaves[event.request_id], status=status))
        case EmployeeTransferred():
            placement = Placement(location_id=event.to_location_id, since=event.effective_on)
            return replace(state, placements=state.placements + (placement,))
        case LeaveRolledOver():
            key = (event.leave_type, event.from_year)
            return replace(state, rollovers={**state.rollovers, key: event.days})
        case ApprovalReminderSent() if event.request_id in state.leaves:
            return _with_leave(state, replace(state.leaves[event.request_id], reminded=True))
        case ApprovalEscalated() if event.request_id in state.leaves:
            return _with_leave(state, replace(state.leaves[event.request_id], escalated=True))
    return state


def fold(employee_id: str, events: list[Event]) -> EmployeeState:
    """The state of an employee from their whole stream."""
    state = EmployeeState(employee_id=employee_id)
    for event in events:
        state = evolve(state, event)
    return state


def _with_leave(state: EmployeeState, leave: Leave) -> EmployeeState:
    return replace(state, leaves={**state.leaves, leave.request_id: leave})


# --- which streams a decision needs ----------------------------------------------------


def employee_of_request(request_id: str) -> str:
    """The employee whose stream holds `request_id`; `NotFound` if it is not a request id."""
    try:
        return parse_request_id(request_id)[0]
    except ValueError:
        raise NotFound("request_not_found", f"no leave request {request_id}") from None


def required_locations(state: EmployeeState, command: EmployeeCommand) -> tuple[str, ...]:
    """The locations whose states `decide` needs for `command`, in a stable order."""
    if isinstance(command, AddEmployee):
        return (command.location_id,)
    if not state.exists:
        return ()
    needed: set[str] = set()
    match command:
        case TransferEmployee():
            needed = {state.location_id, command.to_location_id}
        case ApproveLeave() | DenyLeave():
            needed = {state.location_id}
        case RequestLeave() | AddPastLeave():
            needed = {state.location_id}
            if within(command.start) and within(command.end):  # else `decide` refuses it, reading nothing more
                needed |= state.location_ids(command.start.year, max(command.start, command.end).year)
        case RollOverLeave():
            needed = state.location_ids(command.from_year, command.from_year)
    return tuple(sorted(needed))


# --- decide ----------------------------------------------------------------------------


def decide(state: EmployeeState, command: EmployeeCommand, *, locations: Mapping[str, LocationState], today: date) -> list[Event]:
    """New events for an employee command (possibly none), or a `DomainError`.

    `locations` holds (at least) the states of `required_locations(state, command)`.
    """
    match command:
        case AddEmployee():
            return _add_employee(state, command, locations[command.location_id], today)
        case ChangeWorkingWeek():
            return _change_working_week(state, command)
        case RequestLeave():
            return _request_leave(state, command, locations)
        case ApproveLeave() | DenyLeave():
            return _decide_request(state, command, locations)
        case CancelLeave():
            return _cancel_leave(state, command, today)
        case AddPastLeave():
            return _add_past_leave(state, command, locations, today)
        case TransferEmployee():
            return _transfer(state, command, locations, today)
        case RollOverLeave():
            return _roll_over(state, command, locations, today)
    raise TypeError(f"not an employee command: {type(command).__name__}")


def _add_employee(state: EmployeeState, command: AddEmployee, location: LocationState, today: date) -> list[Event]:
    require_admin(command.caller)
    require_location(location)
    if state.exists:
        raise InvalidState(
            "employee_exists",
            f"employee {state.employee_id} already exists (in location {state.location_id}); transfer them instead",
        )
    name = command.name.strip()
    if not name:
        raise RuleViolated("invalid_name", "name must not be blank")
    return [
        EmployeeJoined(employee_id=state.employee_id, name=name, location_id=location.location_id, effective_on=today),
        EmployeeAddedToLocation(location_id=location.location_id, employee_id=state.employee_id, name=name, effective_on=today),
    ]


def _change_working_week(state: EmployeeState, command: ChangeWorkingWeek) -> list[Event]:
    require_admin(command.caller)
    _require_employee(state)
    try:
        days = normalize_week(command.days)
    except ValueError as exc:
        raise RuleViolated("invalid_working_week", str(exc)) from None
    if days == state.working_week:
        return []
    return [WorkingWeekChanged(employee_id=state.employee_id, days=days)]


def _request_leave(state: EmployeeState, command: RequestLeave, locations: Mapping[str, LocationState]) -> list[Event]:
    if command.caller.sub != command.employee_id:
        raise Forbidden("not_the_employee", "employees request leave only for themselves")
    _require_employee(state)
    working_days = _check_new_leave(state, command.leave_type, command.start, command.end, locations)
    return [
        LeaveRequested(
            employee_id=state.employee_id,
            request_id=make_request_id(state.employee_id, state.version + 1),
            location_id=state.location_id,
            approver_id=locations[state.location_id].approver_id,
            leave_type=command.leave_type,
            start=command.start,
            end=command.end,
            working_days=working_days,
            note=command.note,
        )
    ]


def _decide_request(state: EmployeeState, command: ApproveLeave | DenyLeave, locations: Mapping[str, LocationState]) -> list[Event]:
    leave = _find_leave(state, command.request_id)
    _require_decider(command.caller, state, locations[state.location_id])
    if leave.status != LeaveStatus.PENDING:
        code = "request_cancelled" if leave.status == LeaveStatus.CANCELLED else "request_already_decided"
        raise InvalidState(code, f"leave request {leave.request_id} is {leave.status}, not pending")
    facts = dict(
        employee_id=state.employee_id,
        request_id=leave.request_id,
        leave_type=leave.leave_type,
        start=leave.start,
        end=leave.end,
        working_days=leave.working_days,
    )
    if isinstance(command, ApproveLeave):
        return [LeaveApproved(approved_by=command.caller.sub, **facts)]
    return [LeaveDenied(denied_by=command.caller.sub, reason=command.reason, **facts)]


def _cancel_leave(state: EmployeeState, command: CancelLeave, today: date) -> list[Event]:
    leave = _find_leave(state, command.request_id)
    if command.caller.sub != state.employee_id:
        raise Forbidden("not_the_requester", "only the employee who requested a leave may cancel it")
    if not leave.active:
        raise InvalidState("request_not_cancellable", f"leave request {leave.request_id} is already {leave.status}")
    if leave.status == LeaveStatus.APPROVED and leave.start <= today:
        raise InvalidState(
            "leave_already_started", f"leave {leave.request_id} started on {leave.start}; only future leaves can be cancelled"
        )
    return [
        LeaveCancelled(
            employee_id=state.employee_id,
            request_id=leave.request_id,
            cancelled_by=command.caller.sub,
            previous_status=str(leave.status),
            leave_type=leave.leave_type,
            start=leave.start,
            end=leave.end,
            working_days=leave.working_days,
        )
    ]


def _add_past_leave(state: EmployeeState, command: AddPastLeave, locations: Mapping[str, LocationState], today: date) -> list[Event]:
    _require_employee(state)
    caller = command.caller
    if caller.sub == state.employee_id:
        raise Forbidden("own_request", "nobody records or decides their own leave")
    location = locations[state.location_id]
    if not caller.is_admin and caller.sub != location.approver_id:
        raise Forbidden("not_the_approver", f"only an admin or the approver of location {location.location_id} records past leaves")
    if command.end > today:
        raise RuleViolated("not_in_past", f"a past leave must end on or before today ({today}); request future leave instead")
    working_days = _check_new_leave(state, command.leave_type, command.start, command.end, locations)
    return [
        PastLeaveAdded(
            employee_id=state.employee_id,
            request_id=make_request_id(state.employee_id, state.version + 1),
            location_id=state.location_id,
            added_by=caller.sub,
            leave_type=command.leave_type,
            start=command.start,
            end=command.end,
            working_days=working_days,
        )
    ]


def _transfer(state: EmployeeState, command: TransferEmployee, locations: Mapping[str, LocationState], today: date) -> list[Event]:
    require_admin(command.caller)
    _require_employee(state)
    target = locations[command.to_location_id]
    require_location(target)
    if target.location_id == state.location_id:
        raise InvalidState("already_in_location", f"{state.employee_id} is already in location {target.location_id}")
    if command.effective_on is not None:
        check_day("effective_on", command.effective_on)
    effective_on = command.effective_on or today
    current_start = state.placement_start(len(state.placements) - 1)
    if effective_on < current_start:
        raise RuleViolated(
            "invalid_effective_date",
            f"a transfer of {state.employee_id} takes effect on or after {current_start}, when they joined their current location",
        )
    source = locations[state.location_id]
    events: list[Event] = [
        EmployeeTransferred(
            employee_id=state.employee_id,
            from_location_id=source.location_id,
            to_location_id=target.location_id,
            effective_on=effective_on,
            approver_id=target.approver_id,
            pending_request_ids=tuple(r for r, leave in state.leaves.items() if leave.status == LeaveStatus.PENDING),
        ),
        EmployeeLeftLocation(
            location_id=source.location_id,
            employee_id=state.employee_id,
            effective_on=effective_on,
            to_location_id=target.location_id,
        ),
    ]
    if source.approver_id == state.employee_id:
        events.append(ApproverUnassigned(location_id=source.location_id, approver_id=state.employee_id))
    events.append(
        EmployeeAddedToLocation(
            location_id=target.location_id,
            employee_id=state.employee_id,
            name=state.name,
            effective_on=effective_on,
            from_location_id=source.location_id,
        )
    )
    return events


def check_rollover(command: RollOverLeave, today: date) -> None:
    """The checks of a rollover that do not depend on any employee (run once, before the walk)."""
    require_admin(command.caller)
    check_year("from_year", command.from_year)
    if command.from_year > today.year:
        raise RuleViolated("year_not_started", f"cannot roll over {command.from_year} before it has started")


def _roll_over(state: EmployeeState, command: RollOverLeave, locations: Mapping[str, LocationState], today: date) -> list[Event]:
    check_rollover(command, today)
    _require_employee(state)
    year = command.from_year
    leave_types = sorted({t for loc in state.location_ids(year, year) for t in locations[loc].policies})
    events: list[Event] = []
    for leave_type in leave_types:
        if (leave_type, year) in state.rollovers:
            continue
        periods = policy_periods(state, locations, year, leave_type)
        left = balance(state, locations, year, leave_type).remaining
        days = min(max(left, 0), rollover_cap(periods))
        events.append(
            LeaveRolledOver(employee_id=state.employee_id, leave_type=leave_type, from_year=year, to_year=year + 1, days=float(days))
        )
    return events


# --- shared rules ----------------------------------------------------------------------


def _require_employee(state: EmployeeState) -> None:
    if not state.exists:
        raise NotFound("employee_not_found", f"no employee {state.employee_id}")


def _find_leave(state: EmployeeState, request_id: str) -> Leave:
    leave = state.leaves.get(request_id)
    if leave is None:
        raise NotFound("request_not_found", f"no leave request {request_id}")
    return leave


def _require_decider(caller: Caller, state: EmployeeState, location: LocationState) -> None:
    """The location's approver decides; requests of the approver themself go to an admin."""
    if caller.sub == state.employee_id:
        raise Forbidden("own_request", "nobody records or decides their own leave")
    if state.employee_id == location.approver_id:
        if not caller.is_admin:
            raise Forbidden("not_the_approver", "requests of a location's approver are decided by an admin")
    elif location.approver_id is None or caller.sub != location.approver_id:
        raise Forbidden("not_the_approver", f"only the approver of location {location.location_id} decides requests of its employees")


def _check_new_leave(state: EmployeeState, leave_type: str, start: date, end: date, locations: Mapping[str, LocationState]) -> int:
    """The working days of a new leave, if it may be taken; else `RuleViolated`."""
    check_day("start", start)
    check_day("end", end)
    if end < start:
        raise RuleViolated("invalid_period", f"the leave ends ({end}) before it starts ({start})")
    by_year = working_days_by_year(start, end, state.working_week)
    total = sum(by_year.values())
    if total == 0:
        raise RuleViolated("no_working_days", f"{start}..{end} has no working day in {state.employee_id}'s working week")
    for leave in state.leaves.values():
        if leave.active and leave.overlaps(start, end):
            raise RuleViolated(
                "overlapping_leave", f"{start}..{end} overlaps leave {leave.request_id} ({leave.start}..{leave.end}, {leave.status})"
            )
    for year, days in by_year.items():
        if not days:
            continue
        if not has_policy(policy_periods(state, locations, year, leave_type)):
            raise RuleViolated("no_policy", f"no {leave_type} policy covers {state.employee_id} in {year}")
        left = balance(state, locations, year, leave_type).remaining
        if days > left:
            raise RuleViolated("insufficient_balance", f"{days} working days of {leave_type} asked in {year}, but only {left} left")
    return total
