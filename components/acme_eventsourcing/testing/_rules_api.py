"""Rules on invocation and the HTTP API: scoped Lambda permissions, authorised routes, throttled and logged stages.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
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

#: Routes anyone may call (method and path as in the route key): the published documents, and a
#: Slack app's interactivity endpoint (Slack sends no JWT; the function checks Slack's request
#: signature instead, and API003 keeps that signing secret out of its environment).
PUBLIC_ROUTES: frozenset[str] = frozenset({"GET /openapi.json", "GET /asyncapi.json", "POST /slack/interactions"})
#: Environment variable names that say "a secret" (API003).
SECRET_ENV_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE_KEY|API_KEY|SIGNING", re.IGNORECASE)
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


def _on_authorised_connection(view: StackView) -> Callable[[RecordedResource], bool]:
    """Whether a route is a WebSocket API's route other than `$connect`: API Gateway authorises a
    WebSocket once, at `$connect` (WSK001), and its other routes run on that connection, so they
    carry no authorizer and nobody can call them without having connected."""
    websockets = {a.id for a in view.of_type(API) if a.inputs.get("protocolType") == "WEBSOCKET"}
    return lambda route: route.inputs.get("apiId") in websockets and route.inputs.get("routeKey") != "$connect"


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
        on_connection = _on_authorised_connection(view)
        public = self.public_routes | configured_public_routes(stack)
        for route in view.of_type(ROUTE):
            key = route.inputs.get("routeKey")
            kind = route.inputs.get("authorizationType") or "NONE"
            if key in public:
                continue
            if on_connection(route):
                continue
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


@dataclass(frozen=True)
class PublicFunctionsHoldNoSecrets:
    id: ClassVar[str] = "API003"
    title: ClassVar[str] = "A function behind a public route holds no secret in its environment"
    rationale: ClassVar[str] = (
        "Anyone on the internet can call a public route (no JWT), so its function is the first to be probed, and "
        "a function's environment is plain configuration: shown by GetFunctionConfiguration, consoles and the "
        "state file. A secret it needs (a signing secret, a token) belongs in Secrets Manager, encrypted with the "
        "service's key, and is read at cold start by the ARN in the environment (FunctionSpec.secrets). Flags an "
        "environment variable that was a Pulumi secret, and one whose name says secret (SECRET, TOKEN, PASSWORD, "
        "PRIVATE_KEY, API_KEY, SIGNING) unless its value is an ARN."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many functions behind public routes the rule examined."""
        return len(self._public_functions(StackView.of(stack)))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for fn, keys in self._public_functions(StackView.of(stack)):
            variables = get(fn.inputs, "environment", "variables") or {}
            for name, value in sorted(variables.items()) if isinstance(variables, dict) else ():
                if fn.is_secret("environment", "variables", name):
                    why = "is a secret value"
                elif SECRET_ENV_NAME.search(name) and not (isinstance(value, str) and value.startswith("arn:")):
                    why = "is named like a secret and is not an ARN"
                else:
                    continue
                message = (
                    f"environment variable {name} of a function behind public route(s) {', '.join(sorted(keys))} {why}: "
                    "keep the value in Secrets Manager and give the function its ARN (FunctionSpec.secrets)"
                )
                out.append(Violation.of(self.id, fn, message))
        return out

    @staticmethod
    def _public_functions(view: StackView) -> list[tuple[RecordedResource, set[str]]]:
        integrations = {i.id: i for i in view.of_type(INTEGRATION)}
        on_connection = _on_authorised_connection(view)
        found: dict[str, tuple[RecordedResource, set[str]]] = {}
        for route in view.of_type(ROUTE):
            if (route.inputs.get("authorizationType") or "NONE") != "NONE":
                continue
            if on_connection(route):
                continue
            target = str(route.inputs.get("target") or "")
            integration = integrations.get(target.removeprefix("integrations/"))
            fn = view.find(FUNCTION, (integration.inputs.get("integrationUri") if integration else None))
            if fn is not None:
                found.setdefault(fn.urn, (fn, set()))[1].add(str(route.inputs.get("routeKey")))
        return list(found.values())
