"""The yearly rollover workflow on the local stack: wall time and Lambda calls per employee
for 10, 100 and 1000 employees.

    PYTHONPATH=$PWD/components .venv/bin/python benchmarks/rollover_workflow.py [--employees 10 100 1000] [--batch-size 25]

For each size, a fresh local stack of the leave program (`__main__.py`, dev): one location
with a PTO policy and N employees, written through `LeaveService` straight to the stack's
Events table (fast; the stack's publisher and projections then catch up, and the stack
settles before timing, or after 300 s the result says the projections still ran). Then
the yearly schedule is fired as Scheduler would at 01:00 on 1 January and the execution
is timed from the firing to SUCCEEDED (the projections of the LeaveRolledOver events
keep running after that: not counted). Prints the execution's wall time, milliseconds
per employee, and the rollover task function's invocations (total and per employee).
`--batch-size 1` runs one `roll` call per employee (the Map over single employees) for
comparison; the default is the function's (ROLLOVER_BATCH_SIZE, 25). A benchmark, not a
timed test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "components"))
sys.path.insert(0, str(ROOT / "lambdas"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from acme_eventsourcing.local.program import evaluate  # noqa: E402
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore  # noqa: E402
from acme_eventsourcing.runtime.service import CommandContext  # noqa: E402
from leave.commands import AddEmployee, AssignLeavePolicy, Caller, CreateLocation  # noqa: E402
from leave_api.service import LeaveService  # noqa: E402

from local import LocalStack  # noqa: E402

ANA = Caller(sub="ana", groups=frozenset({"admin"}))
DAY = date(2026, 12, 7)
SCHEDULE = "leave-rollover-schedule-yearly"
TASKS = "leave-rollover-tasks"


def seed(stack: LocalStack, employees: int) -> None:
    """One location with a policy and `employees` employees, through the domain, on the stack's table."""
    [events] = [t.name for t in stack.model.tables if t.logical == "leave-events"]  # type: ignore[union-attr]
    service = LeaveService(DynamoDBEventStore(stack.clients("dynamodb"), events), clock=lambda: datetime(2026, 12, 7, 9, tzinfo=UTC))  # type: ignore[misc]

    def run(command: object) -> dict:
        return dict(service.execute(command, CommandContext(caller="ana", correlation_id="bench")).body)

    location = run(CreateLocation(caller=ANA, name="Bench"))["location_id"]
    run(AssignLeavePolicy(caller=ANA, location_id=location, leave_type="PTO", days_per_year=20, max_rollover_days=5))
    for i in range(employees):
        run(AddEmployee(caller=ANA, location_id=location, employee_id=f"emp{i:05d}", name=f"Employee {i}"))


def measure(recorded: object, employees: int, batch_size: int | None) -> tuple[float, int, str]:
    stack = LocalStack(recorded_stack=recorded, port=0, log=None, today=DAY).start()  # type: ignore[arg-type]
    try:
        seed(stack, employees)
        note = ""
        try:
            stack.settle(timeout=300)
        except TimeoutError:  # the projections of the seeded events still run: they compete with the workflow
            note = " (projections of the seeding still catching up)"
        if batch_size is not None:  # before the function's first call, which builds its app
            stack.function(TASKS).environment["ROLLOVER_BATCH_SIZE"] = str(batch_size)
        sfn = stack.clients("stepfunctions")  # type: ignore[misc]
        before = len(stack.invocations_of(TASKS))
        t0 = time.perf_counter()
        fired = stack.fire_schedule(SCHEDULE, at=datetime(2027, 1, 1, 1, 0, tzinfo=UTC))
        while (status := sfn.describe_execution(executionArn=fired.result)["status"]) == "RUNNING":
            time.sleep(0.02)
        elapsed = time.perf_counter() - t0
        output = sfn.describe_execution(executionArn=fired.result).get("output", "")
        return elapsed, len(stack.invocations_of(TASKS)) - before, f"{status} {output}{note}"
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--batch-size", type=int, default=None, help="employees per roll call (default: the function's, 25)")
    args = parser.parse_args()
    recorded = evaluate("dev", program=ROOT).recorded
    print(f"batch size: {args.batch_size or 'default (25)'}")
    print(f"{'employees':>9} {'execution s':>12} {'ms/employee':>12} {'calls':>6} {'calls/employee':>15}  result")
    for n in args.employees:
        import copy

        elapsed, calls, result = measure(copy.deepcopy(recorded), n, args.batch_size)
        print(f"{n:>9} {elapsed:>12.2f} {elapsed * 1000 / n:>12.1f} {calls:>6} {calls / n:>15.3f}  {result}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
