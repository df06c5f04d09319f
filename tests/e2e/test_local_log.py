"""The `up` log: one line per HTTP request (status, route, caller, duration), gateway
rejections included; one prefix on what a function prints."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from acme_eventsourcing.local import functions as local_functions
from acme_eventsourcing.local.client import ApiClient
from acme_eventsourcing.testing import RecordedStack

from local import LocalStack

LINE = re.compile(
    r"^\d\d:\d\d:\d\d\.\d{3}  (?P<status>\d{3}) (?P<method>[A-Z]+) (?P<path>\S+)\s+\[(?P<route>[^\]]+)\]\s+"
    r"by (?P<caller>.+?)\s+(?P<ms>\d+\.\d) ms(?:  -> (?P<function>\S+))?(?:  ERROR (?P<error>.+))?$"
)


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return []


@pytest.fixture(scope="module")
def stack(dev_program: RecordedStack, stack_factory: Callable[..., LocalStack], lines: list[str]) -> Any:
    local = stack_factory(dev_program, log=lines.append)
    yield local
    local.stop()


def _request_lines(lines: list[str], since: int) -> list[re.Match[str]]:
    return [m for line in lines[since:] if (m := LINE.match(line))]


def _route_function(stack: LocalStack, route_key: str) -> str:
    assert stack.model is not None
    return next(r.function.logical for api in stack.model.apis for r in api.routes if r.route_key == route_key)


def test_each_request_is_one_line_with_status_route_caller_and_duration(stack: LocalStack, lines: list[str]) -> None:
    since = len(lines)
    api = ApiClient(stack.api_url, lambda sub, groups: stack.token(sub, groups)).as_user("ana", "admin")
    assert api.post("/locations", {"name": "Logged"}).status == 201
    assert api.post("/locations", {"nam": "typo"}).status == 400
    assert ApiClient(stack.api_url, token="not-a-jwt").post("/locations", {"name": "x"}).status == 401
    assert ApiClient(stack.api_url).post("/locations", {"name": "x"}).status == 401
    assert ApiClient(stack.api_url).get("/no/such/route").status == 404
    assert ApiClient(stack.api_url).get("/openapi.json").status == 200
    seen = [(m["status"], m["method"], m["path"], m["route"], m["caller"], m["function"]) for m in _request_lines(lines, since)]
    commands = stack.function("commands").decl.logical
    openapi = _route_function(stack, "GET /openapi.json")
    assert seen == [
        ("201", "POST", "/locations", "POST /locations", "ana", commands),
        ("400", "POST", "/locations", "POST /locations", "ana", commands),
        ("401", "POST", "/locations", "POST /locations", "invalid token", None),
        ("401", "POST", "/locations", "POST /locations", "no token", None),
        ("404", "GET", "/no/such/route", "no route", "-", None),
        ("200", "GET", "/openapi.json", "GET /openapi.json", "-", openapi),
    ]
    # no second line per request, and nothing calls a 4xx "ok"
    assert not [line for line in lines[since:] if " http " in line or line.rstrip().endswith("  ok") and "/locations" in line]


def test_a_function_error_is_a_500_line_naming_the_error(stack: LocalStack, lines: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    queries = stack.function(_route_function(stack, "GET /openapi.json"))

    def broken(event: Any, context: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(queries.module, "handler", broken)
    since = len(lines)
    assert ApiClient(stack.api_url).get("/openapi.json").status == 500
    (match,) = _request_lines(lines, since)
    assert (match["status"], match["function"], match["error"]) == ("500", queries.decl.logical, "KeyError: 'boom'")


def test_non_http_invocations_keep_their_own_line(stack: LocalStack, lines: list[str]) -> None:
    api = ApiClient(stack.api_url, lambda sub, groups: stack.token(sub, groups)).as_user("ana", "admin")
    since = len(lines)
    assert api.post("/locations", {"name": "Streamed"}).status == 201
    stack.settle()
    publisher = stack.function("publisher").decl.logical
    assert any(line.split()[1:3] == [publisher, "stream"] and line.endswith("ok") for line in lines[since:])


def test_what_a_function_writes_to_stderr_is_prefixed_once_when_the_log_goes_to_stdout() -> None:
    """`local up` prints its log to stdout: a function's stderr line, routed to the log,
    must not be routed a second time on its way out through stdout."""
    got: list[str] = []
    original_out, original_err = io.StringIO(), io.StringIO()
    out = local_functions._RoutedStream(original_out, lambda fn, line: None)
    sink = lambda fn, line: (got.append(f"   | {fn}: {line}"), out.write(f"   | {fn}: {line}\n"))  # noqa: E731
    err = local_functions._RoutedStream(original_err, sink)
    out.sink = sink
    local_functions._current.function = SimpleNamespace(logical="fn")
    try:
        err.write("warning: something\n")
    finally:
        local_functions._current.function = None
    assert got == ["   | fn: warning: something"]
    assert original_out.getvalue() == "   | fn: warning: something\n"
