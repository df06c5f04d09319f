"""Subscription to the leave service's `LeaveApproved` events (source `acme.leave`).

An employee away on approved leave cannot sign for a delivery: for each approved leave
this function asks the courier to hold deliveries to that employee from the leave's first
to its last day, with one JSON POST to `COURIER_URL` (empty = off: logged and dropped).
Delivery is at least once, so the leave event's id goes as the `Idempotency-Key`; a
non-2xx answer or a network error raises, so EventBridge retries and then the DLQ keeps
the event. Lambda handler setting: `orders_leave.courier.handler`.

`hold_request(delivery)` is the pure part: the courier's request for one delivered event,
or None for an event this subscription does not act on. The runtime
(`acme_eventsourcing.runtime.subscriber`) parses the bus event (directly or from an SQS
batch), skips an event id this container already handled, and lets errors through.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from acme_eventsourcing.runtime.handler import Clock
from acme_eventsourcing.runtime.subscriber import BusEvent, subscriber_handler

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

LEAVE_SOURCE = "acme.leave"
LEAVE_APPROVED = "LeaveApproved"


def hold_request(delivery: BusEvent) -> dict[str, Any] | None:
    """The courier's hold request for a `LeaveApproved` event of the leave service."""
    if delivery.source != LEAVE_SOURCE or delivery.detail_type != LEAVE_APPROVED:
        return None
    data = delivery.event.data
    missing = [name for name in ("employee_id", "start", "end") if not data.get(name)]
    if missing:
        raise ValueError(f"LeaveApproved event {delivery.event.event_id} lacks {', '.join(missing)}")
    return {
        "hold_deliveries_to": data["employee_id"],
        "from": data["start"],
        "until": data["end"],
        "because": "approved leave",
        "leave_request_id": data.get("request_id"),
        "event_id": delivery.event.event_id,
    }


class CourierSubscriber:
    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("COURIER_URL must be an http or https URL")
        self._url, self._timeout = url, timeout_s

    def __call__(self, delivery: BusEvent) -> dict[str, Any]:
        body = hold_request(delivery)
        if body is None:
            return {"held": False}
        if not self._url:
            logger.info(json.dumps({"message": "COURIER_URL is empty; not sent", "event_id": body["event_id"]}))
            return {"held": False}
        request = urllib.request.Request(
            self._url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": str(body["event_id"])},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:  # noqa: S310 - an http(s) URL, checked above
                status = answer.status
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"the courier answered {exc.code}") from exc
        except OSError as exc:
            raise RuntimeError(f"the courier is unreachable: {exc!r}") from exc
        logger.info(json.dumps({"message": "hold requested", "event_id": body["event_id"], "status": status}))
        return {"held": True, "status": status}


def build(environ: Mapping[str, str], clock: Clock) -> CourierSubscriber:
    return CourierSubscriber(environ.get("COURIER_URL", "").strip())


handler = subscriber_handler(build, uses_clock=False)
