"""The recording harness: what component tests and the policy suite stand on."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest
from acme_eventsourcing.testing import record


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


def test_secrets_are_unwrapped_and_their_paths_recorded() -> None:
    def program() -> None:
        aws.sqs.Queue("q", delay_seconds=5, tags={"plain": "a", "hidden": pulumi.Output.secret("s3cret")})

    queue = record(program).one("aws:sqs/queue:Queue", "q")
    assert queue.inputs["tags"] == {"plain": "a", "hidden": "s3cret"}
    # the engine marks the whole map that holds a secret as secret
    assert queue.secret_paths == (("tags",),)
    assert queue.is_secret("tags", "hidden") and not queue.is_secret("delaySeconds")


def test_missing_stack_outputs_can_be_made_up_and_are_listed() -> None:
    def program() -> None:
        ref = pulumi.StackReference("acme/platform/prod")
        pulumi.export("bus", ref.get_output("bus_arn"))
        pulumi.export("given", ref.require_output("region"))

    stack = record(
        program,
        stack_references={"acme/platform/prod": {"region": "eu-west-1"}},
        missing_stack_output=lambda ref, name: f"fake:{ref}:{name}",
    )
    assert stack.outputs == {"bus": "fake:acme/platform/prod:bus_arn", "given": "eu-west-1"}
    assert stack.faked_outputs == (("acme/platform/prod", "bus_arn", "fake:acme/platform/prod:bus_arn"),)
    unknown = record(lambda: pulumi.export("x", pulumi.StackReference("other/p/s").get_output("x")), missing_stack_output=lambda r, n: 1)
    assert unknown.outputs == {"x": 1}


def test_records_aliases_as_the_urns_they_name() -> None:
    def program() -> None:
        old_parent = pulumi.ComponentResource("acme:test:Old", "old")
        new_parent = pulumi.ComponentResource("acme:test:New", "new", opts=pulumi.ResourceOptions(parent=old_parent))
        aws.sqs.Queue(
            "moved",
            opts=pulumi.ResourceOptions(parent=new_parent, aliases=[pulumi.Alias(parent=old_parent), pulumi.Alias(name="renamed")]),
        )

    stack = record(program)
    moved = stack.one("aws:sqs/queue:Queue", "moved")
    assert moved.urn == "urn:pulumi:test::test::acme:test:Old$acme:test:New$aws:sqs/queue:Queue::moved"
    assert sorted(moved.options["aliases"]) == [
        "urn:pulumi:test::test::acme:test:Old$acme:test:New$aws:sqs/queue:Queue::renamed",
        "urn:pulumi:test::test::acme:test:Old$aws:sqs/queue:Queue::moved",
    ]
    assert stack.one("aws:sqs/queue:Queue", "moved").options["aliases"] and stack.one("acme:test:New", "new").options["aliases"] == []


def test_a_run_leaves_the_sdk_and_the_garbage_collector_as_it_found_them() -> None:
    import gc

    from pulumi.runtime import resource as pulumi_resource

    stack_trace = pulumi_resource._get_stack_trace
    record(_program)
    assert pulumi_resource._get_stack_trace is stack_trace  # the SDK's own again outside a run
    assert gc.get_freeze_count() == 0  # nothing the run froze stays frozen (no leak)

    gc.freeze()  # a caller's own freeze is left alone
    try:
        record(_program)
        assert gc.get_freeze_count() > 0  # still frozen: the run did not unfreeze the caller's objects
    finally:
        gc.unfreeze()


def test_a_run_works_on_an_sdk_without_the_private_stack_trace_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lean run patches the SDK's private `_get_stack_trace`; an SDK release without it
    must still record (only slower), not fail every user's tests."""
    import types

    from acme_eventsourcing.testing import harness

    without = types.SimpleNamespace()  # the SDK's resource module as a release without the function shows it
    monkeypatch.setattr(harness, "pulumi_resource", without)
    stack = record(_program)
    assert stack.resources
    assert vars(without) == {}  # nothing was patched in
