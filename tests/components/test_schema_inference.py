"""Pulumi's component-provider analyzer (`pulumi.provider.experimental`) infers a package
schema from our components' type annotations: the shape a multi-language package needs.

It reads each component's `__init__(..., args: <Args>)` and its class-level output
annotations, and follows plain dataclasses, enums, `pulumi.Input`/`Output`, lists and maps;
it refuses unions (other than Optional), `Literal`, Protocols that carry no fields,
Callables and string annotations (`from __future__ import annotations`).
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import linecache
from collections.abc import Iterator

import acme_eventsourcing
import pulumi
import pytest
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.experimental.schema import generate_schema

PACKAGE = "acme-eventsourcing"
COMPONENTS = (
    "RetainedTable",
    "SharedEventBus",
    "EventSourcedService",
    "EventPublisher",
    "HttpApi",
    "Projection",
    "Subscription",
    "LiveUpdates",
    "Workflow",
    "AlarmTopic",
    "EventBackup",
    "ApiDestination",
)


@functools.cache
def _class_spans(path: str) -> dict[str, tuple[int, int]]:
    """Top-level class name -> (first line with decorators, last line) in the file at `path`."""
    tree = ast.parse("".join(linecache.getlines(path)))
    return {
        node.name: (min([node.lineno, *(d.lineno for d in node.decorator_list)]), node.end_lineno or node.lineno)
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }


@pytest.fixture(scope="module")
def _class_sources_read_once() -> Iterator[None]:
    """The analyzer reads each type's docstrings with `inspect.getsource`, which in Python 3.11
    parses the class's whole module again for every class (most of the analysis time); give
    it the same source from one parse per module."""
    original = inspect.getsource

    def getsource(obj: object) -> str:
        if isinstance(obj, type) and "." not in obj.__qualname__:
            path = inspect.getsourcefile(obj)
            span = _class_spans(path).get(obj.__name__) if path else None
            if span is not None:
                return "".join(linecache.getlines(path)[span[0] - 1 : span[1]])
        return original(obj)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inspect, "getsource", getsource)
        yield


@pytest.fixture(scope="module")
def schema(_class_sources_read_once: None) -> dict:
    classes = [getattr(acme_eventsourcing, n) for n in COMPONENTS]
    result = Analyzer(PACKAGE).analyze(classes)
    spec = generate_schema(
        PACKAGE, "0.0.0", None, result["component_definitions"], result["type_definitions"], list(result["dependencies"])
    )
    return json.loads(json.dumps(spec.to_json()))  # serializable as a package schema


def _ref(name: str) -> str:
    return f"#/types/{PACKAGE}:index:{name}"


def test_every_public_component_is_analyzed() -> None:
    public = {
        n
        for n in acme_eventsourcing.__all__
        if isinstance(v := getattr(acme_eventsourcing, n), type) and issubclass(v, pulumi.ComponentResource)
    }
    assert public == set(COMPONENTS)


def test_the_package_schema_has_every_component_with_typed_inputs_and_outputs(schema: dict) -> None:
    """One analysis of all the components (it costs ~1 s: the analyzer parses each class's source)."""
    resources = schema["resources"]
    assert set(resources) == {f"{PACKAGE}:index:{n}" for n in COMPONENTS}
    service = resources[f"{PACKAGE}:index:EventSourcedService"]
    assert service["isComponent"] is True
    assert service["inputProperties"]["bus"]["$ref"] == _ref("EventBusRef")
    assert service["inputProperties"]["defaults"]["$ref"] == _ref("ServiceDefaults")
    assert service["inputProperties"]["source"]["type"] == "string"
    assert "source" in service["requiredInputs"] and "bus" in service["requiredInputs"]
    assert service["properties"]["functionNames"]["additionalProperties"]["type"] == "string"
    table = resources[f"{PACKAGE}:index:RetainedTable"]
    assert table["inputProperties"]["kmsKey"]["$ref"] == _ref("KmsKeyRef")
    assert {"tableName", "tableArn", "streamArn"} <= set(table["properties"])
    bus = resources[f"{PACKAGE}:index:SharedEventBus"]
    assert bus["inputProperties"]["existing"]["$ref"] == _ref("EventBusRef")
    topic = resources[f"{PACKAGE}:index:AlarmTopic"]
    assert topic["inputProperties"]["displayName"]["type"] == "string"
    assert {"topicArn", "topicName", "keyArn"} <= set(topic["properties"])
    for child in ("EventPublisher", "HttpApi", "Projection", "Subscription"):
        assert resources[f"{PACKAGE}:index:{child}"]["inputProperties"]["defaults"]["$ref"] == _ref("ServiceDefaults")


def test_shared_types_use_the_one_idiom_and_enums(schema: dict) -> None:
    types = schema["types"]
    defaults = types[f"{PACKAGE}:index:ServiceDefaults"]["properties"]
    assert defaults["kmsKey"]["$ref"] == _ref("KmsKeyRef")
    assert defaults["alarmActions"]["items"]["type"] == "string"
    assert defaults["tags"]["additionalProperties"]["type"] == "string"
    # every Ref can name the stack it is read from
    for ref in ("EventBusRef", "KmsKeyRef", "TableRef", "BackupVaultRef", "JwtIssuerRef"):
        assert types[f"{PACKAGE}:index:{ref}"]["properties"]["stack"]["type"] == "string"
    kind = types[f"{PACKAGE}:index:PublisherKind"]
    assert kind["type"] == "string" and {e["value"] for e in kind["enum"]} == {"lambda", "pipe"}
    assert {e["value"] for e in types[f"{PACKAGE}:index:AttributeType"]["enum"]} == {"S", "N", "B"}
    # descriptions come from the docstrings under each field
    assert defaults["tags"]["description"].startswith("Tags on every resource that takes tags")


def test_the_workflow_and_its_specs_are_typed(schema: dict) -> None:
    workflow = schema["resources"][f"{PACKAGE}:index:Workflow"]
    inputs = workflow["inputProperties"]
    assert {"source", "definition", "functions"} <= set(workflow["requiredInputs"])
    assert inputs["definition"]["additionalProperties"]["$ref"] == "pulumi.json#/Any"
    assert inputs["functions"]["additionalProperties"]["$ref"] == _ref("FunctionSpec")
    assert inputs["schedules"]["items"]["$ref"] == _ref("ScheduleSpec")
    assert inputs["starts"]["items"]["$ref"] == _ref("EventStart")
    assert inputs["stops"]["items"]["$ref"] == _ref("EventStop")
    assert inputs["bus"]["$ref"] == _ref("EventBusRef") and inputs["eventsTable"]["$ref"] == _ref("TableRef")
    assert inputs["timeoutS"]["type"] == "integer" and "timeoutS" not in workflow["requiredInputs"]
    assert {"stateMachineArn", "stateMachineName", "functionNames", "dlqUrls"} <= set(workflow["properties"])
    types = schema["types"]
    assert {e["value"] for e in types[f"{PACKAGE}:index:LogLevel"]["enum"]} == {"ALL", "ERROR", "FATAL"}
    schedule = types[f"{PACKAGE}:index:ScheduleSpec"]["properties"]
    assert schedule["timezone"]["type"] == "string" and schedule["flexibleWindowMinutes"]["type"] == "integer"
    assert schedule["expression"]["description"].startswith("When it fires")
    service = schema["resources"][f"{PACKAGE}:index:EventSourcedService"]
    assert service["inputProperties"]["workflows"]["items"]["$ref"] == _ref("WorkflowSpec")
    assert service["properties"]["stateMachineArns"]["additionalProperties"]["type"] == "string"


def test_the_sso_spec_is_typed(schema: dict) -> None:
    types = schema["types"]
    api = types[f"{PACKAGE}:index:ApiSpec"]["properties"]
    assert api["sso"]["$ref"] == _ref("SsoSpec")
    sso = types[f"{PACKAGE}:index:SsoSpec"]
    props = sso["properties"]
    assert "providerName" in sso["required"] and "clientSecret" not in sso.get("required", [])
    assert props["kind"]["$ref"] == _ref("SsoKind")
    assert {e["value"] for e in types[f"{PACKAGE}:index:SsoKind"]["enum"]} == {"OIDC", "SAML"}
    assert props["clientSecret"]["type"] == "string" and props["clientSecret"]["description"].startswith("OIDC: its client secret")
    assert props["attributeMapping"]["additionalProperties"]["type"] == "string"
    assert props["callbackUrls"]["items"]["type"] == "string"
    assert props["tokenValidityMinutes"]["type"] == "integer" and props["generateSecret"]["type"] == "boolean"
    http_api = schema["resources"][f"{PACKAGE}:index:HttpApi"]["properties"]
    assert http_api["ssoRedirectUri"]["type"] == "string" and http_api["ssoDomain"]["type"] == "string"


def test_event_backup_schema_uses_the_bus_ref_and_lists_its_outputs(schema: dict) -> None:
    backup = schema["resources"][f"{PACKAGE}:index:EventBackup"]
    assert backup["inputProperties"]["bus"]["$ref"] == _ref("EventBusRef")
    assert backup["inputProperties"]["kmsKey"]["$ref"] == _ref("KmsKeyRef")
    assert backup["inputProperties"]["lifecycle"]["$ref"] == _ref("BackupLifecycle")
    assert backup["inputProperties"]["alarmActions"]["items"]["type"] == "string"
    assert "bus" in backup["requiredInputs"] and "kmsKey" not in backup["requiredInputs"]
    assert {"bucketName", "bucketArn", "deliveryStreamName", "deliveryStreamArn", "ruleName"} <= set(backup["properties"])
    lifecycle = schema["types"][f"{PACKAGE}:index:BackupLifecycle"]["properties"]
    assert lifecycle["noncurrentVersionsExpireAfterDays"]["type"] == "integer"
