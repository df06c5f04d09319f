"""The application service of the commands side: load, decide, append, retry.

`LeaveService.execute(command, context)` loads the streams a command needs (each at most
once), runs the pure domain decision and appends the new events of every stream it touches in
one transaction, together with the idempotency record when the request carried an
`Idempotency-Key`. A lost race (`ConcurrencyError`) reruns the whole load-decide-append, a
bounded number of times, then propagates (HTTP 409). `IdempotencyKeyUsed` and `DomainError`
propagate unchanged: the HTTP layer then looks up the stored first response.

DynamoDB calls per successful command (streams under one page; L = locations the
employee belonged to in the leave's years, usually 1):

============================================  ===========================================
create location                               2: load directory, append
assign approver, assign policy                2: load location, append
add employee                                  2: load location, append (the employee stream is
                                              assumed new; if it is not, the retry loads it: 409)
change working week, cancel leave             2: load employee, append
request leave, add past leave                 2 + L: load employee, load L locations, append
approve, deny                                 3: load employee, load location, append
transfer                                      4: load employee, both locations, append
rollover                                      1 + locations + 2 x employees (at most)
============================================  ===========================================

A command that changes nothing (e.g. the same approver again) appends nothing, or only its
idempotency record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from eventstore.ports import Append, ConcurrencyError, EventStore, IdempotencyRecord, NewEvent
from leave import employee, location
from leave.commands import (
    AddEmployee,
    AddPastLeave,
    ApproveLeave,
    AssignApprover,
    AssignLeavePolicy,
    CancelLeave,
    ChangeWorkingWeek,
    Command,
    CreateLocation,
    DenyLeave,
    RequestLeave,
    RollOverLeave,
    TransferEmployee,
)
from leave.employee import EmployeeState, employee_of_request
from leave.events import (
    EmployeeTransferred,
    Event,
    LeaveRequested,
    LocationRegistered,
    PastLeaveAdded,
    WorkingWeekChanged,
    number,
    parse_event,
)
from leave.ids import DIRECTORY_STREAM_ID, employee_stream_id, location_stream_id
from leave.location import LocationState
from leave.workdays import normalize_week

LOCATION_ID_PREFIX = "loc_"
DEFAULT_MAX_ATTEMPTS = 3

_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True)
class CommandContext:
    """What the HTTP layer knows about a request besides the command itself."""

    caller: str
    """The acting employee id (``actor`` in each event's metadata); must be the command's `caller.sub`."""
    correlation_id: str
    idempotency_key: str | None = None
    """Scoped key (``<caller sub>#<Idempotency-Key>``), or None without the header."""
    request_hash: str | None = None
    """sha256 of method, path and canonical body; required with `idempotency_key`."""
    causation_id: str | None = None
    """What caused the command (defaults to `correlation_id`, the request itself)."""


@dataclass(frozen=True, kw_only=True)
class CommandResult:
    """The success response: HTTP status and JSON body (API.md)."""

    status: int
    body: Mapping[str, Any]

    def as_response(self) -> dict[str, Any]:
        """The form stored in the idempotency record."""
        return {"status": self.status, "body": dict(self.body)}


def utc_now() -> datetime:
    return datetime.now(UTC)


def uuid_hex() -> str:
    """A uuid4 as 32 hex digits (event ids, location ids)."""
    import uuid  # deferred: keeps the module cheap to import on a cold start

    return uuid.uuid4().hex


class LeaveService:
    """Runs the domain's commands against an `EventStore`.

    `clock` gives the current time (aware, or naive UTC): it dates events and is "today" for
    the domain. `new_id` gives unique hex strings for event ids and new location ids.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = uuid_hex,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self._store = store
        self._clock = clock
        self._new_id = new_id
        self._max_attempts = max_attempts

    def execute(self, command: Command, context: CommandContext) -> CommandResult:
        """Decide and append `command`; raises `DomainError`, `ConcurrencyError` (after the
        retries) or `IdempotencyKeyUsed`."""
        if (context.idempotency_key is None) != (context.request_hash is None):
            raise ValueError("idempotency_key and request_hash go together")
        if context.caller != command.caller.sub:
            raise ValueError(f"context.caller {context.caller!r} is not the command's caller {command.caller.sub!r}")
        now = self._clock()
        if isinstance(command, RollOverLeave):
            return self._roll_over(command, context, now)
        return self._retrying(lambda attempt: self._execute_once(command, context, now, attempt))

    # --- one attempt ---------------------------------------------------------------------

    def _execute_once(self, command: Command, context: CommandContext, now: datetime, attempt: int) -> CommandResult:
        today = _utc(now).date()
        match command:
            case CreateLocation():
                new = LocationState(location_id=LOCATION_ID_PREFIX + self._new_id()[:12])
                directory_version = len(self._store.load(DIRECTORY_STREAM_ID))
                events = location.decide(new, command, today=today)
                versions = {location_stream_id(new.location_id): 0, DIRECTORY_STREAM_ID: directory_version}
            case AssignApprover() | AssignLeavePolicy():
                state = self._load_location(command.location_id)
                events = location.decide(state, command, today=today)
                versions = {location_stream_id(state.location_id): state.version}
            case _:
                # A new employee's stream is assumed empty on the first attempt (no read);
                # if it exists, the append conflicts and the retry loads it.
                optimistic = isinstance(command, AddEmployee) and attempt == 0
                subject = self._employee_of(command)
                state = EmployeeState(employee_id=subject) if optimistic else self._load_employee(subject)
                locations = {i: self._load_location(i) for i in employee.required_locations(state, command)}
                events = employee.decide(state, command, locations=locations, today=today)
                versions = {employee_stream_id(subject): state.version}
                versions.update({location_stream_id(i): loc.version for i, loc in locations.items()})
        result = _result(command, events)
        self._append(events, versions, result, context, now)
        return result

    def _roll_over(self, command: RollOverLeave, context: CommandContext, now: datetime) -> CommandResult:
        """Walk every location's members and roll each employee over (idempotent per employee)."""
        today = _utc(now).date()
        employee.check_rollover(command, today)  # refuse before any read
        directory = self._store.load(DIRECTORY_STREAM_ID)
        location_ids = [e.location_id for e in map(_event, directory) if isinstance(e, LocationRegistered)]
        locations = {i: self._load_location(i) for i in location_ids}
        members = sorted({m for loc in locations.values() for m in loc.members})
        changed = 0
        for employee_id in members:

            def roll(attempt: int, employee_id: str = employee_id) -> bool:
                state = self._load_employee(employee_id)
                events = employee.decide(state, command, locations=locations, today=today)
                self._append(events, {employee_stream_id(employee_id): state.version}, None, context, now)
                return bool(events)

            changed += self._retrying(roll)
        result = CommandResult(
            status=202,
            body={
                "from_year": command.from_year,
                "to_year": command.from_year + 1,
                "employees": len(members),
                "employees_rolled_over": changed,
            },
        )
        self._append([], {}, result, context, now)
        return result

    # --- store access --------------------------------------------------------------------

    def _retrying(self, attempt_once: Callable[[int], _T]) -> _T:
        for attempt in range(self._max_attempts):
            try:
                return attempt_once(attempt)
            except ConcurrencyError:
                if attempt + 1 == self._max_attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _load_location(self, location_id: str) -> LocationState:
        return location.fold(location_id, [_event(e) for e in self._store.load(location_stream_id(location_id))])

    def _load_employee(self, employee_id: str) -> EmployeeState:
        return employee.fold(employee_id, [_event(e) for e in self._store.load(employee_stream_id(employee_id))])

    @staticmethod
    def _employee_of(command: Command) -> str:
        if isinstance(command, (ApproveLeave, DenyLeave, CancelLeave)):
            return employee_of_request(command.request_id)
        return command.employee_id  # type: ignore[union-attr]

    def _append(
        self,
        events: Sequence[Event],
        versions: Mapping[str, int],
        result: CommandResult | None,
        context: CommandContext,
        now: datetime,
    ) -> None:
        """Append `events` (grouped by stream, at the loaded versions) with the idempotency
        record of `result`, if the request has a key; no call at all if there is nothing to write.

        Every other stream in `versions` was read to decide (e.g. the location whose
        approver or policy the decision used) and goes in as a read guard, so the append
        fails with `ConcurrencyError`, and the command is retried, if it changed meanwhile."""
        occurred_at = _utc(now).strftime("%Y-%m-%dT%H:%M:%SZ")
        metadata = {
            "actor": context.caller,
            "idempotency_key": context.idempotency_key,
            "correlation_id": context.correlation_id,
            "causation_id": context.causation_id or context.correlation_id,
        }
        by_stream: dict[str, list[NewEvent]] = {}
        for event in events:
            by_stream.setdefault(event.stream_id, []).append(
                NewEvent(
                    event_type=event.event_type,
                    data=event.to_data(),
                    event_id=self._new_id(),
                    occurred_at=occurred_at,
                    metadata=metadata,
                )
            )
        record = None
        if result is not None and context.idempotency_key is not None:
            record = IdempotencyRecord(
                key=context.idempotency_key,
                request_hash=context.request_hash or "",
                response=result.as_response(),
                created_at=occurred_at,
            )
        if not by_stream and record is None:
            return
        appends = [Append(stream_id=s, expected_version=v, events=by_stream.get(s, [])) for s, v in versions.items()]
        self._store.append(appends, idempotency=record)


def _event(stored: Any) -> Event:
    return parse_event(stored.event_type, stored.data)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _result(command: Command, events: Sequence[Event]) -> CommandResult:
    """The success response of API.md for a command and the events it produced."""
    match command:
        case CreateLocation():
            (created, *_) = events
            return CommandResult(status=201, body={"location_id": created.location_id})  # type: ignore[attr-defined]
        case AddEmployee():
            return CommandResult(status=201, body={"employee_id": command.employee_id, "location_id": command.location_id})
        case RequestLeave() | AddPastLeave():
            (leave,) = [e for e in events if isinstance(e, (LeaveRequested, PastLeaveAdded))]
            return CommandResult(status=201, body={"request_id": leave.request_id, "working_days": leave.working_days})
        case AssignApprover():
            return CommandResult(status=200, body={"location_id": command.location_id, "approver_id": command.employee_id})
        case AssignLeavePolicy():
            return CommandResult(
                status=200,
                body={
                    "location_id": command.location_id,
                    "leave_type": command.leave_type,
                    "days_per_year": number(command.days_per_year),
                    "max_rollover_days": number(command.max_rollover_days),
                },
            )
        case ChangeWorkingWeek():
            return CommandResult(status=200, body={"employee_id": command.employee_id, "days": _week(command, events)})
        case ApproveLeave() | DenyLeave() | CancelLeave():
            status = {ApproveLeave: "approved", DenyLeave: "denied", CancelLeave: "cancelled"}[type(command)]
            return CommandResult(status=200, body={"request_id": command.request_id, "status": status})
        case TransferEmployee():
            (moved,) = [e for e in events if isinstance(e, EmployeeTransferred)]
            return CommandResult(
                status=200,
                body={
                    "employee_id": moved.employee_id,
                    "from_location_id": moved.from_location_id,
                    "to_location_id": moved.to_location_id,
                    "effective_on": moved.effective_on.isoformat(),
                },
            )
    raise TypeError(f"no response defined for {type(command).__name__}")


def _week(command: ChangeWorkingWeek, events: Sequence[Event]) -> list[str]:
    changed = [e for e in events if isinstance(e, WorkingWeekChanged)]
    return list(changed[0].days if changed else normalize_week(command.days))
