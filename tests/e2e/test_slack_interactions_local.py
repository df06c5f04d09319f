"""Slack approvals on the local stack: the leave program with `slack_signing_secret` set
(the secret goes to Secrets Manager on moto, the commands function reads it by ARN), a press
signed like Slack signs decides the request over HTTP; tampered, stale, unlinked and
non-approver presses change nothing; a retried press decides once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from acme_eventsourcing.local.client import ApiClient, Response
from acme_eventsourcing.local.program import evaluate_programs, merge
from acme_eventsourcing.runtime import slack
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore

from local import PROGRAMS, LocalStack

SECRET = "local-e2e-slack-signing-secret"
TEAM, MIKE_SLACK, JOHN_SLACK = "T0ACME", "U0MIKE", "U0JOHN"
LEAVE = {"leave_type": "PTO", "start": "2026-03-02", "end": "2026-03-03"}


@pytest.fixture(scope="module")
def stack(stack_factory: Callable[..., LocalStack]) -> Iterator[LocalStack]:
    recorded = merge(evaluate_programs("dev", programs=PROGRAMS, config_overrides={"leave:slack_signing_secret": SECRET}))
    started = stack_factory(recorded, today=__import__("datetime").date(2026, 2, 2))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> ApiClient:
    return ApiClient(stack.api_url, lambda sub, groups: stack.token(sub, groups))


@pytest.fixture(scope="module")
def location(api: ApiClient) -> str:
    ana = api.as_user("ana", "admin")
    location_id = ana.post("/locations", {"name": "Lisbon"}).json["location_id"]
    for employee_id in ("john", "mike"):
        assert ana.post(f"/locations/{location_id}/employees", {"employee_id": employee_id, "name": employee_id.title()}).status == 201
    assert ana.put(f"/locations/{location_id}/approver", {"employee_id": "mike"}).status == 200
    assert ana.put(f"/locations/{location_id}/policy", {"leave_type": "PTO", "days_per_year": 20, "max_rollover_days": 5}).status == 200
    assert api.as_user("mike", "approver").put(f"/slack-links/{TEAM}/{MIKE_SLACK}", {"employee_id": "mike"}).status == 200
    return location_id


def new_request(api: ApiClient, start: str) -> str:
    response = api.as_user("john").post("/employees/john/leave-requests", {**LEAVE, "start": start, "end": start})
    assert response.status == 201, response.text
    return response.json["request_id"]


def press_body(request_id: str, *, user: str = MIKE_SLACK, action: str = "leave_approve", action_ts: str | None = None) -> bytes:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "actions": [{"action_id": action, "value": request_id, "action_ts": action_ts or f"{time.time():.6f}", "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def post(api: ApiClient, body: bytes, headers: dict[str, str]) -> Response:
    plain = ApiClient(api.base_url)  # no token: Slack sends none
    return plain.request("POST", "/slack/interactions", raw=body, headers={"Content-Type": "application/x-www-form-urlencoded", **headers})


def signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    return slack.signed_headers(secret, body, int(time.time()) if at is None else at)


def events(stack: LocalStack, stream: str = "employee#john") -> list[Any]:
    assert stack.recorded is not None and stack.clients is not None
    return DynamoDBEventStore(stack.clients("dynamodb"), stack.recorded.outputs["events_table_name"]).load(stream)


def decisions(stack: LocalStack, request_id: str) -> list[str]:
    return [e.event_type for e in events(stack) if e.event_type in {"LeaveApproved", "LeaveDenied"} and e.data["request_id"] == request_id]


def test_the_secret_is_in_secrets_manager_and_only_its_arn_in_the_functions_environment(stack: LocalStack) -> None:
    commands = stack.function("leave-commands")
    arn = commands.decl.environment["SLACK_SIGNING_SECRET_ARN"]
    assert stack.clients is not None
    assert stack.clients("secretsmanager").get_secret_value(SecretId=arn)["SecretString"] == SECRET
    assert SECRET not in json.dumps(commands.decl.environment)


def test_a_slack_signed_approval_decides_the_request(stack: LocalStack, api: ApiClient, location: str) -> None:
    request_id = new_request(api, "2026-03-02")
    stack.settle()
    mike = api.as_user("mike", "approver")
    assert request_id in mike.get("/approvers/mike/pending").text
    body = press_body(request_id)
    response = post(api, body, signed(body))
    assert response.status == 200, response.text
    assert response.json == {"replace_original": True, "text": f"Approved by <@{MIKE_SLACK}> (mike): leave request {request_id}."}
    assert decisions(stack, request_id) == ["LeaveApproved"]
    approved = [e for e in events(stack) if e.event_type == "LeaveApproved"][-1]
    assert approved.metadata["actor"] == "mike"
    stack.settle()  # and the read models follow, as after an approval through the API
    pending = mike.get("/approvers/mike/pending")
    assert pending.status == 200 and request_id not in pending.text


@pytest.mark.parametrize("how", ["tampered body", "wrong secret", "stale", "future", "unsigned"])
def test_a_tampered_or_stale_press_is_refused_and_changes_nothing(stack: LocalStack, api: ApiClient, location: str, how: str) -> None:
    request_id = new_request(
        api,
        {
            "tampered body": "2026-03-03",
            "wrong secret": "2026-03-04",
            "stale": "2026-03-05",
            "future": "2026-03-06",
            "unsigned": "2026-03-09",
        }[how],
    )
    body = press_body(request_id)
    before = len(events(stack))
    headers = {
        "tampered body": signed(body.replace(b"leave_approve", b"leave_deny")),
        "wrong secret": signed(body, secret="not-the-secret"),
        "stale": signed(body, at=int(time.time()) - 600),
        "future": signed(body, at=int(time.time()) + 600),
        "unsigned": {},
    }[how]
    response = post(api, body, headers)
    assert response.status == 401 and response.json["error"]["code"] == "invalid_slack_signature"
    assert len(events(stack)) == before
    assert decisions(stack, request_id) == []


def test_an_unlinked_slack_user_is_told_so_and_nothing_changes(stack: LocalStack, api: ApiClient, location: str) -> None:
    request_id = new_request(api, "2026-03-10")
    before = len(events(stack))
    body = press_body(request_id, user="U0NOBODY")
    response = post(api, body, signed(body))
    assert response.status == 200 and response.json["response_type"] == "ephemeral"
    assert "not linked" in response.json["text"]
    assert len(events(stack)) == before


def test_a_non_approver_is_refused_as_the_api_would(stack: LocalStack, api: ApiClient, location: str) -> None:
    assert api.as_user("john").put(f"/slack-links/{TEAM}/{JOHN_SLACK}", {"employee_id": "john"}).status == 200
    request_id = new_request(api, "2026-03-11")
    body = press_body(request_id, user=JOHN_SLACK)
    response = post(api, body, signed(body))
    assert response.status == 200 and "(own_request)" in response.json["text"]
    assert decisions(stack, request_id) == []


def test_a_replayed_press_decides_once(stack: LocalStack, api: ApiClient, location: str) -> None:
    request_id = new_request(api, "2026-03-12")
    body = press_body(request_id, action="leave_deny")
    headers = signed(body)
    first = post(api, body, headers)
    retried = post(api, body, {**headers, slack.RETRY_NUM_HEADER: "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert first.status == retried.status == 200
    assert first.json == retried.json and first.json["text"].startswith("Denied by")
    assert decisions(stack, request_id) == ["LeaveDenied"]
