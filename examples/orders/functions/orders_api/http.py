"""HTTP API (payload 2.0) plumbing of the orders functions: the caller, the JSON body, the
error format. Stdlib only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orders.domain import OrderError

STATUS_OF_KIND = {"not_found": 404, "forbidden": 403, "invalid_state": 409, "rule": 422}
"""The one mapping from a domain refusal to an HTTP status (the domain knows no statuses)."""


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@dataclass(frozen=True)
class Caller:
    employee_id: str
    groups: frozenset[str]


def caller(event: Mapping[str, Any], identity_claim: str) -> Caller:
    """The caller from the claims the API's JWT authorizer verified: exactly `identity_claim`."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    who = str(claims.get(identity_claim) or "").strip()
    if not who:
        raise HttpError(401, "unauthorized", f"the token has no {identity_claim!r} claim")
    groups = claims.get("cognito:groups") or ""
    if isinstance(groups, str):
        groups = groups.strip("[]").replace(",", " ").split()
    return Caller(who, frozenset(str(g) for g in groups))


def json_body(event: Mapping[str, Any]) -> dict[str, Any]:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        import base64

        body = base64.b64decode(body).decode("utf-8", "replace")
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise HttpError(400, "malformed_json", f"the body is not JSON: {exc}", "body") from exc
    if not isinstance(parsed, dict):
        raise HttpError(400, "invalid_request", "the body must be a JSON object", "body")
    return parsed


def response(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body, separators=(",", ":"))}


def error(exc: HttpError | OrderError) -> dict[str, Any]:
    if isinstance(exc, OrderError):
        exc = HttpError(STATUS_OF_KIND[exc.kind], exc.code, exc.message)
    detail: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.field:
        detail["field"] = exc.field
    return response(exc.status, {"error": detail})
