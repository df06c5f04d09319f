"""The event store: the append-only source of truth of an event-sourced service (public API).

Every service appends its events here and loads its streams from here:

- `NewEvent` (what to append), `StoredEvent` (what is stored: plus `stream_id`, `version`),
  `Append` (events for one stream at an expected version; with no events, a *read guard*),
  `IdempotencyRecord` (a request's first response, stored in the same transaction);
- `EventStore`, the protocol: `load(stream_id, after_version=0)` (every page),
  `append(appends, idempotency=None)` (one all-or-nothing transaction over one or more
  streams, optimistic concurrency per stream), `get_idempotency(key)`;
- its errors: `ConcurrencyError` (another writer got there first: reload and retry),
  `IdempotencyKeyUsed` (the key is stored already: answer with its response);
- two adapters: `InMemoryEventStore` (tests, local tools) and `DynamoDBEventStore` (the
  Events table, items per `acme_eventsourcing.runtime.items`).

Both adapters pass one contract suite, `acme_eventsourcing.testing.eventstore_contract`:
run it against your own adapter too.

The adapters are loaded on first use, so code that needs only the ports (the item contract,
the publisher) does not import botocore; `InMemoryEventStore` is a test double that a
function's zip, trimmed to the modules its handler imports, does not carry.
"""

from typing import TYPE_CHECKING, Any

from .ports import (
    Append,
    ConcurrencyError,
    EventStore,
    EventStoreError,
    IdempotencyKeyUsed,
    IdempotencyRecord,
    NewEvent,
    StoredEvent,
)

if TYPE_CHECKING:  # (not the in-memory store: a static import would ship it in every zip)
    from .dynamodb import DynamoDBEventStore


def __getattr__(name: str) -> Any:
    if name == "DynamoDBEventStore":
        from .dynamodb import DynamoDBEventStore

        return DynamoDBEventStore
    if name == "InMemoryEventStore":
        import importlib

        return importlib.import_module(f"{__name__}.memory").InMemoryEventStore  # computed: zips leave it out
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Append",
    "ConcurrencyError",
    "DynamoDBEventStore",
    "EventStore",
    "EventStoreError",
    "IdempotencyKeyUsed",
    "IdempotencyRecord",
    "InMemoryEventStore",
    "NewEvent",
    "StoredEvent",
]
