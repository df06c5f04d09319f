"""The WebSocket rules (WSK001-WSK004) against raw pulumi_aws resources: a correct WebSocket API
passes, and each way to break a rule is reported once, on the broken resource, saying why."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest
from acme_eventsourcing.testing import RecordedStack
from acme_eventsourcing.testing.policy import (
    ConnectAuthorized,
    ConnectionsTablesExpireAndEncrypt,
    ManageConnectionsScoped,
    RoutesAuthorized,
    WebSocketStagesLoggedAndThrottled,
)
from test_policy_rules import ARN, KEY_ARN, allow, found, function, message, plain_table, role, stack_of

LOGS = {
    "destination_arn": f"arn:aws:logs:{ARN}:log-group:ws",
    "format": json.dumps({"c": "$context.connectionId", "e": "$context.eventType", "r": "$context.routeKey", "s": "$context.status"}),
}
THROTTLED = {"throttling_burst_limit": 50, "throttling_rate_limit": 20}
FN = f"arn:aws:lambda:{ARN}:function:authorize"
INVOKE = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN}/invocations"


def websocket(name: str, *, connect: dict | None = None, authorizer: dict | None = None, stage: dict | None = None) -> None:
    """A WebSocket API with $connect (authorised unless `connect` says otherwise), $disconnect and a stage."""
    api = aws.apigatewayv2.Api(name, protocol_type="WEBSOCKET", route_selection_expression="$request.body.action")
    auth = aws.apigatewayv2.Authorizer(
        f"{name}-auth",
        api_id=api.id,
        authorizer_type="REQUEST",
        authorizer_uri=INVOKE,
        **(authorizer if authorizer is not None else {"identity_sources": ["route.request.querystring.token"]}),
    )
    settings = connect if connect is not None else {"authorization_type": "CUSTOM", "authorizer_id": auth.id}
    if connect != {"absent": True}:
        aws.apigatewayv2.Route(f"{name}-connect", api_id=api.id, route_key="$connect", **settings)
    aws.apigatewayv2.Route(f"{name}-disconnect", api_id=api.id, route_key="$disconnect")  # never authorised: not a violation
    aws.apigatewayv2.Route(f"{name}-default", api_id=api.id, route_key="$default")
    if stage != {"absent": True}:
        aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=api.id,
            name="live",
            **(stage if stage is not None else {"default_route_settings": THROTTLED, "access_log_settings": LOGS}),
        )


@pytest.fixture(scope="module")
def ws_stack() -> RecordedStack:
    def program() -> None:
        websocket("good")
        websocket("open", connect={"authorization_type": "NONE"})
        websocket("no-connect", connect={"absent": True})
        websocket("no-sources", authorizer={})
        websocket("unthrottled", stage={"access_log_settings": LOGS, "default_route_settings": {"detailed_metrics_enabled": True}})
        websocket("unlogged", stage={"default_route_settings": THROTTLED})
        websocket(
            "thin-log",
            stage={"default_route_settings": THROTTLED, "access_log_settings": {**LOGS, "format": '{"r": "$context.requestId"}'}},
        )
        websocket("no-stage", stage={"absent": True})
        # ManageConnections: one API's stage passes; wildcards fail
        api = f"arn:aws:execute-api:{ARN}:abc123"
        role("scoped", allow("execute-api:ManageConnections", f"{api}/live/POST/@connections/*"))
        role("star", allow("execute-api:ManageConnections", "*"))
        role("any-stage", allow("execute-api:ManageConnections", f"{api}/*/POST/@connections/*"))
        role("any-api", allow("execute-api:*", f"arn:aws:execute-api:{ARN}:*"))
        role("invoke-only", allow("execute-api:Invoke", f"{api}/live/$connect"))  # not ManageConnections: not this rule's
        function("notifier")
        # connections tables (a function's CONNECTIONS_TABLE) need TTL and a customer key
        sse = {"enabled": True, "kms_key_arn": KEY_ARN}
        ttl = {"attribute_name": "expires_at", "enabled": True}
        tables = {
            "connections": plain_table("connections", ttl=ttl, server_side_encryption=sse),
            "no-ttl": plain_table("no-ttl", server_side_encryption=sse),
            "ttl-off": plain_table("ttl-off", ttl={**ttl, "enabled": False}, server_side_encryption=sse),
            "aws-key": plain_table("aws-key", ttl=ttl, server_side_encryption={"enabled": True}),
        }
        for name, table in tables.items():
            function(f"{name}-fn", environment={"variables": {"CONNECTIONS_TABLE": table.name}})
        function("again-fn", environment={"variables": {"CONNECTIONS_TABLE": tables["no-ttl"].name}})  # reported once
        plain_table("untagged")  # no function names it: not a connections table
        function("other-fn", environment={"variables": {"READ_MODEL_TABLE": "untagged"}})

    return stack_of(program)


def test_wsk001_reports_open_or_unauthorised_connects(ws_stack: RecordedStack) -> None:
    assert found(ConnectAuthorized(), ws_stack) == [("WSK001", "no-connect"), ("WSK001", "no-sources-auth"), ("WSK001", "open-connect")]
    assert message(ConnectAuthorized(), ws_stack, "open-connect") == "$connect has authorization_type 'NONE': anyone may connect"
    assert "identity_sources" in message(ConnectAuthorized(), ws_stack, "no-sources-auth")


def test_api001_leaves_websocket_routes_other_than_connect_to_wsk001(ws_stack: RecordedStack) -> None:
    reported = found(RoutesAuthorized(), ws_stack)
    assert ("API001", "open-connect") in reported
    assert not [name for _rule, name in reported if name.endswith(("-disconnect", "-default"))]


def test_wsk002_reports_stages_without_throttling_or_a_connection_log_and_apis_without_a_stage(ws_stack: RecordedStack) -> None:
    assert found(WebSocketStagesLoggedAndThrottled(), ws_stack) == [
        ("WSK002", "no-stage"),
        ("WSK002", "thin-log-stage"),
        ("WSK002", "unlogged-stage"),
        ("WSK002", "unthrottled-stage"),
    ]
    assert "$context.connectionId" in message(WebSocketStagesLoggedAndThrottled(), ws_stack, "thin-log-stage")


def test_wsk003_reports_manage_connections_on_wildcards(ws_stack: RecordedStack) -> None:
    assert found(ManageConnectionsScoped(), ws_stack) == [
        ("WSK003", "any-api-policy"),
        ("WSK003", "any-stage-policy"),
        ("WSK003", "star-policy"),
    ]
    assert "not on one API's stage @connections" in message(ManageConnectionsScoped(), ws_stack, "star-policy")


def test_wsk004_reports_connections_tables_without_ttl_or_customer_key(ws_stack: RecordedStack) -> None:
    assert found(ConnectionsTablesExpireAndEncrypt(), ws_stack) == [("WSK004", "aws-key"), ("WSK004", "no-ttl"), ("WSK004", "ttl-off")]
    assert message(ConnectionsTablesExpireAndEncrypt(), ws_stack, "aws-key") == (
        "connections table is not encrypted with a customer-managed KMS key"
    )
