"""The `EventStore` contract as a pytest suite: every adapter must pass it, yours too.

Subclass `EventStoreContract` in a test module (its name starting with `Test`) and override
the `store_factory` fixture; pytest then runs every contract test against your adapter:

    import pytest
    from acme_eventsourcing.testing.eventstore_contract import EventStoreContract

    class TestMyStore(EventStoreContract):
        @pytest.fixture
        def store_factory(self):
            backend = make_backend()                  # fresh and empty for each test
            return lambda: MyEventStore(backend)      # stores sharing one backend

`store_factory()` is called once per store a test needs; the stores of one test must share
their data (as processes share one table), and each test must start from an empty backend.
Set `concurrent_appenders = False` to skip the one test that appends from 8 threads (for an
adapter that is not thread-safe, or to save time on a slow fake). The suite needs pytest
(`pip install acme-eventsourcing[testing]`); it never runs in Lambda.

Our own runs: the in-memory store, the DynamoDB store under moto, and the DynamoDB store
reading 2 items per page (so every load also crosses page boundaries).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import ClassVar

import pytest

from acme_eventsourcing.runtime.eventstore import (
    Append,
    ConcurrencyError,
    EventStore,
    IdempotencyKeyUsed,
    IdempotencyRecord,
    NewEvent,
    StoredEvent,
)
from acme_eventsourcing.runtime.items import ItemContractError


def new_event(n: int = 0, **data: object) -> NewEvent:
    return NewEvent(
        event_type="LeaveRequested",
        data={"n": n, **data},
        event_id=uuid.uuid4().hex,
        occurred_at="2026-01-05T09:00:00Z",
        metadata={"actor": "ana", "correlation_id": "c-1"},
    )


def record(key: str = "sub-1#key-1") -> IdempotencyRecord:
    return IdempotencyRecord(
        key=key,
        request_hash="ab" * 32,
        response={"status": 201, "body": {"id": "r-1"}},
        created_at="2026-01-05T09:00:00Z",
    )


def to_john(expected_version: int, count: int) -> list[Append]:
    """One Append of `count` events to employee#john."""
    events = [new_event(i) for i in range(count)]
    return [Append(stream_id="employee#john", expected_version=expected_version, events=events)]


def append_one(store: EventStore, stream_id: str, expected_version: int, count: int = 1) -> list[StoredEvent]:
    events = [new_event(expected_version + i + 1) for i in range(count)]
    return store.append([Append(stream_id=stream_id, expected_version=expected_version, events=events)])


class EventStoreContract:
    """The contract tests of `EventStore`, as methods: subclass and override `store_factory`."""

    concurrent_appenders: ClassVar[bool] = True
    """Run the 8-thread append test (False skips it)."""

    @pytest.fixture
    def store_factory(self) -> Callable[[], EventStore]:
        """Override: a callable making stores on one fresh, shared backend."""
        raise NotImplementedError(f"{type(self).__name__} must override the store_factory fixture of EventStoreContract")

    @pytest.fixture
    def store(self, store_factory: Callable[[], EventStore]) -> EventStore:
        return store_factory()

    def test_load_returns_appended_events_with_every_field(self, store: EventStore) -> None:
        event = NewEvent(
            event_type="LeaveRequested",
            data={"days": 2.5, "dates": ["2026-01-05", "2026-01-06"], "note": "Bon voyage \u2708", "nested": {"a": None}},
            event_id="e" * 32,
            occurred_at="2026-01-05T09:00:00Z",
            metadata={"actor": "ana", "idempotency_key": "k", "correlation_id": "c", "causation_id": "x"},
        )
        stored = store.append([Append(stream_id="employee#john", expected_version=0, events=[event])])

        expected = StoredEvent(
            stream_id="employee#john",
            version=1,
            event_type=event.event_type,
            data=event.data,
            event_id=event.event_id,
            occurred_at=event.occurred_at,
            metadata=event.metadata,
        )
        assert stored == [expected]
        assert store.load("employee#john") == [expected]

    def test_append_numbers_versions_after_the_expected_one(self, store: EventStore) -> None:
        append_one(store, "employee#john", 0, count=2)

        stored = append_one(store, "employee#john", 2, count=3)

        assert [e.version for e in stored] == [3, 4, 5]
        assert [e.version for e in store.load("employee#john")] == [1, 2, 3, 4, 5]
        assert [e.data["n"] for e in store.load("employee#john")] == [1, 2, 3, 4, 5]

    def test_load_of_unknown_stream_is_empty(self, store: EventStore) -> None:
        append_one(store, "employee#john", 0)

        assert store.load("employee#mike") == []

    def test_load_returns_only_its_own_stream(self, store: EventStore) -> None:
        append_one(store, "employee#john", 0, count=3)
        append_one(store, "employee#johnny", 0, count=2)

        assert {e.stream_id for e in store.load("employee#john")} == {"employee#john"}
        assert len(store.load("employee#john")) == 3

    def test_load_after_version_returns_only_later_events(self, store: EventStore) -> None:
        append_one(store, "employee#john", 0, count=5)

        assert [e.version for e in store.load("employee#john", after_version=3)] == [4, 5]
        assert store.load("employee#john", after_version=5) == []

    def test_load_reads_every_page(self, store: EventStore) -> None:
        append_one(store, "employee#john", 0, count=7)

        assert [e.version for e in store.load("employee#john")] == list(range(1, 8))
        assert [e.version for e in store.load("employee#john", after_version=2)] == list(range(3, 8))

    def test_load_rejects_negative_after_version(self, store: EventStore) -> None:
        with pytest.raises(ValueError, match="after_version"):
            store.load("employee#john", after_version=-1)

    def test_append_conflicts_when_version_taken(self, store: EventStore) -> None:
        first = append_one(store, "employee#john", 0)

        with pytest.raises(ConcurrencyError, match="employee#john"):
            append_one(store, "employee#john", 0)

        assert store.load("employee#john") == first

    def test_append_conflicts_when_expected_version_is_ahead_of_the_stream(self, store: EventStore) -> None:
        first = append_one(store, "employee#john", 0)

        with pytest.raises(ConcurrencyError, match="employee#john"):
            append_one(store, "employee#john", 3)

        assert store.load("employee#john") == first

    def test_append_conflicts_when_expecting_an_existing_stream_that_is_new(self, store: EventStore) -> None:
        with pytest.raises(ConcurrencyError):
            append_one(store, "employee#john", 1)

        assert store.load("employee#john") == []

    def test_multi_stream_append_writes_every_stream(self, store: EventStore) -> None:
        append_one(store, "location#loc1", 0)

        stored = store.append(
            [
                Append(stream_id="location#loc1", expected_version=1, events=[new_event(2)]),
                Append(stream_id="employee#john", expected_version=0, events=[new_event(1), new_event(2)]),
            ]
        )

        assert [(e.stream_id, e.version) for e in stored] == [
            ("location#loc1", 2),
            ("employee#john", 1),
            ("employee#john", 2),
        ]
        assert [e.version for e in store.load("location#loc1")] == [1, 2]
        assert [e.version for e in store.load("employee#john")] == [1, 2]

    def test_multi_stream_append_is_atomic(self, store: EventStore) -> None:
        taken = append_one(store, "location#loc1", 0)

        with pytest.raises(ConcurrencyError, match="location#loc1") as conflict:
            store.append(
                [
                    Append(stream_id="employee#john", expected_version=0, events=[new_event(1)]),
                    Append(stream_id="location#loc1", expected_version=0, events=[new_event(1)]),
                    Append(stream_id="employee#mike", expected_version=0, events=[new_event(1)]),
                ]
            )

        assert store.load("employee#john") == []
        assert store.load("employee#mike") == []
        assert store.load("location#loc1") == taken
        assert conflict.value.stream_ids == {"location#loc1"}  # only the stream that moved on

    def test_idempotency_record_is_stored_with_the_events(self, store: EventStore) -> None:
        store.append([Append(stream_id="employee#john", expected_version=0, events=[new_event(1)])], idempotency=record())

        assert store.get_idempotency("sub-1#key-1") == record()
        assert len(store.load("employee#john")) == 1

    def test_idempotency_record_can_be_stored_without_events(self, store: EventStore) -> None:
        assert store.append([], idempotency=record()) == []

        assert store.get_idempotency("sub-1#key-1") == record()

    def test_get_idempotency_of_unknown_key_is_none(self, store: EventStore) -> None:
        store.append([], idempotency=record("sub-1#key-1"))

        assert store.get_idempotency("sub-1#key-2") is None
        assert store.get_idempotency("sub-2#key-1") is None

    def test_append_with_used_idempotency_key_raises_and_writes_nothing(self, store: EventStore) -> None:
        store.append([Append(stream_id="employee#john", expected_version=0, events=[new_event(1)])], idempotency=record())
        other = IdempotencyRecord(key="sub-1#key-1", request_hash="cd" * 32, response={"status": 200, "body": {}}, created_at="later")

        with pytest.raises(IdempotencyKeyUsed, match="sub-1#key-1"):
            store.append([Append(stream_id="employee#mike", expected_version=0, events=[new_event(1)])], idempotency=other)

        assert store.load("employee#mike") == []
        assert store.get_idempotency("sub-1#key-1") == record()

    def test_used_idempotency_key_wins_over_a_version_conflict(self, store: EventStore) -> None:
        store.append(to_john(0, 1), idempotency=record())

        with pytest.raises(IdempotencyKeyUsed):
            store.append(to_john(0, 1), idempotency=record())

    def test_version_conflict_stores_no_idempotency_record(self, store: EventStore) -> None:
        append_one(store, "employee#john", 0)

        with pytest.raises(ConcurrencyError):
            store.append(to_john(0, 1), idempotency=record())

        assert store.get_idempotency("sub-1#key-1") is None

    def test_read_guard_lets_the_append_through_while_the_guarded_stream_is_unchanged(self, store: EventStore) -> None:
        append_one(store, "location#oslo", 0, count=2)

        store.append(
            [
                Append(stream_id="employee#john", expected_version=0, events=[new_event(1)]),
                Append(stream_id="location#oslo", expected_version=2, events=[]),
            ]
        )

        assert [e.version for e in store.load("employee#john")] == [1]
        assert len(store.load("location#oslo")) == 2

    @pytest.mark.parametrize("read_at", [0, 1], ids=["guarded-stream-was-new", "guarded-stream-existed"])
    def test_read_guard_conflicts_when_the_guarded_stream_moved_on(self, store: EventStore, read_at: int) -> None:
        if read_at:
            append_one(store, "location#oslo", 0)
        append_one(store, "location#oslo", read_at)  # a concurrent change after our read

        with pytest.raises(ConcurrencyError, match="location#oslo") as conflict:
            store.append(
                [
                    Append(stream_id="employee#john", expected_version=0, events=[new_event(1)]),
                    Append(stream_id="location#oslo", expected_version=read_at, events=[]),
                ],
                idempotency=record(),
            )

        assert store.load("employee#john") == []
        assert store.get_idempotency("sub-1#key-1") is None
        assert conflict.value.stream_ids == {"location#oslo"}

    def test_append_of_nothing_writes_nothing(self, store: EventStore) -> None:
        assert store.append([]) == []

    def test_stored_data_does_not_change_with_the_callers_objects(self, store: EventStore) -> None:
        data = {"dates": ["2026-01-05"]}
        event = NewEvent(event_type="LeaveRequested", data=data, event_id="e1", occurred_at="2026-01-05T09:00:00Z")
        store.append([Append(stream_id="employee#john", expected_version=0, events=[event])])

        data["dates"].append("2026-01-06")
        store.load("employee#john")[0].data["dates"].append("2026-01-07")

        assert store.load("employee#john")[0].data == {"dates": ["2026-01-05"]}

    def test_append_refuses_an_event_that_breaks_the_item_contract(self, store: EventStore) -> None:
        naive = NewEvent(event_type="LeaveRequested", data={}, event_id="e1", occurred_at="2026-01-05T09:00:00")

        with pytest.raises(ItemContractError, match="'occurred_at'"):
            store.append(
                [
                    Append(stream_id="employee#john", expected_version=0, events=[new_event(1)]),
                    Append(stream_id="location#oslo", expected_version=0, events=[naive]),
                ]
            )

        assert store.load("employee#john") == [] and store.load("location#oslo") == []

    def test_append_rejects_data_that_is_not_json(self, store: EventStore) -> None:
        with pytest.raises(TypeError):
            store.append([Append(stream_id="employee#john", expected_version=0, events=[new_event(1, days={1, 2})])])

        assert store.load("employee#john") == []

    def test_append_accepts_a_full_transaction(self, store: EventStore) -> None:
        append_one(store, "employee#john", 0)

        # 98 events + the version check of employee#john + the idempotency record = 100 items
        store.append(
            [Append(stream_id="employee#john", expected_version=1, events=[new_event(i) for i in range(98)])],
            idempotency=record(),
        )

        assert len(store.load("employee#john")) == 99

    @pytest.mark.parametrize(
        ("appends", "idempotency", "message"),
        [
            pytest.param(to_john(0, 100), record(), "101 transaction items", id="over-100-items"),
            pytest.param(to_john(1, 100), None, "101 transaction items", id="over-100-items-with-version-check"),
            pytest.param(to_john(0, 1) + to_john(1, 1), None, "appears twice", id="same-stream-twice"),
            pytest.param(to_john(0, 0), None, "read guards only", id="guard-only"),
            pytest.param(to_john(-1, 1), None, "expected_version", id="negative-version"),
            pytest.param(to_john(True, 1), None, "expected_version", id="bool-version"),
            pytest.param([Append(stream_id="", expected_version=0, events=[new_event()])], None, "invalid stream id", id="empty-id"),
            pytest.param(
                [Append(stream_id="idempotency#x", expected_version=0, events=[new_event()])],
                None,
                "reserved",
                id="reserved-id",
            ),
            pytest.param([], record(key=""), "empty key", id="empty-idempotency-key"),
        ],
    )
    def test_append_rejects_invalid_requests_and_writes_nothing(
        self, store: EventStore, appends: list[Append], idempotency: IdempotencyRecord | None, message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            store.append(appends, idempotency=idempotency)

        assert store.load("employee#john") == []
        assert store.get_idempotency("sub-1#key-1") is None

    def test_concurrent_appenders_lose_nothing_and_leave_no_gap(self, store_factory: Callable[[], EventStore]) -> None:
        if not self.concurrent_appenders:
            pytest.skip("concurrent_appenders = False for this adapter")
        threads_count, appends_each = 8, 25
        # one store (so one boto3 client) per thread, built here: creating clients is not thread-safe
        stores = [store_factory() for _ in range(threads_count)]
        appended: list[list[str]] = [[] for _ in range(threads_count)]
        conflicts = [0] * threads_count
        errors: list[BaseException] = []
        all_loaded = threading.Barrier(threads_count)

        def appender(index: int) -> None:
            try:
                version = 0  # this thread's view of the stream, caught up with load(after_version=...)
                for n in range(appends_each):
                    event = new_event(index)
                    while True:
                        version += len(stores[index].load("employee#john", after_version=version))
                        if n == 0 and conflicts[index] == 0:
                            all_loaded.wait()  # every thread first appends after the same load: 7 must conflict
                        time.sleep(0)  # let other threads run between load and append, as a command would
                        try:
                            stores[index].append([Append(stream_id="employee#john", expected_version=version, events=[event])])
                            version += 1
                            break
                        except ConcurrencyError:
                            conflicts[index] += 1
                    appended[index].append(event.event_id)
            except BaseException as exc:  # an exception in a thread must fail the test
                errors.append(exc)
                all_loaded.abort()

        workers = [threading.Thread(target=appender, args=(i,)) for i in range(threads_count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        assert errors == []
        assert sum(conflicts) >= threads_count - 1
        events = stores[0].load("employee#john")
        assert [e.version for e in events] == list(range(1, threads_count * appends_each + 1))
        assert sorted(e.event_id for e in events) == sorted(i for ids in appended for i in ids)
        assert len({e.event_id for e in events}) == threads_count * appends_each
