"""The stream poller's delivery rules, against an in-memory stream (no moto, no threads racing).

The same poller runs the publisher's event source mapping in the local stack; here its
rules are pinned one by one: filter, batch size, partial failures, retries with bisecting,
maximum record age, the on-failure record."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from acme_eventsourcing.local.client import wait_for
from acme_eventsourcing.local.filters import Pattern
from acme_eventsourcing.local.functions import Invocation
from acme_eventsourcing.local.streams import Delays, StreamPoller

EVENTS_ONLY = Pattern.parse({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"record_type": {"S": ["event"]}}}})


@dataclass(frozen=True)
class Source:
    logical: str = "test-mapping"
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = 10
    filters: tuple[Pattern, ...] = (EVENTS_ONLY,)
    report_batch_item_failures: bool = True
    retry_attempts: int = 3
    max_record_age_s: int = -1
    bisect_on_error: bool = True
    on_failure: str | None = "failures"


class FakeStreams:
    """One shard; iterators are 'TRIM' or 'AFTER:<seq>'."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add(self, name: str, *, record_type: str = "event", age: timedelta = timedelta(0)) -> str:
        seq = str(100 + len(self.records))
        created = datetime.now(UTC) - age
        image = {"name": {"S": name}, "record_type": {"S": record_type}}
        self.records.append(
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": seq, "NewImage": image, "ApproximateCreationDateTime": created}}
        )
        return seq

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str, SequenceNumber: str | None = None) -> dict[str, str]:  # noqa: N803
        return {"ShardIterator": "TRIM" if ShardIteratorType == "TRIM_HORIZON" else f"AFTER:{SequenceNumber}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        after = int(ShardIterator.split(":")[1]) if ShardIterator.startswith("AFTER:") else -1
        return {"Records": [r for r in self.records if int(r["dynamodb"]["SequenceNumber"]) > after][:Limit]}


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:  # noqa: N803
        self.sent.append(json.loads(MessageBody))


def _outcome(ok: bool, result: Any = None) -> Invocation:
    return Invocation("fn", "test", "req-1", time.time(), 1.0, ok, result, None if ok else "Boom", None if ok else "boom")


def _names(batch: list[dict[str, Any]]) -> list[str]:
    return [r["dynamodb"]["NewImage"]["name"]["S"] for r in batch]


@pytest.fixture
def run_poller() -> Any:
    stops: list[tuple[threading.Event, StreamPoller]] = []

    def start(source: Source, streams: FakeStreams, sqs: FakeSqs, deliver: Callable[[list[dict[str, Any]]], Invocation]) -> StreamPoller:
        stop = threading.Event()
        poller = StreamPoller(
            source,
            deliver=deliver,
            target_arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
            stream_arn="arn:stream",
            streams_client=streams,
            read_lock=threading.Lock(),
            forget_iterators=lambda: None,
            sqs_client=sqs,
            failure_queue_url="https://queue/failures",
            stop=stop,
            delays=Delays(poll_s=0.01, first_retry_s=0.001, max_retry_s=0.005),
            on_error=lambda message: None,
        )
        poller.start()
        stops.append((stop, poller))
        return poller

    yield start
    for stop, poller in stops:
        stop.set()
        poller.join(timeout=5)


def test_filtered_records_are_consumed_and_batches_respect_the_batch_size(run_poller: Any) -> None:
    streams, sqs, batches, seen = FakeStreams(), FakeSqs(), [], []
    for name, kind in (("a", "event"), ("key", "idempotency"), ("b", "event"), ("c", "event"), ("d", "event"), ("e", "event")):
        streams.add(name, record_type=kind)

    def deliver(batch: list[dict[str, Any]]) -> Invocation:
        batches.append(_names(batch))
        seen.extend(batch)
        return _outcome(True)

    run_poller(Source(batch_size=2), streams, sqs, deliver)
    wait_for(lambda: sum(map(len, batches)) == 5, timeout=5)
    assert batches == [["a", "b"], ["c", "d"], ["e"]]
    assert all(r["eventSourceARN"] == "arn:stream" and isinstance(r["dynamodb"]["ApproximateCreationDateTime"], int) for r in seen)


def test_a_reported_item_failure_is_redelivered_from_that_record(run_poller: Any) -> None:
    streams, sqs, batches = FakeStreams(), FakeSqs(), []
    for name in "abcd":
        streams.add(name)

    def deliver(batch: list[dict[str, Any]]) -> Invocation:
        batches.append(_names(batch))
        if len(batches) == 1:
            return _outcome(True, {"batchItemFailures": [{"itemIdentifier": batch[2]["dynamodb"]["SequenceNumber"]}]})
        return _outcome(True, {"batchItemFailures": []})

    run_poller(Source(), streams, sqs, deliver)
    wait_for(lambda: len(batches) == 2, timeout=5)
    assert batches == [["a", "b", "c", "d"], ["c", "d"]]
    assert sqs.sent == []


def test_an_unknown_item_identifier_fails_the_whole_batch(run_poller: Any) -> None:
    streams, sqs, batches = FakeStreams(), FakeSqs(), []
    for name in "ab":
        streams.add(name)

    def deliver(batch: list[dict[str, Any]]) -> Invocation:
        batches.append(_names(batch))
        return _outcome(True, {"batchItemFailures": [{"itemIdentifier": "nope"}]} if len(batches) == 1 else None)

    run_poller(Source(bisect_on_error=False), streams, sqs, deliver)
    wait_for(lambda: len(batches) == 2, timeout=5)
    assert batches == [["a", "b"], ["a", "b"]]


def test_errors_bisect_down_to_the_poison_record_which_goes_to_the_failure_queue(run_poller: Any) -> None:
    streams, sqs, batches = FakeStreams(), FakeSqs(), []
    poison = None
    for name in "abcdefgh":
        seq = streams.add(name)
        poison = seq if name == "f" else poison
    delivered: set[str] = set()

    def deliver(batch: list[dict[str, Any]]) -> Invocation:
        batches.append(_names(batch))
        if "f" in _names(batch):
            return _outcome(False)
        delivered.update(_names(batch))
        return _outcome(True)

    run_poller(Source(retry_attempts=5), streams, sqs, deliver)
    wait_for(lambda: sqs.sent, timeout=5)
    wait_for(lambda: delivered == set("abcdegh"), timeout=5)
    [failure] = sqs.sent
    info = failure["DDBStreamBatchInfo"]
    assert (info["batchSize"], info["startSequenceNumber"], info["endSequenceNumber"]) == (1, poison, poison)
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["functionArn"].endswith(":function:fn")
    assert batches[:3] == [list("abcdefgh"), list("abcd"), list("efgh")]


def test_without_bisect_a_failing_batch_is_retried_whole_and_then_given_up(run_poller: Any) -> None:
    streams, sqs, batches = FakeStreams(), FakeSqs(), []
    for name in "abc":
        streams.add(name)
    run_poller(
        Source(retry_attempts=2, bisect_on_error=False), streams, sqs, lambda batch: (batches.append(_names(batch)), _outcome(False))[1]
    )
    wait_for(lambda: sqs.sent, timeout=5)
    assert batches == [list("abc")] * 3  # the first try and 2 retries
    assert sqs.sent[0]["DDBStreamBatchInfo"]["batchSize"] == 3 and sqs.sent[0]["requestContext"]["approximateInvokeCount"] == 3


def test_records_older_than_the_maximum_age_are_not_delivered(run_poller: Any) -> None:
    streams, sqs, batches = FakeStreams(), FakeSqs(), []
    streams.add("old", age=timedelta(minutes=5))
    streams.add("new")
    run_poller(Source(max_record_age_s=60), streams, sqs, lambda batch: (batches.append(_names(batch)), _outcome(True))[1])
    wait_for(lambda: batches and sqs.sent, timeout=5)
    assert batches == [["new"]]
    assert sqs.sent[0]["requestContext"]["condition"] == "RecordAgeExceeded" and sqs.sent[0]["DDBStreamBatchInfo"]["batchSize"] == 1
