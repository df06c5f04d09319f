"""The local stack's own pollers read moto's backends directly, not through boto3.

On AWS, the pollers that read a DynamoDB stream for an event source mapping or a Pipe, and
the EventBridge-to-Lambda delivery, are AWS's internal machinery: no API call of the
account's. Locally they are threads of the stack (`local.streams`, `local.targets`), and
through boto3 each of their reads cost a botocore request (validation, serialization,
signing), moto's dispatch and parsing, moto's shape-walking answer serializer and botocore's
parser: 35 of the 53 moto calls a leave request costs, and most of their CPU. These two
stand-ins answer the few calls the pollers make from the same moto backend objects the
API calls use, in the caller's thread, with the answers boto3 would have given:

- `DirectStreams` (for a `StreamPoller`'s `streams_client`): `get_shard_iterator` and
  `get_records` of a table's stream (`describe_stream`, once per poller, is boto3's). An iterator is the position
  itself (no moto `ShardIterator` object, none kept); records are moto's stream records as
  boto3 parses them (binary values as bytes, `ApproximateCreationDateTime` an aware UTC
  datetime), copies the caller may change. The caller still holds the table's lock from
  iterator to records (`local.backend`).
- `DirectSQS` (for a `TargetDrainer`'s `sqs_client`): `receive_message` (long polling as
  moto does it, the queue's visibility timeout) and `delete_message`, and `in_queue` (what
  `LocalStack.settle` asks of every drainer's queue, 20 times a second); any other call
  goes to the boto3 client it wraps.

`tests/e2e/test_local_direct.py` compares each answer with boto3's over the same backend.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models.table import Table
from moto.dynamodbstreams.models import dynamodbstreams_backends
from moto.sqs.models import sqs_backends


class DirectStreams:
    """A DynamoDB Streams client for the stack's pollers, answered from moto's backend."""

    def __init__(self, client: Any) -> None:
        self._client = client  # for anything else, and for its region
        self._region = client.meta.region_name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _table(self, stream_arn: str) -> Table:
        return dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][self._region]._get_table_from_arn(stream_arn)

    def get_shard_iterator(
        self,
        StreamArn: str,  # noqa: N803
        ShardId: str,  # noqa: N803
        ShardIteratorType: str,  # noqa: N803
        SequenceNumber: str | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        shard = self._table(StreamArn).stream_shard
        if shard is None or shard.id != ShardId:
            return self._client.get_shard_iterator(
                StreamArn=StreamArn,
                ShardId=ShardId,
                ShardIteratorType=ShardIteratorType,
                **({"SequenceNumber": SequenceNumber} if SequenceNumber else {}),
            )
        if ShardIteratorType == "TRIM_HORIZON":
            position = shard.starting_sequence_number
        elif ShardIteratorType == "LATEST":
            position = shard.starting_sequence_number + len(shard.items)
        elif ShardIteratorType == "AT_SEQUENCE_NUMBER":
            position = int(SequenceNumber or 0)
        elif ShardIteratorType == "AFTER_SEQUENCE_NUMBER":
            position = int(SequenceNumber or 0) + 1
        else:
            raise ValueError(f"unknown ShardIteratorType {ShardIteratorType!r}")
        return {"ShardIterator": f"{StreamArn}|direct|{position}"}

    def get_records(self, ShardIterator: str, Limit: int = 1000) -> dict[str, Any]:  # noqa: N803
        stream_arn, kind, position = ShardIterator.rsplit("|", 2)
        if kind != "direct":
            return self._client.get_records(ShardIterator=ShardIterator, Limit=Limit)
        shard = self._table(stream_arn).stream_shard
        assert shard is not None
        start = int(position) - shard.starting_sequence_number
        records = [_as_boto3(r.to_json()) for r in shard.items[max(start, 0) : max(start, 0) + Limit]]
        after = int(records[-1]["dynamodb"]["SequenceNumber"]) + 1 if records else int(position)
        return {"Records": records, "NextShardIterator": f"{stream_arn}|direct|{after}"}


def _as_boto3(record: dict[str, Any]) -> dict[str, Any]:
    """A moto stream record as boto3 parses it (a deep copy: moto keeps the original)."""
    ddb = dict(record["dynamodb"])
    out = {**record, "dynamodb": ddb}
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        # moto's utcnow() is naive UTC; its answer carries epoch milliseconds, which boto3 parses aware
        ddb["ApproximateCreationDateTime"] = created.replace(tzinfo=UTC, microsecond=created.microsecond // 1000 * 1000)
    for image in ("Keys", "NewImage", "OldImage"):
        if image in ddb:
            ddb[image] = {name: _value(v) for name, v in ddb[image].items()}
    return out


def _value(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value with binary data as bytes (moto keeps the base64 text of the request)."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": _bytes(inner)}
    if kind == "BS":
        return {"BS": [_bytes(b) for b in inner]}
    if kind == "M":
        return {"M": {k: _value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_value(v) for v in inner]}
    return {kind: list(inner) if isinstance(inner, list) else inner}


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else base64.b64decode(value)


class DirectSQS:
    """An SQS client for the stack's target drainers: receive and delete from moto's backend."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._region = client.meta.region_name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def receive_message(self, QueueUrl: str, MaxNumberOfMessages: int = 1, WaitTimeSeconds: int | None = None) -> dict[str, Any]:  # noqa: N803
        backend = sqs_backends[DEFAULT_ACCOUNT_ID][self._region]
        name = QueueUrl.rstrip("/").rpartition("/")[2]
        try:
            queue = backend.get_queue(name)
        except Exception:  # no such queue: boto3's call raises the ClientError it gets
            return self._client.receive_message(
                QueueUrl=QueueUrl,
                MaxNumberOfMessages=MaxNumberOfMessages,
                **({"WaitTimeSeconds": WaitTimeSeconds} if WaitTimeSeconds is not None else {}),
            )
        wait = int(queue.receive_message_wait_time_seconds or 0) if WaitTimeSeconds is None else WaitTimeSeconds
        messages = backend.receive_message(name, MaxNumberOfMessages, wait, queue.visibility_timeout)
        found = [{"MessageId": m.id, "ReceiptHandle": m.receipt_handle, "Body": m.body} for m in messages]
        return {"Messages": found} if found else {}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> dict[str, Any]:  # noqa: N803
        backend = sqs_backends[DEFAULT_ACCOUNT_ID][self._region]
        try:
            backend.delete_message(QueueUrl.rstrip("/").rpartition("/")[2], ReceiptHandle)
        except Exception:  # an invalid handle or queue: boto3's call raises the ClientError it gets
            return self._client.delete_message(QueueUrl=QueueUrl, ReceiptHandle=ReceiptHandle)
        return {}

    def in_queue(self, QueueUrl: str) -> int:  # noqa: N803
        """Messages in the queue, visible or in flight (GetQueueAttributes'
        ApproximateNumberOfMessages + ApproximateNumberOfMessagesNotVisible)."""
        queue = sqs_backends[DEFAULT_ACCOUNT_ID][self._region].get_queue(QueueUrl.rstrip("/").rpartition("/")[2])
        return queue.approximate_number_of_messages + queue.approximate_number_of_messages_not_visible
