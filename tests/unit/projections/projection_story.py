"""The story of DESIGN.md section 3, played through the real command service into an event store.

Ana (admin) creates Lisbon, adds John and Mike, makes Mike the approver and sets 20 PTO days
(5 may roll over). John's leaves: one approved, one denied, one cancelled. Year end: rollover.
Ana gives John a Mon-Thu week; Mike adds past leaves for John; John asks for more leave; Alex
(admin) creates Berlin (25 days, Sara approves) and transfers John there, with his pending
request; then John asks for leave in Berlin. Every id and time is deterministic.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.ports import EventStore, StoredEvent
from leave.commands import (
    AddEmployee,
    AddPastLeave,
    ApproveLeave,
    AssignApprover,
    AssignLeavePolicy,
    Caller,
    CancelLeave,
    ChangeWorkingWeek,
    CreateLocation,
    DenyLeave,
    RequestLeave,
    RollOverLeave,
    TransferEmployee,
)
from leave_api.service import CommandContext, LeaveService

ANA = Caller(sub="ana", groups=frozenset({"admin"}))
ALEX = Caller(sub="alex", groups=frozenset({"admin"}))
JOHN = Caller(sub="john")
MIKE = Caller(sub="mike", groups=frozenset({"approver"}))
SARA = Caller(sub="sara", groups=frozenset({"approver"}))


@dataclass(frozen=True)
class Story:
    """The event store after the story, and the ids the story created."""

    events: EventStore
    lisbon: str
    berlin: str
    requests: dict[str, str]

    def all_events(self) -> list[StoredEvent]:
        """Every stored event, stream by stream, in version order."""
        return [e for stream in self.stream_ids() for e in self.events.load(stream)]

    def stream_ids(self) -> list[str]:
        streams = {"directory#locations", f"location#{self.lisbon}", f"location#{self.berlin}"}
        streams |= {f"employee#{e}" for e in ("john", "mike", "sara")}
        streams.add("rollover#2025")  # the rollover's RolloverCompleted
        return sorted(streams)


class _Player:
    def __init__(self, events: EventStore) -> None:
        self.events = events
        self.now = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
        ids = itertools.count(1)
        self.service = LeaveService(self.events, clock=lambda: self.now, new_id=lambda: f"{next(ids):012x}" + "0" * 20)
        self.correlations = itertools.count(1)

    def at(self, day: date) -> _Player:
        self.now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)
        return self

    def do(self, command: Any, idempotency_key: str | None = None) -> dict[str, Any]:
        context = CommandContext(
            caller=command.caller.sub,
            correlation_id=f"corr-{next(self.correlations)}",
            idempotency_key=f"{command.caller.sub}#{idempotency_key}" if idempotency_key else None,
            request_hash="story" if idempotency_key else None,
        )
        return dict(self.service.execute(command, context).body)


def play_story(events: EventStore | None = None) -> Story:
    """Run the story into `events` (default: a new in-memory store); one command carries an
    `Idempotency-Key`, so a DynamoDB Events table also holds an idempotency item."""
    p = _Player(events if events is not None else InMemoryEventStore())
    lisbon = p.at(date(2025, 1, 6)).do(CreateLocation(caller=ANA, name="Lisbon, PT; HQ"), "create-lisbon")["location_id"]
    p.do(AddEmployee(caller=ANA, location_id=lisbon, employee_id="john", name="John Smith"))
    p.do(AddEmployee(caller=ANA, location_id=lisbon, employee_id="mike", name="Mike"))
    p.do(AssignApprover(caller=ANA, location_id=lisbon, employee_id="mike"))
    p.do(AssignLeavePolicy(caller=ANA, location_id=lisbon, leave_type="PTO", days_per_year=20, max_rollover_days=5))

    requests: dict[str, str] = {}
    p.at(date(2025, 2, 3))
    requests["approved"] = p.do(
        RequestLeave(caller=JOHN, employee_id="john", leave_type="PTO", start=date(2025, 3, 3), end=date(2025, 3, 7), note="Ski, trip")
    )["request_id"]
    p.do(ApproveLeave(caller=MIKE, request_id=requests["approved"]))
    requests["denied"] = p.do(
        RequestLeave(caller=JOHN, employee_id="john", leave_type="PTO", start=date(2025, 4, 7), end=date(2025, 4, 8))
    )["request_id"]
    p.do(DenyLeave(caller=MIKE, request_id=requests["denied"], reason="release week"))
    requests["cancelled"] = p.do(
        RequestLeave(caller=JOHN, employee_id="john", leave_type="PTO", start=date(2025, 8, 4), end=date(2025, 8, 15))
    )["request_id"]
    p.do(CancelLeave(caller=JOHN, request_id=requests["cancelled"]))
    requests["mike"] = p.do(
        RequestLeave(caller=MIKE, employee_id="mike", leave_type="PTO", start=date(2025, 12, 22), end=date(2026, 1, 2))
    )["request_id"]

    p.at(date(2026, 1, 2)).do(RollOverLeave(caller=ANA, from_year=2025))
    p.at(date(2026, 1, 5)).do(ChangeWorkingWeek(caller=ANA, employee_id="john", days=("MON", "TUE", "WED", "THU")))
    requests["past"] = p.do(AddPastLeave(caller=MIKE, employee_id="john", leave_type="PTO", start=date(2026, 1, 5), end=date(2026, 1, 5)))[
        "request_id"
    ]
    requests["pending"] = p.at(date(2026, 2, 2)).do(
        RequestLeave(caller=JOHN, employee_id="john", leave_type="PTO", start=date(2026, 7, 6), end=date(2026, 7, 9))
    )["request_id"]

    berlin = p.at(date(2026, 3, 2)).do(CreateLocation(caller=ALEX, name="Berlin"))["location_id"]
    p.do(AddEmployee(caller=ALEX, location_id=berlin, employee_id="sara", name="Sara"))
    p.do(AssignApprover(caller=ALEX, location_id=berlin, employee_id="sara"))
    p.do(AssignLeavePolicy(caller=ALEX, location_id=berlin, leave_type="PTO", days_per_year=25, max_rollover_days=0))
    p.do(TransferEmployee(caller=ALEX, employee_id="john", to_location_id=berlin, effective_on=date(2026, 4, 1)))
    requests["berlin"] = p.at(date(2026, 4, 6)).do(
        RequestLeave(caller=JOHN, employee_id="john", leave_type="PTO", start=date(2026, 5, 4), end=date(2026, 5, 5))
    )["request_id"]
    return Story(events=p.events, lisbon=lisbon, berlin=berlin, requests=requests)
