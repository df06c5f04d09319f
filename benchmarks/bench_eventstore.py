"""DynamoDB calls per command (load + append) on the Events table, under moto.

Run from the repo root: `.venv/bin/python benchmarks/bench_eventstore.py`. A command
loads its stream, decides, and appends its events with the idempotency record; the
calls are counted with botocore's `before-call` hook. Transaction items: the event, the
idempotency record, and the version check of a stream that is not new. moto's latencies say nothing
about DynamoDB's, so only call counts (and the items each call carries) are printed.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lambdas")]
os.environ.update(
    {
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
)
for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(var, None)

import boto3  # noqa: E402
from eventstore.dynamodb import DynamoDBEventStore  # noqa: E402
from eventstore.ports import Append, IdempotencyRecord, NewEvent  # noqa: E402
from moto import mock_aws  # noqa: E402

TABLE = "events"
STREAM_LENGTHS = (0, 1, 50, 99)


def event(n: int) -> NewEvent:
    return NewEvent(
        event_type="LeaveRequested",
        data={"request_id": f"req_{n:026d}", "start": "2026-02-02", "end": "2026-02-06", "kind": "pto", "days": 5},
        event_id=f"{n:032x}",
        occurred_at="2026-01-05T09:00:00Z",
        metadata={"actor": "john", "idempotency_key": f"k{n}", "correlation_id": f"c{n}", "causation_id": f"x{n}"},
    )


def create_table(client: Any) -> None:
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "stream_id", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "stream_id", "AttributeType": "S"}, {"AttributeName": "version", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )


def main() -> None:
    with mock_aws():
        client = boto3.client("dynamodb")
        create_table(client)
        store = DynamoDBEventStore(client, TABLE)
        calls: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))
        items: list[int] = []  # actions of each TransactWriteItems call
        client.meta.events.register(
            "provide-client-params.dynamodb.TransactWriteItems",
            lambda params, **_: items.append(len(params["TransactItems"])),
        )

        print(f"{'stream length':>13} {'Query':>6} {'TransactWriteItems':>19} {'total':>6} {'<= 2':>5} {'transaction items':>18}")
        for length in STREAM_LENGTHS:
            stream_id = f"employee#len{length}"
            if length:
                history = [event(i) for i in range(length)]
                store.append([Append(stream_id=stream_id, expected_version=0, events=history)])
            calls.clear()
            items.clear()

            loaded = store.load(stream_id)
            stored = store.append(
                [Append(stream_id=stream_id, expected_version=len(loaded), events=[event(length)])],
                idempotency=IdempotencyRecord(
                    key=f"sub#k{length}", request_hash="0" * 64, response={"status": 201, "body": {}}, created_at="2026-01-05T09:00:00Z"
                ),
            )

            assert stored[0].version == length + 1
            total = sum(calls.values())
            print(
                f"{length:>13} {calls['Query']:>6} {calls['TransactWriteItems']:>19} {total:>6} "
                f"{'yes' if total <= 2 else 'NO':>5} {items[0]:>18}"
            )


if __name__ == "__main__":
    main()
