"""HTTP plumbing for API Gateway HTTP API (payload format 2.0): the caller from the JWT
claims, headers, query strings, JSON bodies, responses, the error format and the access log.

Shared by a service's commands and queries handlers (stdlib only, no event store). The
error format every handler answers is `ERROR_SCHEMA`: ``{"error": {"code", "message",
"field"?, "details"?, "correlation_id"?}}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from ._frozen import frozen_dataclass

MAX_BODY_BYTES = 16 * 1024
JSON_CONTENT_TYPE = "application/json"

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = "^[A-Za-z0-9_.:-]{1,128}$"
IDEMPOTENCY_KEY: dict[str, Any] = {
    "type": "string",
    "pattern": IDEMPOTENCY_KEY_PATTERN,
    "description": "1-128 characters: letters, digits, `_ . : -` (a UUID is fine).",
}
"""The schema of the `Idempotency-Key` header writes accept (`commands.CommandsApp`)."""


@frozen_dataclass
class Caller:
    """Who is calling, from the claims the API's JWT authorizer has already verified.

    `id` is the value of the one identity claim the deployment names (environment
    `IDENTITY_CLAIM`, default `sub`; see `identity_claim`), never another claim in its
    place; `subject` is the token's `sub` (it scopes idempotency keys); `roles` come from
    `cognito:groups`.
    """

    id: str
    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def has_role(self, role: str) -> bool:
        return role in self.roles


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z_]+$"},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "The offending field, e.g. `body.days[2]`."},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                        "additionalProperties": False,
                        "required": ["field", "message"],
                    },
                },
                "correlation_id": {"type": "string"},
            },
            "additionalProperties": False,
            "required": ["code", "message"],
        }
    },
    "additionalProperties": False,
    "required": ["error"],
    "title": "Error",
}
"""The JSON Schema of every handler error (`error_response`), as the OpenAPI document publishes it."""


class HttpError(Exception):
    """An error the client caused (or may retry): becomes `{"error": {"code", "message"}}`."""

    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None, details: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details

    def response(self) -> dict[str, Any]:
        return error_response(self.status, self.code, self.message, field=self.field, details=self.details)


def bad_request(
    message: str, *, code: str = "invalid_request", field: str | None = None, details: list[dict[str, str]] | None = None
) -> HttpError:
    """A 400 that names the offending field."""
    return HttpError(400, code, message, field=field, details=details)


# --- the request -----------------------------------------------------------------------


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header, looked up case-insensitively (API Gateway lower-cases them, tests may not)."""
    headers = event.get("headers") or {}
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def method(event: Mapping[str, Any]) -> str:
    """The HTTP method, upper-case."""
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(http.get("method") or event.get("httpMethod") or "").upper()


def path(event: Mapping[str, Any]) -> str:
    """The request path without the stage prefix (`/dev/locations` -> `/locations`)."""
    http = (event.get("requestContext") or {}).get("http") or {}
    raw = str(event.get("rawPath") or http.get("path") or "/")
    stage = (event.get("requestContext") or {}).get("stage")
    if stage and stage != "$default" and (raw == f"/{stage}" or raw.startswith(f"/{stage}/")):
        raw = raw[len(stage) + 1 :] or "/"
    return raw


def query(event: Mapping[str, Any]) -> dict[str, str]:
    """Query-string parameters (repeated ones arrive comma-joined, as API Gateway sends them)."""
    return dict(event.get("queryStringParameters") or {})


def correlation_id(event: Mapping[str, Any]) -> str:
    """API Gateway's request id, or a fresh one when there is none (local calls, tests)."""
    request_id = (event.get("requestContext") or {}).get("requestId")
    return str(request_id) if request_id else os.urandom(16).hex()


def claims(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The JWT claims the HTTP API authorizer put in the event (empty if none)."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    jwt = authorizer.get("jwt") or {}
    found = jwt.get("claims") or authorizer.get("claims") or {}
    return found if isinstance(found, Mapping) else {}


def parse_groups(value: Any) -> frozenset[str]:
    """`cognito:groups` in every shape API Gateway passes it: `"[admin approver]"`,
    `"admin"`, `"admin,approver"`, a JSON list as text, or a real list."""
    if value is None:
        return frozenset()
    if isinstance(value, (list, tuple)):
        return frozenset(str(item).strip() for item in value if str(item).strip())
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return parse_groups(parsed)
        text = text.strip("[]")
    return frozenset(part for part in text.replace(",", " ").split() if part)


#: The environment variable naming the claim that identifies the caller (set by the
#: infrastructure to a claim users cannot change: `sub`, or an immutable attribute no app
#: client may write, such as the created Cognito pool's `custom:employee_id`).
IDENTITY_CLAIM_ENV = "IDENTITY_CLAIM"
DEFAULT_IDENTITY_CLAIM = "sub"


def identity_claim() -> str:
    """The claim this deployment takes the caller's identity from (`sub` unless configured)."""
    return os.environ.get(IDENTITY_CLAIM_ENV, "").strip() or DEFAULT_IDENTITY_CLAIM


def caller(event: Mapping[str, Any]) -> Caller:
    """The caller from the verified claims: the employee is the value of exactly the
    configured identity claim, never another claim in its place (a token may carry claims
    its user can edit). 401 without claims, or without that claim."""
    found = claims(event)
    if not found:
        raise HttpError(401, "unauthorized", "a valid bearer token is required")
    claim = identity_claim()
    identity = str(found.get(claim) or "").strip()
    if not identity:
        raise HttpError(401, "unauthorized", f"the token has no {claim!r} claim, which this API identifies callers by")
    subject = str(found.get("sub") or "").strip() or identity
    return Caller(id=identity, subject=subject, roles=parse_groups(found.get("cognito:groups")))


def raw_body(event: Mapping[str, Any], max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The body as bytes, base64-decoded if API Gateway encoded it; 413 if too large."""
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise bad_request("the request body must be JSON text", code="malformed_json", field="body")
    if len(body) > 2 * max_bytes:  # cheap early stop before decoding anything huge
        raise _too_large(max_bytes)
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise bad_request("the request body is not valid base64", code="malformed_body", field="body") from exc
    else:
        data = body.encode("utf-8", "surrogatepass")  # invalid UTF-8 then, rejected below
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def json_body(event: Mapping[str, Any], max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The parsed JSON body. An absent or empty body is `{}` (for `approve`, `cancel`).

    415 if a non-JSON content type is declared, 413 above `max_bytes`, 400 for anything
    that is not strict JSON (NaN, Infinity, numbers that overflow, invalid UTF-8, lone
    surrogates) and for an object that repeats a key (`{"name": "a", "name": "b"}`: parsers
    disagree on which one wins, so the request is ambiguous; the message names the key)."""
    content_type = header(event, "content-type")
    media = (content_type or "").split(";")[0].strip().lower()
    if media and media != JSON_CONTENT_TYPE and not media.endswith("+json"):
        raise HttpError(415, "unsupported_media_type", f"Content-Type must be {JSON_CONTENT_TYPE}")
    data = raw_body(event, max_bytes)
    if not data.strip():
        return {}
    try:
        parsed = json.loads(
            data.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float, object_pairs_hook=_unique_keys
        )
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")  # a lone surrogate escape like \ud800 is not text
        return parsed
    except DuplicateKeyError as exc:
        raise bad_request(
            f"the request body repeats the key {json.dumps(exc.key, ensure_ascii=False)[:80]} in one object",
            code="malformed_json",
            field="body",
        ) from exc
    except UnicodeError as exc:
        raise bad_request("the request body is not valid UTF-8 text", code="malformed_json", field="body") from exc
    except (ValueError, RecursionError) as exc:
        detail = f" ({exc})" if isinstance(exc, json.JSONDecodeError) else ""
        raise bad_request(f"the request body is not valid JSON{detail}", code="malformed_json", field="body") from exc


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`object_pairs_hook` of `json.loads`: the object, unless a key repeats."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return found


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _too_large(max_bytes: int) -> HttpError:
    return HttpError(413, "payload_too_large", f"the request body must not exceed {max_bytes} bytes")


# --- the response ----------------------------------------------------------------------


def json_response(status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway v2 response with a JSON body (`{}` when `body` is None)."""
    return {
        "statusCode": status,
        "headers": {"content-type": JSON_CONTENT_TYPE, **(headers or {})},
        "body": json.dumps({} if body is None else body, separators=(",", ":"), ensure_ascii=False),
        "isBase64Encoded": False,
    }


def text_response(status: int, text: str, content_type: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A non-JSON response (e.g. the iCalendar feed)."""
    return {"statusCode": status, "headers": {"content-type": content_type, **(headers or {})}, "body": text, "isBase64Encoded": False}


def error_response(
    status: int, code: str, message: str, *, field: str | None = None, details: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """`{"error": {"code", "message"}}`, plus `field` and `details` when known."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    if details:
        error["details"] = details
    return json_response(status, {"error": error})


# --- the access log --------------------------------------------------------------------


def log(record: Mapping[str, Any]) -> None:
    """One JSON line on stdout (CloudWatch keeps it as one structured log event)."""
    sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def log_request(event: Mapping[str, Any], *, route: str, status: int, started: float, correlation: str, **extra: Any) -> None:
    """The request's access-log line: route, status, latency (ms since `started`), correlation id."""
    log(
        {
            "level": "ERROR" if status >= 500 else "INFO",
            "message": "request",
            "route": route,
            "method": method(event),
            "path": path(event),
            "status": status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "correlation_id": correlation,
            **extra,
        }
    )
