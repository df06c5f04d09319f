"""AlarmTopic: an encrypted SNS topic that CloudWatch alarms of this account, and only they, may publish to."""

from __future__ import annotations

import json

import pulumi
import pytest
from acme_eventsourcing import AlarmTopic, AlarmTopicArgs
from acme_eventsourcing.testing import RecordedStack, check_stack, record
from acme_eventsourcing.testing.harness import ACCOUNT_ID, REGION

TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
KEY = "aws:kms/key:Key"
ALARMS = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:*"


@pytest.fixture(scope="module")
def stack() -> RecordedStack:
    def program() -> None:
        topic = AlarmTopic("alarms", AlarmTopicArgs(display_name="On call", tags={"owner": "platform"}))
        pulumi.export("topic_arn", topic.topic_arn)
        pulumi.export("key_arn", topic.key_arn)

    return record(program)


def _statements(text: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(text)["Statement"]}


def test_the_topic_is_encrypted_with_its_own_rotated_key(stack: RecordedStack) -> None:
    key, topic = stack.one(KEY, "alarms-key"), stack.one(TOPIC, "alarms")
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"] == stack.outputs["key_arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert topic.inputs["displayName"] == "On call" and topic.inputs["tags"] == {"owner": "platform"}
    assert stack.outputs["topic_arn"] == topic.state["arn"]


def test_only_cloudwatch_alarms_of_this_account_may_publish(stack: RecordedStack) -> None:
    topic = stack.one(TOPIC, "alarms")
    policy = stack.one(TOPIC_POLICY, "alarms-policy")
    assert policy.inputs["arn"] == topic.state["arn"]
    statements = _statements(policy.inputs["policy"])
    publish = statements["CloudWatchAlarmsPublish"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == ["sns:Publish"] and publish["Resource"] == [topic.state["arn"]]
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}, "ArnLike": {"aws:SourceArn": ALARMS}}
    account = statements["AccountManagesTopic"]
    assert account["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"} and "sns:Publish" in account["Action"]


def test_cloudwatch_may_use_the_key_only_for_alarms_of_this_account(stack: RecordedStack) -> None:
    statements = _statements(stack.one(KEY, "alarms-key").inputs["policy"])
    use = statements["CloudWatchAlarmsUseKey"]
    assert use["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(use["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert use["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    assert "kms:ScheduleKeyDeletion" in statements["AccountAdministersKey"]["Action"]


def test_the_topic_breaks_no_policy_rule(stack: RecordedStack) -> None:
    report = check_stack(stack)
    assert report.ok, report.render()
    assert "KMS002" in {r.rule.id for r in report.results if r.checked}, "the key was examined"
