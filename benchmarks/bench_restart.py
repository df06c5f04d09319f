"""Benchmark a restart of a persistent local stack: journal, replay, rebuilt read models.

    .venv/bin/python benchmarks/bench_restart.py [--locations 100]

Starts a persistent local stack (journal in a temporary directory), creates `--locations`
locations (two events each), waits until everything settled, stops it, starts it again
and prints: the journal's size, the stop time (the journal catching up), the start-up time
without and with the replay (the API opens once the publisher has sent every replayed
record), the time until the projections have rebuilt the read models, and whether every
table came back equal.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]

from acme_eventsourcing.local.client import ApiClient  # noqa: E402

from local import LocalStack  # noqa: E402


def tables(stack: LocalStack) -> dict[str, list[str]]:
    assert stack.model is not None
    ddb = stack.clients("dynamodb")  # type: ignore[misc]
    out = {}
    for table in stack.model.tables:
        items, kwargs = [], {"TableName": table.name}
        while True:
            page = ddb.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        out[table.logical] = sorted(json.dumps(i, sort_keys=True) for i in items)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--locations", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        t0 = time.perf_counter()
        first = LocalStack("dev", port=0, log=None, persist=True, state_dir=Path(state)).start()
        start_empty = time.perf_counter() - t0
        api = ApiClient(first.api_url, lambda sub, groups: first.token(sub, groups)).as_user("ana", "admin")
        for i in range(args.locations):
            assert api.post("/locations", {"name": f"Bench {i}"}).status == 201
        first.settle(timeout=600)
        before = tables(first)
        t0 = time.perf_counter()
        first.stop()
        stop = time.perf_counter() - t0
        journal = Path(state) / "dev" / "events.jsonl"
        records = len(journal.read_text().splitlines()) - 1
        size = journal.stat().st_size

        t0 = time.perf_counter()
        second = LocalStack("dev", port=0, log=None, persist=True, state_dir=Path(state)).start()
        start_replay = time.perf_counter() - t0
        second.settle(timeout=600)
        rebuilt = time.perf_counter() - t0
        equal = tables(second) == before
        second.stop()
    print(f"journal: {records} records, {size} bytes")
    print(f"stop (journal catches up, fsync): {stop:.2f} s")
    print(f"start, empty journal: {start_empty:.1f} s; start replaying {second.replayed} records: {start_replay:.1f} s (API open)")
    print(f"start to read models rebuilt (settled): {rebuilt:.1f} s ({second.replayed / max(rebuilt - start_empty, 1e-9):.0f} records/s)")
    print(f"every table equal after the restart: {equal}")


if __name__ == "__main__":
    main()
