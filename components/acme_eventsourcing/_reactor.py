"""What a projection and a subscription share: rule on the bus -> target (retries, DLQ) ->
function (asynchronous retries, failures to the same DLQ)."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from . import _iam, _lambda, _queues
from ._lambda import FunctionParts
from ._queues import DeadLetterQueue
from .defaults import ChildScope, DeliverySpec, FunctionSpec


@dataclass(frozen=True, kw_only=True)
class LibraryFunction:
    """A reactor function the component ships from this library (`_lambda.library_code`)."""

    handler: str
    """`acme_eventsourcing.runtime.<module>.<entry point>`."""
    memory_mb: int = 256
    timeout_s: int = 30
    reserved_concurrency: int | None = None

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]


@dataclass(frozen=True)
class Reactor:
    """A projector or subscriber: rule, target, DLQ, function, permission, async config."""

    rule: aws.cloudwatch.EventRule
    target: aws.cloudwatch.EventTarget
    dlq: DeadLetterQueue
    function: FunctionParts
    permission: aws.lambda_.Permission
    invoke_config: aws.lambda_.FunctionEventInvokeConfig


def rule_arn_pattern(bus_arn: pulumi.Input[str], name: str) -> pulumi.Output[str]:
    """ARNs of the rules named `<name>-*` on the bus (the DLQ key policy's condition)."""
    return pulumi.Output.from_input(bus_arn).apply(lambda arn: f"{arn.replace(':event-bus/', ':rule/', 1)}/{name}-*")


def check_detail_types(what: str, detail_types: Sequence[str]) -> None:
    if not detail_types:
        raise ValueError(f"{what}: detail_types must not be empty (a rule needs at least one)")
    if isinstance(detail_types, str):
        raise ValueError(f"{what}: detail_types must be a sequence of names, not one string")
    if len(set(detail_types)) != len(detail_types):
        raise ValueError(f"{what}: duplicate detail_types")


def build(
    scope: ChildScope,
    name: str,
    *,
    part: str,
    label: str,
    source: str,
    bus_name: pulumi.Input[str],
    spec: FunctionSpec | LibraryFunction,
    delivery: DeliverySpec,
    pattern: Mapping[str, Any],
    statements: Sequence[Mapping[str, Any]],
    environment: Mapping[str, pulumi.Input[str]],
) -> Reactor:
    """The rule `<name>-rule`, DLQ `<name>-dlq`, function `<name>-<part>`, ...; `label` names
    the reaction in the rule's description."""
    tags = scope.tags
    rule = aws.cloudwatch.EventRule(
        f"{name}-rule",
        event_bus_name=bus_name,
        event_pattern=json.dumps(pattern),
        description=f"{label}-{part}: {pattern['source']} {pattern['detail-type']}",
        tags=tags,
        opts=scope.opts,
    )
    dlq = _queues.dead_letter_queue(
        f"{name}-dlq",
        opts=scope.opts,
        alarm_actions=scope.defaults.alarm_actions,
        senders=_queues.rule_senders(rule.arn),
        tags=scope.defaults.tags,
        kms_key_arn=scope.kms_key_arn,
    )
    all_statements = [*statements, _iam.statement("SendFailedEventsToQueue", ["sqs:SendMessage"], [dlq.queue.arn])]
    if isinstance(spec, LibraryFunction):
        parts = scope.library_function(
            f"{name}-{part}",
            handler=spec.handler,
            code=_lambda.library_code(spec.module),
            memory_mb=spec.memory_mb,
            timeout_s=spec.timeout_s,
            environment={"SERVICE_SOURCE": source, **environment},
            statements=all_statements,
            writes=True,
            reserved_concurrency=spec.reserved_concurrency,
        )
    else:
        parts = scope.function(f"{name}-{part}", spec, all_statements, {"SERVICE_SOURCE": source, **environment}, writes=True)
    permission = aws.lambda_.Permission(
        f"{name}-invoke",
        action="lambda:InvokeFunction",
        function=parts.function.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=scope.opts,
    )
    target = aws.cloudwatch.EventTarget(
        f"{name}-target",
        rule=rule.name,
        event_bus_name=bus_name,
        arn=parts.function.arn,
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=delivery.maximum_retry_attempts,
            maximum_event_age_in_seconds=delivery.maximum_event_age_in_seconds,
        ),
        dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dlq.queue.arn),
        opts=scope.child(depends_on=[permission, dlq.policy]),
    )
    invoke_config = aws.lambda_.FunctionEventInvokeConfig(
        f"{name}-async",
        function_name=parts.function.name,
        maximum_retry_attempts=delivery.function_retry_attempts,
        maximum_event_age_in_seconds=delivery.function_maximum_event_age_in_seconds,
        destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
            on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=dlq.queue.arn)
        ),
        opts=scope.opts,
    )
    return Reactor(rule=rule, target=target, dlq=dlq, function=parts, permission=permission, invoke_config=invoke_config)
