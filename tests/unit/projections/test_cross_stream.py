"""Read models that join streams: a policy for many members, approver changes, hand-made events."""

from __future__ import annotations

import itertools
from datetime import date

from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, NewEvent, StoredEvent
from acme_eventsourcing.runtime.projections import InMemoryReadModelStore, Projector
from leave.events import (
    ApproverAssigned,
    ApproverUnassigned,
    EmployeeAddedToLocation,
    EmployeeJoined,
    Event,
    LeavePolicyAssigned,
    LeaveRequested,
    LocationCreated,
)
from leave_projections.balance import BalanceProjection
from leave_projections.pending import PendingProjection

DAY = date(2026, 1, 5)
_ids = itertools.count(1)


def append(events: InMemoryEventStore, *domain_events: Event) -> list[StoredEvent]:
    """Append each domain event to its own stream, in order."""
    stored: list[StoredEvent] = []
    for e in domain_events:
        version = len(events.load(e.stream_id))
        new = NewEvent(
            event_type=e.event_type,
            data=e.to_data(),
            event_id=f"e{next(_ids)}",
            occurred_at="2026-01-05T09:00:00Z",
            metadata={"actor": "ana"},
        )
        stored += events.append([Append(stream_id=e.stream_id, expected_version=version, events=[new])])
    return stored


def joined(employee_id: str, location_id: str = "hq") -> list[Event]:
    return [
        EmployeeJoined(employee_id=employee_id, name=employee_id.title(), location_id=location_id, effective_on=DAY),
        EmployeeAddedToLocation(location_id=location_id, employee_id=employee_id, name=employee_id.title(), effective_on=DAY),
    ]


def test_a_policy_for_more_members_than_one_transaction_holds_reaches_every_balance():
    events, store = InMemoryEventStore(), InMemoryReadModelStore(max_actions=100)
    members = [f"e{i:03d}" for i in range(120)]
    stored = append(
        events,
        LocationCreated(location_id="hq", name="HQ"),
        *[e for m in members for e in joined(m)],
        LeavePolicyAssigned(location_id="hq", leave_type="PTO", days_per_year=20, max_rollover_days=5, effective_on=DAY),
    )
    projector = Projector(projection=BalanceProjection(), store=store, events=events)
    for event in stored:
        projector.handle(event)
    allowances = {m: store.get(f"balance#{m}", "2026#PTO").doc["allowance"] for m in members}
    assert set(allowances.values()) == {20}
    assert store.get("refresh#location#hq", "refresh") is None


def pending_store(*domain_events: Event) -> InMemoryReadModelStore:
    events, store = InMemoryEventStore(), InMemoryReadModelStore()
    projector = Projector(projection=PendingProjection(), store=store, events=events)
    for event in append(events, *domain_events):
        projector.handle(event)
    return store


def request(employee_id: str, n: int, approver_id: str | None) -> LeaveRequested:
    return LeaveRequested(
        employee_id=employee_id,
        request_id=f"{employee_id}~{n}",
        location_id="hq",
        approver_id=approver_id,
        leave_type="PTO",
        start=date(2026, 3, 2),
        end=date(2026, 3, 3),
        working_days=2,
    )


def locations_of(store: InMemoryReadModelStore, approver_id: str) -> list[str]:
    return [r.sk for r in store.query(f"approver#{approver_id}")]


def test_pending_requests_follow_a_new_approver_of_their_location():
    store = pending_store(
        LocationCreated(location_id="hq", name="HQ"),
        *joined("john"),
        *joined("mike"),
        *joined("sara"),
        ApproverAssigned(location_id="hq", approver_id="mike"),
        request("john", 2, "mike"),
        ApproverAssigned(location_id="hq", approver_id="sara", previous_approver_id="mike"),
    )
    assert (locations_of(store, "mike"), locations_of(store, "sara")) == ([], ["hq"])
    assert [r.sk for r in store.query("pending#hq")] == ["john~2"]


def test_an_unassigned_approver_has_no_location_left():
    store = pending_store(
        LocationCreated(location_id="hq", name="HQ"),
        *joined("mike"),
        ApproverAssigned(location_id="hq", approver_id="mike"),
        ApproverUnassigned(location_id="hq", approver_id="mike"),
    )
    assert locations_of(store, "mike") == []
