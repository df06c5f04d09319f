"""Evaluate the real Pulumi program under the SDK's mock engine.

`evaluate("dev")` runs the project's `__main__.py` with `Pulumi.dev.yaml`, exactly as the
tests' harness does. A stack that reads another stack's outputs (a `StackReference`, e.g.
prod wrapping the bus a platform stack owns) gets FAKE outputs, synthesized from the
output names and reported in `Program.fake_outputs`, unless real values are given.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from components.testing import RecordedStack, harness, run_program

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
    given = {k: dict(v) for k, v in (stack_references or {}).items()}
    fakes: list[tuple[str, str, Any]] = []
    with _fake_stack_references(given, fakes):
        recorded = run_program(main, stack, config_overrides=config_overrides, stack_references=given)
    return Program(recorded=recorded, fake_outputs=tuple(dict.fromkeys(fakes)))


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


@contextlib.contextmanager
def _fake_stack_references(given: dict[str, dict[str, Any]], fakes: list[tuple[str, str, Any]]) -> Iterator[None]:
    """While the program runs: unknown stack references resolve to no outputs, and reading
    an output that is not given returns `fake_output(...)` (recorded in `fakes`)."""
    original_new_resource = harness.RecordingMocks.new_resource
    original_get, original_require = pulumi.StackReference.get_output, pulumi.StackReference.require_output

    def new_resource(mocks: harness.RecordingMocks, args: pulumi.runtime.MockResourceArgs) -> Any:
        if args.typ == "pulumi:pulumi:StackReference":
            ref = args.inputs.get("name") or args.resource_id or args.name
            mocks.stack_references.setdefault(ref, given.setdefault(ref, {}))
        return original_new_resource(mocks, args)

    def lookup(self: pulumi.StackReference, name: pulumi.Input[str]) -> pulumi.Output[Any]:
        def pick(args: list[Any]) -> Any:
            key, outputs, ref = args
            if key in outputs:
                return outputs[key]
            value = fake_output(ref, key)
            fakes.append((ref, key, value))
            return value

        return pulumi.Output.all(pulumi.Output.from_input(name), self.outputs, self.name).apply(pick)

    harness.RecordingMocks.new_resource = new_resource  # type: ignore[method-assign]
    pulumi.StackReference.get_output = lookup  # type: ignore[method-assign]
    pulumi.StackReference.require_output = lookup  # type: ignore[method-assign]
    try:
        yield
    finally:
        harness.RecordingMocks.new_resource = original_new_resource  # type: ignore[method-assign]
        pulumi.StackReference.get_output = original_get  # type: ignore[method-assign]
        pulumi.StackReference.require_output = original_require  # type: ignore[method-assign]
