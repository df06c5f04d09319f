"""The Events-table item contract: what every item of an Events table holds, field by field.

One module, versioned (`ITEM_CONTRACT_VERSION`), shared by everything that writes or reads
the table, so they cannot drift: the event store's DynamoDB adapter writes items with
`event_item` / `idempotency_item` and reads them back with `read_event_item` /
`read_idempotency_item`; the stream publisher and the Pipe enrichment read each stream
record's `NewImage` with `read_event_item` too. Write events through
`acme_eventsourcing.runtime.eventstore` and every item follows this contract; an item put
into the table any other way that breaks it is refused by the publisher with an
`ItemContractError` naming the attribute and this contract (and, on AWS, ends in the
publisher's dead-letter queue).

Contract version 1. Values are DynamoDB attribute values (`{"S": ...}`, `{"N": ...}`), as
a low-level client and a stream record's `NewImage` give them.

Event item (one per event):

==============  ====  ====================================================================
attribute       type  meaning
==============  ====  ====================================================================
stream_id       S     partition key: the stream's id, e.g. ``order#o-17`` (non-empty, never
                      starting with ``idempotency#``)
version         N     sort key: the event's place in its stream, 1, 2, 3... without gaps
record_type     S     ``event``
event_type      S     non-empty; the bus event's ``DetailType`` (e.g. ``OrderPlaced``)
event_id        S     non-empty, unique per event (a uuid4 hex by default)
occurred_at     S     ISO-8601 date-time with its UTC offset (``2026-01-05T09:00:00Z``);
                      the bus event's ``Time``
data            S     JSON object text: the event's payload (the envelope's ``data``)
metadata        S     JSON object text: ``actor``, ``correlation_id``, ``causation_id``,
                      ``idempotency_key`` and anything else; the keys ``event_id``,
                      ``stream_id``, ``version`` and ``occurred_at`` are the envelope's own
==============  ====  ====================================================================

Idempotency item (one per request made with an ``Idempotency-Key``, written in the same
transaction as the request's events):

==============  ====  ====================================================================
stream_id       S     ``idempotency#<scoped key>`` (``<caller subject>#<header value>``)
version         N     ``0``
record_type     S     ``idempotency`` (the publisher ignores these items)
request_hash    S     sha256 of the request (method, path, canonical body)
response        S     JSON object text: the first response, ``{"status": int, "body": ...}``
created_at      S     ISO-8601 date-time of the first request
==============  ====  ====================================================================

The bus event of an event item is the envelope `StoredEvent.envelope()` gives:
``{"metadata": {"event_id", "stream_id", "version", "occurred_at", <stored metadata>},
"data": {...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .eventstore.ports import IdempotencyRecord, NewEvent, StoredEvent

ITEM_CONTRACT_VERSION = 1
"""The version of this layout; a change that breaks a reader or a writer bumps it."""

CONTRACT = f"Events-table item contract v{ITEM_CONTRACT_VERSION} (acme_eventsourcing.runtime.items)"
"""How errors name this contract."""

# --- attribute names -------------------------------------------------------------------------

STREAM_ID = "stream_id"
VERSION = "version"
RECORD_TYPE = "record_type"
EVENT_TYPE = "event_type"
EVENT_ID = "event_id"
OCCURRED_AT = "occurred_at"
DATA = "data"
METADATA = "metadata"
REQUEST_HASH = "request_hash"
RESPONSE = "response"
CREATED_AT = "created_at"

EVENT_RECORD = "event"
IDEMPOTENCY_RECORD = "idempotency"
IDEMPOTENCY_PREFIX = "idempotency#"
"""Stream ids with this prefix hold idempotency records, never events."""

EVENT_ATTRIBUTES = (STREAM_ID, VERSION, RECORD_TYPE, EVENT_TYPE, EVENT_ID, OCCURRED_AT, DATA, METADATA)
IDEMPOTENCY_ATTRIBUTES = (STREAM_ID, VERSION, RECORD_TYPE, REQUEST_HASH, RESPONSE, CREATED_AT)
ENVELOPE_METADATA = frozenset({EVENT_ID, STREAM_ID, VERSION, OCCURRED_AT})
"""Metadata keys the envelope fills from the item itself (stored metadata never overrides them)."""


class ItemContractError(ValueError):
    """An item, or an event about to become one, breaks the item contract; the message
    names the attribute and the contract."""

    def __init__(self, attribute: str, problem: str, *, stream_id: str | None = None) -> None:
        where = f" of stream {stream_id!r}" if stream_id else ""
        super().__init__(f"attribute {attribute!r}{where} {problem} ({CONTRACT})")
        self.attribute = attribute


# --- writing -----------------------------------------------------------------------------------


def timestamp(moment: datetime) -> str:
    """An `occurred_at` / `created_at` value: ISO-8601 UTC to the second, e.g.
    ``2026-01-05T09:00:00Z`` (a naive `moment` is taken as UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_json(value: Mapping[str, Any]) -> str:
    """JSON text as stored in the `data`, `metadata` and `response` attributes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def check_event(stream_id: str, event: NewEvent) -> None:
    """Raise `ItemContractError` unless `event` can be stored as an event item of `stream_id`
    (the event store calls it for every event before writing anything)."""
    for name in (EVENT_TYPE, EVENT_ID):
        value = getattr(event, name)
        if not isinstance(value, str) or not value:
            raise ItemContractError(name, f"must be a non-empty string, got {value!r}", stream_id=stream_id)
    _check_time(OCCURRED_AT, event.occurred_at, stream_id)
    for name in (DATA, METADATA):
        if not isinstance(getattr(event, name), Mapping):
            raise ItemContractError(
                name, f"must be a mapping (a JSON object), got {type(getattr(event, name)).__name__}", stream_id=stream_id
            )


def event_item(stream_id: str, version: int, event: NewEvent) -> dict[str, dict[str, str]]:
    """The event item of `event` at `version` of `stream_id` (`ItemContractError` if it
    breaks the contract; `TypeError` / `ValueError` if data or metadata is not JSON)."""
    check_event(stream_id, event)
    return {
        STREAM_ID: {"S": stream_id},
        VERSION: {"N": str(version)},
        RECORD_TYPE: {"S": EVENT_RECORD},
        EVENT_TYPE: {"S": event.event_type},
        EVENT_ID: {"S": event.event_id},
        OCCURRED_AT: {"S": event.occurred_at},
        DATA: {"S": encode_json(event.data)},
        METADATA: {"S": encode_json(event.metadata)},
    }


def idempotency_item(record: IdempotencyRecord) -> dict[str, dict[str, str]]:
    """The idempotency item of `record` (its key already scoped)."""
    return {
        STREAM_ID: {"S": IDEMPOTENCY_PREFIX + record.key},
        VERSION: {"N": "0"},
        RECORD_TYPE: {"S": IDEMPOTENCY_RECORD},
        REQUEST_HASH: {"S": record.request_hash},
        RESPONSE: {"S": encode_json(record.response)},
        CREATED_AT: {"S": record.created_at},
    }


# --- reading -----------------------------------------------------------------------------------


def is_event_item(item: Mapping[str, Any]) -> bool:
    """Whether an item (or a stream record's `NewImage`) is an event item, not an idempotency one."""
    return item.get(RECORD_TYPE) == {"S": EVENT_RECORD}


def read_event_item(item: Mapping[str, Any]) -> StoredEvent:
    """The `StoredEvent` of an event item, from a Query/GetItem item or a stream record's
    `NewImage` (both in DynamoDB's attribute-value form). `ItemContractError` naming the
    first attribute that is missing or malformed."""
    stream_id = _string(item, STREAM_ID)
    where = {"stream_id": stream_id}
    if item.get(RECORD_TYPE) != {"S": EVENT_RECORD}:
        raise ItemContractError(RECORD_TYPE, f"must be {EVENT_RECORD!r}, got {item.get(RECORD_TYPE)!r}", **where)
    occurred_at = _string(item, OCCURRED_AT, stream_id)
    _check_time(OCCURRED_AT, occurred_at, stream_id)
    return StoredEvent(
        stream_id=stream_id,
        version=_version(item, stream_id),
        event_type=_string(item, EVENT_TYPE, stream_id),
        event_id=_string(item, EVENT_ID, stream_id),
        occurred_at=occurred_at,
        data=_json_object(item, DATA, stream_id),
        metadata=_json_object(item, METADATA, stream_id),
    )


def read_idempotency_item(item: Mapping[str, Any]) -> IdempotencyRecord:
    """The `IdempotencyRecord` of an idempotency item (its `key` without the prefix)."""
    stream_id = _string(item, STREAM_ID)
    if not stream_id.startswith(IDEMPOTENCY_PREFIX):
        raise ItemContractError(STREAM_ID, f"must start with {IDEMPOTENCY_PREFIX!r} in an idempotency item", stream_id=stream_id)
    return IdempotencyRecord(
        key=stream_id.removeprefix(IDEMPOTENCY_PREFIX),
        request_hash=_string(item, REQUEST_HASH, stream_id),
        response=_json_object(item, RESPONSE, stream_id),
        created_at=_string(item, CREATED_AT, stream_id),
    )


def _string(item: Mapping[str, Any], name: str, stream_id: str | None = None) -> str:
    value = item.get(name)
    if value is None:
        raise ItemContractError(name, "is missing", stream_id=stream_id)
    text = value.get("S") if isinstance(value, Mapping) else None
    if not isinstance(text, str) or not text:
        raise ItemContractError(name, f"must be a non-empty string (S), got {value!r}", stream_id=stream_id)
    return text


def _version(item: Mapping[str, Any], stream_id: str) -> int:
    value = item.get(VERSION)
    if value is None:
        raise ItemContractError(VERSION, "is missing", stream_id=stream_id)
    try:
        version = int(value["N"])
    except (KeyError, TypeError, ValueError):
        raise ItemContractError(VERSION, f"must be a whole number (N), got {value!r}", stream_id=stream_id) from None
    if version < 1:
        raise ItemContractError(VERSION, f"of an event must be >= 1, got {version}", stream_id=stream_id)
    return version


def _json_object(item: Mapping[str, Any], name: str, stream_id: str) -> dict[str, Any]:
    text = _string(item, name, stream_id)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ItemContractError(name, f"is not JSON text ({exc})", stream_id=stream_id) from None
    if not isinstance(value, dict):
        raise ItemContractError(name, f"must hold a JSON object, got {type(value).__name__}", stream_id=stream_id)
    return value


def _check_time(name: str, value: Any, stream_id: str | None) -> None:
    if not isinstance(value, str) or not value:
        raise ItemContractError(name, f"must be an ISO-8601 date-time string, got {value!r}", stream_id=stream_id)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ItemContractError(name, f"must be an ISO-8601 date-time, got {value!r}", stream_id=stream_id) from None
    if moment.tzinfo is None:
        raise ItemContractError(name, f"must carry its UTC offset (e.g. 'Z'), got {value!r}", stream_id=stream_id)
