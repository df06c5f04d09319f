"""What the recorded program declares, read as the local stack needs it.

`build_model(recorded)` turns the `RecordedStack` of a Pulumi run (resources with resolved
camelCase inputs and mocked state) into plain declarations: tables, queues, buses, rules,
targets, functions, event source mappings and HTTP routes, with every cross reference
(a target's ARN, a mapping's stream, a route's integration) resolved to the declaration it
points at. References are resolved by the shared `acme_eventsourcing.testing.stack_model`
(the policy rules read stacks through it too), each through an index built once, so
building the model grows linearly with the stack. Nothing here is hand-written per project: a resource the local stack cannot run
is reported in `LocalModel.not_emulated`, never dropped silently.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acme_eventsourcing.testing import RecordedResource, RecordedStack
from acme_eventsourcing.testing import stack_model as types
from acme_eventsourcing.testing.stack_model import StackModel

from .filters import Pattern

T_TABLE = types.TABLE
T_QUEUE = types.QUEUE
T_BUS = types.BUS
T_ARCHIVE = types.ARCHIVE
T_RULE = types.RULE
T_TARGET = types.TARGET
T_FUNCTION = types.FUNCTION
T_MAPPING = types.MAPPING
T_INVOKE_CONFIG = types.EVENT_INVOKE_CONFIG
T_LOG_GROUP = types.LOG_GROUP
T_API = types.API
T_ROUTE = types.ROUTE
T_INTEGRATION = types.INTEGRATION
T_AUTHORIZER = types.AUTHORIZER
T_STAGE = types.STAGE
T_ROUTE_RESPONSE = "aws:apigatewayv2/routeResponse:RouteResponse"
T_DEPLOYMENT = "aws:apigatewayv2/deployment:Deployment"
T_PIPE = types.PIPE
T_STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
T_SCHEDULE = "aws:scheduler/schedule:Schedule"
T_SCHEDULE_GROUP = "aws:scheduler/scheduleGroup:ScheduleGroup"
T_BUCKET = "aws:s3/bucket:Bucket"
T_BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
T_DELIVERY_STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
T_API_DESTINATION = "aws:cloudwatch/eventApiDestination:EventApiDestination"
T_CONNECTION = "aws:cloudwatch/eventConnection:EventConnection"
T_SECRET = "aws:secretsmanager/secret:Secret"
T_SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"

#: Types the local stack creates on moto or runs itself, and how.
EMULATED: Mapping[str, str] = {
    T_TABLE: "created on moto: keys, attribute types, stream, GSIs/LSIs, TTL setting",
    T_QUEUE: "created on moto (FIFO, visibility, retention, redrive policy)",
    T_BUS: "created on moto",
    T_ARCHIVE: "created on moto (events are archived; replay is not driven locally)",
    T_RULE: "created on moto with the declared pattern; moto matches the events",
    T_TARGET: "Lambda targets: a local queue per target on moto, drained into the function; SQS targets: put as is; "
    "API destination targets: input transformer, header parameters, retry policy and DLQ applied (local.api_destinations)",
    T_API_DESTINATION: "requests sent as EventBridge sends them (rate limit, 5 s time-out, retried statuses) to a local endpoint; "
    "any other endpoint is answered by the built-in receiver, which records them (`received`)",
    T_CONNECTION: "its authorization added to every request (API_KEY, BASIC; OAuth client credentials from a local "
    "authorization endpoint, else a stand-in token); no Secrets Manager secret is created",
    T_FUNCTION: "run in-process, each in its own module namespace and environment",
    T_MAPPING: "DynamoDB stream mappings polled via moto's dynamodbstreams API",
    T_PIPE: "DynamoDB stream -> event bus Pipes: filter, Lambda enrichment, input template, detail-type/time paths, retries, DLQ",
    T_INVOKE_CONFIG: "asynchronous invocation retries and on-failure destination",
    T_LOG_GROUP: "created on moto; function output goes to this console",
    T_API: "HTTP APIs served by the local HTTP server; WebSocket APIs by a local WebSocket server (local.websocket)",
    T_ROUTE: "HTTP: matched like API Gateway (literal over parameter over greedy, ANY last); "
    "WebSocket: $connect, $disconnect, $default and the route selection expression's keys",
    T_INTEGRATION: "AWS_PROXY to a declared function (HTTP: payload format 2.0; WebSocket: API Gateway's WebSocket event)",
    T_AUTHORIZER: "JWT: issuer, audience, expiry, RS256 signature, against the local key; "
    "REQUEST (WebSocket $connect): the declared authorizer function runs in-process, its policy decides",
    T_STAGE: "served at its path ($default = /); throttling and access logs are not emulated",
    T_ROUTE_RESPONSE: "WebSocket: a route with a route response sends its integration's answer back to the client",
    T_STATE_MACHINE: "run by moto's ASL interpreter; Lambda tasks call the in-process functions; Wait states on the stack clock",
    T_SCHEDULE: "created on moto; fired on demand (fire_schedule, `schedule fire`) or when advance_clock passes an occurrence",
    T_SCHEDULE_GROUP: "created on moto",
    T_BUCKET: "created on moto (versioning as declared)",
    T_BUCKET_VERSIONING: "set on the bucket on moto",
    T_SECRET: "created on moto under its recorded name, so a function finds it by the ARN in its environment",
    T_SECRET_VERSION: "its string put into the secret on moto (the value the program declared, e.g. a config secret)",
    T_DELIVERY_STREAM: "extended S3 streams created on moto; moto's Firehose writes into moto's S3 with the declared "
    "prefix, dynamic partitioning (JQ `{key:.path}` queries, timestamps), record delimiter and GZIP (local.firehose)",
}

#: Declared types the local stack does not emulate, and what that means.
NOT_EMULATED_REASONS: Mapping[str, str] = {
    "aws:iam/role:Role": "IAM is not enforced locally: every function may call every local resource",
    "aws:iam/rolePolicy:RolePolicy": "IAM is not enforced locally",
    "aws:iam/policy:Policy": "IAM is not enforced locally",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM is not enforced locally",
    "aws:lambda/permission:Permission": "invoke permissions are not enforced locally",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "no metrics or alarms locally (DLQ depth, iterator age, errors)",
    "aws:kms/key:Key": "encryption is not emulated",
    "aws:kms/alias:Alias": "encryption is not emulated",
    "aws:cognito/userPool:UserPool": "replaced by the local JWT issuer (key in .local-stack/)",
    "aws:cognito/userPoolClient:UserPoolClient": "replaced by the local JWT issuer",
    "aws:cognito/userGroup:UserGroup": "groups are whatever `local token --groups` puts in the token",
    "aws:cognito/identityProvider:IdentityProvider": "no SSO locally: local tokens carry the identity claim the IdP mapping would fill",
    "aws:cognito/userPoolDomain:UserPoolDomain": "no hosted sign-in UI locally: `local token` issues tokens",
    "aws:dynamodb/resourcePolicy:ResourcePolicy": "resource policies are not enforced (the Events table's append-only deny included)",
    "aws:sqs/queuePolicy:QueuePolicy": "queue policies are not enforced",
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": "bus policies are not enforced",
    "aws:backup/vault:Vault": "no backups locally",
    "aws:backup/plan:Plan": "no backups locally",
    "aws:backup/selection:Selection": "no backups locally",
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": "bus logging is not emulated",
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": "bus logging is not emulated",
    "aws:cloudwatch/logDelivery:LogDelivery": "bus logging is not emulated",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "log resource policies are not enforced",
    "aws:sns/topic:Topic": "alarm topics are not emulated",
    "aws:sns/topicPolicy:TopicPolicy": "alarm topics are not emulated (nor their policies enforced)",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "encryption is not emulated",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "bucket access settings are not enforced",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "bucket access settings are not enforced",
    "aws:s3/bucketPolicy:BucketPolicy": "bucket policies are not enforced",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "no storage classes or expiry locally",
    "aws:s3/bucketLogging:BucketLogging": "no S3 server access logs locally",
    "aws:cloudwatch/logStream:LogStream": "Firehose delivery errors go to this console, not a log stream",
    "aws:schemas/registry:Registry": "no Schema Registry locally: GET /asyncapi.json serves the same schemas",
    "aws:schemas/schema:Schema": "no Schema Registry locally: GET /asyncapi.json serves the same schemas",
    T_DEPLOYMENT: "nothing to deploy locally: the declared routes are served as they are",
}

#: What the local Firehose delivery does differently from AWS (shown when a stack declares a delivery stream).
DELIVERY_STREAM_NOTES: tuple[str, ...] = (
    "no buffering: each batch a rule target delivers becomes one object per partition at once "
    "(AWS waits for the buffer interval or size); object keys have the layout AWS gives "
    "(<prefix with !{partitionKeyFromQuery:..} and !{timestamp:..} filled in><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<id>)",
    "dynamic partitioning: MetadataExtraction queries of the form {key:.path,...} only; Lambda processors are not run",
    "server-side encryption, CloudWatch error logging and delivery retries to S3 are not emulated",
)

#: Declared settings the local stack reads but does not emulate (shown at start-up).
IGNORED_SETTINGS: tuple[str, ...] = (
    "tables: point-in-time recovery, encryption, deletion protection, TTL expiry (moto keeps items)",
    "functions: memory size, X-Ray tracing, architecture/runtime (this Python runs them); timeouts are checked after the fact",
    "stream mappings: batching window and parallelization factor (batches go out as soon as they are read, one at a time per shard)",
    "log groups: retention, KMS key",
    "KMS: declared keys are not created; tables, queues, log groups and function environments are not encrypted locally",
    "bus archives: events are archived on moto, but replay (StartReplay) is not driven by the local stack",
    "HTTP API: stage throttling, access logging, 10 MB payload and 30 s integration limits",
    "state machines: logging, X-Ray tracing; Retry intervals and task timeouts run in real seconds, not on the stack clock",
    "schedules: flexible time windows (a schedule fires at its occurrence); universal (aws-sdk) targets are not started",
)


class ModelError(ValueError):
    """The recorded stack declares something the local stack cannot wire (the message says what)."""


@dataclass(frozen=True)
class Index:
    """A global or local secondary index."""

    name: str
    hash_key: str | None
    range_key: str | None
    projection_type: str
    non_key_attributes: tuple[str, ...]


@dataclass(frozen=True)
class TableDecl:
    logical: str
    name: str
    hash_key: str
    range_key: str | None
    attributes: tuple[tuple[str, str], ...]
    stream_view_type: str | None
    global_indexes: tuple[Index, ...]
    local_indexes: tuple[Index, ...]
    ttl_attribute: str | None
    declared_arn: str
    declared_stream_arn: str | None


@dataclass(frozen=True)
class QueueDecl:
    logical: str
    name: str
    declared_arn: str
    attributes: Mapping[str, str]  # SQS attributes, the redrive policy aside
    dead_letter_queue: str | None  # name of the redrive target
    max_receive_count: int | None


@dataclass(frozen=True)
class BusDecl:
    logical: str | None  # None: a bus this stack references but does not own
    name: str


@dataclass(frozen=True)
class ArchiveDecl:
    logical: str
    name: str
    bus_name: str
    event_pattern: str | None
    retention_days: int


@dataclass(frozen=True)
class FunctionDecl:
    logical: str
    name: str
    arn: str
    handler: str
    files: Mapping[str, Path]  # path inside the zip -> file on this machine
    environment: Mapping[str, str]
    timeout_s: int
    memory_mb: int
    reserved_concurrency: int | None
    retry_attempts: int  # asynchronous invocation (FunctionEventInvokeConfig or Lambda's default 2)
    max_event_age_s: int
    on_failure: str | None  # queue name of the async on-failure destination or the function's DLQ
    on_failure_kind: str | None  # "destination" (a Lambda destination record) or "dlq" (the bare event)

    @property
    def top_level_names(self) -> frozenset[str]:
        return frozenset(p.split("/")[0].removesuffix(".py") for p in self.files)


@dataclass(frozen=True)
class StateMachineDecl:
    """A Step Functions state machine (created on moto, run by moto's ASL interpreter)."""

    logical: str
    name: str
    arn: str
    definition: str  # the ASL JSON
    role_arn: str
    type: str  # STANDARD or EXPRESS


@dataclass(frozen=True)
class ScheduleDecl:
    """An EventBridge Scheduler schedule, as `CreateSchedule` takes it (target in boto3's casing)."""

    logical: str
    name: str
    group: str
    expression: str  # cron(...), rate(...) or at(...)
    timezone: str
    enabled: bool
    target: Mapping[str, Any]  # {"Arn", "RoleArn", "Input", "RetryPolicy", "DeadLetterConfig", ...}
    flexible_window: Mapping[str, Any]
    start_date: str | None = None
    end_date: str | None = None


@dataclass(frozen=True)
class RuleDecl:
    logical: str
    name: str
    arn: str
    bus_name: str
    event_pattern: str | None
    schedule: str | None
    enabled: bool


@dataclass(frozen=True)
class BucketDecl:
    logical: str
    name: str
    versioned: bool


@dataclass(frozen=True)
class SecretDecl:
    """A Secrets Manager secret and its current string value (None: no version declared)."""

    logical: str
    name: str
    value: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DeliveryStreamDecl:
    """A Firehose delivery stream to an S3 bucket (`extended_s3`)."""

    logical: str
    name: str
    arn: str
    bucket: str  # bucket name
    s3_configuration: Mapping[str, Any]  # the ExtendedS3DestinationConfiguration moto is given


@dataclass(frozen=True)
class ApiDestinationDecl:
    """An EventBridge API destination with its connection's authorization."""

    logical: str
    arn: str
    endpoint: str
    method: str
    rate_per_second: int
    auth_kind: str  # API_KEY, BASIC, OAUTH_CLIENT_CREDENTIALS ("" when the connection is not declared here)
    auth: Mapping[str, Any] = field(default_factory=dict)  # the connection's authParameters (secrets included)


@dataclass(frozen=True)
class TargetDecl:
    logical: str
    rule: RuleDecl
    target_id: str
    arn: str
    function: FunctionDecl | None  # a Lambda target
    queue: QueueDecl | None  # an SQS target
    retry_attempts: int
    max_event_age_s: int
    dead_letter_queue: str | None  # queue name
    input_shaping: str | None  # Input / InputPath / InputTransformer: not emulated for Lambda targets
    state_machine: StateMachineDecl | None = None  # a Step Functions target: an execution per event
    delivery_stream: DeliveryStreamDecl | None = None  # a Firehose target
    api_destination: ApiDestinationDecl | None = None  # an API destination target
    input_paths: Mapping[str, str] = field(default_factory=dict)  # its input transformer's paths
    input_template: str | None = None  # its input transformer's template (None: the whole event)
    header_parameters: Mapping[str, str] = field(default_factory=dict)  # http_target.header_parameters


@dataclass(frozen=True)
class StreamMappingDecl:
    logical: str
    function: FunctionDecl
    table: TableDecl
    starting_position: str
    batch_size: int
    filters: tuple[Pattern, ...]
    report_batch_item_failures: bool
    retry_attempts: int  # -1 = until the record expires
    max_record_age_s: int  # -1 = no limit
    bisect_on_error: bool
    on_failure: str | None  # queue name
    enabled: bool
    source_arn: str


@dataclass(frozen=True)
class PipeDecl:
    """A Pipe from a DynamoDB stream of this stack to an event bus."""

    logical: str
    arn: str
    table: TableDecl
    starting_position: str
    batch_size: int
    filters: tuple[Pattern, ...]
    retry_attempts: int
    max_record_age_s: int
    bisect_on_error: bool
    on_failure: str | None  # queue name
    bus_name: str
    source: str
    detail_type: str  # a JSON path (`$.dynamodb...`) or a literal
    time: str | None  # a JSON path or None (now)
    input_template: str | None  # None: the whole record is the detail
    enrichment: FunctionDecl | None = None  # a declared function the batch goes through first
    report_batch_item_failures: bool = True  # entries PutEvents rejects fail their records only


@dataclass(frozen=True)
class Authorizer:
    issuer: str
    audiences: tuple[str, ...]
    header: str  # lower-case header name the token comes in


@dataclass(frozen=True)
class RouteDecl:
    route_key: str
    method: str  # "ANY" for any
    path: str  # "" for $default
    function: FunctionDecl
    authorizer: Authorizer | None  # None = authorization NONE
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class ApiDecl:
    logical: str
    api_id: str
    stage: str
    routes: tuple[RouteDecl, ...]
    cors: Mapping[str, Any] | None
    endpoint: str | None = None  # the recorded `apiEndpoint` (a mock value), replaced by the local URL


@dataclass(frozen=True)
class RequestAuthorizerDecl:
    """A Lambda REQUEST authorizer (a WebSocket API's `$connect`)."""

    logical: str
    function: FunctionDecl
    #: Where the identity must be, e.g. `route.request.querystring.token`, `route.request.header.Auth`:
    #: a request missing one is refused (401) without running the function, as API Gateway does.
    identity_sources: tuple[str, ...]


@dataclass(frozen=True)
class WebSocketRouteDecl:
    route_key: str  # $connect, $disconnect, $default or a value of the route selection expression
    function: FunctionDecl
    authorizer: RequestAuthorizerDecl | None  # $connect only (API Gateway authorizes the connection)
    two_way: bool = False  # a route response is declared: the integration's answer goes back to the client


@dataclass(frozen=True)
class WebSocketApiDecl:
    logical: str
    api_id: str
    stage: str
    route_selection: str  # e.g. `$request.body.action`
    routes: tuple[WebSocketRouteDecl, ...]
    endpoint: str | None = None  # the recorded `apiEndpoint` (a mock value)

    def route(self, key: str) -> WebSocketRouteDecl | None:
        return next((r for r in self.routes if r.route_key == key), None)


@dataclass(frozen=True)
class LocalModel:
    """Everything the local stack creates, runs and serves, plus what it leaves out."""

    tables: tuple[TableDecl, ...]
    queues: tuple[QueueDecl, ...]
    buses: tuple[BusDecl, ...]
    archives: tuple[ArchiveDecl, ...]
    rules: tuple[RuleDecl, ...]
    targets: tuple[TargetDecl, ...]
    functions: tuple[FunctionDecl, ...]
    stream_mappings: tuple[StreamMappingDecl, ...]
    pipes: tuple[PipeDecl, ...]
    apis: tuple[ApiDecl, ...]
    log_groups: tuple[str, ...]
    not_emulated: tuple[tuple[str, int, str], ...]  # (type, count, what it means)
    warnings: tuple[str, ...] = field(default=())
    state_machines: tuple[StateMachineDecl, ...] = ()
    schedules: tuple[ScheduleDecl, ...] = ()
    schedule_groups: tuple[str, ...] = ()  # names of declared groups ("default" always exists)
    buckets: tuple[BucketDecl, ...] = ()
    delivery_streams: tuple[DeliveryStreamDecl, ...] = ()
    websocket_apis: tuple[WebSocketApiDecl, ...] = ()
    api_destinations: tuple[ApiDestinationDecl, ...] = ()
    secrets: tuple[SecretDecl, ...] = ()

    def function(self, key: str) -> FunctionDecl:
        """A function by logical name, physical name, or a unique suffix of its logical name
        (`"balance-projector"`)."""
        exact = [f for f in self.functions if key in {f.logical, f.name}]
        found = exact or [f for f in self.functions if f.logical.endswith(key)]
        if len(found) != 1:
            raise KeyError(f"{key!r} names {len(found)} functions; functions: {sorted(f.logical for f in self.functions)}")
        return found[0]

    def queue(self, name: str) -> QueueDecl:
        return next(q for q in self.queues if name in {q.name, q.logical})


def build_model(stack: RecordedStack, *, code_cache: Path, model: StackModel | None = None) -> LocalModel:
    """Read `stack` into a `LocalModel`. `code_cache` is where zip archives are unpacked;
    `model` is a `StackModel` of `stack` already built (else one is)."""
    return _Builder(stack, code_cache, model or StackModel.of(stack)).build()


class _Builder:
    def __init__(self, stack: RecordedStack, code_cache: Path, model: StackModel) -> None:
        self.stack = stack
        self.model = model
        self.code_cache = code_cache
        self.warnings: list[str] = []

    def build(self) -> LocalModel:
        of_type = self.model.of_type
        tables = tuple(self._table(r) for r in of_type(T_TABLE))
        self.tables_by_logical = {t.logical: t for t in tables}
        queues = tuple(self._queue(r) for r in of_type(T_QUEUE))
        self.queues_by_arn = {q.declared_arn: q for q in queues}
        self.invoke_configs = self.model.resolved(T_INVOKE_CONFIG, "functionName", T_FUNCTION)
        self.functions_by_urn = {r.urn: self._function(r) for r in of_type(T_FUNCTION)}
        functions = tuple(self.functions_by_urn.values())
        state_machines = tuple(self._state_machine(r) for r in of_type(T_STATE_MACHINE))
        self.state_machines_by_arn = {m.arn: m for m in state_machines}
        buckets = tuple(self._bucket(r) for r in of_type(T_BUCKET))
        self.delivery_streams_by_arn = {s.arn: s for r in of_type(T_DELIVERY_STREAM) if (s := self._delivery_stream(r)) is not None}
        self.api_destinations_by_arn = {d.arn: d for r in of_type(T_API_DESTINATION) if (d := self._api_destination(r)).arn}
        rules = tuple(self._rule(r) for r in of_type(T_RULE))
        self.rules_by_key = {(x.name, x.bus_name): x for x in reversed(rules)}  # the first declared wins, as before
        targets = tuple(self._target(r) for r in of_type(T_TARGET))
        mappings = tuple(m for r in of_type(T_MAPPING) if (m := self._mapping(r)) is not None)
        buses = self._buses(rules, of_type(T_PIPE))
        pipes = tuple(p for r in of_type(T_PIPE) if (p := self._pipe(r)) is not None)
        archives = tuple(self._archive(r, buses) for r in of_type(T_ARCHIVE))
        apis = tuple(self._api(r) for r in of_type(T_API) if not _is_websocket(r))
        websocket_apis = tuple(self._websocket_api(r) for r in of_type(T_API) if _is_websocket(r))
        log_groups = tuple(r.state.get("name") or r.name for r in of_type(T_LOG_GROUP))
        counts: dict[str, int] = {}
        for r in self.stack.resources:
            if r.custom and r.type not in EMULATED and not r.type.startswith("pulumi:"):
                counts[r.type] = counts.get(r.type, 0) + 1
        not_emulated = tuple(
            (t, n, NOT_EMULATED_REASONS.get(t, "not known to the local stack: not created, not run")) for t, n in sorted(counts.items())
        )
        return LocalModel(
            tables=tables,
            queues=queues,
            buses=buses,
            archives=archives,
            rules=rules,
            targets=targets,
            functions=functions,
            stream_mappings=mappings,
            pipes=pipes,
            apis=apis,
            log_groups=log_groups,
            not_emulated=not_emulated,
            warnings=tuple(self.warnings),
            state_machines=state_machines,
            schedules=tuple(self._schedule(r) for r in of_type(T_SCHEDULE)),
            schedule_groups=tuple(r.state.get("name") or r.inputs.get("name") or r.name for r in of_type(T_SCHEDULE_GROUP)),
            buckets=buckets,
            delivery_streams=tuple(self.delivery_streams_by_arn.values()),
            websocket_apis=websocket_apis,
            api_destinations=tuple(self.api_destinations_by_arn.values()),
            secrets=self._secrets(),
        )

    # ---------------------------------------------------------------- storage and messaging
    def _table(self, r: RecordedResource) -> TableDecl:
        i = r.inputs

        def index(g: Mapping[str, Any]) -> Index:
            hash_keys, range_keys = g.get("hashKeys") or [], g.get("rangeKeys") or []
            if len(hash_keys) > 1 or len(range_keys) > 1:
                raise ModelError(f"{r.name}: multi-attribute index keys are not supported locally")
            return Index(
                name=g["name"],
                hash_key=g.get("hashKey") or (hash_keys[0] if hash_keys else None),
                range_key=g.get("rangeKey") or (range_keys[0] if range_keys else None),
                projection_type=g.get("projectionType", "ALL"),
                non_key_attributes=tuple(g.get("nonKeyAttributes") or ()),
            )

        ttl = i.get("ttl") or {}
        return TableDecl(
            logical=r.name,
            name=r.state.get("name") or r.name,
            hash_key=i["hashKey"],
            range_key=i.get("rangeKey"),
            attributes=tuple((a["name"], a["type"]) for a in i.get("attributes") or ()),
            stream_view_type=i.get("streamViewType") if i.get("streamEnabled") else None,
            global_indexes=tuple(index(g) for g in i.get("globalSecondaryIndexes") or ()),
            local_indexes=tuple(index(g) for g in i.get("localSecondaryIndexes") or ()),
            ttl_attribute=ttl.get("attributeName") if ttl.get("enabled") else None,
            declared_arn=r.state.get("arn", ""),
            declared_stream_arn=r.state.get("streamArn"),
        )

    def _queue(self, r: RecordedResource) -> QueueDecl:
        i = r.inputs
        attrs: dict[str, str] = {}
        for key, attr in (
            ("visibilityTimeoutSeconds", "VisibilityTimeout"),
            ("messageRetentionSeconds", "MessageRetentionPeriod"),
            ("delaySeconds", "DelaySeconds"),
            ("receiveWaitTimeSeconds", "ReceiveMessageWaitTimeSeconds"),
            ("maxMessageSize", "MaximumMessageSize"),
        ):
            if i.get(key) is not None:
                attrs[attr] = str(int(i[key]))  # numbers arrive as floats from the engine
        if i.get("fifoQueue"):
            attrs["FifoQueue"] = "true"
            if i.get("contentBasedDeduplication"):
                attrs["ContentBasedDeduplication"] = "true"
        redrive = json.loads(i["redrivePolicy"]) if i.get("redrivePolicy") else {}
        return QueueDecl(
            logical=r.name,
            name=r.state.get("name") or r.name,
            declared_arn=r.state.get("arn", ""),
            attributes=attrs,
            dead_letter_queue=redrive["deadLetterTargetArn"].split(":")[-1] if redrive else None,
            max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
        )

    def _queue_name(self, arn: str | None, what: str) -> str | None:
        if not arn:
            return None
        queue = self.queues_by_arn.get(arn)
        if queue is None:
            if arn.startswith("arn:aws:sqs:"):
                self.warnings.append(f"{what}: queue {arn} is not declared by this stack; created locally as a stand-in")
                return arn.split(":")[-1]
            raise ModelError(f"{what}: destination {arn} is not an SQS queue; only SQS destinations are emulated")
        return queue.name

    def _buses(self, rules: tuple[RuleDecl, ...], pipes: list[RecordedResource]) -> tuple[BusDecl, ...]:
        owned = [BusDecl(logical=r.name, name=r.state.get("name") or r.name) for r in self.model.of_type(T_BUS)]
        known = {b.name for b in owned} | {"default"}
        targets = {p.inputs["target"].split("event-bus/")[-1] for p in pipes if ":event-bus/" in (p.inputs.get("target") or "")}
        external = sorted(({r.bus_name for r in rules} | targets) - known)
        for name in external:
            self.warnings.append(f"bus {name!r} is referenced, not owned, by this stack; created locally as a stand-in")
        return (*owned, *(BusDecl(logical=None, name=n) for n in external))

    def _archive(self, r: RecordedResource, buses: tuple[BusDecl, ...]) -> ArchiveDecl:
        source = r.inputs["eventSourceArn"]
        bus = source.split("/")[-1]
        if bus not in {b.name for b in buses}:
            raise ModelError(f"{r.name}: archive of unknown bus {source}")
        return ArchiveDecl(
            logical=r.name,
            name=(r.state.get("name") or r.name)[:48],
            bus_name=bus,
            event_pattern=r.inputs.get("eventPattern"),
            retention_days=int(r.inputs.get("retentionDays") or 0),
        )

    def _bucket(self, r: RecordedResource) -> BucketDecl:
        name = r.state.get("bucket") or r.name
        versioning = [v for v in self.model.of_type(T_BUCKET_VERSIONING) if v.inputs.get("bucket") in {name, r.id}]
        return BucketDecl(
            logical=r.name,
            name=name,
            versioned=any((v.inputs.get("versioningConfiguration") or {}).get("status") == "Enabled" for v in versioning),
        )

    def _secrets(self) -> tuple[SecretDecl, ...]:
        versions = self.model.resolved(T_SECRET_VERSION, "secretId", T_SECRET)
        out = []
        for r in self.model.of_type(T_SECRET):
            strings = [v.inputs.get("secretString") for v in versions.get(r.urn, [])]
            value = next((x for x in reversed(strings) if isinstance(x, str)), None)
            out.append(SecretDecl(logical=r.name, name=str(r.state.get("name") or r.name), value=value))
        return tuple(out)

    def _delivery_stream(self, r: RecordedResource) -> DeliveryStreamDecl | None:
        i = r.inputs
        s3 = i.get("extendedS3Configuration") or {}
        if i.get("destination") != "extended_s3" or i.get("kinesisSourceConfiguration") or i.get("mskSourceConfiguration"):
            self.warnings.append(f"delivery stream {r.name}: only direct-put streams to extended_s3 are emulated; NOT created locally")
            return None
        processing = s3.get("processingConfiguration") or {}
        config: dict[str, Any] = {
            "RoleARN": s3.get("roleArn") or "",
            "BucketARN": s3["bucketArn"],
            "Prefix": s3.get("prefix") or "",
            "ErrorOutputPrefix": s3.get("errorOutputPrefix") or "",
            "CompressionFormat": s3.get("compressionFormat") or "UNCOMPRESSED",
            "BufferingHints": {
                "IntervalInSeconds": int(s3.get("bufferingInterval") or 300),
                "SizeInMBs": int(s3.get("bufferingSize") or 5),
            },
            "DynamicPartitioningConfiguration": {"Enabled": bool((s3.get("dynamicPartitioningConfiguration") or {}).get("enabled"))},
            "ProcessingConfiguration": {
                "Enabled": bool(processing.get("enabled")),
                "Processors": [
                    {
                        "Type": p["type"],
                        "Parameters": [
                            {"ParameterName": x["parameterName"], "ParameterValue": x["parameterValue"]} for x in p.get("parameters") or ()
                        ],
                    }
                    for p in processing.get("processors") or ()
                ],
            },
        }
        if s3.get("fileExtension"):
            config["FileExtension"] = s3["fileExtension"]
        return DeliveryStreamDecl(
            logical=r.name,
            name=r.state.get("name") or r.name,
            arn=r.state.get("arn", ""),
            bucket=str(s3["bucketArn"]).split(":::")[-1],
            s3_configuration=config,
        )

    # ---------------------------------------------------------------- functions
    def _function(self, r: RecordedResource) -> FunctionDecl:
        i = r.inputs
        name = r.state.get("name") or r.name
        arn = r.state.get("arn") or ""
        invoke = self.invoke_configs.get(r.urn, [])
        retry_attempts, max_age, on_failure, kind = 2, 21600, None, None
        if invoke:
            c = invoke[0].inputs
            retry_attempts = int(c.get("maximumRetryAttempts", 2))
            max_age = int(c.get("maximumEventAgeInSeconds", 21600))
            destination = ((c.get("destinationConfig") or {}).get("onFailure") or {}).get("destination")
            on_failure, kind = self._queue_name(destination, f"{r.name} on-failure destination"), "destination" if destination else None
        dlq = (i.get("deadLetterConfig") or {}).get("targetArn")
        if on_failure is None and dlq:
            on_failure, kind = self._queue_name(dlq, f"{r.name} dead-letter queue"), "dlq"
        return FunctionDecl(
            logical=r.name,
            name=name,
            arn=arn,
            handler=i["handler"],
            files=self._files(r.name, i.get("code")),
            environment={k: str(v) for k, v in ((i.get("environment") or {}).get("variables") or {}).items()},
            timeout_s=int(i.get("timeout") or 3),
            memory_mb=int(i.get("memorySize") or 128),
            reserved_concurrency=i.get("reservedConcurrentExecutions"),
            retry_attempts=retry_attempts,
            max_event_age_s=max_age,
            on_failure=on_failure,
            on_failure_kind=kind,
        )

    def _files(self, logical: str, code: Any) -> dict[str, Path]:
        """The function's zip as a map of archive path -> file on this machine."""
        if not isinstance(code, Mapping):
            raise ModelError(f"{logical}: code is {code!r}; the local stack runs code given as file assets or archives")
        files: dict[str, Path] = {}
        if code.get("__archive__") == "assets":
            for key, asset in code["assets"].items():
                if asset.get("__asset__") == "file":
                    files[key] = Path(asset["path"])
                else:
                    for sub, path in self._files(logical, asset).items():
                        files[f"{key.rstrip('/')}/{sub}"] = path
        elif code.get("__archive__") == "file":
            path = Path(code["path"])
            if path.is_dir():
                files.update({p.relative_to(path).as_posix(): p for p in sorted(path.rglob("*")) if p.is_file()})
            elif zipfile.is_zipfile(path):
                target = self.code_cache / logical
                with zipfile.ZipFile(path) as z:
                    z.extractall(target)
                files.update({p.relative_to(target).as_posix(): p for p in sorted(target.rglob("*")) if p.is_file()})
            else:
                raise ModelError(f"{logical}: code archive {path} is neither a folder nor a zip")
        else:
            raise ModelError(f"{logical}: unsupported code {sorted(code)}")
        return files

    def _function_by_ref(self, ref: str | None) -> FunctionDecl | None:
        """The function a name, ARN (qualified or not) or API Gateway invoke ARN points at."""
        found = self.model.find(T_FUNCTION, ref)
        return self.functions_by_urn.get(found.urn) if found is not None else None

    def _table_of_stream(self, stream_arn: str | None) -> TableDecl | None:
        found = self.model.table_of_stream(stream_arn) if stream_arn else None
        return self.tables_by_logical.get(found.name) if found is not None else None

    # ---------------------------------------------------------------- events
    def _rule(self, r: RecordedResource) -> RuleDecl:
        i = r.inputs
        state = i.get("state") or ("DISABLED" if i.get("isEnabled") is False else "ENABLED")
        return RuleDecl(
            logical=r.name,
            name=r.state.get("name") or r.name,
            arn=r.state.get("arn", ""),
            bus_name=(i.get("eventBusName") or "default").split("/")[-1],
            event_pattern=i.get("eventPattern"),
            schedule=i.get("scheduleExpression"),
            enabled=state != "DISABLED",
        )

    def _target(self, r: RecordedResource) -> TargetDecl:
        i = r.inputs
        bus = (i.get("eventBusName") or "default").split("/")[-1]
        rule = self.rules_by_key.get((i["rule"], bus))
        if rule is None:
            raise ModelError(f"{r.name}: target of unknown rule {i['rule']!r} on bus {bus!r}")
        retry = i.get("retryPolicy") or {}
        arn = i["arn"]
        destination = self.api_destinations_by_arn.get(arn)
        shaping = next((k for k in ("input", "inputPath", "inputTransformer") if i.get(k)), None)
        transformer = i.get("inputTransformer") or {}
        if destination is not None and shaping == "inputTransformer":
            shaping = None  # applied locally for API destination targets
        elif destination is not None and shaping is not None:
            self.warnings.append(f"{r.name}: {shaping} is not applied locally for an API destination target (only inputTransformer)")
        return TargetDecl(
            logical=r.name,
            rule=rule,
            target_id=i.get("targetId") or r.name,
            arn=arn,
            function=self._function_by_ref(arn),
            queue=self.queues_by_arn.get(arn),
            retry_attempts=int(retry.get("maximumRetryAttempts", 185)),
            max_event_age_s=int(retry.get("maximumEventAgeInSeconds", 86400)),
            dead_letter_queue=self._queue_name((i.get("deadLetterConfig") or {}).get("arn"), f"{r.name} dead-letter queue"),
            input_shaping=shaping,
            delivery_stream=self.delivery_streams_by_arn.get(arn),
            state_machine=self.state_machines_by_arn.get(arn),
            api_destination=destination,
            input_paths=dict(transformer.get("inputPaths") or {}),
            input_template=transformer.get("inputTemplate") if destination is not None else None,
            header_parameters=dict((i.get("httpTarget") or {}).get("headerParameters") or {}),
        )

    def _api_destination(self, r: RecordedResource) -> ApiDestinationDecl:
        i = r.inputs
        connection = self.model.find(T_CONNECTION, i.get("connectionArn"))
        if connection is None:
            self.warnings.append(f"{r.name}: connection {i.get('connectionArn')!r} is not declared here; requests carry no authorization")
        return ApiDestinationDecl(
            logical=r.name,
            arn=r.state.get("arn", ""),
            endpoint=i["invocationEndpoint"],
            method=i.get("httpMethod") or "POST",
            rate_per_second=int(i.get("invocationRateLimitPerSecond") or 300),
            auth_kind=str(connection.inputs.get("authorizationType") or "") if connection else "",
            auth=dict(connection.inputs.get("authParameters") or {}) if connection else {},
        )

    # ---------------------------------------------------------------- workflows
    def _state_machine(self, r: RecordedResource) -> StateMachineDecl:
        i = r.inputs
        definition = i.get("definition")
        if not isinstance(definition, str):
            raise ModelError(f"{r.name}: a state machine definition must be a JSON string, got {type(definition).__name__}")
        name = r.state.get("name") or i.get("name") or r.name
        return StateMachineDecl(
            logical=r.name,
            name=name,
            arn=r.state.get("arn", ""),
            definition=definition,
            role_arn=i.get("roleArn") or "",
            type=i.get("type") or "STANDARD",
        )

    def _schedule(self, r: RecordedResource) -> ScheduleDecl:
        i = r.inputs
        if not i.get("target", {}).get("arn"):
            raise ModelError(f"{r.name}: a schedule needs a target with an ARN")
        return ScheduleDecl(
            logical=r.name,
            name=r.state.get("name") or i.get("name") or r.name,
            group=i.get("groupName") or "default",
            expression=i["scheduleExpression"],
            timezone=i.get("scheduleExpressionTimezone") or "UTC",
            enabled=(i.get("state") or "ENABLED") == "ENABLED",
            target=_boto_shape(i["target"]),
            flexible_window=_boto_shape(i.get("flexibleTimeWindow") or {"mode": "OFF"}),
            start_date=i.get("startDate"),
            end_date=i.get("endDate"),
        )

    def _mapping(self, r: RecordedResource) -> StreamMappingDecl | None:
        i = r.inputs
        source = i.get("eventSourceArn") or ""
        function = self._function_by_ref(i.get("functionName"))
        if function is None:
            raise ModelError(f"{r.name}: mapping to unknown function {i.get('functionName')!r}")
        table = self._table_of_stream(source)
        if table is None:
            self.warnings.append(
                f"{r.name}: source {source or '?'} is not a DynamoDB stream of this stack; this mapping is NOT run locally"
            )
            return None
        filters = tuple(Pattern.parse(f["pattern"]) for f in ((i.get("filterCriteria") or {}).get("filters") or ()))
        on_failure = ((i.get("destinationConfig") or {}).get("onFailure") or {}).get("destinationArn")
        return StreamMappingDecl(
            logical=r.name,
            function=function,
            table=table,
            starting_position=i.get("startingPosition") or "LATEST",
            batch_size=int(i.get("batchSize") or 100),
            filters=filters,
            report_batch_item_failures="ReportBatchItemFailures" in (i.get("functionResponseTypes") or ()),
            retry_attempts=int(i.get("maximumRetryAttempts", -1)),
            max_record_age_s=int(i.get("maximumRecordAgeInSeconds", -1)),
            bisect_on_error=bool(i.get("bisectBatchOnFunctionError")),
            on_failure=self._queue_name(on_failure, f"{r.name} on-failure destination"),
            enabled=i.get("enabled", True) is not False,
            source_arn=source,
        )

    def _pipe(self, r: RecordedResource) -> PipeDecl | None:
        i = r.inputs
        table = self._table_of_stream(i.get("source"))
        target = i.get("target") or ""
        bus = target.split("event-bus/")[-1] if ":event-bus/" in target else None
        params = i.get("targetParameters") or {}
        bus_params = params.get("eventbridgeEventBusParameters") or {}
        enrichment = self._function_by_ref(i.get("enrichment"))
        problem = (
            "its source is not a DynamoDB stream of this stack"
            if table is None
            else "its target is not an event bus"
            if bus is None
            else f"its enrichment {i['enrichment']!r} is not a function of this stack (other enrichments are not emulated)"
            if i.get("enrichment") and enrichment is None
            else "enrichment parameters (input template, HTTP parameters) are not emulated"
            if i.get("enrichmentParameters")
            else None
        )
        if problem:
            self.warnings.append(f"pipe {r.name}: {problem}; NOT run locally")
            return None
        source = i.get("sourceParameters") or {}
        stream = source.get("dynamodbStreamParameters") or {}
        on_failure = (stream.get("deadLetterConfig") or {}).get("arn")
        return PipeDecl(
            logical=r.name,
            arn=r.state.get("arn", ""),
            table=table,  # type: ignore[arg-type] - checked above
            starting_position=stream.get("startingPosition") or "LATEST",
            batch_size=int(stream.get("batchSize") or 100),
            filters=tuple(Pattern.parse(f["pattern"]) for f in ((source.get("filterCriteria") or {}).get("filters") or ())),
            retry_attempts=int(stream.get("maximumRetryAttempts", -1)),
            max_record_age_s=int(stream.get("maximumRecordAgeInSeconds", -1)),
            bisect_on_error=stream.get("onPartialBatchItemFailure") == "AUTOMATIC_BISECT",
            on_failure=self._queue_name(on_failure, f"{r.name} dead-letter queue"),
            bus_name=bus,  # type: ignore[arg-type] - checked above
            source=bus_params.get("source") or "Pipe " + (r.state.get("name") or r.name),
            detail_type=bus_params.get("detailType") or "Event from aws:dynamodb.stream",
            time=bus_params.get("time"),
            input_template=params.get("inputTemplate"),
            enrichment=enrichment,
        )

    # ---------------------------------------------------------------- HTTP API
    def _api(self, r: RecordedResource) -> ApiDecl:
        api_id = r.id or r.name
        of_api = lambda t: self.model.referencing(t, "apiId", api_id)  # noqa: E731
        integrations = {x.id: x for x in of_api(T_INTEGRATION)}
        authorizers = {x.id: x for x in of_api(T_AUTHORIZER)}
        stages = [x.inputs.get("name", "$default") for x in of_api(T_STAGE)]
        if len(stages) > 1:
            self.warnings.append(f"{r.name}: {len(stages)} stages declared; serving the first ({stages[0]})")
        routes = []
        for route in of_api(T_ROUTE):
            i = route.inputs
            target = i.get("target") or ""
            integration = integrations.get(target.removeprefix("integrations/"))
            if integration is None:
                raise ModelError(f"{route.name}: route {i['routeKey']!r} targets unknown integration {target!r}")
            ii = integration.inputs
            if ii.get("integrationType") != "AWS_PROXY" or str(ii.get("payloadFormatVersion", "1.0")) != "2.0":
                raise ModelError(f"{route.name}: only AWS_PROXY integrations with payload format 2.0 are emulated")
            function = self._function_by_ref(ii.get("integrationUri"))
            if function is None:
                raise ModelError(f"{route.name}: integration {integration.name} points at an undeclared function")
            routes.append(
                RouteDecl(
                    route_key=i["routeKey"],
                    method="ANY" if i["routeKey"] == "$default" else i["routeKey"].split(" ", 1)[0],
                    path="" if i["routeKey"] == "$default" else i["routeKey"].split(" ", 1)[1],
                    function=function,
                    authorizer=self._authorizer(route, authorizers),
                    scopes=tuple(i.get("authorizationScopes") or ()),
                )
            )
        return ApiDecl(
            logical=r.name,
            api_id=api_id,
            stage=stages[0] if stages else "$default",
            routes=tuple(routes),
            cors=r.inputs.get("corsConfiguration"),
            endpoint=r.state.get("apiEndpoint"),
        )

    # ---------------------------------------------------------------- WebSocket API
    def _websocket_api(self, r: RecordedResource) -> WebSocketApiDecl:
        api_id = r.id or r.name
        of_api = lambda t: self.model.referencing(t, "apiId", api_id)  # noqa: E731
        integrations = {x.id: x for x in of_api(T_INTEGRATION)}
        authorizers = {x.id: x for x in of_api(T_AUTHORIZER)}
        stages = [x.inputs.get("name", "$default") for x in of_api(T_STAGE)]
        if len(stages) > 1:
            self.warnings.append(f"{r.name}: {len(stages)} stages declared; serving the first ({stages[0]})")
        selection = r.inputs.get("routeSelectionExpression") or "$request.body.action"
        if not selection.startswith("$request.body."):
            raise ModelError(f"{r.name}: route selection expression {selection!r} is not emulated (only $request.body.<path>)")
        routes = []
        for route in of_api(T_ROUTE):
            i = route.inputs
            key = i["routeKey"]
            target = i.get("target") or ""
            integration = integrations.get(target.removeprefix("integrations/"))
            if integration is None:
                raise ModelError(f"{route.name}: route {key!r} targets unknown integration {target!r}")
            if integration.inputs.get("integrationType") != "AWS_PROXY":
                raise ModelError(f"{route.name}: only AWS_PROXY (Lambda proxy) integrations are emulated on WebSocket routes")
            function = self._function_by_ref(integration.inputs.get("integrationUri"))
            if function is None:
                raise ModelError(f"{route.name}: integration {integration.name} points at an undeclared function")
            kind = i.get("authorizationType", "NONE")
            authorizer = None
            if kind == "CUSTOM":
                declared = authorizers.get(i.get("authorizerId"))
                if declared is None or declared.inputs.get("authorizerType") != "REQUEST":
                    raise ModelError(f"{route.name}: CUSTOM authorization without a known REQUEST authorizer")
                authorizer_fn = self._function_by_ref(declared.inputs.get("authorizerUri"))
                if authorizer_fn is None:
                    raise ModelError(f"{declared.name}: the authorizer points at an undeclared function")
                authorizer = RequestAuthorizerDecl(declared.name, authorizer_fn, tuple(declared.inputs.get("identitySources") or ()))
            elif kind != "NONE":
                raise ModelError(f"{route.name}: authorization {kind} is not emulated on WebSocket routes (only CUSTOM and NONE)")
            if authorizer is not None and key != "$connect":
                raise ModelError(f"{route.name}: API Gateway authorizes WebSocket connections on $connect only, not on {key!r}")
            routes.append(WebSocketRouteDecl(key, function, authorizer, two_way=bool(i.get("routeResponseSelectionExpression"))))
        return WebSocketApiDecl(
            logical=r.name,
            api_id=api_id,
            stage=stages[0] if stages else "$default",
            route_selection=selection,
            routes=tuple(routes),
            endpoint=r.state.get("apiEndpoint"),
        )

    def _authorizer(self, route: RecordedResource, authorizers: Mapping[str | None, RecordedResource]) -> Authorizer | None:
        kind = route.inputs.get("authorizationType", "NONE")
        if kind == "NONE":
            return None
        if kind != "JWT":
            raise ModelError(f"{route.name}: authorization {kind} is not emulated (only JWT and NONE)")
        authorizer = authorizers.get(route.inputs.get("authorizerId"))
        if authorizer is None:
            raise ModelError(f"{route.name}: JWT route without a known authorizer")
        jwt_config = authorizer.inputs.get("jwtConfiguration") or {}
        sources = authorizer.inputs.get("identitySources") or ["$request.header.Authorization"]
        if len(sources) != 1 or not sources[0].startswith("$request.header."):
            raise ModelError(f"{authorizer.name}: identity source {sources} is not emulated (one request header only)")
        return Authorizer(
            issuer=jwt_config["issuer"],
            audiences=tuple(jwt_config.get("audiences") or ()),
            header=sources[0].removeprefix("$request.header.").lower(),
        )


def _is_websocket(r: RecordedResource) -> bool:
    return str(r.inputs.get("protocolType") or "HTTP").upper() == "WEBSOCKET"


_BOTO_KEYS = {"eventbridgeParameters": "EventBridgeParameters", "sqsParameters": "SqsParameters", "ecsParameters": "EcsParameters"}


def _boto_shape(value: Any) -> Any:
    """A Pulumi (camelCase) input as boto3 takes it (PascalCase keys, whole numbers as int)."""
    if isinstance(value, Mapping):
        return {_BOTO_KEYS.get(k) or k[:1].upper() + k[1:]: _boto_shape(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_boto_shape(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
