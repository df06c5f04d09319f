"""Fixtures of the projection tests: read-model stores (in memory and on moto) and an event store."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from acme_eventsourcing.runtime.projections import DynamoDBReadModelStore, InMemoryReadModelStore
from moto import mock_aws


def create_read_model_table(client: object, name: str) -> None:
    """A read-model table as the components declare it: keys pk/sk, on demand."""
    client.create_table(  # type: ignore[attr-defined]
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def dynamodb_client() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[object]:
    """Each read-model store implementation, empty."""
    if request.param == "memory":
        yield InMemoryReadModelStore()
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_read_model_table(client, "read-model")
        yield DynamoDBReadModelStore(client, "read-model")
