"""Rules on invocation and the HTTP API: scoped Lambda permissions, authorised routes, throttled and logged stages.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._policy_core import Violation
from ._policy_view import (
    API,
    AUTHORIZER,
    FUNCTION,
    INTEGRATION,
    PERMISSION,
    ROUTE,
    STAGE,
    StackView,
    _number,
    get,
)
from .harness import RecordedResource, RecordedStack

#: Routes anyone may call (method and path as in the route key).
PUBLIC_ROUTES: frozenset[str] = frozenset({"GET /openapi.json", "GET /asyncapi.json"})
#: The stack config key (in `Pulumi.<stack>.yaml`) listing a stack's further public route keys.
PUBLIC_ROUTES_CONFIG = "policy:public_routes"


def configured_public_routes(stack: RecordedStack) -> frozenset[str]:
    """The route keys the stack's config `policy:public_routes` lists (a YAML/JSON list of strings)."""
    import json

    raw = stack.config.get(PUBLIC_ROUTES_CONFIG)
    if raw is None:
        return frozenset()
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"config {PUBLIC_ROUTES_CONFIG} must be a list of route keys such as 'GET /path', got {raw!r}")
    return frozenset(value)


@dataclass(frozen=True)
class PermissionsScopedBySource:
    id: ClassVar[str] = "LAM001"
    title: ClassVar[str] = "Every Lambda permission names a specific source ARN"
    rationale: ClassVar[str] = (
        "Without source_arn any rule, API or bucket of any account could invoke the function "
        "(confused deputy). Wildcards are allowed only in an API Gateway ARN's stage/method/path, "
        "after the execution ARN of the API that integrates the function."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many Lambda permissions the rule examined."""
        return len(StackView.of(stack).of_type(PERMISSION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        apis = {a.id: a.state.get("executionArn") for a in view.of_type(API) if a.state.get("executionArn")}
        integrations = view.resolved(INTEGRATION, "integrationUri", FUNCTION)  # function URN -> its integrations
        out = []
        for p in view.of_type(PERMISSION):
            problem = self._problem(view, apis, integrations, p)
            if problem:
                out.append(Violation.of(self.id, p, problem))
        return out

    @staticmethod
    def _problem(
        view: StackView, apis: dict[str | None, str], integrations: dict[str, list[RecordedResource]], p: RecordedResource
    ) -> str | None:
        principal, source = p.inputs.get("principal"), p.inputs.get("sourceArn")
        if principal == "*" or not principal:
            return f"principal is {principal!r}; name the service or account"
        if not isinstance(source, str) or not source:
            return f"no source_arn for principal {principal!r}"
        parts = source.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            return f"source_arn {source!r} is not an ARN"
        if any("*" in part or "?" in part for part in parts[:5]):
            return f"source_arn {source!r} has a wildcard partition, service, region or account"
        if principal != "apigateway.amazonaws.com":
            return f"source_arn {source!r} has a wildcard" if ("*" in source or "?" in source) else None
        fn = view.find(FUNCTION, p.inputs.get("function"))
        integrated = {apis.get(i.inputs.get("apiId")) for i in (integrations.get(fn.urn, []) if fn is not None else [])} - {None}
        expected = integrated or set(apis.values())
        if "/" not in source or source.split("/", 1)[0] not in expected:  # execution ARNs hold no "/"
            return f"source_arn {source!r} does not start with the execution ARN of the API that integrates the function {sorted(expected)}"
        return None


@dataclass(frozen=True)
class RoutesAuthorized:
    public_routes: frozenset[str] = PUBLIC_ROUTES

    id: ClassVar[str] = "API001"
    title: ClassVar[str] = "Every API route is authorised, except the declared public ones"
    rationale: ClassVar[str] = (
        "An HTTP API route without authorization_type JWT, AWS_IAM or CUSTOM (with an authorizer) "
        "is open to the internet. Routes meant to be public are listed by route key in the rule's "
        "public_routes (default: GET /openapi.json and GET /asyncapi.json, the published documents) "
        "or in the stack's config policy:public_routes. JWT authorizers need an issuer and an audience. "
        "A WebSocket API's routes other than $connect cannot carry an authorizer: they run on the "
        "connection $connect authorised (WSK001)."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many routes and authorizers the rule examined."""
        return len(StackView.of(stack).of_type(ROUTE)) + len(StackView.of(stack).of_type(AUTHORIZER))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        websockets = {a.id for a in view.of_type(API) if a.inputs.get("protocolType") == "WEBSOCKET"}
        public = self.public_routes | configured_public_routes(stack)
        for route in view.of_type(ROUTE):
            key = route.inputs.get("routeKey")
            kind = route.inputs.get("authorizationType") or "NONE"
            if key in public:
                continue
            if route.inputs.get("apiId") in websockets and key != "$connect":
                continue  # a WebSocket API authorises once, at $connect (WSK001); its other routes run on that connection
            if kind not in ("JWT", "AWS_IAM", "CUSTOM"):
                message = f"route {key!r} has authorization_type {kind!r} and is not a declared public route"
                out.append(Violation.of(self.id, route, message))
            elif kind != "AWS_IAM" and not route.inputs.get("authorizerId"):
                out.append(Violation.of(self.id, route, f"route {key!r} has authorization_type {kind!r} but no authorizer_id"))
        for auth in view.of_type(AUTHORIZER):
            if auth.inputs.get("authorizerType") == "JWT":
                jwt = auth.inputs.get("jwtConfiguration") or {}
                if not jwt.get("issuer") or not jwt.get("audiences"):
                    out.append(Violation.of(self.id, auth, "JWT authorizer needs jwt_configuration.issuer and at least one audience"))
        return out


@dataclass(frozen=True)
class StagesThrottledAndLogged:
    id: ClassVar[str] = "API002"
    title: ClassVar[str] = "Every API stage is throttled and access-logged"
    rationale: ClassVar[str] = (
        "Default route throttling (burst and rate) caps what a caller can cost; access logs are the record of who called what."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many stages the rule examined."""
        return len(StackView.of(stack).of_type(STAGE))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for stage in StackView.of(stack).of_type(STAGE):
            problems = [
                f"default_route_settings.{name} is not a positive number"
                for name, key in (("throttling_burst_limit", "throttlingBurstLimit"), ("throttling_rate_limit", "throttlingRateLimit"))
                if (_number(get(stage.inputs, "defaultRouteSettings", key)) or 0) <= 0
            ]
            if not get(stage.inputs, "accessLogSettings", "destinationArn") or not get(stage.inputs, "accessLogSettings", "format"):
                problems.append("no access_log_settings (destination_arn and format)")
            if problems:
                out.append(Violation.of(self.id, stage, "; ".join(problems)))
        return out
