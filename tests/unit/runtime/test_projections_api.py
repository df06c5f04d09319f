"""The projector runtime as a new team uses it: a small projection written only against
`acme_eventsourcing.runtime.projections` (and the event store), nothing of leave's."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import pytest
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, NewEvent
from acme_eventsourcing.runtime.projections import (
    STUCK_PK,
    InMemoryReadModelStore,
    MissingEventsError,
    Projector,
    Session,
    StoredEvent,
    StoreReadModelReader,
    StreamsReader,
    freshness,
    from_bus,
    rebuild,
    stuck_streams,
)


@dataclass(frozen=True)
class OrderTotals:
    """Per customer: how many orders and their total; per order: its lines (owned by the order's stream)."""

    name: str = "order-totals"
    event_types: frozenset[str] = frozenset({"OrderPlaced", "OrderCancelled"})

    def apply(self, session: Session, event: StoredEvent) -> None:
        customer = f"customer#{event.data['customer_id']}"
        doc = session.get(customer, "totals") or {"orders": 0, "total": 0}
        sign = 1 if event.event_type == "OrderPlaced" else -1
        session.put(customer, "totals", {"orders": doc["orders"] + sign, "total": doc["total"] + sign * event.data["amount"]})
        session.put(f"order#{event.stream_id}", f"{event.version:06d}", {"type": event.event_type})


def order_events(store: InMemoryEventStore, stream_id: str, amounts: list[int], *, cancel_last: bool = False) -> list[StoredEvent]:
    events = [
        NewEvent(
            event_type="OrderCancelled" if cancel_last and i == len(amounts) - 1 else "OrderPlaced",
            data={"customer_id": "ann", "amount": amount},
            event_id=f"{stream_id}-{i}",
            occurred_at="2027-01-11T09:00:00Z",
        )
        for i, amount in enumerate(amounts)
    ]
    return store.append([Append(stream_id=stream_id, expected_version=0, events=events)])


def totals(store: InMemoryReadModelStore) -> dict[str, object]:
    row = store.get("customer#ann", "totals")
    return {} if row is None else dict(row.doc)


@pytest.fixture
def events() -> InMemoryEventStore:
    return InMemoryEventStore()


def test_each_event_is_applied_once_in_version_order_and_moves_the_checkpoint(events: InMemoryEventStore) -> None:
    stored = order_events(events, "o1", [10, 20, 30])
    store = InMemoryReadModelStore()
    projector = Projector(projection=OrderTotals(), store=store, events=events)
    assert [projector.handle(e) for e in stored] == [1, 1, 1]
    assert totals(store) == {"orders": 3, "total": 60}
    assert store.checkpoints() == {"o1": 3}


def test_duplicates_and_older_versions_are_skipped(events: InMemoryEventStore) -> None:
    stored = order_events(events, "o1", [10, 20])
    store = InMemoryReadModelStore()
    projector = Projector(projection=OrderTotals(), store=store, events=events)
    for e in stored:
        projector.handle(e)
    assert [projector.handle(e) for e in reversed(stored)] == [0, 0]
    assert totals(store) == {"orders": 2, "total": 30}


def test_a_gap_is_filled_from_the_event_store(events: InMemoryEventStore) -> None:
    stored = order_events(events, "o1", [10, 20, 30])
    store = InMemoryReadModelStore()
    projector = Projector(projection=OrderTotals(), store=store, events=events)
    assert projector.handle(stored[2]) == 3  # versions 1 and 2 loaded from the store first
    assert [sk for sk, _ in Session(store).query("order#o1")] == ["000001", "000002", "000003"]
    assert projector.handle(stored[0]) == 0


def test_an_event_the_store_lacks_the_past_of_fails_and_marks_the_stream_stuck(events: InMemoryEventStore) -> None:
    (first,) = order_events(events, "o1", [10])
    future = replace(first, version=3, event_id="o1-x")
    store = InMemoryReadModelStore()
    projector = Projector(projection=OrderTotals(), store=store, events=InMemoryEventStore())  # an empty store: nothing to fill with
    with pytest.raises(MissingEventsError):
        projector.handle(future)
    reader = StoreReadModelReader({"order-totals": store})
    answer = freshness(reader, "order-totals", "o1")
    assert answer["as_of_version"] == 0
    assert [(s["stream_id"], s["stuck_at_version"]) for s in answer["stale"]] == [("o1", 1)]
    assert [s["projection"] for s in stuck_streams(reader, ["order-totals"])] == ["order-totals"]
    Projector(projection=OrderTotals(), store=store, events=events).handle(first)  # the stream projects again
    assert store.stuck() == [] and freshness(reader, "order-totals", "o1") == {"as_of_version": 1, "as_of": {"o1": 1}, "stale": []}


def test_the_session_keeps_the_projectors_partitions_to_itself() -> None:
    session = Session(InMemoryReadModelStore())
    for pk in (STUCK_PK, "checkpoint#o1"):
        with pytest.raises(ValueError, match="reserved"):
            session.put(pk, "x", {})


def test_shuffled_duplicated_delivery_from_the_bus_gives_what_a_rebuild_gives(events: InMemoryEventStore) -> None:
    stored = order_events(events, "o1", [10, 20, 30]) + order_events(events, "o2", [5, 5], cancel_last=True)
    live = InMemoryReadModelStore()
    projector = Projector(projection=OrderTotals(), store=live, events=events)
    deliveries = [from_bus({"source": "acme.orders", "detail-type": e.event_type, "detail": e.envelope()}) for e in stored * 2]
    random.Random(7).shuffle(deliveries)
    for e in deliveries:
        projector.handle(e)
    rebuilt = InMemoryReadModelStore()
    report = rebuild(StreamsReader(events, ["o1", "o2"]), OrderTotals(), rebuilt)
    assert (report.streams, report.events) == (2, 5)
    assert list(rebuilt.rows()) == list(live.rows())
    assert rebuilt.checkpoints() == live.checkpoints() == {"o1": 3, "o2": 2}
    assert totals(rebuilt) == {"orders": 3, "total": 60}
    with pytest.raises(ValueError, match="not empty"):
        rebuild(StreamsReader(events, ["o1"]), OrderTotals(), rebuilt)
