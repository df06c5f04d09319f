"""LiveUpdates: push "a view you may read changed" to WebSocket clients (API Gateway WebSocket API).

Why an API Gateway WebSocket API rather than AppSync (seed 001 names AppSync): the same
service family and issuer as the HTTP API (one Cognito pool or external issuer, one access-log
and throttling model, one set of policy rules), no GraphQL schema to keep in step with the
read models (a message only names what changed; clients read the view through the HTTP API,
under its authorisation), and cost: $1 per million messages and $0.25 per million
connection-minutes, nothing while idle, against AppSync's real-time updates billed per
message and connection-minute on top of a GraphQL API that would duplicate the HTTP one.
See docs/live-updates.md.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from . import _apigw, _iam, _lambda, _reactor
from ._lambda import FunctionParts
from .defaults import ChildScope, DeliverySpec, FunctionSpec, ServiceDefaults
from .refs import EventBusRef, KmsKeyRef, TableRef, bus_identifiers, resolve
from .retained_table import RetainedTable, RetainedTableArgs
from .runtime.live_messages import READ_MODEL_CHANGED, live_source

TYPE_TOKEN = "acme:events:LiveUpdates"
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,255}$")
_STAGE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CLAIM = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,127}$")

#: The runtime module and entry points the component deploys from this library.
RUNTIME_MODULE = "acme_eventsourcing.runtime.live"
CONNECT_HANDLER = f"{RUNTIME_MODULE}.connect_handler"
DISCONNECT_HANDLER = f"{RUNTIME_MODULE}.disconnect_handler"
NOTIFIER_HANDLER = f"{RUNTIME_MODULE}.notifier_handler"
#: The TTL attribute of the connections table's items.
TTL_ATTRIBUTE = "expires_at"
#: Where the authorizer reads the token (`wss://.../<stage>?token=<JWT>`).
TOKEN_IDENTITY_SOURCE = "route.request.querystring.token"
#: WebSocket access log line (JSON), one per connect, message and disconnect.
ACCESS_LOG_FORMAT: Mapping[str, str] = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "eventType": "$context.eventType",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "connectionId": "$context.connectionId",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "principal": "$context.authorizer.principalId",
}


@dataclass(frozen=True, kw_only=True)
class LiveUpdatesSpec:
    """Live updates of a service (`EventSourcedServiceArgs.live`): who hears what is product code.

    `authorizer` is the `$connect` authorizer function, in the product's code: its module
    declares `handler = live.authorizer_handler(topics=...)` (or `build_topics=...`), with
    the product's rule of which topics an identity may hear (`acme_eventsourcing.runtime.live`).
    It may read the read models named in `read_models` (READ_MODEL_TABLE_<NAME>), nothing else.
    Tokens are checked against the HTTP API's issuer and audiences and identified by its
    identity claim."""

    authorizer: FunctionSpec
    read_models: Sequence[str] = ()
    """Projections whose tables the authorizer reads to compute topics (read-only)."""
    stage_name: str = "live"
    throttling_burst_limit: int = 50
    throttling_rate_limit: float = 20.0
    notifier_memory_mb: int = 256
    notifier_timeout_s: int = 30

    def validate(self, what: str = "live") -> None:
        self.authorizer.validate(f"{what}.authorizer", max_timeout_s=29)
        if not _STAGE.match(self.stage_name) or self.stage_name == "$default":
            raise ValueError(f"{what}.stage_name {self.stage_name!r} must be letters, digits, '-' or '_'")
        if self.throttling_burst_limit < 1 or self.throttling_rate_limit <= 0:
            raise ValueError(f"{what}: throttling limits must be positive")
        if not 128 <= self.notifier_memory_mb <= 10240 or not 1 <= self.notifier_timeout_s <= 900:
            raise ValueError(f"{what}: notifier memory 128..10240 MB and timeout 1..900 s")
        if isinstance(self.read_models, str):
            raise ValueError(f"{what}.read_models must be a sequence of projection names, not one string")


@dataclass(frozen=True, kw_only=True)
class LiveUpdatesArgs:
    """Arguments of `LiveUpdates`."""

    source: str
    """The service whose change notices it relays (its rule matches `<source>.live`)."""
    bus: EventBusRef
    """The bus the notices are on."""
    jwt_issuer: pulumi.Input[str]
    """The issuer whose tokens may connect (the HTTP API's)."""
    audiences: Sequence[pulumi.Input[str]]
    """The audiences (or Cognito client ids) a token may be for."""
    identity_claim: str
    """The claim that identifies the caller (the HTTP API's `identity_claim`)."""
    spec: LiveUpdatesSpec
    read_models: Mapping[str, TableRef] = field(default_factory=dict)
    """The tables of `spec.read_models`, by projection name."""
    read_model_standbys: Mapping[str, TableRef] = field(default_factory=dict)
    """The standby tables of blue/green ones among them (the reader follows the active-table pointer)."""
    delivery: DeliverySpec = field(default_factory=DeliverySpec)
    defaults: ServiceDefaults = field(default_factory=ServiceDefaults)

    def validate(self, what: str = "live updates") -> None:
        if not _SOURCE.match(self.source):
            raise ValueError(f"{what}: source {self.source!r} is not an event source")
        self.bus.validate()
        self.spec.validate()
        if not self.audiences:
            raise ValueError(f"{what}: audiences must not be empty")
        if not _CLAIM.match(self.identity_claim):
            raise ValueError(f"{what}: identity_claim {self.identity_claim!r} is not a claim name")
        if missing := sorted(set(self.spec.read_models) - set(self.read_models)):
            raise ValueError(f"{what}: read models {missing} are named by the spec but not given")
        for table in self.read_models.values():
            table.validate()
        self.delivery.validate()
        self.defaults.validate()


class LiveUpdates(pulumi.ComponentResource):
    """Live updates over an API Gateway WebSocket API, for one service. Children, named `name-*`:

    - `<name>-connections`: a `RetainedTable` (`pk`/`sk`, KMS, TTL on `expires_at`, tag
      the functions name it in `CONNECTIONS_TABLE`): `topic#<topic>`/`<connection id>` items the notifier Queries, and a
      `connection#<id>`/`connection` item per connection for `$disconnect`;
    - `<name>-api`: the WebSocket API (route selection `$request.body.action`) with routes
      `$connect` (CUSTOM: the REQUEST authorizer `<name>-api-authorizer`, identity source
      `route.request.querystring.token`), `$disconnect` and `$default` (answers
      `{"action": "ping"}`), stage `<name>-api-stage` (`spec.stage_name`, auto-deploy, JSON
      access logs to `<name>-api-access-logs`, throttling);
    - functions (own role, log group, Errors alarm each): `<name>-authorizer` (the product's
      `spec.authorizer`; reads `spec.read_models` only), `<name>-connect` (`$connect`,
      `$default`; PutItem on the table), `<name>-disconnect` (GetItem, DeleteItem),
      `<name>-notifier` (Query, DeleteItem; `execute-api:ManageConnections` on this stage's
      `POST/@connections/*` only);
    - the notifier's rule `<name>-rule` (source `<source>.live`, detail-type `ReadModelChanged`),
      target with retries and DLQ `<name>-dlq` (depth alarm), asynchronous retries to it;
    - alarms `<name>-notifier-throttles` (notifier throttled) besides the Errors and depth ones.

    Environment: authorizer `JWT_ISSUER`, `JWT_AUDIENCES` (comma-separated), `IDENTITY_CLAIM`,
    `READ_MODEL_TABLE_<NAME>`; connect/disconnect `CONNECTIONS_TABLE`; notifier
    `CONNECTIONS_TABLE`, `CONNECTIONS_ENDPOINT` (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`).

    Outputs: `url` (`wss://{api}.execute-api.{region}.amazonaws.com/{stage}`; clients add
    `?token=<JWT>`), `connections_endpoint`, `table_name`, `api_id`, `function_names`, `dlq_url`.
    """

    url: pulumi.Output[str]
    """Where clients connect (`?token=<JWT>` appended)."""
    connections_endpoint: pulumi.Output[str]
    """The management API endpoint the notifier posts to."""
    table_name: pulumi.Output[str]
    api_id: pulumi.Output[str]
    function_names: Mapping[str, pulumi.Output[str]]
    """`authorizer`, `connect`, `disconnect`, `notifier`."""
    dlq_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: LiveUpdatesArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        label: str | None = None,
    ) -> None:
        args.validate(f"live updates {label or name!r}")
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        spec = args.spec
        bus_name, bus_arn, _ = bus_identifiers(args.bus, name=f"{name}-bus", parent=self)
        scope = ChildScope(
            self,
            name,
            args.defaults,
            former_parent=None,
            key_description=f"{args.source}: live updates",
            log_group_prefixes=[f"/aws/lambda/{name}-", f"/aws/vendedlogs/apigateway/{name}-api-"],
            rule_arn_patterns=[_reactor.rule_arn_pattern(bus_arn, name)],  # type: ignore[arg-type]
        )
        self.kms_key = scope.kms_key
        self.table = RetainedTable(
            f"{name}-connections",
            RetainedTableArgs(
                hash_key="pk",
                range_key="sk",
                ttl_attribute=TTL_ATTRIBUTE,
                kms_key=None if scope.kms_key_arn is None else KmsKeyRef(key_arn=scope.kms_key_arn),
                aws_managed_key=args.defaults.aws_managed_keys,
                tags=args.defaults.tags,
            ),
            opts=scope.opts,
        )
        table_env = {"CONNECTIONS_TABLE": self.table.table_name}
        self.api = aws.apigatewayv2.Api(
            f"{name}-api",
            protocol_type="WEBSOCKET",
            route_selection_expression="$request.body.action",
            description=f"{args.source} live updates",
            tags=scope.tags,
            opts=scope.opts,
        )
        read_models = {n: resolve(t, name=f"{name}-{n}", parent=self)[0] for n, t in args.read_models.items() if n in spec.read_models}
        standbys = [
            resolve(t, name=f"{name}-{n}-standby", parent=self)[0] for n, t in args.read_model_standbys.items() if n in spec.read_models
        ]
        readable = [t.table_arn for t in [*read_models.values(), *standbys]]
        self.authorizer_function: FunctionParts = scope.function(
            f"{name}-authorizer",
            spec.authorizer,
            [_iam.statement("ReadReadModelsForTopics", ["dynamodb:GetItem", "dynamodb:Query"], readable)] if readable else [],  # type: ignore[arg-type]
            {
                "SERVICE_SOURCE": args.source,
                "JWT_ISSUER": args.jwt_issuer,
                "JWT_AUDIENCES": pulumi.Output.all(*args.audiences).apply(lambda a: ",".join(a)),
                "IDENTITY_CLAIM": args.identity_claim,
                **{f"READ_MODEL_TABLE_{n.upper().replace('-', '_')}": t.table_name for n, t in read_models.items()},  # type: ignore[misc]
            },
            writes=False,
        )
        self.connect_function = scope.library_function(
            f"{name}-connect",
            handler=CONNECT_HANDLER,
            code=_lambda.library_code(RUNTIME_MODULE),
            memory_mb=256,
            timeout_s=10,
            environment=table_env,
            statements=[_iam.statement("RecordConnections", ["dynamodb:PutItem"], [self.table.table_arn])],
            writes=True,
        )
        self.disconnect_function = scope.library_function(
            f"{name}-disconnect",
            handler=DISCONNECT_HANDLER,
            code=_lambda.library_code(RUNTIME_MODULE),
            memory_mb=256,
            timeout_s=10,
            environment=table_env,
            statements=[_iam.statement("ForgetConnections", ["dynamodb:GetItem", "dynamodb:DeleteItem"], [self.table.table_arn])],
            writes=True,
        )
        self.authorizer = aws.apigatewayv2.Authorizer(
            f"{name}-api-authorizer",
            api_id=self.api.id,
            authorizer_type="REQUEST",
            authorizer_uri=self.authorizer_function.function.invoke_arn,
            identity_sources=[TOKEN_IDENTITY_SOURCE],
            name=f"{name}-token",
            opts=scope.opts,
        )
        self.permissions: dict[str, aws.lambda_.Permission] = {
            "authorizer": aws.lambda_.Permission(
                f"{name}-authorizer-invoke",
                action="lambda:InvokeFunction",
                function=self.authorizer_function.function.name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/authorizers/", self.authorizer.id),
                opts=scope.opts,
            )
        }
        self.integrations: dict[str, aws.apigatewayv2.Integration] = {}
        self.routes: dict[str, aws.apigatewayv2.Route] = {}
        for route, part, parts in (
            ("$connect", "connect", self.connect_function),
            ("$disconnect", "disconnect", self.disconnect_function),
            ("$default", "default", self.connect_function),
        ):
            integration = self.integrations[route] = aws.apigatewayv2.Integration(
                f"{name}-api-{part}",
                api_id=self.api.id,
                integration_type="AWS_PROXY",
                integration_method="POST",
                integration_uri=parts.function.invoke_arn,
                opts=scope.opts,
            )
            self.permissions[part] = aws.lambda_.Permission(
                f"{name}-api-{part}-invoke",
                action="lambda:InvokeFunction",
                function=parts.function.name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/", route),
                opts=scope.opts,
            )
            connect = route == "$connect"
            self.routes[route] = aws.apigatewayv2.Route(
                f"{name}-route-{part}",
                api_id=self.api.id,
                route_key=route,
                target=pulumi.Output.concat("integrations/", integration.id),
                # API Gateway authorizes a WebSocket once, at $connect; other routes run on that connection
                authorization_type="CUSTOM" if connect else "NONE",
                authorizer_id=self.authorizer.id if connect else None,
                route_response_selection_expression="$default" if route == "$default" else None,
                opts=scope.opts,
            )
        # the $default function's answer (a pong) goes back to the client
        self.default_response = aws.apigatewayv2.RouteResponse(
            f"{name}-route-default-response",
            api_id=self.api.id,
            route_id=self.routes["$default"].id,
            route_response_key="$default",
            opts=scope.opts,
        )
        self.access_logs, self.stage = _apigw.logged_stage(
            scope,
            name,
            api_id=self.api.id,
            stage_name=spec.stage_name,
            log_format=ACCESS_LOG_FORMAT,
            log_retention_days=args.defaults.log_retention_days,
            throttling_burst_limit=spec.throttling_burst_limit,
            throttling_rate_limit=spec.throttling_rate_limit,
            depends_on=[*self.routes.values(), self.default_response],
        )
        host = self.api.api_endpoint.apply(lambda e: e.split("://", 1)[-1])
        self.url = pulumi.Output.concat("wss://", host, "/", self.stage.name)
        self.connections_endpoint = pulumi.Output.concat("https://", host, "/", self.stage.name)
        manage = pulumi.Output.concat(self.api.execution_arn, "/", self.stage.name, "/POST/@connections/*")
        self.reactor = _reactor.build(
            scope,
            name,
            part="notifier",
            label=label or name,
            source=args.source,
            bus_name=bus_name,
            spec=_reactor.LibraryFunction(handler=NOTIFIER_HANDLER, memory_mb=spec.notifier_memory_mb, timeout_s=spec.notifier_timeout_s),
            delivery=args.delivery,
            pattern={"source": [live_source(args.source)], "detail-type": [READ_MODEL_CHANGED]},
            statements=[
                _iam.statement("FindAndForgetConnections", ["dynamodb:Query", "dynamodb:DeleteItem"], [self.table.table_arn]),
                _iam.statement("PostToThisApisConnections", ["execute-api:ManageConnections"], [manage]),
            ],
            environment={**table_env, "CONNECTIONS_ENDPOINT": self.connections_endpoint},
        )
        self.notifier = self.reactor.function
        self.throttles_alarm = scope.alarm(
            f"{name}-notifier-throttles",
            description=f"{name}-notifier was throttled: clients get their messages late",
            namespace="AWS/Lambda",
            metric_name="Throttles",
            dimensions={"FunctionName": self.notifier.function.name},
            statistic="Sum",
            threshold=0,
        )
        self.table_name = self.table.table_name
        self.api_id = self.api.id
        self.function_names = {
            "authorizer": self.authorizer_function.function.name,
            "connect": self.connect_function.function.name,
            "disconnect": self.disconnect_function.function.name,
            "notifier": self.notifier.function.name,
        }
        self.dlq_url = self.reactor.dlq.queue.url
        self.register_outputs(
            {
                "url": self.url,
                "connections_endpoint": self.connections_endpoint,
                "table_name": self.table_name,
                "api_id": self.api_id,
                "function_names": self.function_names,
                "dlq_url": self.dlq_url,
            }
        )

    @property
    def functions(self) -> dict[str, FunctionParts]:
        """`authorizer`, `connect`, `disconnect`, `notifier`."""
        return {
            "authorizer": self.authorizer_function,
            "connect": self.connect_function,
            "disconnect": self.disconnect_function,
            "notifier": self.notifier,
        }
