"""The pending-approvals read model: leave requests waiting for a decision, found by approver.

Table layout (keys `pk`/`sk`):

- `pending#<location_id>` / `<request_id>`: a pending request of an employee of the location
  (`request_id`, `employee_id`, `leave_type`, `start`, `end`, `working_days`);
- `approver#<employee_id>` / `<location_id>`: the locations this employee approves;
- `employee#<employee_id>` / `state`: where each of the employee's pending requests is;
- `location#<location_id>` / `state`: the location's approver.

Who decides a request is a fact of the location (its current approver), which requests wait
is a fact of the employee (requests follow them on a transfer). Each row is written by one
stream only, and the query joins `approver#` to `pending#` rows, so an approver change is one
row, a transfer moves only that employee's rows, and no delivery order can matter.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventstore.ports import StoredEvent
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
from leave.ids import EMPLOYEE_STREAM_PREFIX

from leave_projections.core import ProjectorHandler, Session

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
                for request_id, location_id in sorted(state["pending"].items()):
                    row = session.get(pending_pk(location_id), request_id)
                    session.delete(pending_pk(location_id), request_id)
                    if row is not None:
                        session.put(pending_pk(to_location_id), request_id, row)
                    state["pending"][request_id] = to_location_id
            case _:
                return
        session.put(event.stream_id, STATE_SK, state)

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


handler = ProjectorHandler(PendingProjection())
