"""The AsyncAPI 3.0 document of what a service puts on the bus and sends to WebSocket clients,
built from the same definitions the code uses (so the document cannot drift from it).

    MESSAGES = [event_message("OrderPlaced", fields_schema({"order_id": str, "total": float}), summary="...")]
    INFO = EventsInfo(title="Orders events", source="acme.orders", description="...")
    doc = document(MESSAGES, INFO, websocket_url=configured_websocket_url())

The document has three channels, each with the operation the service performs on it
(`action: send`: the service is the sender, consumers receive):

- ``events`` (address: the service's `source`, on the ``eventbridge`` server): one message
  per event type. EventBridge carries it as an event whose `source` is the service's,
  `detail-type` the event type and `detail` the envelope `runtime.envelopes` describes,
  ``{"metadata": {...}, "data": <the event's data>}``; the message's payload is that
  envelope (`EventMetadata` + the event's data schema, titled like the event type) and its
  headers the EventBridge fields a rule matches on (`source`, `detail-type`, `id`, `time`).
- ``liveNotices`` (address `<source>.live`): the `ReadModelChanged` notice a projector
  puts on the bus after storing a read model (`runtime.live_messages`).
- ``changes`` (the ``websocket`` server): the `changed` message each WebSocket client
  receives; the client connects with ``?token=<JWT>`` (security scheme ``jwt``).
  `EventsInfo(live=False)` leaves out both live channels (a service without live updates).

`servers` comes from configuration, never from a request: the bus's region from
`AWS_REGION` (Lambda sets it), the WebSocket endpoint from `WEBSOCKET_URL` (``wss://...``,
set by whoever deploys the WebSocket API, e.g. ``wss://<api-id>.execute-api.<region>.amazonaws.com/<stage>``);
either unknown, the server's host keeps a ``{variable}``.

Data schemas come from the event classes' type hints (`fields_schema`, `dataclass_schema`,
`type_schema`): `str`, `int`, `float`, `bool`, `date` (``format: date``), `datetime`,
``X | None``, ``tuple[X, ...]`` / ``list[X]``, ``dict[str, X]``, `Literal[...]` and `Enum`
subclasses. Every schema is also valid JSON Schema draft-07 (AsyncAPI's default schema
format); `payload_schema(doc, name)` gives one message's payload with every local `$ref`
inlined, for validating an event outside the document. Standard library only: the API
function serves the document.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Union
from urllib.parse import urlsplit

from .live_messages import CHANGED, CHANGED_MESSAGE_SCHEMA, READ_MODEL_CHANGED, READ_MODEL_CHANGED_SCHEMA, live_source

ASYNCAPI_VERSION = "3.0.0"

WEBSOCKET_URL_ENV = "WEBSOCKET_URL"
"""The environment variable holding the WebSocket API's URL (the ``websocket`` server)."""
REGION_ENV = "AWS_REGION"
"""The environment variable holding the bus's region (Lambda sets it)."""

EVENTS_CHANNEL = "events"
LIVE_CHANNEL = "liveNotices"
WEBSOCKET_CHANNEL = "changes"
METADATA_SCHEMA_NAME = "EventMetadata"
CHANGED_MESSAGE_NAME = "Changed"

Schema = dict[str, Any]

_COMPONENT_KEY = re.compile(r"^[A-Za-z0-9.\-_]+$")
"""What AsyncAPI allows as a component's key (an event type becomes one)."""

EVENT_METADATA: Schema = {
    "title": METADATA_SCHEMA_NAME,
    "type": "object",
    "required": ["event_id", "stream_id", "version", "occurred_at"],
    "properties": {
        "event_id": {"type": "string", "description": "Unique per event: deduplicate on it (a redelivery or replay has the same one)."},
        "stream_id": {"type": "string", "description": "The event's stream, `<kind>#<id>`."},
        "version": {"type": "integer", "minimum": 1, "description": "The event's place in its stream: 1, 2, 3... without gaps."},
        "occurred_at": {
            "type": "string",
            "format": "date-time",
            "description": "When it was appended (ISO 8601, UTC); also the bus event's `time`.",
        },
        "actor": {"type": ["string", "null"], "description": "Who caused it: the caller's identity, or `system:<workflow>`."},
        "correlation_id": {"type": ["string", "null"], "description": "The request (or workflow run) that caused it."},
        "causation_id": {"type": ["string", "null"], "description": "The message that caused it (the request's, when a request did)."},
        "idempotency_key": {"type": ["string", "null"], "description": "The scoped `Idempotency-Key` of the request, if it had one."},
    },
    "description": "What the event store records about the event. Other keys may appear: ignore those you do not know.",
}

JWT_SCHEME: Schema = {
    "type": "httpApiKey",
    "name": "token",
    "in": "query",
    "description": "A JWT from the stack's issuer in the `token` query parameter of the connection URL "
    "(`wss://.../<stage>?token=<JWT>`: browsers cannot set headers on a WebSocket). Checked when the "
    "client connects as strictly as the HTTP API checks it (issuer, audience, expiry, RS256 signature); "
    "the identity it names decides the topics the connection is told about.",
}


@dataclass(frozen=True, kw_only=True)
class EventMessage:
    """One event type on the bus: its `detail-type` (`name`) and the JSON Schema of its `data`."""

    name: str
    data: Mapping[str, Any]
    summary: str = ""
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class EventsInfo:
    """What the document says besides the messages."""

    title: str
    source: str
    """The service's EventBridge `source`, e.g. ``acme.orders``."""
    version: str = "1.0.0"
    description: str = ""
    live: bool = True
    """Document the live notices (`<source>.live`) and the WebSocket `changed` messages."""
    bus_description: str = "The shared EventBridge bus: a rule matching `source` and `detail-type` receives these events."


def event_message(name: str, data: Mapping[str, Any], *, summary: str = "", description: str = "") -> EventMessage:
    """An `EventMessage` (`data` titled `name` unless it has a title)."""
    return EventMessage(name=name, data={"title": name, **data}, summary=summary, description=description)


def configured_websocket_url() -> str | None:
    """The WebSocket API's URL from `WEBSOCKET_URL`, or None when it is not configured."""
    return os.environ.get(WEBSOCKET_URL_ENV, "").strip() or None


def configured_region() -> str | None:
    """The region from `AWS_REGION`, or None."""
    return os.environ.get(REGION_ENV, "").strip() or None


def document(
    events: Sequence[EventMessage], info: EventsInfo, *, websocket_url: str | None = None, region: str | None = None
) -> dict[str, Any]:
    """The AsyncAPI document (a new dict the caller may change): `build` plus `servers`."""
    return {**build(events, info), "servers": servers(info, websocket_url=websocket_url, region=region)}


def servers(info: EventsInfo, *, websocket_url: str | None = None, region: str | None = None) -> dict[str, Any]:
    """The ``eventbridge`` server (and, with live updates, the ``websocket`` one): from
    configuration, a ``{variable}`` for what is not configured. `ValueError` for a
    `websocket_url` that is not ``ws://`` or ``wss://``."""
    bus: dict[str, Any] = {
        "host": f"events.{region}.amazonaws.com" if region else "events.{region}.amazonaws.com",
        "protocol": "https",
        "title": "EventBridge",
        "description": info.bus_description,
    }
    if not region:
        bus["variables"] = {"region": {"description": "The AWS region of the bus."}}
    out: dict[str, Any] = {"eventbridge": bus}
    if info.live:
        out["websocket"] = _websocket_server(websocket_url)
    return out


def _websocket_server(url: str | None) -> dict[str, Any]:
    server: dict[str, Any] = {
        "title": "Live updates",
        "description": "The WebSocket API: connect with `?token=<JWT>`; then the server sends `changed` messages.",
        "security": [{"$ref": "#/components/securitySchemes/jwt"}],
    }
    if not url:
        return {
            "host": "{apiId}.execute-api.{region}.amazonaws.com",
            "pathname": "/{stage}",
            "protocol": "wss",
            **server,
            "variables": {
                "apiId": {"description": "The WebSocket API's id."},
                "region": {"description": "Its AWS region."},
                "stage": {"description": "Its stage."},
            },
        }
    parts = urlsplit(url.strip())
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(f"{WEBSOCKET_URL_ENV} must be a ws:// or wss:// URL, got {url!r}")
    pathname = parts.path.rstrip("/")
    return {"host": parts.netloc, "protocol": parts.scheme, **({"pathname": pathname} if pathname else {}), **server}


def build(events: Sequence[EventMessage], info: EventsInfo) -> dict[str, Any]:
    """The document without `servers`; `ValueError` if two messages or schemas share a name,
    or an event type is no valid component name (letters, digits, ``.``, ``-``, ``_``)."""
    schemas: dict[str, Any] = {METADATA_SCHEMA_NAME: EVENT_METADATA}
    messages: dict[str, Any] = {}
    for event in events:
        _add(schemas, event.name, dict(event.data), "schema")
        _add(messages, event.name, _event_message(event, info.source), "message")
    channels: dict[str, Any] = {
        EVENTS_CHANNEL: {
            "address": info.source,
            "title": "Domain events",
            "description": f"Every event the service appends, as EventBridge puts it on the bus: `source` `{info.source}`, "
            "`detail-type` the event type, `detail` the envelope (the message payload). A rule target receives the "
            "whole EventBridge event (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`, "
            "`resources`, `detail`). Delivery is at least once and unordered: deduplicate on `metadata.event_id`, "
            "order by `metadata.version` within `metadata.stream_id`.",
            "servers": [{"$ref": "#/servers/eventbridge"}],
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
        }
    }
    operations: dict[str, Any] = {
        "publishEvents": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{EVENTS_CHANNEL}"},
            "title": "Publish domain events",
            "summary": "The publisher puts every appended event on the bus, in stream order.",
            "messages": [{"$ref": f"#/channels/{EVENTS_CHANNEL}/messages/{name}"} for name in messages],
        }
    }
    if info.live:
        _add(schemas, READ_MODEL_CHANGED, {"title": READ_MODEL_CHANGED, **READ_MODEL_CHANGED_SCHEMA}, "schema")
        _add(schemas, CHANGED_MESSAGE_NAME, {"title": CHANGED_MESSAGE_NAME, **CHANGED_MESSAGE_SCHEMA}, "schema")
        live_address = live_source(info.source)
        _add(messages, READ_MODEL_CHANGED, _notice_message(live_address), "message")
        _add(messages, CHANGED_MESSAGE_NAME, _changed_message(), "message")
        channels[LIVE_CHANNEL] = {
            "address": live_address,
            "title": "Read model changes",
            "description": f"After a projection stores its read model it puts a `{READ_MODEL_CHANGED}` notice on the bus "
            f"(`source` `{live_address}`, so rules on `{info.source}` never match it); the live-updates notifier "
            "relays it to the WebSocket clients holding one of its topics.",
            "servers": [{"$ref": "#/servers/eventbridge"}],
            "messages": {READ_MODEL_CHANGED: {"$ref": f"#/components/messages/{READ_MODEL_CHANGED}"}},
        }
        channels[WEBSOCKET_CHANNEL] = {
            "address": None,
            "title": "Live updates to clients",
            "description": "A client connects to the server's URL with `?token=<JWT>` (refused without a valid one) and "
            "then receives one `changed` message per change it may see and topic it holds. A message says what "
            "changed, never the data: fetch the view through the HTTP API, under its authorisation.",
            "servers": [{"$ref": "#/servers/websocket"}],
            "messages": {CHANGED_MESSAGE_NAME: {"$ref": f"#/components/messages/{CHANGED_MESSAGE_NAME}"}},
            "bindings": {
                "ws": {
                    "method": "GET",
                    "query": {
                        "type": "object",
                        "required": ["token"],
                        "properties": {"token": {"type": "string", "description": "The caller's JWT."}},
                    },
                    "bindingVersion": "0.1.0",
                }
            },
        }
        operations["publishLiveNotices"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{LIVE_CHANNEL}"},
            "title": "Announce read model changes",
            "messages": [{"$ref": f"#/channels/{LIVE_CHANNEL}/messages/{READ_MODEL_CHANGED}"}],
        }
        operations["sendChanged"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{WEBSOCKET_CHANNEL}"},
            "title": "Tell connected clients what changed",
            "security": [{"$ref": "#/components/securitySchemes/jwt"}],
            "messages": [{"$ref": f"#/channels/{WEBSOCKET_CHANNEL}/messages/{CHANGED_MESSAGE_NAME}"}],
        }
    components: dict[str, Any] = {"schemas": schemas, "messages": messages}
    if info.live:
        components["securitySchemes"] = {"jwt": JWT_SCHEME}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": info.title, "version": info.version, "description": info.description},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": components,
    }


def _add(into: dict[str, Any], name: str, value: Any, kind: str) -> None:
    if not _COMPONENT_KEY.match(name):
        raise ValueError(f"{kind} name {name!r}: AsyncAPI component names are letters, digits and . - _")
    if name in into:
        raise ValueError(f"two {kind}s are named {name!r}")
    into[name] = value


def _bus_headers(source: str, detail_type: str) -> Schema:
    return {
        "type": "object",
        "description": "The EventBridge event's own fields around the `detail` (what rules match on).",
        "required": ["source", "detail-type"],
        "properties": {
            "source": {"const": source},
            "detail-type": {"const": detail_type},
            "id": {"type": "string", "description": "The bus event's id (a replay from the archive gets a new one)."},
            "time": {"type": "string", "format": "date-time", "description": "`metadata.occurred_at`, to the second."},
        },
    }


def _event_message(event: EventMessage, source: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": event.name,
        "title": event.name,
        "contentType": "application/json",
        "headers": _bus_headers(source, event.name),
        "payload": {
            "type": "object",
            "required": ["metadata", "data"],
            "additionalProperties": False,
            "properties": {
                "metadata": {"$ref": f"#/components/schemas/{METADATA_SCHEMA_NAME}"},
                "data": {"$ref": f"#/components/schemas/{event.name}"},
            },
        },
        "correlationId": {"location": "$message.payload#/metadata/correlation_id"},
    }
    if event.summary:
        message["summary"] = event.summary
    if event.description:
        message["description"] = event.description
    return message


def _notice_message(source: str) -> dict[str, Any]:
    return {
        "name": READ_MODEL_CHANGED,
        "title": "Read model changed",
        "summary": "A projection stored its read model after applying an event.",
        "contentType": "application/json",
        "headers": _bus_headers(source, READ_MODEL_CHANGED),
        "payload": {"$ref": f"#/components/schemas/{READ_MODEL_CHANGED}"},
    }


def _changed_message() -> dict[str, Any]:
    return {
        "name": CHANGED,
        "title": "Changed",
        "summary": "Something this client may see changed: re-read `view` through the HTTP API.",
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{CHANGED_MESSAGE_NAME}"},
    }


# --- schemas from type hints ---------------------------------------------------------------


def type_schema(hint: Any) -> Schema:
    """The JSON Schema of values of type `hint` as JSON carries them (a `date` as an ISO
    string); `TypeError` naming a type it cannot describe."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1 and len(args) == 2:
            schema = type_schema(inner[0])
            if isinstance(schema.get("type"), str):
                return {**schema, "type": [schema["type"], "null"]}
            return {"anyOf": [schema, {"type": "null"}]}
        return {"anyOf": [type_schema(a) for a in args]}
    if origin in (tuple, list, Sequence, frozenset, set) or hint in (tuple, list):
        args = typing.get_args(hint)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return _fixed_tuple(args)
        schema: Schema = {"type": "array"}
        if args:
            schema["items"] = type_schema(args[0])
        if origin in (frozenset, set):
            schema["uniqueItems"] = True
        return schema
    if origin in (dict, Mapping) or hint is dict:
        args = typing.get_args(hint)
        if args and args[0] is not str:
            raise TypeError(f"cannot describe {hint!r}: JSON object keys are strings")
        return {"type": "object", **({"additionalProperties": type_schema(args[1])} if args else {})}
    if origin is Literal:
        return {"enum": list(typing.get_args(hint))}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [member.value for member in hint]}
    simple = _SIMPLE.get(hint)
    if simple is not None:
        return dict(simple)
    if hint is Any:
        return {}
    raise TypeError(f"cannot describe the type {hint!r} as JSON Schema")


def _fixed_tuple(args: tuple[Any, ...]) -> Schema:
    """``tuple[A, B]`` in draft-07 terms: `items` as a list, nothing more."""
    return {"type": "array", "items": [type_schema(a) for a in args], "minItems": len(args), "maxItems": len(args)}


_SIMPLE: dict[Any, Schema] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    datetime: {"type": "string", "format": "date-time"},
    date: {"type": "string", "format": "date"},
    type(None): {"type": "null"},
}


def fields_schema(
    fields: Mapping[str, Any],
    *,
    required: Iterable[str] | None = None,
    title: str | None = None,
    description: str | None = None,
    closed: bool = True,
) -> Schema:
    """The object schema of named fields (`name -> type hint`), each by `type_schema`;
    `required` defaults to every field. Closed (no other properties) unless `closed=False`."""
    names = list(fields)
    wanted = names if required is None else list(required)
    unknown = set(wanted) - set(names)
    if unknown:
        raise ValueError(f"required fields {sorted(unknown)} are not among the fields")
    schema: Schema = {"type": "object", "properties": {}}
    for name, hint in fields.items():
        try:
            schema["properties"][name] = type_schema(hint)
        except TypeError as exc:
            raise TypeError(f"field {name!r}: {exc}") from None
    if wanted:
        schema["required"] = [n for n in names if n in set(wanted)]
    if closed:
        schema["additionalProperties"] = False
    if title:
        schema = {"title": title, **schema}
    if description:
        schema["description"] = description
    return schema


def dataclass_schema(cls: type, *, title: str | None = None, description: str | None = None) -> Schema:
    """The `fields_schema` of a dataclass: its fields' type hints, those without a default required."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    required = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    own_doc = cls.__doc__ if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}(") else None  # not the generated one
    doc = description if description is not None else first_paragraph(own_doc)
    return fields_schema({f.name: hints[f.name] for f in fields}, required=required, title=title or cls.__name__, description=doc)


def first_paragraph(text: str | None) -> str | None:
    """The first paragraph of a docstring on one line (None for none): a class's description."""
    if not text or not text.strip():
        return None
    return " ".join(text.strip().split("\n\n")[0].split())


# --- reading the document back ------------------------------------------------------------


def payload_schema(doc: Mapping[str, Any], message: str) -> Schema:
    """The payload schema of `components.messages[message]`, every local `$ref` inlined (a
    standalone JSON Schema); `KeyError` for an unknown message."""
    return resolve(doc, doc["components"]["messages"][message]["payload"])


def resolve(doc: Mapping[str, Any], node: Any) -> Any:
    """`node` with every ``{"$ref": "#/..."}`` replaced by what it points to in `doc`, recursively."""
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = doc
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return resolve(doc, target)
        return {key: resolve(doc, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(doc, value) for value in node]
    return node


# --- the EventBridge Schema Registry --------------------------------------------------------

DRAFT4 = "http://json-schema.org/draft-04/schema#"
REGISTRY_SCHEMA_TYPE = "JSONSchemaDraft4"
"""The `type` of the Schema Registry schemas `registry_schemas` gives."""


def registry_schemas(doc: Mapping[str, Any]) -> dict[str, Schema]:
    """The EventBridge Schema Registry schemas of everything `doc` puts on the bus (the
    ``events`` channel and, with live updates, the ``liveNotices`` one), by schema name
    ``<source>@<detail-type>`` (the registry's own naming, as in ``aws.events@ScheduledEvent``).
    Each describes the whole EventBridge event, `detail` being the message's payload, as a
    self-contained JSON Schema draft-04 (`JSONSchemaDraft4`): local references inlined,
    `const` written as a one-value `enum`, `examples` dropped."""
    out: dict[str, Schema] = {}
    for channel_name in (EVENTS_CHANNEL, LIVE_CHANNEL):
        channel = doc.get("channels", {}).get(channel_name)
        if channel is None:
            continue
        for ref in channel["messages"].values():
            message = resolve(doc, ref)
            source = message["headers"]["properties"]["source"]["const"]
            detail_type = message["headers"]["properties"]["detail-type"]["const"]
            out[f"{source}@{detail_type}"] = draft4(
                {
                    "$schema": DRAFT4,
                    "title": detail_type,
                    "description": message.get("summary") or message.get("title") or detail_type,
                    "type": "object",
                    "required": ["detail-type", "source", "detail"],
                    "properties": {
                        "version": {"type": "string"},
                        "id": {"type": "string"},
                        "detail-type": {"const": detail_type},
                        "source": {"const": source},
                        "account": {"type": "string"},
                        "time": {"type": "string", "format": "date-time"},
                        "region": {"type": "string"},
                        "resources": {"type": "array", "items": {"type": "string"}},
                        "detail": message["payload"],
                    },
                }
            )
    return out


def draft4(schema: Any) -> Any:
    """`schema` (draft-07, local references already inlined) in draft-04 terms: `const` ->
    one-value `enum`, `examples` dropped, boolean schemas as ``{}`` / ``{"not": {}}``;
    `ValueError` for a keyword draft-04 lacks that cannot be rewritten (`if`, `contains`,
    `propertyNames`, an exclusive bound given as a number, a `$ref`)."""
    if schema is True:
        return {}
    if schema is False:
        return {"not": {}}
    if not isinstance(schema, Mapping):
        raise ValueError(f"not a schema: {schema!r}")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("if", "then", "else", "contains", "propertyNames", "$ref") or (
            key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool)
        ):
            raise ValueError(f"{key!r} has no draft-04 equivalent here")
        if key == "const":
            out["enum"] = [value]
        elif key == "examples":
            continue
        elif key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: draft4(sub) for name, sub in value.items()}
        elif key in ("additionalItems", "additionalProperties") and isinstance(value, bool):
            out[key] = value  # draft-04 takes a boolean here
        elif key in ("items", "additionalItems", "additionalProperties", "not") and not isinstance(value, list):
            out[key] = draft4(value)
        elif key in ("items", "anyOf", "allOf", "oneOf"):
            out[key] = [draft4(sub) for sub in value]
        else:
            out[key] = value
    return out
