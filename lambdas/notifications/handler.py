"""Notifications: a webhook message for each new leave request, each decision, and each
reminder or escalation of a request left pending.

Subscribed (by its own rule, choreography) to source `acme.leave`, detail-types
`LeaveRequested`, `LeaveApproved`, `LeaveDenied`, `ApprovalReminderSent` and
`ApprovalEscalated` (the last two come from the approval reminders workflow: the request's
approver is reminded, then the admins are asked to decide). Each event becomes one JSON POST to
`WEBHOOK_URL` (Slack-compatible: it has a `text`), with the event id as `Idempotency-Key`
because delivery is at-least-once. A non-2xx answer, a redirect or a network error raises,
so EventBridge retries and then the DLQ keeps the event. An empty `WEBHOOK_URL` means
notifications are off: the event is logged and dropped.

The entry point is the runtime library's subscriber (`acme_eventsourcing.runtime.subscriber`):
it parses the bus event (or an SQS batch of them) into a `BusEvent`, skips an event already
notified (by this container, or by any: the subscription's checkpoint table has its
marker), records what it handled there (what `ops lag` compares with leave's Events table),
and reports failed messages of a batch; this module only says what to send. Stdlib and the library only (no boto3).
"""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from acme_eventsourcing.runtime.envelopes import BusEvent, parse_bus_event
from acme_eventsourcing.runtime.handler import Clock
from acme_eventsourcing.runtime.subscriber import subscriber_handler

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

LEAVE_SOURCE = "acme.leave"
NOTIFIED_EVENT_TYPES: tuple[str, ...] = ("LeaveRequested", "LeaveApproved", "LeaveDenied", "ApprovalReminderSent", "ApprovalEscalated")
DEFAULT_TIMEOUT_SECONDS = 5.0


class WebhookError(RuntimeError):
    """The webhook did not take the message (non-2xx, redirect, network error, timeout)."""


class Webhook:
    """Where and how to POST: an http(s) URL (empty = off) and a timeout in seconds."""

    __slots__ = ("url", "timeout")

    def __init__(self, *, url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        if url and (urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).hostname):
            raise ValueError("WEBHOOK_URL must be an http or https URL")
        if not timeout > 0:
            raise ValueError("the webhook timeout must be positive")
        self.url = url
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Webhook(url={self.url!r}, timeout={self.timeout!r})"


def message(detail_type: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON message for one leave event's envelope."""
    meta, data = detail.get("metadata") or {}, detail.get("data") or {}
    employee, days = data.get("employee_id"), data.get("working_days")
    span = f"{data.get('leave_type')} {data.get('start')}..{data.get('end')} ({days} working days)"
    if detail_type == "LeaveRequested":
        text, by = f"{employee} requested {span}", meta.get("actor") or employee
    elif detail_type == "ApprovalReminderSent":
        pending = data.get("working_days_pending")
        approver = data.get("approver_id") or "the admins"
        text, by = f"reminder to {approver}: {employee}'s {span} is pending for {pending} working days", None
    elif detail_type == "ApprovalEscalated":
        pending = data.get("working_days_pending")
        text = f"escalated to the admins: {employee}'s {span} is pending for {pending} working days (location {data.get('location_id')})"
        by = None
    elif detail_type == "LeaveApproved":
        text, by = f"{data.get('approved_by')} approved {employee}'s {span}", data.get("approved_by")
    else:
        reason = data.get("reason") or ""
        by = data.get("denied_by")
        text = f"{by} denied {employee}'s {span}" + (f": {reason}" if reason else "")
    return {
        "type": detail_type,
        "text": text,
        "request_id": data.get("request_id"),
        "employee_id": employee,
        "by": by,
        "approver_id": data.get("approver_id"),
        "leave_type": data.get("leave_type"),
        "start": data.get("start"),
        "end": data.get("end"),
        "working_days": days,
        "working_days_pending": data.get("working_days_pending"),
        "event_id": meta.get("event_id"),
        "occurred_at": meta.get("occurred_at"),
    }


def post(webhook: Webhook, body: Mapping[str, Any], idempotency_key: str) -> int:
    """POST `body` as JSON; the status, or `WebhookError` unless it is 2xx (a redirect is
    an answer we did not ask for: it is not followed, and it fails)."""
    url = urlsplit(webhook.url)
    connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(url.hostname or "", url.port, timeout=webhook.timeout)
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key, "User-Agent": "acme-leave-notifications"}
    try:
        connection.request("POST", target, body=json.dumps(body, separators=(",", ":")).encode("utf-8"), headers=headers)
        response = connection.getresponse()
        status = response.status
        response.read()
    except (http.client.HTTPException, OSError) as exc:  # refused, DNS, TLS, timeout, a broken answer
        raise WebhookError(f"webhook unreachable: {exc!r}") from exc
    finally:
        connection.close()
    if not 200 <= status < 300:
        raise WebhookError(f"webhook answered {status}")
    return status


def send(delivery: BusEvent, webhook: Webhook) -> dict[str, Any]:
    """Send the message of one delivered event, if it is one we notify about."""
    detail_type = delivery.detail_type
    if delivery.source != LEAVE_SOURCE or detail_type not in NOTIFIED_EVENT_TYPES:
        logger.info(json.dumps({"message": "ignored", "source": delivery.source, "detail-type": detail_type}))
        return {"notified": False}
    body = message(detail_type, delivery.event.envelope())
    if not webhook.url:
        logger.info(json.dumps({"message": "WEBHOOK_URL is empty; not sent", "event_id": body["event_id"]}))
        return {"notified": False}
    status = post(webhook, body, str(body["event_id"] or delivery.bus_event_id))
    logger.info(json.dumps({"message": "notified", "event_id": body["event_id"], "status": status}))
    return {"notified": True, "status": status}


def notify(event: Mapping[str, Any], webhook: Webhook) -> dict[str, Any]:
    """Send the message of one EventBridge event (`send` of its parsed `BusEvent`);
    `MalformedEventError` (a ValueError) if it carries no envelope."""
    return send(parse_bus_event(event), webhook)


def webhook_from_env(environ: Mapping[str, str]) -> Webhook:
    """`WEBHOOK_URL` (empty = off) and `WEBHOOK_TIMEOUT_SECONDS` (default 5)."""
    return Webhook(
        url=environ.get("WEBHOOK_URL", "").strip(),
        timeout=float(environ.get("WEBHOOK_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS),
    )


def build(environ: Mapping[str, str], clock: Clock) -> Callable[[BusEvent], dict[str, Any]]:
    """The subscription's function, wired once per container from its environment."""
    webhook = webhook_from_env(environ)
    return lambda delivery: send(delivery, webhook)


handler = subscriber_handler(build, uses_clock=False)
"""Lambda entry point (EventBridge target, or SQS-buffered: then failed messages are reported one by one)."""
