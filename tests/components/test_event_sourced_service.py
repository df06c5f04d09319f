"""EventSourcedService: what it declares for a bounded context, and what it refuses."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pulumi
import pytest
from acme_eventsourcing import (
    PIPE_INPUT_TEMPLATE,
    ApiSpec,
    DeliverySpec,
    EventBusRef,
    EventSourcedService,
    EventSourcedServiceArgs,
    FunctionSpec,
    JwtAuthorizerSpec,
    KmsKeyRef,
    ProjectionSpec,
    PublisherSpec,
    ServiceDefaults,
    SharedEventBus,
    SubscriptionSpec,
)
from acme_eventsourcing.event_sourced_service import PUBLISHER_CODE
from acme_eventsourcing.runtime import publisher
from acme_eventsourcing.testing import RecordedResource, RecordedStack, record

FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
KEY = "aws:kms/key:Key"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROUTE = "aws:apigatewayv2/route:Route"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
SOURCE = "acme.leave"
ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:oncall"
OTHER_BUS = EventBusRef(bus_name="platform", bus_arn="arn:aws:events:us-east-1:111122223333:event-bus/platform")
XRAY = {"Sid": "UnscopedXRayTraces", "Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"}
LIST_STREAMS = {"Sid": "UnscopedListStreams", "Effect": "Allow", "Action": ["dynamodb:ListStreams"], "Resource": "*"}


@pytest.fixture(scope="module")
def code_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lambdas")
    files = {
        "app/__init__.py": "",
        "app/handlers.py": "from shared import util\n\n\ndef commands(event, context):\n    return {}\n",
        "app/__pycache__/handlers.cpython-312.pyc": "",
        "app/tests/test_handlers.py": "import pytest\n",
        "shared/__init__.py": "",
        "shared/util.py": "X = 1\n",
        "infra/__init__.py": "import pulumi\n",
        "infra/mod.py": "def handler(event, context):\n    return {}\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def fn(code_root: Path, handler: str = "app.handlers.commands", **kwargs: Any) -> FunctionSpec:
    return FunctionSpec(handler=handler, code_root=str(code_root), packages=("app", "shared"), **kwargs)


def api_spec(code_root: Path, **kwargs: Any) -> ApiSpec:
    return ApiSpec(
        commands=fn(code_root),
        queries=fn(code_root, memory_mb=512, timeout_s=5),
        command_routes=("POST /locations", "GET /openapi.json"),
        query_routes=("GET /employees/{employee_id}/balance",),
        public_routes=("GET /openapi.json",),
        **kwargs,
    )


def _record(build: Any, **kwargs: Any) -> RecordedStack:
    def program() -> None:
        service = build()
        for key in (
            "api_url",
            "events_table_name",
            "read_model_table_names",
            "function_names",
            "dlq_urls",
            "bus_arn",
            "jwt_issuer",
            "identity_claim",
        ):
            pulumi.export(key, getattr(service, key))

    return record(program, **kwargs)


@pytest.fixture(scope="module")
def full(code_root: Path) -> RecordedStack:
    def build() -> EventSourcedService:
        bus = SharedEventBus("bus")
        return EventSourcedService(
            "leave",
            EventSourcedServiceArgs(
                source=SOURCE,
                bus=bus,
                api=api_spec(code_root),
                projections=[
                    ProjectionSpec(
                        name="balance",
                        function=fn(code_root, environment={"EVENTS_TABLE": "mine", "LOG_LEVEL": "debug"}),
                        detail_types=("LeaveRequested", "LeaveApproved"),
                    ),
                    ProjectionSpec(name="pending-approvals", function=fn(code_root), detail_types=("LeaveRequested",)),
                ],
                subscriptions=[
                    SubscriptionSpec(
                        name="notify",
                        function=fn(code_root, environment={"WEBHOOK_URL": "https://hooks.example/x"}),
                        sources=("acme.hr",),
                        detail_types=("EmployeeHired",),
                    )
                ],
                defaults=ServiceDefaults(alarm_actions=(ALARM_TOPIC,)),
            ),
        )

    return _record(build)


@pytest.fixture(scope="module")
def piped(code_root: Path) -> RecordedStack:
    def build() -> EventSourcedService:
        return EventSourcedService(
            "leave",
            EventSourcedServiceArgs(
                source=SOURCE,
                bus=OTHER_BUS,
                api=api_spec(
                    code_root,
                    jwt=JwtAuthorizerSpec(issuer="https://login.example.com/", audiences=("leave-api",)),
                    throttling_burst_limit=20,
                    throttling_rate_limit=10,
                    cors_allowed_origins=("https://app.example.com",),
                ),
                projections=[ProjectionSpec(name="audit", function=fn(code_root), detail_types=("LeaveRequested",))],
                publisher=PublisherSpec(
                    kind="pipe", starting_position="LATEST", maximum_retry_attempts=3, maximum_record_age_in_seconds=3600
                ),
                delivery=DeliverySpec(
                    maximum_retry_attempts=4,
                    maximum_event_age_in_seconds=600,
                    function_retry_attempts=1,
                    function_maximum_event_age_in_seconds=120,
                ),
                defaults=ServiceDefaults(log_retention_days=90, tags={"team": "leave"}),
            ),
        )

    return _record(build)


def policy_of(stack: RecordedStack, part: str) -> dict[str, Any]:
    return json.loads(stack.one(ROLE_POLICY, f"leave-{part}-policy").inputs["policy"])


def statements(stack: RecordedStack, part: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy_of(stack, part)["Statement"]}


def arn(stack: RecordedStack, type_: str, name: str) -> str:
    return stack.one(type_, name).state["arn"]


def key_stmt(stack: RecordedStack, *, writes: bool) -> dict[str, Any]:
    """The role's grant on the service key: decrypt, plus data keys when it writes."""
    actions = ["kms:Decrypt", "kms:GenerateDataKey"] if writes else ["kms:Decrypt"]
    return {"Sid": "UseServiceKey", "Effect": "Allow", "Action": actions, "Resource": [arn(stack, KEY, "leave-key")]}


def log_stmt(stack: RecordedStack, part: str) -> dict[str, Any]:
    group = arn(stack, "aws:cloudwatch/logGroup:LogGroup", f"leave-{part}-logs")
    return {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [f"{group}:*"]}


# ----------------------------------------------------------------------------- Events table


def test_events_table_is_a_retained_append_only_stream_keyed_by_stream_and_version(full: RecordedStack) -> None:
    table = full.one(TABLE, "leave-events")
    assert table.inputs["hashKey"] == "stream_id" and table.inputs["rangeKey"] == "version"
    assert table.inputs["attributes"] == [{"name": "stream_id", "type": "S"}, {"name": "version", "type": "N"}]
    assert table.inputs["streamViewType"] == "NEW_IMAGE"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True} and table.inputs["deletionProtectionEnabled"] is True
    assert table.options["protect"] is True and table.options["retain_on_delete"] is True
    deny = json.loads(full.one("aws:dynamodb/resourcePolicy:ResourcePolicy", "leave-events-policy").inputs["policy"])["Statement"]
    assert deny[0]["Effect"] == "Deny" and deny[0]["Principal"] == "*" and "dynamodb:UpdateItem" in deny[0]["Action"]
    assert full.outputs["events_table_name"] == table.state["name"]


def test_no_role_may_update_or_delete_items_of_the_events_table(full: RecordedStack, piped: RecordedStack) -> None:
    for stack in (full, piped):
        events_arn = arn(stack, TABLE, "leave-events")
        for policy in stack.of_type(ROLE_POLICY):
            for stmt in json.loads(policy.inputs["policy"])["Statement"]:
                if any(r.startswith(events_arn) for r in stmt["Resource"]):
                    assert not {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} & set(stmt["Action"]), policy.name


# ----------------------------------------------------------------------------- publisher (Lambda)


def test_publisher_mapping_filters_event_inserts_with_bounded_retries_and_an_on_failure_queue(full: RecordedStack) -> None:
    mapping = full.one(ESM, "leave-publisher-stream")
    table = full.one(TABLE, "leave-events")
    assert mapping.inputs["eventSourceArn"] == table.state["streamArn"]
    assert mapping.inputs["functionName"] == arn(full, FUNCTION, "leave-publisher")
    assert json.loads(mapping.inputs["filterCriteria"]["filters"][0]["pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"record_type": {"S": ["event"]}}},
    }
    assert len(mapping.inputs["filterCriteria"]["filters"]) == 1
    assert {
        k: mapping.inputs[k]
        for k in (
            "startingPosition",
            "batchSize",
            "bisectBatchOnFunctionError",
            "maximumRetryAttempts",
            "maximumRecordAgeInSeconds",
            "functionResponseTypes",
        )
    } == {
        "startingPosition": "TRIM_HORIZON",
        "batchSize": 100,
        "bisectBatchOnFunctionError": True,
        "maximumRetryAttempts": 10,
        "maximumRecordAgeInSeconds": 82800,
        "functionResponseTypes": ["ReportBatchItemFailures"],
    }
    assert mapping.inputs["destinationConfig"] == {"onFailure": {"destinationArn": arn(full, QUEUE, "leave-publisher-dlq")}}
    assert full.one(ROLE_POLICY, "leave-publisher-policy").urn in mapping.options["depends_on"]


def test_publisher_ships_only_the_packaged_publisher_module(full: RecordedStack) -> None:
    publisher = full.one(FUNCTION, "leave-publisher")
    assert publisher.inputs["handler"] == "acme_eventsourcing.runtime.publisher.handler"
    assert publisher.inputs["code"]["assets"]["acme_eventsourcing/runtime/publisher.py"] == {
        "__asset__": "file",
        "path": str(PUBLISHER_CODE),
    }
    assert all(
        name.startswith("acme_eventsourcing/runtime/") or name == "acme_eventsourcing/__init__.py"
        for name in publisher.inputs["code"]["assets"]
    )
    assert Path(__file__).resolve().parents[2] / "components" / "acme_eventsourcing" / "runtime" / "publisher.py" == PUBLISHER_CODE
    assert PUBLISHER_CODE.is_file(), "the publisher ships inside the components package"
    bus = full.one("aws:cloudwatch/eventBus:EventBus", "bus")
    assert publisher.inputs["environment"]["variables"] == {
        "SERVICE_SOURCE": SOURCE,
        "EVENT_BUS_NAME": bus.state["name"],
        "EVENT_SOURCE": SOURCE,
    }


def test_publisher_may_put_events_on_one_bus_with_its_own_source_only(full: RecordedStack) -> None:
    bus_arn = arn(full, "aws:cloudwatch/eventBus:EventBus", "bus")
    stream_arn = full.one(TABLE, "leave-events").state["streamArn"]
    assert policy_of(full, "publisher") == {
        "Version": "2012-10-17",
        "Statement": [
            log_stmt(full, "publisher"),
            XRAY,
            {
                "Sid": "PutEventsOwnSourceOnly",
                "Effect": "Allow",
                "Action": ["events:PutEvents"],
                "Resource": [bus_arn],
                "Condition": {"StringEquals": {"events:source": [SOURCE]}},
            },
            {
                "Sid": "ReadEventsStream",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                "Resource": [stream_arn],
            },
            LIST_STREAMS,
            {
                "Sid": "SendFailedRecordsToQueue",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [arn(full, QUEUE, "leave-publisher-dlq")],
            },
            key_stmt(full, writes=True),
        ],
    }


# ----------------------------------------------------------------------------- functions


def test_every_function_has_its_own_role_log_group_tracing_and_explicit_sizing(full: RecordedStack) -> None:
    functions = full.of_type(FUNCTION)
    assert sorted(f.name for f in functions) == [
        "leave-balance-projector",
        "leave-commands",
        "leave-notify-subscriber",
        "leave-pending-approvals-projector",
        "leave-publisher",
        "leave-queries",
    ]
    roles = {f.inputs["role"] for f in functions}
    assert len(roles) == len(functions) == len(full.of_type(ROLE))
    for f in functions:
        group = full.one("aws:cloudwatch/logGroup:LogGroup", f"{f.name}-logs")
        assert group.inputs["retentionInDays"] == 30
        assert group.inputs["namePrefix"] == f"/aws/lambda/{f.name}-"
        assert f.inputs["loggingConfig"] == {"logFormat": "Text", "logGroup": group.state["name"]}
        assert f.inputs["tracingConfig"] == {"mode": "Active"}
        assert f.inputs["runtime"] == "python3.12" and f.inputs["architectures"] == ["arm64"]
        assert f.inputs["memorySize"] >= 128 and f.inputs["timeout"] >= 1
        assert f.inputs["role"] == full.one(ROLE, f"{f.name}-role").state["arn"]
        trust = json.loads(full.one(ROLE, f"{f.name}-role").inputs["assumeRolePolicy"])["Statement"]
        assert trust == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    queries = full.one(FUNCTION, "leave-queries")
    assert (queries.inputs["memorySize"], queries.inputs["timeout"]) == (512, 5)


def test_function_code_holds_only_the_declared_packages_without_tests_or_caches(full: RecordedStack, code_root: Path) -> None:
    code = full.one(FUNCTION, "leave-commands").inputs["code"]
    assert code["__archive__"] == "assets"
    assert sorted(code["assets"]) == ["app/__init__.py", "app/handlers.py", "shared/__init__.py", "shared/util.py"]
    assert code["assets"]["app/handlers.py"] == {"__asset__": "file", "path": str(code_root / "app" / "handlers.py")}


def test_environment_names_the_real_resources_and_component_values_win(full: RecordedStack) -> None:
    events = full.one(TABLE, "leave-events").state["name"]
    balance = full.one(TABLE, "leave-balance").state["name"]
    pending = full.one(TABLE, "leave-pending-approvals").state["name"]
    api_url = full.one("aws:apigatewayv2/api:Api", "leave-api").state["apiEndpoint"]
    env = {f.name: f.inputs["environment"]["variables"] for f in full.of_type(FUNCTION)}
    assert env["leave-commands"] == {
        "SERVICE_SOURCE": SOURCE,
        "EVENTS_TABLE": events,
        "API_URL": api_url,
        "IDENTITY_CLAIM": "custom:employee_id",
    }
    assert env["leave-queries"] == {
        "SERVICE_SOURCE": SOURCE,
        "API_URL": api_url,
        "READ_MODEL_TABLE_BALANCE": balance,
        "READ_MODEL_TABLE_PENDING_APPROVALS": pending,
        "IDENTITY_CLAIM": "custom:employee_id",
    }
    assert env["leave-balance-projector"] == {
        "SERVICE_SOURCE": SOURCE,
        "LOG_LEVEL": "debug",
        "READ_MODEL_TABLE": balance,
        "EVENTS_TABLE": events,
    }
    assert env["leave-notify-subscriber"] == {
        "SERVICE_SOURCE": SOURCE,
        "WEBHOOK_URL": "https://hooks.example/x",
        "CHECKPOINT_TABLE": full.one(TABLE, "leave-notify-checkpoints").state["name"],
    }


def test_api_url_defaults_to_the_api_endpoint_and_the_spec_may_override_it(code_root: Path) -> None:
    custom = "https://leave.example.com"
    stack = _record(
        lambda: EventSourcedService(
            "leave",
            EventSourcedServiceArgs(
                source=SOURCE,
                bus=OTHER_BUS,
                api=replace(api_spec(code_root), commands=fn(code_root, environment={"API_URL": custom})),
            ),
        )
    )
    env = {f.name: f.inputs["environment"]["variables"] for f in stack.of_type(FUNCTION)}
    assert env["leave-commands"]["API_URL"] == custom
    assert env["leave-queries"]["API_URL"] == stack.one("aws:apigatewayv2/api:Api", "leave-api").state["apiEndpoint"]


def test_commands_append_to_the_events_table_only(full: RecordedStack) -> None:
    assert policy_of(full, "commands")["Statement"] == [
        log_stmt(full, "commands"),
        XRAY,
        {
            "Sid": "AppendToEventStore",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
            "Resource": [arn(full, TABLE, "leave-events")],
        },
        key_stmt(full, writes=True),
    ]


def test_queries_read_read_models_only(full: RecordedStack) -> None:
    assert policy_of(full, "queries")["Statement"] == [
        log_stmt(full, "queries"),
        XRAY,
        {
            "Sid": "ReadReadModels",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
            "Resource": [arn(full, TABLE, "leave-balance"), arn(full, TABLE, "leave-pending-approvals")],
        },
        key_stmt(full, writes=False),
    ]


def test_projector_writes_its_own_table_and_reads_the_events_table(full: RecordedStack) -> None:
    assert policy_of(full, "balance-projector")["Statement"] == [
        log_stmt(full, "balance-projector"),
        XRAY,
        {
            "Sid": "MaintainOwnReadModel",
            "Effect": "Allow",
            "Action": [
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:BatchWriteItem",
            ],
            "Resource": [arn(full, TABLE, "leave-balance")],
        },
        {
            "Sid": "ReadEventStore",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Query"],
            "Resource": [arn(full, TABLE, "leave-events")],
        },
        {
            "Sid": "SendFailedEventsToQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [arn(full, QUEUE, "leave-balance-dlq")],
        },
        key_stmt(full, writes=True),
    ]


def test_subscriber_gets_nothing_but_logs_traces_its_dlq_and_its_checkpoints(full: RecordedStack) -> None:
    assert policy_of(full, "notify-subscriber")["Statement"] == [
        log_stmt(full, "notify-subscriber"),
        XRAY,
        {
            "Sid": "RecordCheckpoints",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Resource": [arn(full, TABLE, "leave-notify-checkpoints")],
        },
        {
            "Sid": "SendFailedEventsToQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [arn(full, QUEUE, "leave-notify-dlq")],
        },
        key_stmt(full, writes=True),
    ]


def test_read_model_tables_are_retained_pk_sk_tables(full: RecordedStack) -> None:
    for name in ("leave-balance", "leave-pending-approvals"):
        table = full.one(TABLE, name)
        assert table.inputs["attributes"] == [{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}]
        assert table.options["protect"] is True and table.options["retain_on_delete"] is True
        assert table.inputs["streamEnabled"] is False
    assert full.outputs["read_model_table_names"] == {
        "balance": full.one(TABLE, "leave-balance").state["name"],
        "pending-approvals": full.one(TABLE, "leave-pending-approvals").state["name"],
    }


def test_a_subscription_keeps_its_checkpoints_in_a_retained_encrypted_table_with_ttl(full: RecordedStack) -> None:
    table = full.one(TABLE, "leave-notify-checkpoints")
    assert table.inputs["attributes"] == [{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}]
    assert table.inputs["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert table.options["protect"] is True and table.options["retain_on_delete"] is True
    assert table.inputs["deletionProtectionEnabled"] is True and table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": full.one(KEY, "leave-key").state["arn"]}
    assert table.parent_urn == full.one("acme:events:RetainedTable", "leave-notify-checkpoints").urn
    assert (
        full.one("acme:events:RetainedTable", "leave-notify-checkpoints").parent_urn
        == full.one("acme:events:Subscription", "leave-notify").urn
    )


# ----------------------------------------------------------------------------- rules, targets, DLQs


def test_projection_rule_matches_this_source_and_its_detail_types_on_the_bus(full: RecordedStack) -> None:
    rule = full.one("aws:cloudwatch/eventRule:EventRule", "leave-balance-rule")
    assert rule.inputs["eventBusName"] == full.one("aws:cloudwatch/eventBus:EventBus", "bus").state["name"]
    assert json.loads(rule.inputs["eventPattern"]) == {"source": [SOURCE], "detail-type": ["LeaveRequested", "LeaveApproved"]}
    sub = full.one("aws:cloudwatch/eventRule:EventRule", "leave-notify-rule")
    assert json.loads(sub.inputs["eventPattern"]) == {"source": ["acme.hr"], "detail-type": ["EmployeeHired"]}


def test_targets_retry_a_bounded_number_of_times_then_dead_letter(full: RecordedStack) -> None:
    for part, fn_name in (("balance", "leave-balance-projector"), ("notify", "leave-notify-subscriber")):
        target = full.one("aws:cloudwatch/eventTarget:EventTarget", f"leave-{part}-target")
        rule = full.one("aws:cloudwatch/eventRule:EventRule", f"leave-{part}-rule")
        assert target.inputs["rule"] == rule.state["name"]
        assert target.inputs["arn"] == arn(full, FUNCTION, fn_name)
        assert target.inputs["retryPolicy"] == {"maximumRetryAttempts": 10, "maximumEventAgeInSeconds": 86400}
        assert target.inputs["deadLetterConfig"] == {"arn": arn(full, QUEUE, f"leave-{part}-dlq")}
        permission = full.one("aws:lambda/permission:Permission", f"leave-{part}-invoke")
        assert (permission.inputs["principal"], permission.inputs["sourceArn"]) == ("events.amazonaws.com", rule.state["arn"])
        invoke = full.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", f"leave-{part}-async")
        assert invoke.inputs["maximumRetryAttempts"] == 2
        assert invoke.inputs["destinationConfig"] == {"onFailure": {"destination": arn(full, QUEUE, f"leave-{part}-dlq")}}


def test_every_queue_is_encrypted_tls_only_and_only_its_rule_may_send(full: RecordedStack) -> None:
    queues = full.of_type(QUEUE)
    assert sorted(q.name for q in queues) == ["leave-balance-dlq", "leave-notify-dlq", "leave-pending-approvals-dlq", "leave-publisher-dlq"]
    for queue in queues:
        assert queue.inputs["kmsMasterKeyId"] == arn(full, KEY, "leave-key")
        assert "sqsManagedSseEnabled" not in queue.inputs
        policy = full.one("aws:sqs/queuePolicy:QueuePolicy", f"{queue.name}-policy")
        assert policy.inputs["queueUrl"] == queue.state["url"]
        stmts = json.loads(policy.inputs["policy"])["Statement"]
        assert stmts[0] == {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["sqs:*"],
            "Resource": [queue.state["arn"]],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        if queue.name != "leave-publisher-dlq":
            rule = full.one("aws:cloudwatch/eventRule:EventRule", queue.name.replace("-dlq", "-rule"))
            assert stmts[1]["Principal"] == {"Service": "events.amazonaws.com"}
            assert stmts[1]["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.state["arn"]}}
        else:
            assert len(stmts) == 1


def test_alarms_cover_every_function_queue_and_the_stream_age(full: RecordedStack) -> None:
    alarms = {a.name: a.inputs for a in full.of_type(ALARM)}
    for f in full.of_type(FUNCTION):
        errors = alarms[f"{f.name}-errors"]
        assert (errors["metricName"], errors["dimensions"]) == ("Errors", {"FunctionName": f.state["name"]})
    for q in full.of_type(QUEUE):
        depth = alarms[f"{q.name}-depth"]
        assert (depth["metricName"], depth["dimensions"], depth["threshold"]) == (
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": q.state["name"]},
            0,
        )
    age = alarms["leave-publisher-iterator-age"]
    assert (age["metricName"], age["statistic"], age["threshold"]) == ("IteratorAge", "Maximum", 60000)
    assert len(alarms) == 6 + 4 + 1
    assert all(a["alarmActions"] == [ALARM_TOPIC] for a in alarms.values())


# ----------------------------------------------------------------------------- HTTP API


def test_every_route_but_the_public_ones_needs_a_jwt(full: RecordedStack) -> None:
    authorizer = full.one("aws:apigatewayv2/authorizer:Authorizer", "leave-api-jwt")
    integrations = {p: full.one("aws:apigatewayv2/integration:Integration", f"leave-api-{p}").id for p in ("commands", "queries")}
    routes = {r.inputs["routeKey"]: r.inputs for r in full.of_type(ROUTE)}
    assert routes["POST /locations"]["authorizationType"] == "JWT"
    assert routes["POST /locations"]["authorizerId"] == authorizer.id
    assert routes["POST /locations"]["target"] == f"integrations/{integrations['commands']}"
    assert routes["GET /employees/{employee_id}/balance"]["target"] == f"integrations/{integrations['queries']}"
    assert routes["GET /employees/{employee_id}/balance"]["authorizationType"] == "JWT"
    assert routes["GET /openapi.json"]["authorizationType"] == "NONE" and "authorizerId" not in routes["GET /openapi.json"]
    assert len(routes) == 3


def test_integrations_use_payload_v2_and_permissions_are_scoped_to_the_api(full: RecordedStack) -> None:
    api = full.one("aws:apigatewayv2/api:Api", "leave-api")
    assert api.inputs["protocolType"] == "HTTP" and "corsConfiguration" not in api.inputs
    for part in ("commands", "queries"):
        integration = full.one("aws:apigatewayv2/integration:Integration", f"leave-api-{part}")
        assert integration.inputs["integrationType"] == "AWS_PROXY" and integration.inputs["payloadFormatVersion"] == "2.0"
        assert integration.inputs["integrationUri"] == full.one(FUNCTION, f"leave-{part}").state["invokeArn"]
        permission = full.one("aws:lambda/permission:Permission", f"leave-api-{part}-invoke")
        assert permission.inputs["principal"] == "apigateway.amazonaws.com"
        assert permission.inputs["sourceArn"] == f"{api.state['executionArn']}/*/*"
    assert full.outputs["api_url"] == api.state["apiEndpoint"]


def test_default_stage_deploys_itself_logs_access_and_throttles(full: RecordedStack) -> None:
    stage = full.one("aws:apigatewayv2/stage:Stage", "leave-api-stage")
    logs = full.one("aws:cloudwatch/logGroup:LogGroup", "leave-api-access-logs")
    assert stage.inputs["name"] == "$default" and stage.inputs["autoDeploy"] is True
    assert stage.inputs["accessLogSettings"]["destinationArn"] == logs.state["arn"]
    assert json.loads(stage.inputs["accessLogSettings"]["format"])["requestId"] == "$context.requestId"
    assert stage.inputs["defaultRouteSettings"] == {
        "throttlingBurstLimit": 100,
        "throttlingRateLimit": 50.0,
        "detailedMetricsEnabled": True,
    }
    assert logs.inputs["retentionInDays"] == 30


def test_without_an_issuer_a_cognito_pool_with_admin_and_approver_groups_backs_the_authorizer(full: RecordedStack) -> None:
    pool = full.one("aws:cognito/userPool:UserPool", "leave-users")
    client = full.one("aws:cognito/userPoolClient:UserPoolClient", "leave-users-client")
    authorizer = full.one("aws:apigatewayv2/authorizer:Authorizer", "leave-api-jwt")
    assert authorizer.inputs["jwtConfiguration"] == {"issuer": f"https://{pool.state['endpoint']}", "audiences": [client.id]}
    assert authorizer.inputs["identitySources"] == ["$request.header.Authorization"]
    assert sorted(g.inputs["name"] for g in full.of_type("aws:cognito/userGroup:UserGroup")) == ["admin", "approver"]
    assert pool.inputs["deletionProtection"] == "ACTIVE"
    assert full.outputs["jwt_issuer"] == f"https://{pool.state['endpoint']}"


def test_the_created_pool_identifies_callers_by_an_attribute_no_user_can_change(full: RecordedStack) -> None:
    """The API trusts `custom:employee_id`: immutable (set by an administrator when the user is
    created), readable by the client (so it is in the ID token), absent from its write_attributes."""
    pool = full.one("aws:cognito/userPool:UserPool", "leave-users")
    client = full.one("aws:cognito/userPoolClient:UserPoolClient", "leave-users-client")
    (employee_id,) = [a for a in pool.inputs["schemas"] if a["name"] == "employee_id"]
    assert employee_id["mutable"] is False
    assert pool.inputs["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    assert "custom:employee_id" in client.inputs["readAttributes"]
    assert client.inputs["writeAttributes"] and "custom:employee_id" not in client.inputs["writeAttributes"]
    assert full.outputs["identity_claim"] == "custom:employee_id"


def test_an_external_issuer_identifies_callers_by_sub_unless_told(piped: RecordedStack, code_root: Path) -> None:
    env = {f.name: f.inputs["environment"]["variables"] for f in piped.of_type(FUNCTION)}
    assert env["leave-commands"]["IDENTITY_CLAIM"] == env["leave-queries"]["IDENTITY_CLAIM"] == "sub"
    assert piped.of_type("aws:cognito/userPool:UserPool") == []
    told = api_spec(code_root, jwt=JwtAuthorizerSpec(issuer="https://x", audiences=("a",), identity_claim="employee_number"))
    assert told.identity_claim == "employee_number"


@pytest.mark.parametrize("claim", ["", "cognito:groups", "aud", "has space", 7])
def test_an_identity_claim_that_names_nobody_is_refused(code_root: Path, claim: object) -> None:
    spec = api_spec(code_root, jwt=JwtAuthorizerSpec(issuer="https://x", audiences=("a",), identity_claim=claim))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="identity_claim"):
        spec.validate()


# ----------------------------------------------------------------------------- overrides: Pipe, issuer, delivery


def test_pipe_publisher_replaces_the_lambda_with_the_same_filter_bounds_and_dlq(piped: RecordedStack) -> None:
    assert not piped.of_type(ESM)
    assert "leave-publisher" not in {f.name for f in piped.of_type(FUNCTION)}
    pipe = piped.one("aws:pipes/pipe:Pipe", "leave-publisher")
    table = piped.one(TABLE, "leave-events")
    assert pipe.inputs["source"] == table.state["streamArn"]
    assert pipe.inputs["target"] == OTHER_BUS.bus_arn
    params = pipe.inputs["sourceParameters"]
    assert json.loads(params["filterCriteria"]["filters"][0]["pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"record_type": {"S": ["event"]}}},
    }
    assert params["dynamodbStreamParameters"] == {
        "startingPosition": "LATEST",
        "batchSize": 10,
        "maximumBatchingWindowInSeconds": 0,
        "maximumRetryAttempts": 3,
        "maximumRecordAgeInSeconds": 3600,
        "parallelizationFactor": 1,
        "onPartialBatchItemFailure": "AUTOMATIC_BISECT",
        "deadLetterConfig": {"arn": arn(piped, QUEUE, "leave-publisher-dlq")},
    }
    assert pipe.inputs["logConfiguration"]["level"] == "ERROR"
    assert pipe.inputs["roleArn"] == piped.one(ROLE, "leave-publisher-role").state["arn"]
    assert piped.one(ROLE_POLICY, "leave-publisher-policy").urn in pipe.options["depends_on"]


def test_pipe_enrichment_builds_the_events_and_the_bus_target_sends_its_envelope_as_detail(piped: RecordedStack) -> None:
    pipe = piped.one("aws:pipes/pipe:Pipe", "leave-publisher")
    assert pipe.inputs["enrichment"] == arn(piped, FUNCTION, "leave-publisher-enrich")
    assert "enrichmentParameters" not in pipe.inputs  # the enrichment gets the records as they come
    assert pipe.inputs["targetParameters"] == {
        "eventbridgeEventBusParameters": {"source": SOURCE, "detailType": "$.detail-type", "time": "$.time"},
        "inputTemplate": "<$.detail>",
    }
    assert PIPE_INPUT_TEMPLATE == "<$.detail>"


def test_pipe_enrichment_is_the_packaged_publisher_with_its_own_logs_and_xray_only_role(piped: RecordedStack) -> None:
    enrich = piped.one(FUNCTION, "leave-publisher-enrich")
    assert enrich.inputs["handler"] == "acme_eventsourcing.runtime.publisher.enrich"
    assert enrich.inputs["code"]["assets"]["acme_eventsourcing/runtime/publisher.py"] == {"__asset__": "file", "path": str(PUBLISHER_CODE)}
    assert enrich.inputs["environment"]["variables"] == {"SERVICE_SOURCE": SOURCE, "EVENT_SOURCE": SOURCE}
    assert (enrich.inputs["memorySize"], enrich.inputs["timeout"]) == (256, 30)
    assert enrich.inputs["tracingConfig"] == {"mode": "Active"}
    role = piped.one(ROLE, "leave-publisher-enrich-role")
    assert enrich.inputs["role"] == role.state["arn"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert policy_of(piped, "publisher-enrich") == {
        "Version": "2012-10-17",
        "Statement": [log_stmt(piped, "publisher-enrich"), XRAY, key_stmt(piped, writes=False)],
    }
    group = piped.one("aws:cloudwatch/logGroup:LogGroup", "leave-publisher-enrich-logs")
    assert group.inputs["retentionInDays"] == 90
    assert enrich.inputs["loggingConfig"] == {"logFormat": "Text", "logGroup": group.state["name"]}
    errors = piped.one(ALARM, "leave-publisher-enrich-errors").inputs
    assert (errors["namespace"], errors["metricName"]) == ("AWS/Lambda", "Errors")
    assert errors["dimensions"] == {"FunctionName": enrich.state["name"]}
    assert piped.outputs["function_names"]["publisher-enrich"] == enrich.state["name"]


def test_pipe_role_is_trusted_by_pipes_and_limited_to_the_bus_source_stream_queue_enrichment_and_logs(piped: RecordedStack) -> None:
    trust = json.loads(piped.one(ROLE, "leave-publisher-role").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pipes.amazonaws.com"}
    assert policy_of(piped, "publisher") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PutEventsOwnSourceOnly",
                "Effect": "Allow",
                "Action": ["events:PutEvents"],
                "Resource": [OTHER_BUS.bus_arn],
                "Condition": {"StringEquals": {"events:source": [SOURCE]}},
            },
            {
                "Sid": "ReadEventsStream",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                "Resource": [piped.one(TABLE, "leave-events").state["streamArn"]],
            },
            LIST_STREAMS,
            {
                "Sid": "SendFailedRecordsToQueue",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [arn(piped, QUEUE, "leave-publisher-dlq")],
            },
            {
                "Sid": "InvokeEnrichment",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [arn(piped, FUNCTION, "leave-publisher-enrich")],
            },
            log_stmt(piped, "publisher"),
            key_stmt(piped, writes=True),
        ],
    }
    alarm = piped.one(ALARM, "leave-publisher-failed").inputs
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/EventBridge/Pipes", "ExecutionFailed")


def test_what_the_pipe_sends_through_its_target_paths_equals_the_lambda_publishers_entries(
    monkeypatch: pytest.MonkeyPatch, piped: RecordedStack
) -> None:
    """The declared paths and template, applied to the enrichment's real output (one event
    per record), give the Lambda publisher's entries: one envelope on the bus."""
    monkeypatch.setenv("EVENT_SOURCE", SOURCE)
    image = {
        "stream_id": {"S": "employee#john"},
        "version": {"N": "7"},
        "record_type": {"S": "event"},
        "event_type": {"S": "LeaveRequested"},
        "event_id": {"S": "e7"},
        "occurred_at": {"S": "2026-01-05T09:00:00Z"},
        "data": {"S": json.dumps({"days": 2})},
        "metadata": {"S": json.dumps({"actor": "ana", "correlation_id": "c1"})},
    }
    keys = {"stream_id": image["stream_id"], "version": image["version"]}
    record = {"eventName": "INSERT", "dynamodb": {"Keys": keys, "NewImage": image, "SequenceNumber": "1"}}
    client = _Recorder()
    publisher.Publisher(client, "bus", SOURCE).publish([record])
    ((entry,),) = client.calls

    target = piped.one("aws:pipes/pipe:Pipe", "leave-publisher").inputs["targetParameters"]
    bus = target["eventbridgeEventBusParameters"]
    (event,) = json.loads(json.dumps(publisher.enrich([record], None)))
    assert bus["source"] == entry["Source"]
    assert _at(event, bus["detailType"]) == entry["DetailType"]
    assert datetime.fromisoformat(_at(event, bus["time"])) == entry["Time"]
    assert _at(event, target["inputTemplate"].removeprefix("<").removesuffix(">")) == json.loads(entry["Detail"])


class _Recorder:
    """An EventBridge client that accepts every entry and records the calls."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        self.calls.append(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i, _ in enumerate(Entries)]}


def _at(value: Any, path: str) -> Any:
    """The value at a dotted JSON path (`$.a.b`)."""
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


def test_an_existing_issuer_replaces_cognito(piped: RecordedStack) -> None:
    assert not piped.of_type("aws:cognito/userPool:UserPool")
    authorizer = piped.one("aws:apigatewayv2/authorizer:Authorizer", "leave-api-jwt")
    assert authorizer.inputs["jwtConfiguration"] == {"issuer": "https://login.example.com/", "audiences": ["leave-api"]}


def test_throttling_cors_delivery_retention_and_tags_are_overridable(piped: RecordedStack) -> None:
    stage = piped.one("aws:apigatewayv2/stage:Stage", "leave-api-stage")
    assert stage.inputs["defaultRouteSettings"]["throttlingBurstLimit"] == 20
    assert stage.inputs["defaultRouteSettings"]["throttlingRateLimit"] == 10
    cors = piped.one("aws:apigatewayv2/api:Api", "leave-api").inputs["corsConfiguration"]
    assert cors["allowOrigins"] == ["https://app.example.com"] and cors["allowMethods"] == ["GET", "OPTIONS", "POST"]
    target = piped.one("aws:cloudwatch/eventTarget:EventTarget", "leave-audit-target")
    assert target.inputs["retryPolicy"] == {"maximumRetryAttempts": 4, "maximumEventAgeInSeconds": 600}
    invoke = piped.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "leave-audit-async")
    assert (invoke.inputs["maximumRetryAttempts"], invoke.inputs["maximumEventAgeInSeconds"]) == (1, 120)
    assert {g.inputs["retentionInDays"] for g in piped.of_type("aws:cloudwatch/logGroup:LogGroup")} == {90}
    assert piped.one(TABLE, "leave-events").inputs["tags"] == {"team": "leave"}
    assert all(f.inputs["tags"] == {"team": "leave"} for f in piped.of_type(FUNCTION))
    assert all("alarmActions" not in a.inputs or a.inputs["alarmActions"] == [] for a in piped.of_type(ALARM))


def test_a_service_that_only_reacts_owns_no_event_store_api_or_publisher(code_root: Path) -> None:
    stack = _record(
        lambda: EventSourcedService(
            "notifications",
            EventSourcedServiceArgs(
                source="acme.notifications",
                bus=OTHER_BUS,
                subscriptions=[SubscriptionSpec(name="leave", function=fn(code_root), sources=(SOURCE,), detail_types=("LeaveRequested",))],
            ),
        )
    )
    counts = stack.counts()
    assert "aws:apigatewayv2/api:Api" not in counts and ESM not in counts
    assert [t.name for t in stack.of_type(TABLE)] == [
        "notifications-leave-checkpoints"
    ]  # no Events table: only its subscription's checkpoints
    assert [f.name for f in stack.of_type(FUNCTION)] == ["notifications-leave-subscriber"]
    assert stack.outputs["api_url"] is None and stack.outputs["events_table_name"] is None
    assert stack.outputs["bus_arn"] == OTHER_BUS.bus_arn
    rule = stack.one("aws:cloudwatch/eventRule:EventRule", "notifications-leave-rule")
    assert rule.inputs["eventBusName"] == "platform"


# ----------------------------------------------------------------------------- refused arguments


def _bad(code_root: Path, **overrides: Any) -> EventSourcedServiceArgs:
    kwargs: dict[str, Any] = {"source": SOURCE, "bus": OTHER_BUS, "api": api_spec(code_root)}
    kwargs.update(overrides)
    return EventSourcedServiceArgs(**kwargs)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"source": "aws.leave"}, "not start with 'aws.'"),
        ({"source": "Acme Leave"}, "lower-case dotted"),
        ({"api": None, "projections": "P"}, "projections need the Events table"),
        ({"api": None}, "nothing to build"),
        ({"defaults": ServiceDefaults(log_retention_days=42)}, "retention value"),
        ({"projections": "PP"}, "must be unique"),
        ({"projections": "E"}, "detail_types must not be empty"),
        ({"projections": "S"}, "not one string"),
        ({"subscriptions": "N"}, "sources must be non-empty"),
        ({"subscriptions": "N1"}, "sources must be non-empty"),
        ({"publisher": PublisherSpec(kind="pipe", batch_size=50)}, "1..10 for kind 'pipe'"),
        ({"publisher": PublisherSpec(maximum_retry_attempts=-1)}, "bounded retries"),
        ({"publisher": PublisherSpec(maximum_record_age_in_seconds=-1)}, "bounded age"),
        ({"publisher": PublisherSpec(kind="kinesis")}, "publisher.kind"),
        ({"delivery": DeliverySpec(maximum_retry_attempts=500)}, "0..185"),
        ({"delivery": DeliverySpec(function_retry_attempts=3)}, "0..2"),
        ({"api": "both"}, "both commands and queries"),
        ({"api": "undeclared-public"}, "are not command or query routes"),
        ({"api": "bad-route"}, "is not 'METHOD /path'"),
        ({"api": "slow"}, "1..29"),
        ({"api": "handler-outside"}, "is not in packages"),
        ({"api": "no-audience"}, "audiences must not be empty"),
    ],
)
def test_contradictory_arguments_raise_before_anything_is_created(code_root: Path, overrides: dict[str, Any], message: str) -> None:
    shorthand = {
        "P": [ProjectionSpec(name="p", function=fn(code_root), detail_types=("A",))],
        "PP": [ProjectionSpec(name="p", function=fn(code_root), detail_types=("A",))] * 2,
        "E": [ProjectionSpec(name="p", function=fn(code_root), detail_types=())],
        "S": [ProjectionSpec(name="p", function=fn(code_root), detail_types="LeaveRequested")],
        "N": [SubscriptionSpec(name="n", function=fn(code_root), sources=(), detail_types=("A",))],
        "N1": [SubscriptionSpec(name="n", function=fn(code_root), sources="acme.leave", detail_types=("A",))],
        "both": ApiSpec(commands=fn(code_root), queries=fn(code_root), command_routes=("GET /x",), query_routes=("GET /x",)),
        "undeclared-public": ApiSpec(
            commands=fn(code_root), queries=fn(code_root), command_routes=("POST /x",), query_routes=(), public_routes=("GET /docs",)
        ),
        "bad-route": ApiSpec(commands=fn(code_root), queries=fn(code_root), command_routes=("/x",), query_routes=()),
        "slow": ApiSpec(commands=fn(code_root, timeout_s=60), queries=fn(code_root), command_routes=("POST /x",), query_routes=()),
        "handler-outside": ApiSpec(
            commands=fn(code_root, handler="other.mod.handler"), queries=fn(code_root), command_routes=("POST /x",), query_routes=()
        ),
        "no-audience": api_spec(code_root, jwt=JwtAuthorizerSpec(issuer="https://x", audiences=())),
    }
    resolved = {k: shorthand.get(v, v) if isinstance(v, str) and k != "source" else v for k, v in overrides.items()}
    with pytest.raises(ValueError, match=message):
        EventSourcedService("bad", _bad(code_root, **resolved))


def test_code_that_imports_pulumi_or_a_missing_package_is_refused(code_root: Path) -> None:
    def build(packages: tuple[str, ...]) -> None:
        spec = FunctionSpec(handler=f"{packages[0]}.mod.handler", code_root=str(code_root), packages=packages)
        EventSourcedService(
            "bad",
            EventSourcedServiceArgs(
                source=SOURCE,
                bus=OTHER_BUS,
                subscriptions=[SubscriptionSpec(name="s", function=spec, sources=("a.b",), detail_types=("X",))],
            ),
        )

    with pytest.raises(Exception, match="imports pulumi"):
        record(lambda: build(("infra",)))
    with pytest.raises(Exception, match="not found under"):
        record(lambda: build(("missing",)))


def test_resources_are_descendants_of_the_service_through_its_child_components(full: RecordedStack) -> None:
    service = full.one("acme:events:EventSourcedService", "leave")
    by_urn = {r.urn: r for r in full.resources}

    def ancestors(r: RecordedResource) -> list[str]:
        out = []
        while r.parent_urn in by_urn:
            r = by_urn[r.parent_urn]
            out.append(r.urn)
        return out

    owned: list[RecordedResource] = [r for r in full.resources if r.name.startswith("leave")]
    assert all(service.urn in ancestors(r) for r in owned if r is not service)
    direct = {(r.type, r.name) for r in full.children(service)}
    assert direct == {
        (KEY, "leave-key"),
        ("acme:events:RetainedTable", "leave-events"),
        ("acme:events:EventPublisher", "leave-publisher"),
        ("acme:events:Projection", "leave-balance"),
        ("acme:events:Projection", "leave-pending-approvals"),
        ("acme:events:Subscription", "leave-notify"),
        ("acme:events:HttpApi", "leave"),
    }
    # each child component holds its own resources, aliased to the service that held them before
    balance = full.one("acme:events:Projection", "leave-balance")
    assert {r.name for r in full.children(balance)} >= {"leave-balance", "leave-balance-rule", "leave-balance-projector"}
    for r in full.children(balance):
        old = r.urn.replace("$acme:events:Projection", "")
        assert r.options["aliases"] == [old]


# ----------------------------------------------------------------------------- the service key


def test_one_rotated_retained_service_key_encrypts_tables_queues_log_groups_and_environments(full: RecordedStack) -> None:
    (key,) = full.of_type(KEY)
    key_arn = key.state["arn"]
    assert key.name == "leave-key" and key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    assert key.options["protect"] is True and key.options["retain_on_delete"] is True
    assert "tags" not in key.inputs
    assert {t.name: t.inputs["serverSideEncryption"] for t in full.of_type(TABLE)} == {
        n: {"enabled": True, "kmsKeyArn": key_arn}
        for n in ("leave-events", "leave-balance", "leave-pending-approvals", "leave-notify-checkpoints")
    }
    assert all(q.inputs["kmsMasterKeyId"] == key_arn for q in full.of_type(QUEUE))
    assert all(g.inputs["kmsKeyId"] == key_arn for g in full.of_type("aws:cloudwatch/logGroup:LogGroup"))
    assert all(f.inputs["kmsKeyArn"] == key_arn for f in full.of_type(FUNCTION))


def test_the_key_policy_lets_the_account_administer_and_services_use_it_for_this_service_only(full: RecordedStack) -> None:
    statements = {s["Sid"]: s for s in json.loads(full.one(KEY, "leave-key").inputs["policy"])["Statement"]}
    assert set(statements) == {"AccountAdministersKey", "CloudWatchLogsEncryptsOwnLogGroups", "EventBridgeSendsToDeadLetterQueues"}
    admin = statements["AccountAdministersKey"]
    assert admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:Decrypt"} <= set(admin["Action"])
    logs = statements["CloudWatchLogsEncryptsOwnLogGroups"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    prefix = "arn:aws:logs:us-east-1:123456789012:log-group:"
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": [
                f"{prefix}/aws/lambda/leave-*",
                f"{prefix}/aws/vendedlogs/apigateway/leave-api-*",
                f"{prefix}/aws/vendedlogs/pipes/leave-publisher-*",
            ]
        }
    }
    events = statements["EventBridgeSendsToDeadLetterQueues"]
    bus = full.one("aws:cloudwatch/eventBus:EventBus", "bus").state["name"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert events["Condition"] == {"ArnLike": {"aws:SourceArn": [f"arn:aws:events:us-east-1:123456789012:rule/{bus}/leave-*"]}}
    for rule in full.of_type("aws:cloudwatch/eventRule:EventRule"):  # the pattern covers the service's own rules
        assert rule.state["arn"].startswith(f"arn:aws:events:us-east-1:123456789012:rule/{bus}/leave-")
    assert not any("*" in a for s in statements.values() for a in s["Action"])


def test_the_service_tags_apply_to_its_key(piped: RecordedStack) -> None:
    assert piped.one(KEY, "leave-key").inputs["tags"] == {"team": "leave"}


def test_aws_managed_keys_are_an_explicit_opt_out(code_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warnings.append(msg))
    stack = _record(
        lambda: EventSourcedService(
            "leave",
            EventSourcedServiceArgs(source=SOURCE, bus=OTHER_BUS, api=api_spec(code_root), defaults=ServiceDefaults(aws_managed_keys=True)),
        )
    )
    assert stack.of_type(KEY) == [] and any("aws_managed_keys" in w for w in warnings)
    assert stack.one(TABLE, "leave-events").inputs["serverSideEncryption"] == {"enabled": True}
    assert stack.one(QUEUE, "leave-publisher-dlq").inputs["sqsManagedSseEnabled"] is True
    assert all("kmsKeyArn" not in f.inputs for f in stack.of_type(FUNCTION))
    assert all("UseServiceKey" not in statements(stack, p) for p in ("commands", "queries", "publisher"))


def test_an_existing_key_is_used_and_no_key_is_created(code_root: Path) -> None:
    existing = "arn:aws:kms:us-east-1:123456789012:key/existing"
    stack = _record(
        lambda: EventSourcedService(
            "leave",
            EventSourcedServiceArgs(
                source=SOURCE, bus=OTHER_BUS, api=api_spec(code_root), defaults=ServiceDefaults(kms_key=KmsKeyRef(key_arn=existing))
            ),
        )
    )
    assert stack.of_type(KEY) == []
    assert stack.one(TABLE, "leave-events").inputs["serverSideEncryption"]["kmsKeyArn"] == existing
    assert statements(stack, "commands")["UseServiceKey"]["Resource"] == [existing]
    with pytest.raises(ValueError, match="not both"):
        EventSourcedServiceArgs(
            source=SOURCE,
            bus=OTHER_BUS,
            api=api_spec(code_root),
            defaults=ServiceDefaults(kms_key=KmsKeyRef(key_arn=existing), aws_managed_keys=True),
        ).validate()
