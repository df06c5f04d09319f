"""The projector core: next version only, duplicates ignored, gaps filled, races applied once."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, NewEvent, StoredEvent
from acme_eventsourcing.runtime.projections import (
    ConflictError,
    InMemoryReadModelStore,
    MalformedEventError,
    MissingEventsError,
    Projector,
    Session,
    from_bus,
)


@dataclass(frozen=True)
class Tally:
    """A toy read model: per stream the versions seen, and one row every stream updates."""

    name: str = "tally"
    event_types: frozenset[str] = frozenset({"Counted"})

    def apply(self, session: Session, event: StoredEvent) -> None:
        seen = session.get(f"stream#{event.stream_id}", "seen") or {"versions": []}
        seen["versions"].append(event.version)
        session.put(f"stream#{event.stream_id}", "seen", seen)
        total = session.get("total", "total") or {"n": 0}
        session.put("total", "total", {"n": total["n"] + 1})


def append(events: InMemoryEventStore, stream_id: str, *types: str) -> list[StoredEvent]:
    current = len(events.load(stream_id))
    new = [
        NewEvent(event_type=t, data={"i": i}, event_id=f"{stream_id}-{current + i}", occurred_at="2026-01-05T09:00:00Z")
        for i, t in enumerate(types, start=1)
    ]
    return events.append([Append(stream_id=stream_id, expected_version=current, events=new)])


def projector(store: InMemoryReadModelStore, events: InMemoryEventStore, **kwargs) -> Projector:
    return Projector(projection=Tally(), store=store, events=events, backoff=lambda attempt: None, **kwargs)


def seen(store: InMemoryReadModelStore, stream_id: str) -> list[int]:
    row = store.get(f"stream#{stream_id}", "seen")
    return [] if row is None else row.doc["versions"]


def test_in_order_events_are_each_applied_once():
    store, events = InMemoryReadModelStore(), InMemoryEventStore()
    p = projector(store, events)
    applied = [p.handle(e) for e in append(events, "s#1", "Counted", "Counted", "Counted")]
    assert applied == [1, 1, 1]
    assert seen(store, "s#1") == [1, 2, 3]
    assert store.checkpoint("s#1") == 3


def test_duplicates_and_older_versions_are_ignored():
    store, events = InMemoryReadModelStore(), InMemoryEventStore()
    p = projector(store, events)
    e1, e2 = append(events, "s#1", "Counted", "Counted")
    assert [p.handle(e1), p.handle(e2), p.handle(e2), p.handle(e1)] == [1, 1, 0, 0]
    assert seen(store, "s#1") == [1, 2]
    assert store.get("total", "total").doc == {"n": 2}


def test_a_gap_is_filled_from_the_events_table_in_order():
    store, events = InMemoryReadModelStore(), InMemoryEventStore()
    p = projector(store, events)
    e1, e2, e3 = append(events, "s#1", "Counted", "Counted", "Counted")
    assert p.handle(e3) == 3
    assert seen(store, "s#1") == [1, 2, 3]
    assert [p.handle(e1), p.handle(e2)] == [0, 0]


def test_gap_filling_also_applies_versions_after_the_delivered_one():
    store, events = InMemoryReadModelStore(), InMemoryEventStore()
    p = projector(store, events)
    _, e2, _, _ = append(events, "s#1", "Counted", "Counted", "Counted", "Counted")
    assert p.handle(e2) == 4
    assert store.checkpoint("s#1") == 4


def test_a_gap_the_events_table_cannot_fill_applies_nothing_and_raises():
    store, events = InMemoryReadModelStore(), InMemoryEventStore()
    stranger = StoredEvent(stream_id="s#9", version=2, event_type="Counted", data={}, event_id="x", occurred_at="2026-01-05T09:00:00Z")
    with pytest.raises(MissingEventsError):
        projector(store, events).handle(stranger)
    assert store.checkpoint("s#9") == 0
    assert seen(store, "s#9") == []


def test_events_of_other_types_advance_the_checkpoint_without_changes():
    store, events = InMemoryReadModelStore(), InMemoryEventStore()
    p = projector(store, events)
    e1, e2, e3 = append(events, "s#1", "Counted", "Ignored", "Counted")
    assert [p.handle(e1), p.handle(e3)] == [1, 2]
    assert seen(store, "s#1") == [1, 3]
    assert store.checkpoint("s#1") == 3


class RacingStore(InMemoryReadModelStore):
    """Holds every caller after its first checkpoint read until `parties` callers have read it."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self._barrier = threading.Barrier(parties, timeout=10)
        self._held: set[int] = set()

    def checkpoint(self, stream_id: str) -> int:
        version = super().checkpoint(stream_id)
        if threading.get_ident() not in self._held:
            self._held.add(threading.get_ident())
            self._barrier.wait()
        return version


def run_in_threads(*calls) -> list[int]:
    results: list[int] = [0] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_the_same_event_delivered_to_two_concurrent_invocations_is_applied_once():
    store, events = RacingStore(parties=2), InMemoryEventStore()
    (e1,) = append(events, "s#1", "Counted")
    results = run_in_threads(lambda: projector(store, events).handle(e1), lambda: projector(store, events).handle(e1))
    assert sorted(results) == [0, 1]
    assert seen(store, "s#1") == [1]
    assert store.get("total", "total").doc == {"n": 1}


def test_concurrent_events_of_two_streams_lose_no_update_of_a_shared_row():
    store, events = RacingStore(parties=2), InMemoryEventStore()
    (a,) = append(events, "s#a", "Counted")
    (b,) = append(events, "s#b", "Counted")
    results = run_in_threads(lambda: projector(store, events).handle(a), lambda: projector(store, events).handle(b))
    assert results == [1, 1]
    assert store.get("total", "total").doc == {"n": 2}


class AlwaysConflicting(InMemoryReadModelStore):
    def commit(self, writes, checks, checkpoint, *, refresh_done=None) -> None:
        raise ConflictError("always")


def test_conflicts_are_retried_a_bounded_number_of_times_then_raised():
    events = InMemoryEventStore()
    (e1,) = append(events, "s#1", "Counted")
    attempts: list[int] = []
    p = Projector(projection=Tally(), store=AlwaysConflicting(), events=events, max_conflicts=3, backoff=attempts.append)
    with pytest.raises(ConflictError):
        p.handle(e1)
    assert attempts == [1, 2, 3]


def session_with(store: InMemoryReadModelStore, *rows: tuple[str, str, dict]) -> Session:
    session = Session(store)
    for pk, sk, doc in rows:
        session.put(pk, sk, doc)
    return session


def test_session_drops_writes_that_leave_a_row_as_read_but_keeps_its_check():
    store = InMemoryReadModelStore()
    store.commit(*session_with(store, ("a", "1", {"n": 1})).changes(), None)
    session = Session(store)
    session.put("a", "1", session.get("a", "1"))
    writes, checks = session.changes()
    assert writes == []
    assert [(c.pk, c.sk, c.expected_rev) for c in checks] == [("a", "1", 1)]


def test_session_query_merges_its_own_writes_and_deletes():
    store = InMemoryReadModelStore()
    store.commit(*session_with(store, ("p", "1", {"v": 1}), ("p", "2", {"v": 2})).changes(), None)
    session = Session(store)
    session.delete("p", "1")
    session.put("p", "3", {"v": 3})
    assert session.query("p") == [("2", {"v": 2}), ("3", {"v": 3})]


def test_session_refuses_the_checkpoint_partitions():
    with pytest.raises(ValueError):
        Session(InMemoryReadModelStore()).put("checkpoint#s#1", "x", {})


def bus_event(detail: object, detail_type: str = "LeaveRequested") -> dict:
    return {"source": "acme.leave", "detail-type": detail_type, "detail": detail}


def test_from_bus_reads_the_envelope():
    detail = {
        "metadata": {
            "event_id": "e1",
            "stream_id": "employee#john",
            "version": 7,
            "occurred_at": "2026-01-05T09:00:00Z",
            "actor": "john",
            "correlation_id": "c",
        },
        "data": {"request_id": "john~7"},
    }
    event = from_bus(bus_event(detail))
    assert (event.stream_id, event.version, event.event_type, event.event_id) == ("employee#john", 7, "LeaveRequested", "e1")
    assert event.data == {"request_id": "john~7"}
    assert event.metadata == {"actor": "john", "correlation_id": "c"}
    assert event.envelope() == detail


@pytest.mark.parametrize(
    "detail",
    [
        None,
        {"data": {}},
        {"metadata": {"stream_id": "s", "version": 1, "event_id": "e"}},
        {"metadata": {"stream_id": "s", "version": "1", "event_id": "e", "occurred_at": "t"}},
        {"metadata": {"stream_id": "s", "version": True, "event_id": "e", "occurred_at": "t"}},
        {"metadata": {"stream_id": "s", "version": 0, "event_id": "e", "occurred_at": "t"}},
        {"metadata": {"stream_id": "", "version": 1, "event_id": "e", "occurred_at": "t"}},
        {"metadata": {"stream_id": "s", "version": 1, "event_id": "e", "occurred_at": "t"}, "data": [1]},
        "{not json",
    ],
)
def test_from_bus_rejects_what_is_not_an_envelope(detail):
    with pytest.raises(MalformedEventError):
        from_bus(bus_event(detail))


@dataclass(frozen=True)
class Fanout:
    """A toy projection: a hub's events change the `copy` rows of every leaf listed in them."""

    name: str = "fanout"
    event_types: frozenset[str] = frozenset({"Counted"})

    def apply(self, session: Session, event: StoredEvent) -> None:
        session.put(f"hub#{event.stream_id}", "state", {"version": event.version})
        for leaf in event.data.get("leaves", []):
            session.refresh_later(f"{leaf}|{event.stream_id}")

    def refresh(self, session: Session, target: str) -> None:
        leaf, hub = target.split("|")
        session.put(f"copy#{leaf}", hub, session.get(f"hub#{hub}", "state"))


class CrashingOnce(InMemoryReadModelStore):
    """Fails the first commit that carries no checkpoint move (the first refresh)."""

    crashed = False

    def commit(self, writes, checks, checkpoint, *, refresh_done=None) -> None:
        if checkpoint is None and not self.crashed:
            self.crashed = True
            raise RuntimeError("Lambda timed out")
        super().commit(writes, checks, checkpoint, refresh_done=refresh_done)


def hub_event(version: int, leaves: list[str]) -> StoredEvent:
    return StoredEvent(
        stream_id="h#1",
        version=version,
        event_type="Counted",
        data={"leaves": leaves},
        event_id=f"h{version}",
        occurred_at="2026-01-05T09:00:00Z",
    )


def test_refreshes_run_one_per_transaction_after_the_commit_and_clear_the_marker():
    store = InMemoryReadModelStore(max_actions=4)
    p = Projector(projection=Fanout(), store=store, events=InMemoryEventStore())
    assert p.handle(hub_event(1, [f"leaf{i}" for i in range(10)])) == 1
    assert [store.get(f"copy#leaf{i}", "h#1").doc for i in range(10)] == [{"version": 1}] * 10
    assert store.get("refresh#h#1", "refresh") is None


def test_refreshes_left_by_a_crash_are_finished_by_the_redelivered_event():
    store = CrashingOnce()
    p = Projector(projection=Fanout(), store=store, events=InMemoryEventStore())
    event = hub_event(1, ["a", "b"])
    with pytest.raises(RuntimeError):
        p.handle(event)
    assert store.get("refresh#h#1", "refresh").doc == {"targets": ["a|h#1", "b|h#1"]}
    assert p.handle(event) == 0
    assert store.get("copy#a", "h#1").doc == store.get("copy#b", "h#1").doc == {"version": 1}
    assert store.get("refresh#h#1", "refresh") is None


def test_refreshes_left_by_a_crash_are_finished_by_the_streams_next_event_even_if_it_defers_nothing():
    store = CrashingOnce()
    p = Projector(projection=Fanout(), store=store, events=InMemoryEventStore())
    with pytest.raises(RuntimeError):
        p.handle(hub_event(1, ["a", "b"]))
    p.handle(hub_event(2, []))
    assert store.get("copy#a", "h#1").doc == store.get("copy#b", "h#1").doc == {"version": 2}
    assert store.get("refresh#h#1", "refresh") is None


class CountingGets(InMemoryReadModelStore):
    """Counts reads of each row."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gets: list[tuple[str, str]] = []

    def get(self, pk: str, sk: str):
        self.gets.append((pk, sk))
        return super().get(pk, sk)


def test_the_marker_row_is_read_only_while_the_checkpoint_notes_refresh_work():
    store = CountingGets()
    p = Projector(projection=Fanout(), store=store, events=InMemoryEventStore())
    p.handle(hub_event(1, ["a"]))  # defers: the marker is written, then read by the refresh
    assert store.checkpoint_state("h#1").refresh_pending is False  # done: the note is cleared
    store.gets.clear()
    p.handle(hub_event(2, []))  # defers nothing, nothing noted: no read of the marker
    p.handle(hub_event(2, []))  # a duplicate: none either
    assert ("refresh#h#1", "refresh") not in store.gets
    assert store.get("hub#h#1", "state").doc == {"version": 2}


def test_the_note_survives_a_crash_and_later_events_that_defer_nothing():
    store = CrashingOnce()
    p = Projector(projection=Fanout(), store=store, events=InMemoryEventStore())
    with pytest.raises(RuntimeError):
        p.handle(hub_event(1, ["a", "b"]))
    assert store.checkpoint_state("h#1").refresh_pending is True
    store.crashed = False  # and crash again, on the next event's refresh
    with pytest.raises(RuntimeError):
        p.handle(hub_event(2, []))
    assert store.checkpoint_state("h#1").refresh_pending is True  # a move without the note keeps it
    p.handle(hub_event(3, []))
    assert store.checkpoint_state("h#1").refresh_pending is False
    assert store.get("copy#a", "h#1").doc == store.get("copy#b", "h#1").doc == {"version": 3}


def test_deferring_without_a_refresh_method_is_refused_before_anything_is_committed():
    class Careless(Tally):
        def apply(self, session: Session, event: StoredEvent) -> None:
            session.refresh_later("x")

    events = InMemoryEventStore()
    (e1,) = append(events, "s#1", "Counted")
    store = InMemoryReadModelStore()
    with pytest.raises(TypeError):
        Projector(projection=Careless(), store=store, events=events).handle(e1)
    assert store.checkpoint("s#1") == 0
