"""Benchmark the local stack: `local demo` end to end, and command -> read model latency.

    .venv/bin/python benchmarks/bench_local.py [--runs 3] [--samples 40]

1. Runs `python -m local demo` as a fresh process `--runs` times (what a user runs after
   the installs): wall time of each run, and the latency figures the demo prints.
2. Starts one local stack in this process and sends `--samples` leave requests and
   approvals, each time polling the balance every 25 ms until it shows the change:
   p50/p95/max of command accepted -> read model updated.
Targets (issue 4): the demo under 60 s; latency p50 under 1 s.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]

from acme_eventsourcing.local.client import ApiClient, wait_for  # noqa: E402

from local import LocalStack  # noqa: E402
from local.demo import percentile  # noqa: E402


def bench_demo(runs: int) -> None:
    print(f"local demo, {runs} fresh process(es):")
    walls = []
    for i in range(runs):
        t0 = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "local", "demo"], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        walls.append(wall)
        latency = re.search(r"End-to-end latency.*", result.stdout)
        verdict = re.search(r"Result: .*", result.stdout)
        print(f"  run {i + 1}: exit {result.returncode}, {wall:.1f} s wall; {verdict[0] if verdict else 'no result line'}")
        print(f"         {latency[0] if latency else 'no latency line'}")
        if result.returncode != 0:
            print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
    print(f"  wall time: median {statistics.median(walls):.1f} s, max {max(walls):.1f} s (target < 60 s)")


def bench_latency(samples: int) -> None:
    print(f"\ncommand accepted -> read model updated, {2 * samples} commands on one local stack:")
    with LocalStack("dev", port=0, log=None) as stack:
        api = ApiClient(stack.api_url, lambda sub, groups: stack.token(sub, groups))
        ana, emp, boss = api.as_user("ana", "admin"), api.as_user("emp"), api.as_user("boss")
        location = ana.post("/locations", {"name": "Bench"}).json["location_id"]
        for who in ("emp", "boss"):
            ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who})
        ana.put(f"/locations/{location}/approver", {"employee_id": "boss"})
        ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 365, "max_rollover_days": 0})
        year = date.today().year
        balance = lambda: emp.get(f"/employees/emp/balance?year={year}&leave_type=PTO")  # noqa: E731
        wait_for(lambda: balance().status == 200, timeout=30, what="the first balance")
        latencies: list[float] = []
        weekdays = (d for d in (date(year, 1, 1) + timedelta(days=k) for k in range(366)) if d.weekday() < 5)
        for day in [next(weekdays) for _ in range(samples)]:
            request = emp.post("/employees/emp/leave-requests", {"leave_type": "PTO", "start": str(day), "end": str(day)})
            accepted = time.perf_counter()
            days = request.json["working_days"]
            wait_for(lambda days=days: balance().json["pending"] == days, timeout=30, interval=0.025, what="pending days")
            latencies.append((time.perf_counter() - accepted) * 1000)
            approve = boss.post(f"/leave-requests/{request.json['request_id']}/approve", {})
            accepted = time.perf_counter()
            assert approve.status == 200, approve.text
            wait_for(lambda: balance().json["pending"] == 0, timeout=30, interval=0.025, what="approved")
            latencies.append((time.perf_counter() - accepted) * 1000)
        p50, p95 = statistics.median(latencies), percentile(latencies, 95)
        print(f"  p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(latencies):.0f} ms (target p50 < 1000 ms)")
        per_function: dict[str, list[float]] = {}
        for i in stack.invocations:
            per_function.setdefault(i.function, []).append(i.duration_ms)
        for name, durations in sorted(per_function.items()):
            print(f"  {name:<32} {len(durations):5d} invocations, median {statistics.median(durations):6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    if args.runs:
        bench_demo(args.runs)
    bench_latency(args.samples)


if __name__ == "__main__":
    main()
