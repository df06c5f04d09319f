"""The platform program (`platform/__main__.py`) under mocks, with each of its stack files:
what it owns (the bus, its archive and policy, the event backup, the alarm topic), what it
exports for the service stacks, and that the service stacks which reference it own none of it."""

from __future__ import annotations

import json

import pytest
from acme_eventsourcing.testing import RecordedStack, check_stack
from stacks_under_test import PLATFORM_MAIN, PLATFORM_STACKS, STACKS, platform_stack, recorded_stack

BUS = "aws:cloudwatch/eventBus:EventBus"
ARCHIVE = "aws:cloudwatch/eventArchive:EventArchive"
BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
TOPIC = "aws:sns/topic:Topic"
BUCKET = "aws:s3/bucket:Bucket"
DELIVERY_STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
RULE = "aws:cloudwatch/eventRule:EventRule"
#: What only the platform stack may own: a service stack that declared one would fight the
#: platform over it (or delete the shared archive or backup with its own `pulumi destroy`).
PLATFORM_OWNED = (BUS, ARCHIVE, BUS_POLICY, BUCKET, DELIVERY_STREAM, "acme:events:EventBackup")
#: What every service stack reads from the platform stack (`bus_stack`).
READ_BY_SERVICES = {"bus_name", "bus_arn", "alarm_topic_arn"}


@pytest.fixture(scope="module", params=PLATFORM_STACKS)
def platform(request: pytest.FixtureRequest) -> RecordedStack:
    return platform_stack(request.param)


def test_the_platform_has_the_stacks_the_services_reference() -> None:
    assert PLATFORM_MAIN.is_file()
    assert {"dev", "prod"} <= set(PLATFORM_STACKS) and set(STACKS) <= set(PLATFORM_STACKS)


def test_the_platform_has_no_policy_violations(platform: RecordedStack) -> None:
    report = check_stack(platform)
    if not report.ok:
        pytest.fail("\n" + report.render(), pytrace=False)
    checked = {r.rule.id for r in report.results if r.checked}
    assert {"KMS002", "RES001"} <= checked, f"the key and the resource policies were examined: {sorted(checked)}"


def test_the_platform_owns_the_bus_archive_backup_and_alarm_topic(platform: RecordedStack) -> None:
    bus = platform.one(BUS, "platform-bus")
    archive = platform.one(ARCHIVE, "platform-bus-archive")
    assert archive.inputs["eventSourceArn"] == bus.state["arn"]
    topic = platform.one(TOPIC, "platform-alarms")
    assert topic.inputs["kmsMasterKeyId"] == platform.one("aws:kms/key:Key", "platform-alarms-key").state["arn"]
    bucket = platform.one(BUCKET, "platform-backup-bucket")
    stream = platform.one(DELIVERY_STREAM, "platform-backup-stream")
    assert platform.outputs == {
        "bus_name": bus.state["name"],
        "bus_arn": bus.state["arn"],
        "archive_name": archive.state["name"],
        "archive_arn": archive.state["arn"],
        "alarm_topic_arn": topic.state["arn"],
        "backup_bucket_name": bucket.state["bucket"],
        "backup_bucket_arn": bucket.state["arn"],
        "backup_delivery_stream_name": stream.state["name"],
    }
    assert set(platform.outputs) >= READ_BY_SERVICES
    tagged = [r for r in platform.resources if r.custom and "tags" in r.inputs]
    assert tagged and all(r.inputs["tags"] == {"project": "platform", "stack": platform.stack} for r in tagged)


def test_the_backup_copies_every_event_of_the_platform_bus_and_alarms_to_the_topic(platform: RecordedStack) -> None:
    rule = platform.one(RULE, "platform-backup-rule")
    assert rule.inputs["eventBusName"] == platform.outputs["bus_name"]
    assert json.loads(rule.inputs["eventPattern"]) == {"source": [{"anything-but": {"suffix": ".live"}}]}  # not live notices
    target = platform.one("aws:cloudwatch/eventTarget:EventTarget", "platform-backup-target")
    assert target.inputs["arn"] == platform.one(DELIVERY_STREAM, "platform-backup-stream").state["arn"]
    bucket = platform.one(BUCKET, "platform-backup-bucket")
    assert bucket.options["protect"] and bucket.options["retain_on_delete"], "the backup outlives the stack"
    alarms = platform.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarms and {tuple(a.inputs["alarmActions"]) for a in alarms} == {(platform.outputs["alarm_topic_arn"],)}


def test_dev_archives_a_month_and_lets_only_its_account_put_events() -> None:
    dev = platform_stack("dev")
    assert dev.one(ARCHIVE, "platform-bus-archive").inputs["retentionDays"] == 30
    assert BUS_POLICY not in dev.counts()


def test_prod_archives_a_year_and_lets_the_organization_put_events() -> None:
    prod = platform_stack("prod")
    assert prod.one(ARCHIVE, "platform-bus-archive").inputs["retentionDays"] == 365
    [statement] = json.loads(prod.one(BUS_POLICY, "platform-bus-policy").inputs["policy"])["Statement"]
    assert statement["Action"] == ["events:PutEvents"] and statement["Resource"] == [prod.one(BUS, "platform-bus").state["arn"]]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-acme0example"}}


@pytest.mark.parametrize("stack_name", STACKS)
def test_service_stacks_own_nothing_the_platform_owns(stack_name: str) -> None:
    service = recorded_stack(stack_name)
    assert [t for t in PLATFORM_OWNED if t in service.counts()] == []
    assert TOPIC not in service.counts()
    [reference] = service.of_type("pulumi:pulumi:StackReference")
    assert reference.id == f"acme/platform/{stack_name}"
