"""The balance read model: per employee, year and leave type, computed by the domain's `balance`.

Table layout (keys `pk`/`sk`):

- `balance#<employee_id>` / `<year>#<leave_type>`: the body of `GET .../balance` (plus
  `rolled_out`), for every year from the joining year to the year after the employee's
  latest activity, and every leave type of their locations' policies, leaves and rollovers;
- `employee#<employee_id>` / `event#<version>` and `head` (`version`, `location_id`): the
  employee's stream, folded with the domain's `evolve` (`employees`);
- `location#<location_id>` / `state`: `events` (every event of the location's stream but
  membership changes, folded with the domain's `evolve`), `approver_id`, and `members`
  (everyone who ever joined: their past balances depend on its policies).

A balance depends on two kinds of stream, so the rows are recomputed whenever either side
changes: an employee's event recomputes their rows (reading their locations' states, tracked);
a member joining recomputes that member; a new policy recomputes every member, deferred to one
transaction each (`Session.refresh_later`). Whatever the delivery order, the last change of
any input is followed by a recompute that sees all final inputs, so the end state is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.projections import Session, projector_handler
from leave import location
from leave.balance import balance
from leave.events import (
    BALANCE_EVENT_TYPES,
    EmployeeAddedToLocation,
    EmployeeLeftLocation,
    LeavePolicyAssigned,
    parse_event,
)
from leave.ids import EMPLOYEE_STREAM_PREFIX, location_stream_id
from leave.location import LocationState

from leave_projections import employees, live_topics

STATE_SK = "state"


def balance_pk(employee_id: str) -> str:
    return f"balance#{employee_id}"


def balance_sk(year: int, leave_type: str) -> str:
    return f"{year:04d}#{leave_type}"


@dataclass(frozen=True)
class BalanceProjection:
    """Balances per (employee, year, leave type); see the module docstring."""

    name: str = "balance"
    event_types: frozenset[str] = frozenset(BALANCE_EVENT_TYPES)

    def apply(self, session: Session, event: StoredEvent) -> None:
        if event.stream_id.startswith(EMPLOYEE_STREAM_PREFIX):
            history = employees.record(session, event)
            current = history.state.location_id if history.state.exists else None
            session.put(event.stream_id, employees.HEAD_SK, {"version": event.version, "location_id": current})
            write_balances(session, history)
            return
        doc = session.get(event.stream_id, STATE_SK) or {"events": [], "members": [], "approver_id": None}
        parsed = parse_event(event.event_type, event.data)
        match parsed:
            case EmployeeAddedToLocation(employee_id=member):
                doc["members"] = sorted({*doc["members"], member})
                session.put(event.stream_id, STATE_SK, doc)
                recompute(session, member)
            case EmployeeLeftLocation():
                return  # a former member's past balance still depends on this location
            case _:
                doc["events"].append({"event_type": event.event_type, "data": dict(event.data)})
                doc["approver_id"] = _fold(event.stream_id.split("#", 1)[1], doc).approver_id
                session.put(event.stream_id, STATE_SK, doc)
                if isinstance(parsed, LeavePolicyAssigned):
                    for member in doc["members"]:
                        session.refresh_later(member)

    def topics(self, event: StoredEvent, changed: Sequence[tuple[str, str]]) -> list[str]:
        """Live updates: a changed balance row is its employee's (`employee#<id>`)."""
        return live_topics.employees_of(changed, "balance#")

    def refresh(self, session: Session, target: str) -> None:
        """Recompute one employee's balances: a member's after their location's policy changed,
        or the rows an earlier transaction had no room for."""
        recompute(session, target)


def location_state(session: Session, location_id: str) -> LocationState:
    """The location as the read model has folded it so far (tracked read)."""
    return _fold(location_id, session.get(location_stream_id(location_id), STATE_SK) or {"events": []})


def _fold(location_id: str, doc: dict[str, Any]) -> LocationState:
    return location.fold(location_id, [parse_event(e["event_type"], e["data"]) for e in doc["events"]])


def recompute(session: Session, employee_id: str) -> None:
    """Rewrite the employee's balance rows from the current states of their streams."""
    history = employees.load(session, employee_id)
    if history is not None:
        write_balances(session, history)


def write_balances(session: Session, history: employees.History) -> None:
    """Make the employee's balance rows what they should be: write only the rows that change
    (new, different or gone), as many as the transaction has room for, and defer the rest to
    a refresh of the employee (`Session.refresh_later`), which continues the same way."""
    state = history.state
    if not state.exists:
        return
    locations = {p.location_id: location_state(session, p.location_id) for p in state.placements}
    wanted = {
        balance_sk(year, leave_type): balance(state, locations, year, leave_type).as_dict()
        for year in years(history)
        for leave_type in leave_types(history, locations)
    }
    pk = balance_pk(state.employee_id)
    have = dict(session.query(pk))
    changes = sorted([(sk, None) for sk in have if sk not in wanted] + [(sk, doc) for sk, doc in wanted.items() if have.get(sk) != doc])
    room = session.room()
    for sk, doc in changes[:room]:
        if doc is None:
            session.delete(pk, sk)
        else:
            session.put(pk, sk, doc)
    if len(changes) > room:
        session.refresh_later(state.employee_id)


def years(history: employees.History) -> range:
    """From the joining year to the year after the latest activity (event, leave, rollover, placement)."""
    state = history.state
    latest = [int(occurred_at[:4]) for _, occurred_at in history.events]
    latest += [leave.end.year for leave in state.leaves.values()]
    latest += [from_year + 1 for _, from_year in state.rollovers]
    latest += [p.since.year for p in state.placements]
    return range(state.placements[0].since.year, max(latest) + 2)


def leave_types(history: employees.History, locations: dict[str, LocationState]) -> list[str]:
    """Every leave type of the employee's locations' policies, leaves and rollovers."""
    found: set[str] = {t for loc in locations.values() for t in loc.policies}
    found |= {leave.leave_type for leave in history.state.leaves.values()}
    found |= {leave_type for leave_type, _ in history.state.rollovers}
    return sorted(found)


handler = projector_handler(BalanceProjection())
