"""Step Functions on the local stack: a Map of Lambda tasks at 10, 100, 1000 items, and a
month of schedules passed by `advance_clock`.

    .venv/bin/python benchmarks/bench_local_stepfunctions.py [--items 10 100 1000] [--days 30]

Runs `tests/e2e/programs/workflows` (plain pulumi_aws): `wf-batch` maps its items through
a `lambda:invoke` task (one DynamoDB update each) on moto's ASL interpreter, with the
functions in-process. Prints, per size: the execution's wall time (StartExecution to
SUCCEEDED), milliseconds per item and Lambda invocations per item; then the time to
advance the clock by `--days` days firing a daily rate() schedule (a function target) and
a weekday cron schedule (a state machine target), settling at each step. A benchmark, not
a timed test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "components"))
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from acme_eventsourcing.local import LocalStack  # noqa: E402

PROGRAM = ROOT / "tests" / "e2e" / "programs" / "workflows"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state, LocalStack.from_program(PROGRAM, "dev", port=0, log=None, state_dir=Path(state)) as stack:
        sfn = stack.clients("stepfunctions")  # type: ignore[misc]
        machine = stack.state_machine("wf-batch").arn
        print(f"{'items':>6} {'execution s':>12} {'ms/item':>9} {'invocations/item':>17}")
        for n in args.items:
            before = len(stack.invocations_of("wf-work"))
            items = [{"id": f"run{n}-{i}"} for i in range(n)]
            t0 = time.perf_counter()
            arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"items": items}))["executionArn"]
            while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
                time.sleep(0.02)
            seconds = time.perf_counter() - t0
            if status != "SUCCEEDED":
                print(f"{n}: execution {status}; no figure")
                return 1
            calls = len(stack.invocations_of("wf-work")) - before
            print(f"{n:>6} {seconds:>12.2f} {seconds * 1000 / n:>9.1f} {calls / n:>17.2f}")
        stack.settle()
        t0 = time.perf_counter()
        fired = stack.advance_clock(by=timedelta(days=args.days))
        seconds = time.perf_counter() - t0
        print(f"advance_clock {args.days} days: {len(fired)} schedule occurrences fired and settled in {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
