"""`projector_handler`: a projection's Lambda entry point, wired from its environment on first use."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, NewEvent
from acme_eventsourcing.runtime.handler import ConfigurationError
from acme_eventsourcing.runtime.projections import (
    DynamoDBReadModelStore,
    MalformedEventError,
    Session,
    StoredEvent,
    build_projector,
    projector_handler,
)
from moto import mock_aws

from tests.unit.projections.conftest import create_read_model_table


@dataclass(frozen=True)
class Counts:
    """Counts events per stream."""

    name: str = "counts"
    event_types: frozenset[str] = frozenset({"Counted"})

    def apply(self, session: Session, event: StoredEvent) -> None:
        doc = session.get("count", event.stream_id) or {"n": 0}
        session.put("count", event.stream_id, {"n": doc["n"] + 1})


def bus(event: StoredEvent) -> dict[str, Any]:
    return {"source": "acme.test", "id": "bus-1", "detail-type": event.event_type, "detail": event.envelope()}


@pytest.fixture
def tables() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="events",
            KeySchema=[{"AttributeName": "stream_id", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "stream_id", "AttributeType": "S"}, {"AttributeName": "version", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        create_read_model_table(client, "counts")
        yield client


@pytest.mark.parametrize(
    ("environ", "missing"),
    [({"EVENTS_TABLE": "events"}, "READ_MODEL_TABLE"), ({"READ_MODEL_TABLE": "counts"}, "EVENTS_TABLE"), ({}, "READ_MODEL_TABLE")],
)
def test_a_missing_table_variable_is_a_configuration_error_naming_it(environ: dict[str, str], missing: str) -> None:
    handler = projector_handler(Counts(), environ=environ)
    with pytest.raises(ConfigurationError, match=f"^{missing} is not set: it should hold the name of the"):
        handler({"detail-type": "Counted"}, None)


def test_importing_the_handler_builds_nothing_and_it_reads_no_clock() -> None:
    handler = projector_handler(Counts(), environ={})  # no table: building would fail
    assert handler.uses_clock is False


def test_the_handler_applies_a_bus_event_to_the_tables_of_its_environment_and_fills_gaps(tables: Any) -> None:
    events = DynamoDBEventStore(tables, "events")
    stored = events.append(
        [
            Append(
                stream_id="s1",
                expected_version=0,
                events=[NewEvent(event_type="Counted", data={}, event_id=f"e{i}", occurred_at="2026-01-05T09:00:00Z") for i in (1, 2)],
            )
        ]
    )
    handler = projector_handler(Counts(), environ={"READ_MODEL_TABLE": "counts", "EVENTS_TABLE": "events"})
    assert handler(bus(stored[1]), None) == {"applied": 2}  # version 1 loaded from the Events table
    assert handler(bus(stored[0]), None) == {"applied": 0}  # a duplicate
    store = DynamoDBReadModelStore(tables, "counts")
    assert store.get("count", "s1").doc == {"n": 2}  # type: ignore[union-attr]
    assert store.checkpoints() == {"s1": 2}
    with pytest.raises(MalformedEventError):
        handler({"detail-type": "Counted", "detail": {"data": {}}}, None)


def test_build_projector_uses_the_given_client(tables: Any) -> None:
    projector = build_projector(Counts(), {"READ_MODEL_TABLE": "counts", "EVENTS_TABLE": "events"}, client=tables)
    assert projector.store.checkpoint("s1") == 0
    assert projector.events.load("s1") == []
