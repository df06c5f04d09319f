"""The workflow trigger (`acme_eventsourcing.runtime.workflows`): start and stop executions
from bus events, against moto's Step Functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from acme_eventsourcing.runtime import workflows
from acme_eventsourcing.runtime.workflows import (
    MAX_NAME_LENGTH,
    Trigger,
    TriggerError,
    execution_arn,
    execution_name,
    handle,
    start,
    stop,
)
from botocore.exceptions import ClientError
from moto import mock_aws

DEFINITION = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}
ROLE = "arn:aws:iam::123456789012:role/sfn"
TRIGGERS = [
    Trigger("start", ("acme.leave",), ("LeaveRequested",), "detail.data.request_id"),
    Trigger("stop", ("acme.leave",), ("LeaveApproved", "LeaveCancelled"), "detail.data.request_id"),
]


@pytest.fixture
def sfn() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("stepfunctions", region_name="us-east-1")
        arn = client.create_state_machine(name="leave-reminders", definition=json.dumps(DEFINITION), roleArn=ROLE)["stateMachineArn"]
        yield client, arn


def event(detail_type: str, request_id: Any = "r-1", event_id: str = "e-1") -> dict[str, Any]:
    return {
        "id": event_id,
        "source": "acme.leave",
        "detail-type": detail_type,
        "detail": {"metadata": {"stream_id": f"request-{request_id}"}, "data": {"request_id": request_id}},
    }


def executions(client: Any, arn: str) -> list[dict[str, Any]]:
    return client.list_executions(stateMachineArn=arn)["executions"]


# ------------------------------------------------------------------------------ names
def test_a_valid_value_is_its_own_name() -> None:
    assert execution_name("r-1_a") == "r-1_a"
    assert execution_name(42) == "42"
    assert execution_name("x" * MAX_NAME_LENGTH) == "x" * MAX_NAME_LENGTH


@pytest.mark.parametrize("value", ["request#1", "a b", "ß", "x" * 81, "acme:leave/1", "a.b"])
def test_other_values_are_sanitised_deterministically_within_80_characters(value: str) -> None:
    name = execution_name(value)
    assert name == execution_name(value)
    assert len(name) <= MAX_NAME_LENGTH
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in name)


def test_values_that_sanitise_alike_get_different_names() -> None:
    assert execution_name("a:b") != execution_name("a/b")
    assert execution_name("x" * 100 + "1") != execution_name("x" * 100 + "2")
    assert execution_name("a:b") != "a-b" != execution_name("a/b")


def test_an_empty_value_has_no_name() -> None:
    with pytest.raises(TriggerError):
        execution_name("")


def test_execution_arn_from_the_state_machine_arn() -> None:
    assert (
        execution_arn("arn:aws:states:us-east-1:123456789012:stateMachine:leave-reminders-abc", "r-1")
        == "arn:aws:states:us-east-1:123456789012:execution:leave-reminders-abc:r-1"
    )
    with pytest.raises(ValueError, match="not a state machine ARN"):
        execution_arn("arn:aws:lambda:us-east-1:123456789012:function:f", "r-1")


# ------------------------------------------------------------------------------ start
def test_an_event_starts_an_execution_named_after_it_with_the_event_as_input(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    result = handle(client, arn, TRIGGERS, event("LeaveRequested"))
    assert result == {"action": "start", "execution": "r-1", "outcome": "started"}
    (execution,) = executions(client, arn)
    assert execution["name"] == "r-1" and execution["status"] == "RUNNING"
    described = client.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == event("LeaveRequested")


def test_a_redelivered_event_starts_nothing_new(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    handle(client, arn, TRIGGERS, event("LeaveRequested"))
    again = handle(client, arn, TRIGGERS, event("LeaveRequested"))
    # the same event again while it runs: Step Functions answers with the running execution
    assert again["execution"] == "r-1" and again["outcome"] in ("started", "exists")
    # a different event naming the same execution (a retry with another id) is refused by name: exists
    other = handle(client, arn, TRIGGERS, event("LeaveRequested", event_id="e-2"))
    assert other == {"action": "start", "execution": "r-1", "outcome": "exists"}
    assert len(executions(client, arn)) == 1


def test_a_finished_execution_is_not_started_again(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    handle(client, arn, TRIGGERS, event("LeaveRequested"))
    handle(client, arn, TRIGGERS, event("LeaveCancelled"))
    assert start(client, arn, "r-1", event("LeaveRequested")) == "exists"
    assert [e["status"] for e in executions(client, arn)] == ["ABORTED"]


def test_start_raises_other_errors(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    with pytest.raises(ClientError):
        start(client, arn.replace("leave-reminders", "missing"), "r-1", {})


# ------------------------------------------------------------------------------ stop
def test_an_event_stops_the_execution_it_names(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    handle(client, arn, TRIGGERS, event("LeaveRequested", request_id="r-2"))
    handle(client, arn, TRIGGERS, event("LeaveRequested", request_id="r-3"))
    result = handle(client, arn, TRIGGERS, event("LeaveApproved", request_id="r-2"))
    assert result == {"action": "stop", "execution": "r-2", "outcome": "stopped"}
    statuses = {e["name"]: e["status"] for e in executions(client, arn)}
    assert statuses == {"r-2": "ABORTED", "r-3": "RUNNING"}


def test_stopping_a_missing_execution_is_fine(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    assert handle(client, arn, TRIGGERS, event("LeaveApproved", request_id="never-started"))["outcome"] == "absent"
    assert executions(client, arn) == []


def test_stopping_a_finished_execution_is_fine(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    handle(client, arn, TRIGGERS, event("LeaveRequested"))
    assert handle(client, arn, TRIGGERS, event("LeaveApproved"))["outcome"] == "stopped"
    assert handle(client, arn, TRIGGERS, event("LeaveCancelled"))["outcome"] == "finished"
    assert stop(client, execution_arn(arn, "r-1")) == "finished"


def test_starter_and_stopper_agree_on_a_sanitised_name(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    request = "acme:leave/request#7"
    started = handle(client, arn, TRIGGERS, event("LeaveRequested", request_id=request))
    stopped = handle(client, arn, TRIGGERS, event("LeaveCancelled", request_id=request))
    assert started["execution"] == stopped["execution"] == execution_name(request)
    assert stopped["outcome"] == "stopped"


# ------------------------------------------------------------------------------ bad events
@pytest.mark.parametrize("value", [None, "", {"a": 1}, ["a"], True])
def test_an_event_without_a_name_is_an_error_for_the_dlq(sfn: tuple[Any, str], value: Any) -> None:
    client, arn = sfn
    bad = event("LeaveRequested")
    bad["detail"]["data"]["request_id"] = value
    with pytest.raises(TriggerError, match="has no name at 'detail.data.request_id'"):
        handle(client, arn, TRIGGERS, bad)
    assert executions(client, arn) == []


def test_an_event_no_trigger_matches_is_an_error(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    with pytest.raises(TriggerError, match="no trigger for source 'acme.leave' detail-type 'LeaveRejected'"):
        handle(client, arn, TRIGGERS, event("LeaveRejected"))


# ------------------------------------------------------------------------------ the entry point
def test_the_handler_reads_its_triggers_and_state_machine_from_the_environment(
    sfn: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, arn = sfn
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv(
        "WORKFLOW_TRIGGERS",
        json.dumps(
            [{"action": "start", "sources": ["acme.leave"], "detail_types": ["LeaveRequested"], "name_from": "detail.metadata.stream_id"}]
        ),
    )
    monkeypatch.setattr(workflows, "_CLIENT", None)
    assert workflows.handler(event("LeaveRequested"), None) == {"action": "start", "execution": "request-r-1", "outcome": "started"}
    assert [e["name"] for e in executions(client, arn)] == ["request-r-1"]


def test_a_trigger_with_an_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError, match="trigger action must be 'start' or 'stop'"):
        workflows.triggers_from(json.dumps([{"action": "pause", "sources": [], "detail_types": [], "name_from": "x"}]))


def test_the_trigger_module_imports_only_the_standard_library_and_boto3() -> None:
    import ast
    from pathlib import Path

    tree = ast.parse(Path(workflows.__file__).read_text())
    imported = {
        (n.module if isinstance(n, ast.ImportFrom) else a.name).split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in (n.names if isinstance(n, ast.Import) else [n])
    }
    assert imported <= {"__future__", "hashlib", "json", "logging", "os", "re", "collections", "dataclasses", "typing", "boto3", "botocore"}
