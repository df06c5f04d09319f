"""The stream -> EventBridge publisher (`components/acme_eventsourcing/runtime/publisher.py`).

Most tests drive `Publisher` with a recording fake client that can reject chosen entries
or raise; the end-to-end test runs the Lambda handler on real stream records from moto
against a moto bus whose rule delivers to an SQS queue.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from acme_eventsourcing.runtime import publisher
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, NewEvent, StoredEvent
from acme_eventsourcing.runtime.publisher import MAX_BYTES_PER_CALL, Publisher, entry_size
from botocore.exceptions import ClientError
from moto import mock_aws

BUS = "shared-bus"
SOURCE = "acme.leave"
METADATA = {"actor": "ana", "idempotency_key": "k1", "correlation_id": "c1", "causation_id": "x1"}
_sequence = itertools.count(100)


def insert(stream_id: str, version: int, *, event_name: str = "INSERT", payload: Any = None, **image: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB stream record of an event item, as Lambda receives it."""
    new_image = {
        "stream_id": {"S": stream_id},
        "version": {"N": str(version)},
        "record_type": {"S": "event"},
        "event_type": {"S": "LeaveRequested"},
        "event_id": {"S": f"{stream_id}@{version}"},
        "occurred_at": {"S": "2026-01-05T09:00:00Z"},
        "data": {"S": json.dumps({"days": 1} if payload is None else payload)},
        "metadata": {"S": json.dumps(METADATA)},
        **image,
    }
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"stream_id": new_image["stream_id"], "version": new_image["version"]},
            "NewImage": new_image,
            "SequenceNumber": f"{next(_sequence):021d}",
            "StreamViewType": "NEW_IMAGE",
        },
    }


def seq(record: dict[str, Any]) -> str:
    return record["dynamodb"]["SequenceNumber"]


def event_id(entry: dict[str, Any]) -> str:
    return json.loads(entry["Detail"])["metadata"]["event_id"]


class FakeEvents:
    """A recording EventBridge client: `reject[event_id]` = how many more times to reject
    that entry; `raise_on` = the call numbers (1-based) that raise a throttling error."""

    def __init__(self, reject: dict[str, float] | None = None, raise_on: set[int] | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.reject = dict(reject or {})
        self.raise_on = raise_on or set()

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        self.calls.append(list(Entries))
        if len(self.calls) in self.raise_on:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents")
        results = []
        for entry in Entries:
            if self.reject.get(event_id(entry), 0) > 0:
                self.reject[event_id(entry)] -= 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                results.append({"EventId": uuid.uuid4().hex})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}

    def sent(self) -> list[str]:
        """The event ids of every entry sent, call after call."""
        return [event_id(entry) for call in self.calls for entry in call]


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make(client: FakeEvents, sleeps: list[float], **kwargs: Any) -> Publisher:
    return Publisher(client, BUS, SOURCE, sleep=sleeps.append, **kwargs)


def test_25_records_make_exactly_3_put_events_calls(sleeps: list[float]) -> None:
    client = FakeEvents()
    records = [insert(f"employee#e{i % 4}", i + 1) for i in range(25)]

    assert make(client, sleeps).publish(records) == []

    assert [len(call) for call in client.calls] == [10, 10, 5]
    assert client.sent() == [r["dynamodb"]["NewImage"]["event_id"]["S"] for r in records]
    assert sleeps == []


def test_entry_follows_the_envelope() -> None:
    client = FakeEvents()
    record = insert(
        "employee#john",
        7,
        payload={"start": "2026-01-05", "end": "2026-01-06", "note": "caf\u00e9"},
    )

    Publisher(client, BUS, SOURCE).publish([record])

    ((entry,),) = client.calls
    assert set(entry) == {"Source", "DetailType", "Time", "Detail", "EventBusName"}
    assert entry["Source"] == SOURCE
    assert entry["DetailType"] == "LeaveRequested"
    assert entry["EventBusName"] == BUS
    assert entry["Time"] == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    detail = json.loads(entry["Detail"])
    assert detail == {
        "metadata": {
            "event_id": "employee#john@7",
            "stream_id": "employee#john",
            "version": 7,
            "occurred_at": "2026-01-05T09:00:00Z",
            "actor": "ana",
            "idempotency_key": "k1",
            "correlation_id": "c1",
            "causation_id": "x1",
        },
        "data": {"start": "2026-01-05", "end": "2026-01-06", "note": "caf\u00e9"},
    }
    assert type(detail["metadata"]["version"]) is int
    stored = StoredEvent(
        stream_id="employee#john",
        version=7,
        event_type="LeaveRequested",
        event_id="employee#john@7",
        occurred_at="2026-01-05T09:00:00Z",
        data=detail["data"],
        metadata=METADATA,
    )
    assert detail == stored.envelope()  # the same envelope as the event store's port


def test_partly_failed_call_resends_only_the_failed_entries(sleeps: list[float]) -> None:
    client = FakeEvents(reject={"employee#e2@1": 1, "employee#e6@1": 1})
    records = [insert(f"employee#e{i}", 1) for i in range(10)]

    assert make(client, sleeps).publish(records) == []

    first, second = client.calls
    assert second == [first[2], first[6]]
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.1


def test_record_that_keeps_failing_is_reported_and_the_others_are_not(sleeps: list[float]) -> None:
    client = FakeEvents(reject={"employee#e2@1": float("inf")})
    records = [insert(f"employee#e{i}", 1) for i in range(5)]

    failed = make(client, sleeps, max_attempts=3, base_delay_s=0.1, max_delay_s=0.15).publish(records)

    assert failed == [seq(records[2])]
    assert client.sent().count("employee#e2@1") == 3
    assert [len(call) for call in client.calls] == [5, 1, 1]
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.15


def test_put_events_exception_fails_the_whole_chunk_for_retry(sleeps: list[float]) -> None:
    client = FakeEvents(raise_on={2})
    records = [insert(f"employee#e{i}", 1) for i in range(15)]

    assert make(client, sleeps).publish(records) == []

    assert [len(call) for call in client.calls] == [10, 5, 5]
    assert client.calls[2] == client.calls[1]


def test_put_events_failing_every_time_reports_every_record(sleeps: list[float]) -> None:
    client = FakeEvents(raise_on={1, 2, 3})
    records = [insert(f"employee#e{i}", 1) for i in range(4)]

    assert make(client, sleeps, max_attempts=3).publish(records) == [seq(r) for r in records]

    assert len(client.calls) == 3


def test_later_records_of_a_failing_stream_are_held_back_and_reported(sleeps: list[float]) -> None:
    client = FakeEvents(reject={"employee#a@1": float("inf")})
    records = [insert("employee#a", 1)] + [insert(f"employee#b{i}", 1) for i in range(10)] + [insert("employee#a", 2)]

    failed = make(client, sleeps, max_attempts=2).publish(records)

    assert failed == [seq(records[0]), seq(records[-1])]
    assert [event_id(e) for e in client.calls[0]] == ["employee#a@1"] + [f"employee#b{i}@1" for i in range(9)]
    assert [event_id(e) for e in client.calls[1]] == ["employee#b9@1"]  # a@2 held back while a@1 was failing


def test_later_record_accepted_in_the_same_call_is_still_reported(sleeps: list[float]) -> None:
    client = FakeEvents(reject={"employee#a@1": float("inf")})
    records = [insert("employee#a", 1), insert("employee#b", 1), insert("employee#a", 2)]

    failed = make(client, sleeps, max_attempts=2).publish(records)

    assert failed == [seq(records[0]), seq(records[2])]
    assert client.sent().count("employee#a@2") == 1


def test_modify_remove_and_idempotency_records_are_ignored(sleeps: list[float]) -> None:
    client = FakeEvents()
    idempotency = insert("idempotency#sub#k", 0, record_type={"S": "idempotency"})
    records = [
        insert("employee#a", 1, event_name="MODIFY"),
        insert("employee#a", 1, event_name="REMOVE"),
        idempotency,
        insert("employee#a", 1),
    ]

    assert make(client, sleeps).publish(records) == []
    assert make(client, sleeps).publish(records[:3]) == []

    assert client.sent() == ["employee#a@1"]


def test_calls_stay_within_the_size_limit(sleeps: list[float]) -> None:
    client = FakeEvents()
    records = [insert(f"employee#e{i}", 1, payload={"blob": "x" * 60 * 1024}) for i in range(10)]

    assert make(client, sleeps).publish(records) == []

    assert len(client.calls) >= 3
    for call in client.calls:
        size = sum(14 + len(e["Source"] + e["DetailType"]) + len(e["Detail"].encode()) for e in call)  # ASCII names
        assert size <= 256 * 1024
    assert sorted(client.sent()) == sorted(f"employee#e{i}@1" for i in range(10))


def test_entry_over_the_size_limit_is_reported_without_being_sent(sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    client = FakeEvents()
    too_big = insert("employee#a", 1, payload={"blob": "x" * MAX_BYTES_PER_CALL})
    records = [too_big, insert("employee#b", 1), insert("employee#a", 2)]

    failed = make(client, sleeps).publish(records)

    assert failed == [seq(records[0]), seq(records[2])]
    assert client.sent() == ["employee#b@1"]
    errors = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.ERROR]
    (error,) = errors
    assert "exceeds PutEvents" in error["reason"] and error["sequence_number"] == seq(too_big)


@pytest.mark.parametrize(
    "image",
    [
        {"data": {"S": "{not json"}},
        {"occurred_at": {"S": "yesterday"}},
        {"event_type": {"NULL": True}},
        {"metadata": {"S": "[]"}},
    ],
    ids=["data-not-json", "bad-time", "no-event-type", "metadata-not-object"],
)
def test_malformed_record_is_reported_and_the_others_published(sleeps: list[float], image: dict[str, Any]) -> None:
    client = FakeEvents()
    records = [insert("employee#a", 1, **image), insert("employee#b", 1)]

    assert make(client, sleeps).publish(records) == [seq(records[0])]

    assert client.sent() == ["employee#b@1"]


def test_batch_is_logged_as_one_json_line_with_counts(sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=publisher.__name__)
    client = FakeEvents(reject={"employee#e1@1": float("inf")})
    records = [insert(f"employee#e{i}", 1) for i in range(12)] + [insert("employee#x", 1, event_name="MODIFY")]

    make(client, sleeps, max_attempts=2).publish(records)

    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.INFO]
    assert line == {
        "message": "published stream batch",
        "records": 13,
        "ignored": 1,
        "published": 11,
        "failed": 1,
        "rejected": 0,
        "put_events_calls": 3,
        "retried_entries": 1,
    }


def test_entry_size_counts_like_aws() -> None:
    entry = {
        "Source": "acme.leave",
        "DetailType": "Le",
        "Time": datetime.now(UTC),
        "Detail": "\u00e9",
        "EventBusName": "not counted",
    }

    assert entry_size(entry) == 14 + 10 + 2 + 2
    assert entry_size({**entry, "Resources": ["arn:x"]}) == 14 + 10 + 2 + 2 + 5


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        Publisher(FakeEvents(), BUS, SOURCE, max_attempts=0)


# ----------------------------------------------------------------------------- the Pipe's enrichment


def test_enrich_gives_the_pipe_exactly_what_the_publisher_puts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_SOURCE", SOURCE)
    records = [
        insert("employee#john", 7, payload={"note": "caf\u00e9", "days": 1.5, "dates": ["2026-01-05"]}),
        insert("employee#john", 7, event_name="MODIFY"),
        insert("idempotency#sub#k", 0, record_type={"S": "idempotency"}),
        insert("location#l1", 1, event_type={"S": "LocationCreated"}, occurred_at={"S": "2026-01-04T23:59:59+00:00"}),
        insert("employee#mike", 2, metadata={"S": json.dumps({**METADATA, "version": 99, "actor": "mike"})}),
    ]
    client = FakeEvents()

    assert Publisher(client, BUS, SOURCE).publish(records) == []
    enriched = json.loads(json.dumps(publisher.enrich(records, None)))  # as Lambda returns it to the Pipe

    (put,) = client.calls
    assert len(enriched) == len(put) == 3  # event INSERTs only, in order
    for event, entry in zip(enriched, put, strict=True):
        assert set(event) == {"detail-type", "time", "detail"}
        assert event["detail"] == json.loads(entry["Detail"])
        assert event["detail-type"] == entry["DetailType"]
        assert datetime.fromisoformat(event["time"]) == entry["Time"]
    assert [e["detail"]["metadata"]["version"] for e in enriched] == [7, 1, 2]  # ints, never text
    assert publisher.enrich(records[1:3], None) == []


@pytest.mark.parametrize(
    "image",
    [{"data": {"S": "{not json"}}, {"occurred_at": {"S": "yesterday"}}, {"data": {"S": json.dumps({"blob": "x" * MAX_BYTES_PER_CALL})}}],
    ids=["data-not-json", "bad-time", "too-big"],
)
def test_enrich_fails_the_batch_on_a_record_that_can_never_be_published(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, image: dict[str, Any]
) -> None:
    """The Pipe then retries, bisects to the record and sends it to its dead-letter queue."""
    monkeypatch.setenv("EVENT_SOURCE", SOURCE)
    bad = insert("employee#a", 2, **image)

    with pytest.raises(publisher.UnpublishableRecord):
        publisher.enrich([insert("employee#a", 1), bad], None)

    (error,) = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.ERROR]
    assert error["sequence_number"] == seq(bad) and error["stream_id"] == "employee#a"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with an Events table, a bus, a rule for LeaveRequested -> an SQS queue, and
    the publisher's environment; counts the boto3 clients the publisher builds."""
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    monkeypatch.setenv("EVENT_SOURCE", SOURCE)
    publisher._publisher.cache_clear()
    real_client = boto3.client
    with mock_aws():
        dynamodb, streams = real_client("dynamodb"), real_client("dynamodbstreams")
        table = dynamodb.create_table(
            TableName="events",
            KeySchema=[
                {"AttributeName": "stream_id", "KeyType": "HASH"},
                {"AttributeName": "version", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "stream_id", "AttributeType": "S"},
                {"AttributeName": "version", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]
        sqs, events = real_client("sqs"), real_client("events")
        queue_url = sqs.create_queue(QueueName="leave-requested")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.create_event_bus(Name=BUS)
        events.put_rule(
            Name="requested", EventBusName=BUS, EventPattern=json.dumps({"source": [SOURCE], "detail-type": ["LeaveRequested"]})
        )
        events.put_targets(Rule="requested", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
        clients: list[str] = []
        monkeypatch.setattr(boto3, "client", lambda name, *a, **kw: clients.append(name) or real_client(name, *a, **kw))
        yield {
            "dynamodb": dynamodb,
            "streams": streams,
            "stream_arn": table["LatestStreamArn"],
            "sqs": sqs,
            "queue_url": queue_url,
            "clients": clients,
        }
    publisher._publisher.cache_clear()


def stream_records(streams: Any, stream_arn: str) -> list[dict[str, Any]]:
    """Every record of the table's stream, as the event source mapping would deliver them."""
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def request_and_approval(store: DynamoDBEventStore) -> list[StoredEvent]:
    """Append john's LeaveRequested and LeaveApproved through the real store (its stream records follow)."""
    events = [
        NewEvent(event_type=t, data=d, event_id=i, occurred_at=at, metadata=METADATA)
        for t, d, i, at in [
            ("LeaveRequested", {"start": "2026-01-05", "end": "2026-01-06"}, "e1", "2026-01-05T09:00:00Z"),
            ("LeaveApproved", {"by": "mike"}, "e2", "2026-01-05T10:00:00Z"),
        ]
    ]
    return store.append([Append(stream_id="employee#john", expected_version=0, events=events)])


def test_handler_delivers_stored_events_to_the_bus_end_to_end(aws: dict[str, Any]) -> None:
    stored = request_and_approval(DynamoDBEventStore(aws["dynamodb"], "events"))
    records = stream_records(aws["streams"], aws["stream_arn"])

    assert publisher.handler({"Records": records}, None) == {"batchItemFailures": []}
    assert publisher.handler({"Records": []}, None) == {"batchItemFailures": []}

    messages = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10)["Messages"]
    (event,) = [json.loads(m["Body"]) for m in messages]  # the rule matches LeaveRequested only
    assert event["source"] == SOURCE
    assert event["detail-type"] == "LeaveRequested"
    assert event["detail"] == stored[0].envelope()
    assert aws["clients"] == ["events"]  # one client per cold start, not per invocation


def test_enrich_turns_real_stream_records_into_the_stored_envelopes(aws: dict[str, Any]) -> None:
    stored = request_and_approval(DynamoDBEventStore(aws["dynamodb"], "events"))

    enriched = publisher.enrich(stream_records(aws["streams"], aws["stream_arn"]), None)

    assert [(e["detail-type"], e["time"], e["detail"]) for e in enriched] == [(s.event_type, s.occurred_at, s.envelope()) for s in stored]
    assert aws["clients"] == []  # the enrichment never calls AWS
