"""The AsyncAPI document against what really goes on the bus: on moto, the real commands handler
(and the reminder tasks) append every kind of leave event to a DynamoDB Events table, the real
publisher handler reads the table's stream and puts the events on an EventBridge bus, a rule
on the service's source delivers them to an SQS queue, and every delivered event validates
against its message in the document (headers: `source`, `detail-type`; payload: `detail`), and as a
whole against its EventBridge Schema Registry schema (`registry_schemas`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import jsonschema
import pytest
from acme_eventsourcing.runtime import publisher
from acme_eventsourcing.runtime.asyncapi import registry_schemas
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from leave.events import ALL_EVENT_TYPES
from leave_api.asyncapi import SOURCE, document, payload_schema
from leave_api.service import LeaveService
from leave_workflows.reminders import ReminderTasks
from moto import mock_aws
from test_commands_support import JOHN, MIKE, Api, setup_location

BUS = "shared-bus"
TABLE = "events"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto: an Events table with its stream, the bus, a rule on the service's source -> a queue."""
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    monkeypatch.setenv("EVENT_SOURCE", SOURCE)
    publisher._publisher.cache_clear()
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        table = dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "stream_id", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "stream_id", "AttributeType": "S"}, {"AttributeName": "version", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]
        sqs, events = boto3.client("sqs"), boto3.client("events")
        queue_url = sqs.create_queue(QueueName="everything")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.create_event_bus(Name=BUS)
        events.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
        yield {"dynamodb": dynamodb, "stream_arn": table["LatestStreamArn"], "sqs": sqs, "queue_url": queue_url}
    publisher._publisher.cache_clear()


def play_every_kind_of_event(api: Api, store: DynamoDBEventStore) -> None:
    """Through the commands handler (and the reminder tasks): one of each leave event type."""
    berlin = setup_location(api)  # LocationCreated/Registered, EmployeeJoined/AddedToLocation, ApproverAssigned, LeavePolicyAssigned
    assert api.call("PUT", "/employees/john/working-week", {"days": ["MON", "TUE", "WED", "THU"]}).status == 200

    def request(start: str, end: str, note: str = "") -> str:
        body = {"leave_type": "PTO", "start": start, "end": end, **({"note": note} if note else {})}
        response = api.call("POST", "/employees/john/leave-requests", body, claims=JOHN, headers={"Idempotency-Key": f"k-{start}"})
        assert response.status == 201, response.body
        return response.body["request_id"]

    approved, denied, cancelled, reminded = (
        request("2026-02-02", "2026-02-03", "family"),
        request("2026-03-02", "2026-03-03"),
        request("2026-04-06", "2026-04-07"),
        request("2026-05-04", "2026-05-05"),
    )
    assert api.call("POST", f"/leave-requests/{approved}/approve", {}, claims=MIKE).status == 200
    assert api.call("POST", f"/leave-requests/{denied}/deny", {"reason": "team offsite"}, claims=MIKE).status == 200
    assert api.call("POST", f"/leave-requests/{cancelled}/cancel", {}, claims=JOHN).status == 200
    past = {"leave_type": "PTO", "start": "2026-01-05", "end": "2026-01-06"}
    api.clock.advance(14)
    assert api.call("POST", "/employees/john/past-leaves", past, claims=MIKE).status == 201

    tasks = ReminderTasks(LeaveService(store, clock=api.clock))
    assert tasks.remind({"request_id": reminded})["sent"] is True
    assert tasks.escalate({"request_id": reminded})["sent"] is True

    feed = api.call("POST", "/calendar-feeds", {"scope": "location", "subject_id": berlin}, claims=JOHN)
    assert feed.status == 201, feed.body  # CalendarFeedCreated
    feed_id = feed.body["feed_id"]
    assert api.call("POST", f"/calendar-feeds/{feed_id}/rotate", {}, claims=JOHN).status == 200  # CalendarFeedTokenRotated
    assert api.call("POST", f"/calendar-feeds/{feed_id}/revoke", {}, claims=JOHN).status == 200  # CalendarFeedRevoked

    link = api.call("PUT", "/slack-links/T0ACME/U0JOHN", {"employee_id": "john"}, claims=JOHN)
    assert link.status == 200, link.body  # SlackUserLinked
    assert api.call("DELETE", "/slack-links/T0ACME/U0JOHN", None, claims=JOHN).status == 200  # SlackUserUnlinked

    munich = api.call("POST", "/locations", {"name": "Munich"}).body["location_id"]
    moved = api.call("POST", "/employees/mike/transfer", {"to_location_id": munich, "effective_date": "2026-02-01"})
    assert moved.status == 200, moved.body  # the approver leaves: ApproverUnassigned too
    assert berlin != munich
    api.clock.now = datetime(2027, 1, 2, 9, 0, tzinfo=UTC)
    assert api.call("POST", "/rollovers", {"from_year": 2026}).status == 202


def stream_records(streams: Any, stream_arn: str) -> list[dict[str, Any]]:
    """Every record of every shard of the table's stream, in order."""
    records = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += page["Records"]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return records


def delivered(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
    return out


def test_every_event_the_publisher_puts_on_the_bus_matches_its_message(aws: dict[str, Any]) -> None:
    store = DynamoDBEventStore(aws["dynamodb"], TABLE)
    play_every_kind_of_event(Api.on(store), store)
    records = stream_records(boto3.client("dynamodbstreams"), aws["stream_arn"])
    for start in range(0, len(records), 100):  # the event source mapping's batches
        assert publisher.handler({"Records": records[start : start + 100]}, None) == {"batchItemFailures": []}

    on_bus = delivered(aws["sqs"], aws["queue_url"])
    doc = document()
    registry = registry_schemas(doc)  # what the Schema Registry holds: the whole EventBridge event, draft-04
    problems = []
    for event in on_bus:
        name = event["detail-type"]
        message = doc["components"]["messages"].get(name)
        if message is None:
            problems.append(f"{name}: no message in the document")
            continue
        headers = jsonschema.Draft7Validator(message["headers"])
        payload = jsonschema.Draft7Validator(payload_schema(doc, name), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
        problems += [f"{name} headers: {e.message}" for e in headers.iter_errors(event)]
        problems += [f"{name} {list(e.absolute_path)}: {e.message}" for e in payload.iter_errors(event["detail"])]
        whole = jsonschema.Draft4Validator(registry[f"{SOURCE}@{name}"])
        problems += [f"{name} (registry) {list(e.absolute_path)}: {e.message}" for e in whole.iter_errors(event)]
    assert problems == []
    assert {e["detail-type"] for e in on_bus} == set(ALL_EVENT_TYPES)  # every kind was checked
    assert len(on_bus) == sum(1 for r in records if r["dynamodb"]["NewImage"]["record_type"]["S"] == "event")
