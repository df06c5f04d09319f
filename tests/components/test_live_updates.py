"""LiveUpdates under mocks: the WebSocket API, its authorizer and routes, the connections table,
the notifier's rule and least-privilege roles, alarms; and a service's live projections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from acme_eventsourcing import (
    ApiSpec,
    EventBusRef,
    EventSourcedService,
    EventSourcedServiceArgs,
    FunctionSpec,
    LiveUpdates,
    LiveUpdatesArgs,
    LiveUpdatesSpec,
    ProjectionSpec,
    ServiceDefaults,
    TableRef,
)
from acme_eventsourcing.testing import RecordedStack, record
from acme_eventsourcing.testing.policy import check_stack

BUS = EventBusRef(bus_name="platform", bus_arn="arn:aws:events:us-east-1:111122223333:event-bus/platform")
PENDING = TableRef(table_name="leave-pending", table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/leave-pending")
STANDBY = TableRef(table_name="leave-pending-standby", table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/leave-pending-standby")
AUDIT = TableRef(table_name="leave-audit", table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/leave-audit")
ISSUER = "https://issuer.example"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


@pytest.fixture(scope="module")
def code_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lambdas")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "handlers.py").write_text("def handler(event, context):\n    return {}\n")
    return root


def fn(code_root: Path) -> FunctionSpec:
    return FunctionSpec(handler="app.handlers.handler", code_root=str(code_root), packages=("app",))


def statements(stack: RecordedStack, function: str) -> dict[str, dict[str, Any]]:
    doc = json.loads(stack.one(ROLE_POLICY, f"{function}-policy").inputs["policy"])
    return {s["Sid"]: s for s in doc["Statement"]}


def data_statements(stack: RecordedStack, function: str) -> dict[str, dict[str, Any]]:
    """The statements besides logs, X-Ray, KMS and the DLQ (what the function may touch)."""
    own = {"WriteOwnLogs", "UnscopedXRayTraces", "UseServiceKey", "UseKey", "SendFailedEventsToQueue"}
    return {sid: s for sid, s in statements(stack, function).items() if sid not in own and not sid.startswith("UseKms")}


@pytest.fixture(scope="module")
def stack(code_root: Path) -> RecordedStack:
    return record(
        lambda: LiveUpdates(
            "leave-live",
            LiveUpdatesArgs(
                source="acme.leave",
                bus=BUS,
                jwt_issuer=ISSUER,
                audiences=["client-a", "client-b"],
                identity_claim="custom:employee_id",
                spec=LiveUpdatesSpec(authorizer=fn(code_root), read_models=("pending",), throttling_burst_limit=20),
                read_models={"pending": PENDING, "audit": AUDIT},
                read_model_standbys={"pending": STANDBY},
                defaults=ServiceDefaults(tags={"team": "leave"}),
            ),
        )
    )


def test_a_websocket_api_whose_connect_is_authorised_by_the_token_in_the_query_string(stack: RecordedStack) -> None:
    api = stack.one("aws:apigatewayv2/api:Api", "leave-live-api")
    assert api.inputs["protocolType"] == "WEBSOCKET" and api.inputs["routeSelectionExpression"] == "$request.body.action"
    authorizer = stack.one("aws:apigatewayv2/authorizer:Authorizer", "leave-live-api-authorizer")
    assert authorizer.inputs["authorizerType"] == "REQUEST"
    assert authorizer.inputs["identitySources"] == ["route.request.querystring.token"]
    assert stack.one("aws:lambda/function:Function", "leave-live-authorizer").state["arn"] in authorizer.inputs["authorizerUri"]
    routes = {r.inputs["routeKey"]: r.inputs for r in stack.of_type("aws:apigatewayv2/route:Route")}
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    assert routes["$connect"]["authorizationType"] == "CUSTOM" and routes["$connect"]["authorizerId"] == authorizer.id
    assert routes["$default"]["routeResponseSelectionExpression"] == "$default"
    (response,) = stack.of_type("aws:apigatewayv2/routeResponse:RouteResponse")
    assert response.inputs["routeResponseKey"] == "$default"
    permission = stack.one("aws:lambda/permission:Permission", "leave-live-authorizer-invoke")
    assert permission.inputs["sourceArn"] == f"{api.state['executionArn']}/authorizers/{authorizer.id}"


def test_the_stage_is_throttled_and_access_logged(stack: RecordedStack) -> None:
    stage = stack.one("aws:apigatewayv2/stage:Stage", "leave-live-api-stage")
    assert stage.inputs["name"] == "live"
    assert stage.inputs["defaultRouteSettings"]["throttlingBurstLimit"] == 20
    fmt = json.loads(stage.inputs["accessLogSettings"]["format"])
    assert fmt["connectionId"] == "$context.connectionId" and fmt["eventType"] == "$context.eventType"
    logs = stack.one("aws:cloudwatch/logGroup:LogGroup", "leave-live-api-access-logs")
    assert stage.inputs["accessLogSettings"]["destinationArn"] == logs.state["arn"]


def test_the_connections_table_expires_items_and_is_encrypted_with_the_key(stack: RecordedStack) -> None:
    table = stack.one("aws:dynamodb/table:Table", "leave-live-connections")
    assert table.inputs["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert table.inputs["serverSideEncryption"]["kmsKeyArn"] == stack.one("aws:kms/key:Key", "leave-live-key").state["arn"]
    assert table.inputs["tags"] == {"team": "leave"}


def test_each_function_gets_only_its_own_data_access(stack: RecordedStack) -> None:
    table = stack.one("aws:dynamodb/table:Table", "leave-live-connections").state["arn"]
    api = stack.one("aws:apigatewayv2/api:Api", "leave-live-api").state["executionArn"]
    assert {sid: (s["Action"], s["Resource"]) for sid, s in data_statements(stack, "leave-live-connect").items()} == {
        "RecordConnections": (["dynamodb:PutItem"], [table])
    }
    assert {sid: (s["Action"], s["Resource"]) for sid, s in data_statements(stack, "leave-live-disconnect").items()} == {
        "ForgetConnections": (["dynamodb:GetItem", "dynamodb:DeleteItem"], [table])
    }
    assert {sid: (s["Action"], s["Resource"]) for sid, s in data_statements(stack, "leave-live-notifier").items()} == {
        "FindAndForgetConnections": (["dynamodb:Query", "dynamodb:DeleteItem"], [table]),
        "PostToThisApisConnections": (["execute-api:ManageConnections"], [f"{api}/live/POST/@connections/*"]),
    }
    # the authorizer: read the named read model (and its standby) to compute topics, nothing else
    assert {sid: (s["Action"], s["Resource"]) for sid, s in data_statements(stack, "leave-live-authorizer").items()} == {
        "ReadReadModelsForTopics": (["dynamodb:GetItem", "dynamodb:Query"], [PENDING.table_arn, STANDBY.table_arn])
    }


def test_the_functions_environments(stack: RecordedStack) -> None:
    def env(name: str) -> dict[str, str]:
        return stack.one("aws:lambda/function:Function", name).inputs["environment"]["variables"]

    table = stack.one("aws:dynamodb/table:Table", "leave-live-connections").state["name"]
    api = stack.one("aws:apigatewayv2/api:Api", "leave-live-api")
    assert env("leave-live-authorizer") == {
        "SERVICE_SOURCE": "acme.leave",
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCES": "client-a,client-b",
        "IDENTITY_CLAIM": "custom:employee_id",
        "READ_MODEL_TABLE_PENDING": "leave-pending",
    }
    assert env("leave-live-connect") == {"CONNECTIONS_TABLE": table}
    host = api.state["apiEndpoint"].split("://", 1)[1]
    assert env("leave-live-notifier") == {
        "SERVICE_SOURCE": "acme.leave",
        "CONNECTIONS_TABLE": table,
        "CONNECTIONS_ENDPOINT": f"https://{host}/live",
    }
    handlers = {
        f: stack.one("aws:lambda/function:Function", f"leave-live-{f}").inputs["handler"] for f in ("connect", "disconnect", "notifier")
    }
    assert handlers == {
        "connect": "acme_eventsourcing.runtime.live.connect_handler",
        "disconnect": "acme_eventsourcing.runtime.live.disconnect_handler",
        "notifier": "acme_eventsourcing.runtime.live.notifier_handler",
    }


def test_the_notifier_follows_the_change_notices_with_retries_a_dlq_and_alarms(stack: RecordedStack) -> None:
    rule = stack.one("aws:cloudwatch/eventRule:EventRule", "leave-live-rule")
    assert json.loads(rule.inputs["eventPattern"]) == {"source": ["acme.leave.live"], "detail-type": ["ReadModelChanged"]}
    assert rule.inputs["eventBusName"] == "platform"
    target = stack.one("aws:cloudwatch/eventTarget:EventTarget", "leave-live-target")
    assert target.inputs["deadLetterConfig"]["arn"] == stack.one("aws:sqs/queue:Queue", "leave-live-dlq").state["arn"]
    assert target.inputs["retryPolicy"]["maximumRetryAttempts"] == 10
    alarms = {a.name: a.inputs for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert alarms["leave-live-notifier-throttles"]["metricName"] == "Throttles"
    assert alarms["leave-live-dlq-depth"]["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert {f"leave-live-{f}-errors" for f in ("authorizer", "connect", "disconnect", "notifier")} <= set(alarms)


def test_the_component_alone_passes_every_policy_rule(stack: RecordedStack) -> None:
    report = check_stack(stack)
    assert report.ok, report.summary()
    assert {r.rule.id: r.checked for r in report.results if r.rule.id.startswith("WSK")} == {
        "WSK001": 1,
        "WSK002": 1,
        "WSK003": report_documents(stack),
        "WSK004": 1,
    }


def report_documents(stack: RecordedStack) -> int:
    from acme_eventsourcing.testing.policy import StackView

    return len(StackView.of(stack).identity_documents)


def test_bad_specs_are_refused_naming_the_problem(code_root: Path) -> None:
    def args(**spec: Any) -> LiveUpdatesArgs:
        return LiveUpdatesArgs(
            source="acme.leave",
            bus=BUS,
            jwt_issuer=ISSUER,
            audiences=["a"],
            identity_claim="sub",
            spec=LiveUpdatesSpec(authorizer=fn(code_root), **spec),
        )

    with pytest.raises(ValueError, match="stage_name"):
        args(stage_name="$default").validate()
    with pytest.raises(ValueError, match="throttling"):
        args(throttling_rate_limit=0).validate()
    with pytest.raises(ValueError, match=r"\['pending'\]"):
        args(read_models=("pending",)).validate()
    with pytest.raises(ValueError, match="audiences"):
        LiveUpdatesArgs(source="acme.leave", bus=BUS, jwt_issuer=ISSUER, audiences=[], identity_claim="sub", spec=args().spec).validate()


# --------------------------------------------------------------------------- in a service
def service_args(code_root: Path, *, live: bool = True, live_projection: bool = True, **overrides: Any) -> EventSourcedServiceArgs:
    f = fn(code_root)
    return EventSourcedServiceArgs(
        source="acme.leave",
        bus=BUS,
        api=ApiSpec(commands=f, queries=f, command_routes=["POST /things"], query_routes=["GET /things"]),
        projections=[
            ProjectionSpec(name="pending", function=f, detail_types=["LeaveRequested"], live=live_projection),
            ProjectionSpec(name="audit", function=f, detail_types=["LeaveRequested"]),
        ],
        live=LiveUpdatesSpec(authorizer=f, read_models=("pending",)) if live else None,
        **overrides,
    )


@pytest.fixture(scope="module")
def service(code_root: Path) -> RecordedStack:
    return record(lambda: EventSourcedService("leave", service_args(code_root)))


def test_a_live_projection_may_put_only_its_change_notices_on_the_bus(service: RecordedStack) -> None:
    put = statements(service, "leave-pending-projector")["PutChangeNoticesOnly"]
    assert put["Action"] == ["events:PutEvents"] and put["Resource"] == [BUS.bus_arn]
    assert put["Condition"] == {"StringEquals": {"events:source": ["acme.leave.live"]}}
    env = service.one("aws:lambda/function:Function", "leave-pending-projector").inputs["environment"]["variables"]
    assert env["LIVE_EVENT_BUS"] == "platform"
    assert "PutChangeNoticesOnly" not in statements(service, "leave-audit-projector")
    assert "LIVE_EVENT_BUS" not in service.one("aws:lambda/function:Function", "leave-audit-projector").inputs["environment"]["variables"]


def test_the_service_wires_the_live_updates_to_its_api_issuer_and_audiences(service: RecordedStack) -> None:
    env = service.one("aws:lambda/function:Function", "leave-live-authorizer").inputs["environment"]["variables"]
    pool = service.one("aws:cognito/userPool:UserPool", "leave-users").state["endpoint"]
    client = service.one("aws:cognito/userPoolClient:UserPoolClient", "leave-users-client").id
    assert env["JWT_ISSUER"] == f"https://{pool}" and env["JWT_AUDIENCES"] == client
    assert env["IDENTITY_CLAIM"] == "custom:employee_id"
    assert env["READ_MODEL_TABLE_PENDING"] == service.one("aws:dynamodb/table:Table", "leave-pending").state["name"]
    # one key for the whole service: its policy lets CloudWatch Logs use it for the WebSocket access logs too
    (key,) = service.of_type("aws:kms/key:Key")
    logs = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}["CloudWatchLogsEncryptsOwnLogGroups"]
    prefixes = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert any("/aws/vendedlogs/apigateway/leave-live-api-" in p for p in prefixes)
    table = service.one("aws:dynamodb/table:Table", "leave-live-connections")
    assert table.inputs["serverSideEncryption"]["kmsKeyArn"] == key.state["arn"]
    report = check_stack(service)
    assert report.ok, report.summary()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"live": False}, "declared live but the service has no live"),
        ({"live_projection": False}, "no projection is declared live"),
    ],
)
def test_live_settings_must_agree(code_root: Path, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        service_args(code_root, **overrides).validate()


def test_live_updates_need_the_api_and_known_read_models(code_root: Path) -> None:
    f = fn(code_root)
    with pytest.raises(ValueError, match="give api or drop live"):
        _validate_without_api(f)
    args = service_args(code_root)
    bad = EventSourcedServiceArgs(**{**args.__dict__, "live": LiveUpdatesSpec(authorizer=f, read_models=("nope",))})
    with pytest.raises(ValueError, match=r"live.read_models \['nope'\]"):
        bad.validate()


def _validate_without_api(f: FunctionSpec) -> None:
    from acme_eventsourcing import SubscriptionSpec

    EventSourcedServiceArgs(
        source="acme.x",
        bus=BUS,
        subscriptions=[SubscriptionSpec(name="s", function=f, sources=["acme.y"], detail_types=["X"])],
        live=LiveUpdatesSpec(authorizer=f),
    ).validate()
