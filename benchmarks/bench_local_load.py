"""Benchmark the local stack under load: memory, stop time, connection resets, throughput.

    .venv/bin/python benchmarks/bench_local_load.py [--commands 1000] [--clients 16] [--burst 32]

Starts one local stack in this process and prints (issue 8, points 4, 5 and 8):
1. RSS fresh (after start-up and a few commands);
2. resets at `--burst` concurrent clients: each client opens a new connection per request
   (urllib), all clients released at once per round; any ECONNRESET / remote disconnect
   counts as a reset;
3. commands/s and p50/p95 of the answer at `--clients` concurrent clients, `--commands`
   leave requests in all (each client on its own employee, so they do not conflict);
   and the CPU time each command costs the process (every thread, its effects included:
   publisher, projectors, moto), with the rate that allows on one core (the GIL);
4. RSS after those commands (once every effect has landed), and its ratio to the fresh figure;
5. how long `stop()` takes on that grown stack.
Targets: RSS after 1000 commands at most 2 x fresh; stop under 2 s; no reset at 32
clients; at least 50 commands/s with p95 under 1 s at 16 clients.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import statistics
import sys
import threading
import time
import urllib.error
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]

from acme_eventsourcing.local.client import ApiClient  # noqa: E402

from local import LocalStack  # noqa: E402
from local.demo import percentile  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _is_reset(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", None)
    return isinstance(exc, (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)) or isinstance(
        reason, (ConnectionResetError, BrokenPipeError)
    )


def in_threads(count: int, work: callable) -> None:  # type: ignore[valid-type]
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--burst", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    stack = LocalStack("dev", port=0, log=None).start()
    api = ApiClient(stack.api_url, lambda sub, groups: stack.token(sub, groups))
    ana = api.as_user("ana", "admin")
    location = ana.post("/locations", {"name": "Load"}).json["location_id"]
    employees = [f"emp{i}" for i in range(max(args.clients, args.burst))]
    for who in [*employees, "boss"]:
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who}).status == 201
    ana.put(f"/locations/{location}/approver", {"employee_id": "boss"})
    ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 365, "max_rollover_days": 0})
    stack.settle()
    year = date.today().year
    gc.collect()
    fresh = rss_mb()
    print(f"RSS fresh (after start-up and {len(employees) + 4} commands): {fresh:.0f} MB")

    # -- resets at `burst` concurrent clients (a new connection per request)
    users = {who: api.as_user(who) for who in employees}
    barrier = threading.Barrier(args.burst)
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def burst(i: int) -> None:
        me = users[employees[i]]
        for _ in range(args.rounds):
            barrier.wait()
            try:
                status = str(me.get(f"/employees/{employees[i]}/balance?year={year}&leave_type=PTO").status)
            except (OSError, http.client.HTTPException) as exc:
                status = "reset" if _is_reset(exc) else type(exc).__name__
            with lock:
                outcomes[status] = outcomes.get(status, 0) + 1

    in_threads(args.burst, burst)
    resets = outcomes.get("reset", 0)
    total = sum(outcomes.values())
    print(f"resets at {args.burst} concurrent clients: {resets} of {total} requests ({100 * resets / total:.1f}%); outcomes {outcomes}")

    # -- throughput at `clients` concurrent clients
    per_client = -(-args.commands // args.clients)
    weekdays = [d for d in (date(year, 1, 1) + timedelta(days=k) for k in range(366)) if d.weekday() < 5 and d.year == year]
    latencies: list[float] = []
    statuses: dict[int | str, int] = {}
    sent = [0]

    def load(i: int) -> None:
        me = users[employees[i]]
        for day in weekdays[:per_client]:
            with lock:
                if sent[0] >= args.commands:
                    return
                sent[0] += 1
            t0 = time.perf_counter()
            try:
                status: int | str = me.post(
                    f"/employees/{employees[i]}/leave-requests", {"leave_type": "PTO", "start": str(day), "end": str(day)}
                ).status
            except (OSError, http.client.HTTPException, urllib.error.URLError) as exc:
                status = "reset" if _is_reset(exc) else type(exc).__name__
            with lock:
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[status] = statuses.get(status, 0) + 1

    assert stack.moto is not None
    cpu0, calls0 = time.process_time(), stack.moto.in_process.answered
    t0 = time.perf_counter()
    in_threads(args.clients, load)
    elapsed = time.perf_counter() - t0
    p50, p95 = statistics.median(latencies), percentile(latencies, 95)
    print(
        f"{len(latencies)} commands at {args.clients} concurrent clients: {len(latencies) / elapsed:.1f} commands/s, "
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(latencies):.0f} ms; statuses {statuses} (target >= 50/s, p95 < 1000 ms)"
    )
    t0 = time.perf_counter()
    stack.settle(timeout=600)
    print(f"  every effect landed {time.perf_counter() - t0:.1f} s after the last answer")
    cpu_ms = (time.process_time() - cpu0) * 1000 / max(1, len(latencies))
    calls = (stack.moto.in_process.answered - calls0) / max(1, len(latencies))
    print(
        f"  CPU per command, effects included: {cpu_ms:.0f} ms, {calls:.0f} moto calls "
        f"(at most {1000 / cpu_ms:.0f} commands/s with one core under the GIL)"
    )
    gc.collect()
    grown = rss_mb()
    print(f"RSS after {len(latencies)} more commands: {grown:.0f} MB = {grown / fresh:.2f} x fresh (target <= 2 x)")

    t0 = time.perf_counter()
    stack.stop()
    print(f"stop: {time.perf_counter() - t0:.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()
