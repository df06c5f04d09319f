"""Deployment packages of every function the dev stack declares: size, contents, import time.

Runs the real `__main__.py` under mocks, builds each function's zip exactly from the code
archive it declares, and prints per function:
- the zipped size (target: under 100 KB) and the number of files;
- whether anything that must not ship is inside (pulumi, tests, __pycache__);
- files shipped but never imported from the handler (static import graph);
- the import time of the handler module with boto3 already imported (target: under
  50 ms, "boto3 excluded"), median of fresh interpreter runs: "cold" compiles every
  module from source, as a zip without bytecode does on a Lambda cold start; "cached" has
  the bytecode already compiled (what a zip shipping .pyc for the runtime's Python would
  get). Every handler imports boto3 on its first call, and boto3 loads most of the
  standard library the handlers use (json, datetime, dataclasses, inspect, enum, typing,
  re, ssl, http, email), so with boto3 imported first what is left is the handler's own
  cost: our modules, and the few standard modules boto3 does not load.
- for reference, "bare": the same cold import in an interpreter with nothing imported,
  which also counts those standard modules (paid once per cold start by boto3 anyway);
  "nan" for a handler that imports boto3 at module level (the publisher).

    .venv/bin/python benchmarks/bench_packages.py [--runs 9]
"""

from __future__ import annotations

import argparse
import io
import modulefinder
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from acme_eventsourcing.testing import run_program  # noqa: E402

FORBIDDEN = ("pulumi", "tests/", "test_", "__pycache__", ".pyc")
IMPORT_PROBE = """
import sys, time
sys.path.insert(0, {root!r})
if {with_boto3}:
    import boto3, botocore.session  # the handler imports them on its first call; not counted
t = time.perf_counter()
import {module}
print((time.perf_counter() - t) * 1000, "boto3" in sys.modules)
"""


def build_zip(assets: dict[str, dict]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, asset in sorted(assets.items()):
            zf.write(asset["path"], name)
    return buf.getvalue()


def unused_files(unpacked: Path, module: str, shipped: list[str]) -> list[str]:
    finder = modulefinder.ModuleFinder(path=[str(unpacked)])
    finder.run_script(str(unpacked / (module.replace(".", "/") + ".py")))
    used = {Path(m.__file__).resolve() for m in finder.modules.values() if m.__file__}
    return sorted(n for n in shipped if n.endswith(".py") and (unpacked / n).resolve() not in used and not n.endswith("__init__.py"))


def import_ms(unpacked: Path, module: str, runs: int, *, cached: bool, with_boto3: bool = True) -> float:
    code = IMPORT_PROBE.format(root=str(unpacked), module=module, with_boto3=with_boto3)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if not cached:
        env["PYTHONDONTWRITEBYTECODE"] = "1"

    def once() -> float:
        ms, loads_boto3 = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout.split()
        if not with_boto3 and loads_boto3 == "True":
            return float("nan")  # the module imports boto3 itself: no bare figure to give
        return float(ms)

    if cached:
        once()  # writes __pycache__ next to the unpacked sources
    return statistics.median(once() for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per import measurement")
    args = parser.parse_args()
    stack = run_program(ROOT / "__main__.py", "dev", config_overrides={"leave:bus_stack": None})  # the functions alone: no platform
    print(f"{'function':32} {'handler':36} {'zip KB':>6} {'files':>5} {'cold ms':>7} {'cached ms':>9} {'bare ms':>7}  notes")
    worst_kb = worst_cold = worst_cached = worst_bare = 0.0
    for fn in sorted(stack.of_type("aws:lambda/function:Function"), key=lambda r: r.name):
        assets = fn.inputs["code"]["assets"]
        data = build_zip(assets)
        module = fn.inputs["handler"].rsplit(".", 1)[0]
        with tempfile.TemporaryDirectory() as tmp:
            zipfile.ZipFile(io.BytesIO(data)).extractall(tmp)
            unused = unused_files(Path(tmp), module, list(assets))
            cold = import_ms(Path(tmp), module, args.runs, cached=False)
            cached = import_ms(Path(tmp), module, args.runs, cached=True)
            bare = import_ms(Path(tmp), module, args.runs, cached=False, with_boto3=False)
        bad = [n for n in assets if any(f in n for f in FORBIDDEN)]
        notes = []
        if bad:
            notes.append(f"MUST NOT SHIP: {bad}")
        if unused:
            notes.append(f"never imported: {', '.join(unused)}")
        kb = len(data) / 1024
        worst_kb, worst_cold, worst_cached = max(worst_kb, kb), max(worst_cold, cold), max(worst_cached, cached)
        if bare == bare:  # not nan
            worst_bare = max(worst_bare, bare)
        else:
            notes.append("imports boto3 at module level")
        print(
            f"{fn.name:32} {fn.inputs['handler']:36} {kb:6.1f} {len(assets):5d} {cold:7.1f} {cached:9.1f} {bare:7.1f}  "
            f"{'; '.join(notes) or 'ok'}"
        )
    print(f"\nlargest package: {worst_kb:.1f} KB zipped (target < 100 KB)")
    print(
        f"slowest handler import, boto3 excluded: {worst_cold:.1f} ms cold (compiling), "
        f"{worst_cached:.1f} ms with bytecode (target < 50 ms)"
    )
    print(f"for reference, bare interpreter (the standard modules boto3 would load counted too): up to {worst_bare:.1f} ms")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {args.runs} fresh interpreters per import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
