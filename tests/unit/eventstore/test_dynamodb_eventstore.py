"""What only the DynamoDB adapter must show: the item layout, the calls it makes, and how
it translates DynamoDB's errors (the behaviour itself is in the contract suite)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, ConcurrencyError, IdempotencyKeyUsed, IdempotencyRecord, NewEvent
from botocore.exceptions import ClientError
from botocore.stub import Stubber

EVENT = NewEvent(
    event_type="LeaveRequested",
    data={"days": 2},
    event_id="e1",
    occurred_at="2026-01-05T09:00:00Z",
    metadata={"actor": "ana", "idempotency_key": "k1", "correlation_id": "c1", "causation_id": "x1"},
)
TABLE = "events"  # the table the `dynamodb_client` fixture creates
RECORD = IdempotencyRecord(
    key="sub#k1",
    request_hash="h" * 64,
    response={"status": 201, "body": {"id": "r1"}},
    created_at="2026-01-05T09:00:01Z",
)


def record_calls(client: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every API call the client makes from now on, with its parameters."""
    calls: list[tuple[str, dict[str, Any]]] = []
    client.meta.events.register(
        "provide-client-params.dynamodb.*", lambda params, model, **_: calls.append((model.name, copy.deepcopy(params)))
    )
    return calls


def fill(store: DynamoDBEventStore, stream_id: str, count: int) -> None:
    events = [
        NewEvent(event_type="LeaveRequested", data={"n": i}, event_id=f"e{i}", occurred_at="2026-01-05T09:00:00Z") for i in range(count)
    ]
    store.append([Append(stream_id=stream_id, expected_version=0, events=events)])


def test_event_and_idempotency_items_have_the_fixed_layout(dynamodb_client: Any) -> None:
    store = DynamoDBEventStore(dynamodb_client, TABLE)
    store.append([Append(stream_id="employee#john", expected_version=0, events=[EVENT])], idempotency=RECORD)

    items = {(i["stream_id"]["S"], i["version"]["N"]): i for i in dynamodb_client.scan(TableName=TABLE)["Items"]}

    assert items == {
        ("employee#john", "1"): {
            "stream_id": {"S": "employee#john"},
            "version": {"N": "1"},
            "record_type": {"S": "event"},
            "event_type": {"S": "LeaveRequested"},
            "event_id": {"S": "e1"},
            "occurred_at": {"S": "2026-01-05T09:00:00Z"},
            "data": {"S": '{"days":2}'},
            "metadata": {"S": '{"actor":"ana","idempotency_key":"k1","correlation_id":"c1","causation_id":"x1"}'},
        },
        ("idempotency#sub#k1", "0"): {
            "stream_id": {"S": "idempotency#sub#k1"},
            "version": {"N": "0"},
            "record_type": {"S": "idempotency"},
            "request_hash": {"S": "h" * 64},
            "response": {"S": '{"status":201,"body":{"id":"r1"}}'},
            "created_at": {"S": "2026-01-05T09:00:01Z"},
        },
    }


def test_append_is_one_transaction_of_conditional_puts(dynamodb_client: Any) -> None:
    store = DynamoDBEventStore(dynamodb_client, TABLE)
    fill(store, "location#loc1", 2)
    calls = record_calls(dynamodb_client)

    store.append(
        [
            Append(stream_id="location#loc1", expected_version=2, events=[EVENT]),
            Append(stream_id="employee#john", expected_version=0, events=[EVENT, EVENT]),
        ],
        idempotency=RECORD,
    )

    assert [name for name, _ in calls] == ["TransactWriteItems"]
    actions = calls[0][1]["TransactItems"]
    puts = [a["Put"] for a in actions if "Put" in a]
    assert [(p["Item"]["stream_id"]["S"], p["Item"]["version"]["N"]) for p in puts] == [
        ("idempotency#sub#k1", "0"),
        ("location#loc1", "3"),
        ("employee#john", "1"),
        ("employee#john", "2"),
    ]
    assert {p["ConditionExpression"] for p in puts} == {"attribute_not_exists(stream_id)"}
    checks = [a["ConditionCheck"] for a in actions if "ConditionCheck" in a]
    assert checks == [
        {
            "TableName": TABLE,
            "Key": {"stream_id": {"S": "location#loc1"}, "version": {"N": "2"}},
            "ConditionExpression": "attribute_exists(stream_id)",
        }
    ]


def test_load_of_99_events_is_one_consistent_query(dynamodb_client: Any) -> None:
    store = DynamoDBEventStore(dynamodb_client, TABLE)
    fill(store, "employee#john", 99)
    calls = record_calls(dynamodb_client)

    assert len(store.load("employee#john")) == 99

    assert [name for name, _ in calls] == ["Query"]
    assert calls[0][1]["ConsistentRead"] is True
    assert "Limit" not in calls[0][1]


def test_load_follows_last_evaluated_key_page_by_page(dynamodb_client: Any) -> None:
    store = DynamoDBEventStore(dynamodb_client, TABLE, page_size=3)
    fill(store, "employee#john", 7)
    calls = record_calls(dynamodb_client)

    assert [e.version for e in store.load("employee#john")] == [1, 2, 3, 4, 5, 6, 7]

    assert [name for name, _ in calls] == ["Query"] * 3
    assert [params["Limit"] for _, params in calls] == [3, 3, 3]
    assert [params.get("ExclusiveStartKey", {}).get("version") for _, params in calls] == [None, {"N": "3"}, {"N": "6"}]


def test_load_after_version_is_a_key_condition_not_a_filter(dynamodb_client: Any) -> None:
    store = DynamoDBEventStore(dynamodb_client, TABLE)
    fill(store, "employee#john", 5)
    calls = record_calls(dynamodb_client)

    store.load("employee#john", after_version=3)

    ((_, params),) = calls
    assert "FilterExpression" not in params
    assert params["KeyConditionExpression"] == "#stream = :stream AND #version > :after"
    assert params["ExpressionAttributeValues"][":after"] == {"N": "3"}


def test_get_idempotency_reads_version_0_of_its_stream_consistently(dynamodb_client: Any) -> None:
    store = DynamoDBEventStore(dynamodb_client, TABLE)
    store.append([], idempotency=RECORD)
    calls = record_calls(dynamodb_client)

    assert store.get_idempotency("sub#k1") == RECORD

    assert calls == [
        (
            "GetItem",
            {
                "TableName": TABLE,
                "Key": {"stream_id": {"S": "idempotency#sub#k1"}, "version": {"N": "0"}},
                "ConsistentRead": True,
            },
        )
    ]


def test_page_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="page_size"):
        DynamoDBEventStore(object(), TABLE, page_size=0)


def cancelled(*codes: str) -> dict[str, Any]:
    return {"CancellationReasons": [{"Code": code} for code in codes]}


@pytest.fixture
def stubbed() -> Iterator[tuple[DynamoDBEventStore, Stubber]]:
    """A store on a stubbed client, to return errors moto never produces."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield DynamoDBEventStore(client, TABLE), stubber


APPEND = [Append(stream_id="employee#john", expected_version=3, events=[EVENT])]  # items: check v3, put v4


@pytest.mark.parametrize(
    ("codes", "error", "message"),
    [
        (("None", "None", "ConditionalCheckFailed"), ConcurrencyError, "'employee#john' after version 3"),
        (("None", "ConditionalCheckFailed", "None"), ConcurrencyError, "'employee#john' after version 3"),
        (("None", "TransactionConflict", "None"), ConcurrencyError, "'employee#john' after version 3"),
        (("ConditionalCheckFailed", "None", "None"), IdempotencyKeyUsed, "'sub#k1'"),
        (("ConditionalCheckFailed", "ConditionalCheckFailed", "None"), IdempotencyKeyUsed, "'sub#k1'"),
        (("TransactionConflict", "None", "None"), ConcurrencyError, "'idempotency#sub#k1'"),
    ],
    ids=["event-slot-taken", "expected-version-missing", "event-slot-in-flight", "key-used", "key-used-and-slot-taken", "key-in-flight"],
)
def test_cancelled_transaction_becomes_the_ports_error(
    stubbed: tuple[DynamoDBEventStore, Stubber], codes: tuple[str, ...], error: type[Exception], message: str
) -> None:
    store, stubber = stubbed
    stubber.add_client_error("transact_write_items", "TransactionCanceledException", modeled_fields=cancelled(*codes))

    with pytest.raises(error, match=message) as raised:
        store.append(APPEND, idempotency=RECORD)

    assert isinstance(raised.value.__cause__, ClientError)


@pytest.mark.parametrize(
    ("code", "fields"),
    [
        ("TransactionCanceledException", cancelled("None", "ThrottlingError", "None")),
        ("TransactionCanceledException", cancelled("None", "None", "ValidationError")),
        ("ProvisionedThroughputExceededException", {}),
        ("ValidationException", {}),
    ],
    ids=["throttled-item", "invalid-item", "throughput", "validation"],
)
def test_other_failures_are_not_disguised_as_conflicts(
    stubbed: tuple[DynamoDBEventStore, Stubber], code: str, fields: dict[str, Any]
) -> None:
    store, stubber = stubbed
    stubber.add_client_error("transact_write_items", code, modeled_fields=fields)

    with pytest.raises(ClientError) as raised:
        store.append(APPEND, idempotency=RECORD)

    assert raised.value.response["Error"]["Code"] == code
