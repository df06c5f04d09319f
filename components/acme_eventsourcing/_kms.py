"""Customer-managed KMS keys: one per service, rotated, with a least-privilege key policy.

The key policy has no wildcard action (the policy rules hold key policies to the same
standard as any resource policy):

- `AccountAdministersKey`: the account root may administer and use the key
  (`KEY_ADMIN_ACTIONS` + `KEY_USE_ACTIONS`), so the key can never become unmanageable and
  IAM policies in the account decide who else uses it (each function's role is granted
  exactly what it needs on this key ARN);
- `CloudWatchLogsEncryptsOwnLogGroups`: `logs.<region>.amazonaws.com` may use the key only
  for log groups whose ARN matches the service's own name prefixes (the
  `kms:EncryptionContext:aws:logs:arn` condition);
- `EventBridgeSendsToDeadLetterQueues` (only when the service has rules): the
  `events.amazonaws.com` principal may `kms:GenerateDataKey` / `kms:Decrypt` to deliver
  failed events to the encrypted DLQs, only for rules on the service's bus whose name starts
  with the service's prefix (`aws:SourceArn`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from . import _iam

#: Key management, named in full (no `kms:*`): enough for the account to manage, rotate,
#: re-policy, tag, grant and schedule deletion of the key.
KEY_ADMIN_ACTIONS: tuple[str, ...] = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:ListKeyPolicies",
    "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:ListKeyRotations",
    "kms:RotateKeyOnDemand",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:UpdateKeyDescription",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ListResourceTags",
    "kms:CreateGrant",
    "kms:ListGrants",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
#: Cryptographic use of a symmetric key.
KEY_USE_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
)
#: What CloudWatch Logs needs to encrypt and read a log group's events.
LOGS_ACTIONS: tuple[str, ...] = (*KEY_USE_ACTIONS, "kms:DescribeKey")
#: What EventBridge needs to send to an encrypted SQS dead-letter queue.
EVENTS_DLQ_ACTIONS: tuple[str, ...] = ("kms:GenerateDataKey", "kms:Decrypt")
#: A function's role: decrypt (its environment, encrypted tables, streams and queues) ...
READ_ACTIONS: tuple[str, ...] = ("kms:Decrypt",)
#: ... and, when it writes to an encrypted table or queue, generate data keys.
WRITE_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:GenerateDataKey")
#: Days a key scheduled for deletion can still be recovered (the KMS maximum).
DELETION_WINDOW_DAYS = 30


def key_policy(
    *,
    log_group_prefixes: Sequence[str] = (),
    rule_arn_patterns: Sequence[pulumi.Input[str]] = (),
) -> pulumi.Output[str]:
    """The key policy (see the module doc); ARNs from the caller's account, region and partition."""
    identity = aws.get_caller_identity_output()
    region = aws.get_region_output()
    partition = aws.get_partition_output()

    def build(values: list[Any]) -> pulumi.Output[str]:
        account, region_name, part = values
        statements: list[dict[str, Any]] = [
            _iam.statement(
                "AccountAdministersKey",
                [*KEY_ADMIN_ACTIONS, *KEY_USE_ACTIONS],
                ["*"],
                principal={"AWS": f"arn:{part}:iam::{account}:root"},
            )
        ]
        if log_group_prefixes:
            arns = [f"arn:{part}:logs:{region_name}:{account}:log-group:{p}*" for p in log_group_prefixes]
            statements.append(
                _iam.statement(
                    "CloudWatchLogsEncryptsOwnLogGroups",
                    list(LOGS_ACTIONS),
                    ["*"],
                    principal={"Service": f"logs.{region_name}.amazonaws.com"},
                    condition={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": arns}},
                )
            )
        if rule_arn_patterns:
            statements.append(
                _iam.statement(
                    "EventBridgeSendsToDeadLetterQueues",
                    list(EVENTS_DLQ_ACTIONS),
                    ["*"],
                    principal={"Service": "events.amazonaws.com"},
                    condition={"ArnLike": {"aws:SourceArn": list(rule_arn_patterns)}},
                )
            )
        return _iam.document(statements)

    return pulumi.Output.all(identity.account_id, region.region, partition.partition).apply(build)


def service_key(
    name: str,
    *,
    opts: pulumi.ResourceOptions,
    description: str,
    log_group_prefixes: Sequence[str],
    rule_arn_patterns: Sequence[pulumi.Input[str]] = (),
    tags: Mapping[str, str] | None = None,
    retain: bool = True,
) -> aws.kms.Key:
    """A symmetric key with yearly rotation and the policy above. When the data it encrypts
    is retained, so is the key (`retain`: `protect` and `retain_on_delete`, since a deleted
    key makes retained tables unreadable); a 30-day deletion window either way."""
    return aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=DELETION_WINDOW_DAYS,
        policy=key_policy(log_group_prefixes=log_group_prefixes, rule_arn_patterns=rule_arn_patterns),
        tags=dict(tags or {}) or None,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=retain, retain_on_delete=retain)),
    )


def use_statement(key_arn: pulumi.Input[str], *, writes: bool) -> dict[str, Any]:
    """A role's grant on the service key: decrypt, plus data keys if it writes encrypted data."""
    return _iam.statement("UseServiceKey", list(WRITE_ACTIONS if writes else READ_ACTIONS), [key_arn])
