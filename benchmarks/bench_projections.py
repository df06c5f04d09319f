"""Projector figures: DynamoDB calls per event and events/s in memory.

Run from the repo root: `.venv/bin/python benchmarks/bench_projections.py`. The events are
the story of DESIGN.md section 3 (tests/unit/projections/projection_story.py). Calls are
counted on moto with botocore's `before-call` hook, for in-order delivery and for every
event delivered twice in shuffled order (gap filling included). moto's latencies say
nothing about DynamoDB's, so only counts are printed for it; the in-memory rate measures
the projection code itself. The projectors' package sizes and import times are measured,
with every other function's, by `bench_packages.py` on the zips the stack really builds.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]
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
from acme_eventsourcing.runtime.eventstore.ports import StoredEvent  # noqa: E402
from acme_eventsourcing.runtime.projections import DynamoDBReadModelStore, InMemoryReadModelStore, Projector  # noqa: E402
from leave_projections.rebuild import PROJECTIONS  # noqa: E402
from moto import mock_aws  # noqa: E402

from tests.unit.projections.projection_story import Story, play_story  # noqa: E402


def calls_per_event(story: Story, deliveries: list[StoredEvent], name: str) -> Counter[str]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="rm",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        calls: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))
        projector = Projector(projection=PROJECTIONS[name], store=DynamoDBReadModelStore(client, "rm"), events=CountingLoader(story, calls))
        for event in deliveries:
            projector.handle(event)
        return calls


class CountingLoader:
    """The story's events, counting each gap-filling load as one Events-table Query."""

    def __init__(self, story: Story, calls: Counter[str]) -> None:
        self._story, self._calls = story, calls

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        self._calls.update(["Query(Events)"])
        return self._story.events.load(stream_id, after_version)


def main() -> None:
    story = play_story()
    events = story.all_events()
    shuffled = events * 2
    random.Random(1).shuffle(shuffled)
    print(f"story: {len(events)} events in {len(story.stream_ids())} streams\n")
    print("DynamoDB calls per event (moto); shuffled = every event twice, shuffled")
    for name in sorted(PROJECTIONS):
        for label, deliveries in (("in order", events), ("shuffled", shuffled)):
            calls = calls_per_event(story, deliveries, name)
            detail = ", ".join(f"{op} {n / len(events):.2f}" for op, n in sorted(calls.items()))
            print(f"  {name:9} {label:9} {sum(calls.values()) / len(events):5.2f} per event  ({detail})")
    print("\nin-memory projection rate (in order)")
    for name in sorted(PROJECTIONS):
        rounds, started = 20, time.perf_counter()
        for _ in range(rounds):
            projector = Projector(projection=PROJECTIONS[name], store=InMemoryReadModelStore(), events=story.events)
            for event in events:
                projector.handle(event)
        print(f"  {name:9} {rounds * len(events) / (time.perf_counter() - started):8.0f} events/s")


if __name__ == "__main__":
    main()
