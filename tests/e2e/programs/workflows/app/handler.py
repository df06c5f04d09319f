"""The functions of the workflows test program (plain boto3, no acme_eventsourcing)."""

import os
from datetime import UTC, datetime

import boto3

_table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


class FlakyError(Exception):
    """Fails the first attempt of an item marked flaky."""


def clock() -> datetime:
    """The clock seam: the local stack points it at its (simulated) clock."""
    return datetime.now(UTC)


def work(event, context):
    """One item of the batch: `flaky` fails its first attempt, `bad` always fails."""
    item = event["id"]
    attempts = _table.update_item(
        Key={"pk": f"attempts#{item}"},
        UpdateExpression="ADD attempts :one",
        ExpressionAttributeValues={":one": 1},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]["attempts"]
    if event.get("bad"):
        raise ValueError(f"item {item} is bad")
    if event.get("flaky") and attempts == 1:
        raise FlakyError(f"item {item} failed its first attempt")
    return {"id": item, "done": True, "attempts": int(attempts)}


def record(event, context):
    """Keeps what it was given (a schedule's or a rule's input), for the test to read."""
    _table.put_item(Item={"pk": f"record#{context.aws_request_id}", "event": str(event), "kind": str(event.get("kind", "-"))})
    return {"recorded": event}


def now(event, context):
    """What time the function thinks it is."""
    return {**event, "now": clock().isoformat()}
