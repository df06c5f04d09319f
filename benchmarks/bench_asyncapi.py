"""What `GET /asyncapi.json` costs the commands function, and how big the document is.

Prints, for the leave service's AsyncAPI document:
- its size: JSON bytes as served, and gzip'd (what a client downloads with compression);
- the first request in a fresh interpreter (median of `--runs`): importing `leave_api.asyncapi`
  and the runtime builder, then generating the document from the event classes, with the
  standard library modules the commands function already holds imported before the timer;
  our modules compiled from source (an empty bytecode cache, as a Lambda zip without .pyc)
  and with the bytecode cached; the route is imported lazily, so no other request pays it;
- a later request in the same process (median of 200): the cached text parsed again plus
  the `servers` from configuration.

    .venv/bin/python benchmarks/bench_asyncapi.py [--runs 7]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "components"), str(ROOT / "lambdas")]

FIRST = """
import time
# what the commands function has loaded before this route runs (boto3 loads all of these):
# the timer counts our modules and the document, not the standard library's first import
import collections.abc, dataclasses, datetime, enum, functools, json, os, re, types, typing, urllib.parse
t = time.perf_counter()
from leave_api.asyncapi import document
document(websocket_url="wss://abc.execute-api.eu-west-1.amazonaws.com/live", region="eu-west-1")
print((time.perf_counter() - t) * 1000)
"""


def first_request_ms(runs: int, cold: bool) -> float:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "components"), str(ROOT / "lambdas")]),
    }
    times = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(runs):
            if cold:
                env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(dir=cache)  # nothing compiled yet
            else:
                env["PYTHONPYCACHEPREFIX"] = cache  # filled by the previous run
            out = subprocess.run([sys.executable, "-c", FIRST], env=env, capture_output=True, text=True, check=True)
            times.append(float(out.stdout.strip()))
    return statistics.median(times[1:] if not cold and len(times) > 1 else times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs

    from leave_api.asyncapi import document

    body = json.dumps(document(region="eu-west-1"), separators=(",", ":"), ensure_ascii=False).encode()
    warm = []
    for _ in range(200):
        t = time.perf_counter()
        document(region="eu-west-1")
        warm.append((time.perf_counter() - t) * 1000)
    doc = document()
    print(f"AsyncAPI document: {len(doc['components']['messages'])} messages, {len(doc['channels'])} channels")
    print(f"  size as served     {len(body) / 1024:8.1f} KB   gzip {len(gzip.compress(body)) / 1024:6.1f} KB")
    print(f"  first request      {first_request_ms(runs, cold=True):8.1f} ms   (fresh interpreter, compiled from source; median of {runs})")
    print(f"  first request      {first_request_ms(runs, cold=False):8.1f} ms   (fresh interpreter, bytecode cached)")
    print(f"  later request      {statistics.median(warm):8.3f} ms   (same process, median of 200)")
    print(f"  machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (figures scale with it)")


if __name__ == "__main__":
    main()
