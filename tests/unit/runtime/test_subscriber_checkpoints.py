"""A subscription's checkpoint table on moto: the highest version handled per source stream,
a marker per handled event that any container skips, out-of-order deliveries, and a table
that fails without failing the delivery."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from acme_eventsourcing.runtime.checkpoints import MARKER_TTL_S, Checkpoint, SubscriptionCheckpoints, marker_key, stream_key
from acme_eventsourcing.runtime.subscriber import SubscriberApp, subscriber_handler
from moto import mock_aws

from tests.unit.projections.conftest import create_read_model_table
from tests.unit.runtime.test_subscriber import Recorder, bus, sqs, stored

TABLE = "orders-courier-checkpoints"


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_read_model_table(client, TABLE)  # the component's table: pk/sk
        yield client


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def checkpoints(ddb: Any, clock: Clock | None = None) -> SubscriptionCheckpoints:
    return SubscriptionCheckpoints(ddb, TABLE, now=clock or Clock())


def test_the_checkpoint_is_the_highest_version_handled_and_never_moves_back(ddb: Any) -> None:
    cp = checkpoints(ddb)
    assert cp.checkpoint("acme.orders", "order#1") is None
    assert cp.record("acme.orders", "order#1", 3, event_id="e3", event_type="OrderPlaced") is True
    assert cp.record("acme.orders", "order#1", 1, event_id="e1", event_type="OrderPlaced") is False  # late: handled, not the head
    assert cp.record("acme.orders", "order#1", 3, event_id="e3") is False  # again: no move
    assert cp.record("acme.orders", "order#1", 5, event_id="e5", event_type="OrderShipped") is True
    assert cp.record("acme.billing", "order#1", 2, event_id="b2") is True  # another source's stream of the same id
    got = cp.checkpoint("acme.orders", "order#1")
    assert got is not None
    assert (got.version, got.event_id, got.event_type) == (5, "e5", "OrderShipped")
    assert got.handled_at.startswith("2027-01-15T")
    assert sorted(cp.checkpoints(), key=lambda c: c.source) == [
        Checkpoint(source="acme.billing", stream_id="order#1", version=2, event_id="b2", handled_at=got.handled_at),
        got,
    ]
    # a marker per handled event, the late v1 included; none for what was not handled
    assert [cp.handled("acme.orders", "order#1", v) for v in (1, 2, 3, 4, 5)] == [True, False, True, False, True]
    assert cp.handled("acme.billing", "order#1", 1) is False


def test_a_marker_expires_with_its_ttl(ddb: Any) -> None:
    clock = Clock()
    cp = checkpoints(ddb, clock)
    cp.record("acme.orders", "order#1", 1, event_id="e1")
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": stream_key("acme.orders", "order#1")}, "sk": {"S": marker_key(1)}})["Item"]
    assert int(item["expires_at"]["N"]) == int(clock.t + MARKER_TTL_S)
    clock.t += MARKER_TTL_S + 1  # DynamoDB deletes it some time later: an expired marker no longer counts
    assert cp.handled("acme.orders", "order#1", 1) is False
    assert cp.checkpoint("acme.orders", "order#1").version == 1  # type: ignore[union-attr]  # the checkpoint has no TTL


def test_a_source_with_a_hash_is_refused() -> None:
    with pytest.raises(ValueError, match="no '#'"):
        stream_key("acme#x", "s")


def test_an_event_handled_in_one_container_is_skipped_in_another(ddb: Any) -> None:
    first, second = Recorder(), Recorder()
    one, two = SubscriberApp(first, checkpoints=checkpoints(ddb)), SubscriberApp(second, checkpoints=checkpoints(ddb))
    event = stored("e1", version=4)
    assert one(bus(event)) == {"handled": "e1"}
    assert two(bus(event)) == {"duplicate": True, "event_id": "e1"}  # EventBridge retried into another container
    assert [d.event.event_id for d in first.seen] == ["e1"] and second.seen == []
    assert checkpoints(ddb).checkpoint("acme.orders", "order#1").version == 4  # type: ignore[union-attr]


def test_an_event_below_the_checkpoint_that_was_never_handled_is_handled(ddb: Any) -> None:
    """Selective by detail type and out of order: v5 handled first, then v2 arrives (a retry):
    it is not a duplicate, and the checkpoint stays at 5."""
    recorder = Recorder()
    app = SubscriberApp(recorder, checkpoints=checkpoints(ddb))
    app(bus(stored("e5", version=5)))
    assert app(bus(stored("e2", version=2))) == {"handled": "e2"}
    assert [d.event.version for d in recorder.seen] == [5, 2]
    assert checkpoints(ddb).checkpoint("acme.orders", "order#1").version == 5  # type: ignore[union-attr]
    assert SubscriberApp(Recorder(), checkpoints=checkpoints(ddb))(bus(stored("e2", version=2)))["duplicate"] is True


def test_a_failed_event_is_not_marked_so_its_retry_runs(ddb: Any) -> None:
    recorder = Recorder(failing={"e1"})
    app = SubscriberApp(recorder, checkpoints=checkpoints(ddb))
    with pytest.raises(RuntimeError):
        app(bus(stored("e1")))
    assert checkpoints(ddb).handled("acme.orders", "order#1", 1) is False
    assert checkpoints(ddb).checkpoint("acme.orders", "order#1") is None
    recorder.failing.clear()
    assert SubscriberApp(recorder, checkpoints=checkpoints(ddb))(bus(stored("e1"))) == {"handled": "e1"}


def test_a_batch_skips_messages_another_container_handled(ddb: Any) -> None:
    SubscriberApp(Recorder(), checkpoints=checkpoints(ddb))(bus(stored("e1", version=1)))
    recorder = Recorder()
    answer = SubscriberApp(recorder, checkpoints=checkpoints(ddb)).batch(
        [sqs("m1", bus(stored("e1", version=1))), sqs("m2", bus(stored("e2", version=2)))]
    )
    assert answer == {"batchItemFailures": []}
    assert [d.event.event_id for d in recorder.seen] == ["e2"]


class Broken:
    """A checkpoint table that answers every call with an error (throttled, or gone)."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"{name}: ProvisionedThroughputExceededException")

        return fail


def test_a_table_that_fails_never_fails_the_delivery_of_a_committed_effect(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    app = SubscriberApp(recorder, checkpoints=SubscriptionCheckpoints(Broken(), TABLE))
    with caplog.at_level(logging.INFO, logger="acme_eventsourcing.runtime.subscriber"):
        assert app(bus(stored("e1"))) == {"handled": "e1"}  # handled although the marker could not be read
    assert [d.event.event_id for d in recorder.seen] == ["e1"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("marker not read; handling the event" in m for m in messages)
    assert any("checkpoint not recorded; a redelivery of this event would be handled again" in m and '"version": 1' in m for m in messages)


def test_the_handler_records_in_the_table_its_environment_names(ddb: Any) -> None:
    recorder = Recorder()
    handler = subscriber_handler(lambda env, clock: recorder, environ={"CHECKPOINT_TABLE": TABLE}, dynamodb=ddb)
    assert handler(bus(stored("e1", version=7)), None) == {"handled": "e1"}
    assert checkpoints(ddb).checkpoint("acme.orders", "order#1").version == 7  # type: ignore[union-attr]
    without = subscriber_handler(lambda env, clock: Recorder(), environ={})
    without(bus(stored("e9")), None)
    assert without.app.checkpoints is None  # type: ignore[union-attr]  # no table: the in-container memory only
