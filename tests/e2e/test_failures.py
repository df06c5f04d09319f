"""Failure paths, wired as declared: a projector that raises for one event, a publisher
batch with a failed record, a record the publisher can never publish.

Handlers are wrapped in place (`local_stack.function(...).module`), the way a test hook
would fail them on AWS; everything else is the real code and the declared configuration."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from acme_eventsourcing.local.client import ApiClient, path_param, wait_for
from acme_eventsourcing.local.model import TargetDecl

from local import LocalStack


@pytest.fixture(scope="module")
def berlin(api: ApiClient) -> str:
    ana = api.as_user("ana", "admin")
    location = ana.post("/locations", {"name": "Berlin"}).json["location_id"]
    for who in ("hans", "greta", "pete"):
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who.title()}).status == 201
    assert ana.put(f"/locations/{location}/approver", {"employee_id": "greta"}).status == 200
    assert ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 20, "max_rollover_days": 5}).status == 200
    return location


def _drain(stack: LocalStack, queue: str) -> list[dict[str, Any]]:
    sqs = stack.clients("sqs")  # type: ignore[misc]
    messages = sqs.receive_message(QueueUrl=stack.queue_url(queue), MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages", []
    )
    return [json.loads(m["Body"]) for m in messages]


def _target_of(stack: LocalStack, function: str) -> TargetDecl:
    assert stack.model is not None
    logical = stack.model.function(function).logical
    return next(t for t in stack.model.targets if t.function is not None and t.function.logical == logical)


def _records_of(event: dict[str, Any], stream_id: str) -> list[dict[str, Any]]:
    return [r for r in event["Records"] if r["dynamodb"]["NewImage"]["stream_id"]["S"] == stream_id]


def test_event_a_projector_keeps_failing_on_lands_in_the_target_dlq(
    api: ApiClient, local_stack: LocalStack, berlin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = local_stack.function("balance-projector").module
    real: Callable[..., Any] = module.handler

    def poisoned(event: dict[str, Any], context: Any) -> Any:
        if event["detail"]["data"].get("note") == "poison":
            raise RuntimeError("cannot project this one")
        return real(event, context)

    monkeypatch.setattr(module, "handler", poisoned)
    pete, hans = api.as_user("pete"), api.as_user("hans")
    assert (
        pete.post(
            "/employees/pete/leave-requests", {"leave_type": "PTO", "start": "2026-03-02", "end": "2026-03-02", "note": "poison"}
        ).status
        == 201
    )
    assert hans.post("/employees/hans/leave-requests", {"leave_type": "PTO", "start": "2026-03-02", "end": "2026-03-03"}).status == 201
    local_stack.settle()

    dlq = _target_of(local_stack, "balance-projector").dead_letter_queue
    assert dlq is not None
    [failure] = _drain(local_stack, dlq)
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3  # the first try and Lambda's 2 async retries
    assert failure["requestPayload"]["detail-type"] == "LeaveRequested"
    assert failure["requestPayload"]["detail"]["data"]["note"] == "poison"
    assert failure["responsePayload"]["errorType"] == "RuntimeError"
    assert hans.get("/employees/hans/balance?year=2026&leave_type=PTO").json["pending"] == 2
    for other in ("pending-projector", "calendar-projector", "audit-projector"):
        assert _drain(local_stack, _target_of(local_stack, other).dead_letter_queue or "") == [], f"{other} took the event"
    failed = [i for i in local_stack.invocations_of("balance-projector") if not i.ok]
    assert len(failed) == 3


def test_a_record_reported_failed_is_redelivered_from_there_and_published_once(
    api: ApiClient, local_stack: LocalStack, berlin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = local_stack.function("publisher").module
    real: Callable[..., Any] = module.handler
    seen: list[list[str]] = []

    def fails_once(event: dict[str, Any], context: Any) -> Any:
        seen.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        mine = _records_of(event, "employee#hans")
        if mine and len(seen) == 1:  # publish what comes before hans's record, report it failed
            index = event["Records"].index(mine[0])
            real({"Records": event["Records"][:index]}, context)
            return {"batchItemFailures": [{"itemIdentifier": mine[0]["dynamodb"]["SequenceNumber"]}]}
        return real(event, context)

    monkeypatch.setattr(module, "handler", fails_once)
    hans = api.as_user("hans")
    assert hans.post("/employees/hans/leave-requests", {"leave_type": "PTO", "start": "2026-04-06", "end": "2026-04-06"}).status == 201
    wait_for(
        lambda: hans.get("/employees/hans/balance?year=2026&leave_type=PTO").json["pending"] == 3, what="hans's second request projected"
    )
    local_stack.settle()
    assert len(seen) >= 2 and seen[1][0] in seen[0], "the mapping re-delivered from the failed record"
    history = api.as_user("ana", "admin").get(f"/streams/{path_param('employee#hans')}/events").json["items"]
    assert [e["metadata"]["version"] for e in history] == list(range(1, len(history) + 1))
    assert _drain(local_stack, local_stack.model.stream_mappings[0].on_failure or "") == []  # type: ignore[union-attr]


def test_a_record_that_never_publishes_goes_to_the_on_failure_queue_and_the_rest_flows(
    api: ApiClient, local_stack: LocalStack, berlin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = local_stack.function("publisher").module
    real: Callable[..., Any] = module.handler

    def refuses_paul(event: dict[str, Any], context: Any) -> Any:
        if _records_of(event, "employee#paul"):
            raise RuntimeError("paul's record breaks the publisher")
        return real(event, context)

    monkeypatch.setattr(module, "handler", refuses_paul)
    ana = api.as_user("ana", "admin")
    assert ana.post(f"/locations/{berlin}/employees", {"employee_id": "paul", "name": "Paul"}).status == 201
    local_stack.settle()

    mapping = local_stack.model.stream_mappings[0]  # type: ignore[union-attr]
    [failure] = _drain(local_stack, mapping.on_failure or "")
    info = failure["DDBStreamBatchInfo"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["batchSize"] == 1, "bisecting isolated the poison record"
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    location_history = ana.get(f"/streams/{path_param('location#' + berlin)}/events").json["items"]
    assert location_history[-1]["metadata"]["event_type"] == "EmployeeAddedToLocation"
    assert location_history[-1]["data"]["employee_id"] == "paul", "the record written with it was published"
    assert ana.get(f"/streams/{path_param('employee#paul')}/events").status == 404
