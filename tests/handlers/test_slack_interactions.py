"""`POST /slack/interactions` and the Slack links (`PUT|DELETE /slack-links/...`) on the
commands handler with the in-memory store: a signed press decides exactly as
`POST .../approve` would, anything else changes nothing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from acme_eventsourcing.runtime import slack
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.secrets import SecretNotConfigured
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leave_api.commands import make_app
from test_commands_support import ADMIN, JOHN, MIKE, Api, Clock, RecordingStore, new_ids, setup_location

SECRET = "slack-signing-secret-for-tests"
NOW = 1_767_603_600  # 2026-01-05T09:00:00Z, the test clock's "now"
TEAM, MIKE_SLACK, JOHN_SLACK, EVE_SLACK = "T0ACME", "U0MIKE", "U0JOHN", "U0EVE"
LEAVE = {"leave_type": "PTO", "start": "2026-02-02", "end": "2026-02-06"}


class Slack:
    """The commands app with a Slack endpoint whose secret and clock the test sets; what it
    posts to `response_url` is kept in `posted`."""

    def __init__(self, *, secret: str | None = SECRET) -> None:
        self.posted: list[tuple[str, dict[str, Any]]] = []
        self.now = float(NOW)

        def signing_secret() -> str:
            if secret is None:
                raise SecretNotConfigured("SLACK_SIGNING_SECRET_ARN is not set")
            return secret

        store, clock = RecordingStore(InMemoryEventStore()), Clock()
        options = {
            "signing_secret": signing_secret,
            "post": lambda url, message: self.posted.append((url, message)),
            "clock": lambda: self.now,
        }
        self.api = Api(store, clock, make_app(store, clock=clock, new_id=new_ids(), slack=options))

    def press(
        self,
        request_id: str,
        *,
        user: str = MIKE_SLACK,
        action: str = "leave_approve",
        action_ts: str = "1767603600.000100",
        signed_with: str = SECRET,
        signed_at: int = NOW,
        tamper: bytes = b"",
        headers: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        body = urlencode(
            {"payload": json.dumps(payload or press_payload(request_id, user=user, action=action, action_ts=action_ts))}
        ).encode()
        signature = slack.signed_headers(signed_with, body, signed_at)
        event = slack_event(body + tamper, {**signature, **(headers or {})})
        raw = self.api.app(event)
        return raw["statusCode"], json.loads(raw["body"])

    def events(self, stream: str = "employee#john") -> list[str]:
        return [e.event_type for e in self.api.store.inner.load(stream)]


def press_payload(request_id: str, *, user: str, action: str, action_ts: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "response_url": f"https://hooks.slack.com/actions/{TEAM}/1/secret",
        "actions": [{"action_id": action, "block_id": "decide", "value": request_id, "action_ts": action_ts, "type": "button"}],
    }


def slack_event(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """As API Gateway passes Slack's form post: base64-encoded body, lower-case headers."""
    import base64

    return {
        "version": "2.0",
        "routeKey": "POST /slack/interactions",
        "rawPath": "/slack/interactions",
        "headers": {"content-type": "application/x-www-form-urlencoded", **{k.lower(): v for k, v in headers.items()}},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
        "requestContext": {"http": {"method": "POST", "path": "/slack/interactions"}, "requestId": "slack-1", "stage": "$default"},
    }


@pytest.fixture
def s() -> Slack:
    return Slack()


@pytest.fixture
def request_id(s: Slack) -> str:
    setup_location(s.api)
    response = s.api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN)
    assert response.status == 201
    assert s.api.call("PUT", f"/slack-links/{TEAM}/{MIKE_SLACK}", {"employee_id": "mike"}, claims=MIKE).status == 200
    return response.body["request_id"]


# --- the links --------------------------------------------------------------------------


def test_an_employee_links_their_own_slack_user(s: Slack, request_id: str) -> None:
    response = s.api.call("PUT", f"/slack-links/{TEAM}/{JOHN_SLACK}", {"employee_id": "john"}, claims=JOHN)
    assert (response.status, response.body) == (200, {"team_id": TEAM, "user_id": JOHN_SLACK, "employee_id": "john"})
    assert s.events(f"slack-link#{TEAM}:{JOHN_SLACK}") == ["SlackUserLinked"]


def test_linking_again_to_the_same_employee_changes_nothing(s: Slack, request_id: str) -> None:
    assert s.api.call("PUT", f"/slack-links/{TEAM}/{MIKE_SLACK}", {"employee_id": "mike"}, claims=MIKE).status == 200
    assert s.events(f"slack-link#{TEAM}:{MIKE_SLACK}") == ["SlackUserLinked"]


def test_an_employee_cannot_link_a_slack_user_to_somebody_else(s: Slack, request_id: str) -> None:
    response = s.api.call("PUT", f"/slack-links/{TEAM}/{JOHN_SLACK}", {"employee_id": "mike"}, claims=JOHN)
    assert (response.status, response.code) == (403, "not_yourself")
    assert s.events(f"slack-link#{TEAM}:{JOHN_SLACK}") == []


def test_an_admin_links_anybody_but_not_to_an_unknown_employee(s: Slack, request_id: str) -> None:
    assert s.api.call("PUT", f"/slack-links/{TEAM}/{JOHN_SLACK}", {"employee_id": "john"}, claims=ADMIN).status == 200
    unknown = s.api.call("PUT", f"/slack-links/{TEAM}/{EVE_SLACK}", {"employee_id": "nobody"}, claims=ADMIN)
    assert (unknown.status, unknown.code) == (404, "employee_not_found")


def test_a_linked_slack_user_cannot_be_taken_over(s: Slack, request_id: str) -> None:
    response = s.api.call("PUT", f"/slack-links/{TEAM}/{MIKE_SLACK}", {"employee_id": "john"}, claims=JOHN)
    assert (response.status, response.code) == (409, "slack_user_already_linked")
    assert s.events(f"slack-link#{TEAM}:{MIKE_SLACK}") == ["SlackUserLinked"]


@pytest.mark.parametrize(("path", "field"), [("/slack-links/T0ACME/mike", "path.user_id"), ("/slack-links/t0/U0MIKE", "path.team_id")])
def test_slack_ids_are_checked(s: Slack, path: str, field: str) -> None:
    response = s.api.call("PUT", path, {"employee_id": "mike"}, claims=MIKE)
    assert (response.status, response.body["error"]["field"]) == (400, field)


def test_unlinking_takes_effect_at_once(s: Slack, request_id: str) -> None:
    other = s.api.call("DELETE", f"/slack-links/{TEAM}/{MIKE_SLACK}", None, claims=JOHN)
    assert (other.status, other.code) == (404, "slack_link_not_found")  # not John's to remove
    response = s.api.call("DELETE", f"/slack-links/{TEAM}/{MIKE_SLACK}", None, claims=MIKE)
    assert (response.status, response.body) == (200, {"team_id": TEAM, "user_id": MIKE_SLACK})
    assert s.events(f"slack-link#{TEAM}:{MIKE_SLACK}") == ["SlackUserLinked", "SlackUserUnlinked"]
    status, reply = s.press(request_id)
    assert status == 200 and reply["response_type"] == "ephemeral" and "not linked" in reply["text"]
    assert "LeaveApproved" not in s.events()


# --- a press decides, exactly as the HTTP API would -------------------------------------


def test_a_signed_approve_press_approves_the_request(s: Slack, request_id: str) -> None:
    status, reply = s.press(request_id)
    assert status == 200
    assert reply == {"replace_original": True, "text": f"Approved by <@{MIKE_SLACK}> (mike): leave request {request_id}."}
    stored = s.api.store.inner.load("employee#john")
    assert stored[-1].event_type == "LeaveApproved"
    assert stored[-1].metadata["actor"] == "mike"  # the linked employee, as if Mike had called the API
    assert s.posted == [(f"https://hooks.slack.com/actions/{TEAM}/1/secret", reply)]


def test_a_deny_press_denies(s: Slack, request_id: str) -> None:
    status, reply = s.press(request_id, action="leave_deny")
    assert (status, reply["text"].split(" by ")[0]) == (200, "Denied")
    assert s.events()[-1] == "LeaveDenied"


def test_a_retried_press_decides_once_and_answers_the_same(s: Slack, request_id: str) -> None:
    first = s.press(request_id)
    before = s.api.store.event_count()
    again = s.press(request_id, headers={slack.RETRY_NUM_HEADER: "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert again == first
    assert s.api.store.event_count() == before
    assert s.events().count("LeaveApproved") == 1


def test_a_second_press_on_a_decided_request_says_what_it_is_not_that_it_failed(s: Slack, request_id: str) -> None:
    s.press(request_id)
    status, reply = s.press(request_id, action="leave_deny", action_ts="1767603601.000200")
    assert status == 200 and reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Nothing to do:") and "approved" in reply["text"]
    assert s.events().count("LeaveApproved") == 1 and "LeaveDenied" not in s.events()


def test_the_same_authorisation_as_the_api_refuses_a_non_approver(s: Slack, request_id: str) -> None:
    assert s.api.call("PUT", f"/slack-links/{TEAM}/{JOHN_SLACK}", {"employee_id": "john"}, claims=JOHN).status == 200
    api = s.api.call("POST", f"/leave-requests/{request_id}/approve", {}, claims=JOHN)
    status, reply = s.press(request_id, user=JOHN_SLACK)
    assert (api.status, api.code) == (403, "own_request")
    assert status == 200 and reply["response_type"] == "ephemeral" and "(own_request)" in reply["text"]
    assert "LeaveApproved" not in s.events()


def test_slack_gives_no_admin_rights(s: Slack, request_id: str) -> None:
    # requests of the approver (Mike) are decided by an admin; Ana is one in her token, but
    # a Slack press carries no groups, so as a Slack user she is only the employee ana
    mike_request = s.api.call("POST", "/employees/mike/leave-requests", LEAVE, claims=MIKE).body["request_id"]
    berlin = s.api.store.inner.load("employee#john")[0].data["location_id"]
    assert s.api.call("POST", f"/locations/{berlin}/employees", {"employee_id": "ana", "name": "Ana"}).status == 201
    assert s.api.call("PUT", f"/slack-links/{TEAM}/U0ANA", {"employee_id": "ana"}, claims=ADMIN).status == 200
    status, reply = s.press(mike_request, user="U0ANA")
    assert status == 200 and "(not_the_approver)" in reply["text"]
    assert "LeaveApproved" not in s.events("employee#mike")
    assert s.api.call("POST", f"/leave-requests/{mike_request}/approve", {}, claims=ADMIN).status == 200  # her token may


def test_an_unlinked_slack_user_gets_an_ephemeral_answer_and_nothing_changes(s: Slack, request_id: str) -> None:
    before = s.api.store.event_count()
    status, reply = s.press(request_id, user=EVE_SLACK)
    assert status == 200
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert f"/slack-links/{TEAM}/{EVE_SLACK}" in reply["text"]
    assert s.api.store.event_count() == before


def test_an_unknown_request_is_refused_in_slack(s: Slack, request_id: str) -> None:
    status, reply = s.press("john~99")
    assert status == 200 and "(request_not_found)" in reply["text"]


# --- refused before anything is read ---------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"tamper": b"&x=1"},
        {"signed_with": "another-secret"},
        {"signed_at": NOW - 301},
        {"signed_at": NOW + 301},
        {"headers": {slack.SIGNATURE_HEADER: "v0=" + "0" * 64}},
    ],
    ids=["tampered body", "wrong secret", "stale", "future", "forged signature"],
)
def test_a_tampered_or_stale_request_is_401_and_changes_nothing(s: Slack, request_id: str, change: dict[str, Any]) -> None:
    before, calls = s.api.store.event_count(), len(s.api.store.calls)
    status, reply = s.press(request_id, **change)
    assert (status, reply["error"]["code"]) == (401, "invalid_slack_signature")
    assert s.api.store.event_count() == before
    assert len(s.api.store.calls) == calls  # not even a read
    assert s.posted == []


def test_unsigned_requests_are_401(s: Slack, request_id: str) -> None:
    raw = s.api.app(slack_event(b"payload=%7B%7D", {}))
    assert raw["statusCode"] == 401


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (
            {
                "type": "block_actions",
                "team": {"id": TEAM},
                "user": {"id": MIKE_SLACK},
                "actions": [{"action_id": "other", "value": "john~3", "action_ts": "1"}],
            },
            "unknown_action",
        ),
        (
            {
                "type": "block_actions",
                "team": {"id": TEAM},
                "user": {"id": MIKE_SLACK},
                "actions": [{"action_id": "leave_approve", "value": "not a request", "action_ts": "1"}],
            },
            "invalid_request",
        ),
        ({"type": "shortcut", "team": {"id": TEAM}, "user": {"id": MIKE_SLACK}}, "unsupported_interaction"),
    ],
)
def test_a_signed_but_malformed_press_is_400_naming_it(s: Slack, request_id: str, payload: dict[str, Any], code: str) -> None:
    before = s.api.store.event_count()
    status, reply = s.press(request_id, payload=payload)
    assert (status, reply["error"]["code"]) == (400, code)
    assert reply["error"]["field"].startswith("payload.")
    assert s.api.store.event_count() == before


def test_without_a_signing_secret_the_route_is_404() -> None:
    s = Slack(secret=None)
    status, reply = s.press("john~1")
    assert (status, reply["error"]["code"]) == (404, "route_not_found")
    assert "slack_signing_secret" in reply["error"]["message"]


def test_a_reply_never_goes_anywhere_but_slack(s: Slack, request_id: str) -> None:
    payload = {
        **press_payload(request_id, user=MIKE_SLACK, action="leave_approve", action_ts="1.2"),
        "response_url": "https://evil.example/x",
    }
    status, reply = s.press(request_id, payload=payload)
    assert status == 200 and reply["text"].startswith("Approved by")  # decided and answered in the HTTP response
    assert s.posted == []


def test_a_failed_reply_post_does_not_undo_or_hide_the_decision(request_id: str, s: Slack) -> None:
    def broken(url: str, message: Any) -> None:
        raise OSError("network down")

    s.api.app._endpoints["slack_interactions"]._post = broken  # noqa: SLF001 - the poster fails this once
    status, reply = s.press(request_id)
    assert status == 200 and reply["text"].startswith("Approved by")
    assert s.events()[-1] == "LeaveApproved"


# --- property: whatever arrives, the answer is a 2xx/4xx, never a 500 ------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["block_actions", "shortcut", ""]) | st.text(max_size=5),
        "team": st.fixed_dictionaries({}, optional={"id": st.sampled_from([TEAM, "t", ""]) | _JSON}) | _JSON,
        "user": st.fixed_dictionaries({}, optional={"id": st.sampled_from([MIKE_SLACK, EVE_SLACK, "u"]) | _JSON, "team_id": _JSON}),
        "actions": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "action_id": st.sampled_from(["leave_approve", "leave_deny", "x"]) | _JSON,
                    "value": st.sampled_from(["john~2", "john~0", "~", ""]) | _JSON,
                    "action_ts": st.text(max_size=20) | _JSON,
                },
            )
            | _JSON,
            max_size=2,
        )
        | _JSON,
        "response_url": st.sampled_from(["https://evil.example/x", "ftp://x"]) | _JSON,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=_PAYLOADS, signed=st.booleans())
def test_any_payload_signed_or_not_is_answered_never_with_a_500(s: Slack, request_id: str, payload: dict[str, Any], signed: bool) -> None:
    status, reply = s.press(request_id, payload=payload, signed_with=SECRET if signed else "forged")
    assert status in (200, 400, 401), reply
    assert signed or status == 401
    assert all(url.startswith("https://hooks.slack.com/") for url, _ in s.posted)
