"""Benchmark live updates on the local stack: command accepted -> WebSocket message received.

    .venv/bin/python benchmarks/bench_live.py [--samples 30]

Starts the leave project's local stack in this process (the platform, then leave), creates a
location with an employee and an approver, and connects a standard WebSocket client
(`websockets`) for each with their own token. Then, `--samples` times: the employee requests
a day of leave, and the time from the HTTP answer (201) to the approver's client receiving
the `changed` message of the location's pending list is measured; the approver approves it,
and the time from the 200 to the employee's client receiving the decision. Printed: p50, p95,
max and N of each and of both together, and how much of it lies after the read model was
stored (`stored_at` of the message -> received; the same clock, this machine).
Target (issue 11): a client learns of a change within a second of the read model being stored.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]

from local import LocalStack  # noqa: E402
from local.demo import percentile  # noqa: E402


def changed(topic: str, event_type: str) -> Any:
    return lambda m: isinstance(m, dict) and m.get("type") == "changed" and m["topic"] == topic and m["event"]["type"] == event_type


def stored(message: dict[str, Any]) -> float:
    return datetime.fromisoformat(message["stored_at"].replace("Z", "+00:00")).timestamp()


def line(name: str, values: list[float]) -> str:
    return (
        f"  {name:<46} p50 {statistics.median(values):6.0f} ms  p95 {percentile(values, 95):6.0f} ms  "
        f"max {max(values):6.0f} ms  N={len(values)}"
    )


def bench(samples: int) -> None:
    t0 = time.perf_counter()
    with LocalStack("dev", port=0, log=None) as stack:
        print(f"local stack up in {time.perf_counter() - t0:.1f} s; WebSocket API {stack.websocket_url}")
        ana = stack.client("ana", "admin")
        location = ana.post("/locations", {"name": "Live bench"}).json["location_id"]
        for who in ("emp", "boss"):
            ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who})
        ana.put(f"/locations/{location}/approver", {"employee_id": "boss"})
        ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 365, "max_rollover_days": 0})
        stack.settle()  # the $connect authorizer reads the read models for the callers' topics
        emp_api, boss_api = stack.client("emp"), stack.client("boss")
        year = date.today().year + 1
        weekdays = (d for d in (date(year, 1, 1) + timedelta(days=k) for k in range(366)) if d.weekday() < 5)
        requested: list[float] = []
        decided: list[float] = []
        after_store: list[float] = []
        with stack.websocket("emp") as emp, stack.websocket("boss") as boss:
            for day in [next(weekdays) for _ in range(samples)]:
                seen = len(boss.received)
                request = emp_api.post("/employees/emp/leave-requests", {"leave_type": "PTO", "start": str(day), "end": str(day)})
                accepted = time.perf_counter()
                assert request.status == 201, request.text
                heard = boss.wait(changed(f"approvers#{location}", "LeaveRequested"), after=seen, timeout=30)
                requested.append((heard.at - accepted) * 1000)
                after_store.append((heard.wall - stored(heard.data)) * 1000)
                seen = len(emp.received)
                approve = boss_api.post(f"/leave-requests/{request.json['request_id']}/approve", {})
                accepted = time.perf_counter()
                assert approve.status == 200, approve.text
                told = emp.wait(changed("employee#emp", "LeaveApproved"), after=seen, timeout=30)
                decided.append((told.at - accepted) * 1000)
                after_store.append((told.wall - stored(told.data)) * 1000)
        print(
            f"command accepted -> WebSocket message received, {2 * samples} commands, local stack ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC):"
        )
        print(line("leave request -> approver's client", requested))
        print(line("approval -> employee's client", decided))
        print(line("both", requested + decided))
        print(line("of which: read model stored -> received", after_store))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    bench(parser.parse_args().samples)


if __name__ == "__main__":
    main()
