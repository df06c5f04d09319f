"""Slack requests to a Lambda behind API Gateway: the signature check, the interaction payload,
the answer through `response_url` (stdlib only: it ships in function zips).

Slack signs every request it sends to an app (interactivity, slash commands, events) with the
app's signing secret:

    X-Slack-Request-Timestamp: 1531420618
    X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + raw body)>

`verify(...)` checks that over the body exactly as it was sent (`verified_body(event, ...)`
takes it from an API Gateway event, base64-decoding it when `isBase64Encoded`: HTTP APIs
encode form bodies), compares in constant time, and refuses a timestamp more than
`DEFAULT_TOLERANCE_S` (5 minutes) from now in either direction, so a captured request cannot
be replayed later. Every refusal is an `http.HttpError` 401 `invalid_slack_signature` whose
message says what was wrong (never the expected signature).

`parse_interaction(body)` reads an interactivity request (`application/x-www-form-urlencoded`
with one `payload` field holding JSON) of type `block_actions` into an `Interaction`; anything
else is a 400 naming the problem. `post_response(url, message)` posts a reply to the
interaction's `response_url`, only to Slack's own host (`hooks.slack.com`), so a request can
never make the function call elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import http
from .http import HttpError, bad_request

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
RETRY_NUM_HEADER = "X-Slack-Retry-Num"
"""Slack re-sends a request it got no timely 2xx for, with this header (1, 2, 3)."""
VERSION = "v0"
DEFAULT_TOLERANCE_S = 300
"""How far (seconds) a request's timestamp may be from now, either way: Slack's own advice."""
MAX_BODY_BYTES = 64 * 1024
"""An interaction carries the whole message it came from; Slack messages stay well under this."""
RESPONSE_URL_HOSTS: frozenset[str] = frozenset({"hooks.slack.com"})
"""The hosts `post_response` posts to."""

_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")
SLACK_ID_PATTERN = _SLACK_ID.pattern
"""Slack's ids of teams and users (`T0123ABCD`, `U0123ABCD`, `W...` for Enterprise Grid users)."""


def _refuse(message: str) -> HttpError:
    return HttpError(401, "invalid_slack_signature", message)


def signature(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` Slack sends for `body` at `timestamp`: `v0=<64 hex digits>`."""
    key = secret.encode() if isinstance(secret, str) else secret
    base = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(key, base, hashlib.sha256).hexdigest()


def signed_headers(secret: str | bytes, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers Slack would send with `body` at `timestamp` (tests, the local demo)."""
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, str(timestamp), body)}


def verify(
    secret: str | bytes, *, timestamp: str | None, sent: str | None, body: bytes, now: float, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> None:
    """Return if `sent` (the `X-Slack-Signature`) signs `body` at `timestamp` with `secret` and
    `timestamp` is within `tolerance_s` of `now` (Unix seconds); else a 401 `HttpError` saying
    which check failed. The comparison is constant-time."""
    if not secret:
        raise ValueError("the signing secret is empty")
    if timestamp is None or sent is None:
        missing = [h for h, v in ((TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, sent)) if v is None]
        raise _refuse(f"the request is not signed by Slack: {', '.join(missing)} missing")
    timestamp, sent = timestamp.strip(), sent.strip()
    if not _TIMESTAMP.match(timestamp):
        raise _refuse(f"{TIMESTAMP_HEADER} must be Unix seconds")
    if abs(now - int(timestamp)) > tolerance_s:
        raise _refuse(f"{TIMESTAMP_HEADER} is more than {tolerance_s} s from now (a replayed or delayed request)")
    if not _SIGNATURE.match(sent):
        raise _refuse(f"{SIGNATURE_HEADER} must be 'v0=' and 64 hex digits")
    expected = signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), sent.encode("ascii")):
        raise _refuse(f"{SIGNATURE_HEADER} does not match the request (wrong signing secret, or the body was changed)")


def verified_body(
    event: Mapping[str, Any], secret: str | bytes, *, now: float, tolerance_s: int = DEFAULT_TOLERANCE_S, max_bytes: int = MAX_BODY_BYTES
) -> bytes:
    """The raw body of an API Gateway (v2) event, after `verify`ing its Slack signature: 401
    if it is not Slack's, 400 if the body is not valid base64 where API Gateway said it is,
    413 above `max_bytes`."""
    body = http.raw_body(event, max_bytes)
    verify(
        secret,
        timestamp=http.header(event, TIMESTAMP_HEADER),
        sent=http.header(event, SIGNATURE_HEADER),
        body=body,
        now=now,
        tolerance_s=tolerance_s,
    )
    return body


@dataclass(frozen=True)
class Action:
    """One pressed element of a `block_actions` interaction."""

    action_id: str
    value: str
    action_ts: str
    """Slack's time of the press (`"1548426417.840180"`): the same in every retry of the request."""
    block_id: str = ""


@dataclass(frozen=True)
class Interaction:
    """A `block_actions` interaction: who pressed which element(s), in which workspace."""

    team_id: str
    user_id: str
    actions: tuple[Action, ...]
    response_url: str | None = None
    user_name: str = ""

    @property
    def action(self) -> Action:
        """The pressed element (a message button sends exactly one)."""
        return self.actions[0]


def parse_interaction(body: bytes) -> Interaction:
    """The `block_actions` interaction of a verified request body; 400 naming what is wrong
    (not a form, no single `payload`, not JSON, another interaction type, missing ids)."""
    from urllib.parse import parse_qs  # only this path needs it

    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request("the body must be application/x-www-form-urlencoded UTF-8 text", code="malformed_body", field="body") from exc
    payloads = form.get("payload") or []
    if len(payloads) != 1:
        raise bad_request("the body must carry exactly one 'payload' field", code="malformed_body", field="body.payload")
    try:
        payload = json.loads(payloads[0])
    except (ValueError, RecursionError) as exc:
        raise bad_request("'payload' is not valid JSON", code="malformed_body", field="body.payload") from exc
    if not isinstance(payload, dict):
        raise bad_request("'payload' must be a JSON object", code="malformed_body", field="body.payload")
    kind = payload.get("type")
    if kind != "block_actions":
        raise bad_request(
            f"payload.type {str(kind)[:40]!r} is not handled here (only block_actions)",
            code="unsupported_interaction",
            field="payload.type",
        )
    user = _object(payload, "user")
    user_id = _slack_id(user.get("id"), "payload.user.id")
    team = payload.get("team")
    team_id = _slack_id((team or {}).get("id") if isinstance(team, dict) else user.get("team_id"), "payload.team.id")
    raw_actions = payload.get("actions")
    if not isinstance(raw_actions, list) or not raw_actions:
        raise bad_request("payload.actions must be a non-empty list", code="malformed_body", field="payload.actions")
    actions = tuple(_action(a, f"payload.actions[{i}]") for i, a in enumerate(raw_actions[:5]))
    response_url = payload.get("response_url")
    name = user.get("username") or user.get("name") or ""
    return Interaction(
        team_id=team_id,
        user_id=user_id,
        actions=actions,
        response_url=response_url if isinstance(response_url, str) and response_url else None,
        user_name=name if isinstance(name, str) else "",
    )


def _object(payload: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise bad_request(f"payload.{name} must be an object", code="malformed_body", field=f"payload.{name}")
    return value


def _slack_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _SLACK_ID.match(value):
        raise bad_request(f"{where} must be a Slack id (2-32 upper-case letters and digits)", code="malformed_body", field=where)
    return value


def _action(value: Any, where: str) -> Action:
    if not isinstance(value, dict):
        raise bad_request(f"{where} must be an object", code="malformed_body", field=where)
    fields = {}
    for name in ("action_id", "value", "action_ts"):
        text = value.get(name)
        if not isinstance(text, str) or not text or len(text) > 2000:
            raise bad_request(f"{where}.{name} must be a non-empty string", code="malformed_body", field=f"{where}.{name}")
        fields[name] = text
    block = value.get("block_id")
    return Action(**fields, block_id=block if isinstance(block, str) else "")


Poster = Callable[[str, Mapping[str, Any]], None]
"""`poster(url, message)`: how a reply reaches `response_url` (tests pass a recorder)."""


def response_url_allowed(url: str, hosts: Sequence[str] = tuple(RESPONSE_URL_HOSTS)) -> bool:
    """Whether `url` is https on one of `hosts` (where `post_response` may post)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        return parts.scheme == "https" and parts.hostname in hosts and parts.port in (None, 443)
    except ValueError:
        return False


def post_response(
    url: str, message: Mapping[str, Any], *, timeout_s: float = 2.0, hosts: Sequence[str] = tuple(RESPONSE_URL_HOSTS)
) -> None:
    """POST `message` (JSON) to an interaction's `response_url`: https to one of `hosts` only,
    else `ValueError` (nothing is sent). Raises what urllib raises on a network failure."""
    from urllib.request import Request, urlopen

    if not response_url_allowed(url, hosts):
        raise ValueError(f"response_url must be https://{'|'.join(sorted(hosts))}/..., not {url[:80]!r}")
    request = Request(url, data=json.dumps(message).encode(), headers={"content-type": "application/json"}, method="POST")  # noqa: S310 - https to Slack only (checked above)
    with urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
        answer.read()
