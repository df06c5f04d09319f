"""The Slack messages of leave events, as EventBridge's input transformer renders them.

The notifications webhook Lambda is gone (issue 11): EventBridge builds each message with the
target's input transformer (`notifications.slack` holds the templates) and posts it to Slack's
chat.postMessage through an API destination. These tests render each template for a sample
event with the local stack's transformer (`acme_eventsourcing.local.api_destinations.transform`,
which follows EventBridge's rules; its own tests check it against the documented examples),
and keep what the old notifier's tests asserted: one message per notified event type, naming
who asked or decided and for which leave, the reason of a denial, the event id to deduplicate.
Delivery (retries, DLQ, auth header, rate limit) is tested in tests/e2e/test_local_api_destinations.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from acme_eventsourcing.local.api_destinations import transform
from leave.events import NOTIFICATION_EVENT_TYPES
from notifications.slack import APPROVE_ACTION, CHAT_POST_MESSAGE, DENY_ACTION, MESSAGES, SlackMessage

CHANNEL = "C0LEAVE"
BY_TYPE = {m.event_type: m for m in MESSAGES}


def leave_event(detail_type: str, **data: object) -> dict[str, Any]:
    base = {
        "employee_id": "john",
        "request_id": "john~4",
        "location_id": "loc-1",
        "leave_type": "PTO",
        "start": "2026-03-02",
        "end": "2026-03-04",
        "working_days": 3,
    }
    return {
        "version": "0",
        "id": "bus-id",
        "source": "acme.leave",
        "detail-type": detail_type,
        "account": "123456789012",
        "time": "2026-02-01T09:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "metadata": {"event_id": "ev-1", "stream_id": "employee#john", "version": 4, "occurred_at": "2026-02-01T09:00:00Z"},
            "data": {**base, **data},
        },
    }


def rendered(message: SlackMessage, event: dict[str, Any]) -> dict[str, Any]:
    """The chat.postMessage body EventBridge sends for `event` (it must be JSON)."""
    return json.loads(transform(message.input_paths, message.template(CHANNEL), event))


def section_text(body: dict[str, Any]) -> str:
    return body["blocks"][0]["text"]["text"]


def test_one_message_per_notified_event_type_cancellations_included() -> None:
    assert [m.event_type for m in MESSAGES] == list(NOTIFICATION_EVENT_TYPES)
    assert "LeaveCancelled" in BY_TYPE
    assert len({m.name for m in MESSAGES}) == len(MESSAGES)
    assert CHAT_POST_MESSAGE == "https://slack.com/api/chat.postMessage"


def test_a_new_request_names_who_asked_for_what_and_carries_the_decision_buttons() -> None:
    body = rendered(BY_TYPE["LeaveRequested"], leave_event("LeaveRequested", approver_id="mike", note="family trip"))
    assert body["channel"] == CHANNEL
    assert body["text"] == ":inbox_tray: *john* requested PTO 2026-03-02..2026-03-04 (3 working days)"
    assert section_text(body) == body["text"]
    assert body["blocks"][1]["elements"][0]["text"] == "request john~4 | event ev-1"
    actions = body["blocks"][2]
    assert actions["type"] == "actions"
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in actions["elements"]] == [
        (APPROVE_ACTION, "john~4", "Approve"),
        (DENY_ACTION, "john~4", "Deny"),
    ]
    assert (APPROVE_ACTION, DENY_ACTION) == ("leave_approve", "leave_deny")  # the contract with the interaction endpoint
    assert body["attachments"] == [{"title": "Note", "text": "family trip"}]
    assert body["metadata"] == {"event_type": "LeaveRequested", "event_payload": {"request_id": "john~4", "event_id": "ev-1"}}


def test_approval_and_denial_name_who_decided_and_why() -> None:
    approved = rendered(BY_TYPE["LeaveApproved"], leave_event("LeaveApproved", approved_by="mike"))
    denied = rendered(BY_TYPE["LeaveDenied"], leave_event("LeaveDenied", denied_by="mike", reason="team offsite"))
    assert approved["text"] == ":white_check_mark: mike approved john's PTO 2026-03-02..2026-03-04 (3 working days)"
    assert denied["text"] == ":x: mike denied john's PTO 2026-03-02..2026-03-04 (3 working days)"
    assert denied["attachments"] == [{"title": "Reason", "text": "team offsite"}]
    assert "blocks" in approved and all(b["type"] != "actions" for b in approved["blocks"] + denied["blocks"])


def test_a_cancellation_says_who_cancelled_what() -> None:
    body = rendered(BY_TYPE["LeaveCancelled"], leave_event("LeaveCancelled", cancelled_by="john", previous_status="approved"))
    assert body["text"] == ":wastebasket: john cancelled john's approved PTO 2026-03-02..2026-03-04 (3 working days)"


def test_reminders_and_escalations_say_how_long_it_waited_and_ask_again() -> None:
    reminder = rendered(BY_TYPE["ApprovalReminderSent"], leave_event("ApprovalReminderSent", approver_id="mike", working_days_pending=2))
    escalated = rendered(BY_TYPE["ApprovalEscalated"], leave_event("ApprovalEscalated", approver_id=None, working_days_pending=5))
    assert reminder["text"].endswith("john's PTO 2026-03-02..2026-03-04 (3 working days) has waited 2 working days for a decision")
    assert "at location loc-1 has waited 5 working days" in escalated["text"]
    for body in (reminder, escalated):
        assert [b["action_id"] for b in body["blocks"][2]["elements"]] == [APPROVE_ACTION, DENY_ACTION]


@pytest.mark.parametrize(
    "text",
    ['he said "no"', "back\\slash", "line\nbreak", "<b>tags</b> & {json: [1]}", "", "émoji 🏖️"],
    ids=["quotes", "backslash", "newline", "markup", "empty", "unicode"],
)
def test_free_text_cannot_break_the_message(text: str) -> None:
    """A note or a reason is put outside quotes, where EventBridge inserts it as JSON: any text
    stays one valid string (a value inside quotes would not be escaped)."""
    requested = rendered(BY_TYPE["LeaveRequested"], leave_event("LeaveRequested", note=text))
    denied = rendered(BY_TYPE["LeaveDenied"], leave_event("LeaveDenied", denied_by="mike", reason=text))
    assert requested["attachments"][0]["text"] == text and denied["attachments"][0]["text"] == text


def test_every_path_a_message_reads_is_in_its_event() -> None:
    """A path the event lacks renders as nothing and breaks the JSON: each message reads only
    fields its event type always has (the domain's event classes)."""
    from leave import events

    for m in MESSAGES:
        fields = set(events.event_class(m.event_type).__annotations__) | {"employee_id"}
        fields |= {f for klass in events.event_class(m.event_type).__mro__ for f in getattr(klass, "__annotations__", {})}
        for variable, path in m.input_paths.items():
            if path.startswith("$.detail.data."):
                assert path.removeprefix("$.detail.data.") in fields, f"{m.name}: <{variable}> reads {path}"
