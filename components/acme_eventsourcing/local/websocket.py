"""The declared WebSocket APIs, served on 127.0.0.1 the way API Gateway serves them.

Every `aws:apigatewayv2/api:Api` with `protocolType: WEBSOCKET` is a real WebSocket
endpoint (RFC 6455, by the `websockets` library: any standard client connects), at
`ws://127.0.0.1:<port>/<stage>`, its port its own. What API Gateway does, done here:

- Handshake: a request for another path is refused (403). When `$connect` declares a
  REQUEST authorizer, a request missing one of its identity sources
  (`route.request.querystring.token`, `route.request.header.X`) is refused with 401 without
  running it; otherwise the authorizer function runs in-process with API Gateway's event
  (`type` REQUEST, `methodArn`, `headers`, `queryStringParameters`, `requestContext` with
  `routeKey` `$connect`, `eventType` CONNECT, `connectionId`, `stage`, `apiId`, ...). Its
  policy decides: an Allow of `execute-api:Invoke` on the method ARN lets the connection in
  and its `context` (with `principalId`) becomes `requestContext.authorizer` of every later
  event of that connection; a Deny, or no matching Allow, is 403; an `Unauthorized` error is
  401; any other failure (an exception, a malformed answer) is 500. Then the `$connect`
  integration runs; its error is 500, a `statusCode` outside 2xx refuses the handshake with
  it. A refused handshake leaves no connection.
- Messages: routed by the API's route selection expression (`$request.body.<path>` of a
  JSON message), else `$default`; with neither, the client gets API Gateway's
  `{"message": "Forbidden", ...}`. A route with a route response sends its integration's
  answer (`body`, or the whole value) back. Messages over 128 KB close the connection (1009).
- Close: `$disconnect` runs (best effort, as on AWS) with the close code and reason.
- The Management API: a function's `apigatewaymanagementapi` client calling
  `https://{api id}.execute-api.{region}.amazonaws.com/{stage}` (the API's recorded
  endpoint works too; this is what `CONNECTIONS_ENDPOINT` and `requestContext.domainName`
  name) is answered by this server in-process, through a botocore `before-send` hook like
  the one that answers moto's requests (`local.backend`): `post_to_connection` sends a text
  frame (binary when the data is not UTF-8), `get_connection` describes it,
  `delete_connection` closes it; an unknown or closed connection is 410 GoneException, data
  over 128 KB 413 PayloadTooLargeException. Other processes cannot reach the Management API.

Not emulated: idle (10 min) and maximum (2 h) connection durations, throttling, API keys,
sub-protocol negotiation, route request models and integration response templates.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fnmatch
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .functions import FunctionRuntime, Invocation
from .model import RequestAuthorizerDecl, WebSocketApiDecl, WebSocketRouteDecl

#: How the runtime's trigger of a WebSocket invocation starts (the server logs its own line).
WS_TRIGGER = "ws "
#: API Gateway's limit on a WebSocket message (and on PostToConnection data).
MAX_MESSAGE_BYTES = 128 * 1024
_MANAGEMENT_PATH = "/@connections/"


@dataclass
class Connection:
    """One open connection, as the Management API describes it."""

    connection_id: str
    websocket: ServerConnection
    connected_at: float
    source_ip: str
    user_agent: str
    headers: dict[str, str]
    authorizer: dict[str, Any] | None  # the authorizer's context + principalId, on every later event
    last_active_at: float = field(default=0.0)


def connection_id() -> str:
    """An id shaped like API Gateway's (`L0SM9cOFvHcCIhw=`)."""
    return base64.b64encode(os.urandom(11)).decode()


def select_route(api: WebSocketApiDecl, message: str | bytes) -> WebSocketRouteDecl | None:
    """The route API Gateway picks for `message`: the value at the route selection
    expression's path in the JSON body naming a declared route, else `$default` (None: neither)."""
    path = api.route_selection.removeprefix("$request.body.").split(".")
    value: Any = None
    with contextlib.suppress(ValueError, TypeError):
        value = json.loads(message)
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str) and value not in {"$connect", "$disconnect"} and (route := api.route(value)) is not None:
        return route
    return api.route("$default")


def policy_allows(answer: Any, method_arn: str) -> bool:
    """Whether an authorizer's answer allows `execute-api:Invoke` on `method_arn` (an explicit
    Deny wins); ValueError when the answer is not an authorizer response."""
    if not isinstance(answer, dict) or not isinstance(answer.get("policyDocument"), dict) or "principalId" not in answer:
        raise ValueError("the authorizer's answer has no principalId and policyDocument")
    statements = answer["policyDocument"].get("Statement") or []
    statements = [statements] if isinstance(statements, dict) else statements
    allowed = False
    for st in statements:
        actions = st.get("Action") or []
        resources = st.get("Resource") or []
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            continue
        if st.get("Effect") == "Deny":
            return False
        allowed = allowed or st.get("Effect") == "Allow"
    return allowed


def _json_response(status: int, body: Mapping[str, Any] | None = None) -> Response:
    raw = json.dumps(body if body is not None else {"message": HTTPStatus(status).phrase}).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(raw)))])
    return Response(status, HTTPStatus(status).phrase, headers, raw)


class WebSocketServer:
    """One WebSocket API on an asyncio server in its own thread (see the module docstring).
    `start()` serves, `stop()` closes every connection (running `$disconnect`) and the port."""

    def __init__(
        self,
        api: WebSocketApiDecl,
        *,
        host: str,
        port: int,
        runtime: FunctionRuntime,
        region: str,
        account_id: str,
        on_log: Callable[[str], None] | None = None,
    ) -> None:
        self.api, self.runtime, self.region, self.account_id = api, runtime, region, account_id
        self.on_log = on_log
        self.prefix = "" if api.stage == "$default" else f"/{api.stage}"
        #: The domain API Gateway gives the API: events carry it, the Management API is reached at it.
        self.domain = f"{api.api_id}.execute-api.{region}.amazonaws.com"
        self.connections: dict[str, Connection] = {}
        self._pending: dict[Any, Connection] = {}  # handshake done, connection not yet opened (keyed by the websocket)
        self._lock = threading.Lock()
        self._sock = socket.create_server((host, port))
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"ws:{api.logical}", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"ws://{host}:{port}{self.prefix}"

    @property
    def management_endpoints(self) -> tuple[str, ...]:
        """The URLs (without a trailing `/`) a Management API client may be given for this API."""
        hosts = {self.domain}
        if self.api.endpoint:
            hosts.add(urlsplit(self.api.endpoint).netloc)
        return tuple(sorted(f"https://{h}{self.prefix}" for h in hosts))

    def start(self) -> None:
        self.thread.start()
        self._ready.wait(timeout=10)
        for endpoint in self.management_endpoints:
            _management[endpoint] = self

    def stop(self) -> None:
        for endpoint in self.management_endpoints:
            if _management.get(endpoint) is self:
                del _management[endpoint]
        if self.thread.is_alive():
            with contextlib.suppress(RuntimeError, TimeoutError):
                asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=15)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self.thread.join(timeout=5)
        else:
            self._sock.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def open_server() -> None:
            self._server = await serve(
                self._handler,
                sock=self._sock,
                process_request=self._handshake,
                max_size=MAX_MESSAGE_BYTES,
                ping_interval=None,  # API Gateway does not ping; clients may
                server_header=None,
            )

        try:
            self._loop.run_until_complete(open_server())
        finally:
            self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()

    # ------------------------------------------------------------------ the handshake ($connect)
    async def _handshake(self, websocket: ServerConnection, request: Request) -> Response | None:
        started, t0 = time.time(), time.perf_counter()
        split = urlsplit(request.path)
        caller, function, status, error = "-", None, 101, None
        try:
            if split.path.rstrip("/") != self.prefix:
                status = 403
                return _json_response(403, {"message": "Forbidden"})
            cid = connection_id()
            headers = {k: v for k, v in request.headers.raw_items()}
            query = dict(parse_qsl(split.query, keep_blank_values=True))
            peer = websocket.remote_address
            source_ip = str(peer[0]) if peer else "127.0.0.1"
            conn = Connection(cid, websocket, started, source_ip, headers.get("User-Agent", headers.get("user-agent", "")), headers, None)
            route = self.api.route("$connect")
            if route is not None and route.authorizer is not None:
                function = route.authorizer.function.logical
                refused = await self._authorize(route.authorizer, conn, query)
                if isinstance(refused, tuple):
                    status, error = refused
                    caller = {403: "denied", 500: "authorizer error"}.get(status) or (
                        "no identity" if error == "identity source missing" else "unauthorized"
                    )
                    return _json_response(status, {"message": "Forbidden" if status == 403 else HTTPStatus(status).phrase})
                caller = str((conn.authorizer or {}).get("principalId") or "?")
            if route is not None:
                function = route.function.logical
                event = self._event(conn, "$connect", "CONNECT", query=query)
                invocation = await self._invoke(route.function.logical, event, "$connect")
                if not invocation.ok:
                    status, error = 500, f"{invocation.error_type}: {invocation.error_message}"
                    return _json_response(500, {"message": "Internal server error"})
                answered = invocation.result.get("statusCode") if isinstance(invocation.result, dict) else None
                if answered is not None and not 200 <= int(answered) < 300:
                    status = int(answered)
                    return _json_response(status)
            with self._lock:
                self._pending[websocket] = conn
            return None
        finally:
            self._line(started, "CONNECT", split.path, status, "$connect", caller, t0, function if status != 403 else None, error)

    async def _authorize(self, authorizer: RequestAuthorizerDecl, conn: Connection, query: dict[str, str]) -> tuple[int, str] | None:
        """Run the REQUEST authorizer; None when it allows (its context is put on `conn`),
        else (status, why)."""
        lowered = {k.lower(): v for k, v in conn.headers.items()}
        for source in authorizer.identity_sources:
            if source.startswith("route.request.querystring."):
                present = bool(query.get(source.removeprefix("route.request.querystring.")))
            elif source.startswith("route.request.header."):
                present = bool(lowered.get(source.removeprefix("route.request.header.").lower()))
            else:
                present = True  # stage variables, context: always there locally
            if not present:
                return 401, "identity source missing"
        method_arn = f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api.api_id}/{self.api.stage}/$connect"
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            "headers": dict(conn.headers),
            "multiValueHeaders": {k: [v] for k, v in conn.headers.items()},
            "queryStringParameters": dict(query),
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
            "stageVariables": {},
            "requestContext": self._context(conn, "$connect", "CONNECT"),
        }
        invocation = await self._invoke(authorizer.function.logical, event, "$connect authorizer")
        if not invocation.ok:
            if (invocation.error_message or "").strip() == "Unauthorized":
                return 401, "Unauthorized"
            return 500, f"authorizer {invocation.error_type}: {invocation.error_message}"
        try:
            allowed = policy_allows(invocation.result, method_arn)
        except ValueError as exc:
            return 500, f"authorizer: {exc}"
        if not allowed:
            return 403, "the authorizer's policy denies $connect"
        context = invocation.result.get("context") or {}
        if not isinstance(context, dict) or not all(isinstance(v, str | int | float | bool) for v in context.values()):
            return 500, "authorizer: context values must be strings, numbers or booleans"
        conn.authorizer = {
            **context,
            "principalId": invocation.result["principalId"],
            "integrationLatency": round(invocation.duration_ms),
        }
        return None

    # ------------------------------------------------------------------ an open connection
    async def _handler(self, websocket: ServerConnection) -> None:
        with self._lock:
            conn = self._pending.pop(websocket)
            self.connections[conn.connection_id] = conn
        conn.last_active_at = time.time()
        try:
            async for message in websocket:
                conn.last_active_at = time.time()
                await self._message(conn, message)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self.connections.pop(conn.connection_id, None)
            await self._disconnect(conn)

    async def _message(self, conn: Connection, message: str | bytes) -> None:
        started, t0 = time.time(), time.perf_counter()
        route = select_route(self.api, message)
        if route is None:
            request_id = uuid.uuid4().hex[:16]
            with contextlib.suppress(ConnectionClosed):
                await conn.websocket.send(json.dumps({"message": "Forbidden", "connectionId": conn.connection_id, "requestId": request_id}))
            self._line(started, "MESSAGE", conn.connection_id, 403, "no route", self._caller(conn), t0, None, None)
            return
        event = self._event(conn, route.route_key, "MESSAGE")
        if isinstance(message, bytes):
            event["body"], event["isBase64Encoded"] = base64.b64encode(message).decode(), True
        else:
            event["body"] = message
        invocation = await self._invoke(route.function.logical, event, route.route_key)
        error = None if invocation.ok else f"{invocation.error_type}: {invocation.error_message}"
        if not invocation.ok:
            with contextlib.suppress(ConnectionClosed):
                await conn.websocket.send(
                    json.dumps({"message": "Internal server error", "connectionId": conn.connection_id, "requestId": invocation.request_id})
                )
        elif route.two_way and invocation.result is not None:
            answer = invocation.result
            if isinstance(answer, dict) and "statusCode" in answer:
                answer = answer.get("body")
            if answer is not None:
                with contextlib.suppress(ConnectionClosed):
                    await conn.websocket.send(answer if isinstance(answer, str) else json.dumps(answer))
        self._line(started, "MESSAGE", conn.connection_id, 200 if invocation.ok else 500, route.route_key, self._caller(conn), t0,
                   route.function.logical, error)  # fmt: skip

    async def _disconnect(self, conn: Connection) -> None:
        route = self.api.route("$disconnect")
        if route is None:
            return
        started, t0 = time.time(), time.perf_counter()
        event = self._event(conn, "$disconnect", "DISCONNECT")
        # the close frame received, else the one this side sent (a message too big: 1009), else none (1006)
        frame = conn.websocket.protocol.close_rcvd or conn.websocket.protocol.close_sent
        event["requestContext"]["disconnectStatusCode"] = frame.code if frame is not None else 1006
        event["requestContext"]["disconnectReason"] = frame.reason if frame is not None else ""
        try:
            invocation = await self._invoke(route.function.logical, event, "$disconnect")
        except RuntimeError:  # the runtime stopped first (the stack is stopping)
            return
        error = None if invocation.ok else f"{invocation.error_type}: {invocation.error_message}"
        self._line(started, "DISCONNECT", conn.connection_id, 200 if invocation.ok else 500, "$disconnect", self._caller(conn), t0,
                   route.function.logical, error)  # fmt: skip

    # ------------------------------------------------------------------ events
    def _context(self, conn: Connection, route_key: str, event_type: str) -> dict[str, Any]:
        now = time.time()
        request_id = base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": formatdate(now, usegmt=True),
            "messageDirection": "IN",
            "stage": self.api.stage,
            "connectedAt": int(conn.connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "requestId": request_id,
            "domainName": self.domain,
            "connectionId": conn.connection_id,
            "apiId": self.api.api_id,
        }
        if event_type == "MESSAGE":
            context["messageId"] = connection_id()
        return context

    def _event(self, conn: Connection, route_key: str, event_type: str, query: Mapping[str, str] | None = None) -> dict[str, Any]:
        context = self._context(conn, route_key, event_type)
        if conn.authorizer is not None:
            context["authorizer"] = dict(conn.authorizer)
        event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
        if event_type != "MESSAGE":
            event["headers"] = dict(conn.headers)
            event["multiValueHeaders"] = {k: [v] for k, v in conn.headers.items()}
        if query:
            event["queryStringParameters"] = dict(query)
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        return event

    async def _invoke(self, logical: str, event: dict[str, Any], what: str) -> Invocation:
        return await asyncio.to_thread(self.runtime.invoke, logical, event, f"{WS_TRIGGER}{what} {event['requestContext']['connectionId']}")

    # ------------------------------------------------------------------ the Management API
    def management(self, method: str, connection: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """One Management API request for `connection` (PostToConnection, GetConnection,
        DeleteConnection), answered from a function's thread."""
        with self._lock:
            conn = self.connections.get(connection)
        if conn is None or conn.websocket.close_code is not None:
            return _error(410, "GoneException", None)
        if method == "POST":
            if len(body) > MAX_MESSAGE_BYTES:
                return _error(413, "PayloadTooLargeException", "Message too long")
            try:
                data: str | bytes = body.decode("utf-8")
            except UnicodeDecodeError:
                data = body
            try:
                asyncio.run_coroutine_threadsafe(conn.websocket.send(data), self._loop).result(timeout=10)
            except (ConnectionClosed, RuntimeError):
                return _error(410, "GoneException", None)
            return 200, {}, b""
        if method == "GET":
            described = {
                "connectedAt": _iso(conn.connected_at),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
                "lastActiveAt": _iso(conn.last_active_at or conn.connected_at),
            }
            return 200, {"Content-Type": "application/json"}, json.dumps(described).encode()
        if method == "DELETE":
            with contextlib.suppress(ConnectionClosed, RuntimeError, TimeoutError):
                asyncio.run_coroutine_threadsafe(conn.websocket.close(1000, "closed by the API"), self._loop).result(timeout=10)
            return 204, {}, b""
        return _error(403, "ForbiddenException", f"{method} is not a Management API operation")

    # ------------------------------------------------------------------ the log
    def _caller(self, conn: Connection) -> str:
        return str((conn.authorizer or {}).get("principalId") or "-")

    def _line(
        self,
        started: float,
        kind: str,
        what: str,
        status: int,
        route: str,
        caller: str,
        t0: float,
        function: str | None,
        error: str | None,
    ) -> None:
        if self.on_log is None:
            return
        stamp = datetime.fromtimestamp(started).strftime("%H:%M:%S.%f")[:-3]
        answered = f"  -> {function}" if function else ""
        problem = f"  ERROR {error}" if error and status >= 500 else (f"  ({error})" if error else "")
        ms = (time.perf_counter() - t0) * 1000
        self.on_log(f"{stamp}  {status} WS {kind} {what:<30} [{route}]  by {caller:<14} {ms:7.1f} ms{answered}{problem}")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, code: str, message: str | None) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, json.dumps({"message": message}).encode()


_management: dict[str, WebSocketServer] = {}  # https://{host}/{stage} -> the server answering its Management API


def _before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
    """botocore `before-send` hook: a Management API request for a served API is answered here."""
    if not _management or _MANAGEMENT_PATH not in request.url:
        return None
    base, _, rest = request.url.partition(_MANAGEMENT_PATH)
    server = _management.get(base.rstrip("/"))
    if server is None:
        return None
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    status, headers, answer = server.management(request.method or "GET", unquote(rest.split("?", 1)[0]), body)
    return AWSResponse(request.url, status, headers, MockRawResponse(answer))  # type: ignore[arg-type]


# registered once for every botocore session created from now on (see local.backend)
botocore.handlers.BUILTIN_HANDLERS.append(("before-send", _before_send))
