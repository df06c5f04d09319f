"""Dead-letter queues: encrypted, TLS-only, alarmed on depth."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from . import _iam, _lambda

#: 14 days, the SQS maximum: time to look at and redrive what failed.
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
#: How long SQS reuses a data key before asking KMS again (the default: few KMS calls).
KMS_DATA_KEY_REUSE_SECONDS = 300


@dataclass(frozen=True)
class DeadLetterQueue:
    """A queue, its policy and its depth alarm."""

    queue: aws.sqs.Queue
    policy: aws.sqs.QueuePolicy
    alarm: aws.cloudwatch.MetricAlarm


def rule_senders(rule_arns: pulumi.Input[str] | Sequence[pulumi.Input[str]]) -> Callable[[aws.sqs.Queue], Sequence[Mapping[str, Any]]]:
    """`senders` for a dead-letter queue of EventBridge rule targets: the events service may
    send to it on behalf of these rules only (`aws:SourceArn`)."""
    return lambda queue: [
        _iam.statement(
            "AllowRuleDeadLetters",
            ["sqs:SendMessage"],
            [queue.arn],
            principal={"Service": "events.amazonaws.com"},
            condition={"ArnEquals": {"aws:SourceArn": rule_arns}},
        )
    ]


def dead_letter_queue(
    name: str,
    *,
    opts: pulumi.ResourceOptions,
    alarm_actions: Sequence[pulumi.Input[str]],
    senders: Callable[[aws.sqs.Queue], Sequence[Mapping[str, Any]]] = lambda _q: (),
    tags: Mapping[str, str] | None = None,
    kms_key_arn: pulumi.Input[str] | None = None,
) -> DeadLetterQueue:
    """An SQS queue encrypted with `kms_key_arn` (SQS-managed SSE without one) and a policy
    that denies non-TLS access; `senders` gives further statements for the policy (e.g. a
    rule allowed to send) given the queue. Senders need kms:GenerateDataKey and kms:Decrypt
    on the key. Alarms when any message is visible. Children: `name`, `{name}-policy`, `{name}-depth`."""
    child = opts
    encryption: dict[str, Any] = (
        {"kms_master_key_id": kms_key_arn, "kms_data_key_reuse_period_seconds": KMS_DATA_KEY_REUSE_SECONDS}
        if kms_key_arn is not None
        else {"sqs_managed_sse_enabled": True}
    )
    queue = aws.sqs.Queue(
        name,
        **encryption,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        tags=dict(tags or {}) or None,
        opts=child,
    )
    policy = aws.sqs.QueuePolicy(
        f"{name}-policy",
        queue_url=queue.url,
        policy=_iam.document([_iam.deny_insecure_transport(queue.arn, "sqs"), *senders(queue)]),
        opts=child,
    )
    alarm = _lambda.metric_alarm(
        f"{name}-depth",
        opts=opts,
        description=f"{name} holds messages that failed processing",
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": queue.name},
        statistic="Maximum",
        threshold=0,
        alarm_actions=alarm_actions,
        tags=tags,
    )
    return DeadLetterQueue(queue=queue, policy=policy, alarm=alarm)
