"""The recording harness: what component tests and the policy suite stand on."""
from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from components.testing import record


def _program() -> None:
    aws.dynamodb.Table(
        "kept",
        hash_key="pk",
        attributes=[{"name": "pk", "type": "S"}],
        stream_enabled=True,
        stream_view_type="NEW_IMAGE",
        opts=pulumi.ResourceOptions(protect=True, retain_on_delete=True),
    )
    plain = aws.sqs.Queue("plain")
    pulumi.export("queue_url", plain.url)
    pulumi.export("greeting", pulumi.Config("demo").get("greeting"))


def test_records_resource_options_from_the_register_request() -> None:
    stack = record(_program)
    kept = stack.one("aws:dynamodb/table:Table", "kept")
    plain = stack.one("aws:sqs/queue:Queue", "plain")
    assert kept.options["protect"] is True and kept.options["retain_on_delete"] is True
    assert plain.options["protect"] is False and plain.options["retain_on_delete"] is False


def test_resolves_inputs_outputs_and_config() -> None:
    stack = record(_program, config={"demo:greeting": "hello"})
    table = stack.one("aws:dynamodb/table:Table", "kept")
    assert table.inputs["streamViewType"] == "NEW_IMAGE"
    assert table.state["streamArn"].startswith(table.state["arn"] + "/stream/")
    assert stack.outputs == {
        "queue_url": stack.one("aws:sqs/queue:Queue", "plain").state["url"],
        "greeting": "hello",
    }


def test_each_run_starts_from_an_empty_stack() -> None:
    first = record(_program)
    second = record(_program)
    assert len(first.resources) == len(second.resources) == 2


def test_stack_reference_needs_its_outputs_given() -> None:
    def program() -> None:
        pulumi.export("bus", pulumi.StackReference("acme/platform/prod").get_output("bus_arn"))

    stack = record(program, stack_references={"acme/platform/prod": {"bus_arn": "arn:aws:events:us-east-1:1:event-bus/b"}})
    assert stack.outputs["bus"] == "arn:aws:events:us-east-1:1:event-bus/b"
    with pytest.raises(Exception, match="no outputs given for StackReference"):
        record(program)
