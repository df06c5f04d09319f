"""EventPublisher: the Events table's stream INSERTs -> the bus, by a Lambda or an EventBridge Pipe."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from . import _iam, _kms, _lambda, _queues
from ._lambda import FunctionParts
from ._queues import DeadLetterQueue
from .defaults import ChildScope, ServiceDefaults
from .refs import EventBusRef, TableRef, bus_identifiers, resolve

TYPE_TOKEN = "acme:events:EventPublisher"

#: The publisher's module in the runtime library; its zip holds it and the library modules it imports.
PUBLISHER_MODULE = "acme_eventsourcing.runtime.publisher"
PUBLISHER_CODE = Path(__file__).resolve().parent / "runtime" / "publisher.py"
PUBLISHER_HANDLER = f"{PUBLISHER_MODULE}.handler"
#: The Pipe publisher's enrichment: the same module, entry point `enrich`.
PUBLISHER_ENRICH_HANDLER = f"{PUBLISHER_MODULE}.enrich"

#: Only event items reach the bus: INSERTs whose `record_type` is `event` (idempotency
#: items and anything else written to the Events table stay private).
PUBLISHER_FILTER_PATTERN: Mapping[str, Any] = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"record_type": {"S": ["event"]}}}}

#: The Pipe publisher's target input template. Pipes can only copy attribute values, not
#: parse the JSON text stored in `data` and `metadata`, so the Pipe's enrichment (the
#: publisher's `enrich`) turns each record into `{"detail-type", "time", "detail":
#: <envelope>}` with the Lambda publisher's own conversion; the target sends that
#: `detail` object as the event's detail, and takes `DetailType`/`Time` from
#: `PIPE_DETAIL_TYPE_PATH`/`PIPE_TIME_PATH` of the same output.
PIPE_INPUT_TEMPLATE = "<$.detail>"
PIPE_DETAIL_TYPE_PATH = "$.detail-type"
PIPE_TIME_PATH = "$.time"


class PublisherKind(StrEnum):
    """What carries stream records to the bus."""

    LAMBDA = "lambda"
    PIPE = "pipe"


class StartingPosition(StrEnum):
    """Where a new publisher starts reading the stream."""

    TRIM_HORIZON = "TRIM_HORIZON"
    LATEST = "LATEST"


@dataclass(frozen=True, kw_only=True)
class PublisherSpec:
    """How stream INSERTs reach the bus: a Lambda (`kind="lambda"`, the default) or an
    EventBridge Pipe whose enrichment Lambda builds the events (`kind="pipe"`, see
    `PIPE_INPUT_TEMPLATE`). Both put the same envelope on the bus. `kind` and
    `starting_position` take the enum or its string value."""

    kind: PublisherKind = PublisherKind.LAMBDA
    starting_position: StartingPosition = StartingPosition.TRIM_HORIZON
    """TRIM_HORIZON: a publisher created after the table still publishes every event."""
    batch_size: int | None = None
    """None = 100 for the Lambda (it sends PutEvents in chunks of 10), 10 for a Pipe (its bus limit)."""
    maximum_batching_window_in_seconds: int = 0
    maximum_retry_attempts: int = 10
    maximum_record_age_in_seconds: int = 82800
    """23 hours: a record that keeps failing goes to the on-failure destination an hour before
    its stream (24-hour retention) drops it, retry in flight or not (policy rule SYS002)."""
    bisect_batch_on_function_error: bool = True
    parallelization_factor: int = 1
    memory_mb: int = 256
    """The publisher Lambda's, or the Pipe's enrichment function's."""
    timeout_s: int = 30
    iterator_age_alarm_ms: int = 60_000
    """The iterator age alarm threshold (Lambda publisher)."""

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size if self.batch_size is not None else (10 if self.kind == "pipe" else 100)

    def validate(self) -> None:
        if self.kind not in ("lambda", "pipe"):
            raise ValueError(f"publisher.kind must be 'lambda' or 'pipe', not {self.kind!r}")
        if self.starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError("publisher.starting_position must be TRIM_HORIZON or LATEST")
        limit = 10 if self.kind == "pipe" else 10000
        if not 1 <= self.effective_batch_size <= limit:
            raise ValueError(f"publisher.batch_size must be within 1..{limit} for kind {_value(self.kind)!r}")
        if not 0 <= self.maximum_retry_attempts <= 10000:
            raise ValueError("publisher.maximum_retry_attempts must be within 0..10000 (bounded retries)")
        if not 60 <= self.maximum_record_age_in_seconds <= 604800:
            raise ValueError("publisher.maximum_record_age_in_seconds must be within 60..604800 (bounded age)")
        if not 0 <= self.maximum_batching_window_in_seconds <= 300:
            raise ValueError("publisher.maximum_batching_window_in_seconds must be within 0..300")
        if not 1 <= self.parallelization_factor <= 10:
            raise ValueError("publisher.parallelization_factor must be within 1..10")
        if not 128 <= self.memory_mb <= 10240 or not 1 <= self.timeout_s <= 900:
            raise ValueError("publisher memory_mb/timeout_s out of Lambda's range")


@dataclass(frozen=True, kw_only=True)
class EventPublisherArgs:
    """Arguments of `EventPublisher`."""

    source: str
    """The EventBridge `source` of the events it puts (the service's, e.g. `acme.leave`)."""
    bus: EventBusRef
    """The bus it puts events on."""
    events_table: TableRef
    """The Events table; its `stream_arn` (NEW_IMAGE) is read."""
    publisher: PublisherSpec = field(default_factory=PublisherSpec)
    """Lambda or Pipe, batching, retries, sizing."""
    defaults: ServiceDefaults = field(default_factory=ServiceDefaults)
    """Log retention, alarm actions, tags, KMS key, runtime."""

    def validate(self) -> None:
        self.bus.validate()
        self.events_table.validate()
        if self.events_table.stream_arn is None and self.events_table.stack is None:
            raise ValueError("events_table.stream_arn is needed: the publisher reads the table's stream")
        self.publisher.validate()
        self.defaults.validate()


class EventPublisher(pulumi.ComponentResource):
    """Publishes what a command wrote to the Events table: every event INSERT of its stream
    (`PUBLISHER_FILTER_PATTERN`) goes to the bus as one event of `source`.

    - `kind="lambda"`: a function (the runtime library's `acme_eventsourcing.runtime.publisher`)
      with a stream mapping filtered to event INSERTs, batch 100, TRIM_HORIZON, bisect on
      error, 10 retries, 1 day maximum record age, ReportBatchItemFailures, an on-failure
      queue (`<name>-dlq`) and an IteratorAge alarm;
    - `kind="pipe"`: a Pipe with the same filter and bounds, a dead-letter queue, its own
      role and log group, an enrichment function (`...publisher.enrich`) that builds the same
      envelope, and an ExecutionFailed alarm.

    Its resources are named `<name>` (the function or the Pipe), `<name>-dlq`, `<name>-stream`, ...
    (`EventSourcedService` names it `<service>-publisher`). Outputs: `function_name` (None
    for a Pipe), `dlq_url`.
    """

    function_name: pulumi.Output[str] | None
    """The publisher function (Lambda publisher) or the enrichment function (Pipe)."""
    dlq_url: pulumi.Output[str]
    """Where records that could not be published go."""

    def __init__(
        self,
        name: str,
        args: EventPublisherArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        former_parent: pulumi.Resource | None = None,
    ) -> None:
        """`former_parent`: the component that declared these resources before (they get an
        alias to it, so an existing stack keeps them); None for a new publisher."""
        args.validate()
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        self._name = name
        self._scope = scope = ChildScope(
            self,
            name,
            args.defaults,
            former_parent=former_parent,
            key_description=f"{args.source}: publisher",
            log_group_prefixes=[f"/aws/lambda/{name}-", f"/aws/vendedlogs/pipes/{name}-"],
        )
        bus_name, bus_arn, _ = bus_identifiers(args.bus, name=f"{name}-bus", parent=self)
        table, _ = resolve(args.events_table, name=f"{name}-events", parent=self)
        self.bus_name, self.bus_arn = bus_name, bus_arn
        self._stream_arn = table.stream_arn
        self.function: FunctionParts | None = None
        self.mapping: aws.lambda_.EventSourceMapping | None = None
        self.pipe: aws.pipes.Pipe | None = None
        self.enrichment: FunctionParts | None = None
        self.role: aws.iam.Role | None = None
        self.dlq: DeadLetterQueue = _queues.dead_letter_queue(
            f"{name}-dlq",
            opts=scope.opts,
            alarm_actions=args.defaults.alarm_actions,
            tags=args.defaults.tags,
            kms_key_arn=scope.kms_key_arn,
        )
        if args.publisher.kind == "pipe":
            self._pipe()
        else:
            self._lambda()
        self.function_name = (self.function or self.enrichment).function.name  # type: ignore[union-attr]
        self.dlq_url = self.dlq.queue.url
        self.register_outputs({"function_name": self.function_name, "dlq_url": self.dlq_url})

    def _put_events_statement(self) -> dict[str, Any]:
        return _iam.statement(
            "PutEventsOwnSourceOnly",
            ["events:PutEvents"],
            [self.bus_arn],
            condition={"StringEquals": {"events:source": [self.args.source]}},
        )

    def _stream_read_statements(self) -> list[dict[str, Any]]:
        return [
            _iam.statement(
                "ReadEventsStream",
                ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                [self._stream_arn],  # type: ignore[list-item]
            ),
            _iam.unscoped_statement("ListStreams", ["dynamodb:ListStreams"]),
        ]

    def _lambda(self) -> None:
        spec, name, scope = self.args.publisher, self._name, self._scope
        self.function = scope.library_function(
            name,
            handler=PUBLISHER_HANDLER,
            code=_lambda.library_code(PUBLISHER_MODULE),
            memory_mb=spec.memory_mb,
            timeout_s=spec.timeout_s,
            environment={"SERVICE_SOURCE": self.args.source, "EVENT_BUS_NAME": self.bus_name, "EVENT_SOURCE": self.args.source},
            statements=[
                self._put_events_statement(),
                *self._stream_read_statements(),
                _iam.statement("SendFailedRecordsToQueue", ["sqs:SendMessage"], [self.dlq.queue.arn]),
            ],
            writes=True,
        )
        self.role = self.function.role
        self.mapping = aws.lambda_.EventSourceMapping(
            f"{name}-stream",
            event_source_arn=self._stream_arn,
            function_name=self.function.function.arn,
            starting_position=_value(spec.starting_position),
            batch_size=spec.effective_batch_size,
            maximum_batching_window_in_seconds=spec.maximum_batching_window_in_seconds,
            bisect_batch_on_function_error=spec.bisect_batch_on_function_error,
            maximum_retry_attempts=spec.maximum_retry_attempts,
            maximum_record_age_in_seconds=spec.maximum_record_age_in_seconds,
            parallelization_factor=spec.parallelization_factor,
            function_response_types=["ReportBatchItemFailures"],
            filter_criteria=aws.lambda_.EventSourceMappingFilterCriteriaArgs(
                filters=[aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(pattern=json.dumps(PUBLISHER_FILTER_PATTERN))]
            ),
            destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(destination_arn=self.dlq.queue.arn)
            ),
            tags=scope.tags,
            opts=scope.child(depends_on=[self.function.policy]),
        )
        scope.alarm(
            f"{name}-iterator-age",
            description=f"{name} is falling behind the Events stream",
            namespace="AWS/Lambda",
            metric_name="IteratorAge",
            dimensions={"FunctionName": self.function.function.name},
            statistic="Maximum",
            threshold=spec.iterator_age_alarm_ms,
        )

    def _pipe(self) -> None:
        spec, name, scope = self.args.publisher, self._name, self._scope
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name_prefix=f"/aws/vendedlogs/pipes/{name}-",
            retention_in_days=self.args.defaults.log_retention_days,
            kms_key_id=scope.kms_key_arn,
            tags=scope.tags,
            opts=scope.opts,
        )
        # its own role: it calls nothing, so logs and X-Ray only
        self.enrichment = enrichment = scope.library_function(
            f"{name}-enrich",
            handler=PUBLISHER_ENRICH_HANDLER,
            code=_lambda.library_code(PUBLISHER_MODULE),
            memory_mb=spec.memory_mb,
            timeout_s=spec.timeout_s,
            environment={"SERVICE_SOURCE": self.args.source, "EVENT_SOURCE": self.args.source},
            statements=[],
            writes=False,
        )
        self.role = aws.iam.Role(
            f"{name}-role", assume_role_policy=_iam.assume_role_policy("pipes.amazonaws.com"), tags=scope.tags, opts=scope.opts
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=_iam.document(
                [
                    self._put_events_statement(),
                    *self._stream_read_statements(),
                    _iam.statement("SendFailedRecordsToQueue", ["sqs:SendMessage"], [self.dlq.queue.arn]),
                    _iam.statement("InvokeEnrichment", ["lambda:InvokeFunction"], [enrichment.function.arn]),
                    _iam.statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [_lambda.log_stream_arns(log_group)]),
                    *([_kms.use_statement(scope.kms_key_arn, writes=True)] if scope.kms_key_arn is not None else []),
                ]
            ),
            opts=scope.opts,
        )
        self.pipe = aws.pipes.Pipe(
            name,
            description=f"{self.args.source}: Events table stream INSERTs -> bus",
            role_arn=self.role.arn,
            source=self._stream_arn,
            enrichment=enrichment.function.arn,
            target=self.bus_arn,
            source_parameters=aws.pipes.PipeSourceParametersArgs(
                filter_criteria=aws.pipes.PipeSourceParametersFilterCriteriaArgs(
                    filters=[aws.pipes.PipeSourceParametersFilterCriteriaFilterArgs(pattern=json.dumps(PUBLISHER_FILTER_PATTERN))]
                ),
                dynamodb_stream_parameters=aws.pipes.PipeSourceParametersDynamodbStreamParametersArgs(
                    starting_position=_value(spec.starting_position),
                    batch_size=spec.effective_batch_size,
                    maximum_batching_window_in_seconds=spec.maximum_batching_window_in_seconds,
                    maximum_retry_attempts=spec.maximum_retry_attempts,
                    maximum_record_age_in_seconds=spec.maximum_record_age_in_seconds,
                    parallelization_factor=spec.parallelization_factor,
                    on_partial_batch_item_failure="AUTOMATIC_BISECT" if spec.bisect_batch_on_function_error else None,
                    dead_letter_config=aws.pipes.PipeSourceParametersDynamodbStreamParametersDeadLetterConfigArgs(arn=self.dlq.queue.arn),
                ),
            ),
            target_parameters=aws.pipes.PipeTargetParametersArgs(
                eventbridge_event_bus_parameters=aws.pipes.PipeTargetParametersEventbridgeEventBusParametersArgs(
                    source=self.args.source,
                    detail_type=PIPE_DETAIL_TYPE_PATH,
                    time=PIPE_TIME_PATH,
                ),
                input_template=PIPE_INPUT_TEMPLATE,
            ),
            log_configuration=aws.pipes.PipeLogConfigurationArgs(
                level="ERROR",
                cloudwatch_logs_log_destination=aws.pipes.PipeLogConfigurationCloudwatchLogsLogDestinationArgs(log_group_arn=log_group.arn),
            ),
            tags=scope.tags,
            opts=scope.child(depends_on=[policy]),
        )
        scope.alarm(
            f"{name}-failed",
            description=f"{name} pipe failed executions",
            namespace="AWS/EventBridge/Pipes",
            metric_name="ExecutionFailed",
            dimensions={"PipeName": self.pipe.name},
            statistic="Sum",
            threshold=0,
        )


def _value(member: Any) -> Any:
    """An enum member's value (a plain string given for it is returned as is)."""
    return member.value if isinstance(member, Enum) else member
