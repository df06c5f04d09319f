"""The OpenAPI 3.1 document of a service's HTTP API, built from its route table and the same
schemas the handlers validate with (so the document cannot drift from the code).

    INFO = ApiInfo(title="Orders API", description="...", links={...})
    doc = document(ROUTES, INFO, server_url=configured_server_url())

Two error shapes reach a client, and each response declares the ones it can carry:
the handlers answer `Error` (`{"error": {"code", "message", ...}}`, `http.ERROR_SCHEMA`);
API Gateway itself answers `GatewayError` (`{"message": "Unauthorized"}`) when it stops a
request before any function runs (no or bad token: 401; no route: 404; over its 10 MB
payload limit: 413; throttled: 429; the function crashed or timed out: 500). The local
stack's HTTP API answers the same.

`servers` comes from configuration, never from the request: `API_URL` (the component sets
it to the API's endpoint; the local stack to its own URL); unset, it is the relative `/`,
which OpenAPI resolves against the URL the document was fetched from (this API's root).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .http import ERROR_SCHEMA, IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY, MAX_BODY_BYTES
from .routes import Route

OPENAPI_VERSION = "3.1.0"

API_URL_ENV = "API_URL"
"""The environment variable holding the API's public base URL (the OpenAPI `servers`)."""

GATEWAY_PAYLOAD_LIMIT = "10 MB"
"""API Gateway HTTP API's request payload quota: above it the gateway answers 413 itself."""

GATEWAY_ERROR: dict[str, Any] = {
    "title": "GatewayError",
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string", "examples": ["Unauthorized", "Not Found"]}},
    "additionalProperties": False,
    "description": "API Gateway's own answer, before any function runs: "
    '`{"message": "Unauthorized" | "Not Found" | "Request Entity Too Large" | '
    '"Too Many Requests" | "Internal Server Error"}`.',
}

HANDLER = "Error"
GATEWAY = "GatewayError"

ERROR_RESPONSES: Mapping[int, tuple[str, str, tuple[str, ...]]] = {
    400: (
        "BadRequest",
        "Malformed or schema-invalid input (`malformed_json`, `invalid_request`, "
        "`invalid_idempotency_key`); `error.field` names the offending field, e.g. `body.days[2]`.",
        (HANDLER,),
    ),
    401: (
        "Unauthorized",
        'No, expired or otherwise invalid bearer token: API Gateway\'s JWT authorizer answers `{"message": "Unauthorized"}` '
        "with a `WWW-Authenticate` header saying why; a verified token that names nobody is `unauthorized`.",
        (GATEWAY, HANDLER),
    ),
    403: ("Forbidden", "The caller may not do this (`forbidden`, or the domain's reason).", (HANDLER,)),
    404: (
        "NotFound",
        'Unknown id (`not_found`, or the domain\'s code); API Gateway answers `{"message": "Not Found"}` '
        "for a path no route matches (e.g. an empty path segment).",
        (HANDLER, GATEWAY),
    ),
    409: (
        "Conflict",
        "Concurrent change (`concurrent_modification`: reload and retry) or a state that does not allow it (the domain's code).",
        (HANDLER,),
    ),
    413: (
        "PayloadTooLarge",
        f"The body exceeds {MAX_BODY_BYTES} bytes (`payload_too_large`); above API Gateway's "
        f'{GATEWAY_PAYLOAD_LIMIT} the gateway answers `{{"message": "Request Entity Too Large"}}`.',
        (HANDLER, GATEWAY),
    ),
    415: ("UnsupportedMediaType", "A Content-Type other than `application/json` (`unsupported_media_type`).", (HANDLER,)),
    422: (
        "Unprocessable",
        "A domain rule is broken (the domain's code), or the "
        "Idempotency-Key was already used with another request (`idempotency_key_reused`).",
        (HANDLER,),
    ),
    429: (
        "TooManyRequests",
        'Over the stage\'s throttling limits: API Gateway answers `{"message": "Too Many Requests"}`; retry with backoff.',
        (GATEWAY,),
    ),
    500: (
        "InternalError",
        "Unexpected failure (`internal_error`; `error.correlation_id` identifies the logs), or the "
        'function crashed or timed out and API Gateway answers `{"message": "Internal Server Error"}`.',
        (HANDLER, GATEWAY),
    ),
}

"""Status -> (component name, description, the shapes it may carry); an `ApiInfo` may reword descriptions."""

GATEWAY_STATUSES = frozenset({429, 500})
"""Statuses API Gateway may answer on any route (throttling, a failed function)."""


@dataclass(frozen=True, kw_only=True)
class ApiInfo:
    """What the document says besides the routes: its `info`, tags, links between
    operations, and (optionally) a service's own wording of the error responses."""

    title: str
    version: str = "1.0.0"
    description: str = ""
    links: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    """operationId -> {target operationId (also the link's name): {its parameter: runtime expression}}."""
    error_descriptions: Mapping[int, str] = field(default_factory=dict)
    """Status -> description, replacing `ERROR_RESPONSES`' generic one."""
    bearer_description: str = "A JWT from the stack's issuer (Cognito or OIDC)."
    tags: tuple[tuple[str, str], ...] = (("commands", "Writes (append events)"), ("queries", "Reads (eventually consistent read models)"))


def document(routes: Sequence[Route], info: ApiInfo, server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI document of `routes` (a new dict the caller may change), its `servers`
    being `server_url` (trailing `/` dropped) or, without one, the relative `/`: the root
    of wherever the document was fetched from. Never derived from request headers."""
    return {**build(routes, info), "servers": servers(server_url)}


def servers(server_url: str | None) -> list[dict[str, str]]:
    """The document's `servers`: `server_url` (trailing `/` dropped), or the relative `/`."""
    url = (server_url or "").strip().rstrip("/")
    return [{"url": url or "/", "description": "this API" if url else "relative: where this document was fetched from"}]


def configured_server_url() -> str | None:
    """The API's public base URL from `API_URL`, or None when it is not configured."""
    return os.environ.get(API_URL_ENV, "").strip() or None


def build(routes: Sequence[Route], info: ApiInfo) -> dict[str, Any]:
    """The document without `servers`; `ValueError` if two schemas share a title or two
    routes give one path parameter different schemas."""
    component_schemas: dict[str, Any] = {HANDLER: ERROR_SCHEMA, GATEWAY: GATEWAY_ERROR}
    parameters: dict[str, Mapping[str, Any]] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        for name in route.params:
            schema = route.parameter_schema(name)
            if parameters.setdefault(name, schema) != schema:
                raise ValueError(f"path parameter {name!r} has two different schemas")
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, info, component_schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": info.title, "version": info.version, "description": info.description},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{"bearerAuth": []}],
        "tags": [{"name": name, "description": description} for name, description in info.tags],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": info.bearer_description},
            },
            "schemas": component_schemas,
            "parameters": {
                **{name: _path_parameter(name, schema) for name, schema in parameters.items()},
                "IdempotencyKey": {
                    "name": IDEMPOTENCY_HEADER,
                    "in": "header",
                    "required": False,
                    "schema": IDEMPOTENCY_KEY,
                    "description": "Makes a retried write safe: same key and body, same response.",
                },
            },
            "responses": {name: _error_response(status, info) for status, (name, _, _) in ERROR_RESPONSES.items()},
        },
    }


ETAG_HEADER = {"description": "Strong validator of this answer (a digest of its body).", "schema": {"type": "string"}}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An `ETag` from an earlier answer (or `*`): 304 Not Modified if the answer has not changed.",
    "schema": {"type": "string"},
}


def _operation(route: Route, info: ApiInfo, component_schemas: dict[str, Any]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [{"$ref": f"#/components/parameters/{name}"} for name in route.params]
    if route.query:
        required = set(route.query.get("required", ()))
        parameters += [
            {"name": name, "in": "query", "required": name in required, "schema": schema}
            for name, schema in route.query.get("properties", {}).items()
        ]
    if route.idempotent:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
    responses = {str(route.status): _success(route, info, component_schemas), **_errors(route)}
    if route.conditional:
        parameters.append(IF_NONE_MATCH)
        responses[str(route.status)]["headers"] = {"ETag": ETAG_HEADER}
        responses["304"] = {
            "description": "Not Modified: the answer still has the `ETag` sent in `If-None-Match`; no body.",
            "headers": {"ETag": ETAG_HEADER},
        }
    operation: dict[str, Any] = {
        "operationId": route.handler,
        "summary": route.summary,
        "description": f"Who: {route.who}.",
        "tags": ["commands" if route.method != "GET" else "queries"],
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": bool(route.body.get("required")),
            "content": {"application/json": {"schema": _ref(route.body, component_schemas)}},
        }
    if route.public:
        operation["security"] = []
    return operation


def _success(route: Route, info: ApiInfo, component_schemas: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for media in route.media_types:
        content[media] = {"schema": _ref(route.response, component_schemas) if media.endswith("json") else {"type": "string"}}
    response: dict[str, Any] = {"description": "Success", "content": content}
    if links := _links(route, info):
        response["links"] = links
    return response


def _links(route: Route, info: ApiInfo) -> dict[str, Any]:
    """OpenAPI links from this operation's success to the operations its answer's ids feed."""
    return {
        target: {
            "operationId": target,
            "parameters": parameters,
            "description": f"{', '.join(parameters)} from this answer",
        }
        for target, parameters in info.links.get(route.handler, {}).items()
    }


def _error_response(status: int, info: ApiInfo) -> dict[str, Any]:
    _, description, shapes = ERROR_RESPONSES[status]
    description = info.error_descriptions.get(status, description)
    refs = [{"$ref": f"#/components/schemas/{shape}"} for shape in shapes]
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": refs[0] if len(refs) == 1 else {"oneOf": refs}}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {
                "description": 'From API Gateway: why the token was refused, e.g. `Bearer error="invalid_token"`.',
                "schema": {"type": "string"},
            }
        }
    return response


def _errors(route: Route) -> dict[str, Any]:
    statuses = {*GATEWAY_STATUSES, *route.errors} | (set() if route.public else {400, 401})
    if route.body is None:
        statuses -= {413, 415}
    return {str(status): {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"} for status in sorted(statuses)}


def _ref(schema: Mapping[str, Any], component_schemas: dict[str, Any]) -> dict[str, str]:
    name = schema["title"]
    if component_schemas.setdefault(name, schema) != schema:
        raise ValueError(f"two different schemas are titled {name!r}")
    return {"$ref": f"#/components/schemas/{name}"}


def _path_parameter(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        **({"description": schema["description"]} if "description" in schema else {}),
    }
