"""`ops lag` figures: time and DynamoDB calls on N events, and what the subscriber's checkpoints cost.

Run from the repo root: `.venv/bin/python benchmarks/ops_lag.py [--events 1000 ...] [--per-stream 10]`.

On moto's DynamoDB and SQS (`mock_aws`, in this process): an Events table of N events
(`--per-stream` per stream, one append per stream), a projection's read-model table whose
checkpoints cover half of the streams, and a subscription's checkpoint table into which the
real subscriber runtime (`SubscriberApp` with `SubscriptionCheckpoints`) handled the same
half. Printed per N:

- `lag` in all (one projection and one subscription of that Events table), and its parts:
  the Events table's Scan (shared by both readers), the projection's checkpoints, the
  subscription's checkpoint table Scan (checkpoints and the unexpired markers), the DLQ;
- DynamoDB calls of `lag`, and items read by its Scans;
- the subscriber's cost per event: with its checkpoint table (GetItem of the marker, then
  UpdateItem of the marker and of the checkpoint) and without (the in-container memory only).

moto's latencies are not DynamoDB's: the figures are the library's overhead and the number
of calls and items (a Scan on AWS reads 1 MB per call, about 8000 of these small items).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "components")]
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
from acme_eventsourcing.ops import Deployment  # noqa: E402
from acme_eventsourcing.ops.lag import EventsIndex, lag  # noqa: E402
from acme_eventsourcing.ops.redrive import bus_event  # noqa: E402
from acme_eventsourcing.runtime.checkpoints import SubscriptionCheckpoints  # noqa: E402
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore  # noqa: E402
from acme_eventsourcing.runtime.eventstore.ports import Append, NewEvent  # noqa: E402
from acme_eventsourcing.runtime.projections import DynamoDBReadModelStore, Projector  # noqa: E402
from acme_eventsourcing.runtime.subscriber import SubscriberApp  # noqa: E402
from moto import mock_aws  # noqa: E402

SOURCE = "acme.shop"


def pk_sk_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


class Calls:
    """Counts DynamoDB calls (by operation) and the items their Scans read."""

    def __init__(self, client: Any) -> None:
        self.ops: dict[str, int] = {}
        self.scanned = 0
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        self.ops[model.name] = self.ops.get(model.name, 0) + 1

    def _after(self, http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        if model.name == "Scan":
            self.scanned += int(parsed.get("ScannedCount", 0))

    def reset(self) -> None:
        self.ops, self.scanned = {}, 0


def run(events: int, per_stream: int) -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName="events",
            KeySchema=[{"AttributeName": "stream_id", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "stream_id", "AttributeType": "S"}, {"AttributeName": "version", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        pk_sk_table(ddb, "rm")
        pk_sk_table(ddb, "sub-checkpoints")
        sqs = boto3.client("sqs")
        p_dlq = sqs.create_queue(QueueName="p-dlq")["QueueUrl"]
        s_dlq = sqs.create_queue(QueueName="s-dlq")["QueueUrl"]
        store = DynamoDBEventStore(ddb, "events")
        streams = events // per_stream
        stored = []
        for i in range(streams):
            stored.append(
                store.append(
                    [
                        Append(
                            stream_id=f"order#{i}",
                            expected_version=0,
                            events=[NewEvent(event_type="Counted", data={}) for _ in range(per_stream)],
                        )
                    ]
                )
            )
        # half the streams handled: the projection's checkpoints, and the subscription's through the runtime
        rm = DynamoDBReadModelStore(ddb, "rm")
        checkpoints = SubscriptionCheckpoints(ddb, "sub-checkpoints")
        with_table = SubscriberApp(lambda d: None, checkpoints=checkpoints, remember=0)
        half = stored[: streams // 2]
        t0 = time.perf_counter()
        handled = 0
        for evs in half:
            for e in evs:
                with_table(bus_event(e, SOURCE))
                handled += 1
        per_event_with = (time.perf_counter() - t0) / max(1, handled)
        without = SubscriberApp(lambda d: None, remember=0)
        t0 = time.perf_counter()
        for evs in half:
            for e in evs:
                without(bus_event(e, SOURCE))
        per_event_without = (time.perf_counter() - t0) / max(1, handled)
        projector = Projector(projection=Noop(), store=rm, events=store)
        for evs in half:
            projector.handle(evs[-1])  # the stream from its start, as the projector's gap fill does
        deployment = Deployment.from_outputs(
            {
                "operations": {
                    "shop": {
                        "source": SOURCE,
                        "events_table": "events",
                        "projections": {
                            "p": {
                                "table": "rm",
                                "function": "f",
                                "handler": "h",
                                "timeout_s": 3,
                                "dlq_url": p_dlq,
                                "detail_types": ["Counted"],
                            }
                        },
                        "subscriptions": {
                            "s": {
                                "function": "g",
                                "handler": "h",
                                "timeout_s": 3,
                                "dlq_url": s_dlq,
                                "checkpoint_table": "sub-checkpoints",
                                "sources": [SOURCE],
                                "detail_types": ["Counted"],
                            }
                        },
                    }
                }
            },
            region="us-east-1",
        )
        client = deployment.client("dynamodb")
        calls = Calls(client)
        t0 = time.perf_counter()
        report = lag(deployment)
        total = time.perf_counter() - t0
        ops, scanned = dict(calls.ops), calls.scanned
        assert report.projections[0].streams_behind == streams - len(half), report.projections[0]
        assert report.subscriptions[0].streams_behind == streams - len(half), report.subscriptions[0]
        t0 = time.perf_counter()
        EventsIndex.scan(client, "events")
        scan_events = time.perf_counter() - t0
        t0 = time.perf_counter()
        DynamoDBReadModelStore(client, "rm").checkpoints()
        p_cps = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_cps = len(list(SubscriptionCheckpoints(client, "sub-checkpoints").checkpoints()))
        s_cps = time.perf_counter() - t0
        rest = max(0.0, total - scan_events - p_cps - s_cps)  # the DLQs' attributes, the rest of the bookkeeping
        print(
            f"{events} events ({streams} streams, {handled} handled by each reader): lag {total:.2f} s "
            f"[Events Scan {scan_events:.2f} s (once, shared), projection checkpoints {p_cps:.2f} s, "
            f"subscription checkpoints {s_cps:.2f} s ({n_cps} checkpoints + {handled} markers), rest {rest:.2f} s]; "
            f"DynamoDB calls {sum(ops.values())} {ops}, items scanned {scanned}"
        )
        print(
            f"  subscriber per event on moto: {per_event_with * 1000:.1f} ms with its checkpoint table "
            f"(GetItem + 2 UpdateItem), {per_event_without * 1000:.2f} ms without"
        )


class Noop:
    """A projection that writes nothing but its checkpoints (the projector moves them)."""

    name = "p"
    event_types = frozenset({"Counted"})

    def apply(self, session: Any, event: Any) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1000])
    parser.add_argument("--per-stream", type=int, default=10)
    args = parser.parse_args()
    for n in args.events:
        run(n, args.per_stream)


if __name__ == "__main__":
    main()
