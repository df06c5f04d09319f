"""The declared HTTP APIs, served on 127.0.0.1 the way API Gateway (HTTP API) serves them.

- Routes: the declared route keys (`"POST /locations/{location_id}/employees"`,
  `"ANY /{proxy+}"`, `$default`). Like API Gateway, a literal segment beats a parameter,
  a parameter beats a greedy `{name+}`, a method beats `ANY`, and `$default` comes last.
  No route: 404 `{"message":"Not Found"}`.
- Authorizer (JWT routes): the token from the declared identity header (`Bearer ` prefix
  optional, as on AWS) must verify against the local key with the declared issuer and
  audience; otherwise 401 `{"message":"Unauthorized"}`. Declared scopes missing from the
  token's `scope`/`scp`: 403 `{"message":"Forbidden"}`.
- The function gets a payload format 2.0 event: `rawPath` and `pathParameters`
  url-decoded (API Gateway HTTP APIs decode the path; parameters are cut from the encoded
  path so an encoded `/` stays inside its parameter), `rawQueryString`,
  `queryStringParameters` (repeated keys joined by commas), headers lower-cased (repeats
  joined by commas; cookies moved to `cookies`), `body` (base64 with `isBase64Encoded`
  unless the content type is text or JSON), `requestContext` with `http.method`,
  `requestId`, `routeKey`, `stage`, and `authorizer.jwt.claims` flattened to strings as
  API Gateway does (`cognito:groups` arrives as `"[admin approver]"`).
- The log: one line per request (`request_line`): time, status, method, path, route key
  (or `no route`), caller (the token's identity, `-` on a public route, `invalid token` /
  `no token` when the authorizer rejects it), duration, and the function that answered
  (with its error on a 500). The gateway's own 401/403/404/413 get their line too.
- The answer: a `statusCode` response as given (`cookies` become Set-Cookie headers,
  `isBase64Encoded` bodies decoded); any other return value is 200 with it as JSON. A
  function error is 500 `{"message":"Internal Server Error"}`.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .functions import FunctionRuntime
from .model import ApiDecl, RouteDecl
from .tokens import DEFAULT_IDENTITY_CLAIM, IDENTITY_CLAIM_ENV, InvalidTokenError, Issuer, flatten_claims

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
#: Connections the kernel queues before the server accepts them (socketserver's default, 5,
#: makes bursts of concurrent clients see resets; the kernel caps it at net.core.somaxconn).
LISTEN_BACKLOG = 1024
#: How the runtime's trigger of an HTTP invocation starts (its request line is the log line).
HTTP_TRIGGER = "http "
_TEXT_TYPES = re.compile(r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+json|[^;]*\+xml)", re.I)


@dataclass(frozen=True)
class Match:
    route: RouteDecl
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _Compiled:
    route: RouteDecl
    pattern: re.Pattern[str] | None  # None: $default
    names: tuple[str, ...]
    rank: tuple[int, ...]


def compile_routes(routes: tuple[RouteDecl, ...]) -> list[_Compiled]:
    """Routes in API Gateway's order of preference."""
    out = []
    for route in routes:
        if route.route_key == "$default":
            out.append(_Compiled(route, None, (), (9, 0, 0, 0)))
            continue
        names: list[str] = []
        parts, literal, params, greedy = [], 0, 0, 0
        for segment in route.path.strip("/").split("/") if route.path.strip("/") else []:
            if m := re.fullmatch(r"\{([A-Za-z0-9_.-]+)\+\}", segment):
                names.append(m[1])
                parts.append("(.+)")
                greedy += 1
            elif m := re.fullmatch(r"\{([A-Za-z0-9_.-]+)\}", segment):
                names.append(m[1])
                parts.append("([^/]+)")
                params += 1
            else:
                parts.append(re.escape(segment))
                literal += 1
        regex = re.compile("/" + "/".join(parts) + "/?" if parts else "/?")
        out.append(_Compiled(route, regex, tuple(names), (greedy, params, -literal, route.method == "ANY")))
    return sorted(out, key=lambda c: c.rank)


def match_route(compiled: list[_Compiled], method: str, encoded_path: str) -> Match | None:
    """The route API Gateway would pick for `method` and the still-encoded `path`."""
    for c in compiled:
        if c.route.method not in {method, "ANY"}:
            continue
        if c.pattern is None:
            return Match(c.route, {})
        if m := c.pattern.fullmatch(encoded_path):
            return Match(c.route, {n: unquote(v) for n, v in zip(c.names, m.groups(), strict=True)})
    return None


class _Server(ThreadingHTTPServer):
    """A thread per connection, with a listen queue deep enough for bursts of clients."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG


@dataclass
class RequestNote:
    """What `ApiServer.handle` found out about one request, for its log line."""

    route: str = "no route"
    caller: str = "-"
    function: str | None = None
    error: str | None = None


def request_line(started: float, method: str, path: str, status: int, note: RequestNote, duration_ms: float) -> str:
    """`14:02:11.204  201 POST /locations  [POST /locations]  by ana  31.2 ms  -> leave-commands`."""
    stamp = datetime.fromtimestamp(started).strftime("%H:%M:%S.%f")[:-3]
    answered = f"  -> {note.function}" if note.function else ""
    error = f"  ERROR {note.error}" if note.error else ""
    request, route = f"{method} {path}", f"[{note.route}]"
    return f"{stamp}  {status} {request:<38} {route:<36} by {note.caller:<14} {duration_ms:7.1f} ms{answered}{error}"


def caller_of(claims: Mapping[str, Any], identity_claim: str) -> str:
    """The identity a verified token names: the claim the route's function trusts
    (`IDENTITY_CLAIM`), `?` if the token lacks it (the function will answer 401)."""
    value = claims.get(identity_claim)
    return str(value) if value else "?"


class ApiServer:
    """One HTTP API on a ThreadingHTTPServer; `on_request` gets one log line per request."""

    def __init__(
        self,
        api: ApiDecl,
        *,
        host: str,
        port: int,
        runtime: FunctionRuntime,
        issuer_for: Callable[[str, tuple[str, ...]], Issuer],
        account_id: str,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        self.api = api
        self.on_request = on_request
        self._notes = threading.local()  # .note: the RequestNote of this thread's request
        self.runtime = runtime
        self.issuer_for = issuer_for
        self.account_id = account_id
        self.routes = compile_routes(api.routes)
        self.prefix = "" if api.stage == "$default" else f"/{api.stage}"
        self.server = _Server((host, port), _handler_class(self))
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"http:{api.logical}", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():  # shutdown() would wait for ever on a server never started
            self.server.shutdown()
            self.thread.join(timeout=5)
        self.server.server_close()

    # ------------------------------------------------------------------ one request
    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, client_ip: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        request_id = base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")
        base = [("apigw-requestid", request_id)]
        split = urlsplit(target)
        path = split.path
        if self.prefix:
            if not (path == self.prefix or path.startswith(self.prefix + "/")):
                return _message(404, "Not Found", base)
            path = path[len(self.prefix) :] or "/"
        lower: dict[str, list[str]] = {}
        for k, v in headers:
            lower.setdefault(k.lower(), []).append(v)
        cors = self._cors(method, lower)
        if cors is not None and method == "OPTIONS" and "access-control-request-method" in lower:
            return 204, [*base, *cors], b""
        base += cors or []
        if len(body) > MAX_PAYLOAD_BYTES:
            return _message(413, "Request Entity Too Large", base)
        found = match_route(self.routes, method, path)
        if found is None:
            return _message(404, "Not Found", base)
        route = found.route
        note = self.note()
        note.route, note.function = route.route_key, route.function.logical
        claims: dict[str, Any] | None = None
        if route.authorizer is not None:
            token = ",".join(lower.get(route.authorizer.header, []))
            token = token[7:] if token[:7].lower() == "bearer " else token
            try:
                claims = self.issuer_for(route.authorizer.issuer, route.authorizer.audiences).verify(token.strip())
            except InvalidTokenError:
                note.caller, note.function = ("invalid token" if token.strip() else "no token"), None
                return _message(401, "Unauthorized", base, extra=(("www-authenticate", 'Bearer error="invalid_token"'),))
            note.caller = caller_of(claims, route.function.environment.get(IDENTITY_CLAIM_ENV) or DEFAULT_IDENTITY_CLAIM)
            if route.scopes:
                granted = set(str(claims.get("scope") or claims.get("scp") or "").split())
                if not granted & set(route.scopes):
                    note.function = None
                    return _message(403, "Forbidden", base)
        event = self._event(method, path, split.query, lower, body, found, claims, request_id, client_ip)
        invocation = self.runtime.invoke(route.function.logical, event, trigger=f"{HTTP_TRIGGER}{method} {split.path}")
        if not invocation.ok:
            note.error = f"{invocation.error_type}: {invocation.error_message}"
            return _message(500, "Internal Server Error", base)
        return _response(invocation.result, base)

    def note(self) -> RequestNote:
        """The note of the request this thread serves (a throwaway outside `serve_one`)."""
        note = getattr(self._notes, "note", None)
        return note if note is not None else RequestNote()

    def serve_one(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, client_ip: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """`handle`, plus the request's log line to `on_request`."""
        started, t0 = time.time(), time.perf_counter()
        self._notes.note = note = RequestNote()
        try:
            status, headers_out, raw = self.handle(method, target, headers, body, client_ip)
        finally:
            self._notes.note = None
        if self.on_request is not None:
            self.on_request(request_line(started, method, urlsplit(target).path, status, note, (time.perf_counter() - t0) * 1000))
        return status, headers_out, raw

    def _event(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, list[str]],
        body: bytes,
        found: Match,
        claims: dict[str, Any] | None,
        request_id: str,
        client_ip: str,
    ) -> dict[str, Any]:
        now = time.time()
        cookies = [c.strip() for v in headers.get("cookie", []) for c in v.split(";") if c.strip()]
        params: dict[str, list[str]] = {}
        for k, v in parse_qsl(query, keep_blank_values=True):
            params.setdefault(k, []).append(v)
        host = ",".join(headers.get("host", ["127.0.0.1"]))
        context: dict[str, Any] = {
            "accountId": self.account_id,
            "apiId": self.api.api_id,
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": unquote(self.prefix + path),
                "protocol": "HTTP/1.1",
                "sourceIp": client_ip,
                "userAgent": ",".join(headers.get("user-agent", [""])),
            },
            "requestId": request_id,
            "routeKey": found.route.route_key,
            "stage": self.api.stage,
            "time": formatdate(now, usegmt=True),
            "timeEpoch": int(now * 1000),
        }
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": flatten_claims(claims), "scopes": None}}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": found.route.route_key,
            "rawPath": unquote(self.prefix + path),
            "rawQueryString": query,
            "headers": {k: ",".join(v) for k, v in headers.items() if k != "cookie"},
            "requestContext": context,
            "isBase64Encoded": False,
        }
        if cookies:
            event["cookies"] = cookies
        if params:
            event["queryStringParameters"] = {k: ",".join(v) for k, v in params.items()}
        if found.path_parameters:
            event["pathParameters"] = found.path_parameters
        if body:
            content_type = ",".join(headers.get("content-type", [""]))
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None and (not content_type or _TEXT_TYPES.match(content_type)):
                event["body"] = text
            else:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        return event

    def _cors(self, method: str, headers: Mapping[str, list[str]]) -> list[tuple[str, str]] | None:
        """CORS headers API Gateway adds when the API declares a CORS configuration."""
        cors = self.api.cors
        origin = ",".join(headers.get("origin", []))
        if not cors or not origin:
            return None
        allowed = cors.get("allowOrigins") or []
        if "*" not in allowed and origin not in allowed:
            return []
        out = [("access-control-allow-origin", "*" if "*" in allowed and not cors.get("allowCredentials") else origin)]
        if cors.get("allowCredentials"):
            out.append(("access-control-allow-credentials", "true"))
        if method == "OPTIONS":
            out += [
                ("access-control-allow-methods", ",".join(cors.get("allowMethods") or [])),
                ("access-control-allow-headers", ",".join(cors.get("allowHeaders") or [])),
            ]
            if cors.get("maxAge") is not None:
                out.append(("access-control-max-age", str(int(cors["maxAge"]))))
        elif cors.get("exposeHeaders"):
            out.append(("access-control-expose-headers", ",".join(cors["exposeHeaders"])))
        return out


def _message(
    status: int, message: str, base: list[tuple[str, str]], extra: tuple[tuple[str, str], ...] = ()
) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [*base, ("content-type", "application/json"), *extra], json.dumps({"message": message}, separators=(",", ":")).encode()


def _response(result: Any, base: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str]], bytes]:
    """A payload 2.0 function result as an HTTP response (API Gateway's rules)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return 200, [*base, ("content-type", "application/json")], json.dumps(result).encode()
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return _message(500, "Internal Server Error", base)
    headers = [*base, *((str(k), str(v)) for k, v in (result.get("headers") or {}).items())]
    headers += [("set-cookie", str(c)) for c in result.get("cookies") or ()]
    body = result.get("body")
    if body is None:
        raw = b""
    elif result.get("isBase64Encoded"):
        raw = base64.b64decode(body)
    else:
        raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    return status, headers, raw


def _handler_class(api: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "local-stack"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, raw = api.serve_one(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(raw)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve  # noqa: N815 - http.server's names

        def __getattr__(self, name: str) -> Any:
            """Any other method (TRACE, QUERY, ...) meets the route table too, so it is a 404
            `{"message":"Not Found"}` like every unrouted request, not http.server's HTML 501."""
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return  # ApiServer.serve_one logs each request

    return Handler
