"""The orders stack under Pulumi's mocks: what it declares, and the platform's policy rules."""

from __future__ import annotations

import json

import pytest
from acme_eventsourcing.testing import run_program
from acme_eventsourcing.testing.policy import check_stack, check_system
from acme_eventsourcing.testing.pulumi_project import check_project_dir
from conftest import PROJECT

PLATFORM = {"acme/platform/prod": {"bus_name": "platform", "bus_arn": "arn:aws:events:us-east-1:123456789012:event-bus/platform"}}


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request):
    return run_program(PROJECT / "__main__.py", request.param, stack_references=PLATFORM)


def test_prod_uses_the_platform_bus_and_creates_none():
    prod = run_program(PROJECT / "__main__.py", "prod", stack_references=PLATFORM)
    assert prod.of_type("aws:cloudwatch/eventBus:EventBus") == []
    rules = prod.of_type("aws:cloudwatch/eventRule:EventRule")
    assert rules and {r.inputs["eventBusName"] for r in rules} == {"platform"}


def test_the_stack_passes_every_policy_rule(stack):
    report = check_stack(stack)
    assert report.ok, report.render()


def test_the_stack_passes_the_whole_system_rules(stack):
    """Stream readers, their bounds and every failure path; the platform's bus is only read."""
    report = check_system([stack])
    assert report.ok, report.render()


def test_project_and_stack_files_are_valid():
    assert check_project_dir(PROJECT) == []


def test_the_projection_rule_matches_exactly_the_events_the_domain_appends(stack):
    from orders import domain

    rule = stack.one("aws:cloudwatch/eventRule:EventRule", "orders-orders-rule")
    assert json.loads(rule.inputs["eventPattern"]) == {"source": ["acme.orders"], "detail-type": list(domain.EVENT_TYPES)}


def test_the_subscription_listens_to_approved_leave_on_the_shared_bus(stack):
    rule = stack.one("aws:cloudwatch/eventRule:EventRule", "orders-leave-rule")
    assert json.loads(rule.inputs["eventPattern"]) == {"source": ["acme.leave"], "detail-type": ["LeaveApproved"]}


def test_every_route_the_code_serves_is_declared_and_only_the_openapi_document_is_public(stack):
    from orders_api.api import ROUTES

    routes = {r.inputs["routeKey"]: r.inputs.get("authorizationType") for r in stack.of_type("aws:apigatewayv2/route:Route")}
    assert set(routes) == {r.key for r in ROUTES}
    assert {key for key, auth in routes.items() if auth != "JWT"} == {"GET /openapi.json"}
