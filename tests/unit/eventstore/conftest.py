"""Fixtures for the event store tests: every store under test, on one shared backend.

`store_factory` builds stores that share one backend (the same in-memory store, or the
same moto table through a new boto3 client), as separate processes would share a table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import boto3
import pytest
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.ports import EventStore
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

TABLE = "events"


def create_events_table(client) -> None:
    """The Events table as the brief fixes it: keys stream_id/version, NEW_IMAGE stream."""
    client.create_table(
        TableName=TABLE,
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
    )


@pytest.fixture
def atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make each moto request atomic, as each DynamoDB request is.

    moto checks a transaction's conditions and writes its items without a lock, and
    restores a deep copy of the whole table when a transaction is cancelled, so
    concurrent threads could overwrite each other inside moto. Serialising requests
    keeps the races that matter here (between one client's load and its append).
    """
    lock = threading.Lock()
    process = BotocoreStubber.process_request

    def locked(self, request):
        with lock:
            return process(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", locked)


@pytest.fixture
def dynamodb_client(atomic_moto: None) -> Iterator[object]:
    """A DynamoDB client on a fresh moto account holding the Events table."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_events_table(client)
        yield client


@pytest.fixture(params=["memory", "dynamodb", "dynamodb-paged"])
def store_factory(request: pytest.FixtureRequest) -> Callable[[], EventStore]:
    """Builds stores on one backend; `dynamodb-paged` reads 2 items per Query page."""
    if request.param == "memory":
        shared = InMemoryEventStore()
        return lambda: shared
    request.getfixturevalue("dynamodb_client")
    page_size = 2 if request.param == "dynamodb-paged" else None
    return lambda: DynamoDBEventStore(boto3.client("dynamodb", region_name="us-east-1"), TABLE, page_size=page_size)


@pytest.fixture
def store(store_factory: Callable[[], EventStore]) -> EventStore:
    return store_factory()
