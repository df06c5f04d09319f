"""The S3, Firehose, Step Functions and Scheduler rules against stacks of raw pulumi_aws resources.

As in test_policy_rules.py: each family gets one recorded stack (recorded once per module)
holding resources that satisfy every rule of the family, plus one resource per way to break
one rule, otherwise correct. Each rule must report exactly its broken resources (so the
correct ones pass: the positive test) and say why (the negative test).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from acme_eventsourcing.testing import RecordedStack, record
from acme_eventsourcing.testing.policy import (
    DEFAULT_RULES,
    UNSCOPABLE_ACTIONS,
    BucketOwnerEnforced,
    BucketsAccessLogged,
    BucketsBlockPublicAccess,
    BucketsEncrypted,
    BucketsHaveLifecycle,
    BucketsRequireTls,
    BucketsVersioned,
    CronSchedulesZoned,
    DataBucketsRetained,
    DeadLetterQueueAlarms,
    DeliveryStreamRolesScoped,
    DeliveryStreamsEncrypted,
    DeliveryStreamsKeepFailures,
    DeliveryStreamsLogged,
    Rule,
    ScheduleRolesScoped,
    SchedulesHandleFailures,
    StateMachineFailureAlarms,
    StateMachineRolesScoped,
    StateMachinesLogged,
    StateMachinesTraced,
    check_stack,
    check_system,
)

ACCOUNT = "123456789012"
ARN = f"us-east-1:{ACCOUNT}"
KEY = f"arn:aws:kms:{ARN}:key/backup"
FUNCTION_ARN = f"arn:aws:lambda:{ARN}:function:rollover-step"
MACHINE_ARN = f"arn:aws:states:{ARN}:stateMachine:rollover"
OTHER_MACHINE_ARN = f"arn:aws:states:{ARN}:stateMachine:reminders"


def trust(service: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    )


def doc(*statements: Any) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: Any, resources: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def role(name: str, service: str, *statements: Any) -> aws.iam.Role:
    r = aws.iam.Role(name, assume_role_policy=trust(service))
    aws.iam.RolePolicy(f"{name}-policy", role=r.id, policy=doc(*statements))
    return r


def found(rule: Rule, stack: RecordedStack) -> list[str]:
    """The names of the resources `rule` reports, sorted (each once: one violation per resource)."""
    names = [v.resource_name for v in rule.check(stack)]
    assert len(names) == len(set(names)), f"{rule.id} reported a resource twice: {names}"
    return sorted(names)


def message(rule: Rule, stack: RecordedStack, resource: str) -> str:
    messages = [v.message for v in rule.check(stack) if v.resource_name == resource]
    assert len(messages) == 1, f"expected one violation on {resource!r}, got {messages}"
    return messages[0]


def checked(rule: Any, stack: RecordedStack) -> int:
    return rule.checked(stack)


# -- S3 ----------------------------------------------------------------------------------------------

ALL_BLOCKED = {"block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True, "restrict_public_buckets": True}


def bucket(
    name: str,
    *,
    v2: bool = False,
    status: str | None = "Enabled",
    sse: tuple[str, str | None] | None = ("aws:kms", KEY),
    public_block: dict[str, bool] | None = ALL_BLOCKED,
    tls: str | None = "bucket-and-objects",
    log_to: str | None = "access-logs",
    lifecycle: str | None = "Enabled",
    ownership: str | None = "BucketOwnerEnforced",
    retain: bool = True,
    **inline: Any,
) -> aws.s3.Bucket:
    """A bucket named `acme-<name>` with every setting the S3 rules ask for; each keyword
    changes or (None) omits one (`status`: the versioning status). `v2` declares it and its settings with the `...V2` types."""
    s3 = aws.s3
    opts = pulumi.ResourceOptions(protect=retain, retain_on_delete=retain)
    b = (s3.BucketV2 if v2 else s3.Bucket)(name, bucket=f"acme-{name}", opts=opts, **inline)
    if status:
        (s3.BucketVersioningV2 if v2 else s3.BucketVersioning)(
            f"{name}-versioning", bucket=b.id, versioning_configuration={"status": status}
        )
    if sse:
        by_default = {"sse_algorithm": sse[0], **({"kms_master_key_id": sse[1]} if sse[1] else {})}
        (s3.BucketServerSideEncryptionConfigurationV2 if v2 else s3.BucketServerSideEncryptionConfiguration)(
            f"{name}-sse", bucket=b.id, rules=[{"apply_server_side_encryption_by_default": by_default}]
        )
    if public_block:
        s3.BucketPublicAccessBlock(f"{name}-public-access", bucket=b.id, **public_block)
    if tls:
        resources = [b.arn] if tls == "bucket-only" else [b.arn, pulumi.Output.concat(b.arn, "/*")]
        deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": resources}
        s3.BucketPolicy(f"{name}-policy", bucket=b.id, policy=doc({**deny, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
    if log_to:
        target = b.id if log_to == "itself" else f"acme-{log_to}"
        (s3.BucketLoggingV2 if v2 else s3.BucketLogging)(f"{name}-logging", bucket=b.id, target_bucket=target, target_prefix=f"{name}/")
    if lifecycle:
        rule = {"id": "colder", "status": lifecycle, "transitions": [{"days": 30, "storage_class": "STANDARD_IA"}]}
        (s3.BucketLifecycleConfigurationV2 if v2 else s3.BucketLifecycleConfiguration)(f"{name}-lifecycle", bucket=b.id, rules=[rule])
    if ownership:
        s3.BucketOwnershipControls(f"{name}-ownership", bucket=b.id, rule={"object_ownership": ownership})
    return b


S3_BROKEN: dict[str, dict[str, str]] = {
    "S3001": {
        "unversioned": "no BucketVersioning with versioning_configuration.status 'Enabled'",
        "suspended": "no BucketVersioning with versioning_configuration.status 'Enabled'",
    },
    "S3002": {
        "sse-s3-data": "holds data but its default encryption is ['AES256'] without a customer-managed kms_master_key_id",
        "aws-managed-key": "holds data but its default encryption is ['aws:kms'] without a customer-managed kms_master_key_id",
        "aws-alias-key": "holds data but its default encryption is ['aws:kms'] without a customer-managed kms_master_key_id",
        "unencrypted": "no default encryption (BucketServerSideEncryptionConfiguration)",
    },
    "S3003": {
        "exposed": "no BucketPublicAccessBlock",
        "half-blocked": "the BucketPublicAccessBlock leaves ['ignorePublicAcls', 'restrictPublicBuckets'] unset or false",
    },
    "S3004": {
        "plain-http": "no bucket policy denies s3:* on the bucket and its objects to every principal without TLS",
        "tls-bucket-only": "no bucket policy denies s3:* on the bucket and its objects to every principal without TLS",
    },
    "S3005": {
        "unlogged": "no BucketLogging: server access is not logged",
        "self-logged": "logs its access into itself; target another bucket",
    },
    "S3006": {
        "kept-forever": "no BucketLifecycleConfiguration",
        "lifecycle-off": "its lifecycle rules are all disabled",
    },
    "S3007": {
        "unprotected": "holds data but lacks ['option protect', 'option retain_on_delete']",
        "force-destroyed": "holds data but lacks ['force_destroy false']",
    },
    "S3008": {
        "no-ownership": "object ownership is not set, not BucketOwnerEnforced",
        "object-writer": "object ownership is ['ObjectWriter'], not BucketOwnerEnforced",
    },
}
S3_RULES = {
    r.id: r
    for r in (
        BucketsVersioned(),
        BucketsEncrypted(),
        BucketsBlockPublicAccess(),
        BucketsRequireTls(),
        BucketsAccessLogged(),
        BucketsHaveLifecycle(),
        DataBucketsRetained(),
        BucketOwnerEnforced(),
    )
}


@pytest.fixture(scope="module")
def s3_stack() -> RecordedStack:
    def program() -> None:
        # compliant: a data bucket, its access-log target (SSE-S3, not logged, not retained), the V2 types, inline settings
        bucket("backup")
        bucket("access-logs", sse=("AES256", None), log_to=None, retain=False)
        bucket("legacy-v2", v2=True)
        bucket(
            "inline",
            status=None,
            lifecycle=None,
            versioning={"enabled": True},
            lifecycle_rules=[{"enabled": True, "expiration": {"days": 90}}],
        )
        # one way to break one rule each
        bucket("unversioned", status=None)
        bucket("suspended", status="Suspended")
        bucket("sse-s3-data", sse=("AES256", None))
        bucket("aws-managed-key", sse=("aws:kms", None))
        bucket("aws-alias-key", sse=("aws:kms", "alias/aws/s3"))
        bucket("unencrypted", sse=None)
        bucket("exposed", public_block=None)
        bucket("half-blocked", public_block={**ALL_BLOCKED, "ignore_public_acls": False, "restrict_public_buckets": False})
        bucket("plain-http", tls=None)
        bucket("tls-bucket-only", tls="bucket-only")
        bucket("unlogged", log_to=None)
        bucket("self-logged", log_to="itself")
        bucket("kept-forever", lifecycle=None)
        bucket("lifecycle-off", lifecycle="Disabled")
        bucket("unprotected", retain=False)
        bucket("force-destroyed", force_destroy=True)
        bucket("no-ownership", ownership=None)
        bucket("object-writer", ownership="ObjectWriter")

    return record(program)


@pytest.mark.parametrize("rule_id", sorted(S3_BROKEN))
def test_s3_rules_report_exactly_their_broken_buckets(s3_stack: RecordedStack, rule_id: str) -> None:
    rule = S3_RULES[rule_id]
    assert found(rule, s3_stack) == sorted(S3_BROKEN[rule_id])
    assert checked(rule, s3_stack) == 22


@pytest.mark.parametrize(("rule_id", "resource", "why"), [(r, n, w) for r, broken in S3_BROKEN.items() for n, w in broken.items()])
def test_s3_rules_say_why(s3_stack: RecordedStack, rule_id: str, resource: str, why: str) -> None:
    assert message(S3_RULES[rule_id], s3_stack, resource) == why


def test_an_access_log_target_is_exempt_from_logging_and_retention_but_not_from_encryption(s3_stack: RecordedStack) -> None:
    """`access-logs` receives the others' logs: it passes S3005/S3007 without logging or
    retention, and S3002 with SSE-S3; a bucket logging into itself is not such a target."""
    logs = s3_stack.one("aws:s3/bucket:Bucket", "access-logs")
    assert logs.options["retain_on_delete"] is False
    assert "access-logs" not in found(BucketsAccessLogged(), s3_stack) + found(DataBucketsRetained(), s3_stack)
    assert "self-logged" in found(BucketsAccessLogged(), s3_stack)

    stack = record(lambda: (bucket("data", log_to="logs-unencrypted"), bucket("logs-unencrypted", sse=None, log_to=None, retain=False)))
    assert found(BucketsEncrypted(), stack) == ["logs-unencrypted"]
    assert found(BucketsAccessLogged(), stack) == [] and found(DataBucketsRetained(), stack) == []


def test_the_v2_and_inline_forms_are_read(s3_stack: RecordedStack) -> None:
    assert s3_stack.one("aws:s3/bucketV2:BucketV2", "legacy-v2").state["arn"] == "arn:aws:s3:::acme-legacy-v2"
    assert {r.type for r in s3_stack.resources if r.name.startswith("legacy-v2-")} >= {
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
        "aws:s3/bucketLoggingV2:BucketLoggingV2",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    }
    every = [name for rule in S3_RULES.values() for name in found(rule, s3_stack)]
    assert "legacy-v2" not in every and "inline" not in every


# -- Firehose ----------------------------------------------------------------------------------------


def delivery_stream(
    name: str, *, backup: aws.s3.Bucket, group: aws.cloudwatch.LogGroup, **overrides: Any
) -> aws.kinesis.FirehoseDeliveryStream:
    """A DirectPut stream to S3, encrypted with a customer key, error prefix, logging to
    `group`, with its own role scoped to exactly that (unless `role_arn` is given)."""
    sse = overrides.pop("server_side_encryption", {"enabled": True, "key_type": "CUSTOMER_MANAGED_CMK", "key_arn": KEY})
    config: dict[str, Any] = {
        "bucket_arn": backup.arn,
        "prefix": "events/source=!{partitionKeyFromQuery:source}/",
        "error_output_prefix": "errors/!{firehose:error-output-type}/",
        "cloudwatch_logging_options": {"enabled": True, "log_group_name": group.name, "log_stream_name": "delivery"},
        **overrides.pop("config", {}),
    }
    role_arn = overrides.pop("role_arn", None)
    if role_arn is None:
        objects = pulumi.Output.concat(backup.arn, "/*")
        statements = [allow(["s3:PutObject", "s3:GetBucketLocation", "s3:ListBucket", "s3:AbortMultipartUpload"], [backup.arn, objects])]
        if (sse or {}).get("key_arn"):
            statements.append(allow(["kms:GenerateDataKey", "kms:Decrypt"], KEY))
        if config["cloudwatch_logging_options"].get("log_group_name") is group.name:
            statements.append(allow("logs:PutLogEvents", pulumi.Output.concat(group.arn, ":log-stream:*")))
        statements += overrides.pop("statements", [])
        role_arn = role(f"{name}-role", "firehose.amazonaws.com", *statements).arn
    config["role_arn"] = role_arn
    settings: dict[str, Any] = {
        "destination": "extended_s3",
        "server_side_encryption": sse,
        "extended_s3_configuration": config,
        **overrides,
    }
    return aws.kinesis.FirehoseDeliveryStream(name, **settings)


FHS_BROKEN: dict[str, dict[str, str]] = {
    "FHS001": {
        "unencrypted-stream": "DirectPut stream: server_side_encryption.enabled is not true",
        "aws-owned-stream": "DirectPut stream: key_type is 'AWS_OWNED_CMK'; use CUSTOMER_MANAGED_CMK with a key_arn",
    },
    "FHS002": {
        "no-error-prefix": "no extended_s3_configuration.error_output_prefix",
        "blank-error-prefix": "no extended_s3_configuration.error_output_prefix",
    },
    "FHS003": {
        "unlogged-stream": "cloudwatch_logging_options.enabled is not true",
        "stray-log-stream": "logs to group '/elsewhere' stream 'delivery'; name a log group of this stack and a stream",
    },
    "FHS004": {
        "wild-role-stream": "role 'wild-role' policy: a statement without Sid allows wildcard actions ['s3:*']",
        "other-bucket-stream": "role 'other-bucket-stream-role' policy: a statement without Sid names ['arn:aws:s3:::acme-other/*'], "
        "beyond the stream's bucket, keys, log group and source",
        "undeclared-role-stream": "role 'arn:aws:iam::123456789012:role/firehose' is not a role declared in this stack",
    },
}
FHS_RULES = {
    r.id: r for r in (DeliveryStreamsEncrypted(), DeliveryStreamsKeepFailures(), DeliveryStreamsLogged(), DeliveryStreamRolesScoped())
}


@pytest.fixture(scope="module")
def firehose_stack() -> RecordedStack:
    def program() -> None:
        backup = aws.s3.Bucket("backup", bucket="acme-backup")
        group = aws.cloudwatch.LogGroup("delivery-logs", name="/firehose/backup", retention_in_days=30)
        common = {"backup": backup, "group": group}
        delivery_stream("backup-stream", **common)
        source = f"arn:aws:kinesis:{ARN}:stream/events"
        read = allow(["kinesis:GetRecords", "kinesis:GetShardIterator"], source)
        kinesis = {"kinesis_stream_arn": source, "role_arn": f"arn:aws:iam::{ACCOUNT}:role/unused"}
        delivery_stream("from-kinesis", server_side_encryption=None, kinesis_source_configuration=kinesis, statements=[read], **common)
        delivery_stream("unencrypted-stream", server_side_encryption={"enabled": False}, **common)
        delivery_stream("aws-owned-stream", server_side_encryption={"enabled": True, "key_type": "AWS_OWNED_CMK"}, **common)
        delivery_stream("no-error-prefix", config={"error_output_prefix": None}, **common)
        delivery_stream("blank-error-prefix", config={"error_output_prefix": " "}, **common)
        delivery_stream("unlogged-stream", config={"cloudwatch_logging_options": {"enabled": False}}, **common)
        stray = {"enabled": True, "log_group_name": "/elsewhere", "log_stream_name": "delivery"}
        delivery_stream("stray-log-stream", config={"cloudwatch_logging_options": stray}, **common)
        wild = role("wild-role", "firehose.amazonaws.com", allow("s3:*", [backup.arn, pulumi.Output.concat(backup.arn, "/*")]))
        delivery_stream("wild-role-stream", role_arn=wild.arn, **common)
        delivery_stream("other-bucket-stream", statements=[allow("s3:PutObject", "arn:aws:s3:::acme-other/*")], **common)
        delivery_stream("undeclared-role-stream", role_arn=f"arn:aws:iam::{ACCOUNT}:role/firehose", **common)

    return record(program)


@pytest.mark.parametrize("rule_id", sorted(FHS_BROKEN))
def test_firehose_rules_report_exactly_their_broken_streams(firehose_stack: RecordedStack, rule_id: str) -> None:
    rule = FHS_RULES[rule_id]
    assert found(rule, firehose_stack) == sorted(FHS_BROKEN[rule_id])
    assert checked(rule, firehose_stack) == 11


@pytest.mark.parametrize(("rule_id", "resource", "why"), [(r, n, w) for r, broken in FHS_BROKEN.items() for n, w in broken.items()])
def test_firehose_rules_say_why(firehose_stack: RecordedStack, rule_id: str, resource: str, why: str) -> None:
    assert message(FHS_RULES[rule_id], firehose_stack, resource) == why


# -- Step Functions ----------------------------------------------------------------------------------

LOG_DELIVERY = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery"]
LOG_DELIVERY += ["logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"]
TRACING = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]


def state_machine(
    name: str,
    *,
    role_arn: Any = None,
    statements: tuple[Any, ...] = (),
    logging: Any = "ERROR",
    retention: int | None = 30,
    tracing: bool = True,
    alarms: tuple[str, ...] = ("ExecutionsFailed", "ExecutionsTimedOut"),
) -> aws.sfn.StateMachine:
    """A state machine with its own scoped role, ERROR logs to a retained group, tracing and
    both alarms; each keyword changes or omits one."""
    if role_arn is None:
        invoke = allow("lambda:InvokeFunction", [FUNCTION_ARN, f"{FUNCTION_ARN}:*"])
        role_arn = role(f"{name}-role", "states.amazonaws.com", invoke, allow(LOG_DELIVERY, "*"), allow(TRACING, "*"), *statements).arn
    settings: dict[str, Any] = {}
    if logging == "stray":
        settings["logging_configuration"] = {"level": "ALL", "log_destination": f"arn:aws:logs:{ARN}:log-group:/elsewhere:*"}
    elif logging:
        group = aws.cloudwatch.LogGroup(f"{name}-logs", name=f"/states/{name}", retention_in_days=retention)
        settings["logging_configuration"] = {"level": logging, "log_destination": pulumi.Output.concat(group.arn, ":*")}
    if tracing:
        settings["tracing_configuration"] = {"enabled": True}
    definition = json.dumps({"StartAt": "Step", "States": {"Step": {"Type": "Task", "Resource": FUNCTION_ARN, "End": True}}})
    m = aws.sfn.StateMachine(name, role_arn=role_arn, definition=definition, **settings)
    for metric in alarms:
        aws.cloudwatch.MetricAlarm(
            f"{name}-{metric}",
            namespace="AWS/States",
            metric_name=metric,
            dimensions={"StateMachineArn": m.arn},
            statistic="Sum",
            period=300,
            evaluation_periods=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
        )
    return m


SFN_BROKEN: dict[str, dict[str, str]] = {
    "SFN001": {
        "unlogged-machine": "logging_configuration.level is 'OFF'; set ALL, ERROR or FATAL",
        "off-machine": "logging_configuration.level is 'OFF'; set ALL, ERROR or FATAL",
        "stray-log-machine": f"log_destination 'arn:aws:logs:{ARN}:log-group:/elsewhere:*' is not a log group of this stack",
        "forever-log-machine": "its log group 'forever-log-machine-logs' has no retention_in_days",
    },
    "SFN002": {"untraced-machine": "tracing_configuration.enabled is not true"},
    "SFN003": {
        "unalarmed-machine": "no alarm on AWS/States ['ExecutionsFailed', 'ExecutionsTimedOut'] with StateMachineArn=",
        "half-alarmed-machine": "no alarm on AWS/States ['ExecutionsTimedOut'] with StateMachineArn=",
    },
    "SFN004": {
        "wild-machine": "role 'wild-machine-role' policy: a statement without Sid allows wildcard actions ['lambda:*']",
        "star-machine": "role 'star-machine-role' policy: a statement without Sid allows ['lambda:InvokeFunction'] on ['*']",
        "shared-role-a": "role 'shared-role' is shared with ['shared-role-b']",
        "shared-role-b": "role 'shared-role' is shared with ['shared-role-a']",
        "undeclared-role-machine": f"role 'arn:aws:iam::{ACCOUNT}:role/states' is not a role declared in this stack",
    },
}
SFN_RULES = {r.id: r for r in (StateMachinesLogged(), StateMachinesTraced(), StateMachineFailureAlarms(), StateMachineRolesScoped())}


@pytest.fixture(scope="module")
def sfn_stack() -> RecordedStack:
    def program() -> None:
        state_machine("rollover")
        state_machine("fatal-only", logging="FATAL")
        state_machine("unlogged-machine", logging=None)
        state_machine("off-machine", logging="OFF")
        state_machine("stray-log-machine", logging="stray")
        state_machine("forever-log-machine", retention=None)
        state_machine("untraced-machine", tracing=False)
        state_machine("unalarmed-machine", alarms=())
        state_machine("half-alarmed-machine", alarms=("ExecutionsFailed",))
        state_machine("wild-machine", statements=(allow("lambda:*", FUNCTION_ARN),))
        state_machine("star-machine", statements=(allow("lambda:InvokeFunction", "*"),))
        shared = role("shared-role", "states.amazonaws.com", allow("lambda:InvokeFunction", FUNCTION_ARN))
        state_machine("shared-role-a", role_arn=shared.arn)
        state_machine("shared-role-b", role_arn=shared.arn)
        state_machine("undeclared-role-machine", role_arn=f"arn:aws:iam::{ACCOUNT}:role/states")

    return record(program)


@pytest.mark.parametrize("rule_id", sorted(SFN_BROKEN))
def test_sfn_rules_report_exactly_their_broken_state_machines(sfn_stack: RecordedStack, rule_id: str) -> None:
    rule = SFN_RULES[rule_id]
    assert found(rule, sfn_stack) == sorted(SFN_BROKEN[rule_id])
    assert checked(rule, sfn_stack) == 14


@pytest.mark.parametrize(("rule_id", "resource", "why"), [(r, n, w) for r, broken in SFN_BROKEN.items() for n, w in broken.items()])
def test_sfn_rules_say_why(sfn_stack: RecordedStack, rule_id: str, resource: str, why: str) -> None:
    assert message(SFN_RULES[rule_id], sfn_stack, resource).startswith(why)


def test_log_delivery_and_xray_actions_are_the_only_unscopable_ones_a_workflow_needs() -> None:
    """Step Functions' logging and tracing need `*` (these actions take no resource); the
    IAM002 allow-list has them, and nothing else a state machine's role might want."""
    assert set(LOG_DELIVERY + TRACING) <= UNSCOPABLE_ACTIONS
    assert not {"states:StartExecution", "lambda:InvokeFunction", "logs:PutLogEvents", "logs:CreateLogStream"} & UNSCOPABLE_ACTIONS


# -- Scheduler ---------------------------------------------------------------------------------------


def schedule(
    name: str,
    *,
    target: str = MACHINE_ARN,
    statements: tuple[Any, ...] | None = None,
    role_arn: Any = None,
    retry: dict[str, int] | None = None,
    dlq: Any = "own",
    expression: str = "cron(0 1 1 1 ? *)",
    timezone: str | None = "Europe/Paris",
) -> aws.scheduler.Schedule:
    """A cron schedule in Paris time starting a state machine, with retries, an encrypted DLQ
    and a role that may start that machine and write to that DLQ; keywords change one thing."""
    queue = None
    if dlq == "own":
        queue = aws.sqs.Queue(f"{name}-dlq", name=f"{name}-dlq", kms_master_key_id=KEY)
    elif dlq == "plain":
        queue = aws.sqs.Queue(f"{name}-dlq", name=f"{name}-dlq", sqs_managed_sse_enabled=False)
    dlq_arn = queue.arn if queue is not None else dlq
    if role_arn is None:
        if statements is None:
            statements = (allow("states:StartExecution", target), allow("sqs:SendMessage", dlq_arn))
            statements += (allow(["kms:GenerateDataKey", "kms:Decrypt"], KEY),) if dlq == "own" else ()
        role_arn = role(f"{name}-role", "scheduler.amazonaws.com", *statements).arn
    target_settings: dict[str, Any] = {"arn": target, "role_arn": role_arn}
    target_settings["retry_policy"] = {"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600} if retry is None else retry
    if dlq_arn is not None:
        target_settings["dead_letter_config"] = {"arn": dlq_arn}
    zone = {"schedule_expression_timezone": timezone} if timezone else {}
    return aws.scheduler.Schedule(
        name, schedule_expression=expression, flexible_time_window={"mode": "OFF"}, target=target_settings, **zone
    )


SCH_BROKEN: dict[str, dict[str, str]] = {
    "SCH001": {
        "no-retry-schedule": "retry_policy is None; set maximum_retry_attempts (0..185) and maximum_event_age_in_seconds (60..86400)",
        "endless-retry-schedule": "retry_policy is {'maximumRetryAttempts': 500}; set maximum_retry_attempts (0..185) and "
        "maximum_event_age_in_seconds (60..86400)",
        "no-dlq-schedule": "no dead_letter_config",
        "foreign-dlq-schedule": f"dead-letter queue 'arn:aws:sqs:{ARN}:elsewhere' is not an SQS queue of this stack",
        "plain-dlq-schedule": "dead-letter queue 'plain-dlq-schedule-dlq' is not encrypted",
    },
    "SCH002": {
        "wild-schedule": "role 'wild-schedule-role' policy: a statement without Sid allows wildcard action 'states:*'",
        "broad-schedule": "role 'broad-schedule-role' policy: a statement without Sid allows 'states:StartExecution' on "
        f"['{OTHER_MACHINE_ARN}'], not only",
        "extra-action-schedule": "role 'extra-action-schedule-role' policy: a statement without Sid allows 'lambda:InvokeFunction', "
        "which starting",
        "powerless-schedule": f"role 'powerless-schedule-role' does not allow states:StartExecution on '{MACHINE_ARN}'",
        "undeclared-role-schedule": f"role 'arn:aws:iam::{ACCOUNT}:role/scheduler' is not a role declared in this stack",
    },
    "SCH003": {"utc-by-default-schedule": "cron(0 1 1 1 ? *) has no schedule_expression_timezone"},
}
SCH_RULES = {r.id: r for r in (SchedulesHandleFailures(), ScheduleRolesScoped(), CronSchedulesZoned())}


@pytest.fixture(scope="module")
def scheduler_stack() -> RecordedStack:
    def program() -> None:
        schedule("rollover-schedule")
        aws.cloudwatch.MetricAlarm(
            "rollover-schedule-dlq-depth",
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": "rollover-schedule-dlq"},
            statistic="Maximum",
            period=60,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
        )
        schedule("hourly", expression="rate(1 hour)", timezone=None)
        sdk = "arn:aws:scheduler:::aws-sdk:sfn:startExecution"
        schedule("universal", target=sdk, statements=(allow("states:StartExecution", MACHINE_ARN),), dlq=None, retry=None)
        schedule("no-retry-schedule", retry={})
        schedule("endless-retry-schedule", retry={"maximum_retry_attempts": 500})
        schedule("no-dlq-schedule", dlq=None, statements=(allow("states:StartExecution", MACHINE_ARN),))
        schedule("foreign-dlq-schedule", dlq=f"arn:aws:sqs:{ARN}:elsewhere")
        schedule("plain-dlq-schedule", dlq="plain")
        schedule("wild-schedule", statements=(allow("states:*", MACHINE_ARN),))
        schedule("broad-schedule", statements=(allow("states:StartExecution", [MACHINE_ARN, OTHER_MACHINE_ARN]),))
        schedule(
            "extra-action-schedule", statements=(allow("states:StartExecution", MACHINE_ARN), allow("lambda:InvokeFunction", FUNCTION_ARN))
        )
        schedule("powerless-schedule", statements=(allow("sqs:SendMessage", f"arn:aws:sqs:{ARN}:x"),), dlq=f"arn:aws:sqs:{ARN}:x")
        schedule("undeclared-role-schedule", role_arn=f"arn:aws:iam::{ACCOUNT}:role/scheduler")
        schedule("utc-by-default-schedule", timezone=None)

    return record(program)


def test_scheduler_fixture_has_what_the_tests_assume(scheduler_stack: RecordedStack) -> None:
    universal = scheduler_stack.one("aws:scheduler/schedule:Schedule", "universal")
    assert "deadLetterConfig" not in universal.inputs["target"]


@pytest.mark.parametrize("rule_id", sorted(SCH_BROKEN))
def test_scheduler_rules_report_exactly_their_broken_schedules(scheduler_stack: RecordedStack, rule_id: str) -> None:
    rule = SCH_RULES[rule_id]
    expected = set(SCH_BROKEN[rule_id])
    if rule_id == "SCH001":
        expected |= {"universal", "powerless-schedule"}  # no DLQ (universal); a DLQ outside the stack (powerless)
    assert found(rule, scheduler_stack) == sorted(expected)
    assert checked(rule, scheduler_stack) == 14


@pytest.mark.parametrize(("rule_id", "resource", "why"), [(r, n, w) for r, broken in SCH_BROKEN.items() for n, w in broken.items()])
def test_scheduler_rules_say_why(scheduler_stack: RecordedStack, rule_id: str, resource: str, why: str) -> None:
    assert message(SCH_RULES[rule_id], scheduler_stack, resource).startswith(why)


def test_obs003_watches_the_dead_letter_queues_of_schedules(scheduler_stack: RecordedStack) -> None:
    """A schedule's DLQ receives failures like a target's: it needs a depth alarm (OBS003)."""
    dlqs = {q.name for q in scheduler_stack.of_type("aws:sqs/queue:Queue")}
    assert "rollover-schedule-dlq" in dlqs and len(dlqs) == 10
    assert sorted(v.resource_name for v in DeadLetterQueueAlarms().check(scheduler_stack)) == sorted(dlqs - {"rollover-schedule-dlq"})
    assert message(DeadLetterQueueAlarms(), scheduler_stack, "hourly-dlq").startswith("receives failures of 'hourly' but has no alarm")


def test_a_universal_target_needs_its_api_action_on_a_named_resource(scheduler_stack: RecordedStack) -> None:
    assert "universal" not in found(ScheduleRolesScoped(), scheduler_stack)
    stack = record(
        lambda: schedule(
            "sdk-star", target="arn:aws:scheduler:::aws-sdk:sfn:startExecution", statements=(allow("states:StartExecution", "*"),)
        )
    )
    assert "sdk-star" in found(ScheduleRolesScoped(), stack)


# -- the default rule set ----------------------------------------------------------------------------


def test_the_new_families_are_in_the_default_rules_with_rationales() -> None:
    ids = [r.id for r in DEFAULT_RULES]
    for family in (S3_RULES, FHS_RULES, SFN_RULES, SCH_RULES):
        assert set(family) <= set(ids)
        assert all(r.title and len(r.rationale) > 80 and r.resource_types for r in family.values())


def test_a_compliant_backup_and_workflow_stack_passes_every_default_rule_of_these_families(
    s3_stack: RecordedStack, sfn_stack: RecordedStack
) -> None:
    families = set(S3_RULES) | set(SFN_RULES)
    for stack, good in ((s3_stack, {"backup", "access-logs", "legacy-v2", "inline"}), (sfn_stack, {"rollover", "fatal-only"})):
        report = check_stack(stack, rules=[r for r in DEFAULT_RULES if r.id in families])
        assert not {v.resource_name for v in report.violations} & good, report.render()


# -- all together: a backup and a workflow built right pass every rule -------------------------------


def _alarm(name: str, namespace: str, metric: str, dimensions: dict[str, Any]) -> None:
    aws.cloudwatch.MetricAlarm(
        name,
        namespace=namespace,
        metric_name=metric,
        dimensions=dimensions,
        statistic="Sum",
        period=300,
        evaluation_periods=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=1,
    )


def _dlq(name: str, key: Any, sender: dict[str, Any] | None = None) -> aws.sqs.Queue:
    """An encrypted queue whose policy denies plain HTTP (and lets `sender` send), watched by an alarm."""
    q = aws.sqs.Queue(name, name=name, kms_master_key_id=key)
    tls = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": q.arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    aws.sqs.QueuePolicy(f"{name}-policy", queue_url=q.url, policy=doc(tls, *([{**sender, "Resource": q.arn}] if sender else [])))
    _alarm(f"{name}-depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": name})
    return q


@pytest.fixture(scope="module")
def platform_stack() -> RecordedStack:
    """Raw resources shaped like the event backup and a scheduled workflow should be."""

    def program() -> None:
        kept = pulumi.ResourceOptions(protect=True, retain_on_delete=True)
        admin = allow(["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DescribeKey"], "*")
        key = aws.kms.Key(
            "data-key", enable_key_rotation=True, policy=doc({**admin, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}), opts=kept
        )
        logs = bucket("access-logs", sse=("AES256", None), log_to=None, retain=False, tls=None)
        objects = pulumi.Output.concat(logs.arn, "/*")
        tls = {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [logs.arn, objects],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        delivery = {
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
        aws.s3.BucketPolicy("access-logs-policy", bucket=logs.id, policy=doc(tls, delivery))
        backup = bucket("backup", sse=("aws:kms", key.arn))
        group = aws.cloudwatch.LogGroup("backup-delivery-logs", name="/firehose/backup", retention_in_days=30, kms_key_id=key.arn)
        writes = allow(
            ["s3:PutObject", "s3:GetBucketLocation", "s3:ListBucket", "s3:AbortMultipartUpload"],
            [backup.arn, pulumi.Output.concat(backup.arn, "/*")],
        )
        firehose_role = role(
            "backup-delivery-role",
            "firehose.amazonaws.com",
            writes,
            allow(["kms:GenerateDataKey", "kms:Decrypt"], key.arn),
            allow("logs:PutLogEvents", pulumi.Output.concat(group.arn, ":log-stream:*")),
        )
        stream = aws.kinesis.FirehoseDeliveryStream(
            "backup-delivery",
            destination="extended_s3",
            server_side_encryption={"enabled": True, "key_type": "CUSTOMER_MANAGED_CMK", "key_arn": key.arn},
            extended_s3_configuration={
                "bucket_arn": backup.arn,
                "role_arn": firehose_role.arn,
                "prefix": "source=!{partitionKeyFromQuery:source}/",
                "error_output_prefix": "errors/!{firehose:error-output-type}/",
                "cloudwatch_logging_options": {"enabled": True, "log_group_name": group.name, "log_stream_name": "delivery"},
            },
        )
        rule = aws.cloudwatch.EventRule("backup-all", event_bus_name="bus", event_pattern=json.dumps({"source": [{"prefix": ""}]}))
        to_stream = role("backup-put-role", "events.amazonaws.com", allow(["firehose:PutRecord", "firehose:PutRecordBatch"], stream.arn))
        from_rule = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage"}
        target_dlq = _dlq("backup-target-dlq", key.arn, {**from_rule, "Condition": {"ArnEquals": {"aws:SourceArn": rule.arn}}})
        aws.cloudwatch.EventTarget(
            "backup-target",
            rule=rule.name,
            event_bus_name="bus",
            arn=stream.arn,
            role_arn=to_stream.arn,
            dead_letter_config={"arn": target_dlq.arn},
            retry_policy={"maximum_retry_attempts": 10, "maximum_event_age_in_seconds": 3600},
        )

        machine_logs = aws.cloudwatch.LogGroup("rollover-logs", name="/states/rollover", retention_in_days=30, kms_key_id=key.arn)
        machine_role = role(
            "rollover-role",
            "states.amazonaws.com",
            allow("lambda:InvokeFunction", [FUNCTION_ARN, f"{FUNCTION_ARN}:*"]),
            allow(LOG_DELIVERY, "*"),
            allow(TRACING, "*"),
        )
        definition = json.dumps({"StartAt": "Step", "States": {"Step": {"Type": "Task", "Resource": FUNCTION_ARN, "End": True}}})
        machine = aws.sfn.StateMachine(
            "rollover",
            role_arn=machine_role.arn,
            definition=definition,
            logging_configuration={"level": "ERROR", "log_destination": pulumi.Output.concat(machine_logs.arn, ":*")},
            tracing_configuration={"enabled": True},
        )
        for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
            _alarm(f"rollover-{metric}", "AWS/States", metric, {"StateMachineArn": machine.arn})
        schedule_dlq = _dlq("rollover-schedule-dlq", key.arn)
        schedule_role = role(
            "rollover-schedule-role",
            "scheduler.amazonaws.com",
            allow("states:StartExecution", machine.arn),
            allow("sqs:SendMessage", schedule_dlq.arn),
            allow(["kms:GenerateDataKey", "kms:Decrypt"], key.arn),
        )
        aws.scheduler.Schedule(
            "rollover-yearly",
            schedule_expression="cron(0 1 1 1 ? *)",
            schedule_expression_timezone="Europe/Paris",
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": machine.arn,
                "role_arn": schedule_role.arn,
                "retry_policy": {"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600},
                "dead_letter_config": {"arn": schedule_dlq.arn},
            },
        )

    return record(program, project="platform", stack="prod")


def test_a_backup_and_a_workflow_built_right_pass_every_rule(platform_stack: RecordedStack) -> None:
    """The rules agree with each other: the log-delivery `*` (IAM002), the roles of a stream,
    a target, a workflow and a schedule (IAM004), their DLQs (SQS001/SQS002/OBS003), the
    bucket key kept with the bucket (KMS002) and every new family, all at once."""
    report = check_stack(platform_stack)
    assert report.ok, report.render()
    families = set(S3_RULES) | set(FHS_RULES) | set(SFN_RULES) | set(SCH_RULES)
    assert all(r.checked for r in report.results if r.rule.id in families)
    system = check_system([platform_stack])
    assert system.ok, system.render()
