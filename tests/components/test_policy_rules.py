"""Every policy rule: a small correct stack passes it, each broken variant fails it with
exactly the expected violation (rule id and resource name).

Stacks are built from raw pulumi_aws resources with `record`, so each rule is tested on its
own, without the components.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import pulumi
import pulumi_aws as aws
import pytest

from components.testing import record
from components.testing.policy import (
    DEFAULT_RULES,
    DeadLetterQueueAlarms,
    EventsTableAppendOnly,
    EventsTableDurable,
    Exemption,
    FunctionErrorAlarms,
    FunctionsConfigured,
    FunctionsHaveLogGroups,
    LogGroupsRetained,
    MappingsHandleFailures,
    NoPublicResourcePolicies,
    NoWildcardActions,
    NoWildcardResources,
    OneRolePerFunction,
    PermissionsScopedBySource,
    PoliciesReadable,
    PublisherLimitedToItsSource,
    QueuesEncrypted,
    QueuesRequireTls,
    Rule,
    RoutesAuthorized,
    StagesThrottledAndLogged,
    StreamIteratorAgeAlarms,
    TablesEncrypted,
    TargetsHandleFailures,
    Violation,
    check_stack,
    replace_rules,
)

ACCOUNT = "123456789012"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
LAMBDA_TRUST = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
)

Program = Callable[[], None]


# -- building blocks ---------------------------------------------------------------------------------


def doc(*statements: Any) -> pulumi.Output[str]:
    """A policy document; statements may hold Outputs."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: Any, resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def deny(actions: Any, resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": "*", "Action": actions, "Resource": resources, **extra}


def role(name: str, *statements: Any, trust: str = LAMBDA_TRUST) -> aws.iam.Role:
    """A role with its statements in a RolePolicy named `{name}-policy`."""
    r = aws.iam.Role(name, assume_role_policy=trust)
    if statements:
        aws.iam.RolePolicy(f"{name}-policy", role=r.id, policy=doc(*statements))
    return r


def function(logical: str, role_arn: pulumi.Input[str] | None = None, **overrides: Any) -> aws.lambda_.Function:
    """A well-configured function (own role unless `role_arn` is given)."""
    settings: dict[str, Any] = {
        "runtime": "python3.12",
        "handler": "app.handler",
        "code": pulumi.AssetArchive({}),
        "timeout": 10,
        "memory_size": 256,
        "tracing_config": {"mode": "Active"},
        **overrides,
    }
    return aws.lambda_.Function(logical, role=role_arn if role_arn is not None else role(f"{logical}-role").arn, **settings)


def events_table(name: str = "events", **overrides: Any) -> aws.dynamodb.Table:
    settings: dict[str, Any] = {
        "hash_key": "stream_id",
        "range_key": "version",
        "attributes": [{"name": "stream_id", "type": "S"}, {"name": "version", "type": "N"}],
        "billing_mode": "PAY_PER_REQUEST",
        "stream_enabled": True,
        "stream_view_type": "NEW_IMAGE",
        "point_in_time_recovery": {"enabled": True},
        "server_side_encryption": {"enabled": True},
        "deletion_protection_enabled": True,
        **overrides,
    }
    opts = settings.pop("opts", pulumi.ResourceOptions(protect=True, retain_on_delete=True))
    return aws.dynamodb.Table(name, opts=opts, **settings)


def queue(name: str, **overrides: Any) -> aws.sqs.Queue:
    return aws.sqs.Queue(name, **{"sqs_managed_sse_enabled": True, **overrides})


def alarm(name: str, namespace: str, metric: str, dimensions: dict[str, Any]) -> aws.cloudwatch.MetricAlarm:
    return aws.cloudwatch.MetricAlarm(
        name,
        namespace=namespace,
        metric_name=metric,
        dimensions=dimensions,
        statistic="Maximum",
        period=60,
        evaluation_periods=1,
        comparison_operator="GreaterThanThreshold",
        threshold=0,
    )


def found(rule: Rule, program: Program) -> list[tuple[str, str]]:
    """(rule id, resource name) of each violation `rule` reports on the recorded `program`."""
    return [(v.rule_id, v.resource_name) for v in rule.check(record(program))]


def messages(rule: Rule, program: Program) -> list[str]:
    return [v.message for v in rule.check(record(program))]


# -- IAM001 no wildcard actions --------------------------------------------------------------------


def iam001(broken: str | None = None) -> Program:
    def program() -> None:
        statements = [allow(["dynamodb:GetItem", "dynamodb:Query"], TABLE_ARN), deny("dynamodb:*", TABLE_ARN)]
        if broken == "star":
            statements.append(allow("*", TABLE_ARN))
        role("app-role", *statements)
        if broken == "service-wide-inline":
            aws.iam.Role("inline-role", assume_role_policy=LAMBDA_TRUST, inline_policies=[{"name": "all", "policy": json.dumps({"Statement": [allow("dynamodb:*", TABLE_ARN)]})}])
        if broken == "partial-managed":
            aws.iam.Policy("reader", policy=json.dumps({"Statement": [allow(["dynamodb:Get*"], TABLE_ARN)]}))
        if broken == "not-action":
            aws.iam.Policy("almost-all", policy=json.dumps({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": TABLE_ARN}]}))
        if broken == "resource-policy":
            q = queue("inbox")
            aws.sqs.QueuePolicy(
                "inbox-policy",
                queue_url=q.url,
                policy=doc(allow("sqs:*", q.arn, Principal={"Service": "events.amazonaws.com"}, Condition={"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/r"}})),
            )

    return program


def test_iam001_passes_named_actions_and_wildcard_denies() -> None:
    assert found(NoWildcardActions(), iam001()) == []


@pytest.mark.parametrize(
    ("broken", "resource"),
    [
        ("star", "app-role-policy"),
        ("service-wide-inline", "inline-role"),
        ("partial-managed", "reader"),
        ("not-action", "almost-all"),
        ("resource-policy", "inbox-policy"),
    ],
)
def test_iam001_reports_wildcard_actions(broken: str, resource: str) -> None:
    assert found(NoWildcardActions(), iam001(broken)) == [("IAM001", resource)]


# -- IAM002 no * resource where scoping is possible -------------------------------------------------------


def iam002(broken: str | None = None) -> Program:
    def program() -> None:
        statements = [
            allow(["dynamodb:GetItem"], [TABLE_ARN, f"{TABLE_ARN}/index/*"]),
            allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"], "*"),
            allow(["logs:CreateLogStream", "logs:PutLogEvents"], f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/app:*"),
        ]
        if broken == "star":
            statements.append(allow(["dynamodb:GetItem"], "*"))
        if broken == "every-table":
            statements.append(allow(["dynamodb:GetItem"], f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/*"))
        if broken == "any-account":
            statements.append(allow(["dynamodb:GetItem"], "arn:aws:dynamodb:us-east-1:*:table/orders"))
        if broken == "mixed-with-unscopable":
            statements.append(allow(["xray:PutTraceSegments", "logs:PutLogEvents"], "*"))
        if broken == "not-resource":
            statements.append({"Effect": "Allow", "Action": "dynamodb:GetItem", "NotResource": TABLE_ARN})
        role("app-role", *statements)

    return program


def test_iam002_passes_exact_arns_and_unscopable_actions_on_star() -> None:
    assert found(NoWildcardResources(), iam002()) == []


@pytest.mark.parametrize("broken", ["star", "every-table", "any-account", "mixed-with-unscopable", "not-resource"])
def test_iam002_reports_unscoped_resources(broken: str) -> None:
    assert found(NoWildcardResources(), iam002(broken)) == [("IAM002", "app-role-policy")]


def test_iam002_names_only_the_scopable_actions() -> None:
    assert "['logs:PutLogEvents'] on ['*']" in messages(NoWildcardResources(), iam002("mixed-with-unscopable"))[0]


def test_iam002_allow_list_is_a_parameter() -> None:
    rule = NoWildcardResources(unscopable_actions=frozenset({"dynamodb:GetItem", "xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}))
    assert found(rule, iam002("star")) == []


# -- IAM003 policies are readable ---------------------------------------------------------------------------


def iam003(broken: str | None = None) -> Program:
    def program() -> None:
        r = role("app-role", allow("dynamodb:GetItem", TABLE_ARN))
        own = aws.iam.Policy("own", policy=json.dumps({"Statement": [allow("dynamodb:Query", TABLE_ARN)]}))
        aws.iam.RolePolicyAttachment("app-own", role=r.name, policy_arn=own.arn)
        aws.iam.RolePolicyAttachment("app-xray", role=r.name, policy_arn="arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess")
        if broken == "aws-managed":
            aws.iam.RolePolicyAttachment("app-basic", role=r.name, policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
        if broken == "managed-arns":
            aws.iam.Role("legacy-role", assume_role_policy=LAMBDA_TRUST, managed_policy_arns=["arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"])
        if broken == "not-json":
            aws.iam.RolePolicy("broken-policy", role=r.id, policy="{not json")
        if broken == "no-statement":
            aws.iam.Policy("empty", policy=json.dumps({"Version": "2012-10-17"}))

    return program


def test_iam003_passes_declared_and_trusted_policies() -> None:
    assert found(PoliciesReadable(), iam003()) == []


@pytest.mark.parametrize(
    ("broken", "resource"),
    [("aws-managed", "app-basic"), ("managed-arns", "legacy-role"), ("not-json", "broken-policy"), ("no-statement", "empty")],
)
def test_iam003_reports_what_it_cannot_read(broken: str, resource: str) -> None:
    assert found(PoliciesReadable(), iam003(broken)) == [("IAM003", resource)]


# -- IAM004 one role per function ------------------------------------------------------------------------------


def iam004(broken: str | None = None) -> Program:
    def program() -> None:
        function("orders")
        shared = role("shared-role")
        function("billing", shared.arn)
        if broken == "shared":
            function("shipping", shared.arn)
        if broken == "unused":
            role("orphan-role")
        if broken == "external":
            function("outsider", f"arn:aws:iam::{ACCOUNT}:role/made-elsewhere")
        if broken == "function-and-pipe":
            table = events_table()
            bus = aws.cloudwatch.EventBus("bus")
            aws.pipes.Pipe("pipe", role_arn=shared.arn, source=table.stream_arn, target=bus.arn)

    return program


def test_iam004_passes_one_role_per_function() -> None:
    assert found(OneRolePerFunction(), iam004()) == []


@pytest.mark.parametrize(
    ("broken", "resource"),
    [("shared", "shared-role"), ("unused", "orphan-role"), ("external", "outsider"), ("function-and-pipe", "shared-role")],
)
def test_iam004_reports_shared_unused_and_undeclared_roles(broken: str, resource: str) -> None:
    assert found(OneRolePerFunction(), iam004(broken)) == [("IAM004", resource)]


# -- RES001 no public resource policies ----------------------------------------------------------------------------


def res001(broken: str | None = None) -> Program:
    def program() -> None:
        q = queue("inbox")
        statements = [
            deny("sqs:*", q.arn, Condition={"Bool": {"aws:SecureTransport": "false"}}),
            allow("sqs:SendMessage", q.arn, Principal={"Service": "events.amazonaws.com"}),
            allow("sqs:SendMessage", q.arn, Principal="*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}),
        ]
        if broken == "queue":
            statements.append(allow("sqs:SendMessage", q.arn, Principal="*"))
        if broken == "condition-not-on-caller":
            statements.append(allow("sqs:SendMessage", q.arn, Principal={"AWS": "*"}, Condition={"Bool": {"aws:SecureTransport": "true"}}))
        aws.sqs.QueuePolicy("inbox-policy", queue_url=q.url, policy=doc(*statements))
        if broken == "bus":
            bus = aws.cloudwatch.EventBus("bus")
            aws.cloudwatch.EventBusPolicy("bus-policy", event_bus_name=bus.name, policy=doc(allow("events:PutEvents", bus.arn, Principal={"AWS": ["*"]})))
        if broken == "table-not-principal":
            table = events_table()
            aws.dynamodb.ResourcePolicy(
                "events-policy", resource_arn=table.arn, policy=doc({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "dynamodb:GetItem", "Resource": table.arn})
            )
        if broken == "trust":
            aws.iam.Role("anyone-role", assume_role_policy=json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))

    return program


def test_res001_passes_service_principals_conditioned_stars_and_denies() -> None:
    assert found(NoPublicResourcePolicies(), res001()) == []


@pytest.mark.parametrize(
    ("broken", "resource"),
    [
        ("queue", "inbox-policy"),
        ("condition-not-on-caller", "inbox-policy"),
        ("bus", "bus-policy"),
        ("table-not-principal", "events-policy"),
        ("trust", "anyone-role"),
    ],
)
def test_res001_reports_public_allows(broken: str, resource: str) -> None:
    assert found(NoPublicResourcePolicies(), res001(broken)) == [("RES001", resource)]


# -- DDB001 append-only Events table -----------------------------------------------------------------------------------


FORBIDDEN = ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"]


def ddb001(broken: str | None = None) -> Program:
    def program() -> None:
        table = events_table()
        denied = [a for a in FORBIDDEN if not (broken == "deny-misses-batch" and a == "dynamodb:BatchWriteItem")]
        statement = deny(denied, table.arn)
        if broken == "deny-conditional":
            statement["Condition"] = {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}}
        if broken != "no-resource-policy":
            aws.dynamodb.ResourcePolicy("events-policy", resource_arn=table.arn, policy=doc(statement))
        role("commands-role", allow(["dynamodb:Query", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"], table.arn))
        read_model = aws.dynamodb.Table("balance", hash_key="pk", attributes=[{"name": "pk", "type": "S"}])
        role("projector-role", allow(["dynamodb:UpdateItem", "dynamodb:DeleteItem"], read_model.arn), allow(["dynamodb:Query"], table.arn))
        if broken == "update-item":
            role("rogue-role", allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], table.arn))
        if broken == "service-wide-on-star":
            aws.iam.Policy("admin", policy=json.dumps({"Statement": [allow("dynamodb:*", "*")]}))
        if broken == "batch-write":
            aws.iam.Role("batch-role", assume_role_policy=LAMBDA_TRUST, inline_policies=[{"name": "batch", "policy": table.arn.apply(lambda a: json.dumps({"Statement": [allow("dynamodb:BatchWriteItem", a)]}))}])

    return program


def test_ddb001_passes_appends_and_read_model_updates() -> None:
    assert found(EventsTableAppendOnly(), ddb001()) == []


@pytest.mark.parametrize(
    ("broken", "resource"),
    [
        ("update-item", "rogue-role-policy"),
        ("service-wide-on-star", "admin"),
        ("batch-write", "batch-role"),
        ("no-resource-policy", "events"),
        ("deny-misses-batch", "events"),
        ("deny-conditional", "events"),
    ],
)
def test_ddb001_reports_changes_to_events(broken: str, resource: str) -> None:
    assert found(EventsTableAppendOnly(), ddb001(broken)) == [("DDB001", resource)]


def test_ddb001_recognises_an_events_table_by_its_tag() -> None:
    def program() -> None:
        aws.dynamodb.Table("ledger", hash_key="id", attributes=[{"name": "id", "type": "S"}], tags={"event-store": "true"})
        aws.dynamodb.Table("cache", hash_key="id", attributes=[{"name": "id", "type": "S"}])

    assert found(EventsTableAppendOnly(), program) == [("DDB001", "ledger")]


# -- DDB002 durable Events table ---------------------------------------------------------------------------------------------


def ddb002(broken: str | None = None) -> Program:
    def program() -> None:
        overrides: dict[str, Any] = {
            "pitr": {"point_in_time_recovery": {"enabled": False}},
            "sse": {"server_side_encryption": None},
            "deletion-protection": {"deletion_protection_enabled": False},
            "protect": {"opts": pulumi.ResourceOptions(retain_on_delete=True)},
            "retain": {"opts": pulumi.ResourceOptions(protect=True)},
        }.get(broken or "", {})
        events_table(**overrides)
        aws.dynamodb.Table("balance", hash_key="pk", attributes=[{"name": "pk", "type": "S"}])

    return program


def test_ddb002_passes_a_protected_events_table() -> None:
    assert found(EventsTableDurable(), ddb002()) == []


@pytest.mark.parametrize(
    ("broken", "missing"),
    [
        ("pitr", "point_in_time_recovery.enabled"),
        ("sse", "server_side_encryption.enabled"),
        ("deletion-protection", "deletion_protection_enabled"),
        ("protect", "option protect"),
        ("retain", "option retain_on_delete"),
    ],
)
def test_ddb002_reports_each_missing_safeguard(broken: str, missing: str) -> None:
    stack = record(ddb002(broken))
    violations = EventsTableDurable().check(stack)
    assert [(v.rule_id, v.resource_name) for v in violations] == [("DDB002", "events")]
    assert f"['{missing}']" in violations[0].message


# -- DDB003 every table encrypted --------------------------------------------------------------------------------------------------


def test_ddb003_passes_encrypted_tables_and_reports_a_plain_one() -> None:
    def program() -> None:
        events_table()
        aws.dynamodb.Table("balance", hash_key="pk", attributes=[{"name": "pk", "type": "S"}], server_side_encryption={"enabled": True})
        aws.dynamodb.Table("calendar", hash_key="pk", attributes=[{"name": "pk", "type": "S"}])

    assert found(TablesEncrypted(), program) == [("DDB003", "calendar")]


# -- EVT001 publisher limited to its source ------------------------------------------------------------------------------


def evt001(broken: str | None = None, *, pipe: bool = False) -> Program:
    def program() -> None:
        table = events_table()
        bus = aws.cloudwatch.EventBus("bus")
        other = aws.cloudwatch.EventBus("other-bus")
        put = allow("events:PutEvents", bus.arn, Condition={"StringEquals": {"events:source": ["acme.orders"]}})
        if broken == "no-condition":
            put = allow("events:PutEvents", bus.arn)
        if broken == "other-source":
            put["Condition"] = {"StringEquals": {"events:source": "acme.billing"}}
        if broken == "two-sources":
            put["Condition"] = {"StringEquals": {"events:source": ["acme.orders", "acme.billing"]}}
        if broken == "any-bus":
            put["Resource"] = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/*"
        statements = [put] if broken != "cannot-publish" else []
        if broken == "two-buses":
            statements.append(allow("events:PutEvents", other.arn, Condition={"StringEquals": {"events:source": "acme.orders"}}))
        publisher_role = role("publisher-role", allow(["dynamodb:GetRecords"], table.stream_arn), *statements)
        if pipe:
            aws.pipes.Pipe(
                "publisher",
                role_arn=publisher_role.arn,
                source=table.stream_arn,
                target=bus.arn,
                target_parameters={"eventbridge_event_bus_parameters": {"source": "acme.orders", "detail_type": "$.dynamodb.NewImage.event_type.S"}},
            )
            return
        fn = function("publisher", publisher_role.arn, environment={"variables": {"EVENT_SOURCE": "acme.orders", "EVENT_BUS_NAME": bus.name}})
        aws.lambda_.EventSourceMapping("publisher-stream", event_source_arn=table.stream_arn, function_name=fn.arn, starting_position="TRIM_HORIZON")
        # A projector on the bus may put events of other kinds: the rule is about the publisher.
        function("projector", role("projector-role", allow("events:PutEvents", other.arn)).arn)

    return program


@pytest.mark.parametrize("pipe", [False, True], ids=["lambda", "pipe"])
def test_evt001_passes_one_bus_and_own_source(pipe: bool) -> None:
    assert found(PublisherLimitedToItsSource(), evt001(pipe=pipe)) == []


@pytest.mark.parametrize("broken", ["no-condition", "other-source", "two-sources", "any-bus", "two-buses", "cannot-publish"])
@pytest.mark.parametrize("pipe", [False, True], ids=["lambda", "pipe"])
def test_evt001_reports_a_publisher_that_could_speak_for_others(broken: str, pipe: bool) -> None:
    assert found(PublisherLimitedToItsSource(), evt001(broken, pipe=pipe)) == [("EVT001", "publisher")]


# -- ESM001 event source mappings handle failures ------------------------------------------------------------------


def esm001(broken: str | None = None) -> Program:
    def program() -> None:
        table = events_table()
        dlq = queue("publisher-dlq")
        fn = function("publisher")
        settings: dict[str, Any] = {
            "destination_config": {"on_failure": {"destination_arn": dlq.arn}},
            "maximum_retry_attempts": 10,
            "maximum_record_age_in_seconds": 86400,
            "bisect_batch_on_function_error": True,
        }
        if broken == "no-destination":
            del settings["destination_config"]
        if broken == "infinite-retries":
            settings["maximum_retry_attempts"] = -1
        if broken == "unbounded-age":
            del settings["maximum_record_age_in_seconds"]
        if broken == "no-bisect":
            settings["bisect_batch_on_function_error"] = False
        aws.lambda_.EventSourceMapping("publisher-stream", event_source_arn=table.stream_arn, function_name=fn.arn, starting_position="TRIM_HORIZON", **settings)
        work_dlq = queue("work-dlq")
        redrive = None if broken == "sqs-without-redrive" else work_dlq.arn.apply(lambda a: json.dumps({"deadLetterTargetArn": a, "maxReceiveCount": 5}))
        work = queue("work", redrive_policy=redrive)
        aws.lambda_.EventSourceMapping("worker-queue", event_source_arn=work.arn, function_name=function("worker").name)
        pipe_params: dict[str, Any] = {
            "starting_position": "TRIM_HORIZON",
            "dead_letter_config": {"arn": dlq.arn},
            "maximum_retry_attempts": 10,
            "maximum_record_age_in_seconds": 3600,
            "on_partial_batch_item_failure": "AUTOMATIC_BISECT",
        }
        if broken == "pipe-without-dlq":
            del pipe_params["dead_letter_config"]
        bus = aws.cloudwatch.EventBus("bus")
        aws.pipes.Pipe("pipe", role_arn=role("pipe-role").arn, source=table.stream_arn, target=bus.arn, source_parameters={"dynamodb_stream_parameters": pipe_params})

    return program


def test_esm001_passes_bounded_mappings_with_destinations() -> None:
    assert found(MappingsHandleFailures(), esm001()) == []


@pytest.mark.parametrize(
    ("broken", "resource"),
    [
        ("no-destination", "publisher-stream"),
        ("infinite-retries", "publisher-stream"),
        ("unbounded-age", "publisher-stream"),
        ("no-bisect", "publisher-stream"),
        ("sqs-without-redrive", "worker-queue"),
        ("pipe-without-dlq", "pipe"),
    ],
)
def test_esm001_reports_mappings_that_lose_or_block_records(broken: str, resource: str) -> None:
    assert found(MappingsHandleFailures(), esm001(broken)) == [("ESM001", resource)]


# -- EVT002 rule targets handle failures ------------------------------------------------------------------------------------


def evt002(broken: str | None = None) -> Program:
    def program() -> None:
        bus = aws.cloudwatch.EventBus("bus")
        rule = aws.cloudwatch.EventRule("rule", event_bus_name=bus.name, event_pattern=json.dumps({"source": ["acme.orders"]}))
        dlq = queue("dlq")
        settings: dict[str, Any] = {"dead_letter_config": {"arn": dlq.arn}, "retry_policy": {"maximum_retry_attempts": 10, "maximum_event_age_in_seconds": 3600}}
        if broken == "no-dlq":
            del settings["dead_letter_config"]
        if broken == "no-retry-policy":
            del settings["retry_policy"]
        aws.cloudwatch.EventTarget("to-function", rule=rule.name, event_bus_name=bus.name, arn=function("projector").arn, **settings)
        aws.cloudwatch.EventTarget(
            "to-queue", rule=rule.name, event_bus_name=bus.name, arn=queue("work").arn, dead_letter_config={"arn": dlq.arn}, retry_policy={"maximum_retry_attempts": 3}
        )

    return program


def test_evt002_passes_targets_with_dlq_and_retry_policy() -> None:
    assert found(TargetsHandleFailures(), evt002()) == []


@pytest.mark.parametrize("broken", ["no-dlq", "no-retry-policy"])
def test_evt002_reports_targets_that_drop_events(broken: str) -> None:
    assert found(TargetsHandleFailures(), evt002(broken)) == [("EVT002", "to-function")]


# -- SQS001 / SQS002 queues ------------------------------------------------------------------------------------------------------------


def test_sqs001_passes_managed_sse_and_kms_and_reports_a_plain_queue() -> None:
    def program() -> None:
        queue("managed")
        aws.sqs.Queue("kms", kms_master_key_id="alias/aws/sqs")
        aws.sqs.Queue("plain")
        aws.sqs.Queue("switched-off", sqs_managed_sse_enabled=False)

    assert found(QueuesEncrypted(), program) == [("SQS001", "plain"), ("SQS001", "switched-off")]


def sqs002(broken: str | None = None) -> Program:
    def program() -> None:
        q = queue("dlq")
        tls = deny("sqs:*", q.arn, Condition={"Bool": {"aws:SecureTransport": "false"}})
        if broken == "only-send":
            tls["Action"] = "sqs:SendMessage"
        if broken == "wrong-condition":
            tls["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
        if broken == "not-everyone":
            tls["Principal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        if broken != "no-policy":
            aws.sqs.QueuePolicy("dlq-policy", queue_url=q.url, policy=doc(tls))
        aws.sqs.Queue("inline", sqs_managed_sse_enabled=True, policy=json.dumps({"Statement": [deny("*", "*", Condition={"Bool": {"aws:SecureTransport": False}})]}))

    return program


def test_sqs002_passes_queue_policies_and_inline_policies_that_deny_plain_http() -> None:
    assert found(QueuesRequireTls(), sqs002()) == []


@pytest.mark.parametrize("broken", ["no-policy", "only-send", "wrong-condition", "not-everyone"])
def test_sqs002_reports_queues_that_accept_plain_http(broken: str) -> None:
    assert found(QueuesRequireTls(), sqs002(broken)) == [("SQS002", "dlq")]


# -- LOG001 / LOG002 logs ----------------------------------------------------------------------------------------------------------------------


def test_log001_passes_retention_and_reports_missing_or_zero() -> None:
    def program() -> None:
        aws.cloudwatch.LogGroup("kept", retention_in_days=30)
        aws.cloudwatch.LogGroup("forever")
        aws.cloudwatch.LogGroup("zero", retention_in_days=0)

    assert found(LogGroupsRetained(), program) == [("LOG001", "forever"), ("LOG001", "zero")]


def log002(broken: str | None = None) -> Program:
    def program() -> None:
        group = aws.cloudwatch.LogGroup("custom-logs", name_prefix="/aws/lambda/custom-", retention_in_days=7)
        function("custom", logging_config={"log_format": "JSON", "log_group": group.name})
        aws.cloudwatch.LogGroup("default-logs", name="/aws/lambda/by-default", retention_in_days=7)
        function("by-default", name="by-default")
        if broken == "no-group":
            function("silent", name="silent")
        if broken == "other-group":
            function("misrouted", logging_config={"log_format": "JSON", "log_group": "/shared/logs"})

    return program


def test_log002_passes_functions_with_declared_log_groups() -> None:
    assert found(FunctionsHaveLogGroups(), log002()) == []


@pytest.mark.parametrize(("broken", "resource"), [("no-group", "silent"), ("other-group", "misrouted")])
def test_log002_reports_functions_without_a_declared_log_group(broken: str, resource: str) -> None:
    assert found(FunctionsHaveLogGroups(), log002(broken)) == [("LOG002", resource)]


# -- LAM001 Lambda permissions -------------------------------------------------------------------------------------------------------------------


def lam001(broken: str | None = None) -> Program:
    def program() -> None:
        bus = aws.cloudwatch.EventBus("bus")
        rule = aws.cloudwatch.EventRule("rule", event_bus_name=bus.name, event_pattern="{}")
        projector = function("projector")
        aws.lambda_.Permission("projector-invoke", action="lambda:InvokeFunction", function=projector.name, principal="events.amazonaws.com", source_arn=rule.arn)
        api = aws.apigatewayv2.Api("api", protocol_type="HTTP")
        other_api = aws.apigatewayv2.Api("other-api", protocol_type="HTTP")
        commands = function("commands")
        aws.apigatewayv2.Integration("commands-integration", api_id=api.id, integration_type="AWS_PROXY", integration_uri=commands.invoke_arn)
        source: pulumi.Input[str] | None = pulumi.Output.concat(api.execution_arn, "/*/*")
        principal = "apigateway.amazonaws.com"
        if broken == "no-source":
            source = None
        if broken == "other-api":
            source = pulumi.Output.concat(other_api.execution_arn, "/*/*")
        if broken == "any-account":
            source = api.execution_arn.apply(lambda a: a.replace(ACCOUNT, "*") + "/*/*")
        if broken == "anyone":
            principal = "*"
        aws.lambda_.Permission("commands-invoke", action="lambda:InvokeFunction", function=commands.name, principal=principal, source_arn=source)
        if broken == "any-rule":
            aws.lambda_.Permission(
                "loose-invoke", action="lambda:InvokeFunction", function=projector.arn, principal="events.amazonaws.com", source_arn=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/*"
            )

    return program


def test_lam001_passes_rule_arns_and_the_integrating_apis_execution_arn() -> None:
    assert found(PermissionsScopedBySource(), lam001()) == []


@pytest.mark.parametrize(
    ("broken", "resource"),
    [
        ("no-source", "commands-invoke"),
        ("other-api", "commands-invoke"),
        ("any-account", "commands-invoke"),
        ("anyone", "commands-invoke"),
        ("any-rule", "loose-invoke"),
    ],
)
def test_lam001_reports_permissions_any_source_could_use(broken: str, resource: str) -> None:
    assert found(PermissionsScopedBySource(), lam001(broken)) == [("LAM001", resource)]


# -- API001 / API002 the HTTP API ----------------------------------------------------------------------------------------------------------------


def api001(broken: str | None = None) -> Program:
    def program() -> None:
        api = aws.apigatewayv2.Api("api", protocol_type="HTTP")
        jwt = {"issuer": "https://issuer.example", "audiences": ["client"]}
        if broken == "no-audience":
            jwt = {"issuer": "https://issuer.example", "audiences": []}
        auth = aws.apigatewayv2.Authorizer("jwt", api_id=api.id, authorizer_type="JWT", identity_sources=["$request.header.Authorization"], jwt_configuration=jwt)
        aws.apigatewayv2.Route("post-orders", api_id=api.id, route_key="POST /orders", authorization_type="JWT", authorizer_id=auth.id)
        aws.apigatewayv2.Route("get-orders", api_id=api.id, route_key="GET /orders", authorization_type="AWS_IAM")
        aws.apigatewayv2.Route("openapi", api_id=api.id, route_key="GET /openapi.json", authorization_type="NONE")
        if broken == "open":
            aws.apigatewayv2.Route("get-health", api_id=api.id, route_key="GET /health")
        if broken == "jwt-without-authorizer":
            aws.apigatewayv2.Route("delete-order", api_id=api.id, route_key="DELETE /orders/{id}", authorization_type="JWT")

    return program


def test_api001_passes_authorised_routes_and_the_public_openapi_document() -> None:
    assert found(RoutesAuthorized(), api001()) == []


@pytest.mark.parametrize(("broken", "resource"), [("open", "get-health"), ("jwt-without-authorizer", "delete-order"), ("no-audience", "jwt")])
def test_api001_reports_open_routes_and_incomplete_authorisation(broken: str, resource: str) -> None:
    assert found(RoutesAuthorized(), api001(broken)) == [("API001", resource)]


def test_api001_public_routes_are_a_parameter() -> None:
    assert found(RoutesAuthorized(public_routes=frozenset({"GET /openapi.json", "GET /health"})), api001("open")) == []
    assert found(RoutesAuthorized(public_routes=frozenset()), api001()) == [("API001", "openapi")]


def api002(broken: str | None = None) -> Program:
    def program() -> None:
        api = aws.apigatewayv2.Api("api", protocol_type="HTTP")
        logs = aws.cloudwatch.LogGroup("access-logs", retention_in_days=30)
        settings: dict[str, Any] = {
            "default_route_settings": {"throttling_burst_limit": 100, "throttling_rate_limit": 50},
            "access_log_settings": {"destination_arn": logs.arn, "format": json.dumps({"requestId": "$context.requestId"})},
        }
        if broken == "no-throttling":
            settings["default_route_settings"] = {"detailed_metrics_enabled": True}
        if broken == "zero-rate":
            settings["default_route_settings"] = {"throttling_burst_limit": 100, "throttling_rate_limit": 0}
        if broken == "no-access-logs":
            del settings["access_log_settings"]
        aws.apigatewayv2.Stage("stage", api_id=api.id, name="$default", auto_deploy=True, **settings)

    return program


def test_api002_passes_a_throttled_logged_stage() -> None:
    assert found(StagesThrottledAndLogged(), api002()) == []


@pytest.mark.parametrize("broken", ["no-throttling", "zero-rate", "no-access-logs"])
def test_api002_reports_unthrottled_or_unlogged_stages(broken: str) -> None:
    assert found(StagesThrottledAndLogged(), api002(broken)) == [("API002", "stage")]


# -- OBS001..OBS004 observability ----------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"tracing_config": {"mode": "PassThrough"}}, "tracing_config.mode is not Active"),
        ({"tracing_config": None}, "tracing_config.mode is not Active"),
        ({"timeout": None}, "no explicit timeout"),
        ({"memory_size": None}, "no explicit memory_size"),
    ],
)
def test_obs001_reports_untraced_or_unsized_functions(overrides: dict[str, Any], problem: str) -> None:
    def program() -> None:
        function("configured")
        function("careless", **overrides)

    stack = record(program)
    violations = FunctionsConfigured().check(stack)
    assert [(v.rule_id, v.resource_name, v.message) for v in violations] == [("OBS001", "careless", problem)]


def obs002(broken: str | None = None) -> Program:
    def program() -> None:
        watched = function("watched")
        alarm("watched-errors", "AWS/Lambda", "Errors", {"FunctionName": watched.name})
        math = function("math")
        aws.cloudwatch.MetricAlarm(
            "math-error-rate",
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=1,
            threshold=0.05,
            metric_queries=[
                {"id": "errors", "metric": {"namespace": "AWS/Lambda", "metric_name": "Errors", "dimensions": {"FunctionName": math.name}, "period": 60, "stat": "Sum"}},
                {"id": "rate", "expression": "errors / 100", "return_data": True},
            ],
        )
        if broken == "no-alarm":
            function("unwatched")
        if broken == "other-metric":
            throttled = function("throttled")
            alarm("throttled-throttles", "AWS/Lambda", "Throttles", {"FunctionName": throttled.name})

    return program


def test_obs002_passes_functions_with_errors_alarms_including_metric_math() -> None:
    assert found(FunctionErrorAlarms(), obs002()) == []


@pytest.mark.parametrize(("broken", "resource"), [("no-alarm", "unwatched"), ("other-metric", "throttled")])
def test_obs002_reports_functions_without_an_errors_alarm(broken: str, resource: str) -> None:
    assert found(FunctionErrorAlarms(), obs002(broken)) == [("OBS002", resource)]


def obs003(broken: str | None = None) -> Program:
    def program() -> None:
        bus = aws.cloudwatch.EventBus("bus")
        rule = aws.cloudwatch.EventRule("rule", event_bus_name=bus.name, event_pattern="{}")
        dlq = queue("projector-dlq")
        metric = "ApproximateAgeOfOldestMessage" if broken == "other-metric" else "ApproximateNumberOfMessagesVisible"
        if broken != "no-alarm":
            alarm("projector-dlq-depth", "AWS/SQS", metric, {"QueueName": dlq.name})
        fn = function("projector")
        aws.cloudwatch.EventTarget("target", rule=rule.name, event_bus_name=bus.name, arn=fn.arn, dead_letter_config={"arn": dlq.arn})
        aws.lambda_.FunctionEventInvokeConfig("projector-async", function_name=fn.name, destination_config={"on_failure": {"destination": dlq.arn}})
        queue("work")  # not a DLQ: no alarm needed

    return program


def test_obs003_passes_dlqs_with_depth_alarms() -> None:
    assert found(DeadLetterQueueAlarms(), obs003()) == []


@pytest.mark.parametrize("broken", ["no-alarm", "other-metric"])
def test_obs003_reports_each_unwatched_dlq_once(broken: str) -> None:
    assert found(DeadLetterQueueAlarms(), obs003(broken)) == [("OBS003", "projector-dlq")]


def obs004(broken: str | None = None) -> Program:
    def program() -> None:
        table = events_table()
        fn = function("publisher")
        aws.lambda_.EventSourceMapping("publisher-stream", event_source_arn=table.stream_arn, function_name=fn.arn, starting_position="TRIM_HORIZON")
        if broken != "no-alarm":
            alarm("publisher-iterator-age", "AWS/Lambda", "IteratorAge", {"FunctionName": fn.name})
        work = queue("work")
        aws.lambda_.EventSourceMapping("worker-queue", event_source_arn=work.arn, function_name=function("worker").name)

    return program


def test_obs004_passes_a_stream_mapping_with_an_iterator_age_alarm() -> None:
    assert found(StreamIteratorAgeAlarms(), obs004()) == []


def test_obs004_reports_a_stream_mapping_without_an_iterator_age_alarm() -> None:
    assert found(StreamIteratorAgeAlarms(), obs004("no-alarm")) == [("OBS004", "publisher-stream")]


# -- the engine: selection, exemptions, the report --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def leaky_stack() -> Any:
    """Two log groups without retention and one with."""

    def program() -> None:
        aws.cloudwatch.LogGroup("kept", retention_in_days=30)
        aws.cloudwatch.LogGroup("forever")
        aws.cloudwatch.LogGroup("legacy")

    return record(program, project="shop", stack="dev")


def test_default_rules_have_unique_ids_titles_and_rationales() -> None:
    ids = [r.id for r in DEFAULT_RULES]
    assert len(ids) == len(set(ids)) == 22
    assert all(isinstance(r, Rule) and r.title and len(r.rationale) > 40 for r in DEFAULT_RULES)


def test_report_lists_open_violations_and_is_not_ok(leaky_stack: Any) -> None:
    report = check_stack(leaky_stack, rules=[LogGroupsRetained(), QueuesEncrypted()])
    assert not report.ok
    assert [(v.rule_id, v.resource_name) for v in report.violations] == [("LOG001", "forever"), ("LOG001", "legacy")]
    text = report.render()
    assert "Policy report for stack shop/dev: 2 rules, 1 passed, 1 failed; 2 violations, 0 exempted" in text
    assert "FAIL LOG001 Every log group has a retention period (2 violations)" in text
    assert "PASS SQS001 Every SQS queue is encrypted at rest" in text
    assert "- forever (aws:cloudwatch/logGroup:LogGroup): retention_in_days is None" in text


def test_exemptions_cover_matching_violations_only(leaky_stack: Any) -> None:
    report = check_stack(leaky_stack, rules=[LogGroupsRetained()], exemptions=[Exemption("LOG001", "legacy", "audit logs kept by law")])
    assert [v.resource_name for v in report.violations] == ["forever"]
    assert "~ exempted legacy: audit logs kept by law" in report.render()
    assert report.results[0].exempted[0][1].reason == "audit logs kept by law"


def test_a_fully_exempted_stack_is_ok(leaky_stack: Any) -> None:
    exemptions = [Exemption("LOG001", name, "kept by law") for name in ("forever", "legacy")]
    report = check_stack(leaky_stack, rules=[LogGroupsRetained()], exemptions=exemptions)
    assert report.ok
    assert "PASS LOG001 Every log group has a retention period (2 exempted)" in report.render()


@pytest.mark.parametrize(
    "exemption",
    [Exemption("LOG001", "kept", "no violation to cover"), Exemption("SQS001", "legacy", "wrong rule"), Exemption("LOG001", "gone", "resource removed")],
)
def test_an_exemption_that_matches_nothing_is_reported(leaky_stack: Any, exemption: Exemption) -> None:
    exemptions = [Exemption("LOG001", "forever", "x"), Exemption("LOG001", "legacy", "x"), exemption]
    report = check_stack(leaky_stack, rules=[LogGroupsRetained(), QueuesEncrypted()], exemptions=exemptions)
    assert not report.ok
    assert [(v.rule_id, v.resource_name) for v in report.violations] == [("EXEMPT", exemption.resource_name)]
    assert f"- {exemption.rule_id} {exemption.resource_name}: matched nothing" in report.render()


def test_an_exemption_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        Exemption("LOG001", "legacy", " ")


def test_check_stack_runs_the_default_rules_when_none_are_given(leaky_stack: Any) -> None:
    report = check_stack(leaky_stack)
    assert [r.rule.id for r in report.results] == [r.id for r in DEFAULT_RULES]
    assert {v.rule_id for v in report.violations} == {"LOG001"}


def test_replace_rules_swaps_a_rule_by_id_and_appends_new_ones() -> None:
    class Custom:
        id, title, rationale = "ACME001", "Custom", "A rule of the user's own."

        def check(self, stack: Any) -> list[Violation]:
            return []

    wider = RoutesAuthorized(public_routes=frozenset({"GET /health"}))
    rules = replace_rules(DEFAULT_RULES, wider, Custom())
    assert [r.id for r in rules] == [r.id for r in DEFAULT_RULES] + ["ACME001"]
    assert next(r for r in rules if r.id == "API001") is wider


def test_a_user_rule_is_any_object_with_the_rule_attributes(leaky_stack: Any) -> None:
    class NoLegacy:
        id, title, rationale = "ACME001", "Nothing is called legacy", "Names say what things are."

        def check(self, stack: Any) -> list[Violation]:
            return [Violation.of(self.id, r, "named legacy") for r in stack.resources if r.name == "legacy"]

    report = check_stack(leaky_stack, rules=[NoLegacy()])
    assert [(v.rule_id, v.resource_name) for v in report.violations] == [("ACME001", "legacy")]


def test_repeated_rule_ids_are_refused(leaky_stack: Any) -> None:
    with pytest.raises(ValueError, match="LOG001"):
        check_stack(leaky_stack, rules=[LogGroupsRetained(), LogGroupsRetained()])
