"""Blue/green rebuild against moto: the projector keeps projecting and the queries keep
answering while the inactive table is rebuilt and switched to; no event is lost or doubled."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from acme_eventsourcing.ops import RebuildError, rebuild_blue_green
from acme_eventsourcing.ops.cli import main
from acme_eventsourcing.ops.redrive import bus_event
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.projections import (
    ActiveTables,
    DynamoDBReadModelReader,
    DynamoDBReadModelStore,
    ProjectorApp,
    build_projectors,
    clear_table,
    read_pointer,
    switch,
)
from acme_eventsourcing.runtime.projections.ports import ConflictError

from tests.unit.ops.conftest import SOURCE, VersionsProjection, append, outputs

ENV = {
    "READ_MODEL_TABLE": "rm-home",
    "READ_MODEL_STANDBY_TABLE": "rm-standby",
    "EVENTS_TABLE": "events",
    "ACTIVE_TABLE_CACHE_SECONDS": "0.2",
}
STREAMS = [f"s{i}" for i in range(8)]


def lambda_app(aws: Any, projection: VersionsProjection | None = None) -> ProjectorApp:
    """The projector as its Lambda runs it: blue/green, the pointer cached 0.2 s."""
    return ProjectorApp(build_projectors(projection or VersionsProjection(), ENV, aws))


def table_versions(aws: Any, table: str) -> dict[str, list[int]]:
    return {r.pk.removeprefix("s#"): list(r.doc["versions"]) for r in DynamoDBReadModelStore(aws, table).rows()}


def latest(aws: Any) -> dict[str, int]:
    store = DynamoDBEventStore(aws, "events")
    return {s: store.load(s)[-1].version for s in STREAMS}


def test_the_pointer_is_the_home_table_until_switched_and_a_stale_switch_conflicts(aws):
    pointer = read_pointer(aws, "rm-home")
    assert (pointer.active, pointer.generation) == ("rm-home", 0)
    now = 100.0
    cache = ActiveTables(aws, ttl=5, clock=lambda: now)
    assert cache.active("rm-home") == "rm-home"
    moved = switch(aws, pointer, "rm-standby", switched_at="2027-01-01T00:00:00+00:00")
    assert read_pointer(aws, "rm-home") == moved and moved.generation == 1 and moved.previous == "rm-home"
    assert cache.active("rm-home") == "rm-home"  # cached for 5 s
    now += 5
    assert cache.active("rm-home") == "rm-standby"
    with pytest.raises(ConflictError):
        switch(aws, pointer, "rm-standby", switched_at="2027-01-01T00:00:01+00:00")  # generation 0 is gone
    with pytest.raises(ValueError, match="reserved for the projector"):
        from acme_eventsourcing.runtime.projections import Session

        Session(DynamoDBReadModelStore(aws, "rm-home")).put("active-table", "pointer", {})
    assert list(DynamoDBReadModelStore(aws, "rm-home").rows()) == []  # the pointer is not a row
    assert clear_table(aws, "rm-home") == 0 and read_pointer(aws, "rm-home").active == "rm-standby"


def test_rebuild_during_writes_switches_with_no_event_lost_or_doubled(aws):
    store = DynamoDBEventStore(aws, "events")
    app = lambda_app(aws)
    for stream in STREAMS:
        for event in append(store, stream, 4):
            app(bus_event(event, SOURCE))
    assert set(table_versions(aws, "rm-home")) == set(STREAMS)

    stop = threading.Event()
    written: list[int] = []
    answers: list[list[int]] = []
    problems: list[str] = []

    def writer() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            (event,) = append(store, rng.choice(STREAMS), 1)
            app(bus_event(event, SOURCE))
            if rng.random() < 0.3:
                app(bus_event(event, SOURCE))  # at-least-once delivery: a duplicate
            written.append(event.version)
            time.sleep(0.005)

    def reader() -> None:
        queries = DynamoDBReadModelReader(aws, {"versions": "rm-home"}, ActiveTables(aws, ttl=0.2))
        while not stop.is_set():
            try:
                doc = queries.get("versions", "s#s0", "versions")
            except Exception as exc:
                problems.append(f"{type(exc).__name__}: {exc}")
                continue
            if doc is None:
                problems.append("s0 has no row")
            else:
                answers.append(doc["versions"])

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.1)
        log: list[str] = []
        first = rebuild_blue_green(
            aws,
            VersionsProjection(),
            home="rm-home",
            standby="rm-standby",
            events_table="events",
            grace_s=0.6,
            max_behind=3,
            log=log.append,
        )
        during_first = len(written)
        second = rebuild_blue_green(
            aws,
            VersionsProjection(),
            home="rm-home",
            standby="rm-standby",
            events_table="events",
            grace_s=0.6,
            max_behind=3,
            log=log.append,
        )
    finally:
        stop.set()
        for t in threads:
            t.join()

    assert (first.from_table, first.to_table, first.generation) == ("rm-home", "rm-standby", 1)
    assert (second.from_table, second.to_table, second.generation) == ("rm-standby", "rm-home", 2)
    assert during_first > 0 and len(written) > during_first  # the projector wrote throughout
    assert read_pointer(aws, "rm-home").active == "rm-home"
    final = table_versions(aws, "rm-home")
    assert final == {s: list(range(1, v + 1)) for s, v in latest(aws).items()}  # every version once, in order
    assert table_versions(aws, "rm-standby") == {}  # the old table is cleared for the next rebuild
    assert problems == [] and answers
    assert all(a == list(range(1, len(a) + 1)) for a in answers)  # every answer: no gap, no double
    assert any("switched to rm-standby" in line for line in log)


def test_a_rebuild_that_fails_on_a_stream_does_not_switch(aws):
    store = DynamoDBEventStore(aws, "events")
    app = lambda_app(aws)
    for event in append(store, "a", 2) + append(store, "b", 1, note="poison"):
        app(bus_event(event, SOURCE))
    with pytest.raises(RebuildError, match=r"b at v1: ValueError: cannot apply note 'poison'.*nothing switched|nothing switched"):
        rebuild_blue_green(
            aws,
            VersionsProjection(fail_on="poison"),
            home="rm-home",
            standby="rm-standby",
            events_table="events",
            grace_s=0,
            log=lambda _: None,
        )
    assert read_pointer(aws, "rm-home").active == "rm-home"
    assert table_versions(aws, "rm-home") == {"a": [1, 2], "b": [1]}  # queries still read the old table, untouched


def test_rebuild_from_the_s3_backup_catches_up_from_the_events_table(aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`rebuild --from-backup BUCKET`: the first pass replays the backup (Firehose's JSON lines);
    what the backup does not have yet (Firehose buffers) comes from the Events table."""
    store = DynamoDBEventStore(aws, "events")
    backed_up = append(store, "a", 3) + append(store, "b", 2)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="backup")
    lines = b"".join(json.dumps(bus_event(e, SOURCE)).encode() + b"\n" for e in backed_up)
    s3.put_object(Bucket="backup", Key=f"events/source={SOURCE}/year=2027/month=03/day=01/part-1", Body=lines)
    s3.put_object(Bucket="backup", Key="events/source=acme.other/year=2027/month=03/day=01/part-1", Body=b"")
    append(store, "a", 1)  # not in the backup yet
    append(store, "c", 1)
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps(outputs(aws)))
    known = {"versions": VersionsProjection()}
    code = main(
        ["--outputs", str(outputs_file), "--region", "us-east-1", "rebuild", "versions", "--from-backup", "backup", "--grace", "0"],
        projections=known,
    )
    assert code == 0
    assert read_pointer(aws, "rm-home").active == "rm-standby"
    assert table_versions(aws, "rm-standby") == {"a": [1, 2, 3, 4], "b": [1, 2], "c": [1]}
    out = capsys.readouterr().out
    assert "replayed 5 events of 2 streams into rm-standby" in out  # the backup's
    assert "catch-up round 1: 2 streams were behind" in out  # a v4 and c: from the Events table
