"""EventSourcedService: one bounded context - event store, publisher, API, projections, subscriptions.

The service is composed of child components that are each usable alone (`EventPublisher`,
`HttpApi`, `Projection`, `Subscription`), all built with the service's one `ServiceDefaults`.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_aws as aws

from . import _kms, _reactor
from ._lambda import FunctionParts
from ._queues import DeadLetterQueue
from ._reactor import Reactor as _Reactor
from .api_destination import ApiDestination, ApiDestinationArgs, HttpDestinationSpec
from .defaults import DeliverySpec, FunctionSpec, ServiceDefaults
from .event_publisher import (
    PIPE_DETAIL_TYPE_PATH,
    PIPE_INPUT_TEMPLATE,
    PIPE_TIME_PATH,
    PUBLISHER_CODE,
    PUBLISHER_ENRICH_HANDLER,
    PUBLISHER_FILTER_PATTERN,
    PUBLISHER_HANDLER,
    PUBLISHER_MODULE,
    EventPublisher,
    EventPublisherArgs,
    PublisherKind,
    PublisherSpec,
    StartingPosition,
)
from .http_api import (
    ACCESS_LOG_FORMAT,
    IDENTITY_CLAIM_ENV,
    USER_POOL_CLIENT_READ_ATTRIBUTES,
    USER_POOL_CLIENT_WRITE_ATTRIBUTES,
    USER_POOL_IDENTITY_ATTRIBUTE,
    USER_POOL_IDENTITY_CLAIM,
    ApiSpec,
    HttpApi,
    HttpApiArgs,
    JwtAuthorizerSpec,
)
from .live_updates import LiveUpdates, LiveUpdatesArgs, LiveUpdatesSpec
from .projection import Projection, ProjectionArgs
from .refs import EventBusRef, JwtIssuerRef, KmsKeyRef, TableRef, bus_identifiers, resolve
from .retained_table import BackupPlan, RetainedTable, RetainedTableArgs
from .subscription import Subscription, SubscriptionArgs
from .workflow import EventStart, EventStop, LogLevel, ScheduleSpec, Workflow, WorkflowArgs

TYPE_TOKEN = "acme:events:EventSourcedService"

#: Names importable from here before the split into child components.
__all__ = [
    "ACCESS_LOG_FORMAT",
    "IDENTITY_CLAIM_ENV",
    "PIPE_DETAIL_TYPE_PATH",
    "PIPE_INPUT_TEMPLATE",
    "PIPE_TIME_PATH",
    "PUBLISHER_CODE",
    "PUBLISHER_ENRICH_HANDLER",
    "PUBLISHER_FILTER_PATTERN",
    "PUBLISHER_HANDLER",
    "PUBLISHER_MODULE",
    "USER_POOL_CLIENT_READ_ATTRIBUTES",
    "USER_POOL_CLIENT_WRITE_ATTRIBUTES",
    "USER_POOL_IDENTITY_ATTRIBUTE",
    "USER_POOL_IDENTITY_CLAIM",
    "ApiSpec",
    "DeliverySpec",
    "EventBusRef",
    "EventSourcedService",
    "EventSourcedServiceArgs",
    "FunctionSpec",
    "JwtAuthorizerSpec",
    "JwtIssuerRef",
    "LiveUpdatesSpec",
    "ProjectionSpec",
    "PublisherKind",
    "PublisherSpec",
    "ServiceDefaults",
    "StartingPosition",
    "SubscriptionSpec",
    "WorkflowSpec",
]

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,255}$")


@dataclass(frozen=True, kw_only=True)
class ProjectionSpec:
    """A read model of the service: table (`pk`/`sk`), rule on this service's `source` and
    `detail_types`, and the projector function (a `Projection` named `<service>-<name>`)."""

    name: str
    function: FunctionSpec
    detail_types: Sequence[str]
    blue_green: bool = False
    """A standby table and an active-table pointer, for rebuilds without downtime
    (`ProjectionArgs.blue_green`)."""
    live: bool = False
    """Its changes are pushed to WebSocket clients (`ProjectionArgs.live`; needs the service's
    `live`): the runtime projection names topics with `topics(event, changed)`."""


@dataclass(frozen=True, kw_only=True)
class SubscriptionSpec:
    """A reaction to events of (usually other) services: rule, DLQ and function (a
    `Subscription` named `<service>-<name>`)."""

    name: str
    function: FunctionSpec
    sources: Sequence[str]
    detail_types: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class WorkflowSpec:
    """A business process of the service (a `Workflow` named `<service>-<name>`): a Step
    Functions state machine running `definition`, its task `functions`, started by
    `schedules` and `starts`, stopped by `stops` (see `WorkflowArgs` for each field). The
    task functions get the data access and environment of the service's commands function
    (the Events table: read and append, events and idempotency records; with SERVICE_SOURCE,
    EVENTS_TABLE, IDENTITY_CLAIM) and read the read models (READ_MODEL_TABLE_<NAME>); the
    start/stop rules are on the service's bus."""

    name: str
    definition: Mapping[str, Any]
    functions: Mapping[str, FunctionSpec]
    schedules: Sequence[ScheduleSpec] = ()
    starts: Sequence[EventStart] = ()
    stops: Sequence[EventStop] = ()
    timeout_s: int | None = None
    log_level: LogLevel = LogLevel.ALL
    include_execution_data: bool = False


DRAFT4 = "http://json-schema.org/draft-04/schema#"


def check_event_schema(schema_name: str, schema: Mapping[str, Any], source: str) -> None:
    """ValueError unless `schema` is a draft-04 JSON Schema of the EventBridge event
    `schema_name` (``<source>@<detail-type>``, the source being `source` or its ``.live``)
    names: `properties.source` and `properties.detail-type` each a one-value `enum` of it."""
    event_source, _, detail_type = schema_name.partition("@")
    if event_source not in (source, f"{source}.live") or not detail_type:
        raise ValueError(f"event schema {schema_name!r}: name it '{source}@<detail-type>' (or '{source}.live@<detail-type>')")
    if not isinstance(schema, Mapping) or schema.get("$schema") != DRAFT4:
        raise ValueError(f'event schema {schema_name!r}: a JSON Schema object with "$schema": {DRAFT4!r}')
    properties = schema.get("properties") or {}
    for key, expected in (("source", event_source), ("detail-type", detail_type)):
        if (properties.get(key) or {}).get("enum") != [expected]:
            raise ValueError(f"event schema {schema_name!r}: properties.{key} must be {{'enum': [{expected!r}]}}")


@dataclass(frozen=True, kw_only=True)
class EventSourcedServiceArgs:
    """Arguments of `EventSourcedService`."""

    source: str
    """The service's EventBridge `source`, e.g. `acme.leave`."""
    bus: EventBusRef
    """The bus it publishes to and subscribes from: `shared_bus.ref`, or any `EventBusRef`
    (a `SharedEventBus` itself is accepted too)."""
    api: ApiSpec | None = None
    """Commands + queries; with it come the Events table and the publisher. None = a service
    that only reacts (subscriptions), which owns no event store."""
    projections: Sequence[ProjectionSpec] = ()
    subscriptions: Sequence[SubscriptionSpec] = ()
    workflows: Sequence[WorkflowSpec] = ()
    """Step Functions workflows of the service (need `api`: their tasks use the Events table)."""
    destinations: Sequence[HttpDestinationSpec] = ()
    """HTTP endpoints bus events are sent to through EventBridge API destinations, no Lambda
    in the path (an `ApiDestination` named `<service>-<name>` each: connection, rate limit,
    one rule per message kind with its input transformer, retry policy, DLQ)."""
    publisher: PublisherSpec = field(default_factory=PublisherSpec)
    delivery: DeliverySpec = field(default_factory=DeliverySpec)
    """Retries of every projection's and subscription's delivery."""
    defaults: ServiceDefaults = field(default_factory=ServiceDefaults)
    """Shared by every child: log retention, alarm actions, tags, KMS key (None = the service
    creates one, `kms_key`), aws_managed_keys, runtime."""
    events_table_backup: BackupPlan | None = None
    event_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The JSON Schemas (draft-04) of the events the service puts on the bus, by schema name
    ``<source>@<detail-type>`` (the service's source, or its ``.live`` notices' source), as
    `acme_eventsourcing.runtime.asyncapi.registry_schemas(document)` gives them from the
    service's AsyncAPI document: registered (`JSONSchemaDraft4`) in an EventBridge Schema
    Registry the service creates (`schema_registry`; the schemas: `event_schemas`), where
    consumers find them and generate code bindings. Empty (the default): no registry."""
    live: LiveUpdatesSpec | None = None
    """Live updates (`LiveUpdates` `<name>-live`: WebSocket API, connections table, notifier),
    for the projections declared `live`; needs `api` (its issuer, audiences and identity claim)."""

    def validate(self) -> None:
        """Raise ValueError for invalid or contradictory arguments (before anything is created)."""
        if not _SOURCE.match(self.source) or self.source.startswith("aws."):
            raise ValueError(f"source {self.source!r} must be lower-case dotted (e.g. 'acme.leave') and not start with 'aws.'")
        if self.api is None and self.projections:
            raise ValueError("projections need the Events table, which comes with api; give api or drop projections")
        if self.api is None and self.workflows:
            raise ValueError("workflows' tasks use the Events table, which comes with api; give api or drop workflows")
        if self.api is None and not self.subscriptions and not self.destinations:
            raise ValueError("nothing to build: give api, subscriptions and/or destinations")
        self.defaults.validate()
        names = [p.name for p in self.projections] + [s.name for s in self.subscriptions] + [w.name for w in self.workflows]
        names += [d.name for d in self.destinations]
        if len(set(names)) != len(names):
            raise ValueError(f"projection, subscription, workflow and destination names must be unique: {names}")
        for name in names:
            if not _NAME.match(name) or name in {"commands", "queries", "publisher", "events", "api", "users", "live"}:
                raise ValueError(f"name {name!r} must match {_NAME.pattern} and not be a reserved part name")
        for p in self.projections:
            p.function.validate(f"projection {p.name!r}")
            _reactor.check_detail_types(f"projection {p.name!r}", p.detail_types)
        for s in self.subscriptions:
            s.function.validate(f"subscription {s.name!r}")
            _reactor.check_detail_types(f"subscription {s.name!r}", s.detail_types)
            if isinstance(s.sources, str) or not s.sources or any(not _SOURCE.match(x) for x in s.sources):
                raise ValueError(f"subscription {s.name!r}: sources must be non-empty event sources")
        for w in self.workflows:
            self.workflow_args(w, EventBusRef.of(self.bus)).validate(f"workflow {w.name!r}")
        for d in self.destinations:
            d.validate()
        if self.api is not None:
            self.api.validate()
        live_projections = [p.name for p in self.projections if p.live]
        if self.live is not None:
            if self.api is None:
                raise ValueError("live updates check tokens against the HTTP API's issuer: give api or drop live")
            self.live.validate()
            if unknown := sorted(set(self.live.read_models) - {p.name for p in self.projections}):
                raise ValueError(f"live.read_models {unknown} name no projection of the service")
            if not live_projections:
                raise ValueError("live is set but no projection is declared live (ProjectionSpec.live=True)")
        elif live_projections:
            raise ValueError(f"projections {live_projections} are declared live but the service has no live (LiveUpdatesSpec)")
        self.publisher.validate()
        self.delivery.validate()
        for schema_name, schema in self.event_schemas.items():
            check_event_schema(schema_name, schema, self.source)

    def workflow_args(
        self,
        w: WorkflowSpec,
        bus: EventBusRef,
        *,
        defaults: ServiceDefaults | None = None,
        events_table: TableRef | None = None,
        read_models: Mapping[str, TableRef] | None = None,
    ) -> WorkflowArgs:
        """The `WorkflowArgs` of `w` in this service: its bus, delivery and defaults, the
        commands function's identity claim, and the given tables."""
        return WorkflowArgs(
            source=self.source,
            definition=w.definition,
            functions=w.functions,
            schedules=w.schedules,
            starts=w.starts,
            stops=w.stops,
            bus=bus if (w.starts or w.stops) else None,
            events_table=events_table,
            read_models=read_models or {},
            environment={IDENTITY_CLAIM_ENV: self.api.identity_claim} if self.api is not None else {},
            timeout_s=w.timeout_s,
            log_level=w.log_level,
            include_execution_data=w.include_execution_data,
            delivery=self.delivery,
            defaults=defaults or self.defaults,
        )


class EventSourcedService(pulumi.ComponentResource):
    """One bounded context on a shared bus, composed of child components.

    Children:
    - `kms_key`: the service's key (yearly rotation, retained; its policy lets CloudWatch Logs
      use it for the service's log groups and EventBridge for its DLQs), unless
      `defaults.kms_key` names one or `defaults.aws_managed_keys`;
    - `events_table`: a `RetainedTable` `<name>-events` (`stream_id` S hash, `version` N
      range, stream NEW_IMAGE, append-only resource policy, protect/retain/deletion
      protection/PITR/KMS), with `api`;
    - `event_publisher`: an `EventPublisher` `<name>-publisher` (a Lambda, or a Pipe with
      `publisher.kind="pipe"`), with `api`;
    - `projections[name]`: a `Projection` `<name>-<projection>` per `ProjectionSpec`
      (`pk`/`sk` `RetainedTable`, rule on this `source` and its detail types, DLQ, projector);
    - `subscriptions[name]`: a `Subscription` `<name>-<subscription>` per `SubscriptionSpec` (rule,
      DLQ, subscriber, `pk`/`sk` checkpoint `RetainedTable` `<name>-<subscription>-checkpoints`);
    - `workflows[name]`: a `Workflow` `<name>-<workflow>` per `WorkflowSpec` (state machine,
      task functions with the commands function's data access, schedules, start/stop rules);
    - `destinations[name]`: an `ApiDestination` `<name>-<destination>` per `HttpDestinationSpec`
      (connection, API destination, one rule per message kind, DLQ; no function);
    - `http_api`: an `HttpApi` `<name>` (JWT authorizer, Cognito pool unless `api.jwt`,
      `$default` stage, access logs, throttling), with `api`;
    - `live`: a `LiveUpdates` `<name>-live` (WebSocket API with a token-checking `$connect`
      authorizer, connections table, notifier on the projections' change notices), with `live`.

    Every child gets the same `defaults` (with the service's key): one role per function
    with only the data actions it needs on exact ARNs (no role gets UpdateItem/DeleteItem on
    the Events table), explicit memory/timeout, X-Ray, a log group kept
    `log_retention_days`, an Errors alarm per function and a depth alarm per queue, all sent
    to `alarm_actions`, and `tags` on every resource that takes tags.

    The children's resources were once the service's own: each carries an alias to the
    service, so a stack created before the split keeps every resource.

    Without `api` the service owns no Events table and no publisher (it only reacts).
    """

    api_url: pulumi.Output[str] | None
    """The HTTP API's endpoint (None without `api`)."""
    live_url: pulumi.Output[str] | None
    """Where WebSocket clients connect for live updates (`wss://.../<stage>`; None without `live`)."""
    events_table_name: pulumi.Output[str] | None
    """The Events table (None without `api`)."""
    events_table_arn: pulumi.Output[str] | None
    read_model_table_names: Mapping[str, pulumi.Output[str]]
    """Projection name -> read-model table."""
    function_names: Mapping[str, pulumi.Output[str]]
    """`publisher`, `publisher-enrich`, `commands`, `queries`, `<projection>-projector`,
    `<subscription>-subscriber`, `<workflow>-<task key>` and `<workflow>-trigger`."""
    dlq_urls: Mapping[str, pulumi.Output[str]]
    """`publisher`, one per projection, subscription and destination, and per workflow
    `<workflow>-schedule-<schedule>` and `<workflow>-trigger`."""
    state_machine_arns: Mapping[str, pulumi.Output[str]]
    """Workflow name -> its state machine's ARN."""
    state_machine_names: Mapping[str, pulumi.Output[str]]
    """Workflow name -> its state machine's name."""
    bus_name: pulumi.Output[str]
    bus_arn: pulumi.Output[str]
    user_pool_id: pulumi.Output[str] | None
    user_pool_client_id: pulumi.Output[str] | None
    jwt_issuer: pulumi.Output[str] | None
    kms_key_arn: pulumi.Output[str] | None
    """The key of the service's data (None with AWS-managed keys)."""
    operations: pulumi.Output[Any]
    """What the operations commands (`python -m acme_eventsourcing.ops`) need: `source`,
    `events_table`, and per projection its `table`, `standby_table` (blue/green, else None),
    `function`, `handler`, `timeout_s`, `dlq_url` and `detail_types`, per subscription its
    `function`, `handler`, `timeout_s`, `dlq_url`, `checkpoint_table`, `sources` and `detail_types`. Export it
    (`pulumi.export("operations", {"<service>": service.operations})`)."""

    def __init__(self, name: str, args: EventSourcedServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        args = replace(args, bus=EventBusRef.of(args.bus))
        args.validate()
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        defaults = args.defaults
        child = pulumi.ResourceOptions(parent=self)
        self.bus_name, self.bus_arn, _ = bus_identifiers(args.bus, name=f"{name}-bus", parent=self)
        bus = EventBusRef(bus_name=self.bus_name, bus_arn=self.bus_arn)

        self.kms_key: aws.kms.Key | None = None
        self.kms_key_arn = None
        if defaults.aws_managed_keys:
            pulumi.log.warn(
                f"{name}: aws_managed_keys=True - data at rest is encrypted with AWS-managed keys, not one you control", resource=self
            )
        elif defaults.kms_key is None:
            self.kms_key = _kms.service_key(
                f"{name}-key",
                opts=child,
                description=f"{args.source}: tables, queues, log groups and function environments",
                log_group_prefixes=[
                    f"/aws/lambda/{name}-",
                    f"/aws/vendedlogs/apigateway/{name}-api-",
                    f"/aws/vendedlogs/pipes/{name}-publisher-",
                    *([f"/aws/vendedlogs/states/{name}-"] if args.workflows else []),
                    *([f"/aws/vendedlogs/apigateway/{name}-live-api-"] if args.live else []),
                ],
                rule_arn_patterns=[_reactor.rule_arn_pattern(self.bus_arn, name)]
                if args.projections or args.subscriptions or args.destinations or any(w.starts or w.stops for w in args.workflows)
                else [],
                tags=defaults.tags,
            )
            self.kms_key_arn = self.kms_key.arn
        else:
            key, _ = resolve(defaults.kms_key, name=f"{name}-key", parent=self)
            self.kms_key_arn = pulumi.Output.from_input(key.key_arn)  # type: ignore[arg-type]
        # every child uses the service's key (or the AWS-managed keys): none creates its own
        shared = defaults if self.kms_key_arn is None else replace(defaults, kms_key=KmsKeyRef(key_arn=self.kms_key_arn))

        self.events_table: RetainedTable | None = None
        self.event_publisher: EventPublisher | None = None
        events_ref: TableRef | None = None
        if args.api is not None:
            self.events_table = RetainedTable(
                f"{name}-events",
                RetainedTableArgs(
                    hash_key="stream_id",
                    range_key="version",
                    range_key_type="N",
                    stream_view_type="NEW_IMAGE",
                    append_only=True,
                    kms_key=None if self.kms_key_arn is None else KmsKeyRef(key_arn=self.kms_key_arn),
                    aws_managed_key=defaults.aws_managed_keys,
                    backup=args.events_table_backup,
                    tags=defaults.tags,
                ),
                opts=child,
            )
            events_ref = self.events_table.ref
            self.event_publisher = EventPublisher(
                f"{name}-publisher",
                EventPublisherArgs(source=args.source, bus=bus, events_table=events_ref, publisher=args.publisher, defaults=shared),
                opts=child,
                former_parent=self,
            )
        self.projections: dict[str, Projection] = {}
        for p in args.projections:
            assert events_ref is not None
            self.projections[p.name] = Projection(
                f"{name}-{p.name}",
                ProjectionArgs(
                    source=args.source,
                    bus=bus,
                    events_table=events_ref,
                    function=p.function,
                    detail_types=p.detail_types,
                    delivery=args.delivery,
                    defaults=shared,
                    blue_green=p.blue_green,
                    live=p.live,
                ),
                opts=child,
                former_parent=self,
                label=p.name,
            )
        self.subscriptions: dict[str, Subscription] = {}
        for s in args.subscriptions:
            self.subscriptions[s.name] = Subscription(
                f"{name}-{s.name}",
                SubscriptionArgs(
                    source=args.source,
                    bus=bus,
                    function=s.function,
                    sources=s.sources,
                    detail_types=s.detail_types,
                    delivery=args.delivery,
                    defaults=shared,
                ),
                opts=child,
                former_parent=self,
                label=s.name,
            )
        self.destinations: dict[str, ApiDestination] = {}
        for d in args.destinations:
            self.destinations[d.name] = ApiDestination(
                f"{name}-{d.name}",
                ApiDestinationArgs(source=args.source, bus=bus, destination=d, defaults=shared),
                opts=child,
                label=d.name,
            )
        self.http_api: HttpApi | None = None
        if args.api is not None:
            assert events_ref is not None
            self.http_api = HttpApi(
                name,
                HttpApiArgs(
                    source=args.source,
                    api=args.api,
                    events_table=events_ref,
                    read_models={n: p.table.ref for n, p in self.projections.items()},
                    read_model_standbys={n: p.standby_table.ref for n, p in self.projections.items() if p.standby_table},
                    defaults=shared,
                ),
                opts=child,
                former_parent=self,
            )
        self.workflows: dict[str, Workflow] = {}
        for w in args.workflows:
            self.workflows[w.name] = Workflow(
                f"{name}-{w.name}",
                args.workflow_args(
                    w, bus, defaults=shared, events_table=events_ref, read_models={n: p.table.ref for n, p in self.projections.items()}
                ),
                opts=child,
                label=w.name,
            )

        self.schema_registry: aws.schemas.Registry | None = None
        self.event_schemas: dict[str, aws.schemas.Schema] = {}
        if args.event_schemas:
            self.schema_registry = aws.schemas.Registry(
                f"{name}-events",
                description=f"The events {args.source} puts on the bus (generated from its event classes)",
                tags=defaults.tags or None,
                opts=child,
            )
            for schema_name, schema in args.event_schemas.items():
                self.event_schemas[schema_name] = aws.schemas.Schema(
                    f"{name}-{schema_name.replace('@', '-')}",
                    name=schema_name,
                    registry_name=self.schema_registry.name,
                    type="JSONSchemaDraft4",
                    content=json.dumps(schema, sort_keys=True),
                    description=str(schema.get("description") or schema_name)[:256],
                    tags=defaults.tags or None,
                    opts=child,
                )
        self.schema_registry_name = self.schema_registry.name if self.schema_registry else None
        self.live: LiveUpdates | None = None
        if args.live is not None and self.http_api is not None:
            self.live = LiveUpdates(
                f"{name}-live",
                LiveUpdatesArgs(
                    source=args.source,
                    bus=bus,
                    jwt_issuer=self.http_api.jwt_issuer,
                    audiences=self.http_api.jwt_audiences,
                    identity_claim=args.api.identity_claim,  # type: ignore[union-attr]
                    spec=args.live,
                    read_models={n: self.projections[n].table.ref for n in args.live.read_models},
                    read_model_standbys={n: t.ref for n in args.live.read_models if (t := self.projections[n].standby_table) is not None},
                    delivery=args.delivery,
                    defaults=shared,
                ),
                opts=child,
                label="live",
            )

        self.api_url = self.http_api.api_url if self.http_api else None
        self.live_url = self.live.url if self.live else None
        self.events_table_name = self.events_table.table_name if self.events_table else None
        self.events_table_arn = self.events_table.table_arn if self.events_table else None
        self.read_model_table_names = {n: t.table_name for n, t in self.read_models.items()}
        self.function_names = {k: f.function.name for k, f in self._functions().items()}
        self.dlq_urls = {k: q.queue.url for k, q in self._queues().items()}
        self.state_machine_arns = {n: w.state_machine_arn for n, w in self.workflows.items()}
        self.state_machine_names = {n: w.state_machine_name for n, w in self.workflows.items()}
        self.user_pool_id = self.http_api.user_pool_id if self.http_api else None
        self.user_pool_client_id = self.http_api.user_pool_client_id if self.http_api else None
        self.jwt_issuer = self.http_api.jwt_issuer if self.http_api else None
        self.identity_claim: str | None = args.api.identity_claim if args.api else None
        self.operations = self._operations()
        self.register_outputs(
            {
                "api_url": self.api_url,
                "live_url": self.live_url,
                "events_table_name": self.events_table_name,
                "events_table_arn": self.events_table_arn,
                "read_model_table_names": self.read_model_table_names,
                "function_names": self.function_names,
                "dlq_urls": self.dlq_urls,
                "state_machine_arns": self.state_machine_arns,
                "state_machine_names": self.state_machine_names,
                "bus_name": self.bus_name,
                "bus_arn": self.bus_arn,
                "user_pool_id": self.user_pool_id,
                "user_pool_client_id": self.user_pool_client_id,
                "jwt_issuer": self.jwt_issuer,
                "identity_claim": self.identity_claim,
                "kms_key_arn": self.kms_key_arn,
                "operations": self.operations,
                "schema_registry_name": self.schema_registry_name,
            }
        )

    def _operations(self) -> pulumi.Output[Any]:
        """What `python -m acme_eventsourcing.ops` needs of this service (see `operations`)."""

        def function(spec: FunctionSpec) -> dict[str, Any]:
            return {"handler": spec.handler, "timeout_s": spec.timeout_s}

        return pulumi.Output.from_input(
            {
                "source": self.args.source,
                "events_table": self.events_table_name,
                "projections": {
                    n: {
                        "table": p.table_name,
                        "standby_table": p.standby_table_name,
                        "function": p.function_name,
                        **function(p.args.function),
                        "dlq_url": p.dlq_url,
                        "detail_types": list(p.args.detail_types),
                    }
                    for n, p in self.projections.items()
                },
                "subscriptions": {
                    n: {
                        "function": s.function_name,
                        **function(s.args.function),
                        "dlq_url": s.dlq_url,
                        "checkpoint_table": s.checkpoint_table_name,
                        "sources": list(s.args.sources),
                        "detail_types": list(s.args.detail_types),
                    }
                    for n, s in self.subscriptions.items()
                },
                "destinations": {
                    n: {"dlq_url": d.dlq_url, "endpoint": d.args.destination.endpoint, "rules": d.rule_names}
                    for n, d in self.destinations.items()
                },
            }
        )

    # ------------------------------------------------------------------ the children's parts
    @property
    def api(self) -> HttpApi | None:
        """The `HttpApi` child (None without `api`)."""
        return self.http_api

    @property
    def read_models(self) -> dict[str, RetainedTable]:
        """Projection name -> its read-model table."""
        return {n: p.table for n, p in self.projections.items()}

    @property
    def projectors(self) -> dict[str, _Reactor]:
        return {n: p.reactor for n, p in self.projections.items()}

    @property
    def subscribers(self) -> dict[str, _Reactor]:
        return {n: s.reactor for n, s in self.subscriptions.items()}

    @property
    def publisher(self) -> FunctionParts | None:
        """The Lambda publisher's function (None for a Pipe)."""
        return self.event_publisher.function if self.event_publisher else None

    @property
    def publisher_enrichment(self) -> FunctionParts | None:
        return self.event_publisher.enrichment if self.event_publisher else None

    @property
    def publisher_dlq(self) -> DeadLetterQueue | None:
        return self.event_publisher.dlq if self.event_publisher else None

    @property
    def publisher_role(self) -> aws.iam.Role | None:
        return self.event_publisher.role if self.event_publisher else None

    @property
    def publisher_mapping(self) -> aws.lambda_.EventSourceMapping | None:
        return self.event_publisher.mapping if self.event_publisher else None

    @property
    def publisher_pipe(self) -> "aws.pipes.Pipe | None":  # quoted: importing aws.pipes costs ~0.1 s, and a Lambda publisher never needs it
        return self.event_publisher.pipe if self.event_publisher else None

    def _functions(self) -> dict[str, FunctionParts]:
        out: dict[str, FunctionParts] = {}
        if self.publisher:
            out["publisher"] = self.publisher
        if self.publisher_enrichment:
            out["publisher-enrich"] = self.publisher_enrichment
        if self.http_api:
            out["commands"], out["queries"] = self.http_api.commands, self.http_api.queries
        out.update({f"{n}-projector": r.function for n, r in self.projectors.items()})
        out.update({f"{n}-subscriber": r.function for n, r in self.subscribers.items()})
        for n, w in self.workflows.items():
            out.update({f"{n}-{k}": f for k, f in w.functions.items()})
            if w.trigger is not None:
                out[f"{n}-trigger"] = w.trigger.function
        if self.live is not None:
            out.update({f"live-{k}": f for k, f in self.live.functions.items()})
        return out

    def _queues(self) -> dict[str, DeadLetterQueue]:
        out: dict[str, DeadLetterQueue] = {}
        if self.publisher_dlq:
            out["publisher"] = self.publisher_dlq
        out.update({n: r.dlq for n, r in self.projectors.items()})
        out.update({n: r.dlq for n, r in self.subscribers.items()})
        out.update({n: d.dlq for n, d in self.destinations.items()})
        for n, w in self.workflows.items():
            out.update({f"{n}-schedule-{s}": x.dlq for s, x in w.schedules.items()})
            if w.trigger is not None:
                out[f"{n}-trigger"] = w.trigger.dlq
        if self.live is not None:
            out["live"] = self.live.reactor.dlq
        return out
