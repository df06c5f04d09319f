"""Slack notifications end to end on the local stack: a command's event reaches the bus, the
notifications rule's API destination target renders it with its input transformer and the
connection's bot token, and the built-in receiver (standing in for slack.com) records the
chat.postMessage call, with no Lambda in the path."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from acme_eventsourcing.local.client import ApiClient, path_param, wait_for
from acme_eventsourcing.local.program import evaluate_programs, merge
from acme_eventsourcing.testing import RecordedStack

from local import PROGRAMS, ROOT, LocalStack

SLACK = {"leave:slack_bot_token": "xoxb-local-test", "leave:slack_channel": "C0LEAVE", "leave:slack_rate_limit_per_second": 20}


@pytest.fixture(scope="module")
def slack_stack(stack_factory: Callable[..., LocalStack], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    recorded: RecordedStack = merge(evaluate_programs("dev", programs=PROGRAMS, config_overrides=SLACK))
    lines: list[str] = []
    stack = stack_factory(recorded, state_dir=tmp_path_factory.mktemp("slack-state"), log=lines.append)
    stack.lines = lines  # type: ignore[attr-defined]
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def api(slack_stack: LocalStack) -> ApiClient:
    api = ApiClient(slack_stack.api_url, lambda sub, groups: slack_stack.token(sub, groups))
    ana = api.as_user("ana", "admin")
    location = ana.post("/locations", {"name": "Bergen"}).json["location_id"]
    for who in ("ola", "kari"):
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who.title()}).status == 201
    assert ana.put(f"/locations/{location}/approver", {"employee_id": "kari"}).status == 200
    assert ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 25, "max_rollover_days": 5}).status == 200
    return api


def messages(stack: LocalStack, kind: str) -> list[dict[str, Any]]:
    return [r for r in stack.received("slack-destination") if r["json"] and r["json"]["text"].startswith(kind)]


def test_a_request_reaches_slack_with_the_decision_buttons(slack_stack: LocalStack, api: ApiClient) -> None:
    body = {"leave_type": "PTO", "start": "2026-03-02", "end": "2026-03-03", "note": 'a "quoted" note'}
    created = api.as_user("ola").post("/employees/ola/leave-requests", body)
    assert created.status == 201, created.text
    request_id = created.json["request_id"]
    wait_for(lambda: messages(slack_stack, ":inbox_tray:"), timeout=15, what="the Slack message of the request")
    (request,) = messages(slack_stack, ":inbox_tray:")
    assert request["url"] == "https://slack.com/api/chat.postMessage" and request["method"] == "POST"
    assert request["headers"]["Authorization"] == "Bearer xoxb-local-test"
    message = request["json"]
    assert message["channel"] == "C0LEAVE"
    assert message["text"] == ":inbox_tray: *ola* requested PTO 2026-03-02..2026-03-03 (2 working days)"
    buttons = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [("leave_approve", request_id), ("leave_deny", request_id)]
    assert message["attachments"] == [{"title": "Note", "text": 'a "quoted" note'}]
    assert request["headers"]["Idempotency-Key"] == slack_stack_event_id(slack_stack, api, request_id)
    assert not [i for i in slack_stack.invocations if "notifications" in i.function], "no function in the path"
    banner = "\n".join(slack_stack.lines)  # type: ignore[attr-defined]
    assert "api dest   notifications-slack-destination: POST https://slack.com/api/chat.postMessage, 20/s, 6 rule target(s): " in banner
    assert "recorded by the local receiver" in banner


def slack_stack_event_id(stack: LocalStack, api: ApiClient, request_id: str) -> str:
    """The event id of the request's LeaveRequested event (the stream's audit, as the envelope has it)."""
    stack.settle()  # the audit projection has the event
    events = api.as_user("ana", "admin").get(f"/streams/{path_param('employee#ola')}/events").json["items"]
    return next(
        e["metadata"]["event_id"]
        for e in events
        if e["metadata"]["event_type"] == "LeaveRequested" and e["data"]["request_id"] == request_id
    )


def test_a_cancellation_reaches_slack(slack_stack: LocalStack, api: ApiClient) -> None:
    created = api.as_user("ola").post("/employees/ola/leave-requests", {"leave_type": "PTO", "start": "2026-04-06", "end": "2026-04-06"})
    request_id = created.json["request_id"]
    assert api.as_user("ola").post(f"/leave-requests/{path_param(request_id)}/cancel", {}).status == 200
    wait_for(lambda: messages(slack_stack, ":wastebasket:"), timeout=15, what="the Slack message of the cancellation")
    (cancelled,) = messages(slack_stack, ":wastebasket:")
    assert cancelled["json"]["text"] == ":wastebasket: ola cancelled ola's pending PTO 2026-04-06..2026-04-06 (1 working days)"
    assert f"request {request_id}" in json.dumps(cancelled["json"]["blocks"])


def test_a_denial_reaches_slack_with_its_reason_and_nothing_is_dead_lettered(slack_stack: LocalStack, api: ApiClient) -> None:
    created = api.as_user("ola").post("/employees/ola/leave-requests", {"leave_type": "PTO", "start": "2026-05-04", "end": "2026-05-05"})
    request_id = created.json["request_id"]
    denied = api.as_user("kari").post(f"/leave-requests/{path_param(request_id)}/deny", {"reason": "release week\nsorry"})
    assert denied.status == 200, denied.text
    wait_for(lambda: messages(slack_stack, ":x:"), timeout=15, what="the Slack message of the denial")
    (message,) = messages(slack_stack, ":x:")
    assert message["json"]["attachments"] == [{"title": "Reason", "text": "release week\nsorry"}]
    slack_stack.settle()
    dlq = slack_stack.queue_url(next(q.name for q in slack_stack.model.queues if q.logical == "notifications-slack-dlq"))  # type: ignore[union-attr]
    depth = slack_stack.clients("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])  # type: ignore[misc]
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert not [e for e in slack_stack.errors if "notifications-slack" in e]


def test_the_received_command_lists_what_slack_would_have_received(slack_stack: LocalStack, api: ApiClient) -> None:
    # its own request: under xdist this test may run without the module's earlier ones
    created = api.as_user("ola").post("/employees/ola/leave-requests", {"leave_type": "PTO", "start": "2026-06-01", "end": "2026-06-01"})
    assert created.status == 201, created.text
    wait_for(
        lambda: any(created.json["request_id"] in json.dumps(m["json"]) for m in messages(slack_stack, ":inbox_tray:")),
        timeout=15,
        what="a Slack message",
    )
    listed = subprocess.run(
        [sys.executable, "-m", "acme_eventsourcing.local", "received", "--program", str(ROOT), "--stack", "dev", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "LOCAL_STACK_STATE_DIR": str(slack_stack.state_dir)},
        cwd=Path(ROOT),
    )
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(lines) == len(slack_stack.received()) and all(r["url"].startswith("https://slack.com/") for r in lines)
    assert all(r["headers"]["Authorization"].endswith("(masked)") for r in lines), "the bot token is not written to disk"
