"""A subscription's checkpoints: what it handled, per source stream, in its checkpoint table.

The `Subscription` component gives its function a `pk`/`sk` table (CHECKPOINT_TABLE, TTL on
`expires_at`) and GetItem/UpdateItem on it; the subscriber runtime (`runtime.subscriber`)
writes there through `SubscriptionCheckpoints`, and `python -m acme_eventsourcing.ops lag`
reads it. Two kinds of items, both under `pk = "<source>#<stream_id>"` (a source has no `#`,
so the first `#` splits them; a stream id is unique within its source only):

- `sk = "checkpoint"`: the stream's checkpoint: `version` (N), the HIGHEST version of the
  stream the subscription handled, with that event's `event_id`, `event_type` and
  `handled_at`, and `source`/`stream_id`. It only moves forward (a conditional update: only
  if the new version is greater), so events handled out of order never move it back.
- `sk = "handled#<version, 12 digits>"`: a marker per handled event (`event_id`,
  `handled_at`), deleted by DynamoDB's TTL some time after `expires_at` (`MARKER_TTL_S`,
  15 days: longer than a DLQ keeps a message, 14 days, so a redriven message still finds
  the marker of its event if it was handled in the meantime).

What "handled" and "duplicate" mean:

- an event is handled when the subscription's function returned without an error; then its
  marker is written and the checkpoint moved (if the version is higher);
- a delivered event is a duplicate, and skipped, exactly when the marker of its (source,
  stream, version) exists. The checkpoint is NOT used to decide: it is "highest version
  handled", not "next expected version". A subscription sees only the detail types its rule
  matches (the stream's versions it sees have gaps) and EventBridge keeps no order (retries
  interleave with later events), so an event at or below the checkpoint may be one never
  handled: it is handled when it comes;
- an event redelivered after its marker expired is handled again, and two deliveries of the
  same event handled at the same moment by two containers may both run (the marker is
  written after the function): delivery stays at least once, the function's effect must be
  idempotent (e.g. keyed by `event.event_id`). The markers remove the common duplicates
  (EventBridge's retries after a timeout, a redrive of an event handled since), in every
  container, not only in the one that handled it.

Standard library and boto3 only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from ._frozen import frozen_dataclass

#: How long a handled-event marker is kept (seconds): the DLQ's retention (14 days) and a day.
MARKER_TTL_S = 15 * 24 * 3600
CHECKPOINT_SK = "checkpoint"
MARKER_PREFIX = "handled#"


def stream_key(source: str, stream_id: str) -> str:
    """The `pk` of a source stream's items."""
    if "#" in source:
        raise ValueError(f"an event source has no '#': {source!r}")
    return f"{source}#{stream_id}"


def marker_key(version: int) -> str:
    """The `sk` of the marker of a stream's `version` (zero-padded: markers sort by version)."""
    return f"{MARKER_PREFIX}{version:012d}"


@frozen_dataclass(kw_only=True)
class Checkpoint:
    """A source stream's checkpoint: the highest version the subscription handled."""

    source: str
    stream_id: str
    version: int
    event_type: str = ""
    event_id: str = ""
    handled_at: str = ""


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SubscriptionCheckpoints:
    """The checkpoint table of one subscription (see the module docstring).

    `client`: a boto3 DynamoDB client; `now`: epoch seconds (wall time: markers expire by
    DynamoDB's clock, never a simulated one)."""

    def __init__(self, client: Any, table: str, *, marker_ttl_s: int = MARKER_TTL_S, now: Callable[[], float] = time.time) -> None:
        if marker_ttl_s <= 0:
            raise ValueError("marker_ttl_s must be positive")
        self._client = client
        self.table = table
        self._ttl = marker_ttl_s
        self._now = now

    # ------------------------------------------------------------------ the subscriber's side (GetItem, UpdateItem)
    def handled(self, source: str, stream_id: str, version: int) -> bool:
        """Whether this event (its source, stream and version) was handled: its marker exists
        and has not expired (DynamoDB deletes expired items late: the time is checked too)."""
        item = self._client.get_item(
            TableName=self.table,
            Key={"pk": {"S": stream_key(source, stream_id)}, "sk": {"S": marker_key(version)}},
            ConsistentRead=True,
            ProjectionExpression="expires_at",
        ).get("Item")
        return item is not None and int(item.get("expires_at", {}).get("N", "0")) > self._now()

    def record(self, source: str, stream_id: str, version: int, *, event_id: str = "", event_type: str = "") -> bool:
        """Record that the event was handled: its marker, and the stream's checkpoint if
        `version` is higher than the checkpoint's. Whether the checkpoint moved."""
        now = self._now()
        pk = {"S": stream_key(source, stream_id)}
        handled_at = {"S": _iso(now)}
        self._client.update_item(
            TableName=self.table,
            Key={"pk": pk, "sk": {"S": marker_key(version)}},
            UpdateExpression="SET event_id = :id, handled_at = :at, expires_at = :exp",
            ExpressionAttributeValues={":id": {"S": event_id}, ":at": handled_at, ":exp": {"N": str(int(now + self._ttl))}},
        )
        try:
            self._client.update_item(
                TableName=self.table,
                Key={"pk": pk, "sk": {"S": CHECKPOINT_SK}},
                UpdateExpression="SET #v = :v, event_id = :id, event_type = :t, handled_at = :at, #src = :src, stream_id = :sid",
                ConditionExpression="attribute_not_exists(#v) OR #v < :v",
                ExpressionAttributeNames={"#v": "version", "#src": "source"},
                ExpressionAttributeValues={
                    ":v": {"N": str(version)},
                    ":id": {"S": event_id},
                    ":t": {"S": event_type},
                    ":at": handled_at,
                    ":src": {"S": source},
                    ":sid": {"S": stream_id},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False  # a later version was handled first: the checkpoint stays
        return True

    # ------------------------------------------------------------------ the operator's side (Scan, GetItem)
    def checkpoint(self, source: str, stream_id: str) -> Checkpoint | None:
        """One source stream's checkpoint (None: nothing of it handled yet)."""
        item = self._client.get_item(
            TableName=self.table, Key={"pk": {"S": stream_key(source, stream_id)}, "sk": {"S": CHECKPOINT_SK}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else _checkpoint(item)

    def checkpoints(self) -> Iterator[Checkpoint]:
        """Every stream's checkpoint (one paginated Scan; it reads the unexpired markers too,
        about one per event handled in the last `MARKER_TTL_S`, and returns only checkpoints)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :cp",
            "ExpressionAttributeValues": {":cp": {"S": CHECKPOINT_SK}},
        }
        while True:
            page = self._client.scan(**kwargs)
            yield from (_checkpoint(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _checkpoint(item: dict[str, Any]) -> Checkpoint:
    source, _, stream_id = item["pk"]["S"].partition("#")
    return Checkpoint(
        source=item.get("source", {}).get("S", source),
        stream_id=item.get("stream_id", {}).get("S", stream_id),
        version=int(item["version"]["N"]),
        event_type=item.get("event_type", {}).get("S", ""),
        event_id=item.get("event_id", {}).get("S", ""),
        handled_at=item.get("handled_at", {}).get("S", ""),
    )


__all__ = ["CHECKPOINT_SK", "MARKER_TTL_S", "Checkpoint", "SubscriptionCheckpoints", "marker_key", "stream_key"]
