"""Ports of the event store: what the application needs, not how it is stored.

Adapters (`memory.InMemoryEventStore`, `dynamodb.DynamoDBEventStore`) implement
`EventStore` and pass one contract test suite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import Any, Protocol

from .._frozen import frozen_dataclass


def new_event_id() -> str:
    """A fresh event id: a uuid4 as 32 hex digits."""
    import uuid  # deferred: keeps the module cheap to import on a cold start

    return uuid.uuid4().hex


def utc_timestamp() -> str:
    """The current time as an `occurred_at` value, e.g. ``2026-01-05T09:00:00Z``."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@frozen_dataclass(kw_only=True)
class NewEvent:
    """An event the application wants to append (not stored yet).

    `event_type` names it (the bus event's `DetailType`); `data` is its JSON-object payload.
    `event_id` defaults to a fresh uuid4 hex and `occurred_at` to now (ISO-8601 UTC, e.g.
    ``2026-01-05T09:00:00Z``; any date-time with its offset is accepted, a naive one is
    refused). `metadata` is free-form JSON (`actor`, `idempotency_key`, `correlation_id`,
    `causation_id` by convention). The store refuses an event that cannot make an item of the
    item contract (`acme_eventsourcing.runtime.items`), naming the attribute.
    """

    event_type: str
    data: Mapping[str, Any]
    event_id: str = field(default_factory=new_event_id)
    occurred_at: str = field(default_factory=utc_timestamp)
    metadata: Mapping[str, Any] = field(default_factory=dict)  # actor, idempotency_key, correlation_id, causation_id


@frozen_dataclass(kw_only=True)
class StoredEvent:
    """An event as stored: a `NewEvent` plus its place in its stream."""

    stream_id: str
    version: int
    event_type: str
    data: Mapping[str, Any]
    event_id: str
    occurred_at: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def envelope(self) -> dict[str, Any]:
        """The `detail` of the bus event (DESIGN.md section 2)."""
        return {
            "metadata": {
                "event_id": self.event_id,
                "stream_id": self.stream_id,
                "version": self.version,
                "occurred_at": self.occurred_at,
                **{k: v for k, v in self.metadata.items() if k not in {"event_id", "stream_id", "version", "occurred_at"}},
            },
            "data": dict(self.data),
        }


@frozen_dataclass(kw_only=True)
class Append:
    """Events to append to one stream, expecting it to be at `expected_version` (0 = new).

    With no events it is a *read guard*: the append writes nothing to that stream but
    fails with `ConcurrencyError` unless the stream is still at `expected_version`. A
    command that decided on another stream's state (the location's approver, its
    policy) guards that stream, so a concurrent change there cannot slip in between its
    load and its append.
    """

    stream_id: str
    expected_version: int
    events: Sequence[NewEvent]


@frozen_dataclass(kw_only=True)
class IdempotencyRecord:
    """The first outcome of a request made with an `Idempotency-Key`."""

    key: str  # already scoped, e.g. "<caller sub>#<header value>"
    request_hash: str
    response: Mapping[str, Any]  # {"status": int, "body": {...}}
    created_at: str


class EventStoreError(Exception):
    """Base of the event store's errors."""


class ConcurrencyError(EventStoreError):
    """Another writer took one of the (stream_id, version) slots first: reload and retry, or 409.

    `stream_ids` names the streams that had moved on (empty if the store cannot tell), so a
    caller that kept a stream's state can drop just that one."""

    def __init__(self, message: str, *, stream_ids: frozenset[str] = frozenset()) -> None:
        super().__init__(message)
        self.stream_ids = stream_ids


class IdempotencyKeyUsed(EventStoreError):
    """The append carried an idempotency record whose key is already stored; nothing was appended."""


class EventStore(Protocol):
    """Append-only store of event streams with optimistic concurrency."""

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """All events of the stream with version > `after_version`, oldest first (paginates)."""
        ...

    def append(self, appends: Sequence[Append], idempotency: IdempotencyRecord | None = None) -> list[StoredEvent]:
        """Append atomically to one or more streams (one transaction), with the idempotency
        record if given. Raises `ConcurrencyError` if any slot is taken, `IdempotencyKeyUsed`
        if the idempotency key is already stored. Returns the stored events."""
        ...

    def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        """The stored record for a scoped idempotency key, or None."""
        ...
