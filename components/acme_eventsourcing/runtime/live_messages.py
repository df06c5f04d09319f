"""The live-updates contract: what a projector says after it stores a read model, and what a
WebSocket client then receives.

Steps 6-8 of the data flow (seed 001): after a projector has stored its read model, it puts
a *change notice* on the bus, and the live-updates notifier (subscribed to those notices by
its own rule) sends a *message* to every connected client allowed to see the change.

The notice (an EventBridge event) has `source` = the service's source + ``.live`` (so the
service's domain-event rules, its archive and its backup never match it), `detail-type`
``ReadModelChanged`` and the detail `read_model_changed(...)` builds:

    {"view": "pending", "topics": ["approvers#loc-1"],
     "event": {"id": ..., "type": "LeaveRequested", "stream": "employee#e-1", "version": 4},
     "stored_at": "2026-11-30T10:00:00.123Z"}

`topics` name who may see the change: the projection says it (e.g. ``employee#<id>``,
``location#<id>``, ``approvers#<location id>``, ``admins``), and a connection is subscribed,
when it connects, to the topics its token's identity may read. A client receives one
`changed(...)` message per (change, topic it holds):

    {"type": "changed", "view": "pending", "topic": "approvers#loc-1",
     "event": {...as above...}, "stored_at": "..."}

A message says *what* changed, never the read model itself: the client fetches the view
through the HTTP API, under that API's authorisation. `CHANGED_MESSAGE_SCHEMA` and
`READ_MODEL_CHANGED_SCHEMA` are the JSON Schemas of both (the AsyncAPI document is generated
from them). Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

#: Appended to a service's source for its change notices (`acme.leave` -> `acme.leave.live`).
LIVE_SOURCE_SUFFIX = ".live"
#: The `detail-type` of a change notice.
READ_MODEL_CHANGED = "ReadModelChanged"
#: The `type` of the message a client receives.
CHANGED = "changed"

_TOPIC = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}(#[A-Za-z0-9_.:@#-]{1,190})?$")
_VIEW = re.compile(r"^[a-z][a-z0-9-]{0,62}$")

_EVENT_REF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The stored event whose projection changed the view.",
    "required": ["id", "type", "stream", "version"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "description": "The stored event's id."},
        "type": {"type": "string", "description": "The event type, e.g. LeaveRequested."},
        "stream": {"type": "string", "description": "The event's stream id, e.g. employee#e-1."},
        "version": {"type": "integer", "minimum": 1, "description": "The event's version in its stream."},
    },
}

#: JSON Schema of the `detail` of a `ReadModelChanged` notice on the bus.
READ_MODEL_CHANGED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["view", "topics", "event", "stored_at"],
    "additionalProperties": False,
    "properties": {
        "view": {"type": "string", "pattern": _VIEW.pattern, "description": "The projection (read model) that changed."},
        "topics": {
            "type": "array",
            "items": {"type": "string", "pattern": _TOPIC.pattern},
            "uniqueItems": True,
            "description": "Who may see the change (connections holding any of these topics are told).",
        },
        "event": _EVENT_REF_SCHEMA,
        "stored_at": {"type": "string", "format": "date-time", "description": "When the read model was stored (UTC)."},
    },
}

#: JSON Schema of the message a WebSocket client receives.
CHANGED_MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "view", "topic", "event", "stored_at"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": CHANGED},
        "view": READ_MODEL_CHANGED_SCHEMA["properties"]["view"],
        "topic": {"type": "string", "pattern": _TOPIC.pattern, "description": "The topic of this connection the change was sent for."},
        "event": _EVENT_REF_SCHEMA,
        "stored_at": READ_MODEL_CHANGED_SCHEMA["properties"]["stored_at"],
    },
}


def live_source(service_source: str) -> str:
    """The `source` of a service's change notices."""
    return service_source + LIVE_SOURCE_SUFFIX


def check_topic(topic: str) -> str:
    """`topic` if it is a valid topic (`kind` or `kind#id`), else ValueError naming it."""
    if not isinstance(topic, str) or not _TOPIC.match(topic):
        raise ValueError(f"invalid live-updates topic {topic!r}: expected 'kind' or 'kind#id' (letters, digits, _ . : @ -)")
    return topic


def read_model_changed(
    *, view: str, topics: Iterable[str], event_id: str, event_type: str, stream_id: str, version: int, stored_at: str
) -> dict[str, Any]:
    """The detail of a `ReadModelChanged` notice (topics deduplicated, order kept)."""
    if not isinstance(view, str) or not _VIEW.match(view):
        raise ValueError(f"invalid view name {view!r}: lower-case letters, digits and '-'")
    unique = list(dict.fromkeys(check_topic(t) for t in topics))
    return {
        "view": view,
        "topics": unique,
        "event": {"id": event_id, "type": event_type, "stream": stream_id, "version": int(version)},
        "stored_at": stored_at,
    }


def changed(notice: Mapping[str, Any], topic: str) -> dict[str, Any]:
    """The client message for one topic of a `ReadModelChanged` notice's detail."""
    if topic not in notice["topics"]:
        raise ValueError(f"topic {topic!r} is not one of the notice's topics")
    return {
        "type": CHANGED,
        "view": notice["view"],
        "topic": topic,
        "event": dict(notice["event"]),
        "stored_at": notice["stored_at"],
    }
