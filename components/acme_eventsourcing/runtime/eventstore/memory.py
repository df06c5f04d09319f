"""In-memory event store: the reference semantics of the `EventStore` port.

Used by unit tests and the local tools. It keeps the same rules as the DynamoDB adapter
(`check_append`, JSON-encoded data, one all-or-nothing write per `append`), so code
tested against it behaves the same on DynamoDB.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from ..items import encode_json
from .ports import (
    Append,
    ConcurrencyError,
    IdempotencyKeyUsed,
    IdempotencyRecord,
    NewEvent,
    StoredEvent,
)
from .rules import check_append


@dataclass(frozen=True)
class _Row:
    """A stored event with its mappings kept as JSON text, as in the Events table."""

    event_type: str
    event_id: str
    occurred_at: str
    data: str
    metadata: str

    @classmethod
    def of(cls, event: NewEvent) -> _Row:
        return cls(event.event_type, event.event_id, event.occurred_at, encode_json(event.data), encode_json(event.metadata))

    def stored(self, stream_id: str, version: int) -> StoredEvent:
        return StoredEvent(
            stream_id=stream_id,
            version=version,
            event_type=self.event_type,
            event_id=self.event_id,
            occurred_at=self.occurred_at,
            data=json.loads(self.data),
            metadata=json.loads(self.metadata),
        )


@dataclass(frozen=True)
class _IdempotencyRow:
    """A stored idempotency record with its response kept as JSON text."""

    key: str
    request_hash: str
    response: str
    created_at: str

    @classmethod
    def of(cls, record: IdempotencyRecord) -> _IdempotencyRow:
        return cls(record.key, record.request_hash, encode_json(record.response), record.created_at)

    def record(self) -> IdempotencyRecord:
        return IdempotencyRecord(
            key=self.key, request_hash=self.request_hash, response=json.loads(self.response), created_at=self.created_at
        )


class InMemoryEventStore:
    """A thread-safe `EventStore` kept in process memory.

    Every `append` is all-or-nothing under one lock, like one DynamoDB transaction, and
    every value is stored as JSON text, so callers never share mutable state with it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, list[_Row]] = {}
        self._idempotency: dict[str, _IdempotencyRow] = {}

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """All events of the stream with version > `after_version`, oldest first."""
        if after_version < 0:
            raise ValueError(f"after_version must be >= 0, got {after_version!r}")
        with self._lock:
            rows = self._streams.get(stream_id, [])[after_version:]
        return [row.stored(stream_id, version) for version, row in enumerate(rows, start=after_version + 1)]

    def append(self, appends: Sequence[Append], idempotency: IdempotencyRecord | None = None) -> list[StoredEvent]:
        """Append atomically to one or more streams, with the idempotency record if given."""
        check_append(appends, idempotency)
        rows = {a.stream_id: [_Row.of(e) for e in a.events] for a in appends}
        record = None if idempotency is None else _IdempotencyRow.of(idempotency)
        expected = {a.stream_id: a.expected_version for a in appends}
        with self._lock:
            if record is not None and record.key in self._idempotency:
                raise IdempotencyKeyUsed(f"idempotency key {record.key!r} is already stored; nothing was appended")
            moved = {a.stream_id: len(self._streams.get(a.stream_id, ())) for a in appends}
            moved = {s: v for s, v in moved.items() if v != expected[s]}
            if moved:
                slots = "; ".join(f"stream {s!r} is at version {v}, not {expected[s]}" for s, v in sorted(moved.items()))
                raise ConcurrencyError(f"{slots}; reload and retry", stream_ids=frozenset(moved))
            for a in appends:
                self._streams.setdefault(a.stream_id, []).extend(rows[a.stream_id])
            if record is not None:
                self._idempotency[record.key] = record
        return [
            row.stored(a.stream_id, version) for a in appends for version, row in enumerate(rows[a.stream_id], start=a.expected_version + 1)
        ]

    def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        """The stored record for a scoped idempotency key, or None."""
        with self._lock:
            record = self._idempotency.get(key)
        return None if record is None else record.record()
