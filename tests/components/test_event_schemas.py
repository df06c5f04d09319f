"""The events in the EventBridge Schema Registry: `runtime.asyncapi.registry_schemas` (draft-04
schemas of whole bus events, from the AsyncAPI document), `EventSourcedServiceArgs.event_schemas`
(a registry and one schema per event type), the leave program registering every event type,
and the policy rule EVT003 that keeps registry schemas self-contained and true to their names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pulumi_aws as aws
import pytest
from acme_eventsourcing import EventSourcedService, EventSourcedServiceArgs, FunctionSpec, SharedEventBus, SubscriptionSpec
from acme_eventsourcing.runtime.asyncapi import REGISTRY_SCHEMA_TYPE, draft4, registry_schemas
from acme_eventsourcing.testing import RecordedStack, record
from acme_eventsourcing.testing.policy import EventSchemasDescribeTheirEvents, check_stack
from leave.events import ALL_EVENT_TYPES
from leave_api.asyncapi import SOURCE, document
from stacks_under_test import recorded_stack

SCHEMAS = registry_schemas(document())
REQUESTED = f"{SOURCE}@LeaveRequested"
BUS_EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "LeaveRequested",
    "source": SOURCE,
    "account": "123456789012",
    "time": "2026-01-05T09:00:00Z",
    "region": "eu-west-1",
    "resources": [],
    "detail": {
        "metadata": {"event_id": "e1", "stream_id": "employee#john", "version": 3, "occurred_at": "2026-01-05T09:00:00Z"},
        "data": {
            "employee_id": "john",
            "request_id": "john~1",
            "location_id": "berlin",
            "approver_id": "mike",
            "leave_type": "PTO",
            "start": "2026-02-02",
            "end": "2026-02-06",
            "working_days": 5,
        },
    },
}


# --- the schemas ----------------------------------------------------------------------------------


def test_one_draft4_schema_per_event_type_and_live_notice() -> None:
    assert set(SCHEMAS) == {f"{SOURCE}@{t}" for t in ALL_EVENT_TYPES} | {f"{SOURCE}.live@ReadModelChanged"}
    for schema in SCHEMAS.values():
        jsonschema.Draft4Validator.check_schema(schema)
        text = json.dumps(schema)
        assert '"const"' not in text and '"$ref"' not in text  # draft-04, self-contained


def test_a_whole_bus_event_validates_and_a_wrong_one_does_not() -> None:
    validator = jsonschema.Draft4Validator(SCHEMAS[REQUESTED])
    assert list(validator.iter_errors(BUS_EVENT)) == []
    assert list(validator.iter_errors({**BUS_EVENT, "detail-type": "LeaveApproved"}))
    assert list(validator.iter_errors({**BUS_EVENT, "source": "acme.other"}))
    assert list(validator.iter_errors({**BUS_EVENT, "detail": {**BUS_EVENT["detail"], "data": {"employee_id": "john"}}}))


def test_draft4_rewrites_what_draft4_lacks_and_refuses_what_it_cannot() -> None:
    assert draft4({"const": 1, "examples": [1], "items": True, "not": False}) == {"enum": [1], "items": {}, "not": {"not": {}}}
    assert draft4({"properties": {"a": {"anyOf": [{"const": "x"}, {"type": "null"}]}}}) == {
        "properties": {"a": {"anyOf": [{"enum": ["x"]}, {"type": "null"}]}}
    }
    for keyword in ({"if": {}}, {"$ref": "#/x"}, {"exclusiveMinimum": 0}, {"propertyNames": {}}):
        with pytest.raises(ValueError, match="no draft-04 equivalent"):
            draft4(keyword)


# --- the component --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def code_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("code")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "handlers.py").write_text("def handler(event, context):\n    return {}\n")
    return root


def service_args(code_root: Path, **kwargs: Any) -> EventSourcedServiceArgs:
    function = FunctionSpec(handler="app.handlers.handler", code_root=str(code_root), packages=("app",))
    subscription = SubscriptionSpec(name="hr", function=function, sources=("acme.hr",), detail_types=("EmployeeHired",))
    return EventSourcedServiceArgs(source=SOURCE, bus=SharedEventBus("bus"), subscriptions=[subscription], **kwargs)


def test_a_service_registers_each_schema_in_its_own_registry(code_root: Path) -> None:
    stack = record(lambda: EventSourcedService("leave", service_args(code_root, event_schemas=SCHEMAS)))
    (registry,) = stack.of_type("aws:schemas/registry:Registry")
    schemas = {s.inputs["name"]: s for s in stack.of_type("aws:schemas/schema:Schema")}
    assert set(schemas) == set(SCHEMAS)
    for name, schema in schemas.items():
        assert schema.inputs["type"] == REGISTRY_SCHEMA_TYPE == "JSONSchemaDraft4"
        assert schema.inputs["registryName"] == registry.state["name"]
        assert json.loads(schema.inputs["content"]) == SCHEMAS[name]
    assert check_stack(stack, rules=[EventSchemasDescribeTheirEvents()]).ok


def test_no_schemas_no_registry(code_root: Path) -> None:
    stack = record(lambda: EventSourcedService("leave", service_args(code_root)))
    assert stack.of_type("aws:schemas/registry:Registry") == [] and stack.of_type("aws:schemas/schema:Schema") == []


@pytest.mark.parametrize(
    ("schemas", "message"),
    [
        ({"acme.other@LeaveRequested": SCHEMAS[REQUESTED]}, "name it 'acme.leave@<detail-type>'"),
        ({"acme.leave@": SCHEMAS[REQUESTED]}, "name it"),
        ({f"{SOURCE}@LeaveApproved": SCHEMAS[REQUESTED]}, "properties.detail-type must be"),
        ({REQUESTED: {**SCHEMAS[REQUESTED], "$schema": "http://json-schema.org/draft-07/schema#"}}, "draft-04"),
    ],
    ids=["other-source", "no-detail-type", "named-for-another-type", "not-draft4"],
)
def test_schemas_that_do_not_describe_their_event_are_refused(code_root: Path, schemas: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EventSourcedService("bad", service_args(code_root, event_schemas=schemas))


# --- the leave program ----------------------------------------------------------------------------


def test_the_leave_program_registers_every_event_type() -> None:
    dev = recorded_stack("dev")
    registered = {s.inputs["name"]: json.loads(s.inputs["content"]) for s in dev.of_type("aws:schemas/schema:Schema")}
    assert registered == SCHEMAS
    assert dev.outputs["schema_registry_name"] == dev.one("aws:schemas/registry:Registry", "leave-events").state["name"]
    off = recorded_stack("dev", (("leave:event_schema_registry", "false"),))
    assert off.of_type("aws:schemas/schema:Schema") == []


# --- EVT003 ---------------------------------------------------------------------------------------


def test_evt003_reports_exactly_the_schemas_that_misdescribe_their_event() -> None:
    good = SCHEMAS[REQUESTED]
    broken = {
        "wrong-type": ("Avro", good, REQUESTED),
        "not-json": ("JSONSchemaDraft4", "{not json", REQUESTED),
        "outside-ref": ("JSONSchemaDraft4", {**good, "definitions": {"x": {"$ref": "https://example.com/x.json"}}}, REQUESTED),
        "draft7": ("JSONSchemaDraft4", {**good, "$schema": "http://json-schema.org/draft-07/schema#"}, REQUESTED),
        "misnamed": ("JSONSchemaDraft4", good, f"{SOURCE}@LeaveApproved"),
        "other-source": ("JSONSchemaDraft4", good, f"acme.other@{'LeaveRequested'}"),
        "unnamed": ("JSONSchemaDraft4", good, "LeaveRequested"),
    }

    def program() -> None:
        registry = aws.schemas.Registry("registry")
        aws.schemas.Schema("good", name=REQUESTED, registry_name=registry.name, type="JSONSchemaDraft4", content=json.dumps(good))
        aws.schemas.Schema("openapi", name="x@Y", registry_name=registry.name, type="OpenApi3", content=json.dumps({"openapi": "3.0.0"}))
        for resource, (kind, content, name) in broken.items():
            text = content if isinstance(content, str) else json.dumps(content)
            aws.schemas.Schema(resource, name=name, registry_name=registry.name, type=kind, content=text)

    stack: RecordedStack = record(program)
    rule = EventSchemasDescribeTheirEvents()
    assert sorted(v.resource_name for v in rule.check(stack)) == sorted(broken)
    messages = {v.resource_name: v.message for v in rule.check(stack)}
    assert "neither JSONSchemaDraft4 nor OpenApi3" in messages["wrong-type"]
    assert "not JSON" in messages["not-json"]
    assert "https://example.com/x.json" in messages["outside-ref"]
    assert "draft-07" in messages["draft7"]
    assert "named for detail-type 'LeaveApproved' but describes detail-type ['LeaveRequested']" in messages["misnamed"]
    assert "named for source 'acme.other'" in messages["other-source"]
    assert "<source>@<detail-type>" in messages["unnamed"]
    assert rule.checked(stack) == 9
