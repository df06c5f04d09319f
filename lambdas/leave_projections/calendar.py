"""The team-calendar read model: approved and pending leaves per location, JSON and iCalendar.

Table layout (keys `pk`/`sk`):

- `calendar#<location_id>` / `<end>#<request_id>`: one leave (`request_id`, `employee_id`,
  `name`, `leave_type`, `start`, `end`, `status`, `working_days`) and its VEVENT text (`ics`);
  sorted by last day, so "leaves overlapping from..to" is a range read from `from`;
- `location#<location_id>` / `state`: `name`, current `members` (who may read the calendar)
  and the VCALENDAR header (`ics_begin`);
- `employee#<employee_id>` / `event#<version>` and `head` (`version`, `rows`: the calendar
  rows the employee has, `[pk, sk, digest]` each): the employee's stream, folded with the
  domain's `evolve`;
- `employee-calendar#<employee_id>` / `<end>#<request_id>`: the same leave as seen by the
  employee's own feed (`request_id`, `start`, `end`, `ics`), wherever it is, and `calendar`:
  that feed's VCALENDAR header (`name`, `ics_begin`);
- calendar subscription feeds (`calendar-feed#<feed_id>` streams): `feed#<feed_id>` / `state`
  (scope, subject, owner, status, the token's digest, dates), `token#<sha256 of the token>` /
  `feed` (what an ACTIVE token serves: `feed_id`, `scope`, `subject_id`, `owner_id`,
  `owner_is_admin`, `token_sha256`; deleted when the token is rotated away or revoked) and
  `owner#<owner_id>` / `<feed_id>` (the owner's list). Never the token itself.

A leave is on the calendar of the location the employee belongs to on its first day (so a
transfer moves the leaves from its effective date on). Every row is written by one stream only.
An event writes only the rows that change (by digest), as many as one transaction holds, and
defers the rest to a refresh of the employee (`Session.refresh_later`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.projections import Session, projector_handler
from leave.employee import EmployeeState, LeaveStatus
from leave.events import (
    CALENDAR_EVENT_TYPES,
    CalendarFeedCreated,
    CalendarFeedRevoked,
    CalendarFeedTokenRotated,
    EmployeeAddedToLocation,
    EmployeeLeftLocation,
    LocationCreated,
    parse_event,
)
from leave.ids import CALENDAR_FEED_STREAM_PREFIX, EMPLOYEE_STREAM_PREFIX, employee_stream_id

from leave_projections import employees, ical, live_topics

STATE_SK = "state"
FEED_SK = "feed"
EMPLOYEE_CALENDAR_SK = "calendar"
SHOWN = {LeaveStatus.PENDING: "pending", LeaveStatus.APPROVED: "approved"}


def calendar_pk(location_id: str) -> str:
    return f"calendar#{location_id}"


def employee_calendar_pk(employee_id: str) -> str:
    """The partition of an employee's own feed: their leaves (sk `<end>#<request_id>`) and header (sk `calendar`)."""
    return f"employee-calendar#{employee_id}"


def token_pk(token_sha256: str) -> str:
    """The row of an active feed token, by the hex SHA-256 of the token."""
    return f"token#{token_sha256}"


def feed_pk(feed_id: str) -> str:
    return f"feed#{feed_id}"


def owner_pk(owner_id: str) -> str:
    return f"owner#{owner_id}"


def location_on(state: EmployeeState, day: date) -> str:
    """The employee's location on `day` (their first one for days before they joined)."""
    found = state.placements[0].location_id
    for i, placement in enumerate(state.placements):
        if state.placement_start(i) <= day:
            found = placement.location_id
    return found


@dataclass(frozen=True)
class CalendarProjection:
    """Leaves per location; see the module docstring."""

    name: str = "calendar"
    event_types: frozenset[str] = frozenset(CALENDAR_EVENT_TYPES)

    def topics(self, event: StoredEvent, changed: Sequence[tuple[str, str]]) -> list[str]:
        """Live updates: a location's calendar rows and state are its members' view (`location#<id>`)."""
        return live_topics.calendar_topics(changed)

    def apply(self, session: Session, event: StoredEvent) -> None:
        if event.stream_id.startswith(EMPLOYEE_STREAM_PREFIX):
            self._employee(session, event)
        elif event.stream_id.startswith(CALENDAR_FEED_STREAM_PREFIX):
            self._feed(session, event)
        else:
            self._location(session, event)

    def _employee(self, session: Session, event: StoredEvent) -> None:
        history = employees.record(session, event)
        sync(session, history, event.version)

    def refresh(self, session: Session, target: str) -> None:
        """Write the rest of an employee's calendar rows (more than one transaction held)."""
        history = employees.load(session, target)
        if history is not None:
            sync(session, history, history.head["version"])

    def _location(self, session: Session, event: StoredEvent) -> None:
        state = session.get(event.stream_id, STATE_SK) or {"name": "", "members": []}
        match parse_event(event.event_type, event.data):
            case LocationCreated(name=name):
                state["name"] = name
                state["ics_begin"] = ical.calendar_begin(name)
            case EmployeeAddedToLocation(employee_id=member):
                state["members"] = sorted({*state["members"], member})
            case EmployeeLeftLocation(employee_id=member):
                state["members"] = sorted(set(state["members"]) - {member})
            case _:
                return
        session.put(event.stream_id, STATE_SK, state)

    def _feed(self, session: Session, event: StoredEvent) -> None:
        """A feed's rows: its state, its owner's list row, and the row of its active token."""
        feed_id = event.stream_id.removeprefix(CALENDAR_FEED_STREAM_PREFIX)
        state = session.get(feed_pk(feed_id), STATE_SK)
        match parse_event(event.event_type, event.data):
            case CalendarFeedCreated() as created:
                state = {
                    "feed_id": feed_id,
                    "scope": created.scope,
                    "subject_id": created.subject_id,
                    "owner_id": created.owner_id,
                    "owner_is_admin": created.owner_is_admin,
                    "status": "active",
                    "token_sha256": created.token_sha256,
                    "created_at": event.occurred_at,
                    "changed_at": event.occurred_at,
                }
            case CalendarFeedTokenRotated(token_sha256=digest) if state is not None:
                session.delete(token_pk(state["token_sha256"]), FEED_SK)
                state = {**state, "token_sha256": digest, "changed_at": event.occurred_at}
            case CalendarFeedRevoked() if state is not None:
                session.delete(token_pk(state["token_sha256"]), FEED_SK)
                state = {**state, "status": "revoked", "changed_at": event.occurred_at}
            case _:
                return
        session.put(feed_pk(feed_id), STATE_SK, state)
        session.put(owner_pk(state["owner_id"]), feed_id, {k: state[k] for k in FEED_LIST_FIELDS})
        if state["status"] == "active":
            served = ("feed_id", "scope", "subject_id", "owner_id", "owner_is_admin", "token_sha256")
            session.put(token_pk(state["token_sha256"]), FEED_SK, {k: state[k] for k in served})


FEED_LIST_FIELDS = ("feed_id", "scope", "subject_id", "status", "created_at", "changed_at")


def sync(session: Session, history: employees.History, version: int) -> None:
    """Make the employee's calendar rows what `rows` says: write only the rows whose digest
    changed (new or different) or that are gone, as many as the transaction has room for, and
    defer the rest to a refresh of the employee. The head lists each row written with its
    digest, so the rows need no read and every commit records exactly what it wrote."""
    have: dict[tuple[str, str], str | None] = {(k[0], k[1]): (k[2] if len(k) > 2 else None) for k in history.head.get("rows", [])}
    wanted = {key: (doc, digest(doc)) for key, doc in rows(history).items()}
    changes = sorted([(key, None) for key in have if key not in wanted] + [(key, d) for key, d in wanted.items() if have.get(key) != d[1]])
    room = session.room() - 1  # the head is written after
    for key, change in changes[: max(room, 1)]:
        if change is None:
            session.delete(*key)
            del have[key]
        else:
            session.put(*key, change[0])
            have[key] = change[1]
    session.put(
        employee_stream_id(history.state.employee_id),
        employees.HEAD_SK,
        {"version": version, "rows": [[pk, sk, d] for (pk, sk), d in sorted(have.items())]},
    )
    if len(changes) > max(room, 1):
        session.refresh_later(history.state.employee_id)


def digest(doc: dict[str, Any]) -> str:
    """A short fingerprint of a row's document: equal documents, equal digests."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rows(history: employees.History) -> dict[tuple[str, str], dict[str, Any]]:
    """The calendar rows of an employee's pending and approved leaves (on their location's
    calendar and in their own feed's partition), and their own feed's header."""
    state = history.state
    if not state.exists:
        return {}
    touched: dict[str, list[str]] = {}
    for event, occurred_at in history.events:
        request_id = getattr(event, "request_id", None)
        if request_id is not None:
            touched.setdefault(request_id, []).append(occurred_at)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for leave in state.leaves.values():
        if leave.status not in SHOWN:
            continue
        entry = ical.Entry(
            request_id=leave.request_id,
            employee_name=state.name or state.employee_id,
            leave_type=leave.leave_type,
            start=leave.start,
            end=leave.end,
            status=SHOWN[leave.status],
            stamp=touched[leave.request_id][-1],
            sequence=len(touched[leave.request_id]) - 1,
        )
        sk = f"{leave.end.isoformat()}#{leave.request_id}"
        key = (calendar_pk(location_on(state, leave.start)), sk)
        ics = ical.vevent(entry)
        found[(employee_calendar_pk(state.employee_id), sk)] = {
            "request_id": leave.request_id,
            "start": leave.start.isoformat(),
            "end": leave.end.isoformat(),
            "ics": ics,
        }
        found[key] = {
            "request_id": leave.request_id,
            "employee_id": state.employee_id,
            "name": entry.employee_name,
            "leave_type": leave.leave_type,
            "start": leave.start.isoformat(),
            "end": leave.end.isoformat(),
            "status": entry.status,
            "working_days": leave.working_days,
            "ics": ics,
        }
    name = state.name or state.employee_id
    found[(employee_calendar_pk(state.employee_id), EMPLOYEE_CALENDAR_SK)] = {
        "name": name,
        "ics_begin": ical.calendar_begin(f"{name}: leave"),
    }
    return found


handler = projector_handler(CalendarProjection())
