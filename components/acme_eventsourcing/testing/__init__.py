"""Testing helpers for programs built with our components.

- `record` / `run_program`: run a Pulumi program under the SDK's mock engine and record
  every resource, its resolved inputs and its resource options.
- `policy`: the rule set (least privilege, retention, DLQs, ...) to check a recorded stack, and the
  whole-system rules (`check_system`) over several programs at once.
"""

from __future__ import annotations

from .harness import RecordedResource, RecordedStack, RecordingMocks, load_stack_config, record, run_program
from .policy import DEFAULT_RULES, SYSTEM_RULES, Exemption, PolicyReport, Violation, check_stack, check_system

__all__ = [
    "DEFAULT_RULES",
    "SYSTEM_RULES",
    "Exemption",
    "PolicyReport",
    "RecordedResource",
    "RecordedStack",
    "RecordingMocks",
    "Violation",
    "check_stack",
    "check_system",
    "load_stack_config",
    "record",
    "run_program",
]
