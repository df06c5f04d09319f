"""Change notices of live projections: a `ReadModelChanged` event on the bus after a commit.

The projector of a projection declared live (`ProjectionSpec.live`) gets `LIVE_EVENT_BUS` (the
bus's name) in its environment and may put events there with the source
`<SERVICE_SOURCE>.live` only (`events:source` condition); `notices_from_env` builds the sender.
See `live_messages` for the notice and `core.Projector._notify` for when one is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..eventstore.ports import StoredEvent
from ..live_messages import READ_MODEL_CHANGED, live_source, read_model_changed

#: The environment variable holding the bus a live projection's notices go to.
LIVE_EVENT_BUS_ENV = "LIVE_EVENT_BUS"


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventBridgeNotices:
    """Puts each notice on `bus_name` with source `live_source(service_source)`."""

    def __init__(self, client: Any, bus_name: str, service_source: str, now: Callable[[], str] = _utc_now) -> None:
        self.client, self.bus_name, self.source, self.now = client, bus_name, live_source(service_source), now

    def notify(self, view: str, topics: Sequence[str], event: StoredEvent) -> None:
        detail = read_model_changed(
            view=view,
            topics=topics,
            event_id=event.event_id,
            event_type=event.event_type,
            stream_id=event.stream_id,
            version=event.version,
            stored_at=self.now(),
        )
        response = self.client.put_events(
            Entries=[{"Source": self.source, "DetailType": READ_MODEL_CHANGED, "Detail": json.dumps(detail), "EventBusName": self.bus_name}]
        )
        if response.get("FailedEntryCount"):
            entry = (response.get("Entries") or [{}])[0]
            raise RuntimeError(f"the bus refused the notice: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")


def notices_from_env(environ: Mapping[str, str], client: Any = None) -> EventBridgeNotices | None:
    """The notice sender of a live projection's projector (`LIVE_EVENT_BUS` and `SERVICE_SOURCE`
    set), else None."""
    bus, source = environ.get(LIVE_EVENT_BUS_ENV), environ.get("SERVICE_SOURCE")
    if not bus or not source:
        return None
    if client is None:
        import boto3

        client = boto3.client("events")
    return EventBridgeNotices(client, bus, source)
