"""SharedEventBus: a created bus with its archive and policy, or a wrapped one that creates nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from acme_eventsourcing import EventBusRef, SharedEventBus, SharedEventBusArgs
from acme_eventsourcing.testing import RecordedStack, record

BUS = "aws:cloudwatch/eventBus:EventBus"
ARCHIVE = "aws:cloudwatch/eventArchive:EventArchive"
BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
PLATFORM_ARN = "arn:aws:events:us-east-1:111122223333:event-bus/platform"


def _record(make: Callable[[], SharedEventBus], **kwargs: Any) -> RecordedStack:
    def program() -> None:
        bus = make()
        pulumi.export("bus_name", bus.bus_name)
        pulumi.export("bus_arn", bus.bus_arn)

    return record(program, **kwargs)


def _aws_resources(stack: RecordedStack) -> list[str]:
    return [r.type for r in stack.resources if r.type.startswith("aws:")]


@pytest.fixture(scope="module")
def created() -> RecordedStack:
    return _record(lambda: SharedEventBus("events"))


def test_creates_a_bus_archiving_every_event_for_a_year(created: RecordedStack) -> None:
    bus = created.one(BUS, "events")
    archive = created.one(ARCHIVE, "events-archive")
    assert archive.inputs["eventSourceArn"] == bus.state["arn"]
    assert archive.inputs["retentionDays"] == 365
    assert "eventPattern" not in archive.inputs
    assert sorted(_aws_resources(created)) == [ARCHIVE, BUS]
    assert created.outputs == {"bus_name": bus.state["name"], "bus_arn": bus.state["arn"]}
    assert bus.parent_urn == created.one("acme:events:SharedEventBus", "events").urn


def test_archive_retention_is_configurable_and_zero_keeps_events_forever() -> None:
    stack = _record(lambda: SharedEventBus("events", SharedEventBusArgs(archive_retention_days=0)))
    assert stack.one(ARCHIVE, "events-archive").inputs["retentionDays"] == 0


def test_bus_policy_grants_put_events_on_this_bus_to_named_accounts_and_an_organisation() -> None:
    stack = _record(
        lambda: SharedEventBus(
            "events",
            SharedEventBusArgs(
                allowed_account_ids=["111122223333", "444455556666"], allowed_organization_id="o-abc123def45", tags={"owner": "platform"}
            ),
        )
    )
    bus = stack.one(BUS, "events")
    policy = stack.one(BUS_POLICY, "events-policy")
    assert policy.inputs["eventBusName"] == bus.state["name"]
    assert json.loads(policy.inputs["policy"])["Statement"] == [
        {
            "Sid": "AllowPutEventsFromAccounts",
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"]},
            "Action": ["events:PutEvents"],
            "Resource": [bus.state["arn"]],
        },
        {
            "Sid": "AllowPutEventsFromOrganization",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["events:PutEvents"],
            "Resource": [bus.state["arn"]],
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123def45"}},
        },
    ]
    assert bus.inputs["tags"] == {"owner": "platform"}


def test_a_customer_key_encrypts_the_bus_and_its_log_group_and_the_default_is_the_aws_owned_key() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/platform"
    stack = _record(lambda: SharedEventBus("events", SharedEventBusArgs(log_level="ERROR", kms_key_identifier=key)))
    assert stack.one(BUS, "events").inputs["kmsKeyIdentifier"] == key
    assert stack.one("aws:cloudwatch/logGroup:LogGroup", "events-logs").inputs["kmsKeyId"] == key
    default = _record(lambda: SharedEventBus("events", SharedEventBusArgs(log_level="ERROR")))
    assert "kmsKeyIdentifier" not in default.one(BUS, "events").inputs
    assert "kmsKeyId" not in default.one("aws:cloudwatch/logGroup:LogGroup", "events-logs").inputs


def test_logging_delivers_the_chosen_levels_to_a_log_group_only_those_sources_can_write() -> None:
    stack = _record(lambda: SharedEventBus("events", SharedEventBusArgs(log_level="INFO", log_retention_days=14)))
    bus = stack.one(BUS, "events")
    assert bus.inputs["logConfig"] == {"level": "INFO", "includeDetail": "FULL"}
    group = stack.one("aws:cloudwatch/logGroup:LogGroup", "events-logs")
    assert group.inputs["retentionInDays"] == 14
    sources = stack.of_type("aws:cloudwatch/logDeliverySource:LogDeliverySource")
    assert sorted(s.inputs["logType"] for s in sources) == ["ERROR_LOGS", "INFO_LOGS"]
    assert {s.inputs["resourceArn"] for s in sources} == {bus.state["arn"]}
    deliveries = stack.of_type("aws:cloudwatch/logDelivery:LogDelivery")
    destination = stack.one("aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination", "events-logs-destination")
    assert destination.inputs["deliveryDestinationConfiguration"] == {"destinationResourceArn": group.state["arn"]}
    assert {d.inputs["deliverySourceName"] for d in deliveries} == {s.inputs["name"] for s in sources}
    statement = json.loads(stack.one("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "events-logs-policy").inputs["policyDocument"])[
        "Statement"
    ][0]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Resource"] == [group.state["arn"] + ":*"]
    assert sorted(statement["Condition"]["ArnLike"]["aws:SourceArn"]) == sorted(s.state["arn"] for s in sources)


def test_wrapping_by_arn_creates_nothing_and_derives_the_name() -> None:
    stack = _record(lambda: SharedEventBus.from_arn("events", PLATFORM_ARN))
    assert _aws_resources(stack) == []
    assert stack.outputs == {"bus_name": "platform", "bus_arn": PLATFORM_ARN}


def test_wrapping_by_name_builds_the_arn_from_this_account_and_region() -> None:
    stack = _record(lambda: SharedEventBus.from_name("events", "platform"))
    assert _aws_resources(stack) == []
    assert stack.outputs == {"bus_name": "platform", "bus_arn": "arn:aws:events:us-east-1:123456789012:event-bus/platform"}


def test_wrapping_from_a_stack_reference_reads_its_outputs_and_creates_nothing() -> None:
    refs = {"acme/platform/prod": {"bus_name": "platform", "bus_arn": PLATFORM_ARN}}
    stack = _record(lambda: SharedEventBus.from_stack_reference("events", "acme/platform/prod"), stack_references=refs)
    assert _aws_resources(stack) == []
    assert [r.type for r in stack.resources if r.custom] == ["pulumi:pulumi:StackReference"]
    assert stack.outputs == {"bus_name": "platform", "bus_arn": PLATFORM_ARN}


def test_stack_reference_output_names_are_configurable() -> None:
    refs = {"acme/platform/prod": {"shared_bus": "platform", "shared_bus_arn": PLATFORM_ARN}}
    stack = _record(
        lambda: SharedEventBus.from_stack_reference("events", "acme/platform/prod", name_output="shared_bus", arn_output="shared_bus_arn"),
        stack_references=refs,
    )
    assert stack.outputs == {"bus_name": "platform", "bus_arn": PLATFORM_ARN}


def test_a_malformed_bus_arn_fails_the_run() -> None:
    with pytest.raises(Exception, match="not an event bus ARN"):
        _record(lambda: SharedEventBus.from_arn("events", "arn:aws:sqs:us-east-1:111122223333:queue"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"existing": EventBusRef(bus_arn=PLATFORM_ARN, stack="acme/platform/prod")}, "not both"),
        ({"existing": EventBusRef(bus_name="platform", stack="acme/platform/prod")}, "not both"),
        ({"existing": EventBusRef()}, "needs bus_name or bus_arn, or stack"),
        ({"existing": EventBusRef(stack="acme/platform/prod", stack_outputs={"arn": "x"})}, "not fields"),
        ({"existing": EventBusRef.from_arn(PLATFORM_ARN), "archive_retention_days": 30}, "does not own"),
        ({"existing": EventBusRef.from_stack_reference("acme/platform/prod"), "allowed_account_ids": ["111122223333"]}, "does not own"),
        ({"existing": EventBusRef.from_name("platform"), "log_level": "ERROR"}, "does not own"),
        ({"allowed_account_ids": ["*"]}, "never granted"),
        ({"allowed_account_ids": ["1234"]}, "12-digit"),
        ({"allowed_organization_id": "*"}, "not an organization id"),
        ({"archive_retention_days": -1}, ">= 0"),
        ({"log_level": "DEBUG"}, "log_level"),
        ({"log_retention_days": 7}, "needs log_level"),
    ],
)
def test_contradictory_arguments_raise_before_anything_is_created(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SharedEventBus("bad", SharedEventBusArgs(**kwargs))
