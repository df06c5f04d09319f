"""Rule targets that are EventBridge API destinations, run locally.

What EventBridge does for such a target, done here:
- the target's input transformer builds the body (`transform`: input paths, `<placeholders>`,
  EventBridge's quoting rules) and its `http_target.header_parameters` add headers (a value
  starting with `$.` is read from the event);
- the connection adds its authorization (`auth_headers`: API_KEY header, BASIC, OAuth client
  credentials: a token fetched from a local authorization endpoint, else a stand-in);
- at most `invocation_rate_limit_per_second` requests per second per destination leave
  (`RateLimiter`, shared by every target of the destination);
- a 401, 407, 409, 429 or 5xx answer, a network error or a time-out (5 s) is retried per the
  target's retry policy (attempts, maximum event age; waits `Delays.retry(n)`), any other
  non-2xx answer is not; what fails goes to the target's DLQ with the attributes EventBridge
  sets (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION,
  RETRY_ATTEMPTS). A 2xx answer is delivered, whatever its body says.

The local stack has no internet: a destination whose endpoint is local (localhost,
127.0.0.1, ::1, *.localhost) gets the real request; any other one (Slack) is answered by the
built-in `LocalReceiver`, which records each request (`LocalStack.received()`, the
`received` command) and answers 200 (Slack's `{"ok": true}` for a Slack API endpoint).
"""

from __future__ import annotations

import base64
import heapq
import http.client
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from .model import ApiDestinationDecl, TargetDecl
from .streams import Delays

#: Answers EventBridge retries (the rest of 4xx is not retried).
RETRIED_STATUSES = frozenset({401, 407, 409, 429})
TIMEOUT_S = 5.0
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")


class _Missing:
    """A path the event does not have."""


MISSING = _Missing()


def value_at(event: Any, path: str) -> Any:
    """The value at an EventBridge JSON path (`$.detail.a`, `$.resources[0]`, `$.detail.items[*].id`)
    of `event`; `MISSING` if the event has none."""
    if path == "$":
        return event
    if not path.startswith("$"):
        return MISSING
    values = [event]
    wildcard = False
    for name, index in _PATH_PART.findall(path[1:]):
        nxt: list[Any] = []
        for v in values:
            if name:
                if isinstance(v, dict) and name in v:
                    nxt.append(v[name])
            elif index == "*":
                wildcard = True
                if isinstance(v, list):
                    nxt.extend(v)
            elif isinstance(v, list) and int(index) < len(v):
                nxt.append(v[int(index)])
        values = nxt
    if wildcard:
        return values
    return values[0] if values else MISSING


def reserved_variables(event: Mapping[str, Any], rule_name: str, rule_arn: str, ingestion_time: str) -> dict[str, Any]:
    """The variables every input template may use (they are not escaped either)."""
    without_detail = {k: v for k, v in event.items() if k != "detail"}
    return {
        "aws.events.rule-arn": rule_arn,
        "aws.events.rule-name": rule_name,
        "aws.events.event.ingestion-time": ingestion_time,
        "aws.events.event": without_detail,
        "aws.events.event.json": dict(event),
    }


def transform(
    input_paths: Mapping[str, str],
    template: str,
    event: Mapping[str, Any],
    *,
    rule_name: str = "",
    rule_arn: str = "",
    ingestion_time: str | None = None,
) -> str:
    """The text EventBridge sends for `event` through an input transformer.

    Each `<variable>` of `input_paths` (or a reserved one) is replaced: outside a JSON string by
    the value as JSON (a string quoted and escaped as in the event); inside a JSON string by the
    value's text, NOT escaped (a string as is, anything else as JSON); a variable whose path the
    event lacks by nothing. A `<text>` that names no variable stays as it is. A result that is
    JSON is sent minified."""
    variables: dict[str, Any] = {name: value_at(event, path) for name, path in input_paths.items()}
    variables.update(reserved_variables(event, rule_name, rule_arn, ingestion_time or _now_iso()))
    out: list[str] = []
    in_string, i = False, 0
    while i < len(template):
        match = _PLACEHOLDER.match(template, i)
        if match and match[1] in variables:
            value = variables[match[1]]
            if value is MISSING:
                text = ""
            elif in_string:
                text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            else:
                text = json.dumps(value, separators=(",", ":"))
            out.append(text)
            i = match.end()
            continue
        char = template[i]
        if char == "\\" and in_string and i + 1 < len(template):
            out.append(template[i : i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        i += 1
    rendered = "".join(out)
    try:
        return json.dumps(json.loads(rendered), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return rendered  # not JSON (a string template, or values that broke the JSON): sent as it is


def header_values(parameters: Mapping[str, str], event: Mapping[str, Any]) -> dict[str, str]:
    """`http_target.header_parameters`: literal values, or JSON paths (`$.id`) read from the event."""
    out = {}
    for name, value in parameters.items():
        if value.startswith("$."):
            found = value_at(event, value)
            if found is MISSING:
                continue
            value = found if isinstance(found, str) else json.dumps(found)
        out[name] = value
    return out


def is_local(url: str) -> bool:
    """Whether a URL points at this machine (the local stack may call it)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in LOCAL_HOSTS or host.endswith(".localhost")


def auth_headers(destination: ApiDestinationDecl, *, fetch: Callable[..., tuple[int, bytes]] | None = None) -> dict[str, str]:
    """The headers the destination's connection adds to every request."""
    auth = destination.auth
    kind = destination.auth_kind
    if kind == "API_KEY":
        key = auth.get("apiKey") or {}
        return {str(key.get("key")): str(key.get("value"))}
    if kind == "BASIC":
        basic = auth.get("basic") or {}
        token = base64.b64encode(f"{basic.get('username')}:{basic.get('password')}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    if kind == "OAUTH_CLIENT_CREDENTIALS":
        oauth = auth.get("oauth") or {}
        endpoint = str(oauth.get("authorizationEndpoint") or "")
        client = oauth.get("clientParameters") or {}
        if is_local(endpoint):
            body = {
                "grant_type": "client_credentials",
                **{b["key"]: b["value"] for b in (oauth.get("oauthHttpParameters") or {}).get("bodies") or ()},
            }
            basic = base64.b64encode(f"{client.get('clientId')}:{client.get('clientSecret')}".encode()).decode()
            status, answer = (fetch or _request)(
                oauth.get("httpMethod") or "POST",
                endpoint,
                urlencode(body).encode(),
                {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
            )
            if 200 <= status < 300:
                return {"Authorization": f"Bearer {json.loads(answer)['access_token']}"}
            raise ConnectionError(f"authorization endpoint {endpoint} answered {status}")
        return {"Authorization": f"Bearer local-stand-in-for-{client.get('clientId')}"}
    return {}


def _request(method: str, url: str, body: bytes, headers: Mapping[str, str], *, timeout_s: float = TIMEOUT_S) -> tuple[int, bytes]:
    """One HTTP request, no redirect followed; (status, body)."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout_s)
    try:
        connection.request(method, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body, headers=dict(headers))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class LocalReceiver:
    """Stands in for every endpoint outside this machine: records each request (in memory and,
    given `path`, one JSON line each in that file, the connection's credential masked) and
    answers 200."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def __call__(
        self, destination: ApiDestinationDecl, method: str, url: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        text = body.decode("utf-8", "replace")
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = None
        record = {
            "at": _now_iso(),
            "destination": destination.logical,
            "method": method,
            "url": url,
            "headers": dict(headers),
            "body": text,
            "json": parsed,
        }
        secret = {str((destination.auth.get("apiKey") or {}).get("key") or "Authorization").lower(), "authorization"}
        masked = {k: (v[:10] + "...(masked)" if k.lower() in secret else v) for k, v in headers.items()}
        with self._lock:
            self.requests.append(record)
            if self.path is not None:
                with self.path.open("a") as f:
                    f.write(json.dumps({**record, "headers": masked}) + "\n")
        if urlsplit(url).hostname == "slack.com":
            channel = parsed.get("channel") if isinstance(parsed, dict) else None
            return 200, json.dumps({"ok": True, "channel": channel, "ts": f"{time.time():.6f}"}).encode()
        return 200, b"{}"

    def snapshot(self) -> list[dict[str, Any]]:
        """The requests recorded so far, oldest first."""
        with self._lock:
            return list(self.requests)


def read_received(path: Path) -> list[dict[str, Any]]:
    """The requests a running (or stopped) local stack's receiver recorded in `path`."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def describe_request(request: Mapping[str, Any]) -> str:
    """A recorded request for people: when, where, and its message (a Slack message's text,
    attachments and buttons; any other body as it came)."""
    head = f"{request['at']}  {request['destination']}  {request['method']} {request['url']}"
    body = request.get("json")
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return f"{head}\n    {request['body'][:500]}"
    lines = [head, f"    {('#' + str(body['channel']) + ': ') if body.get('channel') else ''}{body['text']}"]
    for attachment in body.get("attachments") or ():
        if isinstance(attachment, dict) and attachment.get("text"):
            lines.append(f"    {attachment.get('title') or 'attachment'}: {attachment['text']}")
    for block in body.get("blocks") or ():
        if isinstance(block, dict) and block.get("type") == "actions":
            buttons = [
                f"[{e.get('text', {}).get('text')}] ({e.get('action_id')}={e.get('value')})"
                for e in block.get("elements") or ()
                if isinstance(e, dict) and e.get("type") == "button"
            ]
            lines.append("    buttons: " + " ".join(buttons))
    return "\n".join(lines)


class RateLimiter:
    """At most `per_second` requests per second: each waits for its slot."""

    def __init__(self, per_second: int) -> None:
        self.interval = 1.0 / max(1, per_second)
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            stop.wait(slot - now)


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    event: dict[str, Any] = field(compare=False)
    received: float = field(compare=False)
    attempts: int = field(compare=False, default=0)


class ApiDestinationTarget:
    """Delivers the events of one rule target to its API destination, with a worker thread:
    `submit` (the target's drainer calls it) queues an event; see the module doc."""

    def __init__(
        self,
        target: TargetDecl,
        *,
        limiter: RateLimiter,
        receiver: LocalReceiver,
        send: Callable[[str, str, dict[str, Any]], None],  # (queue name, body, message attributes)
        delays: Delays,
        stop: threading.Event,
        on_error: Callable[[str], None],
        on_delivery: Callable[[str], None] = lambda _line: None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        """`timeout_s`: how long a request may take (EventBridge: 5 s)."""
        assert target.api_destination is not None
        self.target = target
        self.destination = target.api_destination
        self.limiter = limiter
        self.receiver = receiver
        self.send = send
        self.delays = delays
        self.stop_event = stop
        self.on_error = on_error
        self.on_delivery = on_delivery
        self.request: Callable[[str, str, bytes, Mapping[str, str]], tuple[int, bytes]] = lambda m, u, b, h: _request(
            m, u, b, h, timeout_s=timeout_s
        )
        self.delivered: list[tuple[int, str]] = []  # (status, body) of each delivered request
        self._heap: list[_Pending] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._busy = 0
        self.thread = threading.Thread(target=self._work, name=f"api-destination:{target.logical}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def submit(self, event: dict[str, Any]) -> None:
        now = time.time()
        with self._cond:
            heapq.heappush(self._heap, _Pending(due=now, seq=next(self._seq), event=event, received=now))
            self._cond.notify()

    def idle(self) -> bool:
        """Nothing queued, nothing being sent (retries pending count as not idle)."""
        with self._cond:
            return not self._heap and not self._busy

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _work(self) -> None:
        while not self.stop_event.is_set():
            with self._cond:
                while not self.stop_event.is_set() and (not self._heap or self._heap[0].due > time.time()):
                    self._cond.wait(timeout=(self._heap[0].due - time.time()) if self._heap else 0.5)
                if self.stop_event.is_set():
                    return
                item = heapq.heappop(self._heap)
                self._busy += 1
            try:
                self._attempt(item)
            except Exception as exc:  # a bug here must not kill the worker: the event is dead-lettered
                self._dead_letter(item, type(exc).__name__, str(exc), "")
            finally:
                with self._cond:
                    self._busy -= 1

    def _attempt(self, item: _Pending) -> None:
        t, d = self.target, self.destination
        if t.input_template is None:  # no input transformer: the whole event
            body = json.dumps(item.event, separators=(",", ":")).encode()
        else:
            body = transform(t.input_paths, t.input_template, item.event, rule_name=t.rule.name, rule_arn=t.rule.arn).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Amazon/EventBridge/ApiDestinations"}
        headers.update(header_values(t.header_parameters, item.event))
        self.limiter.wait(self.stop_event)
        try:
            headers.update(auth_headers(d, fetch=self.request))
            if is_local(d.endpoint):
                status, answer = self.request(d.method, d.endpoint, body, headers)
            else:
                status, answer = self.receiver(d, d.method, d.endpoint, body, headers)
            code, message = str(status), answer.decode("utf-8", "replace")[:256]
        except (OSError, http.client.HTTPException, ConnectionError) as exc:  # refused, time-out, a broken answer
            status, code, message = 0, "SDK_CLIENT_ERROR", f"{type(exc).__name__}: {exc}"
        item.attempts += 1
        if 200 <= status < 300:
            self.delivered.append((status, message))
            self.on_delivery(f"{t.logical}: {d.method} {d.endpoint} -> {status} (event {item.event.get('id')})")
            return
        retried = status == 0 or status in RETRIED_STATUSES or status >= 500
        if not retried:
            self._dead_letter(item, code, message, "")
            return
        age = time.time() - item.received
        if item.attempts > t.retry_attempts or age > t.max_event_age_s:
            condition = "MaximumRetryAttempts" if item.attempts > t.retry_attempts else "MaximumEventAgeInSeconds"
            self._dead_letter(item, code, message, condition)
            return
        item.due = time.time() + self.delays.retry(item.attempts)
        with self._cond:
            heapq.heappush(self._heap, item)
            self._cond.notify()

    def _dead_letter(self, item: _Pending, code: str, message: str, condition: str) -> None:
        t = self.target
        attrs = {
            "RULE_ARN": t.rule.arn,
            "TARGET_ARN": t.arn,
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message[:256],
            "EXHAUSTED_RETRY_CONDITION": condition,
            "RETRY_ATTEMPTS": str(max(0, item.attempts - 1)),
        }
        if t.dead_letter_queue:
            self.send(t.dead_letter_queue, json.dumps(item.event), attrs)
        self.on_error(
            f"target {t.logical}: {self.destination.endpoint} did not take event {item.event.get('id')} "
            f"({code}: {message[:120]}) after {item.attempts} attempt(s); "
            + (f"sent to {t.dead_letter_queue}" if t.dead_letter_queue else "DROPPED (no DLQ)")
        )


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
