"""HttpApi: a service's commands and queries behind an API Gateway HTTP API with a JWT authorizer."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pulumi
import pulumi_aws as aws

from . import _apigw, _iam
from ._lambda import FunctionParts
from .defaults import ChildScope, FunctionSpec, ServiceDefaults
from .refs import JwtIssuerRef, TableRef, resolve
from .sso import SSO_IDENTITY_ATTRIBUTE, SSO_IDENTITY_CLAIM, SSO_OAUTH_SCOPES, SsoSpec

TYPE_TOKEN = "acme:events:HttpApi"

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
#: With SSO (`ApiSpec.sso`) the client reads these (the identity is `SSO_IDENTITY_CLAIM`,
#: mapped from the IdP) and writes exactly the mapped attributes (Cognito requires that).
SSO_CLIENT_READ_ATTRIBUTES = ("email", "email_verified", "name", SSO_IDENTITY_CLAIM)
#: The environment variable naming the identity claim for the API functions.
IDENTITY_CLAIM_ENV = "IDENTITY_CLAIM"
_CLAIM = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,127}$")
#: Claims that never identify a person (who issued the token, for whom, when, which groups).
_NOT_IDENTITY_CLAIMS = frozenset(
    {"iss", "aud", "exp", "iat", "nbf", "auth_time", "jti", "token_use", "client_id", "scope", "cognito:groups"}
)
_ROUTE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) (/[A-Za-z0-9._~{}+/-]*)$")
_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
#: API Gateway HTTP APIs give an integration at most 30 s.
_API_MAX_TIMEOUT_S = 29

#: The earlier name of `JwtIssuerRef` (an existing issuer instead of the Cognito pool).
JwtAuthorizerSpec = JwtIssuerRef

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


@dataclass(frozen=True, kw_only=True)
class ApiSpec:
    """The HTTP API: route keys (`"POST /locations"`) for the commands and queries functions.
    `public_routes` (a subset of those) skip the JWT authorizer. `jwt=None` creates a Cognito
    user pool, client and the groups `admin` and `approver`; a `JwtIssuerRef` uses that issuer.
    `sso` federates that pool with an external OIDC or SAML identity provider (`SsoSpec`)."""

    commands: FunctionSpec
    queries: FunctionSpec
    command_routes: Sequence[str]
    query_routes: Sequence[str]
    public_routes: Sequence[str] = ()
    jwt: JwtIssuerRef | None = None
    """An existing issuer; None = the API creates a Cognito user pool."""
    throttling_burst_limit: int = 100
    throttling_rate_limit: float = 50.0
    cors_allowed_origins: Sequence[str] = ()
    sso: SsoSpec | None = None
    """Single sign-on through the created pool (needs `jwt=None`): users sign in only at the
    IdP, and the API trusts `custom:idp_employee_id`, mapped from the IdP's stable subject."""

    @property
    def identity_claim(self) -> str:
        """The claim the API functions identify the caller by: `jwt.identity_claim`, or
        `USER_POOL_IDENTITY_CLAIM` for the pool the service creates (`SSO_IDENTITY_CLAIM` with `sso`)."""
        if self.jwt is not None:
            return self.jwt.identity_claim
        return SSO_IDENTITY_CLAIM if self.sso is not None else USER_POOL_IDENTITY_CLAIM

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
        if self.sso is not None:
            if self.jwt is not None:
                raise ValueError("sso federates the user pool the API creates; with jwt (an existing issuer) configure SSO at that issuer")
            self.sso.validate()
        if self.jwt is not None and not self.jwt.audiences:
            raise ValueError("jwt.audiences must not be empty")
        if self.jwt is not None and self.jwt.issuer is None and self.jwt.stack is None:
            raise ValueError("jwt needs issuer, or stack")
        claim = self.identity_claim
        if not isinstance(claim, str) or not _CLAIM.match(claim) or claim in _NOT_IDENTITY_CLAIMS:
            raise ValueError(f"jwt.identity_claim {claim!r} must name a claim that identifies the user (e.g. 'sub')")
        if self.throttling_burst_limit < 1 or self.throttling_rate_limit <= 0:
            raise ValueError("throttling limits must be positive")


@dataclass(frozen=True, kw_only=True)
class HttpApiArgs:
    """Arguments of `HttpApi`."""

    source: str
    """The service's EventBridge `source` (the functions get it as SERVICE_SOURCE)."""
    api: ApiSpec
    """Routes, functions, issuer, throttling, CORS."""
    events_table: TableRef
    """The Events table the commands function appends to."""
    read_models: Mapping[str, TableRef] = field(default_factory=dict)
    """Read-model tables the queries function reads, by projection name
    (environment `READ_MODEL_TABLE_<NAME>`)."""
    read_model_standbys: Mapping[str, TableRef] = field(default_factory=dict)
    """The standby tables of blue/green projections, by projection name: the queries function
    may read them too (the pointer in the home table says which one is active)."""
    defaults: ServiceDefaults = field(default_factory=ServiceDefaults)
    """Log retention, alarm actions, tags, KMS key, runtime."""

    def validate(self) -> None:
        self.api.validate()
        self.events_table.validate()
        for table in [*self.read_models.values(), *self.read_model_standbys.values()]:
            table.validate()
        if unknown := sorted(set(self.read_model_standbys) - set(self.read_models)):
            raise ValueError(f"read_model_standbys {unknown} name no read model")
        self.defaults.validate()


class HttpApi(pulumi.ComponentResource):
    """A service's HTTP API: the commands and queries functions behind an API Gateway HTTP
    API with a JWT authorizer on every route but `public_routes` (a Cognito pool unless
    `api.jwt` names an issuer), a `$default` stage with auto-deploy, JSON access logs and
    throttling (burst 100, rate 50/s), payload format 2.0, Lambda permissions scoped to the
    API's execution ARN. The commands function may append to the Events table (never update
    or delete); the queries function may only read the read models.

    Its resources are named after the service, `name`: `<name>-api`, `<name>-commands`,
    `<name>-queries`, `<name>-route-<route>`, `<name>-users`, ... Outputs: `api_url`,
    `jwt_issuer`, `user_pool_id`/`user_pool_client_id` (None with an existing issuer).

    With `api.sso` the pool also gets `<name>-users-idp` (the IdP) and `<name>-users-domain`
    (the hosted UI), and its client `<name>-users-client` allows only the code flow through
    that IdP; outputs `sso_domain` and `sso_redirect_uri` (docs/sso.md).
    """

    api_url: pulumi.Output[str]
    """The API's endpoint."""
    jwt_issuer: pulumi.Output[str]
    """The issuer whose tokens the authorizer accepts."""
    user_pool_id: pulumi.Output[str] | None
    """The Cognito pool the API created (None with `api.jwt`)."""
    user_pool_client_id: pulumi.Output[str] | None
    """Its app client."""
    sso_domain: pulumi.Output[str] | None
    """With `api.sso`: the hosted sign-in UI's base URL (`https://<prefix>.auth.<region>.amazoncognito.com`)."""
    sso_redirect_uri: pulumi.Output[str] | None
    """With `api.sso`: the URI to register at the IdP (`<sso_domain>/oauth2/idpresponse`, SAML `/saml2/idpresponse`)."""

    def __init__(
        self,
        name: str,
        args: HttpApiArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        former_parent: pulumi.Resource | None = None,
    ) -> None:
        """`former_parent`: the component that declared these resources before (they get an
        alias to it, so an existing stack keeps them); None for a new API."""
        args.validate()
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        spec = args.api
        self._scope = scope = ChildScope(
            self,
            name,
            args.defaults,
            former_parent=former_parent,
            key_description=f"{args.source}: API functions and access logs",
            log_group_prefixes=[f"/aws/lambda/{name}-", f"/aws/vendedlogs/apigateway/{name}-api-"],
        )
        events, _ = resolve(args.events_table, name=f"{name}-events", parent=self)
        read_models = {n: resolve(t, name=f"{name}-{n}", parent=self)[0] for n, t in args.read_models.items()}
        self.api = aws.apigatewayv2.Api(
            f"{name}-api",
            protocol_type="HTTP",
            description=f"{args.source} commands and queries",
            cors_configuration=aws.apigatewayv2.ApiCorsConfigurationArgs(
                allow_origins=list(spec.cors_allowed_origins),
                allow_methods=sorted({k.split(" ")[0] for k in spec.routes} | {"OPTIONS"}),
                allow_headers=["authorization", "content-type", "idempotency-key"],
                max_age=3600,
            )
            if spec.cors_allowed_origins
            else None,
            tags=scope.tags,
            opts=scope.opts,
        )
        # The API's public URL, for what the functions publish (e.g. the OpenAPI `servers`):
        # a default the spec's `environment` may override (a custom domain).
        public_url = {"API_URL": self.api.api_endpoint}
        self.commands: FunctionParts = scope.function(
            f"{name}-commands",
            replace(spec.commands, environment={**public_url, **spec.commands.environment}),
            [
                _iam.statement(
                    "AppendToEventStore",
                    ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
                    [events.table_arn],  # type: ignore[list-item]
                )
            ],
            {"SERVICE_SOURCE": args.source, "EVENTS_TABLE": events.table_name, IDENTITY_CLAIM_ENV: spec.identity_claim},  # type: ignore[dict-item]
            writes=True,
        )
        standbys = {n: resolve(t, name=f"{name}-{n}-standby", parent=self)[0] for n, t in args.read_model_standbys.items()}
        read_model_arns = [t.table_arn for t in [*read_models.values(), *standbys.values()]]
        self.queries: FunctionParts = scope.function(
            f"{name}-queries",
            replace(spec.queries, environment={**public_url, **spec.queries.environment}),
            [_iam.statement("ReadReadModels", list(_READ_ACTIONS), read_model_arns)] if read_model_arns else [],  # type: ignore[arg-type]
            {
                "SERVICE_SOURCE": args.source,
                **{f"READ_MODEL_TABLE_{n.upper().replace('-', '_')}": t.table_name for n, t in read_models.items()},  # type: ignore[misc]
                IDENTITY_CLAIM_ENV: spec.identity_claim,
            },
            writes=False,
        )

        self.user_pool: aws.cognito.UserPool | None = None
        self.user_pool_client: aws.cognito.UserPoolClient | None = None
        self.identity_provider: aws.cognito.IdentityProvider | None = None
        self.user_pool_domain: aws.cognito.UserPoolDomain | None = None
        self.sso_domain = self.sso_redirect_uri = None
        if spec.jwt is None:
            self.user_pool, self.user_pool_client = self._user_pool(name)
            self.jwt_issuer = pulumi.Output.concat("https://", self.user_pool.endpoint)
            audiences: Sequence[pulumi.Input[str]] = [self.user_pool_client.id]
        else:
            jwt, _ = resolve(spec.jwt, name=f"{name}-issuer", parent=self)
            self.jwt_issuer, audiences = pulumi.Output.from_input(jwt.issuer), list(jwt.audiences)  # type: ignore[arg-type]
        self.jwt_audiences: list[pulumi.Input[str]] = list(audiences)
        """The audiences the authorizer accepts (the created pool's client id, or `api.jwt.audiences`)."""

        self.authorizer = aws.apigatewayv2.Authorizer(
            f"{name}-api-jwt",
            api_id=self.api.id,
            authorizer_type="JWT",
            identity_sources=["$request.header.Authorization"],
            jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(issuer=self.jwt_issuer, audiences=audiences),
            opts=scope.opts,
        )
        self.integrations: dict[str, aws.apigatewayv2.Integration] = {}
        self.permissions: dict[str, aws.lambda_.Permission] = {}
        for part, parts in (("commands", self.commands), ("queries", self.queries)):
            self.integrations[part] = aws.apigatewayv2.Integration(
                f"{name}-api-{part}",
                api_id=self.api.id,
                integration_type="AWS_PROXY",
                integration_method="POST",
                integration_uri=parts.function.invoke_arn,
                payload_format_version="2.0",
                opts=scope.opts,
            )
            self.permissions[part] = aws.lambda_.Permission(
                f"{name}-api-{part}-invoke",
                action="lambda:InvokeFunction",
                function=parts.function.name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/*"),
                opts=scope.opts,
            )
        self.routes: dict[str, aws.apigatewayv2.Route] = {}
        for key, part in spec.routes.items():
            public = key in spec.public_routes
            self.routes[key] = aws.apigatewayv2.Route(
                f"{name}-route-{_slug(key)}",
                api_id=self.api.id,
                route_key=key,
                target=pulumi.Output.concat("integrations/", self.integrations[part].id),
                authorization_type="NONE" if public else "JWT",
                authorizer_id=None if public else self.authorizer.id,
                opts=scope.opts,
            )
        self.access_logs, self.stage = _apigw.logged_stage(
            scope,
            name,
            api_id=self.api.id,
            stage_name="$default",
            log_format=ACCESS_LOG_FORMAT,
            log_retention_days=args.defaults.log_retention_days,
            throttling_burst_limit=spec.throttling_burst_limit,
            throttling_rate_limit=spec.throttling_rate_limit,
            depends_on=list(self.routes.values()),
        )
        self.api_url = self.api.api_endpoint
        self.user_pool_id = self.user_pool.id if self.user_pool else None
        self.user_pool_client_id = self.user_pool_client.id if self.user_pool_client else None
        self.register_outputs(
            {
                "api_url": self.api_url,
                "jwt_issuer": self.jwt_issuer,
                "user_pool_id": self.user_pool_id,
                "user_pool_client_id": self.user_pool_client_id,
                "sso_domain": self.sso_domain,
                "sso_redirect_uri": self.sso_redirect_uri,
            }
        )

    @property
    def issuer(self) -> pulumi.Output[str]:
        """The same as `jwt_issuer`."""
        return self.jwt_issuer

    def _user_pool(self, name: str) -> tuple[aws.cognito.UserPool, aws.cognito.UserPoolClient]:
        scope = self._scope
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
                ),
                # the identity of federated users (SSO): Cognito rewrites a mapped attribute at every
                # sign-in, so it must be mutable; declared in every pool because a pool's schema is
                # append-only (SSO can be turned on later). Only the IdP mapping writes it: no client
                # can get a token that may write attributes (see acme_eventsourcing.sso).
                aws.cognito.UserPoolSchemaArgs(
                    name=SSO_IDENTITY_ATTRIBUTE,
                    attribute_data_type="String",
                    mutable=True,
                    string_attribute_constraints=aws.cognito.UserPoolSchemaStringAttributeConstraintsArgs(min_length="1", max_length="128"),
                ),
            ],
            tags=scope.tags,
            opts=scope.opts,
        )
        sso = self.args.api.sso
        if sso is None:
            client = aws.cognito.UserPoolClient(
                f"{name}-users-client",
                user_pool_id=pool.id,
                generate_secret=False,
                explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                prevent_user_existence_errors="ENABLED",
                enable_token_revocation=True,
                read_attributes=list(USER_POOL_CLIENT_READ_ATTRIBUTES),
                write_attributes=list(USER_POOL_CLIENT_WRITE_ATTRIBUTES),
                opts=scope.opts,
            )
        else:
            client = self._federate(name, pool, sso)
        for group in ("admin", "approver"):
            aws.cognito.UserGroup(f"{name}-users-{group}", user_pool_id=pool.id, name=group, opts=scope.opts)
        return pool, client

    def _federate(self, name: str, pool: aws.cognito.UserPool, sso: SsoSpec) -> aws.cognito.UserPoolClient:
        """The IdP, the hosted UI domain, and an app client that signs in only through the IdP."""
        scope = self._scope
        mapping = sso.pool_attribute_mapping
        self.identity_provider = aws.cognito.IdentityProvider(
            f"{name}-users-idp",
            user_pool_id=pool.id,
            provider_name=sso.provider_name,
            provider_type=str(sso.kind),
            provider_details=sso.provider_details(),
            attribute_mapping=mapping,
            opts=scope.opts,
        )
        self.user_pool_domain = aws.cognito.UserPoolDomain(
            f"{name}-users-domain",
            user_pool_id=pool.id,
            domain=sso.domain,
            certificate_arn=sso.certificate_arn,
            opts=scope.opts,
        )
        if sso.custom_domain:
            self.sso_domain = pulumi.Output.from_input(f"https://{sso.custom_domain}")
        else:
            region = aws.get_region_output(opts=pulumi.InvokeOptions(parent=self)).region
            self.sso_domain = region.apply(lambda r: f"https://{sso.domain_prefix}.auth.{r}.amazoncognito.com")
        path = "/saml2/idpresponse" if sso.kind == "SAML" else "/oauth2/idpresponse"
        self.sso_redirect_uri = self.sso_domain.apply(lambda d: d + path)
        return aws.cognito.UserPoolClient(
            f"{name}-users-client",
            user_pool_id=pool.id,
            generate_secret=sso.generate_secret,
            # no password, SRP or custom flow: their tokens carry aws.cognito.signin.user.admin
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],  # with PKCE from the browser; never implicit
            allowed_oauth_scopes=list(SSO_OAUTH_SCOPES),
            supported_identity_providers=[self.identity_provider.provider_name],  # not COGNITO: no passwords
            callback_urls=list(sso.callback_urls),
            logout_urls=list(sso.logout_urls),
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=sso.token_validity_minutes,
            id_token_validity=sso.token_validity_minutes,
            refresh_token_validity=sso.refresh_token_validity_days,
            token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                access_token="minutes", id_token="minutes", refresh_token="days"
            ),
            read_attributes=sorted({*SSO_CLIENT_READ_ATTRIBUTES, *mapping}),
            # Cognito writes mapped attributes at each sign-in only if the client may write them
            write_attributes=sorted(mapping),
            opts=scope.opts,
        )


def _slug(route_key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", route_key.lower()).strip("-")
