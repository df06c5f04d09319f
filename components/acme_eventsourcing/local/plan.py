"""`local plan`: the offline preview - resource tree, counts per type, policy report."""

from __future__ import annotations

from collections import defaultdict

from acme_eventsourcing.testing import RecordedResource, RecordedStack
from acme_eventsourcing.testing.policy import PolicyReport, check_stack

from .program import Program


def tree_lines(stack: RecordedStack) -> list[str]:
    """Every resource as `type  name  [physical name]`, indented under its parent."""
    urns = {r.urn for r in stack.resources}
    children: dict[str | None, list[RecordedResource]] = defaultdict(list)
    for r in stack.resources:
        children[r.parent_urn if r.parent_urn in urns else None].append(r)
    width = max((len(r.type) for r in stack.resources), default=0)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            physical = r.state.get("name") if r.custom else None
            extra = f"  [{physical}]" if physical and physical != r.name else ""
            flags = " (protect, retain)" if r.options.get("protect") and r.options.get("retain_on_delete") else ""
            lines.append(f"{'  ' * depth}{r.type:<{width}}  {r.name}{extra}{flags}")
            walk(r.urn, depth + 1)

    walk(None, 0)
    return lines


def count_lines(stack: RecordedStack) -> list[str]:
    return [f"{n:4d}  {t}" for t, n in stack.counts().items()] + [f"{len(stack.resources):4d}  total"]


def render(program: Program) -> tuple[str, PolicyReport]:
    """The plan as text, and the policy report (its `.ok` decides the exit status)."""
    stack = program.recorded
    report = check_stack(stack)
    out = [f"Plan for stack {stack.stack!r} of project {stack.project!r} (Pulumi mock engine, nothing deployed)", ""]
    for ref, name, value in program.fake_outputs:
        out.append(f"FAKE stack reference output: {ref} -> {name} = {value!r} (synthesized; pass real values to check them)")
    for ref, name, project in program.read_outputs:
        out.append(f"stack reference output: {ref} -> {name} read from the program {project!r} evaluated before")
    if program.fake_outputs or program.read_outputs:
        out.append("")
    out += ["Resources:", *tree_lines(stack), "", "Count per type:", *count_lines(stack), ""]
    if stack.outputs:
        out.append("Stack outputs:")
        out += [f"  {k} = {v!r}" for k, v in sorted(stack.outputs.items())]
        out.append("")
    out.append(report.render())
    return "\n".join(out), report
