"""A bigger schemathesis pass against the local stack: operations, cases, failures.

    .venv/bin/python benchmarks/bench_schemathesis.py [--max-examples 25] [--max-time 240] [--max-steps 12] [--seed N]

Starts the dev stack in this process, then runs the same pass as
`tests/e2e/test_schemathesis.py` (every check, the documented tool limitations excluded,
stateful sequences along the OpenAPI links), with a valid admin token and a bigger budget.
Prints the counts, every distinct failure with its request and response, and the
limitations. Exit status 1 if any check failed or the engine reported an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas"), str(ROOT / "tests" / "e2e")]

from schemathesis_run import limitations, run_pass  # noqa: E402

from local import LocalStack  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=25, help="examples per operation (fuzzing) and per stateful run")
    parser.add_argument("--max-time", type=int, default=240, help="seconds for the whole pass")
    parser.add_argument("--max-steps", type=int, default=12, help="steps per stateful scenario")
    parser.add_argument("--seed", type=int, default=None, help="fixed seed (default: a fresh one each run)")
    args = parser.parse_args()
    with LocalStack("dev", port=0, log=None) as stack:
        result = run_pass(
            stack.api_url,
            stack.token("ana", ["admin"]),
            max_examples=args.max_examples,
            max_time=args.max_time,
            max_steps=args.max_steps,
            seed=args.seed,
        )
    print(result.summary())
    print("\ndocumented tool limitations (excluded):")
    print("\n".join(f"  - {line}" for line in limitations().splitlines()))
    return 1 if result.findings or result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
