"""Evaluating the stack under the Pulumi mocks plus the whole policy check, as one process,
at 1x, 4x and 8x the dev stack: the fixed cost and the cost per resource (issue 9).

    .venv/bin/python benchmarks/bench_plan.py [--scales 1 4 8] [--runs 3] [--floor] [--from-source]

Each run is a fresh `python` process that imports what it needs, evaluates a program under
the mocks (`acme_eventsourcing.testing.record`) and runs `check_stack` with the default
rules, timing each phase. The program at scale N is the repository's `__main__.py` run N
times in one stack, copy i's `SharedEventBus` and `EventSourcedService`s (leave,
notifications) named `<name>-<i>`: N independent copies of the dev stack's services, bus
and all (without `bus_stack`: each copy creates its bus rather than referencing the
platform). Prints per scale the median of `--runs` runs, then a least-squares line
`seconds = fixed + per_resource x resources` over the scales, and the comparison the issue
asks for: a CDK + cdk-nag synth-and-check of the same 120-resource stack took 9.8 s, ours
must take at most a tenth. A benchmark, not a timed test: run it on a quiet machine.

Modules load from bytecode, as from an installed wheel (pip compiles it at install): the
children write and read it under a temporary `PYTHONPYCACHEPREFIX` (even where the
environment sets `PYTHONDONTWRITEBYTECODE`), after one untimed warm-up run; `--from-source`
compiles our package from source in every run instead.

`--floor` also measures the Pulumi SDK alone on the same resources, the part no change of
ours can remove: a process that imports pulumi, pulumi_aws and the pulumi_aws modules of
the stack's resource types, then declares every resource the program declared (same type,
name and recorded inputs, as plain `CustomResource`s and `ComponentResource`s: no component
code, no `apply`) under the SDK's own mocks, and exits. The stack is dumped by one untimed
run per scale.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CDK_SECONDS, CDK_RESOURCES = 9.8, 120

#: Runs in the child process: evaluate N copies of the program and check them; prints JSON.
CHILD = r"""
import json, runpy, sys, time
t0, c0 = time.perf_counter(), time.process_time()
root, scale = sys.argv[1], int(sys.argv[2])
sys.path[:0] = [root, root + "/lambdas"]
import acme_eventsourcing
from acme_eventsourcing import EventSourcedService, SharedEventBus
from acme_eventsourcing.testing import load_stack_config, record
from acme_eventsourcing.testing.policy import check_stack
t_import, c_import = time.perf_counter(), time.process_time()

def renamed(cls, suffix):
    class Renamed(cls):
        def __init__(self, name, *args, **kwargs):
            super().__init__(f"{name}{suffix}", *args, **kwargs)
    Renamed.__name__ = cls.__name__
    return Renamed

def program():
    for i in range(scale):
        suffix = f"-{i}" if i else ""
        acme_eventsourcing.EventSourcedService = renamed(EventSourcedService, suffix)
        acme_eventsourcing.SharedEventBus = renamed(SharedEventBus, suffix)
        runpy.run_path(root + "/__main__.py", run_name="__main__")

project, config = load_stack_config(root, "dev")
# each copy creates its bus (as the dev stack did before the platform owned it), so N copies
# need no platform stack to reference
config.pop("leave:bus_stack", None)
config["leave:bus_archive_retention_days"] = 30
stack = record(program, project=project, stack="dev", config=config, cwd=root)
t_eval, c_eval = time.perf_counter(), time.process_time()
report = check_stack(stack)
t_check, c_check = time.perf_counter(), time.process_time()
if len(sys.argv) > 3:  # an untimed run that dumps the stack for the floor
    with open(sys.argv[3], "w") as fh:
        json.dump([[r.type, r.name, r.custom, r.inputs] for r in stack.resources], fh, default=str)
print(json.dumps({
    "resources": len(stack.resources),
    "custom": sum(r.custom for r in stack.resources),
    "violations": len(report.violations),
    "import_s": t_import - t0,
    "evaluate_s": t_eval - t_import,
    "check_s": t_check - t_eval,
    "import_cpu_s": c_import - c0,
    "evaluate_cpu_s": c_eval - c_import,
    "check_cpu_s": c_check - c_eval,
}))
"""

#: The floor: the SDK alone declaring the dumped resources under its own mocks; prints JSON.
FLOOR = r"""
import importlib, json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
with open(sys.argv[1]) as fh:
    declared = json.load(fh)
import re
import pulumi, pulumi_aws
classes = {}
for typ in sorted({t for t, _n, custom, _i in declared if custom and t.startswith("aws:")}):
    # the class the program used (`aws:lambda/function:Function` -> pulumi_aws.lambda_.Function):
    # reading it runs its lazily loaded module, as the program's first use of it does
    module, cls = typ.split(":")[1].split("/")[0], typ.rsplit(":", 1)[1]
    try:
        classes[typ] = getattr(importlib.import_module(f"pulumi_aws.{module}"), cls)
    except ModuleNotFoundError:
        classes[typ] = getattr(importlib.import_module(f"pulumi_aws.{module}_"), cls)  # lambda -> lambda_
t_import, c_import = time.perf_counter(), time.process_time()

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return args.name + "-id", dict(args.inputs)
    def call(self, args):
        return {}

pulumi.runtime.set_mocks(Mocks(), preview=False)

def snake(name):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()

def revive(value):  # the harness records assets and archives as descriptions
    if isinstance(value, list):
        return [revive(v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("__asset__") == "file":
        return pulumi.FileAsset(value["path"])
    if value.get("__asset__") == "string":
        return pulumi.StringAsset(value["text"])
    if value.get("__archive__") == "file":
        return pulumi.FileArchive(value["path"])
    if value.get("__archive__") == "assets":
        return pulumi.AssetArchive({k: revive(v) for k, v in value["assets"].items()})
    return {k: revive(v) for k, v in value.items()}

generic = []

@pulumi.runtime.test
def program():
    for typ, name, custom, inputs in declared:
        if not custom:
            pulumi.ComponentResource(typ, name, inputs)
            continue
        if typ in classes:  # the provider's class, its inputs by their Python names, nested values as recorded
            try:
                classes[typ](name, **{snake(k): revive(v) for k, v in inputs.items()})
                continue
            except TypeError:  # an input whose Python name is not the plain snake case
                pass
        generic.append(typ)
        pulumi.CustomResource(typ, name, revive(inputs))

program()
t_eval, c_eval = time.perf_counter(), time.process_time()
print(json.dumps({"resources": len(declared), "generic": len(generic), "import_s": t_import - t0, "evaluate_s": t_eval - t_import,
                  "import_cpu_s": c_import - c0, "evaluate_cpu_s": c_eval - c_import}))
"""


def _env(pycache: str | None) -> dict[str, str]:
    env = {**os.environ, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}
    if pycache is not None:  # bytecode, as an installed wheel has
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def _child(args: list[str], env: dict[str, str]) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{args[1:]} failed:\n{out.stderr[-3000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["process_s"] = wall
    figures["process_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return figures


def run(scale: int, env: dict[str, str], dump: str | None = None) -> dict[str, float]:
    return _child([CHILD, str(ROOT), str(scale), *([dump] if dump else [])], env)


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares `y = a + b x`."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--floor", action="store_true", help="also measure the Pulumi SDK alone on the same resources")
    parser.add_argument("--from-source", action="store_true", help="compile our package from source in every run (no bytecode)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        env = _env(None if args.from_source else os.path.join(tmp, "pycache"))
        return _measure(args, env, Path(tmp))


def _measure(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> int:
    rows = []
    floors: dict[int, dict[str, float]] = {}
    run(min(args.scales), env)  # warm-up: writes the bytecode, fills the OS's file cache
    print("from source" if args.from_source else "from bytecode (as installed)", end="; ")
    print("wall seconds (CPU seconds of the process in brackets); medians of", args.runs, "runs")
    print(f"{'scale':>5} {'resources':>9} {'process':>15} {'import':>14} {'evaluate':>15} {'check':>14} {'check/res':>10}  violations")
    for scale in args.scales:
        runs = [run(scale, env) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        rows.append((scale, med))
        if args.floor:
            dump = tmp / f"stack-{scale}.json"
            run(scale, env, str(dump))
            _child([FLOOR, str(dump)], env)  # warm-up of the floor's own bytecode
            fl = [_child([FLOOR, str(dump)], env) for _ in range(args.runs)]
            floors[scale] = {k: statistics.median(r[k] for r in fl) for k in fl[0]}
        print(
            f"{scale:>4}x {int(med['resources']):>9} {med['process_s']:>7.2f} ({med['process_cpu_s']:>5.2f}) "
            f"{med['import_s']:>6.2f} ({med['import_cpu_s']:>5.2f}) {med['evaluate_s']:>6.2f} ({med['evaluate_cpu_s']:>6.2f}) "
            f"{med['check_s']:>6.2f} ({med['check_cpu_s']:>5.2f}) "
            f"{med['check_cpu_s'] / med['resources'] * 1000:>8.3f}ms  {int(med['violations'])}"
        )
    if len(rows) < 2:
        return 0
    for what, key in (("wall", "process_s"), ("CPU", "process_cpu_s")):
        fixed, per = fit([(m["resources"], m[key]) for _s, m in rows])
        print(f"\nwhole process, {what}: fixed {fixed:.2f} s + {per * 1000:.2f} ms per resource (least squares over {len(rows)} scales)")
        for scale, m in rows:
            marginal = (m[key] - fixed) / m["resources"] * 1000
            print(f"  {scale}x: {m[key]:.2f} s for {int(m['resources'])} resources = fixed + {marginal:.2f} ms per resource")
        at_cdk = fixed + per * CDK_RESOURCES
        ratio = at_cdk / CDK_SECONDS
        print(f"  at {CDK_RESOURCES} resources (fit): {at_cdk:.2f} s = {ratio:.3f} of CDK + cdk-nag's {CDK_SECONDS} s (target <= 0.1)")
    c_fixed, c_per = fit([(m["resources"], m["check_cpu_s"]) for _s, m in rows])
    print(f"\npolicy check alone, CPU: {c_fixed * 1000:.0f} ms + {c_per * 1000:.3f} ms per resource")
    if floors:
        print("\nthe Pulumi SDK alone on the same resources (import + declare + exit; no component code):")
        for scale, f in floors.items():
            print(
                f"{scale:>4}x {int(f['resources']):>9} {f['process_s']:>7.2f} ({f['process_cpu_s']:>5.2f}) "
                f"import {f['import_s']:.2f} ({f['import_cpu_s']:.2f}) declare {f['evaluate_s']:.2f} ({f['evaluate_cpu_s']:.2f})"
            )
        for what, key in (("wall", "process_s"), ("CPU", "process_cpu_s")):
            fixed, per = fit([(f["resources"], f[key]) for f in floors.values()])
            ours_fixed, ours_per = fit([(m["resources"], m[key]) for _s, m in rows])
            at_cdk = fixed + per * CDK_RESOURCES
            print(
                f"  {what}: fixed {fixed:.2f} s + {per * 1000:.2f} ms per resource; at {CDK_RESOURCES} resources {at_cdk:.2f} s "
                f"= {at_cdk / CDK_SECONDS:.3f} of CDK + cdk-nag; ours above it: fixed {ours_fixed - fixed:+.2f} s, "
                f"{(ours_per - per) * 1000:+.2f} ms per resource"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
