"""The leave service's AsyncAPI document (`leave_api.asyncapi`, `GET /asyncapi.json`): valid
AsyncAPI 3.0.0 by the official JSON Schema (vendored in tests/asyncapi), one message per
registered event type whose payload is exactly what the event classes write, the live
notices and WebSocket messages as `runtime.live_messages` defines them, served without a
token with servers from configuration only. `test_asyncapi_drift.py` checks the events the
publisher really puts on the bus against it."""

from __future__ import annotations

import copy
import json
import types
import typing
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.live_messages import CHANGED_MESSAGE_SCHEMA, READ_MODEL_CHANGED_SCHEMA, changed, read_model_changed
from hypothesis import given, settings
from hypothesis import strategies as st
from leave.events import _REGISTRY, ALL_EVENT_TYPES, Event, event_classes, field_types
from leave.record import has_default, record_fields
from leave_api.api import ROUTES
from leave_api.asyncapi import ASYNCAPI_VERSION, SOURCE, data_schema, document, payload_schema
from leave_api.openapi import document as openapi_document
from test_commands_support import Api, api_event

SPEC = Path(__file__).resolve().parents[1] / "asyncapi" / "asyncapi-3.0.0.schema.json"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spec_validator() -> jsonschema.Draft7Validator:
    """The official AsyncAPI 3.0.0 schema (bundled: no network)."""
    return jsonschema.Draft7Validator(json.loads(SPEC.read_text()))


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document()


def check(schema: dict[str, Any], instance: Any) -> list[str]:
    """Why `instance` fails `schema` (draft-07, formats checked), or nothing."""
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


# --- the document is AsyncAPI 3.0.0 --------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"websocket_url": "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod", "region": "eu-west-1"}, {"region": "us-east-1"}],
    ids=["unconfigured", "deployed", "region-only"],
)
def test_the_document_is_valid_asyncapi_3(spec_validator: jsonschema.Draft7Validator, options: dict[str, str]) -> None:
    generated = document(**options)
    assert generated["asyncapi"] == ASYNCAPI_VERSION == "3.0.0"
    assert [e.message for e in spec_validator.iter_errors(generated)] == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d["info"].pop("version"),
        lambda d: d["operations"]["publishEvents"].update(action="publish"),  # AsyncAPI 2's verb
        lambda d: d["components"]["schemas"]["LeaveRequested"].update(type="record"),
        lambda d: d["servers"]["eventbridge"].pop("protocol"),
    ],
    ids=["no-version", "v2-action", "bad-payload-schema", "server-without-protocol"],
)
def test_the_official_schema_refuses_a_broken_document(
    spec_validator: jsonschema.Draft7Validator, doc: dict[str, Any], breakage: Any
) -> None:
    broken = copy.deepcopy(doc)
    breakage(broken)
    assert list(spec_validator.iter_errors(broken))


def test_every_reference_resolves(doc: dict[str, Any]) -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in refs(v)]
        return [r for v in node for r in refs(v)] if isinstance(node, list) else []

    found = refs(doc)
    assert len(found) > 40
    for ref in found:
        target: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert target is not None, ref


# --- the events: one message per registered type, made from the classes -------------------------


def test_every_registered_event_type_has_a_message_on_the_events_channel(doc: dict[str, Any]) -> None:
    registered = {cls.event_type for cls in event_classes()}
    assert registered == set(_REGISTRY) == set(ALL_EVENT_TYPES)
    channel = doc["channels"]["events"]
    assert channel["address"] == SOURCE
    assert set(channel["messages"]) == registered
    assert {m["$ref"].rsplit("/", 1)[1] for m in doc["operations"]["publishEvents"]["messages"]} == registered
    for name in registered:
        message = doc["components"]["messages"][name]
        assert message["name"] == name and message["summary"]
        assert message["headers"]["properties"]["source"] == {"const": SOURCE}
        assert message["headers"]["properties"]["detail-type"] == {"const": name}


@pytest.mark.parametrize("cls", event_classes(), ids=lambda c: c.event_type)
def test_each_payload_is_the_envelope_of_exactly_the_fields_the_class_writes(doc: dict[str, Any], cls: type[Event]) -> None:
    payload = payload_schema(doc, cls.event_type)
    assert payload["required"] == ["metadata", "data"] and payload["additionalProperties"] is False
    assert set(payload["properties"]["metadata"]["required"]) == {"event_id", "stream_id", "version", "occurred_at"}
    data = payload["properties"]["data"]
    assert data == data_schema(cls)
    assert list(data["properties"]) == list(record_fields(cls))
    assert data["required"] == [name for name in record_fields(cls) if not has_default(cls, name)]
    assert data["additionalProperties"] is False


def test_field_types_become_json_types(doc: dict[str, Any]) -> None:
    requested = doc["components"]["schemas"]["LeaveRequested"]["properties"]
    assert requested["start"] == {"type": "string", "format": "date"}
    assert requested["approver_id"] == {"type": ["string", "null"]}
    assert requested["working_days"] == {"type": "integer"}
    assert doc["components"]["schemas"]["LeavePolicyAssigned"]["properties"]["days_per_year"] == {"type": "number"}
    assert doc["components"]["schemas"]["WorkingWeekChanged"]["properties"]["days"] == {"type": "array", "items": {"type": "string"}}
    assert "note" not in doc["components"]["schemas"]["LeaveRequested"]["required"]  # it has a default


def test_a_stored_event_breaking_its_schema_is_refused(doc: dict[str, Any]) -> None:
    payload = payload_schema(doc, "LeaveRequested")
    good = {
        "metadata": {"event_id": "e1", "stream_id": "employee#john", "version": 3, "occurred_at": "2026-01-05T09:00:00Z", "actor": "john"},
        "data": {
            "employee_id": "john",
            "request_id": "john~1",
            "location_id": "berlin",
            "approver_id": None,
            "leave_type": "PTO",
            "start": "2026-02-02",
            "end": "2026-02-06",
            "working_days": 5,
        },
    }
    assert check(payload, good) == []
    assert check(payload, {**good, "data": {**good["data"], "working_days": "5"}})
    assert check(payload, {**good, "data": {**good["data"], "surprise": 1}})
    assert check(payload, {**good, "data": {k: v for k, v in good["data"].items() if k != "start"}})
    assert check(payload, {**good, "data": {**good["data"], "start": "2026-02-30"}})  # format checked
    assert check(payload, {"data": good["data"]})


# --- live notices and WebSocket messages --------------------------------------------------------


def test_live_channels_carry_the_live_messages_schemas(doc: dict[str, Any]) -> None:
    assert doc["channels"]["liveNotices"]["address"] == "acme.leave.live"
    notice_schema = payload_schema(doc, "ReadModelChanged")
    changed_schema = payload_schema(doc, "Changed")
    assert {k: v for k, v in notice_schema.items() if k != "title"} == READ_MODEL_CHANGED_SCHEMA
    assert {k: v for k, v in changed_schema.items() if k != "title"} == CHANGED_MESSAGE_SCHEMA
    notice = read_model_changed(
        view="pending",
        topics=["approvers#loc-1", "employee#john"],
        event_id="e1",
        event_type="LeaveRequested",
        stream_id="employee#john",
        version=4,
        stored_at="2026-11-30T10:00:00.123Z",
    )
    assert check(notice_schema, notice) == []
    assert check(changed_schema, changed(notice, "approvers#loc-1")) == []
    assert check(changed_schema, {**changed(notice, "employee#john"), "data": {"balance": 3}})  # never the read model


def test_websocket_clients_connect_with_a_jwt_in_the_query(doc: dict[str, Any]) -> None:
    channel = doc["channels"]["changes"]
    assert channel["servers"] == [{"$ref": "#/servers/websocket"}]
    assert channel["bindings"]["ws"]["query"]["required"] == ["token"]
    scheme = doc["components"]["securitySchemes"]["jwt"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("httpApiKey", "query", "token")
    assert doc["servers"]["websocket"]["security"] == [{"$ref": "#/components/securitySchemes/jwt"}]
    assert [op["action"] for op in doc["operations"].values()] == ["send", "send", "send"]


# --- servers come from configuration --------------------------------------------------------------


def test_servers_are_configured_or_left_as_variables() -> None:
    deployed = document(websocket_url="wss://abc123.execute-api.eu-west-1.amazonaws.com/prod/", region="eu-west-1")["servers"]
    assert deployed["eventbridge"]["host"] == "events.eu-west-1.amazonaws.com" and "variables" not in deployed["eventbridge"]
    ws = deployed["websocket"]
    assert (ws["protocol"], ws["host"], ws["pathname"]) == ("wss", "abc123.execute-api.eu-west-1.amazonaws.com", "/prod")
    local = document(websocket_url="ws://127.0.0.1:8081")["servers"]["websocket"]
    assert (local["protocol"], local["host"], "pathname" in local) == ("ws", "127.0.0.1:8081", False)
    unknown = document()["servers"]
    assert set(unknown["websocket"]["variables"]) == {"apiId", "region", "stage"}
    assert set(unknown["eventbridge"]["variables"]) == {"region"}
    with pytest.raises(ValueError, match="WEBSOCKET_URL must be a ws:// or wss:// URL"):
        document(websocket_url="https://example.com/")


# --- served at GET /asyncapi.json -------------------------------------------------------------


@pytest.fixture
def api() -> Api:
    return Api.on(InMemoryEventStore())


def test_served_without_a_token_and_equal_to_the_generated_document(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("WEBSOCKET_URL", "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod")
    response = api.call("GET", "/asyncapi.json", claims=None)
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.body == document(websocket_url="wss://abc123.execute-api.eu-west-1.amazonaws.com/prod", region="eu-west-1")
    assert api.store.calls == []  # no event store access


def test_served_servers_never_come_from_the_request(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBSOCKET_URL", raising=False)
    event = api_event("GET", "/asyncapi.json", claims=None, headers={"host": "evil.example"})
    event["requestContext"].update(domainName="evil.example", stage="dev")
    served = json.loads(api.app(event)["body"])
    assert "evil" not in json.dumps(served["servers"])
    assert served["servers"]["websocket"]["host"] == "{apiId}.execute-api.{region}.amazonaws.com"


def test_the_openapi_document_lists_the_route_as_public() -> None:
    (route,) = [r for r in ROUTES if r.path == "/asyncapi.json"]
    assert route.public and route.method == "GET"
    operation = openapi_document()["paths"]["/asyncapi.json"]["get"]
    assert operation["security"] == [] and operation["operationId"] == "get_asyncapi"


def test_the_docs_and_readme_point_to_it() -> None:
    assert "/asyncapi.json" in (ROOT / "README.md").read_text()
    assert "GET /asyncapi.json" in (ROOT / "docs" / "asyncapi.md").read_text()


# --- property: every event the classes can express validates ---------------------------------------


def _strategy(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a field type (day counts in half days, as the domain records them)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_strategy(a) for a in typing.get_args(hint)))
    if origin is tuple:
        return st.lists(_strategy(typing.get_args(hint)[0]), max_size=4).map(tuple)
    simple = {
        str: st.text(max_size=12),
        bool: st.booleans(),
        int: st.integers(-(10**6), 10**6),
        float: st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x * 2) / 2),
        date: st.dates(),
        type(None): st.none(),
    }
    return simple[hint]


@st.composite
def events(draw: st.DrawFn) -> Event:
    cls = draw(st.sampled_from(event_classes()))
    values = {}
    for name, hint in field_types(cls).items():
        if has_default(cls, name) and draw(st.booleans()):
            continue  # left to its default
        values[name] = draw(_strategy(hint))
    return cls(**values)


@settings(max_examples=150, deadline=None)
@given(event=events())
def test_any_event_the_classes_can_hold_validates_against_its_message(doc: dict[str, Any], event: Event) -> None:
    envelope = {
        "metadata": {"event_id": "e", "stream_id": event.stream_id, "version": 1, "occurred_at": "2026-01-05T09:00:00Z"},
        "data": json.loads(json.dumps(event.to_data())),
    }
    assert check(payload_schema(doc, event.event_type), envelope) == []
