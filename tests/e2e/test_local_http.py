"""The local HTTP API: route choice, the payload 2.0 event, and the JWT authorizer.

Runs `ApiServer.handle` directly with a recording stand-in for the function runtime, so
these checks need neither moto nor sockets."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from acme_eventsourcing.local.functions import Invocation
from acme_eventsourcing.local.http_api import ApiServer, compile_routes, match_route
from acme_eventsourcing.local.model import ApiDecl, Authorizer, RouteDecl
from acme_eventsourcing.local.tokens import Issuer, flatten_claims, load_key
from decls import function_decl

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test"
AUDIENCE = "client-1"


def _route(key: str, *, public: bool = False, function: str = "api") -> RouteDecl:
    method, _, path = key.partition(" ")
    authorizer = None if public else Authorizer(issuer=ISSUER, audiences=(AUDIENCE,), header="authorization")
    return RouteDecl(
        route_key=key,
        method="ANY" if key == "$default" else method,
        path=path,
        function=function_decl(function),
        authorizer=authorizer,
        scopes=(),
    )


class _Runtime:
    """Records the events; answers with `result`."""

    def __init__(self, result: Any = None, ok: bool = True) -> None:
        self.events: list[dict[str, Any]] = []
        self.result, self.ok = result, ok

    def invoke(self, logical: str, event: Any, trigger: str) -> Invocation:
        self.events.append(json.loads(json.dumps(event)))
        return Invocation(
            logical,
            trigger,
            "req",
            0.0,
            1.0,
            self.ok,
            self.result if self.ok else None,
            None if self.ok else "Boom",
            None if self.ok else "x",
        )


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Issuer:
    return Issuer(load_key(tmp_path_factory.mktemp("key")), ISSUER, (AUDIENCE,))


def _server(issuer: Issuer, runtime: _Runtime, *routes: RouteDecl, stage: str = "$default") -> ApiServer:
    api = ApiDecl(logical="api", api_id="abc123", stage=stage, routes=routes, cors=None)
    server = ApiServer(
        api, host="127.0.0.1", port=0, runtime=runtime, issuer_for=lambda i, a: Issuer(issuer.private_key, i, a), account_id="123456789012"
    )  # type: ignore[arg-type]
    server.server.server_close()  # handle() only; no socket needed
    return server


def _auth(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def test_literal_beats_parameter_beats_greedy_and_method_beats_any() -> None:
    routes = compile_routes(
        (
            _route("ANY /{proxy+}"),
            _route("GET /items/{id}"),
            _route("GET /items/special"),
            _route("ANY /items/{id}"),
            _route("$default"),
        )
    )
    assert match_route(routes, "GET", "/items/special").route.route_key == "GET /items/special"  # type: ignore[union-attr]
    assert match_route(routes, "GET", "/items/7").route.route_key == "GET /items/{id}"  # type: ignore[union-attr]
    assert match_route(routes, "POST", "/items/7").route.route_key == "ANY /items/{id}"  # type: ignore[union-attr]
    assert match_route(routes, "POST", "/a/b/c").route.route_key == "ANY /{proxy+}"  # type: ignore[union-attr]
    assert match_route(compile_routes((_route("GET /x"),)), "GET", "/y") is None


def test_path_parameters_are_decoded_after_matching_the_encoded_path() -> None:
    found = match_route(compile_routes((_route("GET /streams/{stream_id}/events"),)), "GET", "/streams/employee%23john%2Fx/events")
    assert found is not None and found.path_parameters == {"stream_id": "employee#john/x"}


def test_event_has_the_payload_2_0_shape_api_gateway_sends(issuer: Issuer) -> None:
    runtime = _Runtime({"statusCode": 201, "headers": {"content-type": "application/json"}, "body": '{"ok": true}'})
    server = _server(issuer, runtime, _route("POST /locations/{location_id}/employees"))
    token = issuer.token("ana", ["admin", "approver"])
    status, headers, body = server.handle(
        "POST",
        "/locations/loc%231/employees?a=1&a=2&b=",
        [*_auth(token), ("X-Thing", "v"), ("Cookie", "c1=1; c2=2"), ("Content-Type", "application/json")],
        b'{"employee_id": "john"}',
        "127.0.0.1",
    )
    assert (status, json.loads(body)) == (201, {"ok": True})
    event = runtime.events[0]
    assert event["version"] == "2.0" and event["routeKey"] == "POST /locations/{location_id}/employees"
    assert event["rawPath"] == "/locations/loc#1/employees" and event["rawQueryString"] == "a=1&a=2&b="
    assert event["pathParameters"] == {"location_id": "loc#1"}
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["headers"]["x-thing"] == "v" and "cookie" not in event["headers"] and event["cookies"] == ["c1=1", "c2=2"]
    assert event["body"] == '{"employee_id": "john"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"]["method"] == "POST" and context["routeKey"] == event["routeKey"] and context["requestId"]
    claims = context["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "ana" and claims["cognito:groups"] == "[admin approver]" and claims["iss"] == ISSUER
    assert all(isinstance(v, str) for v in claims.values())
    assert ("apigw-requestid", context["requestId"]) in headers


def test_binary_bodies_arrive_base64_encoded(issuer: Issuer) -> None:
    runtime = _Runtime({"statusCode": 204})
    server = _server(issuer, runtime, _route("PUT /blob", public=True))
    server.handle("PUT", "/blob", [("Content-Type", "application/octet-stream")], b"\xff\x00", "127.0.0.1")
    assert runtime.events[0]["isBase64Encoded"] is True and base64.b64decode(runtime.events[0]["body"]) == b"\xff\x00"


@pytest.mark.parametrize(
    "case",
    ["missing", "garbage", "expired", "wrong audience", "wrong issuer", "foreign key", "not RS256"],
)
def test_authorizer_refuses_bad_tokens_with_401_before_the_function_runs(issuer: Issuer, tmp_path: Path, case: str) -> None:
    import jwt

    runtime = _Runtime({"statusCode": 200})
    server = _server(issuer, runtime, _route("GET /me"))
    tokens = {
        "missing": lambda: None,
        "garbage": lambda: "not.a.jwt",
        "expired": lambda: issuer.token("ana", ttl=-5),
        "wrong audience": lambda: Issuer(issuer.private_key, ISSUER, ("other",)).token("ana"),
        "wrong issuer": lambda: Issuer(issuer.private_key, "https://elsewhere", (AUDIENCE,)).token("ana"),
        "foreign key": lambda: Issuer(load_key(tmp_path), ISSUER, (AUDIENCE,)).token("ana"),
        "not RS256": lambda: jwt.encode(
            {"sub": "ana", "iss": ISSUER, "aud": AUDIENCE, "exp": 2**40},
            "a-shared-secret-of-at-least-32-bytes!",
            algorithm="HS256",
            headers={"kid": issuer.kid},
        ),
    }
    token = tokens[case]()
    status, _, body = server.handle("GET", "/me", _auth(token) if token else [], b"", "127.0.0.1")
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    assert runtime.events == []


def test_token_without_bearer_prefix_and_public_routes_pass(issuer: Issuer) -> None:
    runtime = _Runtime({"statusCode": 200, "body": "{}"})
    server = _server(issuer, runtime, _route("GET /me"), _route("GET /openapi.json", public=True))
    assert server.handle("GET", "/me", [("Authorization", issuer.token("ana"))], b"", "127.0.0.1")[0] == 200
    assert server.handle("GET", "/openapi.json", [], b"", "127.0.0.1")[0] == 200
    assert "authorizer" not in runtime.events[1]["requestContext"]


def test_unknown_route_function_error_and_plain_results_answer_like_api_gateway(issuer: Issuer) -> None:
    server = _server(issuer, _Runtime({"hello": "world"}), _route("GET /plain", public=True))
    assert server.handle("GET", "/nope", [], b"", "127.0.0.1")[0::2] == (404, b'{"message":"Not Found"}')
    assert server.handle("GET", "/plain", [], b"", "127.0.0.1")[0::2] == (200, b'{"hello": "world"}')
    failing = _server(issuer, _Runtime(ok=False), _route("GET /plain", public=True))
    assert failing.handle("GET", "/plain", [], b"", "127.0.0.1")[0::2] == (500, b'{"message":"Internal Server Error"}')


def test_named_stage_is_served_under_its_path(issuer: Issuer) -> None:
    runtime = _Runtime({"statusCode": 200})
    server = _server(issuer, runtime, _route("GET /ping", public=True), stage="dev")
    assert server.handle("GET", "/ping", [], b"", "127.0.0.1")[0] == 404
    assert server.handle("GET", "/dev/ping", [], b"", "127.0.0.1")[0] == 200
    assert runtime.events[0]["rawPath"] == "/dev/ping" and runtime.events[0]["requestContext"]["stage"] == "dev"


def test_claims_are_flattened_to_strings() -> None:
    assert flatten_claims({"a": ["x", "y"], "n": 5, "b": True, "s": "t"}) == {"a": "[x y]", "n": "5", "b": "true", "s": "t"}
