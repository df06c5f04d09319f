"""The local stack itself: what it creates, how functions are isolated, and a clean stop."""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from acme_eventsourcing.local.model import T_TABLE
from acme_eventsourcing.testing import RecordedStack

from local import LocalStack, LocalStackError


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return []


@pytest.fixture(scope="module")
def stack(dev_program: RecordedStack, stack_factory: Callable[..., LocalStack], lines: list[str]) -> Any:
    local = stack_factory(dev_program, log=lines.append)
    yield local
    local.stop()


def test_creates_the_declared_tables_on_moto_with_their_keys_and_stream(stack: LocalStack, dev_program: RecordedStack) -> None:
    ddb = stack.clients("dynamodb")  # type: ignore[misc]
    for declared in dev_program.of_type(T_TABLE):
        table = ddb.describe_table(TableName=declared.state["name"])["Table"]
        keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
        assert keys == {"HASH": declared.inputs["hashKey"], "RANGE": declared.inputs["rangeKey"]}
        assert bool(table.get("StreamSpecification", {}).get("StreamEnabled")) == bool(declared.inputs.get("streamEnabled"))


def test_rules_on_moto_carry_the_declared_patterns(stack: LocalStack) -> None:
    events = stack.clients("events")  # type: ignore[misc]
    assert stack.model is not None
    for rule in stack.model.rules:
        assert events.describe_rule(Name=rule.name, EventBusName=rule.bus_name)["EventPattern"] == rule.event_pattern


def test_start_up_lists_what_is_not_emulated(stack: LocalStack, lines: list[str]) -> None:
    banner = "\n".join(lines)
    for expected in ("IAM is not enforced locally", "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cognito/userPool:UserPool", "X-Ray"):
        assert expected in banner
    assert "aws:schemas/schema:Schema" in banner and "GET /asyncapi.json serves the same schemas" in banner


def test_serves_the_asyncapi_document_without_a_token(stack: LocalStack) -> None:
    from leave_api.asyncapi import document

    with urllib.request.urlopen(stack.api_url + "/asyncapi.json", timeout=10) as response:
        served = json.loads(response.read())
    assert {k: v for k, v in served.items() if k != "servers"} == {k: v for k, v in document().items() if k != "servers"}
    assert served["servers"]["eventbridge"]["host"] == f"events.{stack.region}.amazonaws.com"  # the functions' AWS_REGION


def test_each_function_has_its_own_modules_and_environment(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    balance, audit = stack.function("balance-projector"), stack.function("audit-projector")
    core = "acme_eventsourcing.runtime.projections.core"  # the projector runtime each zip ships
    assert balance.modules[core] is not audit.modules[core]
    assert core not in sys.modules or sys.modules[core] not in (balance.modules[core], audit.modules[core])
    for fn in (balance, audit):
        monkeypatch.setattr(fn.module, "handler", lambda event, context: os.environ["READ_MODEL_TABLE"])
    assert stack.runtime is not None
    seen = {name: stack.runtime.invoke(fn.decl.logical, {}, "test").result for name, fn in (("balance", balance), ("audit", audit))}
    assert seen == {"balance": balance.environment["READ_MODEL_TABLE"], "audit": audit.environment["READ_MODEL_TABLE"]}
    assert seen["balance"] != seen["audit"]
    assert "READ_MODEL_TABLE" not in os.environ


def test_a_function_cannot_import_a_package_it_does_not_ship(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    queries = stack.function("queries")
    monkeypatch.setattr(
        queries.module, "handler", lambda event, context: importlib.import_module("acme_eventsourcing.runtime.eventstore").__name__
    )
    assert stack.runtime is not None
    outcome = stack.runtime.invoke(queries.decl.logical, {}, "test")
    assert (outcome.ok, outcome.error_type) == (False, "ModuleNotFoundError")
    commands = stack.function("commands")
    monkeypatch.setattr(
        commands.module, "handler", lambda event, context: importlib.import_module("acme_eventsourcing.runtime.eventstore").__name__
    )
    assert stack.runtime.invoke(commands.decl.logical, {}, "test").result == "acme_eventsourcing.runtime.eventstore"


def test_only_one_local_stack_runs_per_process(stack: LocalStack, dev_program: RecordedStack) -> None:
    with pytest.raises(LocalStackError, match="already running"):
        LocalStack(recorded_stack=dev_program, port=0, log=None).start()


def test_stop_ends_every_thread_and_restores_the_process(
    dev_program: RecordedStack, stack_factory: Callable[..., LocalStack], stack: LocalStack
) -> None:
    stack.stop()  # the module's stack; the ones below start and stop on their own
    before_meta_path = list(sys.meta_path)
    local = stack_factory(dev_program)
    url = local.api_url
    local.stop()
    alive = [t.name for t in threading.enumerate() if t.name.split(":")[0] in {"stream", "target", "async", "http"}]
    assert alive == []
    assert sys.meta_path == before_meta_path and "AWS_ENDPOINT_URL" not in os.environ
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/openapi.json", timeout=2)
