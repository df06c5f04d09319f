"""Evaluate a Pulumi program under the SDK's mock engine.

`evaluate("dev", program="path/to/project")` runs the project's program (its `Pulumi.yaml`
`main`, default `__main__.py`) with the config of `Pulumi.dev.yaml`, exactly as
`acme_eventsourcing.testing.run_program` does in tests. A stack that reads another stack's
outputs (a `StackReference`, e.g. a stack wrapping the bus a platform stack owns) gets FAKE
outputs, synthesized from the output names and reported in `Program.fake_outputs`, unless
real values are given.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
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
) -> Program:
    """Run the program of the Pulumi project at `program` (default: the working directory)
    for `stack` under recording mocks."""
    main = check_project(Path.cwd() if program is None else program, stack)
    recorded = run_program(
        main,
        stack,
        config_overrides=config_overrides,
        stack_references=stack_references,
        missing_stack_output=fake_output,
    )
    return Program(recorded=recorded, fake_outputs=recorded.faked_outputs)


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
