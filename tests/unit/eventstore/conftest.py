"""Fixtures for the event store tests: every store under test, on one shared backend.

The contract suite itself is public (`acme_eventsourcing.testing.eventstore_contract`);
`test_eventstore_contract.py` runs it against our adapters with these fixtures.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import boto3
import pytest
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
