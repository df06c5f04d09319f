"""The leave service's AsyncAPI 3.0 document: the runtime library's generator
(`acme_eventsourcing.runtime.asyncapi`) on the leave domain's event classes (`leave.events`),
each event's data schema built from the class's field types, so the document lists every
registered event type with exactly the fields `to_data` writes.

Served by the commands function at `GET /asyncapi.json` (imported only for that route).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from acme_eventsourcing.runtime.asyncapi import (  # noqa: F401 - the document's vocabulary, for tests and readers
    ASYNCAPI_VERSION,
    EVENTS_CHANNEL,
    EventMessage,
    EventsInfo,
    build,
    configured_region,
    configured_websocket_url,
    event_message,
    fields_schema,
    first_paragraph,
    payload_schema,
    servers,
)
from leave.events import DirectoryEvent, EmployeeEvent, Event, LocationEvent, RolloverEvent, event_classes, field_types
from leave.record import has_default

SOURCE = "acme.leave"
"""The leave service's EventBridge source (the Pulumi program declares the same)."""
EVENTS_VERSION = "1.0.0"

STREAMS: tuple[tuple[type[Event], str], ...] = (
    (EmployeeEvent, "employee#<employee_id>"),
    (LocationEvent, "location#<location_id>"),
    (DirectoryEvent, "directory#locations"),
    (RolloverEvent, "rollover#<from_year>"),
)

DESCRIPTION = """What the leave service puts on the shared EventBridge bus, and what its WebSocket API
sends to connected clients.

* Domain events (`events`): one message per event type, generated from the domain's event classes
  (`leave.events`). Dates are ISO `YYYY-MM-DD` strings, day counts numbers (an integer when whole).
  Readers should ignore fields they do not know: later versions may add optional ones.
* Read model changes (`liveNotices`): after a projection stores its read model, a `ReadModelChanged`
  notice names the view, the event and the topics allowed to see it: `employee#<employee_id>` (the
  employee's balance and requests), `location#<location_id>` (a location's calendar),
  `approvers#<location_id>` (its pending list), `admins`.
* Live updates (`changes`): a client connects with `?token=<JWT>` and receives a `changed` message for
  each change on a topic its identity may read; it then re-reads the view through the HTTP API.
"""

INFO = EventsInfo(title="Leave tracking events", source=SOURCE, version=EVENTS_VERSION, description=DESCRIPTION)


def stream_of(cls: type[Event]) -> str | None:
    """The stream id pattern of an event class's events, e.g. ``employee#<employee_id>``."""
    return next((stream for base, stream in STREAMS if issubclass(cls, base)), None)


def data_schema(cls: type[Event]) -> dict[str, Any]:
    """The JSON Schema of `cls`'s `to_data()`: each field by its type, those without a default required."""
    types = field_types(cls)
    return fields_schema(
        types,
        required=[name for name in types if not has_default(cls, name)],
        title=cls.event_type,
        description=" ".join(cls.__doc__.split()) if cls.__doc__ else None,
    )


def messages() -> list[EventMessage]:
    """One message per registered event class."""
    out = []
    for cls in event_classes():
        stream = stream_of(cls)
        out.append(
            event_message(
                cls.event_type,
                data_schema(cls),
                summary=first_paragraph(cls.__doc__) or cls.event_type,
                description=f"Appended to the stream `{stream}`." if stream else "",
            )
        )
    return out


def document(*, websocket_url: str | None = None, region: str | None = None) -> dict[str, Any]:
    """The AsyncAPI document (a fresh copy the caller may change), its `servers` from
    the arguments (configuration), never from a request."""
    return {**json.loads(_document_text()), "servers": servers(INFO, websocket_url=websocket_url, region=region)}


@lru_cache(maxsize=1)
def _document_text() -> str:
    """The document without servers as JSON text, built once per process."""
    return json.dumps(build(messages(), INFO))
