"""The Slack messages of leave events: pure data, sent by EventBridge (no Lambda in the path).

Each notified event type has a `SlackMessage`: the JSON paths of the event it reads
(`input_paths`) and the body of a `chat.postMessage` call (`template(channel)`), with
`<variable>` placeholders that EventBridge's input transformer fills in. The rules of that
transformer shape the templates:

- inside a JSON string a placeholder becomes the value's text, NOT escaped: only values whose
  format the API validates (ids `[A-Za-z0-9_.@-]`, dates, leave types, day counts) are put
  there;
- free text (a request's `note`, a denial's `reason`) is put OUTSIDE quotes, where the value
  goes in as JSON (quoted and escaped): in an attachment's `text`, which may be empty;
- every path must exist in every event the rule matches (a missing one gives nothing, which
  breaks the JSON): one rule, and one message, per event type.

The `LeaveRequested` message (and the reminder and escalation, which ask for the same
decision) carries two buttons, `action_id` `leave_approve` and `leave_deny`, whose `value`
is the request id (`<employee_id>~<n>`): the Slack interaction endpoint decides the request
from them (docs/slack.md).

Stdlib only: `__main__.py` (the Pulumi program) reads it, as it reads `leave.events`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LEAVE_SOURCE = "acme.leave"
#: Slack's Web API method the messages are posted to (a bot token authenticates the call).
CHAT_POST_MESSAGE = "https://slack.com/api/chat.postMessage"
APPROVE_ACTION = "leave_approve"
DENY_ACTION = "leave_deny"
DECISION_BLOCK = "leave_decision"

_RAW = re.compile(r'"@@([A-Za-z0-9_]+)@@"')


def raw(variable: str) -> str:
    """A placeholder the template puts outside quotes (its value goes in as JSON)."""
    return f"@@{variable}@@"


def render_template(body: Mapping[str, Any]) -> str:
    """`body` as an input template: JSON, with each `raw(...)` string an unquoted placeholder."""
    return _RAW.sub(r"<\1>", json.dumps(body, separators=(",", ":")))


_DATA = "$.detail.data"
_COMMON = {
    "employee": f"{_DATA}.employee_id",
    "request": f"{_DATA}.request_id",
    "type": f"{_DATA}.leave_type",
    "start": f"{_DATA}.start",
    "end": f"{_DATA}.end",
    "days": f"{_DATA}.working_days",
}
_SPAN = "<type> <start>..<end> (<days> working days)"


def _buttons() -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": DECISION_BLOCK,
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": "<request>",
            },
            {
                "type": "button",
                "action_id": DENY_ACTION,
                "style": "danger",
                "text": {"type": "plain_text", "text": "Deny"},
                "value": "<request>",
            },
        ],
    }


@dataclass(frozen=True)
class SlackMessage:
    """The message of one event type: `name` (the rule's), the paths it reads, its text and
    blocks (placeholders in them), and free-text attachments (`title` -> variable)."""

    name: str
    event_type: str
    input_paths: Mapping[str, str]
    text: str
    buttons: bool = False
    attachments: tuple[tuple[str, str], ...] = ()

    def template(self, channel: str) -> str:
        """The chat.postMessage body posted to `channel`, as an input template."""
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": self.text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "request <request> | event <event_id>"}]},
        ]
        if self.buttons:
            blocks.append(_buttons())
        body: dict[str, Any] = {
            "channel": channel,
            "text": self.text,
            "blocks": blocks,
            # Slack message metadata: what the message is about, for apps that read the channel
            "metadata": {"event_type": self.event_type, "event_payload": {"request_id": "<request>", "event_id": "<event_id>"}},
        }
        if self.attachments:
            body["attachments"] = [{"title": title, "text": raw(variable)} for title, variable in self.attachments]
        return render_template(body)


def _paths(**extra: str) -> dict[str, str]:
    return {**_COMMON, "event_id": "$.detail.metadata.event_id", **{k: f"{_DATA}.{v}" for k, v in extra.items()}}


MESSAGES: tuple[SlackMessage, ...] = (
    SlackMessage(
        "requested",
        "LeaveRequested",
        _paths(note="note"),
        f":inbox_tray: *<employee>* requested {_SPAN}",
        buttons=True,
        attachments=(("Note", "note"),),
    ),
    SlackMessage("approved", "LeaveApproved", _paths(by="approved_by"), f":white_check_mark: <by> approved <employee>'s {_SPAN}"),
    SlackMessage(
        "denied",
        "LeaveDenied",
        _paths(by="denied_by", reason="reason"),
        f":x: <by> denied <employee>'s {_SPAN}",
        attachments=(("Reason", "reason"),),
    ),
    SlackMessage(
        "cancelled",
        "LeaveCancelled",
        _paths(by="cancelled_by", was="previous_status"),
        f":wastebasket: <by> cancelled <employee>'s <was> {_SPAN}",
    ),
    SlackMessage(
        "reminded",
        "ApprovalReminderSent",
        _paths(pending="working_days_pending"),
        f":alarm_clock: Reminder: <employee>'s {_SPAN} has waited <pending> working days for a decision",
        buttons=True,
    ),
    SlackMessage(
        "escalated",
        "ApprovalEscalated",
        _paths(pending="working_days_pending", location="location_id"),
        f":rotating_light: Escalated to the admins: <employee>'s {_SPAN} at location <location> "
        "has waited <pending> working days for a decision",
        buttons=True,
    ),
)
"""One message per notified event type (`leave.events.NOTIFICATION_EVENT_TYPES`)."""
