"""The OpenAPI 3.1 document of the leave API, built from the route table and the same
schemas the handlers validate with (so the document cannot drift from the code)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from leave_api import schemas as s
from leave_api.http import MAX_BODY_BYTES
from leave_api.routes import ROUTES, Route

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "Malformed or schema-invalid input (`malformed_json`, `invalid_request`, "
        "`invalid_idempotency_key`); `error.field` names the offending field, e.g. `body.days[2]`.",
    ),
    401: ("Unauthorized", "No or bad bearer token (`unauthorized`)."),
    403: ("Forbidden", "The caller may not do this (`forbidden`)."),
    404: ("NotFound", "Unknown id (`not_found`)."),
    409: (
        "Conflict",
        "Concurrent change (`concurrent_modification`: reload and retry) or invalid state "
        "(`invalid_state`, e.g. approving a decided request).",
    ),
    413: ("PayloadTooLarge", f"The body exceeds {MAX_BODY_BYTES} bytes (`payload_too_large`)."),
    415: ("UnsupportedMediaType", "A Content-Type other than `application/json` (`unsupported_media_type`)."),
    422: (
        "Unprocessable",
        "A domain rule is broken (`rule_violated`, e.g. not enough days left), or the "
        "Idempotency-Key was already used with another request (`idempotency_key_reused`).",
    ),
    500: ("InternalError", "Unexpected failure (`internal_error`); `error.correlation_id` identifies the logs."),
}

DESCRIPTION = f"""Event-sourced leave tracking. Writes append events; reads come from eventually
consistent read models.

* Every request carries `Authorization: Bearer <JWT>`; the caller is the value of the one identity
  claim the deployment configures (`sub` by default; the immutable `custom:employee_id` with the
  Cognito pool the service creates), never another claim in its place; roles are its
  `cognito:groups`. No actor id is taken from a body.
* Request bodies are JSON (`Content-Type: application/json` or none), at most {MAX_BODY_BYTES} bytes
  (413 above, 415 for other media types). Unknown fields are rejected.
* Writes accept `Idempotency-Key`: the same key and body again returns the first response and
  changes nothing; the same key with another body is 422 `idempotency_key_reused`. Keys are scoped
  to the caller and kept with the events.
* Errors are `{{"error": {{"code": "...", "message": "..."}}}}`, plus `field`/`details` for 400s.
"""


def document(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI document (a fresh copy the caller may change)."""
    doc = json.loads(_document_text())
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc


@lru_cache(maxsize=1)
def _document_text() -> str:
    """The document as JSON text, built once per process."""
    component_schemas: dict[str, Any] = {"Error": s.ERROR}
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
            "responses": {
                name: {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                for name, description in ERROR_RESPONSES.values()
            },
        },
    }
    return json.dumps(doc, sort_keys=False)


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
    operation: dict[str, Any] = {
        "operationId": route.handler,
        "summary": route.summary,
        "description": f"Who: {route.who}.",
        "tags": ["commands" if route.method != "GET" else "queries"],
        "responses": {str(route.status): _success(route, component_schemas), **_errors(route)},
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
    return {"description": "Success", "content": content}


def _errors(route: Route) -> dict[str, Any]:
    statuses = {500, *route.errors} | (set() if route.public else {400, 401})
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
