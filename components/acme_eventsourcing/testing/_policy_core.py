"""The policy engine: rules, violations, exemptions and the report."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._policy_view import StackView
from .harness import RecordedResource, RecordedStack

#: The rule id under which an exemption that matched nothing is reported.
UNUSED_EXEMPTION = "EXEMPT"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass(frozen=True)
class Violation:
    """One resource breaking one rule."""

    rule_id: str
    resource_type: str
    resource_name: str
    urn: str
    message: str

    @classmethod
    def of(cls, rule_id: str, resource: RecordedResource, message: str) -> Violation:
        return cls(rule_id, resource.type, resource.name, resource.urn, message)

    @property
    def program(self) -> str:
        """`project/stack` of the program that declared the resource (from its URN), "" if none."""
        parts = self.urn.split("::")
        return f"{parts[1]}/{parts[0].removeprefix('urn:pulumi:')}" if len(parts) > 2 else ""

    def render(self, *, with_program: bool = False) -> str:
        where = f"{self.program}: " if with_program and self.program else ""
        return f"{where}{self.resource_name} ({self.resource_type}): {self.message}"


@runtime_checkable
class Rule(Protocol):
    """What `check_stack` needs of a rule; subclass nothing, just provide these. A rule may
    also have `checked(stack) -> int`, how many resources it examined, which the report
    shows so that a rule passing on nothing is visible."""

    id: str
    title: str
    rationale: str

    def check(self, stack: RecordedStack) -> list[Violation]: ...


@dataclass(frozen=True)
class Exemption:
    """A justified exception: `rule_id` does not apply to the resource named `resource_name`
    (its Pulumi logical name, as in `RecordedResource.name`). For `check_system`, where two
    programs may use one logical name, `program` ("project/stack") narrows it to one of them."""

    rule_id: str
    resource_name: str
    reason: str
    program: str | None = None

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError(f"exemption of {self.resource_name!r} from {self.rule_id} needs a reason")

    def matches(self, violation: Violation) -> bool:
        return (
            violation.rule_id == self.rule_id
            and violation.resource_name == self.resource_name
            and (self.program is None or violation.program == self.program)
        )


@dataclass(frozen=True)
class RuleResult:
    """What one rule found: open violations and the violations exemptions covered."""

    rule: Rule
    violations: tuple[Violation, ...]
    exempted: tuple[tuple[Violation, Exemption], ...] = ()
    #: How many resources (or documents) the rule examined; None if the rule does not say.
    checked: int | None = None

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class PolicyReport:
    """The result of `check_stack`: `.ok`, `.violations`, and `.render()` for people."""

    stack_name: str
    results: tuple[RuleResult, ...]
    unused_exemptions: tuple[Exemption, ...] = field(default=())
    #: True for a `check_system` report: each violation names its program.
    system: bool = False

    @property
    def violations(self) -> list[Violation]:
        """Open violations of every rule, then one per exemption that matched nothing."""
        found = [v for r in self.results for v in r.violations]
        for e in self.unused_exemptions:
            message = f"exemption from {e.rule_id} matched no violation (reason: {e.reason})"
            found.append(Violation(UNUSED_EXEMPTION, "exemption", e.resource_name, "", message))
        return found

    @property
    def ok(self) -> bool:
        return not self.violations

    def for_rule(self, rule_id: str) -> list[Violation]:
        return [v for v in self.violations if v.rule_id == rule_id]

    def render(self) -> str:
        """Per rule: PASS/FAIL, counts, and each violation with its resource."""
        failed = sum(1 for r in self.results if not r.ok)
        exempted = sum(len(r.exempted) for r in self.results)
        lines = [
            f"Policy report for {'system' if self.system else 'stack'} {self.stack_name}: {_count(len(self.results), 'rule')}, "
            f"{len(self.results) - failed} passed, {failed} failed; "
            f"{_count(len(self.violations), 'violation')}, {exempted} exempted"
        ]
        for result in self.results:
            counts = [f"{result.checked} checked"] if result.checked is not None else []
            counts += [_count(len(result.violations), "violation")] if result.violations else []
            counts += [f"{len(result.exempted)} exempted"] if result.exempted else []
            suffix = f" ({', '.join(counts)})" if counts else ""
            lines.append(f"  {'PASS' if result.ok else 'FAIL'} {result.rule.id} {result.rule.title}{suffix}")
            lines += [f"       - {v.render(with_program=self.system)}" for v in result.violations]
            lines += [f"       ~ exempted {v.resource_name}: {e.reason}" for v, e in result.exempted]
        if self.unused_exemptions:
            lines.append(f"  FAIL {UNUSED_EXEMPTION} every exemption matches a violation ({len(self.unused_exemptions)} unused)")
            lines += [f"       - {e.rule_id} {e.resource_name}: matched nothing (reason given: {e.reason})" for e in self.unused_exemptions]
        return "\n".join(lines)


def _report(
    name: str,
    rules: Sequence[Any],
    run: Callable[[Any], tuple[list[Violation], int | None]],
    exemptions: Iterable[Exemption],
    *,
    system: bool = False,
) -> PolicyReport:
    """Run each rule with `run(rule) -> (violations, checked)` and apply `exemptions`."""
    counts = Counter(r.id for r in rules)
    duplicates = sorted(i for i, n in counts.items() if n > 1)
    if duplicates:
        raise ValueError(f"rule ids must be unique; repeated: {duplicates}")
    exemptions = tuple(exemptions)
    by_rule: dict[str, list[Exemption]] = {}
    for e in exemptions:
        by_rule.setdefault(e.rule_id, []).append(e)  # the first that matches, as listed
    used: set[Exemption] = set()
    results = []
    for rule in rules:
        open_: list[Violation] = []
        covered: list[tuple[Violation, Exemption]] = []
        violations, checked = run(rule)
        for violation in sorted(violations, key=lambda v: (v.resource_name, v.program, v.resource_type, v.message)):
            exemption = next((e for e in by_rule.get(violation.rule_id, ()) if e.matches(violation)), None)
            if exemption is None:
                open_.append(violation)
            else:
                used.add(exemption)
                covered.append((violation, exemption))
        results.append(RuleResult(rule, tuple(open_), tuple(covered), checked))
    unused = tuple(e for e in exemptions if e not in used)
    return PolicyReport(name, tuple(results), unused, system)


def run_rules(stack: RecordedStack, rules: Sequence[Rule], exemptions: Iterable[Exemption] = ()) -> PolicyReport:
    """Run `rules` over `stack` and apply `exemptions` (`check_stack` with the rules given).
    Every rule shares one `StackView` of the stack (`StackView.of(stack)`), indexed once."""

    def run(rule: Rule) -> tuple[list[Violation], int | None]:
        checked = getattr(rule, "checked", None)
        return rule.check(stack), checked(stack) if callable(checked) else None

    with StackView(stack).shared():
        return _report(f"{stack.project}/{stack.stack}", rules, run, exemptions)


@runtime_checkable
class SystemRule(Protocol):
    """What `check_system` needs of a whole-system rule: `check_system(stacks)` sees every
    program at once (a platform stack and service stacks). It may also have
    `checked_system(stacks) -> int`, how many resources it examined."""

    id: str
    title: str
    rationale: str

    def check_system(self, stacks: Sequence[RecordedStack]) -> list[Violation]: ...


def run_system_rules(stacks: Sequence[RecordedStack], rules: Sequence[SystemRule], exemptions: Iterable[Exemption] = ()) -> PolicyReport:
    """Run whole-system `rules` over `stacks` and apply `exemptions` (`check_system`)."""
    stacks = tuple(stacks)
    if not stacks:
        raise ValueError("check_system needs at least one recorded program")
    names = [f"{s.project}/{s.stack}" for s in stacks]
    if len(set(names)) != len(names):
        raise ValueError(f"each program must appear once; got {names}")

    def run(rule: SystemRule) -> tuple[list[Violation], int | None]:
        checked = getattr(rule, "checked_system", None)
        return rule.check_system(stacks), checked(stacks) if callable(checked) else None

    with contextlib.ExitStack() as shared:
        for stack in stacks:
            shared.enter_context(StackView(stack).shared())
        return _report(" + ".join(names), rules, run, exemptions, system=True)


def replace_rules(rules: Sequence[Rule], *replacements: Rule) -> tuple[Rule, ...]:
    """`rules` with each rule of the same id as a replacement swapped for it (a rule with
    a new id is appended), e.g. to widen the public routes of `API001`."""
    by_id = {r.id: r for r in replacements}
    kept = tuple(by_id.pop(r.id, r) for r in rules)
    return kept + tuple(by_id.values())
