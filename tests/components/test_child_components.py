"""The child components of EventSourcedService, each used alone, and the create-or-use Refs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from acme_eventsourcing import (
    ApiSpec,
    EventBusRef,
    EventPublisher,
    EventPublisherArgs,
    FunctionSpec,
    HttpApi,
    HttpApiArgs,
    JwtIssuerRef,
    KmsKeyRef,
    Projection,
    ProjectionArgs,
    PublisherSpec,
    ServiceDefaults,
    Subscription,
    SubscriptionArgs,
    TableRef,
)
from acme_eventsourcing.testing import RecordedStack, record
from acme_eventsourcing.testing.policy import check_stack

KEY = "aws:kms/key:Key"
BUS = EventBusRef(bus_name="platform", bus_arn="arn:aws:events:us-east-1:111122223333:event-bus/platform")
EVENTS = TableRef(
    table_name="leave-events",
    table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/leave-events",
    stream_arn="arn:aws:dynamodb:us-east-1:123456789012:table/leave-events/stream/1",
)
EXISTING_KEY = "arn:aws:kms:us-east-1:123456789012:key/existing"
TAGS = {"team": "reports"}


@pytest.fixture(scope="module")
def code_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lambdas")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "handlers.py").write_text("def handler(event, context):\n    return {}\n")
    return root


def fn(code_root: Path) -> FunctionSpec:
    return FunctionSpec(handler="app.handlers.handler", code_root=str(code_root), packages=("app",))


def _policy(stack: RecordedStack, role_name: str) -> dict[str, Any]:
    doc = json.loads(stack.one("aws:iam/rolePolicy:RolePolicy", role_name).inputs["policy"])
    return {s["Sid"]: s for s in doc["Statement"]}


def test_a_projection_alone_creates_its_own_key_and_needs_no_service(code_root: Path) -> None:
    stack = record(
        lambda: Projection(
            "reports-leave",
            ProjectionArgs(
                source="acme.leave",
                bus=BUS,
                events_table=EVENTS,
                function=fn(code_root),
                detail_types=("LeaveApproved",),
                defaults=ServiceDefaults(tags=TAGS, log_retention_days=14),
            ),
        )
    )
    (key,) = stack.of_type(KEY)
    assert key.name == "reports-leave-key" and key.inputs["tags"] == TAGS
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["EventBridgeSendsToDeadLetterQueues"]["Condition"] == {
        "ArnLike": {"aws:SourceArn": ["arn:aws:events:us-east-1:111122223333:rule/platform/reports-leave-*"]}
    }
    assert statements["CloudWatchLogsEncryptsOwnLogGroups"]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == [
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/reports-leave-*"
    ]
    table = stack.one("aws:dynamodb/table:Table", "reports-leave")
    assert table.inputs["serverSideEncryption"]["kmsKeyArn"] == key.state["arn"] and table.options["protect"]
    rule = stack.one("aws:cloudwatch/eventRule:EventRule", "reports-leave-rule")
    assert json.loads(rule.inputs["eventPattern"]) == {"source": ["acme.leave"], "detail-type": ["LeaveApproved"]}
    assert rule.inputs["eventBusName"] == "platform"
    projector = stack.one("aws:lambda/function:Function", "reports-leave-projector")
    assert projector.inputs["environment"]["variables"]["EVENTS_TABLE"] == "leave-events"
    assert _policy(stack, "reports-leave-projector-policy")["ReadEventStore"]["Resource"] == [EVENTS.table_arn]
    assert stack.one("aws:cloudwatch/logGroup:LogGroup", "reports-leave-projector-logs").inputs["retentionInDays"] == 14
    # built alone, nothing claims an earlier identity; and it passes the policy rules on its own
    assert all(not r.options.get("aliases") for r in stack.resources)
    assert check_stack(stack).ok, check_stack(stack).render()


def test_a_subscription_reads_its_bus_from_another_stack(code_root: Path) -> None:
    refs = {"acme/platform/prod": {"bus_name": "platform-bus", "bus_arn": "arn:aws:events:us-east-1:210987654321:event-bus/platform-bus"}}
    stack = record(
        lambda: Subscription(
            "audit-leave",
            SubscriptionArgs(
                source="acme.audit",
                bus=EventBusRef(stack="acme/platform/prod"),
                function=fn(code_root),
                sources=("acme.leave",),
                detail_types=("LeaveRequested",),
                defaults=ServiceDefaults(kms_key=KmsKeyRef(key_arn=EXISTING_KEY)),
            ),
        ),
        stack_references=refs,
    )
    reference = stack.one("pulumi:pulumi:StackReference", "audit-leave-bus-stack")
    assert reference.parent_urn == stack.one("acme:events:Subscription", "audit-leave").urn
    assert stack.one("aws:cloudwatch/eventRule:EventRule", "audit-leave-rule").inputs["eventBusName"] == "platform-bus"
    assert stack.of_type(KEY) == []
    assert stack.one("aws:sqs/queue:Queue", "audit-leave-dlq").inputs["kmsMasterKeyId"] == EXISTING_KEY
    assert _policy(stack, "audit-leave-subscriber-policy")["UseServiceKey"]["Resource"] == [EXISTING_KEY]
    # its checkpoints: a retained table under the same key, the only data the subscriber may touch
    table = stack.one("aws:dynamodb/table:Table", "audit-leave-checkpoints")
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": EXISTING_KEY}
    assert table.options["protect"] is True and table.inputs["ttl"] == {"attributeName": "expires_at", "enabled": True}
    statement = _policy(stack, "audit-leave-subscriber-policy")["RecordCheckpoints"]
    assert (statement["Action"], statement["Resource"]) == (["dynamodb:GetItem", "dynamodb:UpdateItem"], [table.state["arn"]])
    env = stack.one("aws:lambda/function:Function", "audit-leave-subscriber").inputs["environment"]["variables"]
    assert env["CHECKPOINT_TABLE"] == table.state["name"]
    assert check_stack(stack).ok, check_stack(stack).render()


def test_a_pipe_publisher_alone_on_an_existing_table(code_root: Path) -> None:
    stack = record(
        lambda: EventPublisher(
            "leave-publisher",
            EventPublisherArgs(
                source="acme.leave",
                bus=EventBusRef.from_arn(BUS.bus_arn),  # the name is read from the ARN
                events_table=EVENTS,
                publisher=PublisherSpec(kind="pipe"),
                defaults=ServiceDefaults(aws_managed_keys=True, tags=TAGS),
            ),
        )
    )
    pipe = stack.one("aws:pipes/pipe:Pipe", "leave-publisher")
    assert pipe.inputs["source"] == EVENTS.stream_arn and pipe.inputs["target"] == BUS.bus_arn and pipe.inputs["tags"] == TAGS
    assert stack.of_type(KEY) == [] and stack.one("aws:sqs/queue:Queue", "leave-publisher-dlq").inputs["sqsManagedSseEnabled"] is True
    assert stack.one("aws:cloudwatch/metricAlarm:MetricAlarm", "leave-publisher-failed").inputs["tags"] == TAGS
    assert _policy(stack, "leave-publisher-policy")["PutEventsOwnSourceOnly"]["Condition"] == {
        "StringEquals": {"events:source": ["acme.leave"]}
    }


def test_an_api_alone_on_an_existing_issuer_and_tables(code_root: Path) -> None:
    spec = ApiSpec(
        commands=fn(code_root),
        queries=fn(code_root),
        command_routes=("POST /things",),
        query_routes=("GET /things",),
        jwt=JwtIssuerRef(issuer="https://issuer.example", audiences=("client",)),
    )
    reports = TableRef(table_name="reports", table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/reports")
    stack = record(
        lambda: HttpApi("orders", HttpApiArgs(source="acme.orders", api=spec, events_table=EVENTS, read_models={"reports": reports}))
    )
    assert stack.of_type("aws:cognito/userPool:UserPool") == []
    authorizer = stack.one("aws:apigatewayv2/authorizer:Authorizer", "orders-api-jwt")
    assert authorizer.inputs["jwtConfiguration"] == {"issuer": "https://issuer.example", "audiences": ["client"]}
    queries = stack.one("aws:lambda/function:Function", "orders-queries").inputs["environment"]["variables"]
    assert queries["READ_MODEL_TABLE_REPORTS"] == "reports" and queries["SERVICE_SOURCE"] == "acme.orders"
    assert _policy(stack, "orders-queries-policy")["ReadReadModels"]["Resource"] == [reports.table_arn]
    assert _policy(stack, "orders-commands-policy")["AppendToEventStore"]["Resource"] == [EVENTS.table_arn]
    (key,) = stack.of_type(KEY)  # alone, its own key, for its functions and access logs
    assert key.name == "orders-key"
    assert check_stack(stack).ok, check_stack(stack).render()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ServiceDefaults(log_retention_days=42), "retention value"),
        (lambda: ServiceDefaults(kms_key=KmsKeyRef(key_arn=EXISTING_KEY), aws_managed_keys=True), "not both"),
        (lambda: ServiceDefaults(kms_key=KmsKeyRef()), "needs key_arn"),
        (lambda: ServiceDefaults(architecture="sparc"), "arm64 or x86_64"),
        (lambda: ServiceDefaults(runtime="nodejs20.x"), "not a Python runtime"),
    ],
)
def test_invalid_defaults_raise(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build().validate()


def test_a_publisher_needs_the_stream(code_root: Path) -> None:
    no_stream = TableRef(table_name="t", table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/t")
    with pytest.raises(ValueError, match="stream_arn"):
        EventPublisherArgs(source="acme.leave", bus=BUS, events_table=no_stream).validate()


def test_event_bus_ref_of_takes_a_ref_or_a_bus_like_object() -> None:
    assert EventBusRef.of(BUS) is BUS

    class Wrapped:
        bus_name = "b"
        bus_arn = "arn:aws:events:us-east-1:1:event-bus/b"

    assert EventBusRef.of(Wrapped()) == EventBusRef(bus_name="b", bus_arn="arn:aws:events:us-east-1:1:event-bus/b")
    with pytest.raises(TypeError, match="EventBusRef or a SharedEventBus"):
        EventBusRef.of("platform")


def test_a_blue_green_projection_has_a_standby_table_its_projector_and_the_queries_may_use(code_root: Path) -> None:
    def program() -> None:
        projection = Projection(
            "reports-leave",
            ProjectionArgs(
                source="acme.leave", bus=BUS, events_table=EVENTS, function=fn(code_root), detail_types=("LeaveApproved",), blue_green=True
            ),
        )
        spec = ApiSpec(
            commands=fn(code_root),
            queries=fn(code_root),
            command_routes=("POST /things",),
            query_routes=("GET /things",),
            jwt=JwtIssuerRef(issuer="https://issuer.example", audiences=("client",)),
        )
        assert projection.standby_table is not None
        HttpApi(
            "reports",
            HttpApiArgs(
                source="acme.reports",
                api=spec,
                events_table=EVENTS,
                read_models={"leave": projection.table.ref},
                read_model_standbys={"leave": projection.standby_table.ref},
            ),
        )

    stack = record(program)
    home = stack.one("aws:dynamodb/table:Table", "reports-leave")
    standby = stack.one("aws:dynamodb/table:Table", "reports-leave-standby")
    assert standby.options["protect"] and standby.inputs["hashKey"] == "pk" and standby.inputs["rangeKey"] == "sk"
    assert standby.inputs["serverSideEncryption"] == home.inputs["serverSideEncryption"]
    variables = stack.one("aws:lambda/function:Function", "reports-leave-projector").inputs["environment"]["variables"]
    assert (variables["READ_MODEL_TABLE"], variables["READ_MODEL_STANDBY_TABLE"]) == (home.state["name"], standby.state["name"])
    assert _policy(stack, "reports-leave-projector-policy")["MaintainOwnReadModel"]["Resource"] == [home.state["arn"], standby.state["arn"]]
    assert _policy(stack, "reports-queries-policy")["ReadReadModels"]["Resource"] == [home.state["arn"], standby.state["arn"]]
    queries = stack.one("aws:lambda/function:Function", "reports-queries").inputs["environment"]["variables"]
    assert queries["READ_MODEL_TABLE_LEAVE"] == home.state["name"] and not any("STANDBY" in k for k in queries)
    assert check_stack(stack).ok, check_stack(stack).render()
    # without blue_green: one table, no standby variable
    plain = record(
        lambda: Projection(
            "reports-leave", ProjectionArgs(source="acme.leave", bus=BUS, events_table=EVENTS, function=fn(code_root), detail_types=("X",))
        )
    )
    assert len(plain.of_type("aws:dynamodb/table:Table")) == 1
    assert (
        "READ_MODEL_STANDBY_TABLE"
        not in plain.one("aws:lambda/function:Function", "reports-leave-projector").inputs["environment"]["variables"]
    )


def test_standbys_must_name_a_read_model(code_root: Path) -> None:
    spec = ApiSpec(commands=fn(code_root), queries=fn(code_root), command_routes=("POST /a",), query_routes=("GET /a",))
    args = HttpApiArgs(source="acme.x", api=spec, events_table=EVENTS, read_model_standbys={"leave": EVENTS})
    with pytest.raises(ValueError, match=r"read_model_standbys \['leave'\] name no read model"):
        args.validate()
