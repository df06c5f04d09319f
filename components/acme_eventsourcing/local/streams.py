"""DynamoDB stream event source mappings (and Pipes), run the way Lambda runs them.

One poller thread per mapping reads the table's stream (through `streams_client`: the
stack gives it `local.direct.DirectStreams`, moto's stream read directly, what its
dynamodbstreams API answers) and, per shard and in order (a Pipe's poller works the same, with its target instead of a
function, see `local.pipes`):
- drops records the mapping's filter criteria do not match (they are consumed, never
  delivered), and builds batches of at most `batch_size` matching records;
- invokes the function with `{"Records": [...]}` (records as Lambda delivers them, with
  `eventSourceARN` and `ApproximateCreationDateTime` in epoch seconds);
- with `ReportBatchItemFailures`, checkpoints before the lowest failed `itemIdentifier` and
  re-delivers from there (an empty or missing list is success; an unknown identifier fails
  the whole batch, as on AWS); a raised error fails the whole batch;
- retries a failed batch at most `maximum_retry_attempts` times (-1: until the records
  expire), splitting it in two first when `bisect_batch_on_function_error` is on (each
  split counts as a retry); records older than `maximum_record_age_in_seconds` are not
  delivered; what is given up is described in an on-failure record sent to the mapping's
  SQS destination (`DDBStreamBatchInfo`, as Lambda sends it), and the poller moves on.

A poller given a `wake` event (set by `local.backend.InProcessDispatch` after every write
to its table) reads the stream as soon as a write lands; the poll interval is the fallback
(writes from other processes over HTTP).

moto's shard iterators hold the shard object that a failed TransactWriteItems replaces,
so each poll asks for a fresh iterator after the last checkpoint, holding its table's
lock until its records are read (`local.backend` explains why).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from .filters import Pattern, matches_any
from .functions import Invocation

#: How long moto keeps the shard iterators pollers take (AWS: 15 minutes).
ITERATOR_LIFETIME_S = 60.0


@dataclass(frozen=True)
class Delays:
    """How long the local stack waits between retries (AWS waits longer)."""

    poll_s: float = 0.05
    first_retry_s: float = 0.1
    max_retry_s: float = 2.0

    def retry(self, attempt: int) -> float:
        return min(self.first_retry_s * 2 ** (attempt - 1), self.max_retry_s)


class StreamSource(Protocol):
    """What a poller reads of a stream mapping or a Pipe's source parameters."""

    @property
    def logical(self) -> str: ...
    @property
    def starting_position(self) -> str: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def filters(self) -> tuple[Pattern, ...]: ...
    @property
    def report_batch_item_failures(self) -> bool: ...
    @property
    def retry_attempts(self) -> int: ...
    @property
    def max_record_age_s(self) -> int: ...
    @property
    def bisect_on_error(self) -> bool: ...
    @property
    def on_failure(self) -> str | None: ...


class StreamPoller(threading.Thread):
    """Runs one stream event source mapping until `stop` is set."""

    def __init__(
        self,
        mapping: StreamSource,
        *,
        deliver: Callable[[list[dict[str, Any]]], Invocation],
        target_arn: str,
        stream_arn: str,
        streams_client: Any,
        read_lock: AbstractContextManager[Any],
        forget_iterators: Callable[[], None],
        sqs_client: Any,
        failure_queue_url: str | None,
        stop: threading.Event,
        delays: Delays,
        on_error: Callable[[str], None],
        wake: threading.Event | None = None,
    ) -> None:
        super().__init__(name=f"stream:{mapping.logical}", daemon=True)
        self.wake = wake  # set after a write to the table: read now rather than after the poll interval
        self.wakes = 0  # polls started by `wake` rather than by the interval
        self.mapping = mapping
        self.deliver = deliver
        self.target_arn = target_arn
        self.stream_arn = stream_arn
        self.streams = streams_client
        self.read_lock = read_lock
        self.forget_iterators = forget_iterators
        self._forgot_at = time.monotonic()
        self.sqs = sqs_client
        self.failure_queue_url = failure_queue_url
        self.stop_event = stop
        self.delays = delays
        self.on_error = on_error
        self.positions: dict[str, str | None] = {}  # shard id -> last consumed sequence number
        self._last_empty_poll = 0.0  # time.time() at the start of the last poll that found nothing

    # ------------------------------------------------------------------ polling
    def run(self) -> None:
        try:
            shards = [s["ShardId"] for s in self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]]
            for shard in shards:
                self.positions[shard] = self._latest(shard) if self.mapping.starting_position == "LATEST" else None
            while not self.stop_event.is_set():
                if self.wake is not None:
                    self.wake.clear()  # a write from now on is read by this poll or wakes the next
                busy, started = False, time.time()
                for shard in shards:
                    records = self._read(shard)
                    if records:
                        busy = True
                        self._consume(shard, records)
                if not busy:
                    self._last_empty_poll = started
                    if self.wake is None:
                        self.stop_event.wait(self.delays.poll_s)
                    elif self.wake.wait(self.delays.poll_s):
                        self.wakes += 1
        except _StoppedError:
            return
        except Exception as exc:  # a poller that dies silently would be the worst outcome
            if not self.stop_event.is_set():
                self.on_error(f"stream mapping {self.mapping.logical} stopped: {type(exc).__name__}: {exc}")
                raise

    def empty_poll_after(self, moment: float) -> bool:
        """Whether a poll that started after `moment` found every shard read to its end."""
        return self._last_empty_poll > moment

    def _iterator(self, shard: str) -> str:
        position = self.positions.get(shard)
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard}
        if position is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=position)
        return self.streams.get_shard_iterator(**kwargs)["ShardIterator"]

    def _read(self, shard: str) -> list[dict[str, Any]]:
        with self.read_lock:  # no DynamoDB write between taking the iterator and reading (see backend)
            records = self.streams.get_records(ShardIterator=self._iterator(shard), Limit=1000)["Records"]
            if time.monotonic() - self._forgot_at > ITERATOR_LIFETIME_S:
                self.forget_iterators()
                self._forgot_at = time.monotonic()
        return [self._lambda_record(r) for r in records]

    def _latest(self, shard: str) -> str | None:
        last = None
        while records := self._read(shard):
            last = records[-1]["dynamodb"]["SequenceNumber"]
            self.positions[shard] = last
        return last

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**_jsonable(record), "eventSourceARN": self.stream_arn}

    # ------------------------------------------------------------------ batches
    def _consume(self, shard: str, records: list[dict[str, Any]]) -> None:
        batch: list[dict[str, Any]] = []
        for record in records:
            if matches_any(self.mapping.filters, record):
                batch.append(record)
                if len(batch) == self.mapping.batch_size:
                    self._deliver(shard, batch, attempt=0)
                    batch = []
            elif not batch:  # filtered out, nothing pending before it: consumed
                self.positions[shard] = record["dynamodb"]["SequenceNumber"]
        if batch:
            self._deliver(shard, batch, attempt=0)
        self.positions[shard] = records[-1]["dynamodb"]["SequenceNumber"]

    def _deliver(self, shard: str, batch: list[dict[str, Any]], attempt: int) -> None:
        """Deliver `batch` until it succeeds or is given up; then checkpoint past it."""
        m = self.mapping
        while batch:
            if self.stop_event.is_set():
                raise _StoppedError
            expired = self._expired(batch)
            if expired:
                self._give_up(shard, batch[:expired], "RecordAgeExceeded", attempt, None)
                batch = batch[expired:]
                continue
            invocation = self.deliver(batch)
            failed_from, whole = self._failed_from(invocation, batch)
            if failed_from is None:
                break
            self.positions[shard] = batch[failed_from - 1]["dynamodb"]["SequenceNumber"] if failed_from else self.positions[shard]
            batch, attempt = batch[failed_from:], attempt + 1
            if 0 <= m.retry_attempts < attempt:
                self._give_up(shard, batch, "RetryAttemptsExhausted", attempt, invocation)
                break
            if m.bisect_on_error and whole and len(batch) > 1:
                half = len(batch) // 2
                self._deliver(shard, batch[:half], attempt)
                self._deliver(shard, batch[half:], attempt)
                return
            if self.stop_event.wait(self.delays.retry(attempt)):
                raise _StoppedError
        if batch:
            self.positions[shard] = batch[-1]["dynamodb"]["SequenceNumber"]

    def _expired(self, batch: list[dict[str, Any]]) -> int:
        """How many records at the front of `batch` are older than the maximum record age."""
        limit = self.mapping.max_record_age_s
        if limit < 0:
            return 0
        now = time.time()
        return next((i for i, r in enumerate(batch) if now - r["dynamodb"].get("ApproximateCreationDateTime", now) <= limit), len(batch))

    def _failed_from(self, invocation: Invocation, batch: list[dict[str, Any]]) -> tuple[int | None, bool]:
        """(index of the first record to re-deliver or None on success, whole batch failed?)."""
        if not invocation.ok:
            return 0, True
        if not self.mapping.report_batch_item_failures:
            return None, False
        result = invocation.result
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        if not failures:
            return None, False
        sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
        ids = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
        if any(i not in sequence for i in ids):
            return 0, True  # an invalid response fails the whole batch
        return min(sequence.index(i) for i in ids), False

    def _give_up(self, shard: str, records: list[dict[str, Any]], condition: str, attempts: int, invocation: Invocation | None) -> None:
        m = self.mapping
        info = {
            "requestContext": {
                "requestId": invocation.request_id if invocation else None,
                "functionArn": self.target_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(records[0]["dynamodb"].get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso(records[-1]["dynamodb"].get("ApproximateCreationDateTime")),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        where = "dropped (no on-failure destination declared)"
        if self.failure_queue_url:
            self.sqs.send_message(QueueUrl=self.failure_queue_url, MessageBody=json.dumps(info))
            where = f"sent to {m.on_failure}"
        self.on_error(f"stream mapping {m.logical}: {len(records)} record(s) given up ({condition}); {where}")


class _StoppedError(Exception):
    """The local stack is stopping."""


def _iso(epoch: Any) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z") if isinstance(epoch, (int, float)) else None


def _jsonable(value: Any) -> Any:
    """A stream record from boto3 as JSON data (binary attributes base64, as Lambda sends them)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):  # ApproximateCreationDateTime: epoch seconds
        return int(value.timestamp())
    return value
