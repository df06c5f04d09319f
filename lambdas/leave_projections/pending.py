"""The pending-approvals read model: leave requests waiting for a decision, found by approver.

Table layout (keys `pk`/`sk`):

- `pending#<location_id>` / `<request_id>`: a pending request of an employee of the location
  (`request_id`, `employee_id`, `leave_type`, `start`, `end`, `working_days`);
- `approver#<employee_id>` / `<location_id>`: the locations this employee approves;
- `employee#<employee_id>` / `state`: where each of the employee's pending requests is
  (`pending`), and the location they belong to since their last transfer (`location_id`);
- `location#<location_id>` / `state`: the location's approver.

Who decides a request is a fact of the location (its current approver), which requests wait
is a fact of the employee (requests follow them on a transfer). Each row is written by one
stream only, and the query joins `approver#` to `pending#` rows, so an approver change is one
row, a transfer moves only that employee's rows, and no delivery order can matter. A transfer
moves as many rows as one transaction holds and defers the rest to a refresh of the employee
(`Session.refresh_later`), so no number of pending requests outgrows a transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.projections import Session, projector_handler
from leave.events import (
    PENDING_EVENT_TYPES,
    ApproverAssigned,
    ApproverUnassigned,
    EmployeeTransferred,
    LeaveApproved,
    LeaveCancelled,
    LeaveDenied,
    LeaveRequested,
    parse_event,
)
from leave.ids import EMPLOYEE_STREAM_PREFIX, employee_stream_id

from leave_projections import live_topics

STATE_SK = "state"


def pending_pk(location_id: str) -> str:
    return f"pending#{location_id}"


def approver_pk(employee_id: str) -> str:
    return f"approver#{employee_id}"


@dataclass(frozen=True)
class PendingProjection:
    """Pending requests by location, and the locations of each approver; see the module docstring."""

    name: str = "pending"
    event_types: frozenset[str] = frozenset(PENDING_EVENT_TYPES)

    def topics(self, event: StoredEvent, changed: Sequence[tuple[str, str]]) -> list[str]:
        """Live updates: a location's pending rows and approver are its approvers' view
        (`approvers#<location>`); the rows of an approver's locations tell those locations'
        approvers; an employee's own pending requests are theirs (`employee#<id>`)."""
        return live_topics.pending_topics(changed)

    def apply(self, session: Session, event: StoredEvent) -> None:
        if event.stream_id.startswith(EMPLOYEE_STREAM_PREFIX):
            self._employee(session, event)
        else:
            self._location(session, event)

    def _employee(self, session: Session, event: StoredEvent) -> None:
        state = session.get(event.stream_id, STATE_SK) or {"pending": {}}
        match parse_event(event.event_type, event.data):
            case LeaveRequested() as leave:
                state["pending"][leave.request_id] = leave.location_id
                session.put(
                    pending_pk(leave.location_id),
                    leave.request_id,
                    {
                        "request_id": leave.request_id,
                        "employee_id": leave.employee_id,
                        "leave_type": leave.leave_type,
                        "start": leave.start.isoformat(),
                        "end": leave.end.isoformat(),
                        "working_days": leave.working_days,
                    },
                )
            case LeaveApproved(request_id=request_id) | LeaveDenied(request_id=request_id) | LeaveCancelled(request_id=request_id):
                location_id = state["pending"].pop(request_id, None)
                if location_id is not None:
                    session.delete(pending_pk(location_id), request_id)
            case EmployeeTransferred(to_location_id=to_location_id):
                state["location_id"] = to_location_id
                self._move(session, event.stream_id, state)
            case _:
                return
        session.put(event.stream_id, STATE_SK, state)

    def refresh(self, session: Session, target: str) -> None:
        """Move the rest of a transferred employee's pending rows (more than one transaction held)."""
        stream_id = employee_stream_id(target)
        state = session.get(stream_id, STATE_SK)
        if state is not None:
            self._move(session, stream_id, state)
            session.put(stream_id, STATE_SK, state)

    @staticmethod
    def _move(session: Session, stream_id: str, state: dict[str, Any]) -> None:
        """Move the employee's pending rows to their current location (`state["location_id"]`),
        two actions each, as many as the transaction has room for; the rest is deferred to a
        refresh of the employee. `state["pending"]` says where each row is, so every commit
        records exactly the moves it makes."""
        session.put(stream_id, STATE_SK, state)  # counted in the room: it is written anyway
        target = state.get("location_id")
        moving = sorted(r for r, location_id in state["pending"].items() if target and location_id != target)
        room = session.room() // 2
        for request_id in moving[:room]:
            location_id = state["pending"][request_id]
            row = session.get(pending_pk(location_id), request_id)
            session.delete(pending_pk(location_id), request_id)
            if row is not None:
                session.put(pending_pk(target), request_id, row)
            state["pending"][request_id] = target
        if len(moving) > room:
            session.refresh_later(stream_id[len(EMPLOYEE_STREAM_PREFIX) :])

    def _location(self, session: Session, event: StoredEvent) -> None:
        location_id = event.stream_id.split("#", 1)[1]
        state = session.get(event.stream_id, STATE_SK) or {"approver_id": None}
        match parse_event(event.event_type, event.data):
            case ApproverAssigned(approver_id=approver_id):
                new = approver_id
            case ApproverUnassigned():
                new = None
            case _:
                return
        if state["approver_id"]:
            session.delete(approver_pk(state["approver_id"]), location_id)
        if new:
            session.put(approver_pk(new), location_id, {"location_id": location_id})
        session.put(event.stream_id, STATE_SK, {"approver_id": new})


handler = projector_handler(PendingProjection())
