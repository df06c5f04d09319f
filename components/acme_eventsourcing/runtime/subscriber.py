"""The subscriber runtime: a function that reacts to another service's events on the bus.

A subscription (`SubscriptionSpec` of `EventSourcedService`) is a rule on the shared bus
(sources and detail-types) whose target is the function, either directly (one bus event per
invocation, retried by EventBridge, then its dead-letter queue) or through an SQS queue
(a batch of messages whose bodies are the bus events). What a team writes is one function
of the delivered event:

    def build(environ: Mapping[str, str], clock: Clock) -> Callable[[BusEvent], Any]:
        hook = require(environ, "WEBHOOK_URL", "where to post")
        return lambda delivery: post(hook, delivery.event.data, key=delivery.event.event_id)

    handler = subscriber_handler(build)        # handler setting: "my_service.subscriber.handler"

`delivery` is a `BusEvent`: `source`, `detail_type`, and `event`, the `StoredEvent` the
publisher put on the bus (`event.envelope()` is the bus event's `detail`: metadata + data).
The runtime does the rest:

- a direct invocation returns what the function returns; an error propagates (EventBridge
  retries, then the dead-letter queue keeps the event); a bus event without an envelope is
  a `MalformedEventError`;
- an SQS batch (`Records` with `eventSource` `aws:sqs`) is handled message by message and
  answers `{"batchItemFailures": [...]}` naming the messages that failed, so only those
  come back (the event source mapping needs `ReportBatchItemFailures`); in a FIFO queue, the
  messages after a failed one of the same group fail too, keeping the group's order;
- delivery is at least once: an event whose `event_id` this container already handled
  successfully (a redelivery, a duplicate in a batch) is skipped;
- with CHECKPOINT_TABLE in the environment (the `Subscription` component sets it), each
  handled event is recorded in the subscription's checkpoint table
  (`runtime.checkpoints`): a marker per event, by which an event handled in ANY container
  is skipped when it comes again (a redelivery, a redriven DLQ message), and per source
  stream the highest version handled, which `ops lag` compares with the source's Events
  table. A duplicate is an event whose marker exists, never "a version at or below the
  checkpoint" (a subscription sees some detail types only, and out of order). The table
  never turns into a failure of delivery: if the marker cannot be read the event is
  handled; if the record cannot be written after the function succeeded, the error is
  logged (`checkpoint not recorded`) and the delivery still succeeds (the effect is
  committed), so a redelivery of that event would run the function again.

  That is still only the cheap part of idempotency (two containers may run the same event
  at the same moment; a marker expires after 15 days): the function's effect must be
  idempotent itself, e.g. by passing `event.event_id` as an idempotency key.

The clock `build` receives is the handler's (`LambdaHandler.use_clock`): a subscription
that appends events dates them with it. Standard library, and boto3 for the checkpoint table.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .checkpoints import SubscriptionCheckpoints
from .envelopes import BusEvent, MalformedEventError, parse_bus_event
from .handler import Clock, LambdaHandler

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

Handle = Callable[[BusEvent], Any]
"""A subscription's reaction to one delivered event."""

#: How many handled event ids a container remembers to skip redeliveries.
REMEMBERED_EVENTS = 1024


def is_sqs_batch(event: Any) -> bool:
    """Whether a Lambda event is a batch of SQS messages (else it is one bus event)."""
    if not isinstance(event, Mapping):
        return False
    records = event.get("Records")
    return (
        isinstance(records, list) and bool(records) and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def from_sqs_record(record: Mapping[str, Any]) -> BusEvent:
    """The bus event an SQS message carries in its body (a rule's SQS target delivers the
    whole EventBridge event as JSON text); `MalformedEventError` if it carries none."""
    body = record.get("body")
    try:
        event = json.loads(body) if isinstance(body, str) else body
    except ValueError as exc:
        raise MalformedEventError(f"the message body is not JSON: {exc}") from exc
    return parse_bus_event(event)


class SubscriberApp:
    """Runs `handle` for each delivered event (direct or SQS batch); see the module docstring.

    `remember`: how many successfully handled event ids to keep for skipping duplicates
    (0 = none); `checkpoints`: the subscription's checkpoint table (None = no durable record,
    the in-container memory only)."""

    def __init__(self, handle: Handle, *, remember: int = REMEMBERED_EVENTS, checkpoints: SubscriptionCheckpoints | None = None) -> None:
        self.handle = handle
        self.checkpoints = checkpoints
        self._remember = remember
        self._handled: OrderedDict[str, None] = OrderedDict()

    def __call__(self, event: Mapping[str, Any]) -> Any:
        if is_sqs_batch(event):
            return self.batch(event["Records"])
        return self.one(parse_bus_event(event))

    def one(self, delivery: BusEvent) -> Any:
        """Handle one event unless it was handled already (by this container, or by any, as
        its marker in the checkpoint table says), then record it; the function's result, or
        `{"duplicate": True, "event_id": ...}` for a skipped duplicate."""
        event_id = delivery.event.event_id
        if event_id in self._handled:
            self._handled.move_to_end(event_id)
            return self._skipped(delivery, "this container handled it")
        if self.checkpoints is not None and self._marked(delivery):
            self._remembered(event_id)
            return self._skipped(delivery, "its marker says it was handled")
        result = self.handle(delivery)
        self._remembered(event_id)
        if self.checkpoints is not None:
            self._record(delivery)
        return result

    def _skipped(self, delivery: BusEvent, why: str) -> dict[str, Any]:
        event = delivery.event
        logger.info(
            json.dumps(
                {
                    "message": "duplicate skipped",
                    "why": why,
                    "event_id": event.event_id,
                    "stream_id": event.stream_id,
                    "version": event.version,
                    "detail-type": delivery.detail_type,
                }
            )
        )
        return {"duplicate": True, "event_id": event.event_id}

    def _remembered(self, event_id: str) -> None:
        if self._remember > 0:
            self._handled[event_id] = None
            while len(self._handled) > self._remember:
                self._handled.popitem(last=False)

    def _marked(self, delivery: BusEvent) -> bool:
        assert self.checkpoints is not None
        event = delivery.event
        try:
            return self.checkpoints.handled(delivery.source, event.stream_id, event.version)
        except Exception as exc:  # noqa: BLE001 - the table must not stop delivery: handle it (at least once)
            logger.warning(json.dumps({"message": "marker not read; handling the event", "event_id": event.event_id, "error": _error(exc)}))
            return False

    def _record(self, delivery: BusEvent) -> None:
        assert self.checkpoints is not None
        event = delivery.event
        try:
            self.checkpoints.record(delivery.source, event.stream_id, event.version, event_id=event.event_id, event_type=event.event_type)
        except Exception as exc:  # noqa: BLE001 - the effect is committed: not a failure of the delivery
            logger.error(
                json.dumps(
                    {
                        "message": "checkpoint not recorded; a redelivery of this event would be handled again",
                        "event_id": event.event_id,
                        "stream_id": event.stream_id,
                        "version": event.version,
                        "error": _error(exc),
                    }
                )
            )

    def batch(self, records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
        """Handle each message; `{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}`."""
        failures: list[dict[str, str]] = []
        failed_groups: set[str] = set()
        for record in records:
            message_id = str(record.get("messageId", ""))
            group = (record.get("attributes") or {}).get("MessageGroupId")
            if group is not None and group in failed_groups:
                failures.append({"itemIdentifier": message_id})
                continue
            try:
                self.one(from_sqs_record(record))
            except Exception as exc:  # noqa: BLE001 - one message's failure must not fail the others
                logger.error(json.dumps({"message": "failed", "messageId": message_id, "error": _error(exc)}))
                failures.append({"itemIdentifier": message_id})
                if group is not None:
                    failed_groups.add(group)
        return {"batchItemFailures": failures}


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def subscriber_handler(
    build: Callable[[Mapping[str, str], Clock], Handle],
    *,
    environ: Mapping[str, str] | None = None,
    uses_clock: bool = True,
    remember: int = REMEMBERED_EVENTS,
    dynamodb: Any = None,
) -> LambdaHandler[SubscriberApp]:
    """The Lambda entry point of a subscription: `handler = subscriber_handler(build)`.

    `build(environ, clock)` returns the function of one `BusEvent`; it runs on the first
    invocation, from `os.environ` (or `environ`), and its result is kept for the container's
    life. Say `uses_clock=False` if the function reads no clock (a host that simulates a date
    then leaves it out of the functions it shifted). With CHECKPOINT_TABLE in the environment
    handled events are recorded there (see the module docstring), through `dynamodb` (a
    boto3 DynamoDB client; default: a new one)."""

    def build_app(env: Mapping[str, str], clock: Clock) -> SubscriberApp:
        checkpoints = None
        table = env.get("CHECKPOINT_TABLE")
        if table:
            client = dynamodb
            if client is None:
                import boto3

                client = boto3.client("dynamodb")
            checkpoints = SubscriptionCheckpoints(client, table)
        return SubscriberApp(build(env, clock), remember=remember, checkpoints=checkpoints)

    return LambdaHandler(build_app, environ=environ, uses_clock=uses_clock)


__all__ = [
    "REMEMBERED_EVENTS",
    "BusEvent",
    "Handle",
    "MalformedEventError",
    "SubscriberApp",
    "SubscriptionCheckpoints",
    "from_sqs_record",
    "is_sqs_batch",
    "parse_bus_event",
    "subscriber_handler",
]
