"""Evaluate a Pulumi program under the SDK's mock engine.

`evaluate("dev", program="path/to/project")` runs the project's program (its `Pulumi.yaml`
`main`, default `__main__.py`) with the config of `Pulumi.dev.yaml`, exactly as
`acme_eventsourcing.testing.run_program` does in tests. A stack that reads another stack's
outputs (a `StackReference`, e.g. a stack wrapping the bus a platform stack owns) gets FAKE
outputs, synthesized from the output names and reported in `Program.fake_outputs`, unless
real values are given.

Several programs run as one system (a platform program that owns the bus, then the services
that reference it): `evaluate_programs("dev", programs=[platform, service])` evaluates them
in order, and a later program's reference to an earlier one (`org/<project>/<stack>`, or
`<project>/<stack>`) reads that program's REAL recorded outputs instead of fakes; `merge`
makes one recorded stack of them for the local stack.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acme_eventsourcing.testing import RecordedStack, harness, run_program


class ProgramError(ValueError):
    """The path given is not a Pulumi project with that stack (the message says what is there)."""


@dataclass(frozen=True)
class Program:
    """A recorded run of the program, and which stack-reference outputs were made up."""

    recorded: RecordedStack
    fake_outputs: tuple[tuple[str, str, Any], ...]  # (referenced stack, output name, fake value)
    #: The project directory the program was read from (None: not known, e.g. a test's edited stack).
    directory: Path | None = None
    #: Stack-reference outputs read from an earlier program: (referenced stack, output name, program's project).
    read_outputs: tuple[tuple[str, str, str], ...] = ()


def stacks_of(project: str | os.PathLike[str]) -> list[str]:
    """The stacks a project directory has config for (its `Pulumi.<stack>.yaml` files), sorted."""
    root = Path(project)
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml"))


def check_project(project: str | os.PathLike[str], stack: str) -> Path:
    """The program file of the Pulumi project at `project` for `stack`; `ProgramError` saying
    what is wrong when `project` has no `Pulumi.yaml`, no `Pulumi.<stack>.yaml` or no program."""
    root = Path(project).resolve()
    if not (root / "Pulumi.yaml").is_file():
        raise ProgramError(f"no Pulumi project at {root}: it has no Pulumi.yaml (give the directory of the project)")
    if not (root / f"Pulumi.{stack}.yaml").is_file():
        known = stacks_of(root)
        raise ProgramError(f"no stack {stack!r}: stacks are {', '.join(known) or 'none'} (the Pulumi.<name>.yaml files in {root})")
    main = _main_of(root)
    if not main.is_file():
        raise ProgramError(f"no Pulumi program at {main}")
    if main.parent != root:  # run_program reads Pulumi.<stack>.yaml beside the program file
        raise ProgramError(f"{root / 'Pulumi.yaml'}: main {main.relative_to(root)} is not in the project directory; not supported here")
    return main


def _main_of(root: Path) -> Path:
    """`main:` of Pulumi.yaml (a file, or a directory holding `__main__.py`), default `__main__.py`."""
    main = harness._read_yaml(root / "Pulumi.yaml").get("main")
    path = root / str(main) if main else root
    return path / "__main__.py" if path.is_dir() else path


def evaluate(
    stack: str = "dev",
    *,
    program: str | os.PathLike[str] | None = None,
    config_overrides: Mapping[str, Any] | None = None,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    upstream: Sequence[Program] = (),
) -> Program:
    """Run the program of the Pulumi project at `program` (default: the working directory)
    for `stack` under recording mocks. A stack it references that is one of `upstream`
    (same project and stack name) reads that program's recorded outputs; an output it does
    not export is an error naming what it does export. Any other reference not in
    `stack_references` is faked (`Program.fake_outputs`)."""
    main = check_project(Path.cwd() if program is None else program, stack)
    real: dict[tuple[str, str], str] = {}  # (reference, output) -> the project that exported it

    def output(ref: str, name: str) -> Any:
        source = next((p.recorded for p in upstream if references(ref, p.recorded.project, p.recorded.stack)), None)
        if source is None:
            return fake_output(ref, name)
        if name not in source.outputs:
            raise ProgramError(f"{ref} is the program {source.project!r}, which exports no {name!r} (it exports {sorted(source.outputs)})")
        real[(ref, name)] = source.project
        return source.outputs[name]

    recorded = run_program(main, stack, config_overrides=config_overrides, stack_references=stack_references, missing_stack_output=output)
    fakes = tuple(f for f in recorded.faked_outputs if (f[0], f[1]) not in real)
    read = tuple((ref, name, project) for (ref, name), project in real.items())
    return Program(recorded=recorded, fake_outputs=fakes, directory=main.parent, read_outputs=read)


def references(ref: str, project: str, stack: str) -> bool:
    """Whether the StackReference name `ref` (`org/project/stack` or `project/stack`) names
    the stack `stack` of `project` (any organization)."""
    parts = ref.split("/")
    return len(parts) in (2, 3) and parts[-2:] == [project, stack]


def evaluate_programs(
    stack: str = "dev",
    *,
    programs: Sequence[str | os.PathLike[str]],
    config_overrides: Mapping[str, Any] | None = None,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Program]:
    """Evaluate each Pulumi project of `programs` for `stack`, in order (the platform first,
    then the services): each reads the real outputs of the earlier ones it references (see
    `evaluate`). `config_overrides` (fully qualified keys) go to every program."""
    if not programs:
        raise ProgramError("no program to evaluate: give at least one Pulumi project directory")
    done: list[Program] = []
    for program in programs:
        done.append(
            evaluate(stack, program=program, config_overrides=config_overrides, stack_references=stack_references, upstream=tuple(done))
        )
    return done


def merge(programs: Sequence[Program]) -> RecordedStack:
    """One recorded stack holding every resource of `programs` (evaluated for one stack name,
    as `evaluate_programs` does), to run on one moto: the project and stack of the last
    program (the one whose state directory keeps the journal: a journal it wrote alone still
    loads), outputs and config of all (a later program's win), fake outputs of all. `ProgramError` when two programs
    declare a resource of the same type and name (the local stack knows resources by name)
    or name different regions (one moto serves one region)."""
    if len(programs) == 1:
        return programs[0].recorded
    stacks = [p.recorded for p in programs]
    seen: dict[tuple[str, str], str] = {}
    for recorded in stacks:
        for r in recorded.resources:
            other = seen.setdefault((r.type, r.name), recorded.project)
            if other != recorded.project:
                raise ProgramError(f"programs {other!r} and {recorded.project!r} both declare {r.type} {r.name!r}; rename one")
    regions = {s.project: str(s.config.get("aws:region") or harness.REGION) for s in stacks}
    if len(set(regions.values())) > 1:
        raise ProgramError(f"the programs run in different regions ({regions}); the local stack runs them on one moto, in one region")
    return RecordedStack(
        project=stacks[-1].project,
        stack=stacks[-1].stack,
        resources=[r for s in stacks for r in s.resources],
        outputs={k: v for s in stacks for k, v in s.outputs.items()},
        config={k: v for s in stacks for k, v in s.config.items()},
        faked_outputs=tuple(f for p in programs for f in p.fake_outputs),
    )


def fake_output(stack: str, output: str) -> Any:
    """A clearly fake value shaped like what an output of that name usually holds."""
    slug = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-")
    lowered = output.lower()
    acct, region = harness.ACCOUNT_ID, harness.REGION
    if "bus" in lowered:
        bus = f"fake-{slug}-bus"
        return f"arn:aws:events:{region}:{acct}:event-bus/{bus}" if "arn" in lowered else bus
    if "arn" in lowered:
        return f"arn:aws:fake:{region}:{acct}:{slug}/{output}"
    if "url" in lowered:
        return f"https://fake.invalid/{slug}/{output}"
    return f"fake-{slug}-{output}"
