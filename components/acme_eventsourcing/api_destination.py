"""ApiDestination: bus events to an HTTP endpoint through an EventBridge API destination.

No Lambda in the path: per message kind a rule on the bus, whose target is the API
destination; the target's input transformer builds the HTTP body from the event, its retry
policy and dead-letter queue keep what the endpoint would not take. The connection holds the
credentials (EventBridge keeps them in a Secrets Manager secret it manages); they come from a
Pulumi secret and appear in no output.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws

from . import _iam, _queues, _reactor
from .defaults import ChildScope, ServiceDefaults
from .refs import EventBusRef, bus_identifiers

TYPE_TOKEN = "acme:events:ApiDestination"

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,255}$")
_VARIABLE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")
#: Variables EventBridge defines in every input template (they cannot be redefined).
RESERVED_VARIABLES = frozenset(
    {"aws.events.rule-arn", "aws.events.rule-name", "aws.events.event.ingestion-time", "aws.events.event", "aws.events.event.json"}
)
HTTP_METHODS = ("POST", "PUT", "PATCH", "GET", "DELETE", "HEAD", "OPTIONS")


def _is_plain(value: Any) -> bool:
    """A credential given as a plain string (not a Pulumi secret output)."""
    return isinstance(value, str)


@dataclass(frozen=True, kw_only=True)
class ApiKeyAuth:
    """API_KEY: every request carries the header `header: value` (e.g. `Authorization` /
    `Bearer xoxb-...`). `value` must be a Pulumi secret (`config.require_secret(...)`)."""

    header: str
    value: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class BasicAuth:
    """BASIC: `Authorization: Basic base64(username:password)`; `password` a Pulumi secret."""

    username: str
    password: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class OAuthClientCredentialsAuth:
    """OAUTH_CLIENT_CREDENTIALS: EventBridge fetches a token from `authorization_endpoint`
    with the client credentials (and `body_parameters`, e.g. `{"scope": "..."}`), caches it,
    and sends it as a bearer token; `client_secret` a Pulumi secret."""

    authorization_endpoint: str
    client_id: str
    client_secret: pulumi.Input[str]
    http_method: str = "POST"
    body_parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ConnectionAuth:
    """How the connection authenticates: exactly one of `api_key`, `basic`, `oauth`."""

    api_key: ApiKeyAuth | None = None
    basic: BasicAuth | None = None
    oauth: OAuthClientCredentialsAuth | None = None

    @property
    def chosen(self) -> "ApiKeyAuth | BasicAuth | OAuthClientCredentialsAuth":
        given = [a for a in (self.api_key, self.basic, self.oauth) if a is not None]
        if len(given) != 1:
            raise ValueError("ConnectionAuth: give exactly one of api_key, basic, oauth")
        return given[0]


@dataclass(frozen=True, kw_only=True)
class MessageSpec:
    """One kind of message: a rule for `sources` x `detail_types` (optionally narrowed by
    `detail_pattern`, an event-pattern fragment on `detail`), and the body EventBridge sends:
    `input_template` with `<variable>` placeholders, each variable a JSON path of the event in
    `input_paths` (EventBridge's input transformer rules: a placeholder outside quotes is
    replaced by the value as JSON; inside a JSON string by the value's text, NOT escaped; a
    path the event lacks gives nothing). Put free text (a user's note) outside quotes only."""

    name: str
    sources: Sequence[str]
    detail_types: Sequence[str]
    input_paths: Mapping[str, str]
    input_template: str
    detail_pattern: Mapping[str, Any] | None = None

    def validate(self, what: str) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"{what}: message name {self.name!r} must match {_NAME.pattern}")
        _reactor.check_detail_types(f"{what}: message {self.name!r}", self.detail_types)
        if isinstance(self.sources, str) or not self.sources or any(not _SOURCE.match(s) for s in self.sources):
            raise ValueError(f"{what}: message {self.name!r}: sources must be non-empty event sources")
        if len(self.input_paths) > 100:
            raise ValueError(f"{what}: message {self.name!r}: at most 100 input paths")
        for variable, path in self.input_paths.items():
            if not _VARIABLE.match(variable) or variable in RESERVED_VARIABLES:
                raise ValueError(f"{what}: message {self.name!r}: input path variable {variable!r} is not a valid, unreserved name")
            if not isinstance(path, str) or not path.startswith("$"):
                raise ValueError(f"{what}: message {self.name!r}: input path {variable!r} = {path!r} is not a JSON path ($.a.b)")
        if not self.input_template or len(self.input_template) > 8192:
            raise ValueError(f"{what}: message {self.name!r}: input_template must be 1..8192 characters")
        unknown = {p for p in _PLACEHOLDER.findall(self.input_template)} - set(self.input_paths) - RESERVED_VARIABLES
        if unknown:
            raise ValueError(f"{what}: message {self.name!r}: the template uses undefined variables {sorted(unknown)}")


@dataclass(frozen=True, kw_only=True)
class HttpDestinationSpec:
    """An HTTP endpoint that bus events are sent to (an `ApiDestination` named
    `<service>-<name>` in a service).

    The endpoint is NOT a secret (it shows in the console, the state and `describe` calls):
    credentials belong in `auth`. EventBridge sends at most `invocation_rate_limit_per_second`
    requests per second (events above it wait, within the retry policy), waits at most 5 s
    for an answer, retries 401, 407, 409, 429 and 5xx answers and network errors, and sends
    to the DLQ what still fails after `maximum_retry_attempts` or `maximum_event_age_in_seconds`,
    and at once what another 4xx refused. A 2xx answer is delivered, whatever its body says."""

    name: str
    endpoint: str
    auth: ConnectionAuth
    messages: Sequence[MessageSpec]
    method: str = "POST"
    invocation_rate_limit_per_second: int = 1
    maximum_retry_attempts: int = 10
    maximum_event_age_in_seconds: int = 3600
    header_parameters: Mapping[str, str] = field(default_factory=dict)
    """Extra request headers: literal values, or JSON paths of the event (`$.id`)."""

    def validate(self, what: str = "destination") -> None:
        what = f"{what} {self.name!r}"
        if not _NAME.match(self.name):
            raise ValueError(f"{what}: name must match {_NAME.pattern}")
        url = urlsplit(self.endpoint)
        if url.scheme != "https" or not url.hostname:
            raise ValueError(f"{what}: endpoint must be an https URL, got {self.endpoint!r}")
        if self.method not in HTTP_METHODS:
            raise ValueError(f"{what}: method must be one of {HTTP_METHODS}")
        if not 1 <= self.invocation_rate_limit_per_second <= 300:
            raise ValueError(f"{what}: invocation_rate_limit_per_second must be within 1..300")
        if not 0 <= self.maximum_retry_attempts <= 185:
            raise ValueError(f"{what}: maximum_retry_attempts must be within 0..185")
        if not 60 <= self.maximum_event_age_in_seconds <= 86400:
            raise ValueError(f"{what}: maximum_event_age_in_seconds must be within 60..86400")
        auth = self.auth.chosen if isinstance(self.auth, ConnectionAuth) else None
        if isinstance(auth, ApiKeyAuth):
            if not auth.header:
                raise ValueError(f"{what}: ApiKeyAuth.header must name a header")
            secret = auth.value
        elif isinstance(auth, BasicAuth):
            if not auth.username:
                raise ValueError(f"{what}: BasicAuth.username must not be empty")
            secret = auth.password
        elif isinstance(auth, OAuthClientCredentialsAuth):
            token_url = urlsplit(auth.authorization_endpoint)
            if token_url.scheme != "https" or not token_url.hostname:
                raise ValueError(f"{what}: authorization_endpoint must be an https URL")
            if not auth.client_id or auth.http_method not in ("GET", "POST", "PUT"):
                raise ValueError(f"{what}: OAuth needs a client_id and http_method GET, POST or PUT")
            secret = auth.client_secret
        else:
            raise ValueError(f"{what}: auth must be a ConnectionAuth")
        if _is_plain(secret):
            raise ValueError(f"{what}: the credential must be a Pulumi secret (config.require_secret(...)), not a plain string")
        if not self.messages:
            raise ValueError(f"{what}: messages must name at least one kind of message")
        names = [m.name for m in self.messages]
        if len(set(names)) != len(names):
            raise ValueError(f"{what}: duplicate message names {names}")
        for m in self.messages:
            m.validate(what)


@dataclass(frozen=True, kw_only=True)
class ApiDestinationArgs:
    """Arguments of `ApiDestination`."""

    source: str
    """The owning service's `source` (descriptions only)."""
    bus: EventBusRef
    """The bus whose events are sent."""
    destination: HttpDestinationSpec
    defaults: ServiceDefaults = field(default_factory=ServiceDefaults)
    """Alarm actions, tags, KMS key (of the DLQ)."""

    def validate(self) -> None:
        self.bus.validate()
        self.destination.validate()
        self.defaults.validate()


def _auth_parameters(given: ConnectionAuth) -> tuple[str, aws.cloudwatch.EventConnectionAuthParametersArgs]:
    auth = given.chosen
    if isinstance(auth, ApiKeyAuth):
        return "API_KEY", aws.cloudwatch.EventConnectionAuthParametersArgs(
            api_key=aws.cloudwatch.EventConnectionAuthParametersApiKeyArgs(key=auth.header, value=pulumi.Output.secret(auth.value))
        )
    if isinstance(auth, BasicAuth):
        return "BASIC", aws.cloudwatch.EventConnectionAuthParametersArgs(
            basic=aws.cloudwatch.EventConnectionAuthParametersBasicArgs(
                username=auth.username, password=pulumi.Output.secret(auth.password)
            )
        )
    return "OAUTH_CLIENT_CREDENTIALS", aws.cloudwatch.EventConnectionAuthParametersArgs(
        oauth=aws.cloudwatch.EventConnectionAuthParametersOauthArgs(
            authorization_endpoint=auth.authorization_endpoint,
            http_method=auth.http_method,
            client_parameters=aws.cloudwatch.EventConnectionAuthParametersOauthClientParametersArgs(
                client_id=auth.client_id, client_secret=pulumi.Output.secret(auth.client_secret)
            ),
            oauth_http_parameters=aws.cloudwatch.EventConnectionAuthParametersOauthOauthHttpParametersArgs(
                bodies=[
                    aws.cloudwatch.EventConnectionAuthParametersOauthOauthHttpParametersBodyArgs(key=k, value=v, is_value_secret=False)
                    for k, v in auth.body_parameters.items()
                ]
            )
            if auth.body_parameters
            else None,
        )
    )


class ApiDestination(pulumi.ComponentResource):
    """Bus events to one HTTP endpoint, no Lambda in the path.

    Children: the connection `<name>-connection` (its auth from a Pulumi secret), the API
    destination `<name>-destination` (endpoint, method, rate limit), the role `<name>-role`
    EventBridge assumes (`events:InvokeApiDestination` on this destination only), the DLQ
    `<name>-dlq` (KMS, TLS only, depth alarm), and per message kind a rule
    `<name>-<message>-rule` on the bus with its target `<name>-<message>-target` (input
    transformer, retry policy, DLQ).

    Outputs: `destination_arn`, `dlq_url`, `rule_names` (message -> rule).
    """

    destination_arn: pulumi.Output[str]
    dlq_url: pulumi.Output[str]
    rule_names: Mapping[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: ApiDestinationArgs, opts: pulumi.ResourceOptions | None = None, *, label: str | None = None
    ) -> None:
        args.validate()
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        spec = args.destination
        bus_name, bus_arn, _ = bus_identifiers(args.bus, name=f"{name}-bus", parent=self)
        scope = ChildScope(
            self,
            name,
            args.defaults,
            former_parent=None,
            key_description=f"{args.source}: API destination {label or name}",
            log_group_prefixes=[],
            rule_arn_patterns=[_reactor.rule_arn_pattern(bus_arn, name)],  # type: ignore[arg-type]
        )
        self.kms_key = scope.kms_key
        kind, auth_parameters = _auth_parameters(spec.auth)
        self.connection = aws.cloudwatch.EventConnection(
            f"{name}-connection",
            authorization_type=kind,
            auth_parameters=auth_parameters,
            description=f"{args.source}: {label or name} ({kind})",
            opts=scope.child(additional_secret_outputs=["authParameters"]),
        )
        self.destination = aws.cloudwatch.EventApiDestination(
            f"{name}-destination",
            connection_arn=self.connection.arn,
            invocation_endpoint=spec.endpoint,
            http_method=spec.method,
            invocation_rate_limit_per_second=spec.invocation_rate_limit_per_second,
            description=f"{args.source}: {label or name}",
            opts=scope.opts,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=_iam.assume_role_policy("events.amazonaws.com"),
            tags=scope.tags,
            opts=scope.opts,
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-invoke",
            role=self.role.id,
            policy=_iam.document([_iam.statement("InvokeThisApiDestination", ["events:InvokeApiDestination"], [self.destination.arn])]),
            opts=scope.opts,
        )
        self.rules: dict[str, aws.cloudwatch.EventRule] = {}
        for m in spec.messages:
            pattern: dict[str, Any] = {"source": list(m.sources), "detail-type": list(m.detail_types)}
            if m.detail_pattern:
                pattern["detail"] = dict(m.detail_pattern)
            self.rules[m.name] = aws.cloudwatch.EventRule(
                f"{name}-{m.name}-rule",
                event_bus_name=bus_name,
                event_pattern=json.dumps(pattern),
                description=f"{label or name}-{m.name}: {list(m.sources)} {list(m.detail_types)} -> {urlsplit(spec.endpoint).hostname}",
                tags=scope.tags,
                opts=scope.opts,
            )
        self.dlq = _queues.dead_letter_queue(
            f"{name}-dlq",
            opts=scope.opts,
            alarm_actions=args.defaults.alarm_actions,
            senders=_queues.rule_senders([r.arn for r in self.rules.values()]),
            tags=args.defaults.tags,
            kms_key_arn=scope.kms_key_arn,
        )
        self.targets: dict[str, aws.cloudwatch.EventTarget] = {}
        for m in spec.messages:
            self.targets[m.name] = aws.cloudwatch.EventTarget(
                f"{name}-{m.name}-target",
                rule=self.rules[m.name].name,
                event_bus_name=bus_name,
                arn=self.destination.arn,
                role_arn=self.role.arn,
                input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                    input_paths=dict(m.input_paths), input_template=m.input_template
                ),
                http_target=aws.cloudwatch.EventTargetHttpTargetArgs(header_parameters=dict(spec.header_parameters))
                if spec.header_parameters
                else None,
                retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                    maximum_retry_attempts=spec.maximum_retry_attempts,
                    maximum_event_age_in_seconds=spec.maximum_event_age_in_seconds,
                ),
                dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=self.dlq.queue.arn),
                opts=scope.child(depends_on=[self.role_policy, self.dlq.policy]),
            )
        self.destination_arn = self.destination.arn
        self.dlq_url = self.dlq.queue.url
        self.rule_names = {n: r.name for n, r in self.rules.items()}
        self.register_outputs({"destination_arn": self.destination_arn, "dlq_url": self.dlq_url, "rule_names": self.rule_names})
