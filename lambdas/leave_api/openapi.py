"""The leave API's OpenAPI 3.1 document: the runtime library's generator
(`acme_eventsourcing.runtime.openapi`) on the route table of `leave_api.api`, with the
leave's title, description, links and wording of its errors.

Served by the commands function at `GET /openapi.json` (imported only for that route).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from acme_eventsourcing.runtime.http import MAX_BODY_BYTES
from acme_eventsourcing.runtime.openapi import (  # noqa: F401 - the document's vocabulary, for tests and readers
    API_URL_ENV,
    ERROR_RESPONSES,
    GATEWAY,
    GATEWAY_ERROR,
    GATEWAY_PAYLOAD_LIMIT,
    GATEWAY_STATUSES,
    HANDLER,
    OPENAPI_VERSION,
    ApiInfo,
    build,
    configured_server_url,
    servers,
)

from leave_api.api import ROUTES

API_VERSION = "1.0.0"

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
    "create_calendar_feed": {
        "rotate_calendar_feed": {"feed_id": "$response.body#/feed_id"},
        "revoke_calendar_feed": {"feed_id": "$response.body#/feed_id"},
    },
}

DESCRIPTION = f"""Event-sourced leave tracking. Writes append events; reads come from eventually
consistent read models.

* Every request but the public ones (`GET /openapi.json`, and `GET /calendar-feeds/<token>.ics`,
  whose secret token is the credential) carries `Authorization: Bearer <JWT>`; the caller is the value of the one identity
  claim the deployment configures (`sub` by default; the immutable `custom:employee_id` with the
  Cognito pool the service creates), never another claim in its place; roles are its
  `cognito:groups`. No actor id is taken from a body.
* Request bodies are JSON (`Content-Type: application/json` or none), at most {MAX_BODY_BYTES} bytes
  (413 above, 415 for other media types). Unknown fields and repeated keys are rejected.
* Writes accept `Idempotency-Key`: the same key and body again returns the first response and
  changes nothing; the same key with another body is 422 `idempotency_key_reused`. Keys are scoped
  to the caller and kept with the events. A calendar feed's `url` is answered once: a replay
  answers the feed without it (the token is stored nowhere in clear).
* Errors are `{{"error": {{"code": "...", "message": "..."}}}}` (`Error`), plus `field`/`details`
  for 400s. Requests API Gateway stops itself (401 no or bad token, 404 no route, 413 over
  {GATEWAY_PAYLOAD_LIMIT}, 429 throttled, 500 function failed) get its own `{{"message": "..."}}`
  (`GatewayError`); each response lists the shapes it may carry.
"""


ERROR_DESCRIPTIONS = {
    403: "The caller may not do this (`forbidden`, or the domain's reason, e.g. `not_the_approver`).",
    404: 'Unknown id (`not_found`, `employee_not_found`, ...); API Gateway answers `{"message": "Not Found"}` '
    "for a path no route matches (e.g. an empty path segment).",
    409: "Concurrent change (`concurrent_modification`: reload and retry) or invalid state "
    "(`invalid_state`, e.g. approving a decided request).",
    422: "A domain rule is broken (`rule_violated`, e.g. not enough days left), or the "
    "Idempotency-Key was already used with another request (`idempotency_key_reused`).",
}

INFO = ApiInfo(title="Leave tracking API", version=API_VERSION, description=DESCRIPTION, links=LINKS, error_descriptions=ERROR_DESCRIPTIONS)


def document(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI document (a fresh copy the caller may change), its `servers` being
    `server_url` (trailing `/` dropped) or, without one, the relative `/`: the root of
    wherever the document was fetched from. Never derived from request headers."""
    return {**json.loads(_document_text()), "servers": servers(server_url)}


@lru_cache(maxsize=1)
def _document_text() -> str:
    """The document as JSON text, built once per process."""
    return json.dumps(build(ROUTES, INFO), sort_keys=False)
