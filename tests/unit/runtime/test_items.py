"""The Events-table item contract (`acme_eventsourcing.runtime.items`): round trips, refusals
that name the attribute and the contract, and the writer and the publisher both using it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from acme_eventsourcing.runtime import items, publisher
from acme_eventsourcing.runtime.eventstore import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, IdempotencyRecord, NewEvent, StoredEvent
from acme_eventsourcing.runtime.items import ItemContractError
from hypothesis import given
from hypothesis import strategies as st

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
OBJECTS = st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=5)
TEXT = st.text(min_size=1, max_size=30)
STREAM_IDS = TEXT.filter(lambda s: not s.startswith(items.IDEMPOTENCY_PREFIX))
MOMENTS = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31))
TIMES = MOMENTS.map(lambda d: d.replace(tzinfo=UTC).isoformat()) | MOMENTS.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))


def event(**overrides: Any) -> NewEvent:
    fields: dict[str, Any] = {
        "event_type": "OrderPlaced",
        "data": {"order_id": "o-1"},
        "event_id": "e1",
        "occurred_at": "2026-01-05T09:00:00Z",
        "metadata": {"actor": "ana"},
    }
    return NewEvent(**{**fields, **overrides})


@given(
    stream_id=STREAM_IDS, version=st.integers(1, 10**12), event_type=TEXT, event_id=TEXT, occurred_at=TIMES, data=OBJECTS, metadata=OBJECTS
)
def test_event_item_reads_back_as_the_stored_event(
    stream_id: str, version: int, event_type: str, event_id: str, occurred_at: str, data: dict, metadata: dict
) -> None:
    new = NewEvent(event_type=event_type, data=data, event_id=event_id, occurred_at=occurred_at, metadata=metadata)

    item = items.event_item(stream_id, version, new)

    assert set(item) == set(items.EVENT_ATTRIBUTES)
    assert items.is_event_item(item)
    assert items.read_event_item(item) == StoredEvent(
        stream_id=stream_id,
        version=version,
        event_type=event_type,
        event_id=event_id,
        occurred_at=occurred_at,
        data=json.loads(json.dumps(data)),
        metadata=json.loads(json.dumps(metadata)),
    )


@given(key=TEXT, request_hash=TEXT, response=OBJECTS, created_at=TIMES)
def test_idempotency_item_reads_back_as_the_record(key: str, request_hash: str, response: dict, created_at: str) -> None:
    record = IdempotencyRecord(key=key, request_hash=request_hash, response=response, created_at=created_at)

    item = items.idempotency_item(record)

    assert set(item) == set(items.IDEMPOTENCY_ATTRIBUTES)
    assert item["stream_id"] == {"S": "idempotency#" + key} and item["version"] == {"N": "0"}
    assert not items.is_event_item(item)
    assert items.read_idempotency_item(item) == IdempotencyRecord(
        key=key, request_hash=request_hash, response=json.loads(json.dumps(response)), created_at=created_at
    )


def test_event_item_has_the_documented_layout() -> None:
    assert items.event_item("order#o-1", 3, event()) == {
        "stream_id": {"S": "order#o-1"},
        "version": {"N": "3"},
        "record_type": {"S": "event"},
        "event_type": {"S": "OrderPlaced"},
        "event_id": {"S": "e1"},
        "occurred_at": {"S": "2026-01-05T09:00:00Z"},
        "data": {"S": '{"order_id":"o-1"}'},
        "metadata": {"S": '{"actor":"ana"}'},
    }
    assert items.ITEM_CONTRACT_VERSION == 1 and "v1" in items.CONTRACT


@pytest.mark.parametrize("attribute", items.EVENT_ATTRIBUTES)
def test_reading_an_item_without_an_attribute_names_it_and_the_contract(attribute: str) -> None:
    item = items.event_item("order#o-1", 1, event())
    del item[attribute]

    with pytest.raises(ItemContractError) as refused:
        items.read_event_item(item)

    assert refused.value.attribute == attribute
    assert repr(attribute) in str(refused.value) and items.CONTRACT in str(refused.value)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("occurred_at", {"S": "yesterday"}),
        ("occurred_at", {"S": "2026-01-05T09:00:00"}),  # no offset: the bus would guess the zone
        ("version", {"N": "0"}),
        ("version", {"S": "1"}),
        ("data", {"S": "{not json"}),
        ("data", {"S": "[1]"}),
        ("metadata", {"S": "null"}),
        ("event_type", {"NULL": True}),
        ("record_type", {"S": "idempotency"}),
    ],
)
def test_reading_a_malformed_attribute_names_it(attribute: str, value: dict[str, Any]) -> None:
    item = {**items.event_item("order#o-1", 1, event()), attribute: value}

    with pytest.raises(ItemContractError, match=repr(attribute)):
        items.read_event_item(item)


@pytest.mark.parametrize(
    ("overrides", "attribute"),
    [
        ({"occurred_at": ""}, "occurred_at"),
        ({"occurred_at": "2026-01-05 nine"}, "occurred_at"),
        ({"occurred_at": "2026-01-05T09:00:00"}, "occurred_at"),
        ({"event_type": ""}, "event_type"),
        ({"event_id": ""}, "event_id"),
        ({"data": ["not", "an", "object"]}, "data"),
    ],
)
def test_writing_an_event_that_breaks_the_contract_is_refused_by_every_store(overrides: dict[str, Any], attribute: str) -> None:
    bad = event(**overrides)
    store = InMemoryEventStore()

    with pytest.raises(ItemContractError, match=repr(attribute)) as refused:
        store.append([Append(stream_id="order#o-1", expected_version=0, events=[bad])])
    with pytest.raises(ItemContractError, match=repr(attribute)):
        items.event_item("order#o-1", 1, bad)

    assert isinstance(refused.value, ValueError)  # a caller's mistake, like the store's other refusals
    assert store.load("order#o-1") == []


def test_a_new_event_without_an_id_or_time_gets_valid_ones() -> None:
    """The motivating bug: events written without `occurred_at`. Through the store they cannot be."""
    first, second = NewEvent(event_type="OrderPlaced", data={}), NewEvent(event_type="OrderPlaced", data={})

    item = items.event_item("order#o-1", 1, first)

    assert first.event_id != second.event_id and len(first.event_id) == 32
    assert items.read_event_item(item).occurred_at == first.occurred_at
    assert first.occurred_at.endswith("Z")


def test_timestamp_is_utc_to_the_second() -> None:
    from datetime import datetime, timedelta, timezone

    assert items.timestamp(datetime(2026, 1, 5, 10, 0, 0, 999, tzinfo=timezone(timedelta(hours=1)))) == "2026-01-05T09:00:00Z"
    assert items.timestamp(datetime(2026, 1, 5, 9)) == "2026-01-05T09:00:00Z"


class RecordingClient:
    """A DynamoDB client that records the transaction it is given and answers nothing else."""

    def __init__(self) -> None:
        self.transactions: list[list[dict[str, Any]]] = []

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        self.transactions.append(TransactItems)
        return {}


def test_the_writer_puts_exactly_the_contract_items() -> None:
    client = RecordingClient()
    record = IdempotencyRecord(key="sub#k", request_hash="h", response={"status": 201, "body": {}}, created_at="2026-01-05T09:00:00Z")

    DynamoDBEventStore(client, "events").append([Append(stream_id="order#o-1", expected_version=0, events=[event()])], record)

    (transaction,) = client.transactions
    assert [t["Put"]["Item"] for t in transaction] == [items.idempotency_item(record), items.event_item("order#o-1", 1, event())]


def test_the_publisher_reads_what_the_writer_wrote_and_refuses_the_rest_naming_the_contract() -> None:
    item = items.event_item("order#o-1", 1, event())
    stored = items.read_event_item(item)

    published = publisher.bus_event("order#o-1", item)

    assert published.detail == stored.envelope() and published.detail_type == "OrderPlaced"
    broken = {k: v for k, v in item.items() if k != "occurred_at"}
    with pytest.raises(publisher.UnpublishableRecord) as refused:
        publisher.bus_event("order#o-1", broken)
    assert "'occurred_at'" in str(refused.value) and items.CONTRACT in str(refused.value)
