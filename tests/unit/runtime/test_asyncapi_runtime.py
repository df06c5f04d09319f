"""The runtime library's AsyncAPI builder (`acme_eventsourcing.runtime.asyncapi`) for any service:
schemas from type hints and dataclasses, the document's shape with and without live updates,
validity against the official AsyncAPI 3.0.0 schema, and its refusals."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
from acme_eventsourcing.runtime.asyncapi import (
    EventsInfo,
    build,
    dataclass_schema,
    document,
    event_message,
    fields_schema,
    payload_schema,
    resolve,
    type_schema,
)

SPEC = Path(__file__).resolve().parents[2] / "asyncapi" / "asyncapi-3.0.0.schema.json"


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class OrderPlaced:
    """A customer placed an order.

    Second paragraph: not in the description."""

    order_id: str
    lines: tuple[str, ...]
    total: float
    deliver_on: date
    placed_at: datetime
    colour: Colour
    note: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OrderShipped:
    order_id: str
    carrier: Literal["dhl", "ups"]
    parcels: dict[str, int]


MESSAGES = [
    event_message("OrderPlaced", dataclass_schema(OrderPlaced), summary="An order was placed."),
    event_message("OrderShipped", dataclass_schema(OrderShipped)),
]
INFO = EventsInfo(title="Orders events", source="acme.orders", description="What the orders service publishes.")


@pytest.fixture(scope="module")
def spec() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(SPEC.read_text()))


@pytest.mark.parametrize(
    ("hint", "schema"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (date, {"type": "string", "format": "date"}),
        (datetime, {"type": "string", "format": "date-time"}),
        (str | None, {"type": ["string", "null"]}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (list[date], {"type": "array", "items": {"type": "string", "format": "date"}}),
        (frozenset[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (tuple[str, int], {"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "minItems": 2, "maxItems": 2}),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (Literal["a", "b"], {"enum": ["a", "b"]}),
        (Colour, {"enum": ["red", "blue"]}),
        (tuple[str, ...] | None, {"type": ["array", "null"], "items": {"type": "string"}}),
        (Literal["a"] | None, {"anyOf": [{"enum": ["a"]}, {"type": "null"}]}),
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    ],
)
def test_type_schema(hint: Any, schema: dict[str, Any]) -> None:
    assert type_schema(hint) == schema


@pytest.mark.parametrize("hint", [object, dict[int, str], complex])
def test_type_schema_refuses_what_json_cannot_carry(hint: Any) -> None:
    with pytest.raises(TypeError, match="cannot describe"):
        type_schema(hint)


def test_dataclass_schema_requires_the_fields_without_defaults() -> None:
    schema = dataclass_schema(OrderPlaced)
    assert schema["title"] == "OrderPlaced" and schema["description"] == "A customer placed an order."
    assert schema["required"] == ["order_id", "lines", "total", "deliver_on", "placed_at", "colour"]
    assert schema["additionalProperties"] is False
    assert "description" not in dataclass_schema(OrderShipped)  # the generated __doc__ is no description
    with pytest.raises(TypeError, match="not a dataclass"):
        dataclass_schema(Colour)


def test_fields_schema_names_the_field_it_cannot_describe_and_checks_required() -> None:
    with pytest.raises(TypeError, match="field 'blob'"):
        fields_schema({"blob": bytes})
    with pytest.raises(ValueError, match="'nope'"):
        fields_schema({"a": str}, required=["nope"])
    assert "additionalProperties" not in fields_schema({"a": str}, closed=False)


def test_a_service_document_is_valid_asyncapi_3(spec: jsonschema.Draft7Validator) -> None:
    for doc in (
        document(MESSAGES, INFO),
        document(MESSAGES, INFO, websocket_url="ws://127.0.0.1:9000/local", region="eu-west-1"),
        document(MESSAGES, EventsInfo(title="Quiet", source="acme.quiet", live=False)),
        document([], INFO),
    ):
        assert [e.message for e in spec.iter_errors(doc)] == []


def test_the_document_of_a_service_with_live_updates() -> None:
    doc = build(MESSAGES, INFO)
    assert "servers" not in doc
    assert doc["channels"]["events"]["address"] == "acme.orders"
    assert doc["channels"]["liveNotices"]["address"] == "acme.orders.live"
    assert set(doc["channels"]["events"]["messages"]) == {"OrderPlaced", "OrderShipped"}
    assert set(doc["components"]["messages"]) == {"OrderPlaced", "OrderShipped", "ReadModelChanged", "Changed"}
    assert set(doc["operations"]) == {"publishEvents", "publishLiveNotices", "sendChanged"}
    placed = payload_schema(doc, "OrderPlaced")
    assert placed["properties"]["data"] == dataclass_schema(OrderPlaced)
    assert placed["properties"]["metadata"]["title"] == "EventMetadata"


def test_a_service_without_live_updates_has_only_the_bus() -> None:
    doc = document(MESSAGES, EventsInfo(title="Quiet", source="acme.quiet", live=False))
    assert set(doc["channels"]) == {"events"} and set(doc["servers"]) == {"eventbridge"}
    assert "securitySchemes" not in doc["components"]


def test_two_messages_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="two messages are named 'OrderPlaced'|two schemas are named 'OrderPlaced'"):
        build([*MESSAGES, MESSAGES[0]], INFO)
    clash = event_message("ReadModelChanged", {"type": "object"})
    with pytest.raises(ValueError, match="'ReadModelChanged'"):
        build([clash], INFO)
    with pytest.raises(ValueError, match="'EventMetadata'"):
        build([event_message("EventMetadata", {"type": "object"})], INFO)
    with pytest.raises(ValueError, match="'Order Placed': AsyncAPI component names are letters, digits"):
        build([event_message("Order Placed", {"type": "object"})], INFO)


def test_payload_validates_real_envelopes_and_refuses_wrong_data() -> None:
    schema = payload_schema(build(MESSAGES, INFO), "OrderShipped")
    envelope = {
        "metadata": {"event_id": "e1", "stream_id": "order#o-1", "version": 2, "occurred_at": "2026-01-05T09:00:00Z"},
        "data": {"order_id": "o-1", "carrier": "dhl", "parcels": {"box": 2}},
    }
    validator = jsonschema.Draft7Validator(schema)
    assert list(validator.iter_errors(envelope)) == []
    assert list(validator.iter_errors({**envelope, "data": {**envelope["data"], "carrier": "post"}}))
    assert list(validator.iter_errors({**envelope, "metadata": {**envelope["metadata"], "version": 0}}))


def test_resolve_inlines_local_references() -> None:
    doc = {"a": {"b": {"$ref": "#/c~1d"}}, "c/d": [{"$ref": "#/e"}], "e": 1}
    assert resolve(doc, doc["a"]) == {"b": [1]}
