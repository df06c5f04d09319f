"""Rules on KMS: customer-managed keys everywhere, keys rotated, manageable and retained with their data.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ._policy_core import Violation
from ._policy_view import (
    FUNCTION,
    KMS_KEY,
    LOG_GROUP,
    QUEUE,
    TABLE,
    StackView,
    get,
)
from .harness import RecordedStack


def _customer_key(value: Any) -> bool:
    """A KMS key reference that is not an AWS-managed alias (`alias/aws/...`)."""
    return isinstance(value, str) and bool(value) and "alias/aws/" not in value


@dataclass(frozen=True)
class CustomerManagedKeys:
    id: ClassVar[str] = "KMS001"
    title: ClassVar[str] = "Tables, queues, log groups and function environments use a customer-managed key"
    rationale: ClassVar[str] = (
        "With AWS-owned or AWS-managed keys the owner cannot restrict, audit per service, rotate on "
        "demand or revoke access to the data: every table (server_side_encryption.kms_key_arn), queue "
        "(kms_master_key_id, not alias/aws/sqs), log group (kms_key_id) and function with environment "
        "variables (kms_key_arn) names a customer-managed key. Opting out is an Exemption with a reason."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many tables, queues, log groups and functions the rule examined."""
        return sum(len(StackView.of(stack).of_type(t)) for t in (TABLE, QUEUE, LOG_GROUP, FUNCTION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for t in StackView.of(stack).of_type(TABLE):
            if (
                not _customer_key(get(t.inputs, "serverSideEncryption", "kmsKeyArn"))
                or get(t.inputs, "serverSideEncryption", "enabled") is not True
            ):
                out.append(Violation.of(self.id, t, "server_side_encryption names no customer-managed kms_key_arn"))
        for q in StackView.of(stack).of_type(QUEUE):
            if not _customer_key(q.inputs.get("kmsMasterKeyId")):
                out.append(Violation.of(self.id, q, f"kms_master_key_id is {q.inputs.get('kmsMasterKeyId')!r}, not a customer-managed key"))
        for g in StackView.of(stack).of_type(LOG_GROUP):
            if not _customer_key(g.inputs.get("kmsKeyId")):
                out.append(Violation.of(self.id, g, "no kms_key_id: the log group uses CloudWatch Logs' default encryption"))
        for fn in StackView.of(stack).of_type(FUNCTION):
            if (get(fn.inputs, "environment", "variables") or {}) and not _customer_key(fn.inputs.get("kmsKeyArn")):
                out.append(Violation.of(self.id, fn, "has environment variables but no kms_key_arn (Lambda's AWS-managed key)"))
        return out


@dataclass(frozen=True)
class KeysManagedAndRotated:
    id: ClassVar[str] = "KMS002"
    title: ClassVar[str] = "Every KMS key rotates, stays manageable by its account, and outlives the data it protects"
    rationale: ClassVar[str] = (
        "A key must rotate (enable_key_rotation), have an explicit policy whose Allow to the account root "
        "(arn:...:iam::<account>:root) includes kms:PutKeyPolicy and kms:ScheduleKeyDeletion, so the key "
        "can never become unmanageable; a key encrypting a retained table or bucket must be protected and "
        "retained too (retain_on_delete), since deleting it makes the data unreadable."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many KMS keys the rule examined."""
        return len(StackView.of(stack).of_type(KMS_KEY))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        policies = {d.source.urn: d for d in view.resource_documents if d.source.type == KMS_KEY}
        retained_by_key: dict[Any, list[str]] = {}  # key reference -> the retained tables and buckets it encrypts
        for t in view.of_type(TABLE):
            if t.options.get("retain_on_delete") is True:
                retained_by_key.setdefault(get(t.inputs, "serverSideEncryption", "kmsKeyArn"), []).append(t.name)
        for b in view.buckets:
            if b.options.get("retain_on_delete") is True:
                for key_ref in {e.get("kmsMasterKeyId") for e in view.bucket_encryption(b)} - {None}:
                    retained_by_key.setdefault(key_ref, []).append(b.name)
        out = []
        for key in view.of_type(KMS_KEY):
            problems = []
            if key.inputs.get("enableKeyRotation") is not True:
                problems.append("enable_key_rotation is not true")
            doc = policies.get(key.urn)
            if doc is None:
                problems.append("no explicit key policy")
            elif not any(
                s.allow
                and _is_account_root(s.principal)
                and s.grants_action("kms:PutKeyPolicy")
                and s.grants_action("kms:ScheduleKeyDeletion")
                for s in doc.statements
            ):
                problems.append("no policy statement lets the account root administer the key (kms:PutKeyPolicy, kms:ScheduleKeyDeletion)")
            arns = {key.state.get("arn"), key.id, key.state.get("keyId")} - {None, ""}
            retained = [name for ref in arns for name in retained_by_key.get(ref, [])]
            if retained and not (key.options.get("retain_on_delete") is True and key.options.get("protect") is True):
                problems.append(f"encrypts retained tables or buckets {sorted(retained)} but is not itself protected and retain_on_delete")
            if problems:
                out.append(Violation.of(self.id, key, "; ".join(problems)))
        return out


def _is_account_root(principal: Any) -> bool:
    aws_principals = principal.get("AWS") if isinstance(principal, dict) else None
    values = aws_principals if isinstance(aws_principals, list) else [aws_principals]
    return any(isinstance(v, str) and (v.endswith(":root") or v.isdigit()) for v in values)
