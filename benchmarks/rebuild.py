"""Rebuild figures: seconds per 1000 events, in memory and on moto, for leave's read models.

Run from the repo root: `.venv/bin/python benchmarks/rebuild.py [--copies N] [--moto-copies N]`
(default 34 copies in memory, about 1000 events; 4 on moto, where each call costs tens of
milliseconds). The events are the story of DESIGN.md section 3
(tests/unit/projections/projection_story.py), played COPIES times with every id made unique
per copy (streams, locations, employees, requests), so the read models grow like a real
tenant's. Two measures per projection:

- memory: `runtime.projections.rebuild` into an `InMemoryReadModelStore` (the projection
  code and the projector alone);
- moto: `ops.rebuild_blue_green` on moto's DynamoDB (`mock_aws`, in this process, with the
  local stack's patches: no table copy per transaction): clear the
  standby table, replay the Events table, catch-up rounds (a Scan each), switch, one more
  round, clear the old table; the grace wait is 0 here (on AWS it adds the pointer cache plus
  the projector's timeout, once). moto's latencies are not DynamoDB's: on AWS each commit is a
  network round trip (a few ms), so count on more there; the figure is the library's overhead
  and the number of calls, not AWS's speed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas"), str(ROOT / "components")]
os.environ.update(
    {
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
)
for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(var, None)

import boto3  # noqa: E402
from acme_eventsourcing.local import moto_patches  # noqa: E402
from acme_eventsourcing.ops import rebuild_blue_green  # noqa: E402
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore  # noqa: E402
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore  # noqa: E402
from acme_eventsourcing.runtime.eventstore.ports import Append, NewEvent, StoredEvent  # noqa: E402
from acme_eventsourcing.runtime.projections import InMemoryReadModelStore, StreamsReader, rebuild  # noqa: E402
from leave_projections.rebuild import PROJECTIONS  # noqa: E402
from moto import mock_aws  # noqa: E402

from tests.unit.projections.conftest import create_read_model_table  # noqa: E402
from tests.unit.projections.projection_story import play_story  # noqa: E402

_IDS = re.compile(r'"((?:loc_)?[0-9a-f]{12,}|john|mike|sara|directory#locations)"')


def workload(copies: int) -> tuple[InMemoryEventStore, list[str], list[StoredEvent]]:
    """The story `copies` times, ids suffixed per copy; (store, stream ids, events)."""
    story = play_story()
    events = story.all_events()
    store = InMemoryEventStore()
    streams: list[str] = []
    out: list[StoredEvent] = []
    for k in range(copies):

        def unique(text: str, k: int = k) -> str:
            text = _IDS.sub(lambda m: f'"{m[1]}-{k}"', text)
            return re.sub(r"#(loc_[0-9a-f]+|john|mike|sara|locations|\d{4})\b", lambda m: f"#{m[1]}-{k}", text)  # rollover#<year>

        by_stream: dict[str, list[StoredEvent]] = {}
        for e in events:
            by_stream.setdefault(unique(json.dumps(e.stream_id)).strip('"'), []).append(e)
        for stream, stream_events in by_stream.items():
            new = [
                NewEvent(
                    event_type=e.event_type,
                    data=json.loads(unique(json.dumps(e.data))),
                    occurred_at=e.occurred_at,
                    metadata=dict(e.metadata),
                )
                for e in stream_events
            ]
            out += store.append([Append(stream_id=stream, expected_version=0, events=new)])
            streams.append(stream)
    return store, streams, out


def memory_figures(copies: int) -> None:
    store, streams, events = workload(copies)
    for name, projection in sorted(PROJECTIONS.items()):
        t0 = time.perf_counter()
        report = rebuild(StreamsReader(store, streams), projection, InMemoryReadModelStore())
        seconds = time.perf_counter() - t0
        print(f"  memory  {name:<9} {report.events:>6} events  {seconds:6.2f} s   {seconds / report.events * 1000:6.3f} s per 1000 events")


def moto_figures(copies: int) -> None:
    _, streams, events = workload(copies)
    moto_patches.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="events",
            KeySchema=[{"AttributeName": "stream_id", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "stream_id", "AttributeType": "S"}, {"AttributeName": "version", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        table = DynamoDBEventStore(client, "events")
        by_stream: dict[str, list[StoredEvent]] = {}
        for e in events:
            by_stream.setdefault(e.stream_id, []).append(e)
        for stream, stream_events in by_stream.items():
            for start in range(0, len(stream_events), 50):
                chunk = stream_events[start : start + 50]
                table.append(
                    [
                        Append(
                            stream_id=stream,
                            expected_version=start,
                            events=[
                                NewEvent(event_type=e.event_type, data=e.data, occurred_at=e.occurred_at, metadata=dict(e.metadata))
                                for e in chunk
                            ],
                        )
                    ]
                )
        calls: list[str] = []
        client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
        for name, projection in sorted(PROJECTIONS.items()):
            create_read_model_table(client, f"{name}-home")
            create_read_model_table(client, f"{name}-standby")
            calls.clear()
            t0 = time.perf_counter()
            result = rebuild_blue_green(
                client, projection, home=f"{name}-home", standby=f"{name}-standby", events_table="events", grace_s=0, log=lambda _: None
            )
            seconds = time.perf_counter() - t0
            n = result.replayed_events
            print(
                f"  moto    {name:<9} {n:>6} events  {seconds:6.2f} s   {seconds / n * 1000:6.3f} s per 1000 events"
                f"   ({len(calls) / n:.2f} DynamoDB calls per event)"
            )


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=34, help="copies of the story replayed in memory (default 34)")
    parser.add_argument("--moto-copies", type=int, default=4, help="copies replayed on moto (default 4; 0 = skip)")
    args = parser.parse_args(argv)
    story_events = len(play_story().all_events())
    print(f"rebuild time per 1000 events (the story: {story_events} events in 6 streams, repeated with unique ids)")
    print(f"{args.copies} copies = {args.copies * story_events} events:")
    memory_figures(args.copies)
    if args.moto_copies:
        print(f"{args.moto_copies} copies = {args.moto_copies * story_events} events:")
        moto_figures(args.moto_copies)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
