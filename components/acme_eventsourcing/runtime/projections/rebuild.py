"""Rebuild a read model from the Events table into a fresh, empty read model.

    report = rebuild(EventsTableReader(client, events_table), MyProjection(), DynamoDBReadModelStore(client, new_table))

Reads the event items of the Events table (`record_type = "event"`: idempotency items are
skipped), then replays each stream, oldest first, through the same `Projector` the Lambda
runs (checkpoints, gap filling, refreshes), so the result is the read model live projection
gives. The target must be empty: build into a new table, then point the queries at it.
Events published while the rebuild runs may be applied to the new table by nobody: run it
before wiring the new table to the projection's rule, or replay the bus archive afterwards
(duplicates are ignored). A service's command line picks the projection by name and calls
`rebuild` (see `lambdas/leave_projections/rebuild.py` in this repository).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from .._frozen import frozen_dataclass
from ..eventstore.ports import StoredEvent
from .core import Projection, Projector
from .ports import EventLoader, ReadModelStore


class EventsReader(Protocol):
    """What a rebuild reads: every stream id, and each stream's events."""

    def stream_ids(self) -> Iterator[str]:
        """Each stream id that holds events, once."""
        ...

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """The stream's events with version > `after_version`, oldest first."""
        ...


class EventsTableReader:
    """`EventsReader` on the Events table: a keys-only scan of event items, then one Query per stream."""

    def __init__(self, client: Any, table_name: str) -> None:
        from ..eventstore.dynamodb import DynamoDBEventStore

        self._client = client
        self._table = table_name
        self._store = DynamoDBEventStore(client, table_name)

    def stream_ids(self) -> Iterator[str]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "#rt = :event",
            "ProjectionExpression": "#sid",
            "ExpressionAttributeNames": {"#rt": "record_type", "#sid": "stream_id"},
            "ExpressionAttributeValues": {":event": {"S": "event"}},
        }
        seen: set[str] = set()
        while True:
            page = self._client.scan(**kwargs)
            for item in page.get("Items", []):
                stream_id = item["stream_id"]["S"]
                if stream_id not in seen:
                    seen.add(stream_id)
                    yield stream_id
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        return self._store.load(stream_id, after_version)


class StreamsReader:
    """`EventsReader` over any event store (its `load`) and the stream ids to replay, in that
    order: for an adapter that cannot list its streams (`InMemoryEventStore` in tests)."""

    def __init__(self, events: EventLoader, stream_ids: Iterable[str]) -> None:
        self._events = events
        self._stream_ids = list(dict.fromkeys(stream_ids))

    def stream_ids(self) -> Iterator[str]:
        return iter(self._stream_ids)

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        return self._events.load(stream_id, after_version)


@frozen_dataclass
class RebuildReport:
    """What a rebuild replayed."""

    streams: int
    events: int


def rebuild(events: EventsReader, projection: Projection, target: ReadModelStore) -> RebuildReport:
    """Replay every stream of `events` through `projection` into the empty `target`."""
    if next(iter(target.rows()), None) is not None or target.checkpoints():
        raise ValueError("the target read model is not empty: rebuild into a fresh table")
    projector = Projector(projection=projection, store=target, events=events)
    streams = count = 0
    for stream_id in events.stream_ids():
        streams += 1
        for event in events.load(stream_id):
            projector.handle(event)
            count += 1
    return RebuildReport(streams=streams, events=count)
