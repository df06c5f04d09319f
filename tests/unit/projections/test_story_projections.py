"""The story of DESIGN.md section 3 through every projection: what the read models say, and
that duplicated, shuffled delivery (with gaps filled from the Events table) changes nothing."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import pytest
from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.projections import InMemoryReadModelStore, Projector
from leave_projections.audit import AuditProjection
from leave_projections.balance import BalanceProjection
from leave_projections.calendar import CalendarProjection
from leave_projections.pending import PendingProjection

from tests.unit.projections.projection_story import Story, play_story

PROJECTIONS = [BalanceProjection(), PendingProjection(), CalendarProjection(), AuditProjection()]


@pytest.fixture(scope="module")
def story() -> Story:
    return play_story()


def project(projection: Any, story: Story, deliveries: Iterable[StoredEvent]) -> InMemoryReadModelStore:
    store = InMemoryReadModelStore()
    projector = Projector(projection=projection, store=store, events=story.events)
    for event in deliveries:
        projector.handle(event)
    return store


def snapshot(store: Any) -> tuple[dict[tuple[str, str], Any], dict[str, int]]:
    """A read model without revisions (they count writes, which depend on the delivery order)."""
    return {(r.pk, r.sk): r.doc for r in store.rows()}, store.checkpoints()


def in_order(projection: Any, story: Story) -> InMemoryReadModelStore:
    return project(projection, story, story.all_events())


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: p.name)
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_duplicated_and_shuffled_delivery_gives_the_in_order_read_model(story, projection, seed):
    deliveries = story.all_events() * 2
    random.Random(seed).shuffle(deliveries)
    assert snapshot(project(projection, story, deliveries)) == snapshot(in_order(projection, story))


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: p.name)
def test_reverse_delivery_fills_every_gap(story, projection):
    assert snapshot(project(projection, story, reversed(story.all_events()))) == snapshot(in_order(projection, story))


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: p.name)
def test_location_streams_first_or_employee_streams_first_end_the_same(story, projection):
    events = story.all_events()
    locations_first = sorted(events, key=lambda e: not e.stream_id.startswith("location#"))
    employees_first = sorted(events, key=lambda e: not e.stream_id.startswith("employee#"))
    assert snapshot(project(projection, story, locations_first)) == snapshot(project(projection, story, employees_first))


def balance_row(store: InMemoryReadModelStore, employee_id: str, year: int) -> dict[str, Any]:
    return store.get(f"balance#{employee_id}", f"{year}#PTO").doc


def test_balance_tells_the_story_of_john(story):
    store = in_order(BalanceProjection(), story)
    assert balance_row(store, "john", 2025) == {
        "employee_id": "john",
        "year": 2025,
        "leave_type": "PTO",
        "allowance": 20,
        "rolled_over": 0,
        "used": 5,
        "pending": 0,
        "rolled_out": 5,
        "remaining": 10,
    }
    # 2026: Jan-Mar in Lisbon (20/year), from April in Berlin (25/year): 20*90/365 + 25*275/365 = 23.77 -> 24;
    # 5 rolled over; 1 past day; pending Mon-Thu Jul 6-9 (4) and May 4-5 (2).
    assert balance_row(store, "john", 2026) == {
        "employee_id": "john",
        "year": 2026,
        "leave_type": "PTO",
        "allowance": 24,
        "rolled_over": 5,
        "used": 1,
        "pending": 6,
        "rolled_out": 0,
        "remaining": 22,
    }
    assert balance_row(store, "john", 2027)["allowance"] == 25
    assert store.get("balance#john", "2028#PTO") is None


def test_balance_of_a_leave_across_new_year_counts_in_each_year(story):
    store = in_order(BalanceProjection(), story)
    assert (balance_row(store, "mike", 2025)["pending"], balance_row(store, "mike", 2026)["pending"]) == (8, 2)


def test_pending_requests_follow_the_transfer_to_the_new_location(story):
    store = in_order(PendingProjection(), story)
    lisbon = [r.sk for r in store.query(f"pending#{story.lisbon}")]
    berlin = [r.sk for r in store.query(f"pending#{story.berlin}")]
    assert lisbon == [story.requests["mike"]]
    assert berlin == sorted([story.requests["pending"], story.requests["berlin"]])
    assert [r.sk for r in store.query("approver#mike")] == [story.lisbon]
    assert [r.sk for r in store.query("approver#sara")] == [story.berlin]


def test_calendar_shows_approved_and_pending_leaves_where_the_employee_is_on_their_first_day(story):
    store = in_order(CalendarProjection(), story)
    lisbon = {r.doc["request_id"]: r.doc["status"] for r in store.query(f"calendar#{story.lisbon}")}
    berlin = {r.doc["request_id"]: r.doc["status"] for r in store.query(f"calendar#{story.berlin}")}
    r = story.requests
    assert lisbon == {r["approved"]: "approved", r["past"]: "approved", r["mike"]: "pending"}
    assert berlin == {r["pending"]: "pending", r["berlin"]: "pending"}
    assert store.get(f"location#{story.lisbon}", "state").doc["members"] == ["mike"]
    assert store.get(f"location#{story.berlin}", "state").doc["members"] == ["john", "sara"]


def test_audit_keeps_every_envelope_of_a_stream_oldest_first(story):
    store = in_order(AuditProjection(), story)
    john = [r.doc for r in store.query("audit#employee#john")]
    assert [e["metadata"]["version"] for e in john] == list(range(1, 14))
    assert john[0]["metadata"]["event_type"] == "EmployeeJoined"
    assert john[0]["data"]["name"] == "John Smith"
    assert john[0]["metadata"]["actor"] == "ana"
    assert "idempotency_key" not in john[0]["metadata"]
