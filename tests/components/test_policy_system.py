"""The whole-system rules (SYS001-SYS003) and `check_system`, over several recorded programs.

Programs are recorded one after the other, as a user's CI would: the platform first, then
each service with the values it reads from the platform (here the recorded ARNs, passed in
as a stack reference would pass them). Each rule gets a system holding readers, consumers
and workflows that satisfy it, plus one per way to break it; the rule must report exactly
the broken ones, across programs, and say why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from acme_eventsourcing.testing import RecordedStack, record
from acme_eventsourcing.testing.policy import (
    DEFAULT_RULES,
    SYSTEM_RULES,
    Exemption,
    FailuresCaught,
    StreamConsumersWithinRetention,
    StreamReadersLimited,
    SystemRule,
    Violation,
    check_system,
)

ACCOUNT = "123456789012"
ARN = f"us-east-1:{ACCOUNT}"
QUEUE_ARN = f"arn:aws:sqs:{ARN}:consumer-dlq"


def stream_table(name: str) -> aws.dynamodb.Table:
    return aws.dynamodb.Table(
        name,
        hash_key="pk",
        attributes=[{"name": "pk", "type": "S"}],
        stream_enabled=True,
        stream_view_type="NEW_IMAGE",
        server_side_encryption={"enabled": True},
    )


def mapping(name: str, source: Any, **overrides: Any) -> aws.lambda_.EventSourceMapping:
    """A stream mapping with bounds inside the retention and an on-failure destination."""
    settings: dict[str, Any] = {
        "starting_position": "TRIM_HORIZON",
        "maximum_retry_attempts": 10,
        "maximum_record_age_in_seconds": 82800,
        "bisect_batch_on_function_error": True,
        "destination_config": {"on_failure": {"destination_arn": QUEUE_ARN}},
        **overrides,
    }
    return aws.lambda_.EventSourceMapping(name, event_source_arn=source, function_name=name, **settings)


def pipe(name: str, source: Any, **params: Any) -> aws.pipes.Pipe:
    stream = {
        "starting_position": "TRIM_HORIZON",
        "maximum_retry_attempts": 10,
        "maximum_record_age_in_seconds": 82800,
        "dead_letter_config": {"arn": QUEUE_ARN},
        **params,
    }
    target = f"arn:aws:events:{ARN}:event-bus/bus"
    return aws.pipes.Pipe(
        name,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/pipe",
        source=source,
        target=target,
        source_parameters={"dynamodb_stream_parameters": stream},
    )


def names(violations: list[Violation]) -> list[tuple[str, str]]:
    """(program, resource) of each violation, sorted."""
    return sorted((v.program, v.resource_name) for v in violations)


def run(rule: SystemRule, stacks: list[RecordedStack]) -> list[tuple[str, str]]:
    return names(rule.check_system(stacks))


def one_message(rule: SystemRule, stacks: list[RecordedStack], resource: str) -> str:
    messages = [v.message for v in rule.check_system(stacks) if v.resource_name == resource]
    assert len(messages) == 1, f"expected one violation on {resource!r}, got {messages}"
    return messages[0]


# -- SYS001 at most two readers per DynamoDB stream, across programs ---------------------------------


@pytest.fixture(scope="module")
def readers_system() -> list[RecordedStack]:
    def owner() -> None:
        for name in ("paired", "crowded", "piped", "quiet"):
            stream_table(name)
        paired = stream_table("paired-2")
        mapping("paired-a", paired.stream_arn)
        mapping("paired-b", paired.stream_arn)

    owner_stack = record(owner, project="orders", stack="dev")
    arn = {t.name: t.state["streamArn"] for t in owner_stack.of_type("aws:dynamodb/table:Table")}

    def readers() -> None:  # the same program's readers, by the ARNs a stack reference would give
        mapping("crowded-a", arn["crowded"])
        mapping("crowded-b", arn["crowded"])
        mapping("piped-mapping", arn["piped"])
        pipe("piped-pipe-1", arn["piped"])
        pipe("piped-pipe-2", arn["piped"])
        mapping("quiet-a", arn["quiet"])
        mapping("quiet-b", arn["quiet"])
        mapping("quiet-off", arn["quiet"], enabled=False)  # disabled: reads nothing
        mapping("foreign-a", f"arn:aws:dynamodb:{ARN}:table/elsewhere/stream/x")
        mapping("foreign-b", f"arn:aws:dynamodb:{ARN}:table/elsewhere/stream/x")
        mapping("foreign-c", f"arn:aws:dynamodb:{ARN}:table/elsewhere/stream/x")

    def auditor() -> None:  # another service reading the crowded stream: the third reader
        mapping("crowded-audit", arn["crowded"])

    return [owner_stack, record(readers, project="billing", stack="dev"), record(auditor, project="audit", stack="dev")]


def test_sys001_reports_the_streams_with_more_than_two_readers_across_programs(readers_system: list[RecordedStack]) -> None:
    assert run(StreamReadersLimited(), readers_system) == [
        ("billing/dev", "foreign-a"),  # a stream no program declares: each of its readers
        ("billing/dev", "foreign-b"),
        ("billing/dev", "foreign-c"),
        ("orders/dev", "crowded"),  # a declared stream: its table, once
        ("orders/dev", "piped"),
    ]
    why = one_message(StreamReadersLimited(), readers_system, "crowded")
    assert why.endswith("has 3 readers ['crowded-a (billing/dev)', 'crowded-audit (audit/dev)', 'crowded-b (billing/dev)']; at most 2")


def test_sys001_counts_no_reader_twice_and_needs_every_program(readers_system: list[RecordedStack]) -> None:
    assert StreamReadersLimited().checked_system(readers_system) == 13
    assert ("orders/dev", "crowded") not in run(StreamReadersLimited(), readers_system[:2])  # without the auditor: two
    assert run(StreamReadersLimited(max_readers=3), readers_system) == []
    strict = {n for _, n in run(StreamReadersLimited(max_readers=1), readers_system)}
    assert strict == {"paired-2", "crowded", "piped", "quiet", "foreign-a", "foreign-b", "foreign-c"}


# -- SYS002 consumer bounds inside the stream's retention --------------------------------------------


@pytest.fixture(scope="module")
def retention_system() -> list[RecordedStack]:
    def program() -> None:
        table = stream_table("events")
        mapping("bounded", table.stream_arn)
        mapping("day-long", table.stream_arn, maximum_record_age_in_seconds=86400)
        mapping("forever", table.stream_arn, maximum_record_age_in_seconds=-1)
        mapping("ageless", table.stream_arn, maximum_record_age_in_seconds=None)
        mapping("endless-retries", table.stream_arn, maximum_retry_attempts=-1)
        pipe("bounded-pipe", table.stream_arn)
        pipe("slow-pipe", table.stream_arn, maximum_record_age_in_seconds=90000)
        kinesis = aws.kinesis.Stream("clicks", retention_period=48, shard_count=1)
        mapping("two-day-reader", kinesis.arn, maximum_record_age_in_seconds=169200)
        mapping("three-day-reader", kinesis.arn, maximum_record_age_in_seconds=172800)
        mapping("queue-reader", f"arn:aws:sqs:{ARN}:work")  # not a stream: not this rule's

    return [record(program, project="orders", stack="dev")]


SYS002_BROKEN = {
    "day-long": "maximum_record_age_in_seconds 86400 exceeds 82800 (retention 86400 s minus a 3600 s margin)",
    "forever": "maximum_record_age_in_seconds is -1: unbounded, the stream drops the record first",
    "ageless": "maximum_record_age_in_seconds is None: unbounded, the stream drops the record first",
    "endless-retries": "maximum_retry_attempts is -1: retries until the record expires",
    "slow-pipe": "maximum_record_age_in_seconds 90000 exceeds 82800 (retention 86400 s minus a 3600 s margin)",
    "three-day-reader": "maximum_record_age_in_seconds 172800 exceeds 169200 (retention 172800 s minus a 3600 s margin)",
}


def test_sys002_reports_exactly_the_consumers_that_outlive_the_stream(retention_system: list[RecordedStack]) -> None:
    assert run(StreamConsumersWithinRetention(), retention_system) == sorted(("orders/dev", n) for n in SYS002_BROKEN)
    assert StreamConsumersWithinRetention().checked_system(retention_system) == 9


@pytest.mark.parametrize(("resource", "why"), SYS002_BROKEN.items())
def test_sys002_says_why(retention_system: list[RecordedStack], resource: str, why: str) -> None:
    assert one_message(StreamConsumersWithinRetention(), retention_system, resource) == why


def test_sys002_margin_is_a_parameter(retention_system: list[RecordedStack]) -> None:
    found = run(StreamConsumersWithinRetention(margin_seconds=0), retention_system)
    assert ("orders/dev", "day-long") not in found and ("orders/dev", "slow-pipe") in found


# -- SYS003 a failure path for every consumer, schedule and workflow ---------------------------------


def queue(name: str, **overrides: Any) -> aws.sqs.Queue:
    return aws.sqs.Queue(name, sqs_managed_sse_enabled=True, **overrides)


@pytest.fixture(scope="module")
def failures_system() -> list[RecordedStack]:
    def platform() -> None:
        dlq = queue("shared-dlq")
        redrive = pulumi.Output.json_dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 5})
        queue("inbox", redrive_policy=redrive)
        queue("raw-inbox")
        pulumi.export("dlq_arn", dlq.arn)

    platform_stack = record(platform, project="platform", stack="prod")
    dlq = platform_stack.outputs["dlq_arn"]
    inbox = platform_stack.one("aws:sqs/queue:Queue", "inbox").state["arn"]
    raw_inbox = platform_stack.one("aws:sqs/queue:Queue", "raw-inbox").state["arn"]
    nowhere = f"arn:aws:sqs:{ARN}:nowhere"

    def service() -> None:
        table, other, third = stream_table("events"), stream_table("other-events"), stream_table("third-events")  # two readers each
        mapping("caught", table.stream_arn, destination_config={"on_failure": {"destination_arn": dlq}})
        mapping("uncaught", table.stream_arn, destination_config=None)
        mapping("lost", other.stream_arn, destination_config={"on_failure": {"destination_arn": nowhere}})
        aws.lambda_.EventSourceMapping("from-inbox", event_source_arn=inbox, function_name="w")
        aws.lambda_.EventSourceMapping("from-raw-inbox", event_source_arn=raw_inbox, function_name="w")
        aws.cloudwatch.EventTarget("target-caught", rule="r", arn="arn:aws:lambda:x", dead_letter_config={"arn": dlq})
        aws.cloudwatch.EventTarget("target-uncaught", rule="r", arn="arn:aws:lambda:x")
        pipe("pipe-caught", other.stream_arn, dead_letter_config={"arn": dlq})
        pipe("pipe-uncaught", third.stream_arn, dead_letter_config=None)
        role = f"arn:aws:iam::{ACCOUNT}:role/s"
        target = {"arn": "arn:aws:states:x", "role_arn": role}
        window = {"mode": "OFF"}
        aws.scheduler.Schedule(
            "schedule-caught",
            schedule_expression="rate(1 day)",
            flexible_time_window=window,
            target={**target, "dead_letter_config": {"arn": dlq}},
        )
        aws.scheduler.Schedule("schedule-uncaught", schedule_expression="rate(1 day)", flexible_time_window=window, target=target)
        definition = '{"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}'
        for name in ("watched-here", "watched-there", "unwatched", "timeouts-only"):
            aws.sfn.StateMachine(name, role_arn=role, definition=definition)

    service_stack = record(service, project="leave", stack="prod")
    machine = {m.name: m.state["arn"] for m in service_stack.of_type("aws:sfn/stateMachine:StateMachine")}

    def alarms() -> None:  # an operations program may alarm on another program's workflows
        for name, metric in (("watched-there", "ExecutionsFailed"), ("timeouts-only", "ExecutionsTimedOut")):
            aws.cloudwatch.MetricAlarm(
                f"{name}-alarm",
                namespace="AWS/States",
                metric_name=metric,
                dimensions={"StateMachineArn": machine[name]},
                statistic="Sum",
                period=60,
                evaluation_periods=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=1,
            )

    def local_alarm() -> None:
        aws.cloudwatch.MetricAlarm(
            "watched-here-alarm",
            namespace="AWS/States",
            metric_name="ExecutionsFailed",
            dimensions={"StateMachineArn": machine["watched-here"]},
            statistic="Sum",
            period=60,
            evaluation_periods=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
        )

    return [
        platform_stack,
        service_stack,
        record(alarms, project="ops", stack="prod"),
        record(local_alarm, project="leave-alarms", stack="prod"),
    ]


SYS003_BROKEN = {
    "uncaught": "no on-failure destination",
    "lost": f"on-failure destination 'arn:aws:sqs:{ARN}:nowhere' is declared by no program of the system",
    "from-raw-inbox": "no redrive policy on source queue 'raw-inbox'",
    "target-uncaught": "no dead_letter_config",
    "pipe-uncaught": "no pipe dead_letter_config",
    "schedule-uncaught": "no schedule dead_letter_config",
    "unwatched": "no alarm on AWS/States ExecutionsFailed with StateMachineArn=",
    "timeouts-only": "no alarm on AWS/States ExecutionsFailed with StateMachineArn=",
}


def test_sys003_reports_exactly_what_has_no_failure_path_in_the_system(failures_system: list[RecordedStack]) -> None:
    assert run(FailuresCaught(), failures_system) == sorted(("leave/prod", n) for n in SYS003_BROKEN)
    assert FailuresCaught().checked_system(failures_system) == 15


@pytest.mark.parametrize(("resource", "why"), SYS003_BROKEN.items())
def test_sys003_says_why(failures_system: list[RecordedStack], resource: str, why: str) -> None:
    assert one_message(FailuresCaught(), failures_system, resource).startswith(why)


def test_sys003_needs_the_program_that_declares_the_dlq(failures_system: list[RecordedStack]) -> None:
    """Without the platform, the DLQs and source queues it declares are references to nothing."""
    without_platform = {n for _, n in run(FailuresCaught(), failures_system[1:])}
    assert {"caught", "target-caught", "pipe-caught", "schedule-caught", "from-inbox"} <= without_platform
    assert "watched-there" in {n for _, n in run(FailuresCaught(), failures_system[:2])}  # its alarm is in the ops program


# -- check_system: the report, exemptions ------------------------------------------------------------


def test_check_system_runs_the_system_rules_and_names_each_violations_program(failures_system: list[RecordedStack]) -> None:
    report = check_system(failures_system)
    assert [r.rule.id for r in report.results] == [r.id for r in SYSTEM_RULES] == ["SYS001", "SYS002", "SYS003"]
    assert not report.ok and {v.rule_id for v in report.violations} == {"SYS003"}
    text = report.render()
    assert text.startswith(
        "Policy report for system platform/prod + leave/prod + ops/prod + leave-alarms/prod: 3 rules, 2 passed, 1 failed; "
    )
    assert "       - leave/prod: uncaught (aws:lambda/eventSourceMapping:EventSourceMapping): no on-failure destination" in text


def test_an_exemption_may_name_the_program(failures_system: list[RecordedStack]) -> None:
    covered = [Exemption("SYS003", n, "migrating; ticket OPS-9", program="leave/prod") for n in SYS003_BROKEN]
    assert check_system(failures_system, exemptions=covered).ok
    elsewhere = Exemption("SYS003", "uncaught", "wrong program", program="platform/prod")
    report = check_system(failures_system, exemptions=[*covered[1:], elsewhere])
    assert [(v.rule_id, v.resource_name) for v in report.violations] == [("SYS003", "uncaught"), ("EXEMPT", "uncaught")]


def test_check_system_refuses_no_program_or_one_twice(failures_system: list[RecordedStack]) -> None:
    with pytest.raises(ValueError, match="at least one"):
        check_system([])
    with pytest.raises(ValueError, match="once"):
        check_system([failures_system[0], failures_system[0]])


def test_every_rule_has_a_row_in_the_docs_rule_tables() -> None:
    """docs/policy.md lists every default and system rule by id, in a table row of its own."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text()
    rows = {line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ") and line.count("|") >= 4}
    assert {r.id for r in (*DEFAULT_RULES, *SYSTEM_RULES)} <= rows
    assert f"Policy report for stack leave/dev: {len(DEFAULT_RULES)} rules" in text


def test_the_ci_recipe_matches_what_a_service_reads_through_a_stack_reference() -> None:
    """The platform recorded first; the service recorded with the platform's outputs as its
    stack reference (as docs/policy.md's CI recipe does): the DLQ it reads is the platform's."""

    def platform() -> None:
        pulumi.export("dlq_arn", queue("platform-dlq").arn)

    def service() -> None:
        dlq = pulumi.StackReference("acme/platform/prod").get_output("dlq_arn")
        aws.cloudwatch.EventTarget("backup-target", rule="r", arn="arn:aws:firehose:x", dead_letter_config={"arn": dlq})

    platform_stack = record(platform, project="platform", stack="prod")
    service_stack = record(service, project="leave", stack="prod", stack_references={"acme/platform/prod": platform_stack.outputs})
    assert check_system([platform_stack, service_stack]).ok
    alone = check_system([service_stack])
    assert [(v.rule_id, v.resource_name) for v in alone.violations] == [("SYS003", "backup-target")]
    assert "is declared by no program of the system (leave/prod)" in alone.violations[0].message


def test_a_reference_two_other_programs_could_mean_is_not_taken_as_either() -> None:
    """Under mocks two programs with a queue of one logical name get one ARN: a third
    program's reference to it is ambiguous and reported (docs/policy.md, the limits)."""
    twins = [record(lambda: pulumi.export("arn", queue("dlq").arn), project=p, stack="dev") for p in ("a", "b")]
    assert twins[0].outputs["arn"] == twins[1].outputs["arn"]

    def user() -> None:
        aws.cloudwatch.EventTarget("t", rule="r", arn="arn:aws:lambda:x", dead_letter_config={"arn": twins[0].outputs["arn"]})

    report = check_system([*twins, record(user, project="c", stack="dev")])
    assert [(v.program, v.resource_name) for v in report.violations] == [("c/dev", "t")]
    assert check_system([twins[0], record(user, project="c", stack="dev")]).ok
