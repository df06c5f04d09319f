"""The wiring is the declared one: edit a rule's pattern in a copy of the recorded stack and
the local stack delivers exactly what the edited pattern matches (moto matches it)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator

import pytest
from acme_eventsourcing.local.client import ApiClient, path_param, wait_for
from acme_eventsourcing.local.model import T_MAPPING, T_RULE, T_TARGET
from acme_eventsourcing.testing import RecordedStack

from local import LocalStack

MISSING_FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:does-not-exist"


def _with_detail_types(recorded: RecordedStack, rule: str, detail_types: list[str]) -> RecordedStack:
    edited = copy.deepcopy(recorded)
    resource = edited.one(T_RULE, rule)
    pattern = json.loads(resource.inputs["eventPattern"])
    pattern["detail-type"] = detail_types
    resource.inputs["eventPattern"] = json.dumps(pattern)
    return edited


@pytest.fixture(scope="module")
def rewired(dev_program: RecordedStack, stack_factory: Callable[..., LocalStack]) -> Iterator[LocalStack]:
    """The dev stack with the audit rule matching nothing, the pending rule matching only
    LeaveRequested, the reminders workflow's start target pointing at a function that does not exist,
    and the publisher's mapping taking one record per batch."""
    edited = _with_detail_types(dev_program, "leave-audit-rule", ["NoSuchEvent"])
    edited = _with_detail_types(edited, "leave-pending-rule", ["LeaveRequested"])
    edited.one(T_TARGET, "leave-reminders-start-0-target").inputs["arn"] = MISSING_FUNCTION
    edited.one(T_MAPPING, "leave-publisher-stream").inputs["batchSize"] = 1
    stack = stack_factory(edited)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def story_so_far(rewired: LocalStack) -> ApiClient:
    api = ApiClient(rewired.api_url, lambda sub, groups: rewired.token(sub, groups))
    ana = api.as_user("ana", "admin")
    location = ana.post("/locations", {"name": "Oslo"}).json["location_id"]
    for who in ("ola", "kari"):
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who.title()}).status == 201
    assert ana.put(f"/locations/{location}/approver", {"employee_id": "kari"}).status == 200
    assert ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 25, "max_rollover_days": 5}).status == 200
    request = api.as_user("ola").post("/employees/ola/leave-requests", {"leave_type": "PTO", "start": "2026-03-02", "end": "2026-03-03"})
    assert request.status == 201
    balance = lambda: api.as_user("ola").get("/employees/ola/balance?year=2026&leave_type=PTO")  # noqa: E731
    wait_for(lambda: balance().status == 200 and balance().json["pending"] == 2, what="the balance projection (its rule is unchanged)")
    rewired.settle()
    return api


def test_a_rule_that_matches_nothing_starves_its_projection(rewired: LocalStack, story_so_far: ApiClient) -> None:
    assert rewired.invocations_of("balance-projector"), "events flowed through the bus"
    assert rewired.invocations_of("audit-projector") == []
    assert story_so_far.as_user("ana", "admin").get(f"/streams/{path_param('employee#ola')}/events").status == 404


def test_a_narrowed_rule_delivers_only_the_detail_types_it_names(rewired: LocalStack, story_so_far: ApiClient) -> None:
    triggers = [i.trigger for i in rewired.invocations_of("pending-projector")]
    assert triggers and all(t.endswith(": LeaveRequested") for t in triggers)
    assert any(not i.trigger.endswith(": LeaveRequested") for i in rewired.invocations_of("calendar-projector"))


def test_a_target_whose_function_does_not_exist_sends_events_to_its_dlq(rewired: LocalStack, story_so_far: ApiClient) -> None:
    assert rewired.model is not None
    target = next(t for t in rewired.model.targets if t.logical == "leave-reminders-start-0-target")
    sqs = rewired.clients("sqs")  # type: ignore[misc]
    messages = sqs.receive_message(
        QueueUrl=rewired.queue_url(target.dead_letter_queue or ""), MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    assert [json.loads(m["Body"])["detail-type"] for m in messages] == ["LeaveRequested"]
    attributes = {k: v["StringValue"] for k, v in messages[0]["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "ResourceNotFoundException" and attributes["TARGET_ARN"] == MISSING_FUNCTION
    assert attributes["RULE_ARN"] == target.rule.arn
    assert rewired.invocations_of("reminders-trigger") == []


def test_the_mappings_batch_size_is_honoured(rewired: LocalStack, story_so_far: ApiClient) -> None:
    batches = [i.trigger for i in rewired.invocations_of("publisher")]
    assert batches and set(batches) == {"stream 1 record(s)"}  # creating a location writes two events at once
