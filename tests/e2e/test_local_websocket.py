"""The local stack serves a program's WebSocket API as API Gateway does (`local.websocket`).

`tests/e2e/programs/chat` is a small project that is not ours (plain pulumi_aws): a WebSocket
API whose `$connect` has a Lambda REQUEST authorizer (`?token=let-me-in:<user>` allowed,
`deny` denied by policy, `unauthorized` raising Unauthorized, anything else crashing), a
`$connect`/`$disconnect` pair recording each connection in a table, `echo`/`$default`
answering through the Management API, a two-way `whoami` and a `post` route posting to
another connection. A standard client (`websockets`) talks to it; the Management API is
called from the functions and from this test (boto3) alike.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from acme_eventsourcing.local import LocalStack
from acme_eventsourcing.local.model import RequestAuthorizerDecl
from acme_eventsourcing.local.streams import Delays
from acme_eventsourcing.local.websocket import MAX_MESSAGE_BYTES, policy_allows, select_route
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

FAST = Delays(poll_s=0.03, first_retry_s=0.02, max_retry_s=0.2)
CHAT = Path(__file__).resolve().parent / "programs" / "chat"


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    lines: list[str] = []
    stack = LocalStack.from_program(CHAT, "dev", state_dir=tmp_path_factory.mktemp("chat-state"), log=lines.append, delays=FAST)
    stack.start()
    stack.lines = lines  # type: ignore[attr-defined]
    yield stack
    stack.stop()


def table(stack: LocalStack) -> Any:
    assert stack.model is not None and stack.clients is not None
    return boto3.resource(
        "dynamodb", endpoint_url=stack.moto_url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    ).Table(stack.model.tables[0].name)


def management(stack: LocalStack) -> Any:
    """A Management API client on the endpoint AWS would give the API (as the program exports it)."""
    endpoint = stack.recorded.outputs["websocket_url"].replace("wss://", "https://")  # type: ignore[union-attr]
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def record(stack: LocalStack, connection_id: str, state: str, timeout: float = 5.0) -> dict[str, Any]:
    """The table's record of `connection_id` once it is in `state`."""
    deadline = time.monotonic() + timeout
    while True:
        item = table(stack).get_item(Key={"id": connection_id}).get("Item")
        if item is not None and item["state"] == state:
            return {**item, "event": json.loads(item["event"])}
        if time.monotonic() > deadline:
            raise AssertionError(f"{connection_id} never reached {state!r}: {item}")
        time.sleep(0.02)


def whoami(ws: ClientConnection) -> dict[str, Any]:
    ws.send(json.dumps({"action": "whoami"}))
    return json.loads(ws.recv(timeout=5))


def test_url_in_banner_state_file_and_outputs(chat: LocalStack) -> None:
    url = chat.websocket_url
    assert url.startswith("ws://127.0.0.1:") and url.endswith("/live")
    assert chat.websocket_urls() == {"chat-ws": url}
    assert any(line.startswith(f"  WebSocket  {url}?token=...") and "$connect authorizer" in line for line in chat.lines)  # type: ignore[attr-defined]
    state = json.loads((chat.state_dir / "dev.json").read_text())
    assert state["websocket_url"] == url and state["websocket_urls"] == {"chat-ws": url}
    assert chat.local_outputs()["websocket_url"] == url  # the program's wss:// export, as this process reaches it


@pytest.mark.parametrize(
    ("query", "status", "authorizer_runs"),
    [
        ("?token=deny", 403, True),  # the policy denies
        ("?token=unauthorized", 401, True),  # the authorizer raises Unauthorized
        ("?token=crash", 500, True),  # any other failure of the authorizer
        ("", 401, False),  # the identity source is missing: the authorizer does not even run
        ("?token=", 401, False),
        ("?token=let-me-in:ana&refuse=1", 429, True),  # $connect answers 429
    ],
)
def test_a_refused_handshake_leaves_no_connection(chat: LocalStack, query: str, status: int, authorizer_runs: bool) -> None:
    authorizer_before = len(chat.invocations_of("chat-authorizer"))
    connected_before = table(chat).scan()["Items"]
    with pytest.raises(InvalidStatus) as refused:
        connect(chat.websocket_url + query, open_timeout=5)
    assert refused.value.response.status_code == status
    assert (len(chat.invocations_of("chat-authorizer")) > authorizer_before) is authorizer_runs
    assert table(chat).scan()["Items"] == connected_before
    assert chat.websockets[0].connections == {}


def test_a_lambda_authorizer_fetches_the_issuers_jwks_and_gets_the_local_key(chat: LocalStack) -> None:
    assert chat.jwks is not None and "https://issuer.example.com/.well-known/jwks.json" in chat.jwks.urls
    served = chat.jwks.served
    token = chat._issuer("https://issuer.example.com", ("chat",)).token("fay")
    with connect(chat.websocket_url + f"?token={token}", open_timeout=5) as ws:
        assert whoami(ws)["user"] == "fay"  # the signature verified against the fetched keys
    assert chat.jwks.served > served
    header, payload, signature = token.split(".")
    with pytest.raises(InvalidStatus) as refused:
        connect(chat.websocket_url + f"?token={header}.{payload}.{signature[:-4]}AAAA", open_timeout=5)
    assert refused.value.response.status_code == 401
    with urllib.request.urlopen("https://issuer.example.com/.well-known/jwks.json", timeout=5) as response:  # noqa: S310 - answered locally
        assert json.loads(response.read()) == chat._issuer("https://issuer.example.com", ("chat",)).jwks()


def test_another_path_is_refused(chat: LocalStack) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(chat.websocket_url.removesuffix("/live") + "/other?token=let-me-in:ana", open_timeout=5)
    assert refused.value.response.status_code == 403


def test_connect_runs_the_authorizer_then_connect_with_its_context(chat: LocalStack) -> None:
    with connect(chat.websocket_url + "?token=let-me-in:ana", open_timeout=5, user_agent_header="chat-test/1") as ws:
        me = whoami(ws)
        connected = record(chat, me["connectionId"], "connected")
    assert connected["user"] == "ana" and me["user"] == "ana"
    event = connected["event"]
    ctx = event["requestContext"]
    assert (ctx["routeKey"], ctx["eventType"], ctx["stage"], ctx["connectionId"]) == ("$connect", "CONNECT", "live", me["connectionId"])
    api = chat.websockets[0].api
    assert ctx["apiId"] == api.api_id and ctx["domainName"] == f"{api.api_id}.execute-api.us-east-1.amazonaws.com"
    assert abs(ctx["requestTimeEpoch"] / 1000 - time.time()) < 60 and ctx["identity"]["userAgent"] == "chat-test/1"
    # the authorizer saw a REQUEST event for $connect; its context (and principal) reach the integration
    assert ctx["authorizer"]["type"] == "REQUEST" and ctx["authorizer"]["seen_route"] == "$connect"
    assert ctx["authorizer"]["user"] == "ana" and ctx["authorizer"]["principalId"] == "ana"
    assert event["queryStringParameters"] == {"token": "let-me-in:ana"}


def test_messages_are_routed_by_the_selection_expression(chat: LocalStack) -> None:
    with connect(chat.websocket_url + "?token=let-me-in:bo", open_timeout=5) as ws:
        ws.send(json.dumps({"action": "echo", "text": "hi"}))
        echoed = json.loads(ws.recv(timeout=5))
        assert (echoed["route"], echoed["action"], echoed["user"], echoed["eventType"]) == ("echo", "echo", "bo", "MESSAGE")
        assert json.loads(echoed["body"]) == {"action": "echo", "text": "hi"}
        for other in ("not json", json.dumps({"action": "nope"}), json.dumps({"action": "$connect"}), json.dumps([1])):
            ws.send(other)
            fallback = json.loads(ws.recv(timeout=5))
            assert (fallback["route"], fallback["body"]) == ("$default", other)
        assert whoami(ws)["user"] == "bo"  # a route response: the integration's body comes back


def test_with_no_default_route_an_unrouted_message_has_none(chat: LocalStack) -> None:
    declared = chat.websockets[0].api
    api = dataclasses.replace(declared, routes=tuple(r for r in declared.routes if r.route_key != "$default"))
    assert select_route(api, json.dumps({"action": "echo"})) is api.route("echo")
    assert select_route(api, json.dumps({"action": "other"})) is None  # the server answers API Gateway's Forbidden
    assert select_route(api, "not json") is None
    nested = dataclasses.replace(api, route_selection="$request.body.meta.kind")
    assert select_route(nested, json.dumps({"meta": {"kind": "whoami"}})) is api.route("whoami")


def test_the_management_api_reaches_the_connection(chat: LocalStack) -> None:
    api = management(chat)
    with (
        connect(chat.websocket_url + "?token=let-me-in:ana", open_timeout=5, user_agent_header="ana-client") as ana,
        connect(chat.websocket_url + "?token=let-me-in:bo", open_timeout=5) as bo,
    ):
        ana_id, bo_id = whoami(ana)["connectionId"], whoami(bo)["connectionId"]
        described = api.get_connection(ConnectionId=ana_id)
        assert described["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "ana-client"}
        assert described["ConnectedAt"] <= described["LastActiveAt"]
        api.post_to_connection(ConnectionId=ana_id, Data=b"from outside")
        assert ana.recv(timeout=5) == "from outside"
        api.post_to_connection(ConnectionId=ana_id, Data=b"\xff\x00")
        assert ana.recv(timeout=5) == b"\xff\x00"  # not UTF-8: a binary frame
        # one function posting to another connection (its CONNECTIONS_ENDPOINT)
        ana.send(json.dumps({"action": "post", "to": bo_id, "text": "hello bo"}))
        assert bo.recv(timeout=5) == "hello bo"
        assert json.loads(ana.recv(timeout=5)) == {"posted": True}
        ana.send(json.dumps({"action": "post", "to": "Z29uZS1hd2F5LWlkPQ=", "text": "anyone?"}))
        assert json.loads(ana.recv(timeout=5)) == {"error": "GoneException", "status": 410}
        with pytest.raises(ClientError) as too_big:
            api.post_to_connection(ConnectionId=ana_id, Data=b"x" * (MAX_MESSAGE_BYTES + 1))
        assert too_big.value.response["Error"]["Code"] == "PayloadTooLargeException"


def test_close_runs_disconnect_and_the_connection_is_gone(chat: LocalStack) -> None:
    with connect(chat.websocket_url + "?token=let-me-in:cy", open_timeout=5) as ws:
        cid = whoami(ws)["connectionId"]
    gone = record(chat, cid, "disconnected")
    ctx = gone["event"]["requestContext"]
    assert (ctx["routeKey"], ctx["eventType"], ctx["disconnectStatusCode"]) == ("$disconnect", "DISCONNECT", 1000)
    assert ctx["authorizer"]["user"] == "cy"
    for call in (
        lambda: management(chat).post_to_connection(ConnectionId=cid, Data=b"late"),
        lambda: management(chat).get_connection(ConnectionId=cid),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "GoneException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_delete_connection_closes_it(chat: LocalStack) -> None:
    with connect(chat.websocket_url + "?token=let-me-in:di", open_timeout=5) as ws:
        cid = whoami(ws)["connectionId"]
        management(chat).delete_connection(ConnectionId=cid)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert record(chat, cid, "disconnected")["code"] == 1000
    assert cid not in chat.websockets[0].connections


def test_an_oversized_message_closes_the_connection(chat: LocalStack) -> None:
    with connect(chat.websocket_url + "?token=let-me-in:ed", open_timeout=5, max_size=None) as ws:
        cid = whoami(ws)["connectionId"]
        ws.send("x" * (MAX_MESSAGE_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert record(chat, cid, "disconnected")["code"] == 1009


def test_an_authorizer_policy_is_evaluated_like_api_gateway() -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:api/live/$connect"

    def answer(*statements: dict[str, Any]) -> dict[str, Any]:
        return {"principalId": "p", "policyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}

    allow = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn}
    assert policy_allows(answer(allow), arn)
    assert policy_allows(answer({**allow, "Resource": "arn:aws:execute-api:us-east-1:123456789012:api/*"}), arn)
    assert policy_allows(answer({**allow, "Action": ["execute-api:*"], "Resource": [arn]}), arn)
    assert not policy_allows(answer({**allow, "Resource": "arn:aws:execute-api:us-east-1:123456789012:other/*"}), arn)
    assert not policy_allows(answer(allow, {**allow, "Effect": "Deny", "Resource": "*"}), arn)  # an explicit Deny wins
    assert not policy_allows(answer(), arn)
    with pytest.raises(ValueError, match="principalId"):
        policy_allows({"policyDocument": {}}, arn)


def test_a_request_authorizer_decl_names_its_identity_sources(chat: LocalStack) -> None:
    connect_route = chat.websockets[0].api.route("$connect")
    assert connect_route is not None and isinstance(connect_route.authorizer, RequestAuthorizerDecl)
    assert connect_route.authorizer.identity_sources == ("route.request.querystring.token",)
    assert chat.websockets[0].api.route("whoami").two_way  # type: ignore[union-attr]


def test_stack_websocket_connects_a_client_with_a_token_in_the_authorizers_parameter(chat: LocalStack) -> None:
    with chat.websocket("gus") as gus:  # a local token for gus, in ?token= (the authorizer's identity source)
        before = time.perf_counter()
        gus.send({"action": "whoami"})
        answer = gus.wait(lambda m: isinstance(m, dict) and m.get("user") == "gus", timeout=5)
        assert answer.at >= before and gus.messages == [answer.data]
        gus.send("plain")
        assert gus.wait(lambda m: m.get("route") == "$default", after=1, timeout=5).data["body"] == "plain"
        with pytest.raises(TimeoutError, match="received"):
            gus.wait(lambda m: m == "never", timeout=0.2)
    with pytest.raises(InvalidStatus) as refused:
        chat.websocket(token="deny")
    assert refused.value.response.status_code == 403
