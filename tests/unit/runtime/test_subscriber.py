"""The subscriber runtime: bus events, direct or SQS-buffered, to a team's function of one `BusEvent`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.handler import Clock
from acme_eventsourcing.runtime.subscriber import BusEvent, MalformedEventError, SubscriberApp, is_sqs_batch, subscriber_handler

T0 = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)


def stored(event_id: str, *, stream_id: str = "order#1", version: int = 1, **data: Any) -> StoredEvent:
    return StoredEvent(
        stream_id=stream_id,
        version=version,
        event_type="OrderPlaced",
        data=data,
        event_id=event_id,
        occurred_at="2027-01-11T09:00:00Z",
        metadata={"actor": "ann"},
    )


def bus(event: StoredEvent, source: str = "acme.orders") -> dict[str, Any]:
    return {"source": source, "id": f"bus-{event.event_id}", "time": "t", "detail-type": event.event_type, "detail": event.envelope()}


def sqs(message_id: str, body: Any, group: str | None = None) -> dict[str, Any]:
    record = {"messageId": message_id, "eventSource": "aws:sqs", "body": body if isinstance(body, str) else json.dumps(body)}
    if group is not None:
        record["attributes"] = {"MessageGroupId": group}
    return record


class Recorder:
    """A subscription's function: records what it got, fails for the event ids in `failing`."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.seen: list[BusEvent] = []
        self.failing = failing or set()

    def __call__(self, delivery: BusEvent) -> dict[str, Any]:
        if delivery.event.event_id in self.failing:
            raise RuntimeError(f"cannot handle {delivery.event.event_id}")
        self.seen.append(delivery)
        return {"handled": delivery.event.event_id}


def test_a_direct_bus_event_reaches_the_function_as_the_stored_event_with_its_source() -> None:
    recorder = Recorder()
    event = stored("e1", total=3)
    assert SubscriberApp(recorder)(bus(event)) == {"handled": "e1"}
    (delivery,) = recorder.seen
    assert (delivery.source, delivery.detail_type, delivery.bus_event_id) == ("acme.orders", "OrderPlaced", "bus-e1")
    assert delivery.event == event
    assert delivery.event.envelope() == event.envelope()


def test_a_redelivered_event_is_skipped_but_a_failed_one_is_tried_again() -> None:
    recorder = Recorder(failing={"e2"})
    app = SubscriberApp(recorder)
    app(bus(stored("e1")))
    assert app(bus(stored("e1"))) == {"duplicate": True, "event_id": "e1"}
    with pytest.raises(RuntimeError):
        app(bus(stored("e2")))
    recorder.failing.clear()
    assert app(bus(stored("e2"))) == {"handled": "e2"}
    assert [d.event.event_id for d in recorder.seen] == ["e1", "e2"]


def test_only_the_latest_event_ids_are_remembered() -> None:
    recorder = Recorder()
    app = SubscriberApp(recorder, remember=2)
    for event_id in ("e1", "e2", "e3", "e1"):
        app(bus(stored(event_id)))
    assert [d.event.event_id for d in recorder.seen] == ["e1", "e2", "e3", "e1"]


@pytest.mark.parametrize(
    "event",
    [
        {"source": "acme.orders", "detail-type": "OrderPlaced", "detail": {"data": {}}},
        {"source": "acme.orders", "detail-type": "OrderPlaced", "detail": "not json"},
        {"detail-type": "OrderPlaced", "detail": stored("e1").envelope()},
    ],
)
def test_a_bus_event_without_an_envelope_or_source_raises(event: dict[str, Any]) -> None:
    recorder = Recorder()
    with pytest.raises(MalformedEventError):
        SubscriberApp(recorder)(event)
    assert recorder.seen == []


def test_an_sqs_batch_reports_the_failed_messages_and_handles_the_rest_once() -> None:
    recorder = Recorder(failing={"e3"})
    batch = {
        "Records": [
            sqs("m1", bus(stored("e1"))),
            sqs("m2", "{not json"),
            sqs("m3", bus(stored("e3"))),
            sqs("m4", bus(stored("e1"))),  # the same event twice in one batch
            sqs("m5", bus(stored("e5"))),
        ]
    }
    assert is_sqs_batch(batch)
    result = SubscriberApp(recorder)(batch)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    assert [d.event.event_id for d in recorder.seen] == ["e1", "e5"]


def test_in_a_fifo_batch_the_messages_after_a_failure_of_the_same_group_fail_too() -> None:
    recorder = Recorder(failing={"e1"})
    batch = {
        "Records": [
            sqs("m1", bus(stored("e1")), group="order#1"),
            sqs("m2", bus(stored("e2", version=2)), group="order#1"),
            sqs("m3", bus(stored("e3", stream_id="order#2")), group="order#2"),
        ]
    }
    assert SubscriberApp(recorder)(batch) == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert [d.event.event_id for d in recorder.seen] == ["e3"]


def test_the_handler_builds_the_function_once_from_its_environment_with_the_handlers_clock() -> None:
    built: list[Mapping[str, str]] = []

    def build(environ: Mapping[str, str], clock: Clock) -> Any:
        built.append(environ)
        return lambda delivery: (environ["TARGET"], delivery.event.event_id, clock())

    handler = subscriber_handler(build, environ={"TARGET": "t"})
    assert built == []
    handler.use_clock(lambda: T0)
    assert handler(bus(stored("e1")), None) == ("t", "e1", T0)
    assert handler({"Records": [sqs("m1", bus(stored("e2")))]}, None) == {"batchItemFailures": []}
    assert len(built) == 1
    assert handler.uses_clock is True
    assert subscriber_handler(build, uses_clock=False).uses_clock is False
