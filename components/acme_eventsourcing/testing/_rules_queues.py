"""Rules on SQS queues: encrypted, TLS only.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._policy_core import Violation
from ._policy_iam import Statement, action_matches
from ._policy_view import (
    QUEUE,
    StackView,
)
from .harness import RecordedStack


@dataclass(frozen=True)
class QueuesEncrypted:
    id: ClassVar[str] = "SQS001"
    title: ClassVar[str] = "Every SQS queue is encrypted at rest"
    rationale: ClassVar[str] = "Dead-letter queues hold whole events, personal data included: SQS-managed SSE or a KMS key."

    def checked(self, stack: RecordedStack) -> int:
        """How many queues the rule examined."""
        return len(StackView.of(stack).of_type(QUEUE))

    def check(self, stack: RecordedStack) -> list[Violation]:
        return [
            Violation.of(self.id, q, "neither sqs_managed_sse_enabled nor kms_master_key_id is set")
            for q in StackView.of(stack).of_type(QUEUE)
            if q.inputs.get("sqsManagedSseEnabled") is not True and not q.inputs.get("kmsMasterKeyId")
        ]


def _denies_insecure_transport(s: Statement, queue_arn: str) -> bool:
    values = s.condition_values("Bool", "aws:SecureTransport") or ()
    return (
        s.effect == "Deny"
        and s.everyone
        and any(action_matches(a, "sqs:*") for a in s.actions)
        and s.covers_resource(queue_arn)
        and any(str(v).lower() == "false" for v in values)
    )


@dataclass(frozen=True)
class QueuesRequireTls:
    id: ClassVar[str] = "SQS002"
    title: ClassVar[str] = "Every SQS queue's policy denies requests without TLS"
    rationale: ClassVar[str] = "SQS accepts plain HTTP unless the queue policy denies `sqs:*` to `*` when aws:SecureTransport is false."

    def checked(self, stack: RecordedStack) -> int:
        """How many queues the rule examined."""
        return len(StackView.of(stack).of_type(QUEUE))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        return [
            Violation.of(self.id, q, "no queue policy denies sqs:* to every principal when aws:SecureTransport is false")
            for q in view.of_type(QUEUE)
            if not any(_denies_insecure_transport(s, q.state.get("arn", "")) for d in view.queue_policies(q) for s in d.statements)
        ]
