"""Rebuild a read model from the Events table into a fresh table.

    python -m leave_projections.rebuild balance --events-table EVENTS --read-model-table NEW_TABLE

Scans the Events table for event items (`record_type = "event"`: idempotency items are
skipped), then replays each stream, oldest first, through the same projector the Lambda
runs (checkpoints, gap filling, refreshes), so the result is the read model live projection
gives. The target must be empty: build into a new table, then point the queries at it.
Events published while the rebuild runs may be applied to the new table by nobody: run it
before wiring the new table to the projection's rule, or replay the bus archive afterwards
(duplicates are ignored).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from acme_eventsourcing.runtime.eventstore.ports import StoredEvent

from leave_projections.audit import AuditProjection
from leave_projections.balance import BalanceProjection
from leave_projections.calendar import CalendarProjection
from leave_projections.core import Projection, Projector
from leave_projections.pending import PendingProjection
from leave_projections.ports import ReadModelStore

PROJECTIONS: dict[str, Projection] = {
    p.name: p for p in (BalanceProjection(), PendingProjection(), CalendarProjection(), AuditProjection())
}


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
        from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore

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


@dataclass(frozen=True)
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


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: `python -m leave_projections.rebuild <projection> ...`."""
    parser = argparse.ArgumentParser(prog="python -m leave_projections.rebuild", description=__doc__.splitlines()[0])
    parser.add_argument("projection", choices=sorted(PROJECTIONS))
    parser.add_argument("--events-table", default=os.environ.get("EVENTS_TABLE"), help="the Events table (default: $EVENTS_TABLE)")
    parser.add_argument(
        "--read-model-table",
        default=os.environ.get("READ_MODEL_TABLE"),
        help="the fresh, empty read-model table (default: $READ_MODEL_TABLE)",
    )
    args = parser.parse_args(argv)
    if not args.events_table or not args.read_model_table:
        parser.error("--events-table and --read-model-table are required")
    import boto3

    from leave_projections.dynamodb import DynamoDBReadModelStore

    client = boto3.client("dynamodb")
    report = rebuild(
        EventsTableReader(client, args.events_table),
        PROJECTIONS[args.projection],
        DynamoDBReadModelStore(client, args.read_model_table),
    )
    print(f"{args.projection}: replayed {report.events} events of {report.streams} streams into {args.read_model_table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
