"""Pytest time of the component suite (Pulumi mocks: every component, the whole stack,
every policy rule), the figure issue 2 sets a budget for (< 5 s on this machine).

    .venv/bin/python benchmarks/bench_component_suite.py [--runs 5]

Prints each run's pytest-reported time, then min and median. A benchmark, not a timed
test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times, counts = [], set()
    for i in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/components", "-p", "no:cacheprovider"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"},
        ).stdout
        m = re.search(r"(\d+) passed.* in ([\d.]+)s", out)
        if not m or " failed" in out:
            print(out[-2000:])
            print("the suite did not pass; no figure")
            return 1
        counts.add(int(m.group(1)))
        times.append(float(m.group(2)))
        print(f"run {i + 1}: {m.group(1)} tests passed in {times[-1]:.2f} s")
    print(
        f"\ncomponent suite, {'/'.join(map(str, sorted(counts)))} tests: "
        f"min {min(times):.2f} s, median {statistics.median(times):.2f} s (budget 5 s)"
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
