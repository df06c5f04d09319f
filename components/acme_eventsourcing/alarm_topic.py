"""AlarmTopic: the SNS topic every alarm of an account notifies, encrypted with its own key."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from . import _iam, _kms

TYPE_TOKEN = "acme:monitoring:AlarmTopic"

#: What CloudWatch needs of the topic's key to publish to an encrypted topic.
CLOUDWATCH_KEY_ACTIONS: tuple[str, ...] = ("kms:GenerateDataKey", "kms:Decrypt")
#: What the account itself may do with the topic (the statement SNS's default policy holds,
#: kept because a topic policy replaces the default one).
ACCOUNT_TOPIC_ACTIONS: tuple[str, ...] = (
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:AddPermission",
    "sns:RemovePermission",
    "sns:DeleteTopic",
    "sns:Subscribe",
    "sns:ListSubscriptionsByTopic",
    "sns:Publish",
)


@dataclass(frozen=True, kw_only=True)
class AlarmTopicArgs:
    """Arguments of `AlarmTopic`."""

    display_name: str | None = None
    """The topic's display name (shown in e-mail and SMS notifications); None = none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the key and the topic."""


#: The default arguments: no display name, no tags.
_DEFAULTS = AlarmTopicArgs()


class AlarmTopic(pulumi.ComponentResource):
    """The topic alarms notify: give its `topic_arn` as `alarm_actions` of every component
    (`ServiceDefaults.alarm_actions`); subscribe the on-call rota to it (e-mail, a pager, a
    chat webhook) outside this component.

    - an `aws.sns.Topic` encrypted with a customer-managed key (`key`, rotated yearly, 30-day
      deletion window);
    - the key's policy: the account root administers and uses it; `cloudwatch.amazonaws.com`
      may `kms:GenerateDataKey` / `kms:Decrypt` only for alarms of this account (without it,
      an alarm cannot publish to an encrypted topic and the notification is silently lost);
    - the topic policy (`policy`): the account manages the topic as SNS's default policy lets
      it, and `cloudwatch.amazonaws.com` may `sns:Publish` only for alarms of this account
      (`aws:SourceAccount`, and `aws:SourceArn` like `arn:...:cloudwatch:<region>:<account>:alarm:*`).

    Children: `key`, `topic`, `policy`. Outputs: `topic_arn`, `topic_name`, `key_arn`.
    """

    topic_arn: pulumi.Output[str]
    """The topic ARN, for `alarm_actions`."""
    topic_name: pulumi.Output[str]
    """The topic name."""
    key_arn: pulumi.Output[str]
    """The ARN of the key encrypting the topic."""

    def __init__(self, name: str, args: AlarmTopicArgs = _DEFAULTS, opts: pulumi.ResourceOptions | None = None) -> None:
        args = args or AlarmTopicArgs()
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags) or None
        invoke = pulumi.InvokeOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region
        partition = aws.get_partition_output(opts=invoke).partition
        alarms = pulumi.Output.all(partition, region, account).apply(lambda v: f"arn:{v[0]}:cloudwatch:{v[1]}:{v[2]}:alarm:*")
        root = pulumi.Output.all(partition, account).apply(lambda v: f"arn:{v[0]}:iam::{v[1]}:root")
        from_alarms = {"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": alarms}}
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the alarm topic {name}",
            enable_key_rotation=True,
            deletion_window_in_days=_kms.DELETION_WINDOW_DAYS,
            policy=_iam.document(
                [
                    _iam.statement(
                        "AccountAdministersKey",
                        [*_kms.KEY_ADMIN_ACTIONS, *_kms.KEY_USE_ACTIONS],
                        ["*"],
                        principal={"AWS": root},
                    ),
                    _iam.statement(
                        "CloudWatchAlarmsUseKey",
                        list(CLOUDWATCH_KEY_ACTIONS),
                        ["*"],
                        principal={"Service": "cloudwatch.amazonaws.com"},
                        condition=from_alarms,
                    ),
                ]
            ),
            tags=tags,
            opts=child,
        )
        self.topic = aws.sns.Topic(name, display_name=args.display_name, kms_master_key_id=self.key.arn, tags=tags, opts=child)
        statements: list[dict[str, Any]] = [
            _iam.statement("AccountManagesTopic", list(ACCOUNT_TOPIC_ACTIONS), [self.topic.arn], principal={"AWS": root}),
            _iam.statement(
                "CloudWatchAlarmsPublish",
                ["sns:Publish"],
                [self.topic.arn],
                principal={"Service": "cloudwatch.amazonaws.com"},
                condition=from_alarms,
            ),
        ]
        self.policy = aws.sns.TopicPolicy(f"{name}-policy", arn=self.topic.arn, policy=_iam.document(statements), opts=child)
        self.topic_arn = self.topic.arn
        self.topic_name = self.topic.name
        self.key_arn = self.key.arn
        self.register_outputs({"topic_arn": self.topic_arn, "topic_name": self.topic_name, "key_arn": self.key_arn})
