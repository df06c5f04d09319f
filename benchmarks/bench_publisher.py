"""PutEvents calls and throughput of the publisher, for batches of normal-size events.

Run from the repo root: `.venv/bin/python benchmarks/bench_publisher.py`. The publisher
is loaded from its file the way Lambda loads it (not through the `acme_eventsourcing` package),
against a counting client that accepts every entry, so the throughput is the
publisher's own cost per record (no network).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "components"))  # the publisher imports the rest of the runtime library it ships with
os.environ.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})

import boto3  # noqa: E402,F401 - imported first: the Lambda runtime provides it, so it is not the publisher's cost

SIZES = (1, 9, 10, 11, 25, 100, 1000)


class CountingEvents:
    """An EventBridge client that accepts every entry and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        self.calls += 1
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(Entries))]}


def record(n: int) -> dict[str, Any]:
    """A stream record of a LeaveRequested event of ordinary size (a 502-byte entry)."""
    image = {
        "stream_id": {"S": f"employee#e{n % 50}"},
        "version": {"N": str(n // 50 + 1)},
        "record_type": {"S": "event"},
        "event_type": {"S": "LeaveRequested"},
        "event_id": {"S": f"{n:032x}"},
        "occurred_at": {"S": "2026-01-05T09:00:00Z"},
        "data": {
            "S": json.dumps(
                {
                    "request_id": f"req_{n:026d}",
                    "employee_id": f"e{n % 50}",
                    "start": "2026-02-02",
                    "end": "2026-02-06",
                    "kind": "pto",
                    "days": 5,
                    "note": "family trip",
                }
            )
        },
        "metadata": {
            "S": json.dumps(
                {"actor": f"e{n % 50}", "idempotency_key": f"{n:036d}", "correlation_id": f"{n:032x}", "causation_id": f"{n:032x}"}
            )
        },
    }
    keys = {"stream_id": image["stream_id"], "version": image["version"]}
    return {"eventName": "INSERT", "dynamodb": {"Keys": keys, "NewImage": image, "SequenceNumber": f"{n:021d}"}}


def main() -> None:
    started = time.perf_counter()
    spec = importlib.util.spec_from_file_location("publisher", ROOT / "components" / "acme_eventsourcing" / "runtime" / "publisher.py")
    assert spec is not None and spec.loader is not None
    publisher = sys.modules["publisher"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(publisher)
    import_ms = (time.perf_counter() - started) * 1000
    publisher.logger.disabled = True  # one log line per batch would dominate the timing of small batches

    print(f"publisher module import (boto3 already loaded): {import_ms:.1f} ms")
    print(f"{'events':>7} {'PutEvents calls':>16} {'ceil(N/10)':>11} {'ok':>4} {'records/s':>11}")
    for n in SIZES:
        records = [record(i) for i in range(n)]
        client = CountingEvents()
        failed = publisher.Publisher(client, "bus", "acme.leave").publish(records)
        assert failed == [], failed
        calls = client.calls
        repeats = max(1, 20_000 // n)
        started = time.perf_counter()
        for _ in range(repeats):
            publisher.Publisher(CountingEvents(), "bus", "acme.leave").publish(records)
        per_second = n * repeats / (time.perf_counter() - started)
        expected = math.ceil(n / 10)
        print(f"{n:>7} {calls:>16} {expected:>11} {'yes' if calls == expected else 'NO':>4} {per_second:>11,.0f}")


if __name__ == "__main__":
    main()
