"""The public `EventStore` contract suite (`acme_eventsourcing.testing.eventstore_contract`),
run against our adapters exactly as a user runs it against theirs: subclass, override
`store_factory`. Stores from one factory share one backend (the same in-memory store, or the
same moto table through a new boto3 client), as separate processes would share a table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from acme_eventsourcing.runtime.eventstore import DynamoDBEventStore, EventStore, InMemoryEventStore
from acme_eventsourcing.testing.eventstore_contract import EventStoreContract

TABLE = "events"  # the table conftest.dynamodb_client creates


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def store_factory(self) -> Callable[[], EventStore]:
        shared = InMemoryEventStore()
        return lambda: shared


class TestDynamoDBEventStore(EventStoreContract):
    @pytest.fixture
    def store_factory(self, dynamodb_client: Any) -> Callable[[], EventStore]:
        return lambda: DynamoDBEventStore(boto3.client("dynamodb", region_name="us-east-1"), TABLE)


class TestDynamoDBEventStorePaged(EventStoreContract):
    """Reading 2 items per Query page, so every load also crosses page boundaries."""

    concurrent_appenders = False  # paged loads add nothing there but a minute of moto time

    @pytest.fixture
    def store_factory(self, dynamodb_client: Any) -> Callable[[], EventStore]:
        return lambda: DynamoDBEventStore(boto3.client("dynamodb", region_name="us-east-1"), TABLE, page_size=2)


class Unimplemented(EventStoreContract):
    """A subclass that forgets to override `store_factory` (not collected: no Test prefix)."""


def test_a_suite_without_a_store_factory_says_what_to_override() -> None:
    with pytest.raises(NotImplementedError, match="Unimplemented must override the store_factory fixture"):
        Unimplemented.store_factory.__wrapped__(Unimplemented())  # type: ignore[attr-defined]
