"""Evaluate the real Pulumi program under the SDK's mock engine.

`evaluate("dev")` runs the project's `__main__.py` with `Pulumi.dev.yaml`, exactly as the
tests' harness does. A stack that reads another stack's outputs (a `StackReference`, e.g.
prod wrapping the bus a platform stack owns) gets FAKE outputs, synthesized from the
output names and reported in `Program.fake_outputs`, unless real values are given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acme_eventsourcing.testing import RecordedStack, harness, run_program

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Program:
    """A recorded run of the program, and which stack-reference outputs were made up."""

    recorded: RecordedStack
    fake_outputs: tuple[tuple[str, str, Any], ...]  # (referenced stack, output name, fake value)


def evaluate(
    stack: str = "dev",
    *,
    root: Path = ROOT,
    config_overrides: Mapping[str, Any] | None = None,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
) -> Program:
    """Run `root/__main__.py` for `stack` under recording mocks."""
    main = root / "__main__.py"
    if not main.exists():
        raise FileNotFoundError(f"no Pulumi program at {main}")
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
