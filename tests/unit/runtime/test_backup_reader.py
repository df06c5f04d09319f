"""S3BackupReader: the S3 event backup read back as an `EventsReader`, so a rebuild from it
equals a rebuild from the Events table; duplicates, order, compression and foreign events."""

from __future__ import annotations

import gzip
import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from acme_eventsourcing.runtime.backup import BackupConflictError, BackupFormatError, S3BackupReader
from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.projections import InMemoryReadModelStore, rebuild
from leave_projections.rebuild import PROJECTIONS
from moto import mock_aws

from tests.unit.projections.projection_story import Story, play_story
from tests.unit.projections.test_story_projections import snapshot

BUCKET = "backup"
SOURCE = "acme.leave"


class StoryReader:
    def __init__(self, story: Story) -> None:
        self._story = story

    def stream_ids(self) -> Iterator[str]:
        return iter(self._story.stream_ids())

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        return self._story.events.load(stream_id, after_version)


def bus_event(event: StoredEvent, source: str = SOURCE) -> dict[str, Any]:
    """The EventBridge event the rule hands Firehose (what the publisher put, plus EventBridge's fields)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event.event_type,
        "source": source,
        "account": "123456789012",
        "time": event.occurred_at,
        "region": "us-east-1",
        "resources": [],
        "detail": event.envelope(),
    }


def put_object(s3: Any, key: str, records: list[dict[str, Any]], *, compress: bool) -> None:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(body) if compress else body)


def key(source: str, day: int, n: int) -> str:
    return f"events/source={source}/year=2027/month=03/day={day:02d}/backup-stream-1-2027-03-{day:02d}-10-00-{n:02d}-{uuid.uuid4()}"


@pytest.fixture(scope="module")
def story() -> Story:
    return play_story()


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def write_backup(s3: Any, story: Story, *, seed: int) -> None:
    """The story's events as Firehose would leave them: shuffled into objects over several days,
    some gzip, some plain, a tenth of them delivered twice, plus events of a foreign publisher."""
    events = [bus_event(e) for e in story.all_events()]
    rng = random.Random(seed)
    events += rng.sample(events, len(events) // 10)  # at-least-once: duplicates, same event id
    rng.shuffle(events)
    for n, start in enumerate(range(0, len(events), 7)):
        put_object(s3, key(SOURCE, 1 + n % 3, n), events[start : start + 7], compress=n % 2 == 0)
    foreign = {"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "x"}}}
    put_object(s3, key("aws.s3", 1, 0), [foreign], compress=False)


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_a_rebuild_from_the_backup_equals_a_rebuild_from_the_event_store(s3, story, name):
    write_backup(s3, story, seed=len(name))
    reader = S3BackupReader(s3, BUCKET)
    from_backup, from_store = InMemoryReadModelStore(), InMemoryReadModelStore()
    report = rebuild(reader, PROJECTIONS[name], from_backup)
    rebuild(StoryReader(story), PROJECTIONS[name], from_store)
    assert snapshot(from_backup) == snapshot(from_store)
    assert (report.streams, report.events) == (len(story.stream_ids()), len(story.all_events()))
    assert reader.duplicates == len(story.all_events()) // 10
    assert reader.skipped == 1  # the aws.s3 event has no envelope


def test_load_returns_each_stream_in_version_order_and_after_a_version(s3, story):
    write_backup(s3, story, seed=3)
    reader = S3BackupReader(s3, BUCKET)
    for stream_id in story.stream_ids():
        assert reader.load(stream_id) == story.events.load(stream_id)
        assert reader.load(stream_id, 1) == story.events.load(stream_id, 1)
    assert sorted(reader.stream_ids()) == sorted(story.stream_ids())


def test_sources_select_the_partitions_read(s3, story):
    write_backup(s3, story, seed=5)
    other = story.all_events()[0]
    moved = StoredEvent(**{**other.__dict__, "stream_id": "orders-1", "version": 1, "event_id": "other"})
    put_object(s3, key("acme.orders", 2, 0), [bus_event(moved, "acme.orders")], compress=True)
    only_orders = S3BackupReader(s3, BUCKET, sources=["acme.orders"])
    assert list(only_orders.stream_ids()) == ["orders-1"]
    assert all(k.startswith("events/source=acme.orders/") for k in only_orders.object_keys())
    assert "orders-1" in set(S3BackupReader(s3, BUCKET).stream_ids())


def test_objects_are_read_day_by_day_across_sources(s3):
    for source, day in (("b.src", 1), ("a.src", 3), ("a.src", 2), ("b.src", 2)):
        put_object(s3, key(source, day, 0), [], compress=False)
    days = [k.split("day=")[1][:2] for k in S3BackupReader(s3, BUCKET).object_keys()]
    assert days == ["01", "02", "02", "03"]


def test_two_events_at_one_version_are_a_conflict_not_a_choice(s3, story):
    first = story.all_events()[0]
    twin = StoredEvent(**{**first.__dict__, "event_id": "another-id"})
    put_object(s3, key(SOURCE, 1, 0), [bus_event(first), bus_event(twin)], compress=False)
    with pytest.raises(BackupConflictError, match="another-id"):
        list(S3BackupReader(s3, BUCKET).stream_ids())


def test_a_line_that_is_not_json_names_the_object_and_line(s3):
    s3.put_object(Bucket=BUCKET, Key=key(SOURCE, 1, 0), Body=b'{"source": "x"}\n{not json\n')
    with pytest.raises(BackupFormatError, match=r"line 2 is not JSON"):
        list(S3BackupReader(s3, BUCKET).bus_events())


def test_sources_must_be_a_sequence(s3):
    with pytest.raises(TypeError, match="not one string"):
        S3BackupReader(s3, BUCKET, sources="acme.leave")
