"""An employee's stream kept inside a read model, folded with the domain's own `evolve`.

Rows (partition = the stream id, e.g. `employee#john`): one `event#<version:010>` row per
event (`event_type`, `data`, `occurred_at`) and a `head` row the projection owns (at least
`version`). Keeping the events, not a serialized state, means the read model folds exactly
what the command side folds, and survives changes of the domain's state classes.

Readers from other streams must `get` the head (a tracked read): every change of the events
rows also writes the head, so a concurrent change fails their commit instead of being missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.projections import Session
from leave import employee
from leave.employee import EmployeeState
from leave.events import Event, parse_event
from leave.ids import EMPLOYEE_STREAM_PREFIX, employee_stream_id

HEAD_SK = "head"
EVENT_PREFIX = "event#"


@dataclass(frozen=True, kw_only=True)
class History:
    """An employee's state with the events it was folded from (and when each occurred)."""

    state: EmployeeState
    events: tuple[tuple[Event, str], ...]  # (event, occurred_at), oldest first
    head: dict[str, Any]


def record(session: Session, event: StoredEvent) -> History:
    """Keep one more event of an employee's stream; their history including it (the caller
    then writes the head)."""
    session.put(
        event.stream_id,
        f"{EVENT_PREFIX}{event.version:010d}",
        {"event_type": event.event_type, "data": dict(event.data), "occurred_at": event.occurred_at},
    )
    return _history(session, event.stream_id[len(EMPLOYEE_STREAM_PREFIX) :])


def load(session: Session, employee_id: str) -> History | None:
    """The employee's history as the read model holds it; None before their first event."""
    if session.get(employee_stream_id(employee_id), HEAD_SK) is None:
        return None
    return _history(session, employee_id)


def _history(session: Session, employee_id: str) -> History:
    pk = employee_stream_id(employee_id)
    head = session.get(pk, HEAD_SK)
    events = tuple((parse_event(doc["event_type"], doc["data"]), doc["occurred_at"]) for _, doc in session.query(pk, EVENT_PREFIX))
    return History(state=employee.fold(employee_id, [e for e, _ in events]), events=events, head=head or {})
