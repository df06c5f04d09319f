"""Every policy rule against a small stack of raw pulumi_aws resources (no components).

Each rule gets one recorded stack (a module-scoped fixture, recorded once): resources that
satisfy the rule, plus one resource per way to break it. The rule must report exactly the
broken resources, once each (so the correct ones pass), and say why for each.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from acme_eventsourcing.testing import RecordedStack, record
from acme_eventsourcing.testing.policy import (
    DEFAULT_RULES,
    ClientsCannotWriteIdentity,
    CustomerManagedKeys,
    DeadLetterQueueAlarms,
    EventsTableAppendOnly,
    EventsTableDurable,
    Exemption,
    FederatedPoolsHaveNoPasswords,
    FunctionErrorAlarms,
    FunctionsConfigured,
    FunctionsHaveLogGroups,
    IdentityAttributesImmutable,
    IdentityMappedFromIdp,
    IdpSecretsEncrypted,
    KeysManagedAndRotated,
    LogGroupsRetained,
    MappingsHandleFailures,
    NoPublicResourcePolicies,
    NoWildcardActions,
    NoWildcardResources,
    OAuthCodeFlowOnly,
    OneRolePerFunction,
    PermissionsScopedBySource,
    PoliciesReadable,
    PublicFunctionsHoldNoSecrets,
    PublisherLimitedToItsSource,
    QueuesEncrypted,
    QueuesRequireTls,
    RedirectUrlsSecure,
    RoutesAuthorized,
    Rule,
    StagesThrottledAndLogged,
    StreamIteratorAgeAlarms,
    TablesEncrypted,
    TargetsHandleFailures,
    Violation,
    check_stack,
    replace_rules,
)

ACCOUNT = "123456789012"
ARN = f"us-east-1:{ACCOUNT}"
TABLE_ARN = f"arn:aws:dynamodb:{ARN}:table/orders"
STREAM_ARN = f"{TABLE_ARN}/stream/2026-01-01T00:00:00.000"
BUS_ARN = f"arn:aws:events:{ARN}:event-bus/orders"
OTHER_BUS_ARN = f"arn:aws:events:{ARN}:event-bus/billing"
RULE_ARN = f"arn:aws:events:{ARN}:rule/orders/projector"
QUEUE_ARN = f"arn:aws:sqs:{ARN}:orders-dlq"
#: A role the rule under test does not look at (saves declaring one per function).
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)
MANAGED = "arn:aws:iam::aws:policy"


# -- building blocks -------------------------------------------------------------------------------


def doc(*statements: Any) -> pulumi.Output[str]:
    """A policy document (JSON text); statements may hold Outputs."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: Any, resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def deny(actions: Any, resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": "*", "Action": actions, "Resource": resources, **extra}


def tls_only(queue_arn: Any) -> dict[str, Any]:
    return deny("sqs:*", queue_arn, Condition={"Bool": {"aws:SecureTransport": "false"}})


def role(name: str, *statements: Any, trust: str = LAMBDA_TRUST) -> aws.iam.Role:
    """A role; its statements go in a RolePolicy named `{name}-policy`."""
    r = aws.iam.Role(name, assume_role_policy=trust)
    if statements:
        aws.iam.RolePolicy(f"{name}-policy", role=r.id, policy=doc(*statements))
    return r


def function(logical: str, role_arn: pulumi.Input[str] = ROLE_ARN, **overrides: Any) -> aws.lambda_.Function:
    """A traced function with explicit timeout and memory."""
    settings: dict[str, Any] = {
        "runtime": "python3.12",
        "handler": "app.handler",
        "code": pulumi.AssetArchive({}),
        "timeout": 10,
        "memory_size": 256,
        "tracing_config": {"mode": "Active"},
        **overrides,
    }
    return aws.lambda_.Function(logical, role=role_arn, **settings)


def events_table(name: str, **overrides: Any) -> aws.dynamodb.Table:
    """A table with the Events table's keys, protected, retained, recoverable, encrypted."""
    settings: dict[str, Any] = {
        "hash_key": "stream_id",
        "range_key": "version",
        "attributes": [{"name": "stream_id", "type": "S"}, {"name": "version", "type": "N"}],
        "stream_enabled": True,
        "stream_view_type": "NEW_IMAGE",
        "point_in_time_recovery": {"enabled": True},
        "server_side_encryption": {"enabled": True},
        "deletion_protection_enabled": True,
        **overrides,
    }
    opts = settings.pop("opts", pulumi.ResourceOptions(protect=True, retain_on_delete=True))
    return aws.dynamodb.Table(name, opts=opts, **settings)


def plain_table(name: str, **overrides: Any) -> aws.dynamodb.Table:
    return aws.dynamodb.Table(name, hash_key="pk", attributes=[{"name": "pk", "type": "S"}], **overrides)


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


def found(rule: Rule, stack: RecordedStack) -> list[tuple[str, str]]:
    """(rule id, resource name) of each violation, sorted."""
    return sorted((v.rule_id, v.resource_name) for v in rule.check(stack))


def message(rule: Rule, stack: RecordedStack, resource: str) -> str:
    """The one message `rule` gives for `resource`."""
    messages = [v.message for v in rule.check(stack) if v.resource_name == resource]
    assert len(messages) == 1, f"expected one violation on {resource!r}, got {messages}"
    return messages[0]


def stack_of(program: Callable[[], None]) -> RecordedStack:
    return record(program)


# -- IAM001 no wildcard actions --------------------------------------------------------------------

IAM001_BROKEN = {
    "star-role-policy": "allows wildcard actions ['*']",
    "inline-role": "inline policy 'all': a statement without Sid allows wildcard actions ['dynamodb:*']",
    "reader": "allows wildcard actions ['dynamodb:Get*']",
    "almost-all": "allows NotAction ['iam:*'], i.e. every other action",
    "inbox-policy": "allows wildcard actions ['sqs:*']",
}


@pytest.fixture(scope="module")
def iam001_stack() -> RecordedStack:
    def program() -> None:
        role("app-role", allow(["dynamodb:GetItem", "dynamodb:Query"], TABLE_ARN), deny("dynamodb:*", TABLE_ARN))
        aws.sqs.QueuePolicy("ok-policy", queue_url="https://q/ok", policy=doc(tls_only(QUEUE_ARN)))
        role("star-role", allow("*", TABLE_ARN))
        all_of_dynamodb = json.dumps({"Statement": [allow("dynamodb:*", TABLE_ARN)]})
        aws.iam.Role("inline-role", assume_role_policy=LAMBDA_TRUST, inline_policies=[{"name": "all", "policy": all_of_dynamodb}])
        aws.iam.Policy("reader", policy=json.dumps({"Statement": [allow(["dynamodb:Get*"], TABLE_ARN)]}))
        aws.iam.Policy("almost-all", policy=json.dumps({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": TABLE_ARN}]}))
        from_rule = {"Principal": {"Service": "events.amazonaws.com"}, "Condition": {"ArnEquals": {"aws:SourceArn": RULE_ARN}}}
        aws.sqs.QueuePolicy("inbox-policy", queue_url="https://q/inbox", policy=doc(allow("sqs:*", QUEUE_ARN, **from_rule)))

    return stack_of(program)


def test_iam001_reports_exactly_the_wildcard_allows(iam001_stack: RecordedStack) -> None:
    assert found(NoWildcardActions(), iam001_stack) == sorted(("IAM001", r) for r in IAM001_BROKEN)


@pytest.mark.parametrize(("resource", "why"), IAM001_BROKEN.items())
def test_iam001_says_which_wildcard(iam001_stack: RecordedStack, resource: str, why: str) -> None:
    assert why in message(NoWildcardActions(), iam001_stack, resource)


# -- IAM002 no * resource where scoping is possible ------------------------------------------------

IAM002_BROKEN = {
    "star-role-policy": "allows ['dynamodb:GetItem'] on ['*']",
    "every-table-role-policy": f"allows ['dynamodb:GetItem'] on ['arn:aws:dynamodb:{ARN}:table/*']",
    "any-account-role-policy": "allows ['dynamodb:GetItem'] on ['arn:aws:dynamodb:us-east-1:*:table/orders']",
    "mixed-role-policy": "allows ['logs:PutLogEvents'] on ['*']",
    "not-resource-role-policy": "allows NotResource",
    "every-bucket-role-policy": "allows ['s3:GetObject'] on ['arn:aws:s3:::*']",
    "bucket-prefix-role-policy": "allows ['s3:GetObject'] on ['arn:aws:s3:::acme-*/*']",
}


@pytest.fixture(scope="module")
def iam002_stack() -> RecordedStack:
    def program() -> None:
        role(
            "app-role",
            allow(["dynamodb:GetItem"], [TABLE_ARN, f"{TABLE_ARN}/index/*"]),
            allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"], "*"),
            allow(["logs:CreateLogStream", "logs:PutLogEvents"], f"arn:aws:logs:{ARN}:log-group:/aws/lambda/app:*"),
            allow(["s3:PutObject"], ["arn:aws:s3:::acme-backup", "arn:aws:s3:::acme-backup/*"]),  # one bucket's objects
            deny("dynamodb:DeleteItem", "*"),
        )
        role("star-role", allow(["dynamodb:GetItem"], "*"))
        role("every-table-role", allow(["dynamodb:GetItem"], f"arn:aws:dynamodb:{ARN}:table/*"))
        role("any-account-role", allow(["dynamodb:GetItem"], "arn:aws:dynamodb:us-east-1:*:table/orders"))
        role("mixed-role", allow(["xray:PutTraceSegments", "logs:PutLogEvents"], "*"))
        role("not-resource-role", {"Effect": "Allow", "Action": "dynamodb:GetItem", "NotResource": TABLE_ARN})
        role("every-bucket-role", allow(["s3:GetObject"], "arn:aws:s3:::*"))
        role("bucket-prefix-role", allow(["s3:GetObject"], "arn:aws:s3:::acme-*/*"))

    return stack_of(program)


def test_iam002_reports_exactly_the_unscoped_resources(iam002_stack: RecordedStack) -> None:
    assert found(NoWildcardResources(), iam002_stack) == sorted(("IAM002", r) for r in IAM002_BROKEN)


@pytest.mark.parametrize(("resource", "why"), IAM002_BROKEN.items())
def test_iam002_names_the_scopable_actions_and_the_wildcard(iam002_stack: RecordedStack, resource: str, why: str) -> None:
    assert why in message(NoWildcardResources(), iam002_stack, resource)


def test_iam002_allow_list_is_a_parameter(iam002_stack: RecordedStack) -> None:
    rule = NoWildcardResources(unscopable_actions=NoWildcardResources().unscopable_actions | {"dynamodb:GetItem"})
    assert found(rule, iam002_stack) == [
        ("IAM002", "bucket-prefix-role-policy"),
        ("IAM002", "every-bucket-role-policy"),
        ("IAM002", "mixed-role-policy"),
        ("IAM002", "not-resource-role-policy"),
    ]


# -- IAM003 policies are readable ------------------------------------------------------------------

IAM003_BROKEN = {
    "app-basic": "attaches arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole, which is not declared",
    "legacy-role": "attaches arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess",
    "broken-policy": "policy cannot be read: not JSON",
    "empty": "policy cannot be read: a policy document is an object with a Statement",
}


@pytest.fixture(scope="module")
def iam003_stack() -> RecordedStack:
    def program() -> None:
        r = role("app-role", allow("dynamodb:GetItem", TABLE_ARN))
        own = aws.iam.Policy("own", policy=json.dumps({"Statement": [allow("dynamodb:Query", TABLE_ARN)]}))
        aws.iam.RolePolicyAttachment("app-own", role=r.name, policy_arn=own.arn)
        aws.iam.RolePolicyAttachment("app-xray", role=r.name, policy_arn=f"{MANAGED}/AWSXRayDaemonWriteAccess")
        aws.iam.RolePolicyAttachment("app-basic", role=r.name, policy_arn=f"{MANAGED}/service-role/AWSLambdaBasicExecutionRole")
        aws.iam.Role("legacy-role", assume_role_policy=LAMBDA_TRUST, managed_policy_arns=[f"{MANAGED}/AmazonDynamoDBFullAccess"])
        aws.iam.RolePolicy("broken-policy", role=r.id, policy="{not json")
        aws.iam.Policy("empty", policy=json.dumps({"Version": "2012-10-17"}))

    return stack_of(program)


def test_iam003_reports_exactly_what_cannot_be_read(iam003_stack: RecordedStack) -> None:
    assert found(PoliciesReadable(), iam003_stack) == sorted(("IAM003", r) for r in IAM003_BROKEN)


@pytest.mark.parametrize(("resource", "why"), IAM003_BROKEN.items())
def test_iam003_says_why_it_cannot_read(iam003_stack: RecordedStack, resource: str, why: str) -> None:
    assert why in message(PoliciesReadable(), iam003_stack, resource)


# -- IAM004 one role per function ------------------------------------------------------------------

IAM004_BROKEN = {
    "shared-role": "shared by functions ['packing', 'shipping']",
    "orphan-role": "no resource uses this role",
    "outsider": f"role 'arn:aws:iam::{ACCOUNT}:role/made-elsewhere' is not a role declared in this stack",
    "relay-role": "function 'relay' shares it with ['relay-pipe (aws:pipes/pipe:Pipe)']",
}


@pytest.fixture(scope="module")
def iam004_stack() -> RecordedStack:
    def program() -> None:
        function("orders", role("orders-role").arn)
        function("billing", role("billing-role").arn)
        shared = role("shared-role")
        function("shipping", shared.arn)
        function("packing", shared.arn)
        role("orphan-role")
        function("outsider", f"arn:aws:iam::{ACCOUNT}:role/made-elsewhere")
        relay = role("relay-role")
        function("relay", relay.arn)
        aws.pipes.Pipe("relay-pipe", role_arn=relay.arn, source=STREAM_ARN, target=BUS_ARN)
        aws.iam.InstanceProfile("worker-profile", role=role("worker-role").name)

    return stack_of(program)


def test_iam004_reports_exactly_the_shared_unused_and_undeclared_roles(iam004_stack: RecordedStack) -> None:
    assert found(OneRolePerFunction(), iam004_stack) == sorted(("IAM004", r) for r in IAM004_BROKEN)


@pytest.mark.parametrize(("resource", "why"), IAM004_BROKEN.items())
def test_iam004_says_who_shares_or_misses_a_role(iam004_stack: RecordedStack, resource: str, why: str) -> None:
    assert why == message(OneRolePerFunction(), iam004_stack, resource)


# -- RES001 no public resource policies ------------------------------------------------------------

RES001_BROKEN = ["open-policy", "caller-unchecked-policy", "bus-policy", "table-policy", "anyone-role"]


@pytest.fixture(scope="module")
def res001_stack() -> RecordedStack:
    def program() -> None:
        send = "sqs:SendMessage"
        ok = [
            tls_only(QUEUE_ARN),
            allow(send, QUEUE_ARN, Principal={"Service": "events.amazonaws.com"}),
            allow(send, QUEUE_ARN, Principal="*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}),
            allow(send, QUEUE_ARN, Principal={"AWS": "*"}, Condition={"ArnEquals": {"aws:SourceArn": RULE_ARN}}),
        ]
        aws.sqs.QueuePolicy("ok-policy", queue_url="https://q/ok", policy=doc(*ok))
        role("lambda-role")
        aws.sqs.QueuePolicy("open-policy", queue_url="https://q/open", policy=doc(allow(send, QUEUE_ARN, Principal="*")))
        secure_only = {"Principal": {"AWS": "*"}, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
        aws.sqs.QueuePolicy("caller-unchecked-policy", queue_url="https://q/unchecked", policy=doc(allow(send, QUEUE_ARN, **secure_only)))
        any_account = doc(allow("events:PutEvents", BUS_ARN, Principal={"AWS": ["*"]}))
        aws.cloudwatch.EventBusPolicy("bus-policy", event_bus_name="orders", policy=any_account)
        not_me = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        everyone_but = {"Effect": "Allow", "NotPrincipal": not_me, "Action": "dynamodb:GetItem", "Resource": TABLE_ARN}
        aws.dynamodb.ResourcePolicy("table-policy", resource_arn=TABLE_ARN, policy=doc(everyone_but))
        anyone = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
        aws.iam.Role("anyone-role", assume_role_policy=anyone)

    return stack_of(program)


def test_res001_reports_exactly_the_public_allows(res001_stack: RecordedStack) -> None:
    assert found(NoPublicResourcePolicies(), res001_stack) == sorted(("RES001", r) for r in RES001_BROKEN)


def test_res001_says_what_is_open_to_anyone(res001_stack: RecordedStack) -> None:
    assert "allows ['sts:AssumeRole'] to any principal" in message(NoPublicResourcePolicies(), res001_stack, "anyone-role")


# -- DDB001 append-only Events table ---------------------------------------------------------------

FORBIDDEN = ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"]
DDB001_BROKEN = {
    "rogue-role-policy": "allows ['dynamodb:UpdateItem'] on Events tables ['events']",
    "admin": f"allows {FORBIDDEN} on Events tables ['conditional', 'events', 'leaky', 'ledger', 'unguarded']",
    "batch-role": "allows ['dynamodb:BatchWriteItem'] on Events tables ['events']",
    "unguarded": f"no resource policy denies {FORBIDDEN} to every principal",
    "leaky": "no resource policy denies ['dynamodb:BatchWriteItem'] to every principal",
    "conditional": f"no resource policy denies {FORBIDDEN} to every principal",
    "ledger": f"no resource policy denies {FORBIDDEN} to every principal",
}


@pytest.fixture(scope="module")
def ddb001_stack() -> RecordedStack:
    def guarded(name: str, actions: list[str], **extra: Any) -> aws.dynamodb.Table:
        table = events_table(name)
        aws.dynamodb.ResourcePolicy(f"{name}-policy", resource_arn=table.arn, policy=doc(deny(actions, table.arn, **extra)))
        return table

    def program() -> None:
        events = guarded("events", FORBIDDEN)
        role("commands-role", allow(["dynamodb:Query", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"], events.arn))
        role("projector-role", allow(["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"], plain_table("balance").arn))
        role("rogue-role", allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], events.arn))
        aws.iam.Policy("admin", policy=json.dumps({"Statement": [allow("dynamodb:*", "*")]}))
        batch = events.arn.apply(lambda a: json.dumps({"Statement": [allow("dynamodb:BatchWriteItem", a)]}))
        aws.iam.Role("batch-role", assume_role_policy=LAMBDA_TRUST, inline_policies=[{"name": "batch", "policy": batch}])
        events_table("unguarded")
        guarded("leaky", [a for a in FORBIDDEN if a != "dynamodb:BatchWriteItem"])
        guarded("conditional", FORBIDDEN, Condition={"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}})
        plain_table("ledger", tags={"event-store": "true"})
        plain_table("cache")

    return stack_of(program)


def test_ddb001_reports_exactly_the_grants_and_tables_that_allow_changing_events(ddb001_stack: RecordedStack) -> None:
    assert found(EventsTableAppendOnly(), ddb001_stack) == sorted(("DDB001", r) for r in DDB001_BROKEN)


@pytest.mark.parametrize(("resource", "why"), DDB001_BROKEN.items())
def test_ddb001_says_which_changes_are_allowed_or_not_denied(ddb001_stack: RecordedStack, resource: str, why: str) -> None:
    assert why in message(EventsTableAppendOnly(), ddb001_stack, resource)


# -- DDB002 durable Events table / DDB003 encrypted tables -----------------------------------------

DDB002_BROKEN = {
    "no-pitr": "point_in_time_recovery.enabled",
    "no-sse": "server_side_encryption.enabled",
    "deletable": "deletion_protection_enabled",
    "unprotected": "option protect",
    "unretained": "option retain_on_delete",
}


@pytest.fixture(scope="module")
def tables_stack() -> RecordedStack:
    def program() -> None:
        events_table("events")
        events_table("no-pitr", point_in_time_recovery={"enabled": False})
        events_table("no-sse", server_side_encryption=None)
        events_table("deletable", deletion_protection_enabled=False)
        events_table("unprotected", opts=pulumi.ResourceOptions(retain_on_delete=True))
        events_table("unretained", opts=pulumi.ResourceOptions(protect=True))
        plain_table("balance", server_side_encryption={"enabled": True})
        plain_table("calendar")

    return stack_of(program)


def test_ddb002_reports_exactly_the_events_tables_missing_a_safeguard(tables_stack: RecordedStack) -> None:
    assert found(EventsTableDurable(), tables_stack) == sorted(("DDB002", r) for r in DDB002_BROKEN)


@pytest.mark.parametrize(("resource", "missing"), DDB002_BROKEN.items())
def test_ddb002_names_the_missing_safeguard(tables_stack: RecordedStack, resource: str, missing: str) -> None:
    assert message(EventsTableDurable(), tables_stack, resource) == f"Events table lacks ['{missing}']"


def test_ddb003_reports_exactly_the_unencrypted_tables(tables_stack: RecordedStack) -> None:
    assert found(TablesEncrypted(), tables_stack) == [("DDB003", "calendar"), ("DDB003", "no-sse")]


# -- EVT001 publisher limited to its source --------------------------------------------------------

EVT001_BROKEN = {
    "no-condition": "without a single-valued StringEquals events:source condition",
    "other-source": "limits events:source to 'acme.billing', not the service's source 'acme.orders'",
    "two-sources": "without a single-valued StringEquals events:source condition",
    "any-bus": f"allows events:PutEvents on ['arn:aws:events:{ARN}:event-bus/*'], not one bus",
    "two-buses": f"may put events on 2 buses ['{OTHER_BUS_ARN}', '{BUS_ARN}'], not one",
    "cannot-publish": "grants no events:PutEvents; the publisher cannot publish",
}


def _put_events(variant: str) -> list[dict[str, Any]]:
    put = allow("events:PutEvents", BUS_ARN, Condition={"StringEquals": {"events:source": ["acme.orders"]}})
    changed: dict[str, list[dict[str, Any]]] = {
        "no-condition": [allow("events:PutEvents", BUS_ARN)],
        "other-source": [{**put, "Condition": {"StringEquals": {"events:source": "acme.billing"}}}],
        "two-sources": [{**put, "Condition": {"StringEquals": {"events:source": ["acme.orders", "acme.billing"]}}}],
        "any-bus": [{**put, "Resource": f"arn:aws:events:{ARN}:event-bus/*"}],
        "two-buses": [put, {**put, "Resource": OTHER_BUS_ARN}],
        "cannot-publish": [],
    }
    return changed.get(variant, [put])


@pytest.fixture(scope="module")
def evt001_stack() -> RecordedStack:
    """For the Lambda and the Pipe publisher: a correct one (`lambda-ok`, `pipe-ok`) and one per breakage."""

    def program() -> None:
        for variant in ["ok", *EVT001_BROKEN]:
            table = events_table(f"{variant}-events")
            stream = allow(["dynamodb:GetRecords"], table.stream_arn)
            fn_role = role(f"lambda-{variant}-role", stream, *_put_events(variant))
            env = {"variables": {"EVENT_SOURCE": "acme.orders", "EVENT_BUS_NAME": "orders"}}
            fn = function(f"lambda-{variant}", fn_role.arn, environment=env)
            aws.lambda_.EventSourceMapping(
                f"lambda-{variant}-stream", event_source_arn=table.stream_arn, function_name=fn.arn, starting_position="LATEST"
            )
            aws.pipes.Pipe(
                f"pipe-{variant}",
                role_arn=role(f"pipe-{variant}-role", stream, *_put_events(variant)).arn,
                source=table.stream_arn,
                target=BUS_ARN,
                target_parameters={"eventbridge_event_bus_parameters": {"source": "acme.orders", "detail_type": "$.detail_type"}},
            )
        # Not a publisher (reads no Events stream): may put events elsewhere.
        function("projector", role("projector-role", allow("events:PutEvents", OTHER_BUS_ARN)).arn)

    return stack_of(program)


def test_evt001_reports_exactly_the_publishers_that_could_speak_for_others(evt001_stack: RecordedStack) -> None:
    expected = [("EVT001", f"{kind}-{variant}") for kind in ("lambda", "pipe") for variant in EVT001_BROKEN]
    assert found(PublisherLimitedToItsSource(), evt001_stack) == sorted(expected)


@pytest.mark.parametrize("kind", ["lambda", "pipe"])
@pytest.mark.parametrize(("variant", "why"), EVT001_BROKEN.items())
def test_evt001_says_how_the_publisher_is_too_free(evt001_stack: RecordedStack, kind: str, variant: str, why: str) -> None:
    assert why in message(PublisherLimitedToItsSource(), evt001_stack, f"{kind}-{variant}")


# -- ESM001 event source mappings handle failures --------------------------------------------------

ESM001_BROKEN = {
    "no-destination": "no destination_config.on_failure",
    "infinite-retries": "maximum_retry_attempts is -1.0",
    "unbounded-age": "maximum_record_age_in_seconds is None",
    "no-bisect": "bisect_batch_on_function_error is not set",
    "unredriven-queue": "has no redrive policy (deadLetterTargetArn and maxReceiveCount)",
    "pipe-without-dlq": "no dead_letter_config",
}


@pytest.fixture(scope="module")
def esm001_stack() -> RecordedStack:
    def program() -> None:
        fn = function("publisher")
        good: dict[str, Any] = {
            "destination_config": {"on_failure": {"destination_arn": QUEUE_ARN}},
            "maximum_retry_attempts": 10,
            "maximum_record_age_in_seconds": 86400,
            "bisect_batch_on_function_error": True,
        }
        variants: dict[str, dict[str, Any]] = {
            "stream": good,
            "no-destination": {k: v for k, v in good.items() if k != "destination_config"},
            "infinite-retries": {**good, "maximum_retry_attempts": -1},
            "unbounded-age": {k: v for k, v in good.items() if k != "maximum_record_age_in_seconds"},
            "no-bisect": {**good, "bisect_batch_on_function_error": False},
        }
        for name, settings in variants.items():
            aws.lambda_.EventSourceMapping(name, event_source_arn=STREAM_ARN, function_name=fn.arn, starting_position="LATEST", **settings)
        redrive = json.dumps({"deadLetterTargetArn": QUEUE_ARN, "maxReceiveCount": 5})
        aws.lambda_.EventSourceMapping("redriven-queue", event_source_arn=queue("work", redrive_policy=redrive).arn, function_name=fn.name)
        aws.lambda_.EventSourceMapping("unredriven-queue", event_source_arn=queue("loose").arn, function_name=fn.name)
        pipe_params: dict[str, Any] = {
            "starting_position": "LATEST",
            "dead_letter_config": {"arn": QUEUE_ARN},
            "maximum_retry_attempts": 10,
            "maximum_record_age_in_seconds": 3600,
            "on_partial_batch_item_failure": "AUTOMATIC_BISECT",
        }
        without_dlq = {k: v for k, v in pipe_params.items() if k != "dead_letter_config"}
        for name, params in (("pipe", pipe_params), ("pipe-without-dlq", without_dlq)):
            source = {"dynamodb_stream_parameters": params}
            aws.pipes.Pipe(name, role_arn=ROLE_ARN, source=STREAM_ARN, target=BUS_ARN, source_parameters=source)

    return stack_of(program)


def test_esm001_reports_exactly_the_mappings_that_lose_or_block_records(esm001_stack: RecordedStack) -> None:
    assert found(MappingsHandleFailures(), esm001_stack) == sorted(("ESM001", r) for r in ESM001_BROKEN)


@pytest.mark.parametrize(("resource", "why"), ESM001_BROKEN.items())
def test_esm001_names_the_missing_bound_or_destination(esm001_stack: RecordedStack, resource: str, why: str) -> None:
    assert why in message(MappingsHandleFailures(), esm001_stack, resource)


# -- EVT002 rule targets handle failures -----------------------------------------------------------


def test_evt002_reports_exactly_the_targets_without_dlq_or_retry_policy() -> None:
    def program() -> None:
        fn_arn = f"arn:aws:lambda:{ARN}:function:projector"
        dlq = {"arn": QUEUE_ARN}
        retry = {"maximum_retry_attempts": 10, "maximum_event_age_in_seconds": 3600}
        aws.cloudwatch.EventTarget("to-function", rule="projector", arn=fn_arn, dead_letter_config=dlq, retry_policy=retry)
        no_retries = {"maximum_retry_attempts": 0}
        aws.cloudwatch.EventTarget("to-queue", rule="projector", arn=QUEUE_ARN, dead_letter_config=dlq, retry_policy=no_retries)
        aws.cloudwatch.EventTarget("no-dlq", rule="projector", arn=fn_arn, retry_policy=retry)
        aws.cloudwatch.EventTarget("no-retry-policy", rule="projector", arn=fn_arn, dead_letter_config=dlq)

    stack = record(program)
    assert found(TargetsHandleFailures(), stack) == [("EVT002", "no-dlq"), ("EVT002", "no-retry-policy")]
    assert message(TargetsHandleFailures(), stack, "no-dlq").endswith("no dead_letter_config")
    assert message(TargetsHandleFailures(), stack, "no-retry-policy").endswith("no retry_policy.maximum_retry_attempts")


# -- SQS001 / SQS002 queues ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqs_stack() -> RecordedStack:
    def program() -> None:
        q = queue("dlq")
        aws.sqs.QueuePolicy("dlq-policy", queue_url=q.url, policy=doc(tls_only(q.arn)))
        anything_plain = json.dumps({"Statement": [deny("*", "*", Condition={"Bool": {"aws:SecureTransport": False}})]})
        aws.sqs.Queue("kms", kms_master_key_id="alias/aws/sqs", policy=anything_plain)
        aws.sqs.Queue("plain", policy=anything_plain)
        aws.sqs.Queue("switched-off", sqs_managed_sse_enabled=False, policy=anything_plain)
        queue("open")
        for name, statement in {
            "send-only": lambda arn: {**tls_only(arn), "Action": "sqs:SendMessage"},
            "wrong-condition": lambda arn: {**tls_only(arn), "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
            "not-everyone": lambda arn: {**tls_only(arn), "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}},
        }.items():
            q = queue(name)
            aws.sqs.QueuePolicy(f"{name}-policy", queue_url=q.url, policy=doc(statement(q.arn)))

    return stack_of(program)


def test_sqs001_reports_exactly_the_unencrypted_queues(sqs_stack: RecordedStack) -> None:
    assert found(QueuesEncrypted(), sqs_stack) == [("SQS001", "plain"), ("SQS001", "switched-off")]


def test_sqs002_reports_exactly_the_queues_that_accept_plain_http(sqs_stack: RecordedStack) -> None:
    expected = ["not-everyone", "open", "send-only", "wrong-condition"]
    assert found(QueuesRequireTls(), sqs_stack) == [("SQS002", q) for q in expected]


# -- LOG001 / LOG002 logs --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logs_stack() -> RecordedStack:
    def program() -> None:
        group = aws.cloudwatch.LogGroup("custom-logs", name_prefix="/aws/lambda/custom-", retention_in_days=7)
        function("custom", logging_config={"log_format": "JSON", "log_group": group.name})
        aws.cloudwatch.LogGroup("default-logs", name="/aws/lambda/by-default", retention_in_days=7)
        function("by-default", name="by-default")
        function("silent", name="silent")
        function("misrouted", logging_config={"log_format": "JSON", "log_group": "/shared/logs"})
        aws.cloudwatch.LogGroup("forever")
        aws.cloudwatch.LogGroup("zero", retention_in_days=0)

    return stack_of(program)


def test_log001_reports_exactly_the_log_groups_kept_forever(logs_stack: RecordedStack) -> None:
    assert found(LogGroupsRetained(), logs_stack) == [("LOG001", "forever"), ("LOG001", "zero")]


def test_log002_reports_exactly_the_functions_without_a_declared_log_group(logs_stack: RecordedStack) -> None:
    assert found(FunctionsHaveLogGroups(), logs_stack) == [("LOG002", "misrouted"), ("LOG002", "silent")]
    assert message(FunctionsHaveLogGroups(), logs_stack, "silent") == "logs to '/aws/lambda/silent', which is not a log group of this stack"


# -- LAM001 Lambda permissions ---------------------------------------------------------------------

LAM001_BROKEN = {
    "no-source-invoke": "no source_arn for principal 'apigateway.amazonaws.com'",
    "other-api-invoke": "does not start with the execution ARN of the API that integrates the function",
    "any-account-invoke": "has a wildcard partition, service, region or account",
    "anyone-invoke": "principal is '*'",
    "any-rule-invoke": f"source_arn 'arn:aws:events:{ARN}:rule/*' has a wildcard",
}


@pytest.fixture(scope="module")
def lam001_stack() -> RecordedStack:
    def program() -> None:
        api = aws.apigatewayv2.Api("api", protocol_type="HTTP")
        other_api = aws.apigatewayv2.Api("other-api", protocol_type="HTTP")
        commands = function("commands")
        aws.apigatewayv2.Integration("integration", api_id=api.id, integration_type="AWS_PROXY", integration_uri=commands.invoke_arn)

        def invoke(name: str, source: Any, principal: str = "apigateway.amazonaws.com", target: Any = commands.name) -> None:
            aws.lambda_.Permission(name, action="lambda:InvokeFunction", function=target, principal=principal, source_arn=source)

        routes = pulumi.Output.concat(api.execution_arn, "/*/*")
        invoke("commands-invoke", routes)
        invoke("projector-invoke", RULE_ARN, "events.amazonaws.com", "projector")
        invoke("no-source-invoke", None)
        invoke("other-api-invoke", pulumi.Output.concat(other_api.execution_arn, "/*/*"))
        invoke("any-account-invoke", routes.apply(lambda a: a.replace(ACCOUNT, "*")))
        invoke("anyone-invoke", routes, principal="*")
        invoke("any-rule-invoke", f"arn:aws:events:{ARN}:rule/*", "events.amazonaws.com", "projector")

    return stack_of(program)


def test_lam001_reports_exactly_the_permissions_any_source_could_use(lam001_stack: RecordedStack) -> None:
    assert found(PermissionsScopedBySource(), lam001_stack) == sorted(("LAM001", r) for r in LAM001_BROKEN)


@pytest.mark.parametrize(("resource", "why"), LAM001_BROKEN.items())
def test_lam001_says_what_is_too_wide(lam001_stack: RecordedStack, resource: str, why: str) -> None:
    assert why in message(PermissionsScopedBySource(), lam001_stack, resource)


# -- API001 / API002 the HTTP API ------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_stack() -> RecordedStack:
    def program() -> None:
        api = aws.apigatewayv2.Api("api", protocol_type="HTTP")
        header = ["$request.header.Authorization"]
        jwt = {"issuer": "https://issuer.example", "audiences": ["client"]}
        auth = aws.apigatewayv2.Authorizer("jwt", api_id=api.id, authorizer_type="JWT", identity_sources=header, jwt_configuration=jwt)
        no_audience = {**jwt, "audiences": []}
        aws.apigatewayv2.Authorizer(
            "any-audience", api_id=api.id, authorizer_type="JWT", identity_sources=header, jwt_configuration=no_audience
        )
        aws.apigatewayv2.Route("post-orders", api_id=api.id, route_key="POST /orders", authorization_type="JWT", authorizer_id=auth.id)
        aws.apigatewayv2.Route("get-orders", api_id=api.id, route_key="GET /orders", authorization_type="AWS_IAM")
        aws.apigatewayv2.Route("openapi", api_id=api.id, route_key="GET /openapi.json", authorization_type="NONE")
        aws.apigatewayv2.Route("asyncapi", api_id=api.id, route_key="GET /asyncapi.json", authorization_type="NONE")
        aws.apigatewayv2.Route("get-health", api_id=api.id, route_key="GET /health")
        aws.apigatewayv2.Route("delete-order", api_id=api.id, route_key="DELETE /orders/{id}", authorization_type="JWT")

        logs = {"destination_arn": f"arn:aws:logs:{ARN}:log-group:access", "format": json.dumps({"requestId": "$context.requestId"})}
        throttled = {"throttling_burst_limit": 100, "throttling_rate_limit": 50}
        for name, settings in {
            "stage": {"default_route_settings": throttled, "access_log_settings": logs},
            "unthrottled": {"default_route_settings": {"detailed_metrics_enabled": True}, "access_log_settings": logs},
            "zero-rate": {"default_route_settings": {**throttled, "throttling_rate_limit": 0}, "access_log_settings": logs},
            "unlogged": {"default_route_settings": throttled},
        }.items():
            aws.apigatewayv2.Stage(name, api_id=api.id, name=name, auto_deploy=True, **settings)

    return stack_of(program)


def test_api001_reports_exactly_the_open_routes_and_incomplete_authorisation(api_stack: RecordedStack) -> None:
    assert found(RoutesAuthorized(), api_stack) == [("API001", "any-audience"), ("API001", "delete-order"), ("API001", "get-health")]
    why = "route 'GET /health' has authorization_type 'NONE' and is not a declared public route"
    assert message(RoutesAuthorized(), api_stack, "get-health") == why


def test_api001_public_routes_are_a_parameter(api_stack: RecordedStack) -> None:
    assert ("API001", "get-health") not in found(RoutesAuthorized(public_routes=frozenset({"GET /openapi.json", "GET /health"})), api_stack)
    assert ("API001", "openapi") in found(RoutesAuthorized(public_routes=frozenset()), api_stack)
    assert ("API001", "asyncapi") in found(RoutesAuthorized(public_routes=frozenset({"GET /openapi.json"})), api_stack)


def test_api001_a_stack_lists_further_public_routes_in_its_config(api_stack: RecordedStack) -> None:
    configured = dataclasses.replace(api_stack, config={**api_stack.config, "policy:public_routes": json.dumps(["GET /health"])})
    assert ("API001", "get-health") not in found(RoutesAuthorized(), configured)
    assert ("API001", "delete-order") in found(RoutesAuthorized(), configured)  # only the routes it lists
    broken = dataclasses.replace(api_stack, config={"policy:public_routes": json.dumps("GET /health")})
    with pytest.raises(ValueError, match="must be a list of route keys"):
        RoutesAuthorized().check(broken)


def test_api002_reports_exactly_the_unthrottled_or_unlogged_stages(api_stack: RecordedStack) -> None:
    assert found(StagesThrottledAndLogged(), api_stack) == [("API002", "unlogged"), ("API002", "unthrottled"), ("API002", "zero-rate")]
    why = "default_route_settings.throttling_rate_limit is not a positive number"
    assert message(StagesThrottledAndLogged(), api_stack, "zero-rate") == why


# -- API003 public routes' functions hold no secrets ------------------------------------------------


@pytest.fixture(scope="module")
def public_functions_stack() -> RecordedStack:
    def program() -> None:
        api = aws.apigatewayv2.Api("api", protocol_type="HTTP")
        role = f"arn:aws:iam::{ACCOUNT}:role/fn"

        def behind(route_key: str, name: str, variables: dict[str, Any], authorization: str = "NONE") -> None:
            fn = aws.lambda_.Function(
                name,
                role=role,
                runtime="python3.12",
                handler="h.handler",
                code=pulumi.AssetArchive({}),
                environment=aws.lambda_.FunctionEnvironmentArgs(variables=variables),
            )
            integration = aws.apigatewayv2.Integration(
                f"{name}-integration",
                api_id=api.id,
                integration_type="AWS_PROXY",
                integration_uri=fn.invoke_arn,
                payload_format_version="2.0",
            )
            aws.apigatewayv2.Route(
                f"{name}-route",
                api_id=api.id,
                route_key=route_key,
                authorization_type=authorization,
                authorizer_id="auth" if authorization == "JWT" else None,
                target=pulumi.Output.concat("integrations/", integration.id),
            )

        behind("POST /slack/interactions", "plain-signing-secret", {"SLACK_SIGNING_SECRET": "8f74223", "TABLE": "t"})
        behind("POST /hooks/a", "pulumi-secret", {"WEBHOOK": pulumi.Output.secret("https://hooks.example/x")})
        secret_arn = f"arn:aws:secretsmanager:{ARN}:secret:signing-abc123"
        behind("POST /hooks/b", "by-arn", {"SLACK_SIGNING_SECRET_ARN": secret_arn, "API_URL": "https://x"})
        behind("POST /orders", "authorised", {"DB_PASSWORD": "hunter2"}, authorization="JWT")

    return stack_of(program)


def test_api003_reports_secrets_in_the_environment_of_public_routes_functions(public_functions_stack: RecordedStack) -> None:
    rule = PublicFunctionsHoldNoSecrets()
    assert found(rule, public_functions_stack) == [("API003", "plain-signing-secret"), ("API003", "pulumi-secret")]
    assert "SLACK_SIGNING_SECRET of a function behind public route(s) POST /slack/interactions is named like a secret" in message(
        rule, public_functions_stack, "plain-signing-secret"
    )
    assert "WEBHOOK" in message(rule, public_functions_stack, "pulumi-secret") and "is a secret value" in message(
        rule, public_functions_stack, "pulumi-secret"
    )
    assert rule.checked(public_functions_stack) == 3  # the JWT route's function is not public


# -- KMS001 / KMS002 customer-managed keys ---------------------------------------------------------

KEY_ARN = f"arn:aws:kms:{ARN}:key/1234"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN = allow(["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DescribeKey"], "*", Principal={"AWS": ROOT})


@pytest.fixture(scope="module")
def kms_stack() -> RecordedStack:
    def program() -> None:
        # encrypted with a customer key: pass
        plain_table("cmk-table", server_side_encryption={"enabled": True, "kms_key_arn": KEY_ARN})
        queue("cmk-queue", sqs_managed_sse_enabled=None, kms_master_key_id=KEY_ARN)
        aws.cloudwatch.LogGroup("cmk-logs", retention_in_days=7, kms_key_id=KEY_ARN)
        function("cmk-fn", environment={"variables": {"A": "1"}}, kms_key_arn=KEY_ARN)
        function("no-env-fn")  # nothing to encrypt
        # AWS-owned or AWS-managed keys: fail
        plain_table("owned-table")
        plain_table("managed-table", server_side_encryption={"enabled": True})
        queue("sse-queue")
        queue("managed-queue", sqs_managed_sse_enabled=None, kms_master_key_id="alias/aws/sqs")
        aws.cloudwatch.LogGroup("default-logs", retention_in_days=7)
        function("env-fn", environment={"variables": {"A": "1"}})

    return stack_of(program)


def test_kms001_reports_exactly_what_is_not_under_a_customer_managed_key(kms_stack: RecordedStack) -> None:
    expected = ["default-logs", "env-fn", "managed-queue", "managed-table", "owned-table", "sse-queue"]
    assert found(CustomerManagedKeys(), kms_stack) == [("KMS001", n) for n in expected]
    assert message(CustomerManagedKeys(), kms_stack, "managed-queue") == "kms_master_key_id is 'alias/aws/sqs', not a customer-managed key"


@pytest.fixture(scope="module")
def keys_stack() -> RecordedStack:
    def program() -> None:
        retained = pulumi.ResourceOptions(protect=True, retain_on_delete=True)
        good = aws.kms.Key("good-key", enable_key_rotation=True, policy=doc(ADMIN), opts=retained)
        events_table("events", server_side_encryption={"enabled": True, "kms_key_arn": good.arn})
        aws.kms.Key("unrotated-key", policy=doc(ADMIN))
        aws.kms.Key("default-policy-key", enable_key_rotation=True)
        user_only = allow(["kms:Decrypt"], "*", Principal={"AWS": ROOT})
        aws.kms.Key("unmanageable-key", enable_key_rotation=True, policy=doc(user_only))
        fragile = aws.kms.Key("fragile-key", enable_key_rotation=True, policy=doc(ADMIN))
        events_table("orders", server_side_encryption={"enabled": True, "kms_key_arn": fragile.arn})
        backup = aws.s3.Bucket("backup", opts=retained)
        by_default = {"sse_algorithm": "aws:kms", "kms_master_key_id": good.arn}
        aws.s3.BucketServerSideEncryptionConfiguration(
            "backup-sse", bucket=backup.id, rules=[{"apply_server_side_encryption_by_default": by_default}]
        )
        brittle = aws.kms.Key("brittle-bucket-key", enable_key_rotation=True, policy=doc(ADMIN))
        archive = aws.s3.Bucket("archive", opts=retained)
        by_default = {"sse_algorithm": "aws:kms", "kms_master_key_id": brittle.arn}
        aws.s3.BucketServerSideEncryptionConfiguration(
            "archive-sse", bucket=archive.id, rules=[{"apply_server_side_encryption_by_default": by_default}]
        )
        scratch = aws.s3.Bucket("scratch")  # not retained: its key may go with it
        by_default = {
            "sse_algorithm": "aws:kms",
            "kms_master_key_id": aws.kms.Key("scratch-key", enable_key_rotation=True, policy=doc(ADMIN)).arn,
        }
        aws.s3.BucketServerSideEncryptionConfiguration(
            "scratch-sse", bucket=scratch.id, rules=[{"apply_server_side_encryption_by_default": by_default}]
        )

    return stack_of(program)


def test_kms002_reports_exactly_the_keys_that_do_not_rotate_cannot_be_managed_or_die_before_their_data(keys_stack: RecordedStack) -> None:
    expected = ["brittle-bucket-key", "default-policy-key", "fragile-key", "unmanageable-key", "unrotated-key"]
    assert found(KeysManagedAndRotated(), keys_stack) == [("KMS002", k) for k in expected]
    assert message(KeysManagedAndRotated(), keys_stack, "unrotated-key") == "enable_key_rotation is not true"
    assert message(KeysManagedAndRotated(), keys_stack, "default-policy-key") == "no explicit key policy"
    assert "lets the account root administer" in message(KeysManagedAndRotated(), keys_stack, "unmanageable-key")
    assert message(KeysManagedAndRotated(), keys_stack, "fragile-key") == (
        "encrypts retained tables or buckets ['orders'] but is not itself protected and retain_on_delete"
    )
    assert message(KeysManagedAndRotated(), keys_stack, "brittle-bucket-key") == (
        "encrypts retained tables or buckets ['archive'] but is not itself protected and retain_on_delete"
    )


# -- COG001 / COG002 identity from attributes users cannot change -----------------------------------


def pool(name: str, **attributes: bool) -> aws.cognito.UserPool:
    """A pool with custom String attributes `name=mutable`."""
    schemas = [{"name": n, "attribute_data_type": "String", "mutable": m} for n, m in attributes.items()]
    return aws.cognito.UserPool(name, schemas=schemas)


@pytest.fixture(scope="module")
def cognito_stack() -> RecordedStack:
    def program() -> None:
        # the API function takes the identity from custom:employee_id
        function("api", environment={"variables": {"IDENTITY_CLAIM": "custom:employee_id"}})
        good = pool("good-pool", employee_id=False)
        aws.cognito.UserPoolClient("good-client", user_pool_id=good.id, read_attributes=["custom:employee_id"], write_attributes=["name"])
        aws.cognito.UserPoolClient("default-client", user_pool_id=good.id)
        aws.cognito.UserPoolClient("empty-client", user_pool_id=good.id, write_attributes=[])
        aws.cognito.UserPoolClient("writer-client", user_pool_id=good.id, write_attributes=["name", "custom:employee_id"])
        aws.cognito.UserPoolClient("email-client", user_pool_id=good.id, write_attributes=["email"])  # email is not trusted
        pool("mutable-pool", employee_id=True)
        pool("unrelated-pool", nickname=True)  # no employee_id: it never issues that claim

    return stack_of(program)


def test_cog001_reports_exactly_the_clients_that_can_write_a_trusted_attribute(cognito_stack: RecordedStack) -> None:
    expected = ["default-client", "empty-client", "writer-client"]
    assert found(ClientsCannotWriteIdentity(), cognito_stack) == [("COG001", c) for c in expected]
    assert "write_attributes is unset or empty" in message(ClientsCannotWriteIdentity(), cognito_stack, "default-client")
    assert message(ClientsCannotWriteIdentity(), cognito_stack, "writer-client") == (
        "write_attributes lists 'custom:employee_id', which function 'api' trusts for the caller's identity"
    )


def test_cog001_trusted_claims_are_a_parameter() -> None:
    def program() -> None:
        p = pool("p", badge=False)
        aws.cognito.UserPoolClient("badge-writer", user_pool_id=p.id, write_attributes=["custom:badge"])

    stack = stack_of(program)
    assert found(ClientsCannotWriteIdentity(), stack) == []
    assert found(ClientsCannotWriteIdentity(identity_claims=frozenset({"custom:badge"})), stack) == [("COG001", "badge-writer")]


def test_cog002_reports_exactly_the_pools_where_a_trusted_attribute_can_change(cognito_stack: RecordedStack) -> None:
    assert found(IdentityAttributesImmutable(), cognito_stack) == [("COG002", "mutable-pool")]
    assert message(IdentityAttributesImmutable(), cognito_stack, "mutable-pool") == (
        "attribute 'employee_id' is mutable, yet function 'api' trusts 'custom:employee_id' for the caller's identity"
    )


def test_cog_rules_treat_a_trusted_standard_attribute_as_mutable_unless_declared_immutable() -> None:
    def program() -> None:
        function("legacy", environment={"variables": {"IDENTITY_CLAIM": "email"}})
        p = pool("plain-pool", employee_id=False)
        aws.cognito.UserPool("email-pool", schemas=[{"name": "email", "attribute_data_type": "String", "mutable": False}])
        aws.cognito.UserPoolClient("email-client", user_pool_id=p.id, write_attributes=["name", "email"])

    stack = stack_of(program)
    assert found(IdentityAttributesImmutable(), stack) == [("COG002", "plain-pool")]
    assert "is not declared in schemas (standard attributes are mutable)" in message(IdentityAttributesImmutable(), stack, "plain-pool")
    assert found(ClientsCannotWriteIdentity(), stack) == [("COG001", "email-client")]


def test_cog002_passes_a_pool_whose_trusted_attribute_is_immutable() -> None:
    def program() -> None:
        function("api", environment={"variables": {"IDENTITY_CLAIM": "custom:employee_id"}})
        pool("pool", employee_id=False, nickname=True)
        function("by-sub", environment={"variables": {"IDENTITY_CLAIM": "sub"}})  # sub is never writable

    assert found(IdentityAttributesImmutable(), stack_of(program)) == []


# -- COG001..COG007 single sign-on: a federated pool -----------------------------------------------

IDP = "AcmeIdP"


def federated_client(name: str, pool_id: Any, **overrides: Any) -> aws.cognito.UserPoolClient:
    """A client of a federated pool that passes every COG rule; `overrides` break one thing."""
    settings: dict[str, Any] = {
        "explicit_auth_flows": ["ALLOW_REFRESH_TOKEN_AUTH"],
        "allowed_oauth_flows_user_pool_client": True,
        "allowed_oauth_flows": ["code"],
        "allowed_oauth_scopes": ["openid", "email", "profile"],
        "supported_identity_providers": [IDP],
        "callback_urls": ["https://leave.example/callback", "http://localhost:3000/callback"],
        "logout_urls": ["https://leave.example/"],
        "read_attributes": ["email", "custom:idp_employee_id"],
        "write_attributes": ["email"],
        **overrides,
    }
    return aws.cognito.UserPoolClient(name, user_pool_id=pool_id, **settings)


def oidc_idp(name: str, pool_id: Any, secret: Any, mapping: dict[str, str]) -> aws.cognito.IdentityProvider:
    details = {"client_id": "c", "client_secret": secret, "oidc_issuer": "https://idp.example", "authorize_scopes": "openid"}
    details["attributes_request_method"] = "GET"
    return aws.cognito.IdentityProvider(
        name, user_pool_id=pool_id, provider_name=name, provider_type="OIDC", provider_details=details, attribute_mapping=mapping
    )


@pytest.fixture(scope="module")
def sso_stack() -> RecordedStack:
    def program() -> None:
        function("api", environment={"variables": {"IDENTITY_CLAIM": "custom:idp_employee_id"}})
        fed = pool("fed-pool", employee_id=False, idp_employee_id=True)
        identity = {"custom:idp_employee_id": "sub", "email": "email"}
        oidc_idp(IDP, fed.id, pulumi.Output.secret("s3cr3t"), identity)
        oidc_idp("plain-secret-idp", fed.id, "s3cr3t", identity)
        oidc_idp("unmapped-idp", fed.id, pulumi.Output.secret("s3cr3t"), {"email": "email"})
        aws.cognito.IdentityProvider(
            "saml-idp",
            user_pool_id=fed.id,
            provider_name="AcmeSaml",
            provider_type="SAML",
            provider_details={"MetadataURL": "https://idp.example/metadata.xml"},
            attribute_mapping={"custom:idp_employee_id": "http://schemas.microsoft.com/identity/claims/objectidentifier"},
        )
        federated_client("sso-client", fed.id, write_attributes=["custom:idp_employee_id", "email"])
        federated_client("implicit-client", fed.id, allowed_oauth_flows=["code", "implicit"])
        federated_client("no-oauth-client", fed.id, allowed_oauth_flows=[], allowed_oauth_flows_user_pool_client=False)
        federated_client(
            "cognito-client", fed.id, supported_identity_providers=["COGNITO", IDP], write_attributes=["custom:idp_employee_id"]
        )
        federated_client("srp-client", fed.id, explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
        federated_client(
            "admin-scope-client",
            fed.id,
            allowed_oauth_scopes=["openid", "aws.cognito.signin.user.admin"],
            write_attributes=["custom:idp_employee_id"],
        )
        federated_client("http-client", fed.id, callback_urls=["http://leave.example/callback"])
        federated_client("fragment-client", fed.id, logout_urls=["https://leave.example/#signed-out"])
        plain = pool("plain-pool", employee_id=False)
        aws.cognito.UserPoolClient(
            "implicit-plain-client", user_pool_id=plain.id, allowed_oauth_flows=["implicit"], write_attributes=["name"]
        )
        aws.cognito.UserPoolClient("password-plain-client", user_pool_id=plain.id, write_attributes=["name"])  # no IdP: passwords are fine
        pool("unmapped-mutable-pool", idp_employee_id=True)  # the identity mutable, and no IdP maps it

    return stack_of(program)


def test_cog001_lets_only_a_federated_client_without_attribute_writing_tokens_list_the_mapped_identity(sso_stack: RecordedStack) -> None:
    assert found(ClientsCannotWriteIdentity(), sso_stack) == [("COG001", "admin-scope-client"), ("COG001", "cognito-client")]
    assert message(ClientsCannotWriteIdentity(), sso_stack, "cognito-client") == (
        "write_attributes lists 'custom:idp_employee_id', which function 'api' trusts for the caller's identity; an IdP maps "
        "it, which is allowed only if no token of the client can write attributes, but supported_identity_providers "
        "includes COGNITO (users with passwords)"
    )
    assert "'aws.cognito.signin.user.admin', which lets a user rewrite" in message(
        ClientsCannotWriteIdentity(), sso_stack, "admin-scope-client"
    )


def test_cog001_still_refuses_a_writable_identity_no_idp_maps() -> None:
    def program() -> None:
        function("api", environment={"variables": {"IDENTITY_CLAIM": "custom:idp_employee_id"}})
        p = pool("p", idp_employee_id=True)
        federated_client("would-be-safe-client", p.id, write_attributes=["custom:idp_employee_id"])  # but nothing maps it

    assert found(ClientsCannotWriteIdentity(), stack_of(program)) == [("COG001", "would-be-safe-client")]


def test_cog002_accepts_a_mutable_identity_only_where_an_idp_maps_it(sso_stack: RecordedStack) -> None:
    assert found(IdentityAttributesImmutable(), sso_stack) == [("COG002", "unmapped-mutable-pool")]
    assert message(IdentityAttributesImmutable(), sso_stack, "unmapped-mutable-pool") == (
        "attribute 'idp_employee_id' is mutable, yet function 'api' trusts 'custom:idp_employee_id' for the caller's identity"
    )


def test_cog003_reports_implicit_flows_anywhere_and_federated_clients_without_the_code_flow(sso_stack: RecordedStack) -> None:
    expected = ["implicit-client", "implicit-plain-client", "no-oauth-client"]
    assert found(OAuthCodeFlowOnly(), sso_stack) == [("COG003", c) for c in expected]
    assert message(OAuthCodeFlowOnly(), sso_stack, "implicit-client") == "allowed_oauth_flows includes 'implicit'; use 'code' with PKCE"
    assert message(OAuthCodeFlowOnly(), sso_stack, "no-oauth-client").startswith(
        "the pool federates an IdP, but the client allows OAuth flows []"
    )


def test_cog004_reports_plain_http_callbacks_and_fragments_but_allows_localhost(sso_stack: RecordedStack) -> None:
    assert found(RedirectUrlsSecure(), sso_stack) == [("COG004", "fragment-client"), ("COG004", "http-client")]
    assert message(RedirectUrlsSecure(), sso_stack, "http-client") == (
        "callback_urls: 'http://leave.example/callback' is not https (plain http only to localhost/127.0.0.1, for development)"
    )
    assert message(RedirectUrlsSecure(), sso_stack, "fragment-client") == "logout_urls: 'https://leave.example/#signed-out' has a fragment"


def test_cog005_reports_every_password_path_in_a_federated_pool_only(sso_stack: RecordedStack) -> None:
    expected = ["admin-scope-client", "cognito-client", "srp-client"]
    assert found(FederatedPoolsHaveNoPasswords(), sso_stack) == [("COG005", c) for c in expected]
    assert message(FederatedPoolsHaveNoPasswords(), sso_stack, "srp-client") == (
        "explicit_auth_flows allows ['ALLOW_USER_SRP_AUTH'], whose tokens may write attributes; allow only ALLOW_REFRESH_TOKEN_AUTH"
    )


def test_cog006_reports_an_idp_that_does_not_map_the_trusted_identity(sso_stack: RecordedStack) -> None:
    assert found(IdentityMappedFromIdp(), sso_stack) == [("COG006", "unmapped-idp")]
    assert message(IdentityMappedFromIdp(), sso_stack, "unmapped-idp") == (
        "attribute_mapping does not map 'custom:idp_employee_id', which function 'api' trusts for the caller's identity"
    )


def test_cog007_reports_a_client_secret_given_in_plain_text(sso_stack: RecordedStack) -> None:
    assert found(IdpSecretsEncrypted(), sso_stack) == [("COG007", "plain-secret-idp")]
    assert "not a secret" in message(IdpSecretsEncrypted(), sso_stack, "plain-secret-idp")


# -- OBS001..OBS004 observability ------------------------------------------------------------------

OBS001_BROKEN = {
    "pass-through": "tracing_config.mode is not Active",
    "untraced": "tracing_config.mode is not Active",
    "no-timeout": "no explicit timeout",
    "no-memory": "no explicit memory_size",
}


@pytest.fixture(scope="module")
def obs_stack() -> RecordedStack:
    def program() -> None:
        for name, overrides in {
            "configured": {},
            "pass-through": {"tracing_config": {"mode": "PassThrough"}},
            "untraced": {"tracing_config": None},
            "no-timeout": {"timeout": None},
            "no-memory": {"memory_size": None},
        }.items():
            fn = function(name, **overrides)
            if name != "untraced":
                alarm(f"{name}-errors", "AWS/Lambda", "Errors", {"FunctionName": fn.name})
        alarm("no-memory-throttles", "AWS/Lambda", "Throttles", {"FunctionName": "no-memory"})
        math = function("math")
        errors = {"namespace": "AWS/Lambda", "metric_name": "Errors", "dimensions": {"FunctionName": math.name}, "period": 60}
        errors["stat"] = "Sum"
        aws.cloudwatch.MetricAlarm(
            "math-error-rate",
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=1,
            threshold=0.05,
            metric_queries=[{"id": "errors", "metric": errors}, {"id": "rate", "expression": "errors / 100", "return_data": True}],
        )

        watched, silent, aged = queue("watched-dlq"), queue("silent-dlq"), queue("aged-dlq")
        alarm("watched-dlq-depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": watched.name})
        alarm("aged-dlq-age", "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": aged.name})
        for dlq, fn_name in ((watched, "configured"), (silent, "pass-through"), (aged, "no-timeout")):
            fn_arn = f"arn:aws:lambda:{ARN}:function:{fn_name}"
            aws.cloudwatch.EventTarget(f"{fn_name}-target", rule="r", arn=fn_arn, dead_letter_config={"arn": dlq.arn})
            on_failure = {"on_failure": {"destination": dlq.arn}}
            aws.lambda_.FunctionEventInvokeConfig(f"{fn_name}-async", function_name=fn_name, destination_config=on_failure)
        queue("work")  # receives no failures: not a DLQ

        for name in ("publisher", "lagging"):
            aws.lambda_.EventSourceMapping(f"{name}-stream", event_source_arn=STREAM_ARN, function_name=name, starting_position="LATEST")
        alarm("publisher-iterator-age", "AWS/Lambda", "IteratorAge", {"FunctionName": "publisher"})
        aws.lambda_.EventSourceMapping("worker-queue", event_source_arn=QUEUE_ARN, function_name="worker")
        for name in ("watched-pipe", "silent-pipe"):
            aws.pipes.Pipe(name, name=name, role_arn=ROLE_ARN, source=STREAM_ARN, target=BUS_ARN)
        alarm("watched-pipe-failed", "AWS/EventBridge/Pipes", "ExecutionFailed", {"PipeName": "watched-pipe"})

    return stack_of(program)


def test_obs001_reports_exactly_the_untraced_or_unsized_functions(obs_stack: RecordedStack) -> None:
    assert found(FunctionsConfigured(), obs_stack) == sorted(("OBS001", r) for r in OBS001_BROKEN)


@pytest.mark.parametrize(("resource", "why"), OBS001_BROKEN.items())
def test_obs001_names_the_missing_setting(obs_stack: RecordedStack, resource: str, why: str) -> None:
    assert message(FunctionsConfigured(), obs_stack, resource) == why


def test_obs002_reports_exactly_the_functions_without_an_errors_alarm(obs_stack: RecordedStack) -> None:
    assert found(FunctionErrorAlarms(), obs_stack) == [("OBS002", "untraced")]


def test_obs003_reports_each_unwatched_dlq_once(obs_stack: RecordedStack) -> None:
    assert found(DeadLetterQueueAlarms(), obs_stack) == [("OBS003", "aged-dlq"), ("OBS003", "silent-dlq")]


def test_obs004_reports_exactly_the_stream_readers_without_a_lag_or_failure_alarm(obs_stack: RecordedStack) -> None:
    assert found(StreamIteratorAgeAlarms(), obs_stack) == [("OBS004", "lagging-stream"), ("OBS004", "silent-pipe")]
    why = "no alarm on AWS/Lambda IteratorAge with FunctionName='lagging'"
    assert message(StreamIteratorAgeAlarms(), obs_stack, "lagging-stream") == why


# -- the engine: selection, exemptions, the report -------------------------------------------------


@pytest.fixture(scope="module")
def leaky_stack() -> RecordedStack:
    """Two log groups without retention and one with (all encrypted with a customer key)."""

    def program() -> None:
        key = f"arn:aws:kms:{ARN}:key/logs"
        aws.cloudwatch.LogGroup("kept", retention_in_days=30, kms_key_id=key)
        aws.cloudwatch.LogGroup("forever", kms_key_id=key)
        aws.cloudwatch.LogGroup("legacy", kms_key_id=key)

    return record(program, project="shop", stack="dev")


def test_default_rules_have_unique_ids_titles_and_rationales() -> None:
    ids = [r.id for r in DEFAULT_RULES]
    assert len(ids) == len(set(ids)) == 60
    assert all(isinstance(r, Rule) and r.title and len(r.rationale) > 40 for r in DEFAULT_RULES)


def test_report_lists_open_violations_and_is_not_ok(leaky_stack: RecordedStack) -> None:
    report = check_stack(leaky_stack, rules=[LogGroupsRetained(), QueuesEncrypted()])
    assert not report.ok
    assert [(v.rule_id, v.resource_name) for v in report.violations] == [("LOG001", "forever"), ("LOG001", "legacy")]
    text = report.render()
    assert "Policy report for stack shop/dev: 2 rules, 1 passed, 1 failed; 2 violations, 0 exempted" in text
    assert "FAIL LOG001 Every log group has a retention period (3 checked, 2 violations)" in text
    assert "PASS SQS001 Every SQS queue is encrypted at rest (0 checked)" in text
    assert "- forever (aws:cloudwatch/logGroup:LogGroup): retention_in_days is None" in text


def test_exemptions_cover_matching_violations_only(leaky_stack: RecordedStack) -> None:
    report = check_stack(leaky_stack, rules=[LogGroupsRetained()], exemptions=[Exemption("LOG001", "legacy", "audit logs kept by law")])
    assert [v.resource_name for v in report.violations] == ["forever"]
    assert "~ exempted legacy: audit logs kept by law" in report.render()
    assert report.results[0].exempted[0][1].reason == "audit logs kept by law"


def test_a_fully_exempted_stack_is_ok(leaky_stack: RecordedStack) -> None:
    exemptions = [Exemption("LOG001", name, "kept by law") for name in ("forever", "legacy")]
    report = check_stack(leaky_stack, rules=[LogGroupsRetained()], exemptions=exemptions)
    assert report.ok
    assert "PASS LOG001 Every log group has a retention period (3 checked, 2 exempted)" in report.render()


@pytest.mark.parametrize(
    "exemption",
    [
        Exemption("LOG001", "kept", "no violation to cover"),
        Exemption("SQS001", "legacy", "wrong rule"),
        Exemption("LOG001", "gone", "resource removed"),
    ],
)
def test_an_exemption_that_matches_nothing_is_reported(leaky_stack: RecordedStack, exemption: Exemption) -> None:
    exemptions = [Exemption("LOG001", "forever", "x"), Exemption("LOG001", "legacy", "x"), exemption]
    report = check_stack(leaky_stack, rules=[LogGroupsRetained(), QueuesEncrypted()], exemptions=exemptions)
    assert not report.ok
    assert [(v.rule_id, v.resource_name) for v in report.violations] == [("EXEMPT", exemption.resource_name)]
    assert f"- {exemption.rule_id} {exemption.resource_name}: matched nothing" in report.render()


def test_an_exemption_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        Exemption("LOG001", "legacy", " ")


def test_check_stack_runs_the_default_rules_when_none_are_given(leaky_stack: RecordedStack) -> None:
    report = check_stack(leaky_stack)
    assert [r.rule.id for r in report.results] == [r.id for r in DEFAULT_RULES]
    assert {v.rule_id for v in report.violations} == {"LOG001"}


class NoLegacy:
    """A user's own rule: any object with id, title, rationale and check()."""

    id, title, rationale = "ACME001", "Nothing is called legacy", "Names say what things are."

    def check(self, stack: RecordedStack) -> list[Violation]:
        return [Violation.of(self.id, r, "named legacy") for r in stack.resources if r.name == "legacy"]


def test_replace_rules_swaps_a_rule_by_id_and_appends_new_ones() -> None:
    wider = RoutesAuthorized(public_routes=frozenset({"GET /health"}))
    rules = replace_rules(DEFAULT_RULES, wider, NoLegacy())
    assert [r.id for r in rules] == [r.id for r in DEFAULT_RULES] + ["ACME001"]
    assert next(r for r in rules if r.id == "API001") is wider


def test_a_user_rule_runs_like_the_built_in_ones(leaky_stack: RecordedStack) -> None:
    report = check_stack(leaky_stack, rules=[NoLegacy()])
    assert [(v.rule_id, v.resource_name) for v in report.violations] == [("ACME001", "legacy")]
    assert "FAIL ACME001 Nothing is called legacy (1 violation)" in report.render()


def test_repeated_rule_ids_are_refused(leaky_stack: RecordedStack) -> None:
    with pytest.raises(ValueError, match="LOG001"):
        check_stack(leaky_stack, rules=[LogGroupsRetained(), LogGroupsRetained()])
