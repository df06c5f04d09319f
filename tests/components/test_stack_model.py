"""The shared model of a recorded stack (`acme_eventsourcing.testing.stack_model`): what the
policy rules and the local stack resolve references with, and the import graph of the
modules that read stacks (no cycles; each rule module stands alone)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest
from acme_eventsourcing.testing import RecordedStack, record
from acme_eventsourcing.testing.stack_model import (
    EVENT_INVOKE_CONFIG,
    FUNCTION,
    INTEGRATION,
    QUEUE,
    ROLE,
    ROUTE,
    TABLE,
    StackModel,
    physical_name,
)

PACKAGE = Path(__file__).resolve().parents[2] / "components" / "acme_eventsourcing"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


class Holder(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("test:index:Holder", name)


def _program() -> None:
    outer = Holder("outer")
    inner = Holder.__new__(Holder)
    pulumi.ComponentResource.__init__(inner, "test:index:Holder", "inner", None, pulumi.ResourceOptions(parent=outer))
    table = aws.dynamodb.Table(
        "events",
        hash_key="pk",
        attributes=[{"name": "pk", "type": "S"}],
        stream_enabled=True,
        stream_view_type="NEW_IMAGE",
        opts=pulumi.ResourceOptions(parent=inner),
    )
    role = aws.iam.Role("fn-role", assume_role_policy=TRUST)
    fn = aws.lambda_.Function("fn", role=role.arn, handler="app.handler", runtime="python3.12", code=pulumi.AssetArchive({}))
    aws.lambda_.EventSourceMapping("by-name", function_name=fn.name, event_source_arn=table.stream_arn)
    aws.lambda_.EventSourceMapping(
        "by-qualified-arn", function_name=fn.arn.apply(lambda a: f"{a}:$LATEST"), event_source_arn=table.stream_arn
    )
    aws.lambda_.FunctionEventInvokeConfig("fn-invoke", function_name=fn.arn, maximum_retry_attempts=0)
    api = aws.apigatewayv2.Api("api", protocol_type="HTTP")
    other = aws.apigatewayv2.Api("other", protocol_type="HTTP")
    integration = aws.apigatewayv2.Integration("int", api_id=api.id, integration_type="AWS_PROXY", integration_uri=fn.invoke_arn)
    for key in ("GET /a", "GET /b"):
        aws.apigatewayv2.Route(f"route-{key[-1]}", api_id=api.id, route_key=key, target=integration.id.apply(lambda i: f"integrations/{i}"))
    aws.apigatewayv2.Route("elsewhere", api_id=other.id, route_key="GET /c")
    aws.sqs.Queue("dlq")


@pytest.fixture(scope="module")
def stack() -> RecordedStack:
    return record(_program)


def test_a_reference_by_arn_name_id_url_or_qualified_arn_finds_its_resource(stack: RecordedStack) -> None:
    model = StackModel(stack)
    fn, role, queue = stack.one(FUNCTION, "fn"), stack.one(ROLE, "fn-role"), stack.one(QUEUE, "dlq")
    assert model.find(ROLE, fn.inputs["role"]) is role  # an ARN
    assert model.find(FUNCTION, physical_name(fn)) is fn  # a name
    assert model.find(FUNCTION, fn.state["arn"] + ":$LATEST") is fn  # a qualified ARN
    assert model.find(FUNCTION, fn.state["invokeArn"]) is fn  # API Gateway's invoke ARN
    assert model.find(QUEUE, queue.state["url"]) is queue and model.find(QUEUE, queue.id) is queue
    assert model.find(QUEUE, fn.state["arn"]) is None  # a reference finds only its own type
    assert model.find(FUNCTION, None) is None and model.find(FUNCTION, "") is None


def test_inputs_that_reference_resources_are_indexed(stack: RecordedStack) -> None:
    model = StackModel(stack)
    api = next(r for r in stack.of_type("aws:apigatewayv2/api:Api") if r.name == "api")
    assert sorted(r.name for r in model.referencing(ROUTE, "apiId", api.id)) == ["route-a", "route-b"]
    assert [r.name for r in model.referencing(INTEGRATION, "apiId", api.id)] == ["int"]
    assert model.referencing(ROUTE, "apiId", "no-such-api") == []
    fn = stack.one(FUNCTION, "fn")
    assert [r.name for r in model.resolved(EVENT_INVOKE_CONFIG, "functionName", FUNCTION)[fn.urn]] == ["fn-invoke"]
    assert [r.name for r in model.resolved(INTEGRATION, "integrationUri", FUNCTION)[fn.urn]] == ["int"]
    mappings = model.resolved("aws:lambda/eventSourceMapping:EventSourceMapping", "functionName", FUNCTION)[fn.urn]
    assert sorted(m.name for m in mappings) == ["by-name", "by-qualified-arn"]


def test_a_stream_leads_to_its_table_whatever_component_holds_it(stack: RecordedStack) -> None:
    model = StackModel(stack)
    table = stack.one(TABLE, "events")
    mapping = stack.one("aws:lambda/eventSourceMapping:EventSourceMapping", "by-name")
    assert model.table_of_stream(mapping.inputs["eventSourceArn"]) is table
    assert model.table_of_stream(table.state["arn"]) is None
    outer = stack.one("test:index:Holder", "outer")
    assert [r.name for r in model.descendants(outer)] == ["inner", "events"]  # any depth


def test_one_model_is_shared_while_it_is_active(stack: RecordedStack) -> None:
    model = StackModel(stack)
    assert StackModel.of(stack) is not model
    with model.shared():
        assert StackModel.of(stack) is model
        assert StackModel.of(record(_program)) is not model  # another stack gets its own
    assert StackModel.of(stack) is not model


# ---------------------------------------------------------------------- the import graph
def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The acme_eventsourcing modules `path` imports, at module level or inside functions."""
    this = _module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("acme_eventsourcing")}
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
            if target.startswith("acme_eventsourcing"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}  # `from . import module`
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = [*(PACKAGE / "testing").rglob("*.py"), *(PACKAGE / "local").rglob("*.py")]
    modules = {_module_name(p): p for p in files}
    # a module importing its own package (`from . import x`) is no cycle: the package is always loaded first
    return {
        name: {m for m in _imports(path) if m in modules and m != name and not name.startswith(f"{m}.")} for name, path in modules.items()
    }


def test_the_modules_that_read_stacks_import_each_other_without_cycles(graph: dict[str, set[str]]) -> None:
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join((*path[path.index(module) :], module)))
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())
    assert "acme_eventsourcing.testing._rules_tables" in done  # the graph did cover the rule modules


def test_each_rule_module_stands_on_the_model_and_the_engine_alone(graph: dict[str, set[str]]) -> None:
    rule_modules = sorted(m for m in graph if m.rpartition(".")[2].startswith("_rules_"))
    assert len(rule_modules) >= 8
    allowed = {f"acme_eventsourcing.testing.{m}" for m in ("_policy_core", "_policy_iam", "_policy_view", "harness", "stack_model")}
    for module in rule_modules:
        assert graph[module] <= allowed, f"{module} imports {sorted(graph[module] - allowed)}"
    assert graph["acme_eventsourcing.testing.stack_model"] == {"acme_eventsourcing.testing.harness"}
    local_readers = {m for m in graph if m.startswith("acme_eventsourcing.local.")}
    assert "acme_eventsourcing.testing.stack_model" in graph["acme_eventsourcing.local.model"]
    assert all(not g.startswith("acme_eventsourcing.testing._") for m in local_readers for g in graph[m])  # no private policy module
