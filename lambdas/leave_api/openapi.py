"""The OpenAPI 3.1 document of the leave API, built from the route table and the same
schemas the handlers validate with (so the document cannot drift from the code).

Two error shapes reach a client, and each response declares the ones it can carry:
the handlers answer `Error` (`{"error": {"code", "message", ...}}`); API Gateway itself
answers `GatewayError` (`{"message": "Unauthorized"}`) when it stops a request before any
function runs (no or bad token: 401; no route: 404; over its 10 MB payload limit: 413;
throttled: 429; the function crashed or timed out: 500). The local stack's HTTP API
answers the same.

`servers` comes from configuration, never from the request: `API_URL` (the component sets
it to the API's endpoint; the local stack to its own URL); unset, it is the relative `/`,
which OpenAPI resolves against the URL the document was fetched from (this API's root).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from leave_api import schemas as s
from leave_api.http import MAX_BODY_BYTES
from leave_api.routes import ROUTES, Route

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

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

ERROR_RESPONSES: dict[int, tuple[str, str, tuple[str, ...]]] = {
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
    403: ("Forbidden", "The caller may not do this (`forbidden`, or the domain's reason, e.g. `not_the_approver`).", (HANDLER,)),
    404: (
        "NotFound",
        'Unknown id (`not_found`, `employee_not_found`, ...); API Gateway answers `{"message": "Not Found"}` '
        "for a path no route matches (e.g. an empty path segment).",
        (HANDLER, GATEWAY),
    ),
    409: (
        "Conflict",
        "Concurrent change (`concurrent_modification`: reload and retry) or invalid state "
        "(`invalid_state`, e.g. approving a decided request).",
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
        "A domain rule is broken (`rule_violated`, e.g. not enough days left), or the "
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

GATEWAY_STATUSES = frozenset({429, 500})
"""Statuses API Gateway may answer on any route (throttling, a failed function)."""

LINKS: dict[str, dict[str, dict[str, str]]] = {
    # operationId -> {target operationId (also the link's name): {its parameter: runtime expression}}
    "create_location": {
        "add_employee": {"location_id": "$response.body#/location_id"},
        "assign_approver": {"location_id": "$response.body#/location_id"},
        "set_policy": {"location_id": "$response.body#/location_id"},
        "get_calendar": {"location_id": "$response.body#/location_id"},
    },
    "add_employee": {
        "set_working_week": {"employee_id": "$response.body#/employee_id"},
        "request_leave": {"employee_id": "$response.body#/employee_id"},
        "add_past_leave": {"employee_id": "$response.body#/employee_id"},
        "transfer_employee": {"employee_id": "$response.body#/employee_id"},
        "get_balance": {"employee_id": "$response.body#/employee_id"},
        "assign_approver": {"location_id": "$response.body#/location_id"},
    },
    "assign_approver": {"get_pending": {"employee_id": "$response.body#/approver_id"}},
    "request_leave": {
        "approve_leave": {"request_id": "$response.body#/request_id"},
        "deny_leave": {"request_id": "$response.body#/request_id"},
        "cancel_leave": {"request_id": "$response.body#/request_id"},
    },
    "add_past_leave": {"cancel_leave": {"request_id": "$response.body#/request_id"}},
}

DESCRIPTION = f"""Event-sourced leave tracking. Writes append events; reads come from eventually
consistent read models.

* Every request carries `Authorization: Bearer <JWT>`; the caller is the value of the one identity
  claim the deployment configures (`sub` by default; the immutable `custom:employee_id` with the
  Cognito pool the service creates), never another claim in its place; roles are its
  `cognito:groups`. No actor id is taken from a body.
* Request bodies are JSON (`Content-Type: application/json` or none), at most {MAX_BODY_BYTES} bytes
  (413 above, 415 for other media types). Unknown fields and repeated keys are rejected.
* Writes accept `Idempotency-Key`: the same key and body again returns the first response and
  changes nothing; the same key with another body is 422 `idempotency_key_reused`. Keys are scoped
  to the caller and kept with the events.
* Errors are `{{"error": {{"code": "...", "message": "..."}}}}` (`Error`), plus `field`/`details`
  for 400s. Requests API Gateway stops itself (401 no or bad token, 404 no route, 413 over
  {GATEWAY_PAYLOAD_LIMIT}, 429 throttled, 500 function failed) get its own `{{"message": "..."}}`
  (`GatewayError`); each response lists the shapes it may carry.
"""


def document(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI document (a fresh copy the caller may change), its `servers` being
    `server_url` (trailing `/` dropped) or, without one, the relative `/`: the root of
    wherever the document was fetched from. Never derived from request headers."""
    doc = json.loads(_document_text())
    url = (server_url or "").strip().rstrip("/")
    doc["servers"] = [{"url": url or "/", "description": "this API" if url else "relative: where this document was fetched from"}]
    return doc


def configured_server_url() -> str | None:
    """The API's public base URL from `API_URL`, or None when it is not configured."""
    return os.environ.get(API_URL_ENV, "").strip() or None


@lru_cache(maxsize=1)
def _document_text() -> str:
    """The document as JSON text, built once per process."""
    component_schemas: dict[str, Any] = {HANDLER: s.ERROR, GATEWAY: GATEWAY_ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, component_schemas)
    doc = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Leave tracking API", "version": API_VERSION, "description": DESCRIPTION},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "commands", "description": "Writes (append events)"},
            {"name": "queries", "description": "Reads (eventually consistent read models)"},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A JWT from the stack's issuer (Cognito or OIDC).",
                },
            },
            "schemas": component_schemas,
            "parameters": {
                **{name: _path_parameter(name, schema) for name, schema in s.PATH_PARAMETERS.items()},
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": s.IDEMPOTENCY_KEY,
                    "description": "Makes a retried write safe: same key and body, same response.",
                },
            },
            "responses": {name: _error_response(status) for status, (name, _, _) in ERROR_RESPONSES.items()},
        },
    }
    return json.dumps(doc, sort_keys=False)


ETAG_HEADER = {"description": "Strong validator of this answer (a digest of its body).", "schema": {"type": "string"}}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An `ETag` from an earlier answer (or `*`): 304 Not Modified if the answer has not changed.",
    "schema": {"type": "string"},
}


def _operation(route: Route, component_schemas: dict[str, Any]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [{"$ref": f"#/components/parameters/{name}"} for name in route.params]
    if route.query:
        required = set(route.query.get("required", ()))
        parameters += [
            {"name": name, "in": "query", "required": name in required, "schema": schema}
            for name, schema in route.query.get("properties", {}).items()
        ]
    if route.idempotent:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
    responses = {str(route.status): _success(route, component_schemas), **_errors(route)}
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


def _success(route: Route, component_schemas: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for media in route.media_types:
        content[media] = {"schema": _ref(route.response, component_schemas) if media.endswith("json") else {"type": "string"}}
    response: dict[str, Any] = {"description": "Success", "content": content}
    if links := _links(route):
        response["links"] = links
    return response


def _links(route: Route) -> dict[str, Any]:
    """OpenAPI links from this operation's success to the operations its answer's ids feed."""
    return {
        target: {
            "operationId": target,
            "parameters": parameters,
            "description": f"{', '.join(parameters)} from this answer",
        }
        for target, parameters in LINKS.get(route.handler, {}).items()
    }


def _error_response(status: int) -> dict[str, Any]:
    _, description, shapes = ERROR_RESPONSES[status]
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
