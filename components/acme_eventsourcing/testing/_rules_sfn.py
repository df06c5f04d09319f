"""Rules on Step Functions state machines: logged, traced, alarmed, least privilege.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._policy_core import Violation
from ._policy_iam import UNSCOPABLE_ACTIONS, is_unscoped_resource
from ._policy_view import ROLE, STATE_MACHINE, StackView, _number, get
from .harness import RecordedStack

#: The AWS/States metrics every state machine needs an alarm on (dimension StateMachineArn).
WORKFLOW_FAILURE_METRICS: tuple[str, ...] = ("ExecutionsFailed", "ExecutionsTimedOut")


class _MachineRule:
    resource_types: ClassVar[tuple[str, ...]] = (STATE_MACHINE,)

    def checked(self, stack: RecordedStack) -> int:
        """How many state machines the rule examined."""
        return len(StackView.of(stack).of_type(STATE_MACHINE))


@dataclass(frozen=True)
class StateMachinesLogged(_MachineRule):
    id: ClassVar[str] = "SFN001"
    title: ClassVar[str] = "Every state machine logs (level ALL, ERROR or FATAL) to a retained log group of the stack"
    rationale: ClassVar[str] = (
        "A failed execution of a Standard workflow is kept 90 days in the console, an Express one not at "
        "all: logging_configuration.level other than OFF, with log_destination `<log group arn>:*` naming "
        "a log group declared in the stack with a positive retention_in_days."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for m in view.of_type(STATE_MACHINE):
            config = m.inputs.get("loggingConfiguration") or {}
            level, destination = config.get("level", "OFF"), config.get("logDestination")
            group = view.log_group_of_arn(destination)
            if level not in ("ALL", "ERROR", "FATAL"):
                out.append(Violation.of(self.id, m, f"logging_configuration.level is {level!r}; set ALL, ERROR or FATAL"))
            elif group is None:
                out.append(Violation.of(self.id, m, f"log_destination {destination!r} is not a log group of this stack"))
            elif (_number(group.inputs.get("retentionInDays")) or 0) <= 0:
                out.append(Violation.of(self.id, m, f"its log group {group.name!r} has no retention_in_days"))
        return out


@dataclass(frozen=True)
class StateMachinesTraced(_MachineRule):
    id: ClassVar[str] = "SFN002"
    title: ClassVar[str] = "Every state machine has X-Ray tracing enabled"
    rationale: ClassVar[str] = (
        "The trace of a command continues through the workflow's tasks (the Lambda functions are traced): "
        "tracing_configuration.enabled true."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        return [
            Violation.of(self.id, m, "tracing_configuration.enabled is not true")
            for m in StackView.of(stack).of_type(STATE_MACHINE)
            if get(m.inputs, "tracingConfiguration", "enabled") is not True
        ]


@dataclass(frozen=True)
class StateMachineFailureAlarms(_MachineRule):
    metrics: tuple[str, ...] = WORKFLOW_FAILURE_METRICS

    id: ClassVar[str] = "SFN003"
    title: ClassVar[str] = "Every state machine has alarms on failed and timed-out executions"
    rationale: ClassVar[str] = (
        "A workflow that fails (or times out) half-way leaves work undone with no error anywhere else: "
        "alarm on AWS/States ExecutionsFailed and ExecutionsTimedOut with its StateMachineArn."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for m in view.of_type(STATE_MACHINE):
            arn = str(m.state.get("arn"))
            missing = [metric for metric in self.metrics if not view.alarms_on("AWS/States", metric, "StateMachineArn", arn)]
            if missing:
                out.append(Violation.of(self.id, m, f"no alarm on AWS/States {missing} with StateMachineArn={arn!r}"))
        return out


@dataclass(frozen=True)
class StateMachineRolesScoped(_MachineRule):
    unscopable_actions: frozenset[str] = UNSCOPABLE_ACTIONS

    id: ClassVar[str] = "SFN004"
    title: ClassVar[str] = "Every state machine has its own declared role, with no wildcard actions or resources"
    rationale: ClassVar[str] = (
        "The workflow's role is what its tasks may do: declared in the stack, used by this state machine "
        "only, every Allow naming its actions in full, and `*` resources only for the actions AWS cannot "
        "scope (UNSCOPABLE_ACTIONS: X-Ray, CloudWatch Logs' log delivery)."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        allowed = {a.lower() for a in self.unscopable_actions}
        out = []
        for m in view.of_type(STATE_MACHINE):
            role = view.find(ROLE, m.inputs.get("roleArn"))
            if role is None:
                out.append(Violation.of(self.id, m, f"role {m.inputs.get('roleArn')!r} is not a role declared in this stack"))
                continue
            problems = []
            others = sorted(u.name for u in view.role_users.get(role.urn, []) if u.urn != m.urn)
            if others:
                problems.append(f"role {role.name!r} is shared with {others}")
            for doc, s in view.allow_statements(role):
                where = f"role {role.name!r} {doc.where}: {s.label}"
                wild = [a for a in s.actions if "*" in a or "?" in a] + (
                    [f"NotAction {list(s.not_actions)}"] if s.not_actions is not None else []
                )
                if wild:
                    problems.append(f"{where} allows wildcard actions {wild}")
                unscoped = [r for r in s.resources if is_unscoped_resource(r)] + (["NotResource"] if s.not_resources is not None else [])
                scopable = [a for a in s.actions if a.lower() not in allowed]
                if unscoped and scopable:
                    problems.append(f"{where} allows {scopable} on {unscoped}")
            if problems:
                out.append(Violation.of(self.id, m, "; ".join(problems)))
        return out
