"""Rebuild: replaying the Events table into fresh read models gives what live projection gives."""

from __future__ import annotations

import random
from collections.abc import Iterator

import boto3
import pytest
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.projections import DynamoDBReadModelStore, EventsTableReader, InMemoryReadModelStore, Write, rebuild
from leave_projections.rebuild import PROJECTIONS, main
from moto import mock_aws

from tests.unit.projections.conftest import create_read_model_table
from tests.unit.projections.projection_story import Story, play_story
from tests.unit.projections.test_story_projections import project, snapshot


class StoryReader:
    """`EventsReader` over the story's in-memory event store."""

    def __init__(self, story: Story) -> None:
        self._story = story

    def stream_ids(self) -> Iterator[str]:
        return iter(self._story.stream_ids())

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        return self._story.events.load(stream_id, after_version)


@pytest.fixture(scope="module")
def story() -> Story:
    return play_story()


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_rebuild_gives_the_read_model_of_live_shuffled_delivery(story, name):
    rebuilt = InMemoryReadModelStore()
    report = rebuild(StoryReader(story), PROJECTIONS[name], rebuilt)
    deliveries = story.all_events() * 2
    random.Random(7).shuffle(deliveries)
    live = project(PROJECTIONS[name], story, deliveries)
    assert snapshot(rebuilt) == snapshot(live)
    assert (report.streams, report.events) == (len(story.stream_ids()), len(story.all_events()))


def test_rebuild_refuses_a_target_that_is_not_empty(story):
    target = InMemoryReadModelStore()
    target.commit([Write(pk="a", sk="b", doc={}, expected_rev=None)], [], None)
    with pytest.raises(ValueError, match="not empty"):
        rebuild(StoryReader(story), PROJECTIONS["audit"], target)


@pytest.fixture
def tables() -> Iterator[object]:
    """moto with the Events table (fixed layout) and an empty read-model table."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="events",
            KeySchema=[{"AttributeName": "stream_id", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "stream_id", "AttributeType": "S"}, {"AttributeName": "version", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        create_read_model_table(client, "read-model")
        yield client


def test_rebuild_scans_only_event_items_of_the_events_table(tables):
    story = play_story(DynamoDBEventStore(tables, "events"))
    scanned = tables.scan(TableName="events")["Items"]
    assert {i["record_type"]["S"] for i in scanned} == {"event", "idempotency"}
    assert sorted(EventsTableReader(tables, "events").stream_ids()) == story.stream_ids()


@pytest.mark.parametrize("name", ["balance", "calendar"])
def test_rebuild_from_dynamodb_equals_live_projection(tables, name):
    story = play_story(DynamoDBEventStore(tables, "events"))
    target = DynamoDBReadModelStore(tables, "read-model")
    rebuild(EventsTableReader(tables, "events"), PROJECTIONS[name], target)
    assert snapshot(target) == snapshot(project(PROJECTIONS[name], story, story.all_events()))


def test_the_command_line_rebuilds_into_the_named_table(tables, capsys):
    story = play_story(DynamoDBEventStore(tables, "events"))
    assert main(["audit", "--events-table", "events", "--read-model-table", "read-model"]) == 0
    assert f"replayed {len(story.all_events())} events" in capsys.readouterr().out
    assert len(DynamoDBReadModelStore(tables, "read-model").query("audit#employee#john")) == 13
