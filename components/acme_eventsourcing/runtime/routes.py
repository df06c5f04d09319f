"""A service's route table and serving one request: `Route` (plain data), `match` (an API
Gateway v2 event -> its route and path parameters), `serve` (one request end to end: match,
dispatch, the error format, the access log).

A route table is a tuple of `Route`s, shared by the service's commands handler, its queries
handler and its OpenAPI document (`acme_eventsourcing.runtime.openapi`). It is pure data
and stdlib: the Pulumi program imports it to declare the API's routes, e.g.

    ApiSpec(command_routes=keys(ROUTES, COMMANDS), query_routes=keys(ROUTES, QUERIES),
            public_routes=tuple(r.key for r in ROUTES if r.public), ...)

Commands are declared with `acme_eventsourcing.runtime.commands.CommandDecl`, whose `route`
is the command's `Route`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import Any

from . import http
from ._frozen import frozen_dataclass
from .http import HttpError, bad_request
from .validation import coerce_query
from .validation import errors as schema_errors

COMMANDS = "commands"
"""`Route.function` of the routes the commands function serves."""
QUERIES = "queries"
"""`Route.function` of the routes the queries function serves."""
_PARAM = re.compile(r"\{([a-z_]+)\}")
ANY_SEGMENT: Mapping[str, Any] = {"type": "string", "minLength": 1}
"""The schema of a path parameter a route does not describe."""


@frozen_dataclass(kw_only=True)
class Route:
    """One operation: which function serves it, what it accepts and what it returns."""

    method: str
    path: str  # template, e.g. "/locations/{location_id}/employees"
    handler: str  # the operation's name (the OpenAPI operationId): a command's name, a query method
    function: str  # COMMANDS or QUERIES: the Lambda that serves the route
    who: str  # who may call it, for the documentation
    summary: str
    status: int  # success status
    response: Mapping[str, Any]  # JSON Schema of the success body (its "title" names it in OpenAPI)
    body: Mapping[str, Any] | None = None  # request body schema (writes)
    query: Mapping[str, Any] | None = None  # query-parameter schema
    errors: tuple[int, ...] = ()  # documented error statuses besides 400/401/500
    public: bool = False  # no bearer token needed
    media_types: tuple[str, ...] = ("application/json",)  # success representations
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # path parameter -> schema
    secret_params: tuple[str, ...] = ()  # path parameters that are secrets (a capability token): `***` in the log

    @property
    def key(self) -> str:
        """API Gateway's route key, e.g. `POST /locations`."""
        return f"{self.method} {self.path}"

    @property
    def params(self) -> tuple[str, ...]:
        """Names of the path parameters, in order."""
        return tuple(_PARAM.findall(self.path))

    @property
    def conditional(self) -> bool:
        """Read-model queries answer with an `ETag` and honour `If-None-Match` (304)."""
        return self.method == "GET" and not self.public

    @property
    def idempotent(self) -> bool:
        """Writes accept an `Idempotency-Key` header."""
        return self.method != "GET"

    def concrete_path(self, params: Mapping[str, str]) -> str:
        """The template with its parameters filled in."""
        return _PARAM.sub(lambda m: params[m.group(1)], self.path)

    def logged_path(self, params: Mapping[str, str]) -> str:
        """The path as the access log shows it: `secret_params` replaced by `***`."""
        return self.concrete_path({**params, **dict.fromkeys(self.secret_params, "***")})

    def parameter_schema(self, name: str) -> Mapping[str, Any]:
        """The schema a path parameter must satisfy (`ANY_SEGMENT` if the route gives none)."""
        return self.parameters.get(name, ANY_SEGMENT)


def keys(routes: Sequence[Route], function: str) -> tuple[str, ...]:
    """The route keys (`POST /orders`) of the routes `function` (COMMANDS or QUERIES) serves."""
    return tuple(route.key for route in routes if route.function == function)


def served_by(routes: Sequence[Route], function: str) -> tuple[Route, ...]:
    """The routes `function` serves, in table order."""
    return tuple(route for route in routes if route.function == function)


@frozen_dataclass
class Match:
    """The route of a request and its validated path parameters."""

    route: Route
    params: dict[str, str]


def match(event: Mapping[str, Any], routes: Sequence[Route], *, check: bool = True) -> Match:
    """The route for an API Gateway v2 event: by `routeKey` (with `pathParameters`), else by
    method and path. 404 `route_not_found` / 405 `method_not_allowed`. With `check`, 400 if a
    path parameter breaks its schema (the message names it, e.g. `path.location_id`); pass
    `check=False` to authenticate first and call `validate_params` after."""
    allowed = {route.key: route for route in routes}
    route = allowed.get(str(event.get("routeKey") or ""))
    if route is not None and all(name in (event.get("pathParameters") or {}) for name in route.params):
        raw = {name: str(event["pathParameters"][name]) for name in route.params}
        return Match(route, validate_params(route, raw) if check else raw)
    method, segments = http.method(event), http.path(event).rstrip("/").split("/")
    methods_for_path: list[str] = []
    for candidate in routes:
        params = _match_path(candidate.path, segments)
        if params is None:
            continue
        if candidate.method == method:
            return Match(candidate, validate_params(candidate, params) if check else params)
        methods_for_path.append(candidate.method)
    if methods_for_path:
        raise HttpError(405, "method_not_allowed", f"{method} is not allowed here; use {', '.join(sorted(methods_for_path))}")
    raise HttpError(404, "route_not_found", f"no route for {method} {http.path(event)}")


def validate_params(route: Route, params: Mapping[str, str]) -> dict[str, str]:
    """Check each path parameter against its schema (`Route.parameters`); 400 naming the first bad one."""
    found = []
    for name in route.params:
        found.extend(schema_errors(params.get(name, ""), route.parameter_schema(name), f"path.{name}"))
    if found:
        raise bad_request(found[0].message, field=found[0].field, details=[e.as_dict() for e in found])
    return {name: params[name] for name in route.params}


def query_params(event: Mapping[str, Any], route: Route) -> dict[str, Any]:
    """The route's query parameters, integers coerced, checked against `route.query`
    (400 naming `query.<name>`); `{}` for a route without a query schema."""
    if route.query is None:
        return {}
    params = coerce_query(http.query(event), route.query)
    found = schema_errors(params, route.query, "query")
    if found:
        raise bad_request(found[0].message, field=found[0].field, details=[e.as_dict() for e in found])
    return params


Dispatch = Callable[[Mapping[str, Any], Match, str, dict[str, Any]], dict[str, Any]]
"""`dispatch(event, match, correlation_id, log_fields) -> response`; may raise `HttpError`.
`match.params` are not checked yet (call `validate_params` after authenticating)."""


def serve(event: Mapping[str, Any], routes: Sequence[Route], dispatch: Dispatch) -> dict[str, Any]:
    """One request, end to end: match a route, run `dispatch`, answer an `HttpError` in the
    error format and any other exception as a 500 `internal_error` carrying the correlation
    id (with the traceback in the log), then write the one access-log line of the request
    (a route's `secret_params` shown as `***`)."""
    started = time.perf_counter()
    correlation = http.correlation_id(event)
    route = str(event.get("routeKey") or f"{http.method(event)} {http.path(event)}")
    fields: dict[str, Any] = {}
    try:
        found = match(event, routes, check=False)
        route = found.route.key
        if found.route.secret_params:
            fields["path"] = found.route.logged_path(found.params)
        response = dispatch(event, found, correlation, fields)
    except HttpError as exc:
        response = exc.response()
        fields["error_code"] = exc.code
    except Exception:  # noqa: BLE001 - the one place that turns a bug into a 500
        import traceback  # error path only: keep it off the cold start

        fields.update(error_code="internal_error", traceback=traceback.format_exc())
        response = http.json_response(
            500,
            {"error": {"code": "internal_error", "message": "unexpected error; quote the correlation id", "correlation_id": correlation}},
        )
    http.log_request(event, route=route, status=response["statusCode"], started=started, correlation=correlation, **fields)
    return response


def _match_path(template: str, segments: list[str]) -> dict[str, str] | None:
    parts = template.rstrip("/").split("/")
    if len(parts) != len(segments):
        return None
    params: dict[str, str] = {}
    for part, segment in zip(parts, segments, strict=True):
        name = _PARAM.fullmatch(part)
        if name:
            if not segment:
                return None
            params[name.group(1)] = _unquote(segment)
        elif part != segment:
            return None
    return params


def _unquote(segment: str) -> str:
    """Percent-decode a path segment (API Gateway already decodes; local callers may not)."""
    if "%" not in segment:
        return segment
    from urllib.parse import unquote  # rare path: keep it off the cold start

    return unquote(segment)
