"""The route table of the leave API (API.md), shared by the commands handler, the queries
handler and the OpenAPI document, plus matching an API Gateway v2 event to a route.

Pure data and stdlib: the Pulumi program may import it to declare the API routes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from leave_api import http
from leave_api import schemas as s
from leave_api.http import HttpError, bad_request
from leave_api.validation import coerce_query
from leave_api.validation import errors as schema_errors

COMMANDS = "commands"
QUERIES = "queries"
_PARAM = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True, kw_only=True)
class Route:
    """One operation: which function serves it, what it accepts and what it returns."""

    method: str
    path: str  # template, e.g. "/locations/{location_id}/employees"
    handler: str  # name of the function in the serving module (commands.py or queries.py)
    function: str  # COMMANDS or QUERIES: the Lambda that serves the route
    who: str
    summary: str
    status: int  # success status
    response: Mapping[str, Any]
    body: Mapping[str, Any] | None = None  # request body schema (writes)
    query: Mapping[str, Any] | None = None  # query-parameter schema
    errors: tuple[int, ...] = ()  # documented error statuses besides 400/401/500
    public: bool = False  # no bearer token needed
    media_types: tuple[str, ...] = ("application/json",)  # success representations

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


def _command(
    method: str,
    path: str,
    handler: str,
    who: str,
    summary: str,
    body: Mapping[str, Any],
    *,
    response: Mapping[str, Any],
    status: int = 200,
    errors: tuple[int, ...] = (),
) -> Route:
    return Route(
        method=method,
        path=path,
        handler=handler,
        function=COMMANDS,
        who=who,
        summary=summary,
        status=status,
        body=body,
        response=response,
        errors=(403, *errors, 409, 413, 415, 422),
    )


ROUTES: tuple[Route, ...] = (
    _command(
        "POST", "/locations", "create_location", "admin", "Create a location", s.CREATE_LOCATION, status=201, response=s.LOCATION_CREATED
    ),
    _command(
        "POST",
        "/locations/{location_id}/employees",
        "add_employee",
        "admin",
        "Add an employee to a location",
        s.ADD_EMPLOYEE,
        status=201,
        response=s.EMPLOYEE_ADDED,
        errors=(404,),
    ),
    _command(
        "PUT",
        "/locations/{location_id}/approver",
        "assign_approver",
        "admin",
        "Make an employee of the location its approver",
        s.ASSIGN_APPROVER,
        response=s.APPROVER_ASSIGNED,
        errors=(404,),
    ),
    _command(
        "PUT",
        "/locations/{location_id}/policy",
        "set_policy",
        "admin",
        "Set the location's leave policy",
        s.SET_POLICY,
        response=s.POLICY_ASSIGNED,
        errors=(404,),
    ),
    _command(
        "PUT",
        "/employees/{employee_id}/working-week",
        "set_working_week",
        "admin",
        "Set the employee's working days",
        s.SET_WORKING_WEEK,
        response=s.WORKING_WEEK_CHANGED,
        errors=(404,),
    ),
    _command(
        "POST",
        "/employees/{employee_id}/leave-requests",
        "request_leave",
        "the employee",
        "Request leave",
        s.REQUEST_LEAVE,
        status=201,
        response=s.LEAVE_RECORDED,
        errors=(404,),
    ),
    _command(
        "POST",
        "/leave-requests/{request_id}/approve",
        "approve_leave",
        "the location's approver",
        "Approve a pending leave request",
        s.APPROVE,
        response=s.LEAVE_DECIDED,
        errors=(404,),
    ),
    _command(
        "POST",
        "/leave-requests/{request_id}/deny",
        "deny_leave",
        "the location's approver",
        "Deny a pending leave request",
        s.DENY,
        response=s.LEAVE_DECIDED,
        errors=(404,),
    ),
    _command(
        "POST",
        "/leave-requests/{request_id}/cancel",
        "cancel_leave",
        "the requester",
        "Cancel one's own leave request",
        s.CANCEL,
        response=s.LEAVE_DECIDED,
        errors=(404,),
    ),
    _command(
        "POST",
        "/employees/{employee_id}/past-leaves",
        "add_past_leave",
        "approver or admin",
        "Record a leave already taken",
        s.ADD_PAST_LEAVE,
        status=201,
        response=s.LEAVE_RECORDED,
        errors=(404,),
    ),
    _command(
        "POST",
        "/employees/{employee_id}/transfer",
        "transfer_employee",
        "admin",
        "Move an employee to another location",
        s.TRANSFER,
        response=s.EMPLOYEE_TRANSFERRED,
        errors=(404,),
    ),
    _command(
        "POST",
        "/rollovers",
        "rollover",
        "admin (and the yearly schedule)",
        "Roll unused days of a year over into the next",
        s.ROLLOVER,
        status=202,
        response=s.ROLLOVER_DONE,
    ),
    Route(
        method="GET",
        path="/employees/{employee_id}/balance",
        handler="get_balance",
        function=QUERIES,
        who="the employee, their approver, admin",
        summary="Leave balance of an employee for a year",
        status=200,
        query=s.BALANCE_QUERY,
        response=s.BALANCE,
        errors=(403, 404),
    ),
    Route(
        method="GET",
        path="/approvers/{employee_id}/pending",
        handler="get_pending",
        function=QUERIES,
        who="that approver",
        summary="Leave requests waiting for this approver",
        status=200,
        query=s.NO_QUERY,
        response=s.PENDING,
        errors=(403,),
    ),
    Route(
        method="GET",
        path="/locations/{location_id}/calendar",
        handler="get_calendar",
        function=QUERIES,
        who="members, admin",
        summary="Team calendar of a location (JSON, or iCalendar with Accept: text/calendar)",
        status=200,
        query=s.CALENDAR_QUERY,
        response=s.CALENDAR,
        errors=(403, 404),
        media_types=("application/json", "text/calendar"),
    ),
    Route(
        method="GET",
        path="/streams/{stream_id}/events",
        handler="get_stream_events",
        function=QUERIES,
        who="admin",
        summary="Audit history of a stream, oldest first",
        status=200,
        query=s.NO_QUERY,
        response=s.EVENTS,
        errors=(403, 404),
    ),
    Route(
        method="GET",
        path="/admin/projections/stuck",
        handler="get_stuck_streams",
        function=QUERIES,
        who="admin",
        summary="Streams a projector is stuck on (an event it cannot apply), per projection",
        status=200,
        query=s.NO_QUERY,
        response=s.STUCK_STREAMS,
        errors=(403,),
    ),
    Route(
        method="GET",
        path="/openapi.json",
        handler="get_openapi",
        function=COMMANDS,
        who="anyone",
        summary="This API's OpenAPI document",
        status=200,
        response=s.OPENAPI_DOCUMENT,
        public=True,
    ),
)

BY_KEY: dict[str, Route] = {route.key: route for route in ROUTES}
COMMAND_ROUTES: tuple[Route, ...] = tuple(route for route in ROUTES if route.function == COMMANDS)
QUERY_ROUTES: tuple[Route, ...] = tuple(route for route in ROUTES if route.function == QUERIES)


@dataclass(frozen=True)
class Match:
    """The route of a request and its validated path parameters."""

    route: Route
    params: dict[str, str]


def match(event: Mapping[str, Any], routes: tuple[Route, ...] = ROUTES, *, check: bool = True) -> Match:
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
    """Check each path parameter against `schemas.PATH_PARAMETERS`; 400 naming the first bad one."""
    found = []
    for name in route.params:
        found.extend(schema_errors(params.get(name, ""), s.PATH_PARAMETERS[name], f"path.{name}"))
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


def serve(event: Mapping[str, Any], routes: tuple[Route, ...], dispatch: Dispatch) -> dict[str, Any]:
    """One request, end to end: match a route, run `dispatch`, answer an `HttpError` in the
    error format and any other exception as a 500 `internal_error` carrying the correlation
    id (with the traceback in the log), then write the one access-log line of the request."""
    started = time.perf_counter()
    correlation = http.correlation_id(event)
    route = str(event.get("routeKey") or f"{http.method(event)} {http.path(event)}")
    fields: dict[str, Any] = {}
    try:
        found = match(event, routes, check=False)
        route = found.route.key
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
