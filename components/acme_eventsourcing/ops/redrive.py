"""`redrive QUEUE`: drain a projection's or subscription's DLQ from the source of truth.

A message in such a DLQ is a bus event that could not be handled, in one of two forms: the
event itself (the rule target's dead-letter queue: delivery failed) or a Lambda
destination record whose `requestPayload` is the event (the function's on-failure
destination: it failed every retry). Either names a stream and a version. The message may
be stale (the stream moved on since), so it is not re-sent; instead:

- for a projection, the stream's latest event is read from the Events table and handed to
  the projector function (a synchronous invoke): it applies the stream from the
  projection's checkpoint through that version, filling the gap from the Events table, so
  the read model gets the current truth; a stream already applied that far is not invoked;
  every message of a stream is handled by one such call;
- for a subscription, the event is re-read from its source's Events table by stream id and
  version and delivered to the subscriber function (a synchronous invoke), unless the
  subscription's checkpoint table has the event's marker (it was handled since it was
  dead-lettered: an EventBridge retry or an earlier redrive got through): then it is
  counted as already handled and not delivered; the subscriber itself skips a delivered
  event it finds marked (its answer `{"duplicate": true}` counts as already handled too).

A message is deleted only once its stream or event was handled; one that fails again, or
that cannot be read, stays in the queue (visible again at the end) and is counted.
`dry_run` says what would be done and changes nothing. Both the local stack and AWS answer
the Lambda invokes (the local stack runs the declared function in its own process).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..runtime.checkpoints import SubscriptionCheckpoints
from ..runtime.envelopes import MalformedEventError, parse_bus_event
from ..runtime.eventstore.dynamodb import DynamoDBEventStore
from ..runtime.eventstore.ports import StoredEvent
from ..runtime.projections.bluegreen import read_pointer
from ..runtime.projections.dynamodb import DynamoDBReadModelStore
from .deployment import Deployment, ProjectionOps, SubscriptionOps

Log = Callable[[str], None]


def bus_event(event: StoredEvent, source: str) -> dict[str, Any]:
    """The EventBridge event the publisher puts on the bus for `event` (a fresh `id`)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "source": source,
        "account": "",
        "time": event.occurred_at,
        "region": "",
        "resources": [],
        "detail-type": event.event_type,
        "detail": event.envelope(),
    }


def message_event(body: str) -> dict[str, Any]:
    """The bus event a DLQ message carries: its body, or its `requestPayload` (a Lambda
    destination record). `MalformedEventError` if it is neither."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise MalformedEventError(f"the message body is not JSON: {exc}") from None
    if isinstance(payload, dict) and isinstance(payload.get("requestPayload"), dict):
        payload = payload["requestPayload"]
    if not isinstance(payload, dict):
        raise MalformedEventError("the message body is not a bus event")
    return payload


@dataclass(kw_only=True)
class RedriveReport:
    """Counts of one redrive: messages `received`; `handled` (re-applied or re-delivered),
    `already` (a projection already had them, a subscription had handled them), `failed` and `unreadable` (both stay in the
    queue); `deleted`; and one line per stream or event."""

    queue: str
    dry_run: bool
    received: int = 0
    handled: int = 0
    already: int = 0
    failed: int = 0
    unreadable: int = 0
    deleted: int = 0
    lines: list[str] = field(default_factory=list)

    def delivered(self, ok: bool, what: str, answer: str, done: str) -> bool:
        """Count one re-application or re-delivery: handled (line `what: done`) or failed again
        (line `what: FAILED again: answer (kept)`); returns `ok`."""
        if ok:
            self.handled += 1
            self.lines.append(f"  {what}: {done}")
        else:
            self.failed += 1
            self.lines.append(f"  {what}: FAILED again: {answer} (kept)")
        return ok

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        return (
            f"{self.queue}: {self.received} messages; {self.handled} {verb}handled from the Events table, "
            f"{self.already} already applied, {self.failed} failed again, {self.unreadable} unreadable; "
            f"{self.deleted} deleted" + (" (dry run: nothing changed)" if self.dry_run else "")
        )


class Invoker:
    """Synchronous Lambda invokes: (ok, what the function answered or its error)."""

    def __init__(self, lambda_client: Any) -> None:
        self._client = lambda_client

    def __call__(self, function: str, event: dict[str, Any]) -> tuple[bool, str]:
        answer = self._client.invoke(FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event).encode())
        payload = answer["Payload"].read().decode() if answer.get("Payload") is not None else ""
        if answer.get("FunctionError"):
            try:
                error = json.loads(payload)
                return False, f"{error.get('errorType')}: {error.get('errorMessage')}"
            except ValueError:
                return False, payload or answer["FunctionError"]
        return True, payload


def _receive(sqs: Any, url: str, visibility: int) -> list[dict[str, Any]]:
    """Every message of the queue, each received once (hidden for `visibility` seconds)."""
    messages: list[dict[str, Any]] = []
    empty = 0
    while empty < 2:  # an empty answer can be a miss of SQS's sampled hosts: ask twice
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility, WaitTimeSeconds=0).get(
            "Messages", []
        )
        empty = 0 if batch else empty + 1
        messages.extend(batch)
    return messages


def redrive(
    deployment: Deployment,
    reactor: ProjectionOps | SubscriptionOps,
    *,
    dry_run: bool = False,
    invoke: Callable[[str, dict[str, Any]], tuple[bool, str]] | None = None,
    log: Log = print,
) -> RedriveReport:
    """Drain `reactor`'s DLQ (see the module docstring)."""
    sqs, ddb = deployment.client("sqs"), deployment.client("dynamodb")
    invoke = invoke or Invoker(deployment.client("lambda"))
    report = RedriveReport(queue=reactor.qualified, dry_run=dry_run)
    messages = _receive(sqs, reactor.dlq_url, visibility=max(60, 2 * reactor.timeout_s + 30))
    report.received = len(messages)
    keep: list[dict[str, Any]] = []
    done: dict[tuple[str, ...], bool] = {}  # per stream (projection) or event (subscription): handled?
    for message in messages:
        try:
            delivered = parse_bus_event(message_event(message["Body"]))
        except MalformedEventError as exc:
            report.unreadable += 1
            report.lines.append(f"  unreadable message {message['MessageId']}: {exc} (kept)")
            keep.append(message)
            continue
        if isinstance(reactor, ProjectionOps):
            key: tuple[str, ...] = (delivered.event.stream_id,)
        else:
            key = (delivered.source, delivered.event.stream_id, str(delivered.event.version))
        outcome = done.get(key)
        if outcome is None:
            if isinstance(reactor, ProjectionOps):
                outcome = _projection(ddb, reactor, delivered.event.stream_id, report, invoke, dry_run)
            else:
                outcome = _subscription(deployment, ddb, reactor, delivered, report, invoke, dry_run)
            done[key] = outcome
        elif outcome:
            report.already += 1  # the same stream (or event) was handled for an earlier message
        if outcome and not dry_run:
            sqs.delete_message(QueueUrl=reactor.dlq_url, ReceiptHandle=message["ReceiptHandle"])
            report.deleted += 1
        else:
            keep.append(message)
    for start in range(0, len(keep), 10):  # visible again now: for the alarm, and the next redrive
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(keep[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=reactor.dlq_url, Entries=entries)
    for line in report.lines:
        log(line)
    return report


def _projection(
    ddb: Any,
    projection: ProjectionOps,
    stream_id: str,
    report: RedriveReport,
    invoke: Callable[[str, dict[str, Any]], tuple[bool, str]],
    dry_run: bool,
) -> bool:
    table = read_pointer(ddb, projection.table).active if projection.blue_green else projection.table
    checkpoint = DynamoDBReadModelStore(ddb, table).checkpoint(stream_id)
    events = DynamoDBEventStore(ddb, projection.events_table).load(stream_id, checkpoint)
    if not events:
        report.already += 1
        report.lines.append(f"  {stream_id}: already applied through v{checkpoint}, the Events table's last version")
        return True
    latest = events[-1]
    what = f"{stream_id}: v{checkpoint + 1}..v{latest.version} from the Events table"
    if dry_run:
        report.handled += 1
        report.lines.append(f"  {what}: would be applied by {projection.function}")
        return True
    ok, answer = invoke(projection.function, bus_event(latest, projection.source))
    return report.delivered(ok, what, answer, f"applied ({answer})")


def _subscription(
    deployment: Deployment,
    ddb: Any,
    subscription: SubscriptionOps,
    delivered: Any,
    report: RedriveReport,
    invoke: Callable[[str, dict[str, Any]], tuple[bool, str]],
    dry_run: bool,
) -> bool:
    event = delivered.event
    where = f"{event.stream_id} v{event.version} {event.event_type}"
    if subscription.checkpoint_table and SubscriptionCheckpoints(ddb, subscription.checkpoint_table).handled(
        delivered.source, event.stream_id, event.version
    ):
        report.already += 1
        report.lines.append(f"  {where}: already handled (its marker is in {subscription.checkpoint_table}): not delivered again")
        return True
    table = deployment.events_tables.get(delivered.source)
    if table is None:
        report.failed += 1
        report.lines.append(f"  {where}: no Events table of {delivered.source!r} in this stack's outputs to re-read it from (kept)")
        return False
    stored = next(iter(DynamoDBEventStore(ddb, table).load(event.stream_id, event.version - 1)[:1]), None)
    if stored is None or stored.version != event.version:
        report.failed += 1
        report.lines.append(f"  {where}: not in the Events table {table} (kept)")
        return False
    if dry_run:
        report.handled += 1
        report.lines.append(f"  {where}: would be re-read from {table} and delivered to {subscription.function}")
        return True
    ok, answer = invoke(subscription.function, bus_event(stored, delivered.source))
    if ok and _duplicate(answer):
        report.already += 1
        report.lines.append(f"  {where}: re-read from {table}; the subscriber found it handled already and skipped it")
        return True
    return report.delivered(ok, where, answer, f"re-read from {table}, delivered")


def _duplicate(answer: str) -> bool:
    """Whether the subscriber answered that it skipped the event as a duplicate."""
    try:
        payload = json.loads(answer)
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("duplicate") is True
