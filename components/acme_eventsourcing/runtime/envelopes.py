"""The bus side of an event: what a projector or a subscriber receives, parsed back into a `StoredEvent`.

The publisher puts each stored event on the bus as an EventBridge event whose `source` is
the service's, whose `detail-type` is the event type and whose `detail` is the envelope
`StoredEvent.envelope()` gives:

    {"metadata": {"event_id": ..., "stream_id": ..., "version": 3, "occurred_at": ..., "actor": ...},
     "data": {...}}

`from_bus` turns such a bus event back into the `StoredEvent` (metadata without the four
positional fields); `parse_bus_event` also keeps what only the bus knows (`source`, the
bus event's `id` and `time`). Both raise `MalformedEventError` (a `ValueError`) naming
what is wrong, for an event no publisher of this library wrote. A `detail` given as JSON
text (as an SQS message body may carry it) is accepted too. Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._frozen import frozen_dataclass
from .eventstore.ports import StoredEvent


class MalformedEventError(ValueError):
    """The bus event is not an event envelope (`detail` = `StoredEvent.envelope()`)."""


@frozen_dataclass(kw_only=True)
class BusEvent:
    """One event as delivered by the bus: the stored event plus where it came from.

    `source` is the publishing service's source (e.g. `acme.leave`), `bus_event_id` and
    `time` the EventBridge event's own `id` and `time` (not the stored event's: a replay
    from the archive has a new `id`, the same `event.event_id`)."""

    source: str
    event: StoredEvent
    bus_event_id: str = ""
    time: str = ""

    @property
    def detail_type(self) -> str:
        """The bus event's `detail-type`: the stored event's type."""
        return self.event.event_type


def from_bus(event: Mapping[str, Any]) -> StoredEvent:
    """The stored event carried by an EventBridge event (`detail` = the envelope)."""
    try:
        detail = event["detail"]
        if isinstance(detail, str):
            detail = json.loads(detail)
        meta = dict(detail["metadata"])
        stream_id, version = meta.pop("stream_id"), meta.pop("version")
        event_id, occurred_at = meta.pop("event_id"), meta.pop("occurred_at")
        data = detail.get("data") or {}
        event_type = event["detail-type"]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedEventError(f"not an event envelope: {exc!r}") from exc
    if not (isinstance(stream_id, str) and stream_id and isinstance(event_type, str) and isinstance(data, dict)):
        raise MalformedEventError("stream_id, detail-type and data must be a string, a string and an object")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise MalformedEventError(f"version must be a positive integer, got {version!r}")
    return StoredEvent(
        stream_id=stream_id,
        version=version,
        event_type=event_type,
        data=data,
        event_id=str(event_id),
        occurred_at=str(occurred_at),
        metadata=meta,
    )


def parse_bus_event(event: Mapping[str, Any]) -> BusEvent:
    """The `BusEvent` of an EventBridge event; `MalformedEventError` if it carries no envelope."""
    if not isinstance(event, Mapping):
        raise MalformedEventError(f"a bus event is a JSON object, got {type(event).__name__}")
    source = event.get("source")
    if not isinstance(source, str) or not source:
        raise MalformedEventError("the bus event has no source")
    return BusEvent(source=source, event=from_bus(event), bus_event_id=str(event.get("id") or ""), time=str(event.get("time") or ""))
