"""The local stack's fast paths through moto answer exactly what moto answers.

`acme_eventsourcing.local.moto_patches` encodes successful DynamoDB item answers with
`json.dumps` instead of moto's shape-walking serializer, and looks backends up without
moto's lock. Here every operation of `FAST_DYNAMODB_OPERATIONS` runs through boto3 on moto
with both encodings computed side by side (the answer returned is moto's own), over every
attribute type, the ReturnValues / ConsumedCapacity / pagination variants, and random item
values (Hypothesis): the two decoded bodies must be equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from acme_eventsourcing.local import moto_patches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core.base_backend import BackendDict
from moto.dynamodb.responses import DynamoHandler

TABLE = "fast-paths"


class Recorder:
    def __init__(self) -> None:
        self.pairs: list[tuple[str, Any, Any]] = []

    def __call__(self, handler: DynamoHandler, action_result: Any) -> Any:
        status, headers, body = moto_patches.MOTO_DYNAMODB_SERIALIZED(handler, action_result)
        fast_status, fast_headers, fast_body = moto_patches._dynamodb_serialized(handler, action_result)
        self.pairs.append(
            (
                handler._get_action(),
                (status, headers.get("Content-Type"), json.loads(body or "{}")),
                (fast_status, fast_headers.get("Content-Type"), json.loads(fast_body or "{}")),
            )
        )
        return status, headers, body


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Recorder]]:
    moto_patches.install()
    recorder = Recorder()
    monkeypatch.setattr(DynamoHandler, "serialized", lambda handler, action_result: recorder(handler, action_result))
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client, recorder


EVERY_TYPE = {
    "s": {"S": "text é 🎉"},
    "n": {"N": "-12.50"},
    "b": {"B": b"\x00\xffbytes"},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "z": {"NULL": True},
    "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "1"}, {"B": b"\x01"}]}, "empty": {"M": {}}}},
    "l": {"L": []},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"\x01", b"\x02"]},
    "g": {"S": "group"},
}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _assert_same(recorder: Recorder) -> set[str]:
    assert recorder.pairs
    for action, moto_answer, fast_answer in recorder.pairs:
        assert fast_answer == moto_answer, action
    return {action for action, _, _ in recorder.pairs}


def test_every_fast_operation_answers_as_moto_serializes(recorded: tuple[Any, Recorder]) -> None:
    client, recorder = recorded
    for i in range(5):
        client.put_item(TableName=TABLE, Item={**_key("p", f"s{i}"), **EVERY_TYPE}, ReturnConsumedCapacity="TOTAL")
    client.put_item(TableName=TABLE, Item={**_key("p", "s0"), "n": {"N": "1"}}, ReturnValues="ALL_OLD")
    client.get_item(TableName=TABLE, Key=_key("p", "s1"), ConsistentRead=True)
    client.get_item(TableName=TABLE, Key=_key("p", "missing"))
    client.get_item(TableName=TABLE, Key=_key("p", "s2"), ProjectionExpression="m.inner, b, ss", ReturnConsumedCapacity="INDEXES")
    for values in ("ALL_NEW", "ALL_OLD", "UPDATED_NEW", "UPDATED_OLD", "NONE"):
        client.update_item(
            TableName=TABLE,
            Key=_key("p", "s3"),
            UpdateExpression="ADD n :one SET b = :b",
            ExpressionAttributeValues={":one": {"N": "1"}, ":b": {"B": b"\x07"}},
            ReturnValues=values,
        )
    page = client.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}, Limit=2)
    client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        ExclusiveStartKey=page["LastEvaluatedKey"],
    )
    client.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "nobody"}})
    client.query(
        TableName=TABLE, IndexName="by-g", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "group"}}, Select="COUNT"
    )
    client.scan(TableName=TABLE, FilterExpression="attribute_exists(m)", ReturnConsumedCapacity="TOTAL")
    client.scan(TableName=TABLE, Limit=1)
    client.batch_get_item(
        RequestItems={TABLE: {"Keys": [_key("p", "s1"), _key("p", "s4"), _key("p", "none")]}}, ReturnConsumedCapacity="TOTAL"
    )
    client.batch_write_item(
        RequestItems={TABLE: [{"PutRequest": {"Item": {**_key("q", "1"), **EVERY_TYPE}}}, {"DeleteRequest": {"Key": _key("p", "s4")}}]}
    )
    client.transact_get_items(
        TransactItems=[{"Get": {"TableName": TABLE, "Key": _key("p", "s1")}}, {"Get": {"TableName": TABLE, "Key": _key("p", "none")}}]
    )
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**_key("t", "1"), **EVERY_TYPE}, "ConditionExpression": "attribute_not_exists(pk)"}},
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": _key("p", "s2"),
                    "UpdateExpression": "SET s = :s",
                    "ExpressionAttributeValues": {":s": {"S": "y"}},
                }
            },
            {"ConditionCheck": {"TableName": TABLE, "Key": _key("p", "s1"), "ConditionExpression": "attribute_exists(pk)"}},
            {"Delete": {"TableName": TABLE, "Key": _key("p", "s0")}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    client.delete_item(TableName=TABLE, Key=_key("p", "s1"), ReturnValues="ALL_OLD")
    client.delete_item(TableName=TABLE, Key=_key("p", "none"))
    assert _assert_same(recorder) >= moto_patches.FAST_DYNAMODB_OPERATIONS


def test_errors_and_other_operations_still_use_moto_serializer(recorded: tuple[Any, Recorder]) -> None:
    client, recorder = recorded
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName=TABLE, Item=_key("p", "x"), ConditionExpression="attribute_exists(pk)")
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[{"ConditionCheck": {"TableName": TABLE, "Key": _key("p", "x"), "ConditionExpression": "attribute_exists(pk)"}}]
        )
    described = client.describe_table(TableName=TABLE)["Table"]
    assert described["TableName"] == TABLE and described["CreationDateTime"].year > 2000
    # an error answer is moto's own (same body both ways, since the fast path hands errors back)
    _assert_same(recorder)


def test_backend_lookup_returns_moto_backend_and_creates_new_accounts() -> None:
    moto_patches.install()
    from moto.dynamodb.models import dynamodb_backends

    with mock_aws():
        first = dynamodb_backends["123456789012"]
        assert dynamodb_backends["123456789012"] is first
        other = dynamodb_backends["210987654321"]  # not present yet: moto's own path creates it
        assert other is not first and other.account_id == "210987654321"
        assert dynamodb_backends in BackendDict._instances


_scalars = st.one_of(
    st.text(max_size=12).map(lambda s: {"S": s}),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=Decimal("-1e9"), max_value=Decimal("1e9")).map(
        lambda d: {"N": str(d)}
    ),
    st.binary(max_size=12).map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.sets(st.text(min_size=1, max_size=5), min_size=1, max_size=3).map(lambda s: {"SS": sorted(s)}),
    st.sets(st.binary(min_size=1, max_size=4), min_size=1, max_size=3).map(lambda s: {"BS": sorted(s)}),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=3).map(lambda v: {"M": v}),
    ),
    max_leaves=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attributes=st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in ("pk", "sk", "g")), _values, max_size=5))
def test_random_items_answer_as_moto_serializes(recorded: tuple[Any, Recorder], attributes: dict[str, Any]) -> None:
    client, recorder = recorded
    recorder.pairs.clear()
    client.put_item(TableName=TABLE, Item={**_key("h", "1"), **attributes})
    got = client.get_item(TableName=TABLE, Key=_key("h", "1"))["Item"]
    client.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "h"}})
    client.delete_item(TableName=TABLE, Key=_key("h", "1"), ReturnValues="ALL_OLD")
    assert set(got) == {"pk", "sk", *attributes}
    _assert_same(recorder)
