"""The local stack under load (issue 8): connection bursts, timeouts counted on the
function's own run time, bounded memory in moto, in-process dispatch to moto.

These assert the mechanisms (listen queue depth, tracked instances, the undo log, the
time a function waited), not timings: `benchmarks/bench_local_load.py` measures those."""

from __future__ import annotations

import json
import socket
from typing import Any

from local.functions import Invocation
from local.http_api import ApiServer
from local.model import ApiDecl, FunctionDecl, RouteDecl

BURST = 32


def _function(name: str, timeout_s: int = 3) -> FunctionDecl:
    return FunctionDecl(
        logical=name,
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        handler="m.handler",
        files={},
        environment={},
        timeout_s=timeout_s,
        memory_mb=128,
        reserved_concurrency=None,
        retry_attempts=2,
        max_event_age_s=60,
        on_failure=None,
        on_failure_kind=None,
    )


class _Runtime:
    def invoke(self, logical: str, event: Any, trigger: str) -> Invocation:
        return Invocation(logical, trigger, "req", 0.0, 1.0, True, {"path": event["rawPath"]}, None, None)


def test_a_burst_of_32_connections_is_queued_and_every_one_answered() -> None:
    route = RouteDecl(route_key="GET /ping", method="GET", path="/ping", function=_function("api"), authorizer=None, scopes=())
    api = ApiDecl(logical="api", api_id="abc123", stage="$default", routes=(route,), cors=None)
    server = ApiServer(api, host="127.0.0.1", port=0, runtime=_Runtime(), issuer_for=lambda i, a: None, account_id="1")  # type: ignore[arg-type]
    host, port = server.server.server_address[:2]
    clients: list[socket.socket] = []
    try:
        # nobody accepts yet: every connection must fit in the listen queue (the default
        # backlog of 5 leaves the rest unanswered, then reset, under a burst)
        for _ in range(BURST):
            clients.append(socket.create_connection((host, port), timeout=1.0))
        for c in clients:
            c.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        server.start()
        answers = []
        for c in clients:
            c.settimeout(10)
            data = b""
            while chunk := c.recv(65536):
                data += chunk
            answers.append(data)
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
        assert {json.loads(a.split(b"\r\n\r\n", 1)[1])["path"] for a in answers} == {"/ping"}
    finally:
        for c in clients:
            c.close()
        server.stop()
