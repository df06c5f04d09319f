"""Workflow: a business process inside one domain, as a Step Functions state machine started by
EventBridge Scheduler schedules or by events on the bus (and stopped by events)."""

import json
import re
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import pulumi
import pulumi_aws as aws

from . import _iam, _kms, _lambda, _queues, _reactor
from ._lambda import FunctionParts
from ._queues import DeadLetterQueue
from .defaults import ChildScope, DeliverySpec, FunctionSpec, ServiceDefaults
from .refs import EventBusRef, TableRef, bus_identifiers, resolve

TYPE_TOKEN = "acme:events:Workflow"

#: The trigger function's module in the runtime library (start/stop executions from bus events).
TRIGGER_MODULE = "acme_eventsourcing.runtime.workflows"
TRIGGER_HANDLER = f"{TRIGGER_MODULE}.handler"

#: EventBridge Scheduler's context attributes: put one as a string value anywhere in a
#: `ScheduleSpec.input` and Scheduler replaces it when the schedule fires, e.g.
#: `{"scheduled_time": SCHEDULED_TIME}` gives the workflow the firing time
#: (`2027-01-01T01:00:00Z`), from which it can derive the year to roll over.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
SCHEDULE_ARN = "<aws.scheduler.schedule-arn>"
SCHEDULE_EXECUTION_ID = "<aws.scheduler.execution-id>"
SCHEDULE_ATTEMPT_NUMBER = "<aws.scheduler.attempt-number>"
_CONTEXT_ATTRIBUTES = frozenset({SCHEDULED_TIME, SCHEDULE_ARN, SCHEDULE_EXECUTION_ID, SCHEDULE_ATTEMPT_NUMBER})
_CONTEXT = re.compile(r"<aws\.scheduler\.[^>]*>")

#: What a Step Functions role needs to deliver its execution logs to CloudWatch Logs (the
#: log delivery APIs have no resource type, so `"Resource": "*"` is their only form).
LOG_DELIVERY_ACTIONS: tuple[str, ...] = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
#: What a Step Functions role needs for X-Ray tracing (no resource type either).
XRAY_ACTIONS: tuple[str, ...] = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,255}$")
_PLACEHOLDER = re.compile(r"^\$\{([^{}]*)\}$")
_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
#: Function keys that would clash with the component's own children.
_RESERVED_FUNCTIONS = frozenset({"trigger", "logs", "role", "policy", "schedules", "failed", "timed-out", "throttled"})
#: The longest a STANDARD execution may run (one year).
_MAX_TIMEOUT_S = 365 * 24 * 3600
_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")


class LogLevel(StrEnum):
    """What a state machine logs: every event (`ALL`), errors only (`ERROR`), or fatal
    errors only (`FATAL`). There is no `OFF`: a workflow always logs its failures."""

    ALL = "ALL"
    ERROR = "ERROR"
    FATAL = "FATAL"


@dataclass(frozen=True, kw_only=True)
class ScheduleSpec:
    """An EventBridge Scheduler schedule that starts an execution of the workflow.

    `expression` is `cron(minutes hours day-of-month month day-of-week year)` (one of the two
    day fields `?`), `rate(N minute(s)|hour(s)|day(s))` or `at(yyyy-mm-ddThh:mm:ss)`,
    evaluated in `timezone` (an IANA name; Scheduler follows its daylight-saving changes).
    The default fires at 01:00 on 1 January, London time."""

    name: str
    """The schedule's short name (`[a-z][a-z0-9-]*`, at most 31 characters)."""
    expression: str = "cron(0 1 1 1 ? *)"
    """When it fires."""
    timezone: str = "Europe/London"
    """The IANA time zone `expression` is read in."""
    input: Mapping[str, Any] = field(default_factory=lambda: {"scheduled_time": SCHEDULED_TIME})
    """The execution's input (JSON). String values may be Scheduler's context attributes
    (`SCHEDULED_TIME`, `SCHEDULE_ARN`, `SCHEDULE_EXECUTION_ID`, `SCHEDULE_ATTEMPT_NUMBER`),
    replaced when it fires; the default passes the firing time as `scheduled_time`."""
    enabled: bool = True
    """False creates the schedule DISABLED (it never fires until enabled)."""
    flexible_window_minutes: int | None = None
    """None fires at the time; N (1..1440) lets Scheduler fire within N minutes after it."""
    maximum_retry_attempts: int = 10
    """Retries of a StartExecution that failed (0..185); then the firing goes to the DLQ."""
    maximum_event_age_in_seconds: int = 86400
    """How long a firing is retried (60..86400)."""
    description: str | None = None

    def validate(self, what: str) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"{what}: schedule name {self.name!r} must match {_NAME.pattern}")
        try:
            validate_expression(self.expression)
        except ValueError as exc:
            raise ValueError(f"{what}: schedule {self.name!r}: {exc}") from None
        try:
            validate_timezone(self.timezone)
        except ValueError as exc:
            raise ValueError(f"{what}: schedule {self.name!r}: {exc}") from None
        if self.flexible_window_minutes is not None and not 1 <= self.flexible_window_minutes <= 1440:
            raise ValueError(f"{what}: schedule {self.name!r}: flexible_window_minutes must be within 1..1440 (or None)")
        if not 0 <= self.maximum_retry_attempts <= 185:
            raise ValueError(f"{what}: schedule {self.name!r}: maximum_retry_attempts must be within 0..185")
        if not 60 <= self.maximum_event_age_in_seconds <= 86400:
            raise ValueError(f"{what}: schedule {self.name!r}: maximum_event_age_in_seconds must be within 60..86400")
        if not isinstance(self.input, Mapping):
            raise ValueError(f"{what}: schedule {self.name!r}: input must be a mapping (the execution's JSON input)")
        try:
            text = json.dumps(self.input)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{what}: schedule {self.name!r}: input is not JSON: {exc}") from None
        unknown = sorted(set(_CONTEXT.findall(text)) - _CONTEXT_ATTRIBUTES)
        if unknown:
            raise ValueError(f"{what}: schedule {self.name!r}: input names unknown Scheduler context attributes {unknown}")
        if len(text.encode()) > 8192:
            raise ValueError(f"{what}: schedule {self.name!r}: input is over Scheduler's 8 KB")


@dataclass(frozen=True, kw_only=True)
class EventStart:
    """Start an execution per bus event of `sources` and `detail_types`, named after the
    event's value at `name_from` (a dotted path into the event, e.g.
    `detail.metadata.stream_id`: the stream the event belongs to in this library's envelope).
    The name is deterministic, so a redelivered event starts nothing new, and an `EventStop`
    with the same value stops it. The whole bus event is the execution's input."""

    sources: Sequence[str]
    """The sources of the events (e.g. the service's own)."""
    detail_types: Sequence[str]
    """The event types that start an execution."""
    name_from: str = "detail.metadata.stream_id"
    """Where in the event the execution's name comes from (sanitised to Step Functions'
    name rules, at most 80 characters, see `acme_eventsourcing.runtime.workflows.execution_name`)."""


@dataclass(frozen=True, kw_only=True)
class EventStop:
    """Stop the execution named by a bus event of `sources` and `detail_types` (the value at
    `name_from`, named the way `EventStart` names it), e.g. a request's reminders when the
    request is decided or cancelled. No such execution, or one that has finished, is fine."""

    sources: Sequence[str]
    """The sources of the events."""
    detail_types: Sequence[str]
    """The event types that stop an execution."""
    name_from: str = "detail.metadata.stream_id"
    """Where in the event the execution's name comes from."""


@dataclass(frozen=True, kw_only=True)
class WorkflowArgs:
    """Arguments of `Workflow`."""

    source: str
    """The domain's EventBridge `source` (the task functions get it as SERVICE_SOURCE)."""
    definition: Mapping[str, Any]
    """The state machine in Amazon States Language, as plain data. A Lambda task names its
    function with a placeholder `"${key}"` (a key of `functions`), e.g.
    `"Parameters": {"FunctionName": "${plan}", "Payload.$": "$"}` or `"Resource": "${plan}"`;
    the component puts the function's ARN there. Every placeholder must name a function and
    every function must be used."""
    functions: Mapping[str, FunctionSpec]
    """The task functions by key (`[a-z][a-z0-9-]*`): each becomes `<name>-<key>`."""
    schedules: Sequence[ScheduleSpec] = ()
    """EventBridge Scheduler schedules that start executions."""
    starts: Sequence[EventStart] = ()
    """Bus events that start an execution each."""
    stops: Sequence[EventStop] = ()
    """Bus events that stop an execution."""
    bus: EventBusRef | None = None
    """The bus of `starts` and `stops` (required with them)."""
    events_table: TableRef | None = None
    """The domain's Events table: the task functions may read it and append to it (events
    and idempotency records, like a command function), and get EVENTS_TABLE."""
    read_models: Mapping[str, TableRef] = field(default_factory=dict)
    """Read-model tables the task functions may read, by projection name
    (environment `READ_MODEL_TABLE_<NAME>`)."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Extra environment of every task function (a spec's own `environment` wins over it;
    the component's variables win over both)."""
    timeout_s: int | None = None
    """The longest an execution may run (the definition's top-level `TimeoutSeconds`, at
    most a year); None keeps the definition's own (if any)."""
    log_level: LogLevel = LogLevel.ALL
    """What the state machine logs (`ALL`, `ERROR` or `FATAL`)."""
    include_execution_data: bool = False
    """Log each state's input and output too (they may hold personal data: off by default)."""
    delivery: DeliverySpec = field(default_factory=DeliverySpec)
    """Retries of the start/stop rules' delivery and of the trigger function."""
    defaults: ServiceDefaults = field(default_factory=ServiceDefaults)
    """Log retention, alarm actions, tags, KMS key, runtime."""

    def validate(self, what: str = "workflow") -> None:
        """Raise ValueError for invalid or contradictory arguments (before anything is created)."""
        if not _SOURCE.match(self.source):
            raise ValueError(f"{what}: source {self.source!r} is not an event source")
        if not self.functions:
            raise ValueError(f"{what}: functions must name at least one task function")
        for key, spec in self.functions.items():
            if not _NAME.match(key) or key in _RESERVED_FUNCTIONS or key.startswith("schedule"):
                raise ValueError(
                    f"{what}: function key {key!r} must match {_NAME.pattern}, not start with 'schedule', "
                    f"and not be one of {sorted(_RESERVED_FUNCTIONS)}"
                )
            spec.validate(f"{what} function {key!r}")
        placeholders(self.definition, self.functions, what)
        names = [s.name for s in self.schedules]
        if len(set(names)) != len(names):
            raise ValueError(f"{what}: schedule names must be unique: {names}")
        for schedule in self.schedules:
            schedule.validate(what)
        seen: dict[tuple[str, str], str] = {}
        for kind, trigger in [*(("start", t) for t in self.starts), *(("stop", t) for t in self.stops)]:
            label = f"{what} {'EventStart' if kind == 'start' else 'EventStop'}"
            _reactor.check_detail_types(label, trigger.detail_types)
            if isinstance(trigger.sources, str) or not trigger.sources or any(not _SOURCE.match(x) for x in trigger.sources):
                raise ValueError(f"{label}: sources must be non-empty event sources")
            if not isinstance(trigger.name_from, str) or not _PATH.match(trigger.name_from):
                raise ValueError(f"{label}: name_from {trigger.name_from!r} must be a dotted path into the event, e.g. 'detail.data.id'")
            for pair in ((s, d) for s in trigger.sources for d in trigger.detail_types):
                if pair in seen:
                    raise ValueError(f"{what}: {pair[0]} {pair[1]!r} both {seen[pair]}s and {kind}s an execution (or twice); give it once")
                seen[pair] = kind
        if (self.starts or self.stops) and self.bus is None:
            raise ValueError(f"{what}: starts and stops need the bus the events are on (bus)")
        if self.bus is not None:
            self.bus.validate()
        if self.events_table is not None:
            self.events_table.validate()
        for table in self.read_models.values():
            table.validate()
        if self.timeout_s is not None:
            if not 1 <= self.timeout_s <= _MAX_TIMEOUT_S:
                raise ValueError(f"{what}: timeout_s must be within 1..{_MAX_TIMEOUT_S} (a STANDARD execution runs at most a year)")
            own = self.definition.get("TimeoutSeconds")
            if own is not None and own != self.timeout_s:
                raise ValueError(f"{what}: timeout_s {self.timeout_s} contradicts the definition's TimeoutSeconds {own}")
        if self.log_level not in ("ALL", "ERROR", "FATAL"):
            raise ValueError(f"{what}: log_level must be ALL, ERROR or FATAL, not {self.log_level!r}")
        self.delivery.validate()
        self.defaults.validate()


def placeholders(definition: Mapping[str, Any], functions: Mapping[str, Any], what: str = "workflow") -> set[str]:
    """The function keys `definition` names by `"${key}"`; ValueError for a definition that is
    not a state machine, a placeholder that names no function, a function no state uses, or
    a `${` that is not a whole value."""
    if not isinstance(definition, Mapping):
        raise ValueError(f"{what}: definition must be a mapping (Amazon States Language as data)")
    states = definition.get("States")
    if not isinstance(states, Mapping) or not states:
        raise ValueError(f"{what}: definition needs States (a non-empty mapping)")
    if definition.get("StartAt") not in states:
        raise ValueError(f"{what}: definition's StartAt {definition.get('StartAt')!r} is not one of its States")
    try:
        json.dumps(definition)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: definition is not JSON data: {exc}") from None
    used: set[str] = set()
    for where, text in _strings(definition, "definition"):
        match = _PLACEHOLDER.match(text)
        if match:
            key = match.group(1)
            if key not in functions:
                raise ValueError(f"{what}: {where} names function {key!r}, which is not in functions {sorted(functions)}")
            used.add(key)
        elif "${" in text:
            raise ValueError(f"{what}: {where} is {text!r}; a placeholder must be a whole value, '${{key}}'")
    unused = sorted(set(functions) - used)
    if unused:
        raise ValueError(f"{what}: functions {unused} are not used by any state (no '${{key}}' names them)")
    return used


def substitute(definition: Mapping[str, Any], arns: Mapping[str, str]) -> Any:
    """`definition` with each `"${key}"` replaced by `arns[key]`."""

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [walk(v) for v in node]
        if isinstance(node, str) and (match := _PLACEHOLDER.match(node)):
            return arns[match.group(1)]
        return node

    return walk(definition)


def _strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from _strings(v, f"{where}.{k}")
    elif isinstance(node, list | tuple):
        for i, v in enumerate(node):
            yield from _strings(v, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


# ---------------------------------------------------------------------------- expressions
_MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
#: field name, lowest, highest, names, extra characters it allows
_CRON_FIELDS: tuple[tuple[str, int, int, Mapping[str, int]], ...] = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, {}),
)
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_CRON = re.compile(r"^cron\((.*)\)$")


def validate_expression(expression: str) -> None:
    """ValueError unless `expression` is a valid Scheduler `cron(...)`, `rate(...)` or `at(...)`."""
    if not isinstance(expression, str):
        raise ValueError(f"expression {expression!r} is not a string")
    if m := _RATE.match(expression):
        value, unit = int(m.group(1)), m.group(2)
        if value < 1:
            raise ValueError(f"{expression!r}: a rate's value must be at least 1")
        if (value == 1) != (not unit.endswith("s")):
            raise ValueError(f"{expression!r}: say 'rate(1 {unit.rstrip('s')})' for 1 and 'rate(N {unit.rstrip('s')}s)' otherwise")
        return
    if m := _AT.match(expression):
        try:
            datetime.fromisoformat(m.group(1))
        except ValueError:
            raise ValueError(f"{expression!r}: {m.group(1)!r} is not a date and time") from None
        return
    if m := _CRON.match(expression):
        _validate_cron(expression, m.group(1).split(" "))
        return
    raise ValueError(f"expression {expression!r} must be 'cron(...)', 'rate(N unit)' or 'at(yyyy-mm-ddThh:mm:ss)'")


def _validate_cron(expression: str, parts: list[str]) -> None:
    if len(parts) != 6 or any(not p for p in parts):
        raise ValueError(f"{expression!r}: a cron expression has 6 fields (minutes hours day-of-month month day-of-week year)")
    day_of_month, day_of_week = parts[2], parts[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
    for text, (name, low, high, names) in zip(parts, _CRON_FIELDS, strict=True):
        if text == "?" and name in ("day-of-month", "day-of-week"):
            continue
        for item in text.split(","):
            if not _cron_item(item.upper(), name, low, high, names):
                raise ValueError(f"{expression!r}: {name} field {text!r} is not valid ({name} runs {low}..{high})")


def _cron_item(item: str, name: str, low: int, high: int, names: Mapping[str, int]) -> bool:
    def value(text: str) -> bool:
        number = names.get(text) if text in names else (int(text) if text.isdigit() else None)
        return number is not None and low <= number <= high

    if name == "day-of-month" and (item in ("L", "LW") or (item.endswith("W") and value(item[:-1]))):
        return True
    if name == "day-of-week":
        if item == "L" or (item.endswith("L") and value(item[:-1])):
            return True
        if "#" in item:
            day, _, nth = item.partition("#")
            return value(day) and nth.isdigit() and 1 <= int(nth) <= 5
    base, slash, step = item.partition("/")
    if slash and (not step.isdigit() or int(step) < 1):
        return False
    if base == "*":
        return True
    first, dash, last = base.partition("-")
    return value(first) and (not dash or value(last))


def validate_timezone(name: str) -> None:
    """ValueError unless `name` is an IANA time zone name (e.g. `Europe/London`, `UTC`)."""
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        raise ValueError(f"timezone {name!r} is not an IANA time zone name")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {name!r} is not an IANA time zone name (e.g. 'Europe/London', 'UTC')") from None


# ---------------------------------------------------------------------------- the component
@dataclass(frozen=True)
class Schedule:
    """The resources behind one `ScheduleSpec`."""

    schedule: aws.scheduler.Schedule
    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    dlq: DeadLetterQueue


@dataclass(frozen=True)
class Trigger:
    """The resources that start and stop executions from bus events."""

    function: FunctionParts
    dlq: DeadLetterQueue
    rules: Mapping[str, aws.cloudwatch.EventRule]
    targets: Mapping[str, aws.cloudwatch.EventTarget]
    permissions: Mapping[str, aws.lambda_.Permission]
    invoke_config: aws.lambda_.FunctionEventInvokeConfig


class Workflow(pulumi.ComponentResource):
    """A Step Functions STANDARD state machine running `definition`, with:

    - the task functions `<name>-<key>` (one per `functions` entry; own role, log group,
      X-Ray, Errors alarm), whose ARNs replace the definition's `"${key}"` placeholders;
      with `events_table` each may read and append to it (GetItem, Query, PutItem,
      ConditionCheckItem: events and idempotency records, like a command function) and
      with `read_models` read those; they get SERVICE_SOURCE, EVENTS_TABLE and
      READ_MODEL_TABLE_<NAME>;
    - the state machine `<name>`: logs to its own log group `<name>-logs`
      (`/aws/vendedlogs/states/<name>-...`, KMS-encrypted, kept `log_retention_days`) at
      `log_level`, X-Ray tracing on, `timeout_s` as its TimeoutSeconds;
    - its role `<name>-role`: `lambda:InvokeFunction` on exactly its task functions (and
      their versions, `:*`), the CloudWatch Logs delivery actions (`LOG_DELIVERY_ACTIONS`)
      and X-Ray (`XRAY_ACTIONS`), which AWS lets no policy scope, and nothing else;
    - alarms `<name>-failed`, `<name>-timed-out`, `<name>-throttled` on AWS/States
      ExecutionsFailed, ExecutionsTimedOut, ExecutionThrottled (no alarm on
      ExecutionsAborted: an `EventStop` aborts executions on purpose);
    - per `ScheduleSpec`: a schedule `<name>-schedule-<schedule>` in the workflow's schedule
      group `<name>-schedules`, targeting StartExecution with its `input`, a retry policy and
      a DLQ `<name>-schedule-<schedule>-dlq` (KMS-encrypted, depth alarm), and its own role
      that may only `states:StartExecution` on this state machine (and send to its DLQ);
    - with `starts`/`stops`: the trigger function `<name>-trigger` (the library's
      `acme_eventsourcing.runtime.workflows`), a rule per `EventStart`/`EventStop`
      (`<name>-start-<i>`, `<name>-stop-<i>`) with the delivery retries and the DLQ
      `<name>-trigger-dlq` (depth alarm; the function's failed asynchronous invocations
      land there too). Its role may only `states:StartExecution` on this state machine (with
      `starts`) and `states:StopExecution`/`states:DescribeExecution` on its executions
      (with `stops`).

    Tags go on every resource that takes them (schedules take none; their group does).

    Outputs: `state_machine_arn`, `state_machine_name`, `function_names` (key -> function,
    and `trigger`), `dlq_urls` (`trigger`, `schedule-<name>`), `schedule_group_name`.
    """

    state_machine_arn: pulumi.Output[str]
    """The state machine."""
    state_machine_name: pulumi.Output[str]
    """Its name (executions are `arn:...:execution:<state machine name>:<execution name>`)."""
    function_names: Mapping[str, pulumi.Output[str]]
    """Task function key -> function name, and `trigger` (with starts or stops)."""
    dlq_urls: Mapping[str, pulumi.Output[str]]
    """`trigger` (with starts or stops) and `schedule-<name>` per schedule."""
    schedule_group_name: pulumi.Output[str] | None
    """The schedule group (None without schedules)."""

    def __init__(
        self,
        name: str,
        args: WorkflowArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        label: str | None = None,
    ) -> None:
        """`label`: the workflow's short name in descriptions (default: `name`)."""
        args.validate(f"workflow {label or name!r}")
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        self._name = name
        label = label or name
        bus_arn: pulumi.Output[str] | None = None
        bus_name: pulumi.Output[str] | None = None
        if args.bus is not None:
            bus_name, bus_arn, _ = bus_identifiers(args.bus, name=f"{name}-bus", parent=self)
        self._scope = scope = ChildScope(
            self,
            name,
            args.defaults,
            former_parent=None,
            key_description=f"{args.source}: workflow {label}",
            log_group_prefixes=[f"/aws/lambda/{name}-", f"/aws/vendedlogs/states/{name}-"],
            rule_arn_patterns=[_reactor.rule_arn_pattern(bus_arn, name)] if bus_arn is not None and (args.starts or args.stops) else [],
        )
        self.kms_key = scope.kms_key

        self.functions: dict[str, FunctionParts] = {}
        statements, environment = self._data_access()
        for key, spec in args.functions.items():
            self.functions[key] = scope.function(
                f"{name}-{key}",
                spec,
                statements,
                {**args.environment, **spec.environment, **environment},
                writes=True,
            )

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name_prefix=f"/aws/vendedlogs/states/{name}-",
            retention_in_days=args.defaults.log_retention_days,
            kms_key_id=scope.kms_key_arn,
            tags=scope.tags,
            opts=scope.opts,
        )
        function_arns = {k: f.function.arn for k, f in self.functions.items()}
        self.role = aws.iam.Role(
            f"{name}-role", assume_role_policy=_iam.assume_role_policy("states.amazonaws.com"), tags=scope.tags, opts=scope.opts
        )
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=_iam.document(
                [
                    _iam.statement(
                        "InvokeTaskFunctions",
                        ["lambda:InvokeFunction"],
                        [a for arn in function_arns.values() for a in (arn, arn.apply(lambda x: f"{x}:*"))],
                    ),
                    _iam.unscoped_statement("DeliverExecutionLogs", list(LOG_DELIVERY_ACTIONS)),
                    _iam.unscoped_statement("XRayTraces", list(XRAY_ACTIONS)),
                ]
            ),
            opts=scope.opts,
        )
        definition = dict(args.definition)
        if args.timeout_s is not None:
            definition["TimeoutSeconds"] = args.timeout_s
        keys = sorted(function_arns)
        self.state_machine = aws.sfn.StateMachine(
            name,
            type="STANDARD",
            role_arn=self.role.arn,
            definition=pulumi.Output.all(*(function_arns[k] for k in keys)).apply(
                lambda arns: json.dumps(substitute(definition, dict(zip(keys, arns, strict=True))))
            ),
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level=str(args.log_level),
                include_execution_data=args.include_execution_data,
                log_destination=_lambda.log_stream_arns(self.log_group),
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
            tags=scope.tags,
            opts=scope.child(depends_on=[self.policy]),
        )
        arn = self.state_machine.arn
        self.alarms = {
            metric: scope.alarm(
                f"{name}-{suffix}",
                description=f"{name}: {text}",
                namespace="AWS/States",
                metric_name=metric,
                dimensions={"StateMachineArn": arn},
                statistic="Sum",
                threshold=0,
            )
            for metric, suffix, text in (
                ("ExecutionsFailed", "failed", "executions failed"),
                ("ExecutionsTimedOut", "timed-out", "executions timed out"),
                ("ExecutionThrottled", "throttled", "executions were throttled"),
            )
        }

        self.schedule_group: aws.scheduler.ScheduleGroup | None = None
        self.schedules: dict[str, Schedule] = {}
        if args.schedules:
            self.schedule_group = aws.scheduler.ScheduleGroup(f"{name}-schedules", tags=scope.tags, opts=scope.opts)
            for spec in args.schedules:
                self.schedules[spec.name] = self._schedule(spec, label)

        self.trigger: Trigger | None = None
        if args.starts or args.stops:
            assert bus_name is not None and bus_arn is not None
            self.trigger = self._trigger(bus_name, label)

        self.state_machine_arn = arn
        self.state_machine_name = self.state_machine.name
        self.function_names = {k: f.function.name for k, f in self.functions.items()}
        self.dlq_urls = {f"schedule-{n}": s.dlq.queue.url for n, s in self.schedules.items()}
        if self.trigger is not None:
            self.function_names["trigger"] = self.trigger.function.function.name
            self.dlq_urls["trigger"] = self.trigger.dlq.queue.url
        self.schedule_group_name = self.schedule_group.name if self.schedule_group else None
        self.register_outputs(
            {
                "state_machine_arn": self.state_machine_arn,
                "state_machine_name": self.state_machine_name,
                "function_names": self.function_names,
                "dlq_urls": self.dlq_urls,
                "schedule_group_name": self.schedule_group_name,
            }
        )

    @property
    def executions_arn_pattern(self) -> pulumi.Output[str]:
        """`arn:...:execution:<state machine name>:*`: every execution of this state machine."""
        return self.state_machine.arn.apply(lambda a: a.replace(":stateMachine:", ":execution:", 1) + ":*")

    def _data_access(self) -> tuple[list[dict[str, Any]], dict[str, pulumi.Input[str]]]:
        """The task functions' statements and environment: the Events table and read models."""
        args = self.args
        statements: list[dict[str, Any]] = []
        environment: dict[str, pulumi.Input[str]] = {"SERVICE_SOURCE": args.source}
        if args.events_table is not None:
            events, _ = resolve(args.events_table, name=f"{self._name}-events", parent=self)
            statements.append(
                _iam.statement(
                    "AppendToEventStore",
                    ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
                    [events.table_arn],  # type: ignore[list-item]
                )
            )
            environment["EVENTS_TABLE"] = events.table_name  # type: ignore[assignment]
        read_models = {n: resolve(t, name=f"{self._name}-{n}", parent=self)[0] for n, t in args.read_models.items()}
        if read_models:
            statements.append(_iam.statement("ReadReadModels", list(_READ_ACTIONS), [t.table_arn for t in read_models.values()]))  # type: ignore[misc]
            for n, t in read_models.items():
                environment[f"READ_MODEL_TABLE_{n.upper().replace('-', '_')}"] = t.table_name  # type: ignore[assignment]
        return statements, environment

    def _schedule(self, spec: ScheduleSpec, label: str) -> Schedule:
        scope, base = self._scope, f"{self._name}-schedule-{spec.name}"
        assert self.schedule_group is not None
        dlq = _queues.dead_letter_queue(
            f"{base}-dlq",
            opts=scope.opts,
            alarm_actions=scope.defaults.alarm_actions,
            tags=scope.defaults.tags,
            kms_key_arn=scope.kms_key_arn,
        )
        role = aws.iam.Role(
            f"{base}-role", assume_role_policy=_iam.assume_role_policy("scheduler.amazonaws.com"), tags=scope.tags, opts=scope.opts
        )
        policy = aws.iam.RolePolicy(
            f"{base}-policy",
            role=role.id,
            policy=_iam.document(
                [
                    _iam.statement("StartThisWorkflow", ["states:StartExecution"], [self.state_machine.arn]),
                    _iam.statement("SendFailedFiringsToQueue", ["sqs:SendMessage"], [dlq.queue.arn]),
                    *([_kms.use_statement(scope.kms_key_arn, writes=True)] if scope.kms_key_arn is not None else []),
                ]
            ),
            opts=scope.opts,
        )
        schedule = aws.scheduler.Schedule(
            base,
            group_name=self.schedule_group.name,
            description=spec.description or f"{self.args.source}: {label} {spec.name}",
            schedule_expression=spec.expression,
            schedule_expression_timezone=spec.timezone,
            state="ENABLED" if spec.enabled else "DISABLED",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(
                mode="OFF" if spec.flexible_window_minutes is None else "FLEXIBLE",
                maximum_window_in_minutes=spec.flexible_window_minutes,
            ),
            kms_key_arn=scope.kms_key_arn,
            target=aws.scheduler.ScheduleTargetArgs(
                arn=self.state_machine.arn,
                role_arn=role.arn,
                input=json.dumps(spec.input),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=spec.maximum_retry_attempts,
                    maximum_event_age_in_seconds=spec.maximum_event_age_in_seconds,
                ),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=dlq.queue.arn),
            ),
            opts=scope.child(depends_on=[policy]),
        )
        return Schedule(schedule=schedule, role=role, policy=policy, dlq=dlq)

    def _trigger(self, bus_name: pulumi.Output[str], label: str) -> Trigger:
        args, scope, name = self.args, self._scope, self._name
        triggers = [*(("start", i, t) for i, t in enumerate(args.starts)), *(("stop", i, t) for i, t in enumerate(args.stops))]
        rules: dict[str, aws.cloudwatch.EventRule] = {}
        for action, i, t in triggers:
            pattern = {"source": list(t.sources), "detail-type": list(t.detail_types)}
            rules[f"{action}-{i}"] = aws.cloudwatch.EventRule(
                f"{name}-{action}-{i}",
                event_bus_name=bus_name,
                event_pattern=json.dumps(pattern),
                description=f"{label}: {action} executions on {pattern['source']} {pattern['detail-type']}",
                tags=scope.tags,
                opts=scope.opts,
            )
        dlq = _queues.dead_letter_queue(
            f"{name}-trigger-dlq",
            opts=scope.opts,
            alarm_actions=scope.defaults.alarm_actions,
            senders=_queues.rule_senders([r.arn for r in rules.values()]),
            tags=scope.defaults.tags,
            kms_key_arn=scope.kms_key_arn,
        )
        statements = []
        if args.starts:
            statements.append(_iam.statement("StartThisWorkflow", ["states:StartExecution"], [self.state_machine.arn]))
        if args.stops:
            statements.append(
                _iam.statement(
                    "StopThisWorkflowsExecutions", ["states:StopExecution", "states:DescribeExecution"], [self.executions_arn_pattern]
                )
            )
        statements.append(_iam.statement("SendFailedEventsToQueue", ["sqs:SendMessage"], [dlq.queue.arn]))
        function = scope.library_function(
            f"{name}-trigger",
            handler=TRIGGER_HANDLER,
            code=_lambda.library_code(TRIGGER_MODULE),
            memory_mb=256,
            timeout_s=30,
            environment={
                "SERVICE_SOURCE": args.source,
                "STATE_MACHINE_ARN": self.state_machine.arn,
                "WORKFLOW_TRIGGERS": json.dumps(
                    [
                        {"action": action, "sources": list(t.sources), "detail_types": list(t.detail_types), "name_from": t.name_from}
                        for action, _i, t in triggers
                    ]
                ),
            },
            statements=statements,
            writes=True,
        )
        permissions: dict[str, aws.lambda_.Permission] = {}
        targets: dict[str, aws.cloudwatch.EventTarget] = {}
        for key, rule in rules.items():
            permissions[key] = aws.lambda_.Permission(
                f"{name}-{key}-invoke",
                action="lambda:InvokeFunction",
                function=function.function.name,
                principal="events.amazonaws.com",
                source_arn=rule.arn,
                opts=scope.opts,
            )
            targets[key] = aws.cloudwatch.EventTarget(
                f"{name}-{key}-target",
                rule=rule.name,
                event_bus_name=bus_name,
                arn=function.function.arn,
                retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                    maximum_retry_attempts=args.delivery.maximum_retry_attempts,
                    maximum_event_age_in_seconds=args.delivery.maximum_event_age_in_seconds,
                ),
                dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dlq.queue.arn),
                opts=scope.child(depends_on=[permissions[key], dlq.policy]),
            )
        invoke_config = aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-trigger-async",
            function_name=function.function.name,
            maximum_retry_attempts=args.delivery.function_retry_attempts,
            maximum_event_age_in_seconds=args.delivery.function_maximum_event_age_in_seconds,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=dlq.queue.arn)
            ),
            opts=scope.opts,
        )
        return Trigger(function=function, dlq=dlq, rules=rules, targets=targets, permissions=permissions, invoke_config=invoke_config)
