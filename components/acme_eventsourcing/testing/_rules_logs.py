"""Rules on logs: retention, a declared log group per function.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._policy_core import Violation
from ._policy_view import (
    FUNCTION,
    LOG_GROUP,
    StackView,
    _number,
    get,
)
from .harness import RecordedStack


@dataclass(frozen=True)
class LogGroupsRetained:
    id: ClassVar[str] = "LOG001"
    title: ClassVar[str] = "Every log group has a retention period"
    rationale: ClassVar[str] = "Logs kept forever cost money and keep personal data longer than needed."

    def checked(self, stack: RecordedStack) -> int:
        """How many log groups the rule examined."""
        return len(StackView.of(stack).of_type(LOG_GROUP))

    def check(self, stack: RecordedStack) -> list[Violation]:
        return [
            Violation.of(self.id, g, f"retention_in_days is {g.inputs.get('retentionInDays')!r}; set a positive number of days")
            for g in StackView.of(stack).of_type(LOG_GROUP)
            if (_number(g.inputs.get("retentionInDays")) or 0) <= 0
        ]


@dataclass(frozen=True)
class FunctionsHaveLogGroups:
    id: ClassVar[str] = "LOG002"
    title: ClassVar[str] = "Every function logs to a log group declared in the stack"
    rationale: ClassVar[str] = (
        "Without a declared log group Lambda creates one on first write, with no retention and "
        "outside the stack. The group is the function's logging_config.log_group, or /aws/lambda/<name>."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many functions the rule examined."""
        return len(StackView.of(stack).of_type(FUNCTION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        names = {view.physical_name(g) for g in view.of_type(LOG_GROUP)}
        out = []
        for fn in view.of_type(FUNCTION):
            expected = get(fn.inputs, "loggingConfig", "logGroup") or f"/aws/lambda/{view.physical_name(fn)}"
            if expected not in names:
                out.append(Violation.of(self.id, fn, f"logs to {expected!r}, which is not a log group of this stack"))
        return out
