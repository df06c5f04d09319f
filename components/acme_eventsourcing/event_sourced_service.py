"""EventSourcedService: one bounded context - event store, publisher, API, projections, subscriptions."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import pulumi
import pulumi_aws as aws

from . import _iam, _kms, _lambda, _queues
from ._lambda import FunctionParts
from ._queues import DeadLetterQueue
from .retained_table import BackupPlan, RetainedTable, RetainedTableArgs

TYPE_TOKEN = "acme:events:EventSourcedService"

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

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,255}$")
_ROUTE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) (/[A-Za-z0-9._~{}+/-]*)$")
_HANDLER = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")
_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
#: API Gateway HTTP APIs give an integration at most 30 s.
_API_MAX_TIMEOUT_S = 29


class EventBusLike(Protocol):
    """Anything with a bus name and ARN: a `SharedEventBus` or an `EventBusRef`."""

    @property
    def bus_name(self) -> pulumi.Input[str]: ...

    @property
    def bus_arn(self) -> pulumi.Input[str]: ...


@dataclass(frozen=True, kw_only=True)
class EventBusRef:
    """A bus known by name and ARN (e.g. read from config)."""

    bus_name: pulumi.Input[str]
    bus_arn: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class FunctionSpec:
    """Code and sizing of one function. Only `packages` (top-level folders or modules under
    `code_root`) are zipped, and of those only the files the handler imports
    (`trim_to_imports`); tests, caches and anything else stay out."""

    handler: str
    code_root: str
    packages: Sequence[str]
    memory_mb: int = 256
    timeout_s: int = 10
    #: Extra environment; the component's own variables (SERVICE_SOURCE, EVENTS_TABLE, ...) win.
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    #: Ship only the files of `packages` that the handler imports (statically); turn off
    #: for code that loads modules by computed name.
    trim_to_imports: bool = True

    def validate(self, what: str, *, max_timeout_s: int = 900) -> None:
        if not _HANDLER.match(self.handler):
            raise ValueError(f"{what}: handler {self.handler!r} is not 'module.function'")
        if not self.packages:
            raise ValueError(f"{what}: packages must name at least one package")
        if self.handler.split(".")[0] not in self.packages:
            raise ValueError(f"{what}: the handler's package {self.handler.split('.')[0]!r} is not in packages {list(self.packages)}")
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"{what}: memory_mb must be within 128..10240")
        if not 1 <= self.timeout_s <= max_timeout_s:
            raise ValueError(f"{what}: timeout_s must be within 1..{max_timeout_s}")
        if self.reserved_concurrency is not None and self.reserved_concurrency < 1:
            raise ValueError(f"{what}: reserved_concurrency must be >= 1 (0 would disable the function)")


@dataclass(frozen=True, kw_only=True)
class ProjectionSpec:
    """A read model: table (`pk`/`sk`), rule on this service's `source` and `detail_types`,
    and the projector function."""

    name: str
    function: FunctionSpec
    detail_types: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class SubscriptionSpec:
    """A reaction to events of (usually other) services: rule, DLQ and function."""

    name: str
    function: FunctionSpec
    sources: Sequence[str]
    detail_types: Sequence[str]


#: The claim the API functions take the caller's identity from when the service creates its
#: own Cognito pool: the pool's custom attribute `employee_id`, immutable (set once, by an
#: administrator, when the user is created) and readable but never writable by the app client.
USER_POOL_IDENTITY_ATTRIBUTE = "employee_id"
USER_POOL_IDENTITY_CLAIM = f"custom:{USER_POOL_IDENTITY_ATTRIBUTE}"
#: Attributes the created app client may read (they appear in its ID tokens) and write (a
#: signed-in user may change them with UpdateUserAttributes). Both are explicit: an unset
#: (or empty) `write_attributes` lets the client write every mutable attribute.
USER_POOL_CLIENT_READ_ATTRIBUTES = ("email", "email_verified", "name", USER_POOL_IDENTITY_CLAIM)
USER_POOL_CLIENT_WRITE_ATTRIBUTES = ("name",)
#: The environment variable naming the identity claim for the API functions.
IDENTITY_CLAIM_ENV = "IDENTITY_CLAIM"
_CLAIM = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,127}$")
#: Claims that never identify a person (who issued the token, for whom, when, which groups).
_NOT_IDENTITY_CLAIMS = frozenset(
    {"iss", "aud", "exp", "iat", "nbf", "auth_time", "jti", "token_use", "client_id", "scope", "cognito:groups"}
)


@dataclass(frozen=True, kw_only=True)
class JwtAuthorizerSpec:
    """An existing OIDC issuer (e.g. a Cognito pool another stack owns).

    `identity_claim` is the one claim the API functions take the caller's identity from
    (no fallback to another claim). Name only a claim users cannot change at the issuer:
    `sub`, or an attribute the issuer's owner keeps immutable and out of every client's
    `write_attributes` (the policy rules COG001/COG002 check that in the stack that owns the pool)."""

    issuer: pulumi.Input[str]
    audiences: Sequence[pulumi.Input[str]]
    identity_claim: str = "sub"


@dataclass(frozen=True, kw_only=True)
class ApiSpec:
    """The HTTP API: route keys (`"POST /locations"`) for the commands and queries functions.
    `public_routes` (a subset of those) skip the JWT authorizer. `jwt=None` creates a Cognito
    user pool, client and the groups `admin` and `approver`."""

    commands: FunctionSpec
    queries: FunctionSpec
    command_routes: Sequence[str]
    query_routes: Sequence[str]
    public_routes: Sequence[str] = ()
    jwt: JwtAuthorizerSpec | None = None
    throttling_burst_limit: int = 100
    throttling_rate_limit: float = 50.0
    cors_allowed_origins: Sequence[str] = ()

    @property
    def identity_claim(self) -> str:
        """The claim the API functions identify the caller by: `jwt.identity_claim`, or
        `USER_POOL_IDENTITY_CLAIM` for the pool the service creates."""
        return self.jwt.identity_claim if self.jwt is not None else USER_POOL_IDENTITY_CLAIM

    @property
    def routes(self) -> dict[str, str]:
        """Route key -> "commands" or "queries"."""
        return {**{r: "commands" for r in self.command_routes}, **{r: "queries" for r in self.query_routes}}

    def validate(self) -> None:
        self.commands.validate("api.commands", max_timeout_s=_API_MAX_TIMEOUT_S)
        self.queries.validate("api.queries", max_timeout_s=_API_MAX_TIMEOUT_S)
        both = set(self.command_routes) & set(self.query_routes)
        if both:
            raise ValueError(f"routes {sorted(both)} are declared for both commands and queries")
        keys = [*self.command_routes, *self.query_routes]
        if len(set(keys)) != len(keys):
            raise ValueError("a route is declared twice")
        if not keys:
            raise ValueError("api declares no routes")
        for key in keys:
            if not _ROUTE.match(key):
                raise ValueError(f"route {key!r} is not 'METHOD /path'")
        slugs = [_slug(k) for k in keys]
        if len(set(slugs)) != len(slugs):
            raise ValueError("two routes differ only in punctuation; their resource names would clash")
        undeclared = set(self.public_routes) - set(keys)
        if undeclared:
            raise ValueError(f"public_routes {sorted(undeclared)} are not command or query routes")
        if self.jwt is not None and not self.jwt.audiences:
            raise ValueError("jwt.audiences must not be empty")
        claim = self.identity_claim
        if not isinstance(claim, str) or not _CLAIM.match(claim) or claim in _NOT_IDENTITY_CLAIMS:
            raise ValueError(f"jwt.identity_claim {claim!r} must name a claim that identifies the user (e.g. 'sub')")
        if self.throttling_burst_limit < 1 or self.throttling_rate_limit <= 0:
            raise ValueError("throttling limits must be positive")


@dataclass(frozen=True, kw_only=True)
class PublisherSpec:
    """How stream INSERTs reach the bus: a Lambda (`kind="lambda"`, the default) or an
    EventBridge Pipe whose enrichment Lambda builds the events (`kind="pipe"`, see
    `PIPE_INPUT_TEMPLATE`). Both put the same envelope on the bus."""

    kind: Literal["lambda", "pipe"] = "lambda"
    #: TRIM_HORIZON: a publisher created after the table still publishes every event.
    starting_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON"
    #: None = 100 for the Lambda (it sends PutEvents in chunks of 10), 10 for a Pipe (its bus limit).
    batch_size: int | None = None
    maximum_batching_window_in_seconds: int = 0
    maximum_retry_attempts: int = 10
    maximum_record_age_in_seconds: int = 86400
    bisect_batch_on_function_error: bool = True
    parallelization_factor: int = 1
    #: The publisher Lambda's, or the Pipe's enrichment function's.
    memory_mb: int = 256
    timeout_s: int = 30
    #: The iterator age alarm threshold (Lambda publisher).
    iterator_age_alarm_ms: int = 60_000

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
            raise ValueError(f"publisher.batch_size must be within 1..{limit} for kind {self.kind!r}")
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
class DeliverySpec:
    """Retries of rule -> function delivery (EventBridge) and of the function's own failures
    (Lambda asynchronous invocation); what still fails lands in the DLQ."""

    maximum_retry_attempts: int = 10
    maximum_event_age_in_seconds: int = 86400
    function_retry_attempts: int = 2
    function_maximum_event_age_in_seconds: int = 21600

    def validate(self) -> None:
        if not 0 <= self.maximum_retry_attempts <= 185:
            raise ValueError("delivery.maximum_retry_attempts must be within 0..185")
        if not 60 <= self.maximum_event_age_in_seconds <= 86400:
            raise ValueError("delivery.maximum_event_age_in_seconds must be within 60..86400")
        if not 0 <= self.function_retry_attempts <= 2:
            raise ValueError("delivery.function_retry_attempts must be within 0..2")
        if not 60 <= self.function_maximum_event_age_in_seconds <= 21600:
            raise ValueError("delivery.function_maximum_event_age_in_seconds must be within 60..21600")


@dataclass(frozen=True, kw_only=True)
class EventSourcedServiceArgs:
    """Arguments of `EventSourcedService`."""

    #: The service's EventBridge `source`, e.g. `acme.leave`.
    source: str
    bus: EventBusLike
    #: Commands + queries; with it come the Events table and the publisher. None = a service
    #: that only reacts (subscriptions), which owns no event store.
    api: ApiSpec | None = None
    projections: Sequence[ProjectionSpec] = ()
    subscriptions: Sequence[SubscriptionSpec] = ()
    publisher: PublisherSpec = field(default_factory=PublisherSpec)
    delivery: DeliverySpec = field(default_factory=DeliverySpec)
    log_retention_days: int = 30
    #: SNS topic ARNs notified by every alarm (and when it recovers).
    alarm_actions: Sequence[pulumi.Input[str]] = ()
    #: An existing customer-managed KMS key (ARN) for the tables, queues, log groups and
    #: function environments; None = the service creates its own (`kms_key`). Its policy must
    #: then let CloudWatch Logs and EventBridge use it the way `_kms.key_policy` does.
    kms_key_arn: pulumi.Input[str] | None = None
    #: Explicit opt-out: AWS-managed keys (tables: aws/dynamodb; queues: SQS-managed SSE; log
    #: groups and environments: the services' default encryption). The policy rule KMS001 fails it.
    aws_managed_keys: bool = False
    events_table_backup: BackupPlan | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ValueError for invalid or contradictory arguments (before anything is created)."""
        if not _SOURCE.match(self.source) or self.source.startswith("aws."):
            raise ValueError(f"source {self.source!r} must be lower-case dotted (e.g. 'acme.leave') and not start with 'aws.'")
        if self.api is None and self.projections:
            raise ValueError("projections need the Events table, which comes with api; give api or drop projections")
        if self.api is None and not self.subscriptions:
            raise ValueError("nothing to build: give api and/or subscriptions")
        if self.aws_managed_keys and self.kms_key_arn is not None:
            raise ValueError("give kms_key_arn or aws_managed_keys=True, not both")
        if self.log_retention_days not in _lambda.LOG_RETENTION_DAYS:
            raise ValueError(f"log_retention_days {self.log_retention_days} is not a CloudWatch Logs retention value")
        names = [p.name for p in self.projections] + [s.name for s in self.subscriptions]
        if len(set(names)) != len(names):
            raise ValueError(f"projection and subscription names must be unique: {names}")
        for name in names:
            if not _NAME.match(name) or name in {"commands", "queries", "publisher", "events", "api", "users"}:
                raise ValueError(f"name {name!r} must match {_NAME.pattern} and not be a reserved part name")
        for p in self.projections:
            p.function.validate(f"projection {p.name!r}")
            _check_detail_types(f"projection {p.name!r}", p.detail_types)
        for s in self.subscriptions:
            s.function.validate(f"subscription {s.name!r}")
            _check_detail_types(f"subscription {s.name!r}", s.detail_types)
            if isinstance(s.sources, str) or not s.sources or any(not _SOURCE.match(x) for x in s.sources):
                raise ValueError(f"subscription {s.name!r}: sources must be non-empty event sources")
        if self.api is not None:
            self.api.validate()
        self.publisher.validate()
        self.delivery.validate()


class EventSourcedService(pulumi.ComponentResource):
    """One bounded context on a shared bus.

    Default settings:
    - Events table: a `RetainedTable` (`stream_id` S hash, `version` N range, stream
      NEW_IMAGE, append-only resource policy, protect/retain/deletion protection/PITR/KMS);
    - publisher: a Lambda (python3.12, arm64, the packaged `components/acme_eventsourcing/runtime/publisher.py`)
      with a stream mapping filtered to event INSERTs (`PUBLISHER_FILTER_PATTERN`), batch 100,
      TRIM_HORIZON, bisect on error, 10 retries, 1 day maximum record age,
      ReportBatchItemFailures and an on-failure queue; or (`publisher.kind="pipe"`) a Pipe
      with the same filter, bounds and a dead-letter queue, whose enrichment function (the
      same code, `acme_eventsourcing.runtime.publisher.enrich`) builds the same envelope;
    - HTTP API with a JWT authorizer on every route but `public_routes` (a Cognito pool
      unless `api.jwt` names an issuer), `$default` stage with auto-deploy, JSON access logs
      and throttling (burst 100, rate 50/s), payload format 2.0;
    - per projection: a `pk`/`sk` `RetainedTable`, a rule on the bus for this `source` and
      the declared detail-types, a target with 10 retries / 1 day maximum age and a DLQ,
      the projector function (failed asynchronous invocations also go to the DLQ);
    - per subscription: the same without the table;
    - one role per function: its log group, X-Ray, and only the data actions it needs on
      exact ARNs (no role gets UpdateItem/DeleteItem on the Events table);
    - every function: explicit memory/timeout, X-Ray Active, its own log group kept 30 days
      (`log_retention_days`), an Errors alarm; every queue: SQS-managed SSE, TLS-only
      policy, 14 days retention, a depth alarm; the publisher: an IteratorAge alarm (Lambda)
      or an ExecutionFailed alarm (Pipe). `alarm_actions` go to every alarm;
    - Lambda permissions scoped by `source_arn` (the API's execution ARN, or the rule ARN).

    Without `api` the service owns no Events table and no publisher (it only reacts).
    """

    def __init__(self, name: str, args: EventSourcedServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        args.validate()
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        self._base = name
        self._child = pulumi.ResourceOptions(parent=self)
        self.bus_name: pulumi.Output[str] = pulumi.Output.from_input(args.bus.bus_name)
        self.bus_arn: pulumi.Output[str] = pulumi.Output.from_input(args.bus.bus_arn)

        self.events_table: RetainedTable | None = None
        self.publisher: FunctionParts | None = None
        self.publisher_mapping: aws.lambda_.EventSourceMapping | None = None
        self.publisher_pipe: aws.pipes.Pipe | None = None
        self.publisher_enrichment: FunctionParts | None = None
        self.publisher_role: aws.iam.Role | None = None
        self.publisher_dlq: DeadLetterQueue | None = None
        self.read_models: dict[str, RetainedTable] = {}
        self.projectors: dict[str, _Reactor] = {}
        self.subscribers: dict[str, _Reactor] = {}
        self.api: _Api | None = None

        self.kms_key: aws.kms.Key | None = None
        if args.aws_managed_keys:
            pulumi.log.warn(
                f"{name}: aws_managed_keys=True - data at rest is encrypted with AWS-managed keys, not one you control", resource=self
            )
        elif args.kms_key_arn is None:
            self.kms_key = _kms.service_key(
                f"{name}-key",
                parent=self,
                description=f"{args.source}: tables, queues, log groups and function environments",
                log_group_prefixes=[
                    f"/aws/lambda/{name}-",
                    f"/aws/vendedlogs/apigateway/{name}-api-",
                    f"/aws/vendedlogs/pipes/{name}-publisher-",
                ],
                rule_arn_patterns=[self.bus_arn.apply(lambda arn: f"{arn.replace(':event-bus/', ':rule/', 1)}/{name}-*")]
                if args.projections or args.subscriptions
                else [],
                tags=args.tags,
            )
        self.kms_key_arn: pulumi.Output[str] | None = (
            self.kms_key.arn
            if self.kms_key is not None
            else (None if args.kms_key_arn is None else pulumi.Output.from_input(args.kms_key_arn))
        )

        if args.api is not None:
            self.events_table = RetainedTable(
                f"{name}-events",
                RetainedTableArgs(
                    hash_key="stream_id",
                    range_key="version",
                    range_key_type="N",
                    stream_view_type="NEW_IMAGE",
                    append_only=True,
                    kms_key_arn=self.kms_key_arn,
                    aws_managed_key=args.aws_managed_keys,
                    backup=args.events_table_backup,
                    tags=args.tags,
                ),
                opts=self._child,
            )
            if args.publisher.kind == "pipe":
                self._pipe_publisher()
            else:
                self._lambda_publisher()
        for projection in args.projections:
            self.read_models[projection.name] = RetainedTable(
                f"{name}-{projection.name}",
                RetainedTableArgs(
                    hash_key="pk", range_key="sk", kms_key_arn=self.kms_key_arn, aws_managed_key=args.aws_managed_keys, tags=args.tags
                ),
                opts=self._child,
            )
        for projection in args.projections:
            self.projectors[projection.name] = self._projector(projection)
        for subscription in args.subscriptions:
            self.subscribers[subscription.name] = self._subscriber(subscription)
        if args.api is not None:
            self.api = self._http_api(args.api)

        self.api_url: pulumi.Output[str] | None = self.api.api.api_endpoint if self.api else None
        self.events_table_name = self.events_table.table_name if self.events_table else None
        self.events_table_arn = self.events_table.table_arn if self.events_table else None
        self.read_model_table_names = {n: t.table_name for n, t in self.read_models.items()}
        self.function_names = {k: f.function.name for k, f in self._functions().items()}
        self.dlq_urls = {k: q.queue.url for k, q in self._queues().items()}
        self.user_pool_id = self.api.user_pool.id if self.api and self.api.user_pool else None
        self.user_pool_client_id = self.api.user_pool_client.id if self.api and self.api.user_pool_client else None
        self.jwt_issuer = self.api.issuer if self.api else None
        self.identity_claim: str | None = args.api.identity_claim if args.api else None
        self.register_outputs(
            {
                "api_url": self.api_url,
                "events_table_name": self.events_table_name,
                "events_table_arn": self.events_table_arn,
                "read_model_table_names": self.read_model_table_names,
                "function_names": self.function_names,
                "dlq_urls": self.dlq_urls,
                "bus_name": self.bus_name,
                "bus_arn": self.bus_arn,
                "user_pool_id": self.user_pool_id,
                "user_pool_client_id": self.user_pool_client_id,
                "jwt_issuer": self.jwt_issuer,
                "identity_claim": self.identity_claim,
                "kms_key_arn": self.kms_key_arn,
            }
        )

    # ------------------------------------------------------------------ helpers
    def _functions(self) -> dict[str, FunctionParts]:
        out: dict[str, FunctionParts] = {}
        if self.publisher:
            out["publisher"] = self.publisher
        if self.publisher_enrichment:
            out["publisher-enrich"] = self.publisher_enrichment
        if self.api:
            out["commands"], out["queries"] = self.api.commands, self.api.queries
        out.update({f"{n}-projector": r.function for n, r in self.projectors.items()})
        out.update({f"{n}-subscriber": r.function for n, r in self.subscribers.items()})
        return out

    def _queues(self) -> dict[str, DeadLetterQueue]:
        out: dict[str, DeadLetterQueue] = {}
        if self.publisher_dlq:
            out["publisher"] = self.publisher_dlq
        out.update({n: r.dlq for n, r in self.projectors.items()})
        out.update({n: r.dlq for n, r in self.subscribers.items()})
        return out

    def _env(self, extra: Mapping[str, pulumi.Input[str]], forced: Mapping[str, pulumi.Input[str]]) -> dict[str, pulumi.Input[str]]:
        return {**extra, "SERVICE_SOURCE": self.args.source, **forced}

    def _function(
        self,
        part: str,
        spec: FunctionSpec,
        statements: Sequence[Mapping[str, Any]],
        forced_env: Mapping[str, pulumi.Input[str]],
        *,
        writes: bool,
    ) -> FunctionParts:
        return _lambda.build_function(
            f"{self._base}-{part}",
            parent=self,
            handler=spec.handler,
            code=_lambda.package_code(spec.code_root, spec.packages, spec.handler.rsplit(".", 1)[0] if spec.trim_to_imports else None),
            memory_mb=spec.memory_mb,
            timeout_s=spec.timeout_s,
            environment=self._env(spec.environment, forced_env),
            statements=statements,
            log_retention_days=self.args.log_retention_days,
            alarm_actions=self.args.alarm_actions,
            reserved_concurrency=spec.reserved_concurrency,
            tags=self.args.tags,
            kms_key_arn=self.kms_key_arn,
            kms_writes=writes,
        )

    def _put_events_statement(self) -> dict[str, Any]:
        return _iam.statement(
            "PutEventsOwnSourceOnly",
            ["events:PutEvents"],
            [self.bus_arn],
            condition={"StringEquals": {"events:source": [self.args.source]}},
        )

    def _publisher_code(self) -> pulumi.AssetArchive:
        """The publisher's single file, the code of the Lambda publisher and of the Pipe's enrichment."""
        return _lambda.library_code(PUBLISHER_MODULE)

    def _stream_read_statements(self) -> list[dict[str, Any]]:
        assert self.events_table is not None and self.events_table.stream_arn is not None
        return [
            _iam.statement(
                "ReadEventsStream",
                ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                [self.events_table.stream_arn],
            ),
            _iam.unscoped_statement("ListStreams", ["dynamodb:ListStreams"]),
        ]

    # ------------------------------------------------------------------ publisher
    def _lambda_publisher(self) -> None:
        assert self.events_table is not None and self.events_table.stream_arn is not None
        spec, name = self.args.publisher, self._base
        self.publisher_dlq = _queues.dead_letter_queue(
            f"{name}-publisher-dlq", parent=self, alarm_actions=self.args.alarm_actions, tags=self.args.tags, kms_key_arn=self.kms_key_arn
        )
        self.publisher = _lambda.build_function(
            f"{name}-publisher",
            parent=self,
            handler=PUBLISHER_HANDLER,
            code=self._publisher_code(),
            memory_mb=spec.memory_mb,
            timeout_s=spec.timeout_s,
            environment=self._env({}, {"EVENT_BUS_NAME": self.bus_name, "EVENT_SOURCE": self.args.source}),
            statements=[
                self._put_events_statement(),
                *self._stream_read_statements(),
                _iam.statement("SendFailedRecordsToQueue", ["sqs:SendMessage"], [self.publisher_dlq.queue.arn]),
            ],
            log_retention_days=self.args.log_retention_days,
            alarm_actions=self.args.alarm_actions,
            tags=self.args.tags,
            kms_key_arn=self.kms_key_arn,
            kms_writes=True,
        )
        self.publisher_role = self.publisher.role
        self.publisher_mapping = aws.lambda_.EventSourceMapping(
            f"{name}-publisher-stream",
            event_source_arn=self.events_table.stream_arn,
            function_name=self.publisher.function.arn,
            starting_position=spec.starting_position,
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
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(destination_arn=self.publisher_dlq.queue.arn)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.publisher.policy]),
        )
        _lambda.metric_alarm(
            f"{name}-publisher-iterator-age",
            parent=self,
            description=f"{name} publisher is falling behind the Events stream",
            namespace="AWS/Lambda",
            metric_name="IteratorAge",
            dimensions={"FunctionName": self.publisher.function.name},
            statistic="Maximum",
            threshold=spec.iterator_age_alarm_ms,
            alarm_actions=self.args.alarm_actions,
        )

    def _pipe_publisher(self) -> None:
        assert self.events_table is not None and self.events_table.stream_arn is not None
        spec, name = self.args.publisher, self._base
        self.publisher_dlq = _queues.dead_letter_queue(
            f"{name}-publisher-dlq", parent=self, alarm_actions=self.args.alarm_actions, tags=self.args.tags, kms_key_arn=self.kms_key_arn
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-publisher-logs",
            name_prefix=f"/aws/vendedlogs/pipes/{name}-publisher-",
            retention_in_days=self.args.log_retention_days,
            kms_key_id=self.kms_key_arn,
            tags=dict(self.args.tags) or None,
            opts=self._child,
        )
        # its own role: it calls nothing, so logs and X-Ray only
        self.publisher_enrichment = enrichment = _lambda.build_function(
            f"{name}-publisher-enrich",
            parent=self,
            handler=PUBLISHER_ENRICH_HANDLER,
            code=self._publisher_code(),
            memory_mb=spec.memory_mb,
            timeout_s=spec.timeout_s,
            environment=self._env({}, {"EVENT_SOURCE": self.args.source}),
            statements=[],
            log_retention_days=self.args.log_retention_days,
            alarm_actions=self.args.alarm_actions,
            tags=self.args.tags,
            kms_key_arn=self.kms_key_arn,
        )
        self.publisher_role = aws.iam.Role(
            f"{name}-publisher-role",
            assume_role_policy=_iam.assume_role_policy("pipes.amazonaws.com"),
            tags=dict(self.args.tags) or None,
            opts=self._child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-publisher-policy",
            role=self.publisher_role.id,
            policy=_iam.document(
                [
                    self._put_events_statement(),
                    *self._stream_read_statements(),
                    _iam.statement("SendFailedRecordsToQueue", ["sqs:SendMessage"], [self.publisher_dlq.queue.arn]),
                    _iam.statement("InvokeEnrichment", ["lambda:InvokeFunction"], [enrichment.function.arn]),
                    _iam.statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [_lambda.log_stream_arns(log_group)]),
                    *([_kms.use_statement(self.kms_key_arn, writes=True)] if self.kms_key_arn is not None else []),
                ]
            ),
            opts=self._child,
        )
        self.publisher_pipe = aws.pipes.Pipe(
            f"{name}-publisher",
            description=f"{self.args.source}: Events table stream INSERTs -> bus",
            role_arn=self.publisher_role.arn,
            source=self.events_table.stream_arn,
            enrichment=enrichment.function.arn,
            target=self.bus_arn,
            source_parameters=aws.pipes.PipeSourceParametersArgs(
                filter_criteria=aws.pipes.PipeSourceParametersFilterCriteriaArgs(
                    filters=[aws.pipes.PipeSourceParametersFilterCriteriaFilterArgs(pattern=json.dumps(PUBLISHER_FILTER_PATTERN))]
                ),
                dynamodb_stream_parameters=aws.pipes.PipeSourceParametersDynamodbStreamParametersArgs(
                    starting_position=spec.starting_position,
                    batch_size=spec.effective_batch_size,
                    maximum_batching_window_in_seconds=spec.maximum_batching_window_in_seconds,
                    maximum_retry_attempts=spec.maximum_retry_attempts,
                    maximum_record_age_in_seconds=spec.maximum_record_age_in_seconds,
                    parallelization_factor=spec.parallelization_factor,
                    on_partial_batch_item_failure="AUTOMATIC_BISECT" if spec.bisect_batch_on_function_error else None,
                    dead_letter_config=aws.pipes.PipeSourceParametersDynamodbStreamParametersDeadLetterConfigArgs(
                        arn=self.publisher_dlq.queue.arn
                    ),
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
            tags=dict(self.args.tags) or None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        _lambda.metric_alarm(
            f"{name}-publisher-failed",
            parent=self,
            description=f"{name} publisher pipe failed executions",
            namespace="AWS/EventBridge/Pipes",
            metric_name="ExecutionFailed",
            dimensions={"PipeName": self.publisher_pipe.name},
            statistic="Sum",
            threshold=0,
            alarm_actions=self.args.alarm_actions,
        )

    # ------------------------------------------------------------------ projections and subscriptions
    def _projector(self, projection: ProjectionSpec) -> _Reactor:
        assert self.events_table is not None
        table = self.read_models[projection.name]
        return self._reactor(
            f"{projection.name}-projector",
            rule_part=projection.name,
            spec=projection.function,
            pattern={"source": [self.args.source], "detail-type": list(projection.detail_types)},
            statements=[
                _iam.statement(
                    "MaintainOwnReadModel",
                    [
                        *_READ_ACTIONS,
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:ConditionCheckItem",
                        "dynamodb:BatchWriteItem",
                    ],
                    [table.table_arn],
                ),
                _iam.statement("ReadEventStore", ["dynamodb:GetItem", "dynamodb:Query"], [self.events_table.table_arn]),
            ],
            forced_env={"READ_MODEL_TABLE": table.table_name, "EVENTS_TABLE": self.events_table.table_name},
        )

    def _subscriber(self, subscription: SubscriptionSpec) -> _Reactor:
        return self._reactor(
            f"{subscription.name}-subscriber",
            rule_part=subscription.name,
            spec=subscription.function,
            pattern={"source": list(subscription.sources), "detail-type": list(subscription.detail_types)},
            statements=[],
            forced_env={},
        )

    def _reactor(
        self,
        part: str,
        *,
        rule_part: str,
        spec: FunctionSpec,
        pattern: Mapping[str, Any],
        statements: Sequence[Mapping[str, Any]],
        forced_env: Mapping[str, pulumi.Input[str]],
    ) -> _Reactor:
        """Rule on the bus -> target (retries, DLQ) -> function (async retries, failures to the DLQ)."""
        name, delivery = f"{self._base}-{rule_part}", self.args.delivery
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            event_bus_name=self.bus_name,
            event_pattern=json.dumps(pattern),
            description=f"{part}: {pattern['source']} {pattern['detail-type']}",
            tags=dict(self.args.tags) or None,
            opts=self._child,
        )
        dlq = _queues.dead_letter_queue(
            f"{name}-dlq",
            parent=self,
            alarm_actions=self.args.alarm_actions,
            senders=lambda queue: [
                _iam.statement(
                    "AllowRuleDeadLetters",
                    ["sqs:SendMessage"],
                    [queue.arn],
                    principal={"Service": "events.amazonaws.com"},
                    condition={"ArnEquals": {"aws:SourceArn": rule.arn}},
                )
            ],
            tags=self.args.tags,
            kms_key_arn=self.kms_key_arn,
        )
        parts = self._function(
            part,
            spec,
            [*statements, _iam.statement("SendFailedEventsToQueue", ["sqs:SendMessage"], [dlq.queue.arn])],
            forced_env,
            writes=True,
        )
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=parts.function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=self._child,
        )
        target = aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=rule.name,
            event_bus_name=self.bus_name,
            arn=parts.function.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=delivery.maximum_retry_attempts,
                maximum_event_age_in_seconds=delivery.maximum_event_age_in_seconds,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dlq.queue.arn),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission, dlq.policy]),
        )
        invoke_config = aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=parts.function.name,
            maximum_retry_attempts=delivery.function_retry_attempts,
            maximum_event_age_in_seconds=delivery.function_maximum_event_age_in_seconds,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=dlq.queue.arn)
            ),
            opts=self._child,
        )
        return _Reactor(rule=rule, target=target, dlq=dlq, function=parts, permission=permission, invoke_config=invoke_config)

    # ------------------------------------------------------------------ HTTP API
    def _http_api(self, spec: ApiSpec) -> _Api:
        assert self.events_table is not None
        name = self._base
        api = aws.apigatewayv2.Api(
            f"{name}-api",
            protocol_type="HTTP",
            description=f"{self.args.source} commands and queries",
            cors_configuration=aws.apigatewayv2.ApiCorsConfigurationArgs(
                allow_origins=list(spec.cors_allowed_origins),
                allow_methods=sorted({k.split(" ")[0] for k in spec.routes} | {"OPTIONS"}),
                allow_headers=["authorization", "content-type", "idempotency-key"],
                max_age=3600,
            )
            if spec.cors_allowed_origins
            else None,
            tags=dict(self.args.tags) or None,
            opts=self._child,
        )
        # The API's public URL, for what the functions publish (e.g. the OpenAPI `servers`):
        # a default the spec's `environment` may override (a custom domain).
        public_url = {"API_URL": api.api_endpoint}
        commands = self._function(
            "commands",
            replace(spec.commands, environment={**public_url, **spec.commands.environment}),
            [
                _iam.statement(
                    "AppendToEventStore",
                    ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
                    [self.events_table.table_arn],
                )
            ],
            {"EVENTS_TABLE": self.events_table.table_name, IDENTITY_CLAIM_ENV: spec.identity_claim},
            writes=True,
        )
        read_model_arns = [t.table_arn for t in self.read_models.values()]
        queries = self._function(
            "queries",
            replace(spec.queries, environment={**public_url, **spec.queries.environment}),
            [_iam.statement("ReadReadModels", list(_READ_ACTIONS), read_model_arns)] if read_model_arns else [],
            {
                **{f"READ_MODEL_TABLE_{n.upper().replace('-', '_')}": t.table_name for n, t in self.read_models.items()},
                IDENTITY_CLAIM_ENV: spec.identity_claim,
            },
            writes=False,
        )

        user_pool = user_pool_client = None
        if spec.jwt is None:
            user_pool, user_pool_client = self._user_pool()
            issuer: pulumi.Output[str] = pulumi.Output.concat("https://", user_pool.endpoint)
            audiences: Sequence[pulumi.Input[str]] = [user_pool_client.id]
        else:
            issuer, audiences = pulumi.Output.from_input(spec.jwt.issuer), list(spec.jwt.audiences)

        authorizer = aws.apigatewayv2.Authorizer(
            f"{name}-api-jwt",
            api_id=api.id,
            authorizer_type="JWT",
            identity_sources=["$request.header.Authorization"],
            jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(issuer=issuer, audiences=audiences),
            opts=self._child,
        )
        integrations: dict[str, aws.apigatewayv2.Integration] = {}
        permissions: dict[str, aws.lambda_.Permission] = {}
        for part, parts in (("commands", commands), ("queries", queries)):
            integrations[part] = aws.apigatewayv2.Integration(
                f"{name}-api-{part}",
                api_id=api.id,
                integration_type="AWS_PROXY",
                integration_method="POST",
                integration_uri=parts.function.invoke_arn,
                payload_format_version="2.0",
                opts=self._child,
            )
            permissions[part] = aws.lambda_.Permission(
                f"{name}-api-{part}-invoke",
                action="lambda:InvokeFunction",
                function=parts.function.name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(api.execution_arn, "/*/*"),
                opts=self._child,
            )
        routes: dict[str, aws.apigatewayv2.Route] = {}
        for key, part in spec.routes.items():
            public = key in spec.public_routes
            routes[key] = aws.apigatewayv2.Route(
                f"{name}-route-{_slug(key)}",
                api_id=api.id,
                route_key=key,
                target=pulumi.Output.concat("integrations/", integrations[part].id),
                authorization_type="NONE" if public else "JWT",
                authorizer_id=None if public else authorizer.id,
                opts=self._child,
            )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-api-access-logs",
            name_prefix=f"/aws/vendedlogs/apigateway/{name}-api-",
            retention_in_days=self.args.log_retention_days,
            kms_key_id=self.kms_key_arn,
            tags=dict(self.args.tags) or None,
            opts=self._child,
        )
        stage = aws.apigatewayv2.Stage(
            f"{name}-api-stage",
            api_id=api.id,
            name="$default",
            auto_deploy=True,
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn, format=json.dumps(ACCESS_LOG_FORMAT)
            ),
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_burst_limit=spec.throttling_burst_limit,
                throttling_rate_limit=spec.throttling_rate_limit,
                detailed_metrics_enabled=True,
            ),
            tags=dict(self.args.tags) or None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(routes.values())),
        )
        return _Api(
            api=api,
            stage=stage,
            authorizer=authorizer,
            integrations=integrations,
            routes=routes,
            permissions=permissions,
            access_logs=access_logs,
            commands=commands,
            queries=queries,
            issuer=issuer,
            user_pool=user_pool,
            user_pool_client=user_pool_client,
        )

    def _user_pool(self) -> tuple[aws.cognito.UserPool, aws.cognito.UserPoolClient]:
        name = self._base
        pool = aws.cognito.UserPool(
            f"{name}-users",
            deletion_protection="ACTIVE",
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=True),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                temporary_password_validity_days=3,
            ),
            schemas=[
                # the identity the API trusts: set by an administrator at AdminCreateUser, never changed
                aws.cognito.UserPoolSchemaArgs(
                    name=USER_POOL_IDENTITY_ATTRIBUTE,
                    attribute_data_type="String",
                    mutable=False,
                    string_attribute_constraints=aws.cognito.UserPoolSchemaStringAttributeConstraintsArgs(min_length="1", max_length="128"),
                )
            ],
            tags=dict(self.args.tags) or None,
            opts=self._child,
        )
        client = aws.cognito.UserPoolClient(
            f"{name}-users-client",
            user_pool_id=pool.id,
            generate_secret=False,
            explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            read_attributes=list(USER_POOL_CLIENT_READ_ATTRIBUTES),
            write_attributes=list(USER_POOL_CLIENT_WRITE_ATTRIBUTES),
            opts=self._child,
        )
        for group in ("admin", "approver"):
            aws.cognito.UserGroup(f"{name}-users-{group}", user_pool_id=pool.id, name=group, opts=self._child)
        return pool, client


#: HTTP API access log line (JSON), one per request.
ACCESS_LOG_FORMAT: Mapping[str, str] = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "sub": "$context.authorizer.claims.sub",
}


@dataclass(frozen=True)
class _Reactor:
    """A projector or subscriber: rule, target, DLQ, function, permission, async config."""

    rule: aws.cloudwatch.EventRule
    target: aws.cloudwatch.EventTarget
    dlq: DeadLetterQueue
    function: FunctionParts
    permission: aws.lambda_.Permission
    invoke_config: aws.lambda_.FunctionEventInvokeConfig


@dataclass(frozen=True)
class _Api:
    """The HTTP API and what hangs off it."""

    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage
    authorizer: aws.apigatewayv2.Authorizer
    integrations: Mapping[str, aws.apigatewayv2.Integration]
    routes: Mapping[str, aws.apigatewayv2.Route]
    permissions: Mapping[str, aws.lambda_.Permission]
    access_logs: aws.cloudwatch.LogGroup
    commands: FunctionParts
    queries: FunctionParts
    issuer: pulumi.Output[str]
    user_pool: aws.cognito.UserPool | None
    user_pool_client: aws.cognito.UserPoolClient | None


def _slug(route_key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", route_key.lower()).strip("-")


def _check_detail_types(what: str, detail_types: Sequence[str]) -> None:
    if not detail_types:
        raise ValueError(f"{what}: detail_types must not be empty (a rule needs at least one)")
    if isinstance(detail_types, str):
        raise ValueError(f"{what}: detail_types must be a sequence of names, not one string")
    if len(set(detail_types)) != len(detail_types):
        raise ValueError(f"{what}: duplicate detail_types")
