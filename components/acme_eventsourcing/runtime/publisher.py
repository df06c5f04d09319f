"""The publisher: DynamoDB stream INSERTs of the Events table -> EventBridge entries.

Deployed by `EventSourcedService` from the runtime library (this module and the library
modules it imports: the item contract `acme_eventsourcing.runtime.items` and the event
store's ports); standard library and boto3 otherwise. It reads every `NewImage` with the
item contract's `read_event_item`, the same module the event store writes with, so an item
the publisher refuses is one that breaks that contract, and the refusal names it. Two entry
points share one conversion (`bus_event`):

- `handler` (the Lambda publisher; environment `EVENT_BUS_NAME`, `EVENT_SOURCE`): each
  event item becomes one PutEvents entry: `Source` = the service's source, `DetailType` =
  `event_type`, `Time` = `occurred_at`, and `Detail` = the envelope `{"metadata":
  {"event_id", "stream_id", "version", "occurred_at", <stored metadata>}, "data": {...}}`.
  Entries go out in calls of at most 10 entries and 256 KB; entries a call rejected are
  re-sent (only those) with exponential backoff and full jitter, and the records still
  failing are returned as `batchItemFailures`, so the event source mapping retries them
  and, when its retries run out, sends them to its on-failure destination: nothing is
  lost and nothing blocks the shard for ever.
- `enrich` (the enrichment of the Pipe publisher; environment `EVENT_SOURCE`): turns the
  Pipe's batch of stream records into `{"detail-type", "time", "detail": <envelope>}`
  per event item; the Pipe's bus target takes `DetailType` and `Time` from the first two
  and the envelope as `Detail`, so both publishers put the same events on the bus.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from acme_eventsourcing.runtime.items import ItemContractError, is_event_item, read_event_item

from ._frozen import frozen_dataclass

MAX_ENTRIES_PER_CALL = 10
MAX_BYTES_PER_CALL = 256 * 1024
TIME_ENTRY_BYTES = 14
"""What AWS counts for an entry's `Time`, whatever its text."""

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


def entry_size(entry: Mapping[str, Any]) -> int:
    """The size AWS counts against PutEvents' 256 KB: Time (14 bytes), Source,
    DetailType, Detail and Resources, in UTF-8 bytes (EventBusName does not count)."""
    return (
        (TIME_ENTRY_BYTES if entry.get("Time") else 0)
        + len(entry["Source"].encode())
        + len(entry["DetailType"].encode())
        + len(entry.get("Detail", "").encode())
        + sum(len(resource.encode()) for resource in entry.get("Resources", ()))
    )


class UnpublishableRecord(Exception):
    """A stream record that can never become a PutEvents entry (it breaks the item
    contract, or its entry is too large); the message says which."""


@frozen_dataclass
class BusEvent:
    """One event item as it goes on the bus: its detail-type, time and envelope (`detail`)."""

    detail_type: str
    occurred_at: str  # ISO-8601, as stored
    detail: dict[str, Any]

    def entry(self, source: str, bus_name: str) -> tuple[dict[str, Any], int]:
        """Its PutEvents entry and that entry's size; UnpublishableRecord if PutEvents
        could never accept it (over 256 KB)."""
        entry = {
            "Source": source,
            "DetailType": self.detail_type,
            "Time": datetime.fromisoformat(self.occurred_at),
            "Detail": json.dumps(self.detail, ensure_ascii=False, separators=(",", ":")),
            "EventBusName": bus_name,
        }
        size = entry_size(entry)
        if size > MAX_BYTES_PER_CALL:
            raise UnpublishableRecord(f"entry of {size} bytes exceeds PutEvents' {MAX_BYTES_PER_CALL}-byte limit")
        return entry, size

    def pipe_event(self) -> dict[str, Any]:
        """What the Pipe's enrichment returns for it: its bus target reads `detail-type` and
        `time` by JSON path and sends `detail` (input template `<$.detail>`) as `Detail`."""
        return {"detail-type": self.detail_type, "time": self.occurred_at, "detail": self.detail}


def event_insert(record: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """(stream id, NewImage) of a stream record that inserts an event item; None for any
    other record (MODIFY, REMOVE, idempotency items)."""
    image = record.get("dynamodb", {}).get("NewImage", {})
    if record.get("eventName") != "INSERT" or not is_event_item(image):
        return None
    return record["dynamodb"]["Keys"]["stream_id"]["S"], image


def bus_event(stream_id: str, image: Mapping[str, Any]) -> BusEvent:
    """The bus event of an event item's NewImage (DynamoDB JSON), read with the item
    contract; UnpublishableRecord naming the attribute and the contract if it breaks it."""
    try:
        stored = read_event_item({**image, "stream_id": {"S": stream_id}})
    except ItemContractError as exc:
        raise UnpublishableRecord(f"malformed event item: {exc}") from exc
    return BusEvent(detail_type=stored.event_type, occurred_at=stored.occurred_at, detail=stored.envelope())


@frozen_dataclass
class _Pending:
    """The PutEvents entry of one event record of the batch."""

    position: int  # in the batch
    stream_id: str
    entry: dict[str, Any]
    size: int


class Publisher:
    """Publishes a batch of DynamoDB stream records of the Events table to one bus.

    Order within a stream: the event source mapping retries a batch from the lowest
    failed sequence number, and consumers want a stream's events in version order. So
    once a record of a stream fails, the later records of that stream in the batch are
    reported as failed too, and those not sent yet are held back rather than sent ahead
    of it. (Events of one stream sent in the same call may still arrive out of order:
    EventBridge does not order deliveries, which is why projectors check versions.)
    """

    def __init__(
        self,
        client: Any,
        bus_name: str,
        source: str,
        *,
        max_attempts: int = 4,
        base_delay_s: float = 0.1,
        max_delay_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`client` is a boto3 EventBridge client. Each entry is sent at most
        `max_attempts` times; before retry round n (1, 2, ...) the publisher sleeps a
        random time up to `min(max_delay_s, base_delay_s * 2**(n-1))` (full jitter)."""
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts!r}")
        self._client = client
        self._bus_name = bus_name
        self._source = source
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._sleep = sleep

    def publish(self, records: Sequence[Mapping[str, Any]]) -> list[str]:
        """Publish the event INSERTs of a stream batch; return the `SequenceNumber` of each
        record that must be retried, in batch order. Other records (MODIFY, REMOVE,
        idempotency items) are ignored."""
        events: dict[int, tuple[str, str]] = {}  # position -> (stream id, sequence number)
        first_failure: dict[str, int] = {}  # stream id -> position of its first failed record

        def fail(stream_id: str, position: int) -> None:
            first_failure[stream_id] = min(position, first_failure.get(stream_id, position))

        def behind_failure(stream_id: str, position: int) -> bool:
            return stream_id in first_failure and position >= first_failure[stream_id]

        pending: list[_Pending] = []
        for position, record in enumerate(records):
            found = event_insert(record)
            if found is None:
                continue
            stream_id, image = found
            events[position] = (stream_id, record["dynamodb"]["SequenceNumber"])
            try:
                pending.append(self._pending(position, stream_id, image))
            except UnpublishableRecord as exc:
                fail(stream_id, position)
                logger.error(
                    json.dumps(
                        {
                            "message": "record cannot be published",
                            "reason": str(exc),
                            "stream_id": stream_id,
                            "sequence_number": events[position][1],
                        }
                    )
                )
        rejected = len(events) - len(pending)
        unsent, calls, retried = self._send([p for p in pending if not behind_failure(p.stream_id, p.position)])
        for p in unsent:
            fail(p.stream_id, p.position)

        failed = [seq for position, (stream_id, seq) in events.items() if behind_failure(stream_id, position)]
        logger.info(
            json.dumps(
                {
                    "message": "published stream batch",
                    "records": len(records),
                    "ignored": len(records) - len(events),
                    "published": len(events) - len(failed),
                    "failed": len(failed),
                    "rejected": rejected,
                    "put_events_calls": calls,
                    "retried_entries": retried,
                }
            )
        )
        return failed

    def _pending(self, position: int, stream_id: str, image: Mapping[str, Any]) -> _Pending:
        """The PutEvents entry of an event item's NewImage."""
        entry, size = bus_event(stream_id, image).entry(self._source, self._bus_name)
        return _Pending(position, stream_id, entry, size)

    def _send(self, pending: list[_Pending]) -> tuple[list[_Pending], int, int]:
        """Send in rounds until every entry is accepted or has had `max_attempts` rounds.
        Returns the entries never accepted, the PutEvents call count and the retried entry count."""
        calls = retried = 0
        for attempt in range(1, self._max_attempts + 1):
            if not pending:
                break
            if attempt > 1:
                retried += len(pending)
                self._sleep(random.uniform(0, min(self._max_delay_s, self._base_delay_s * 2 ** (attempt - 2))))
            pending, round_calls = self._send_round(pending)
            calls += round_calls
        return pending, calls, retried

    def _send_round(self, pending: list[_Pending]) -> tuple[list[_Pending], int]:
        """Send every pending entry once, in order, in calls within PutEvents' limits.
        Returns the entries to retry (failed, or held behind a failed one) and the call count."""
        retry: list[_Pending] = []
        failed_streams: set[str] = set()
        chunk: list[_Pending] = []
        chunk_bytes = calls = 0

        def send() -> None:
            nonlocal chunk_bytes, calls
            calls += 1
            for failed in self._put_events(chunk):
                retry.append(failed)
                failed_streams.add(failed.stream_id)
            chunk.clear()
            chunk_bytes = 0

        for p in pending:
            if chunk and (len(chunk) == MAX_ENTRIES_PER_CALL or chunk_bytes + p.size > MAX_BYTES_PER_CALL):
                send()
            if p.stream_id in failed_streams:
                retry.append(p)
            else:
                chunk.append(p)
                chunk_bytes += p.size
        if chunk:
            send()
        return sorted(retry, key=lambda p: p.position), calls

    def _put_events(self, chunk: list[_Pending]) -> list[_Pending]:
        """One PutEvents call; the entries it did not accept (all of them if it raised)."""
        try:
            response = self._client.put_events(Entries=[p.entry for p in chunk])
        except (BotoCoreError, ClientError) as exc:
            logger.warning(json.dumps({"message": "PutEvents call failed", "error": repr(exc), "entries": len(chunk)}))
            return list(chunk)
        if not response.get("FailedEntryCount"):
            return []
        results = response["Entries"]
        failed = [p for p, result in zip(chunk, results, strict=True) if result.get("ErrorCode")]
        errors = sorted({result["ErrorCode"] for result in results if result.get("ErrorCode")})
        logger.warning(json.dumps({"message": "PutEvents rejected entries", "errors": errors, "entries": len(failed)}))
        return failed


@functools.cache
def _publisher() -> Publisher:
    """The publisher of this execution environment, wired once per cold start."""
    return Publisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"], os.environ["EVENT_SOURCE"])


def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point of the stream event source mapping (ReportBatchItemFailures)."""
    failed = _publisher().publish(event.get("Records", []))
    return {"batchItemFailures": [{"itemIdentifier": sequence_number} for sequence_number in failed]}


def enrich(event: Sequence[Mapping[str, Any]], context: Any) -> list[dict[str, Any]]:
    """Lambda entry point of the Pipe publisher's enrichment: the Pipe's batch of stream
    records (a list) -> one `BusEvent.pipe_event()` per event INSERT, in order (other
    records are dropped). A record that can never go on the bus raises, failing the
    batch: the Pipe retries it, bisects it down to that record and sends it to its
    dead-letter queue, so nothing is dropped silently."""
    source = os.environ["EVENT_SOURCE"]
    out: list[dict[str, Any]] = []
    for record in event:
        found = event_insert(record)
        if found is None:
            continue
        try:
            bus = bus_event(*found)
            bus.entry(source, "")  # sized as PutEvents will size it
        except UnpublishableRecord as exc:
            logger.error(
                json.dumps(
                    {
                        "message": "record cannot be published",
                        "reason": str(exc),
                        "stream_id": found[0],
                        "sequence_number": record["dynamodb"].get("SequenceNumber"),
                    }
                )
            )
            raise
        out.append(bus.pipe_event())
    logger.info(json.dumps({"message": "enriched stream batch", "records": len(event), "events": len(out)}))
    return out
