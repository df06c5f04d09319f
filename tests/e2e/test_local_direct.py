"""The stack's pollers read moto's backends directly (`acme_eventsourcing.local.direct`): each
answer equals what boto3 gets over the same backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from acme_eventsourcing.local import moto_patches
from acme_eventsourcing.local.direct import DirectSQS, DirectStreams
from acme_eventsourcing.local.streams import _jsonable
from moto import mock_aws


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any, Any]]:
    moto_patches.install()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = ddb.create_table(
            TableName="direct",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield ddb, table["TableDescription"]["LatestStreamArn"], boto3.client("dynamodbstreams", region_name="us-east-1")


ITEM = {
    "b": {"B": b"\x00\xff raw"},
    "bs": {"BS": [b"\x01", b"\x02\x03"]},
    "m": {"M": {"deep": {"L": [{"B": b"\x09"}, {"S": "x"}, {"N": "1.5"}, {"NULL": True}, {"BOOL": False}]}}},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "s": {"S": "é"},
}


def _records(client: Any, arn: str, kind: str, sequence: str | None = None) -> list[dict[str, Any]]:
    shard = client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    extra = {"SequenceNumber": sequence} if sequence else {}
    iterator = client.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **extra)["ShardIterator"]
    return client.get_records(ShardIterator=iterator, Limit=1000)["Records"]


def test_stream_records_are_what_boto3_reads(aws: tuple[Any, Any, Any]) -> None:
    ddb, arn, streams = aws
    for i in range(4):
        ddb.put_item(TableName="direct", Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, **ITEM})
    ddb.update_item(
        TableName="direct",
        Key={"pk": {"S": "p"}, "sk": {"N": "1"}},
        UpdateExpression="SET s = :s",
        ExpressionAttributeValues={":s": {"S": "y"}},
    )
    ddb.delete_item(TableName="direct", Key={"pk": {"S": "p"}, "sk": {"N": "2"}})
    direct = DirectStreams(streams)

    expected = _records(streams, arn, "TRIM_HORIZON")
    got = _records(direct, arn, "TRIM_HORIZON")
    assert [r["eventName"] for r in got] == ["INSERT"] * 4 + ["MODIFY", "REMOVE"]
    assert got == expected
    assert [_jsonable(r) for r in got] == [_jsonable(r) for r in expected]  # what a function receives
    assert _jsonable(got[0])["dynamodb"]["NewImage"]["b"] == {"B": "AP8gcmF3"}  # base64 of the raw bytes, as Lambda sends
    third = expected[2]["dynamodb"]["SequenceNumber"]
    assert _records(direct, arn, "AFTER_SEQUENCE_NUMBER", third) == expected[3:]
    assert _records(direct, arn, "AT_SEQUENCE_NUMBER", third) == expected[2:]
    assert _records(direct, arn, "LATEST") == [] == _records(streams, arn, "LATEST")
    got[0]["dynamodb"]["NewImage"]["m"]["M"]["deep"]["L"].clear()  # a copy: moto's record is unchanged
    assert _records(direct, arn, "TRIM_HORIZON") == expected


def test_queue_messages_are_received_and_deleted_as_boto3_does(aws: tuple[Any, Any, Any]) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="direct-q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    bodies = [json.dumps({"n": n, "text": "<&é>"}) for n in range(12)]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    direct = DirectSQS(sqs)
    first = direct.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    second = direct.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    assert sorted(m["Body"] for m in first + second) == sorted(bodies)  # bodies exactly as sent, in flight once
    assert direct.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0) == {}
    for message in first:
        direct.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]  # other calls: boto3's
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == ("0", str(len(second)))
    assert direct.in_queue(url) == len(second)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        direct.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
