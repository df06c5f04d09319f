"""Live updates end to end on the local stack: the leave program's WebSocket API, its `$connect`
authorizer, the projectors' change notices and the notifier, with standard WebSocket clients.

Two locations, each with an approver and a member: Alpha (Amy approves, Art) and Beta (Bea
approves, Bob). A client hears exactly the topics its identity may read (`employee#<self>`,
`location#<its location>`, `approvers#<each location it approves>`): never another
location's changes. A token the HTTP API would refuse is refused at the handshake (403: the
authorizer's Deny; 401 with no token at all).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import jwt
import pytest
from acme_eventsourcing.local.wsclient import WebSocketClient
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.exceptions import InvalidStatus

from local import LocalStack

PTO = "PTO"


@pytest.fixture(scope="module")
def places(local_stack: LocalStack) -> dict[str, str]:
    """Alpha (Amy approves; Amy, Art) and Beta (Bea approves; Bea, Bob), 20 PTO days each."""
    ana = local_stack.client("ana", "admin")
    ids = {}
    for name, approver, member in (("Alpha", "amy", "art"), ("Beta", "bea", "bob")):
        location = ana.post("/locations", {"name": name}).json["location_id"]
        for who in (approver, member):
            assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who.title()}).status == 201
        assert ana.put(f"/locations/{location}/approver", {"employee_id": approver}).status == 200
        assert ana.put(f"/locations/{location}/policy", {"leave_type": PTO, "days_per_year": 20, "max_rollover_days": 5}).status == 200
        ids[name] = location
    local_stack.settle()  # the authorizer reads the read models to give each caller its topics
    return ids


@pytest.fixture
def clients(local_stack: LocalStack, places: dict[str, str]) -> Iterator[dict[str, WebSocketClient]]:
    """A connected client per person, with their own token."""
    opened = {who: local_stack.websocket(who) for who in ("amy", "art", "bea", "bob")}
    yield opened
    for client in opened.values():
        client.close()


_weeks = iter(range(1, 40))


def next_week() -> date:
    """A Monday of next year no other test of this module requests."""
    first = date(date.today().year + 1, 1, 1)
    return first + timedelta(days=(7 - first.weekday()) % 7) + timedelta(weeks=next(_weeks))


def changed(topic: str, event_type: str) -> Any:
    return lambda m: isinstance(m, dict) and m.get("type") == "changed" and m["topic"] == topic and m["event"]["type"] == event_type


def request_leave(local_stack: LocalStack, who: str) -> str:
    start = next_week()
    body = {"leave_type": PTO, "start": str(start), "end": str(start + timedelta(days=1))}
    response = local_stack.client(who).post(f"/employees/{who}/leave-requests", body)
    assert response.status == 201, response.text
    return str(response.json["request_id"])


def allowed(who: str, places: dict[str, str]) -> set[str]:
    alpha, beta = places["Alpha"], places["Beta"]
    return {
        "amy": {"employee#amy", f"location#{alpha}", f"approvers#{alpha}"},
        "art": {"employee#art", f"location#{alpha}"},
        "bea": {"employee#bea", f"location#{beta}", f"approvers#{beta}"},
        "bob": {"employee#bob", f"location#{beta}"},
    }[who]


def test_the_approver_gets_the_pending_change(local_stack: LocalStack, places: dict[str, str], clients: dict[str, WebSocketClient]) -> None:
    request_id = request_leave(local_stack, "bob")
    heard = clients["bea"].wait(changed(f"approvers#{places['Beta']}", "LeaveRequested"), timeout=10).data
    assert heard["view"] == "pending" and heard["event"]["stream"] == "employee#bob"
    pending = local_stack.client("bea").get("/approvers/bea/pending").json  # what the message says changed, read over HTTP
    assert request_id in [i["request_id"] for i in pending["items"]]
    # Bob hears his own request, and Beta's members its calendar
    clients["bob"].wait(changed("employee#bob", "LeaveRequested"), timeout=10)
    clients["bob"].wait(changed(f"location#{places['Beta']}", "LeaveRequested"), timeout=10)


@pytest.mark.parametrize(("decision", "event_type"), [("approve", "LeaveApproved"), ("deny", "LeaveDenied")])
def test_the_employee_gets_the_decision(
    local_stack: LocalStack, places: dict[str, str], clients: dict[str, WebSocketClient], decision: str, event_type: str
) -> None:
    request_id = request_leave(local_stack, "art")
    clients["amy"].wait(changed(f"approvers#{places['Alpha']}", "LeaveRequested"), timeout=10)
    body = {"reason": "busy week"} if decision == "deny" else {}
    assert local_stack.client("amy").post(f"/leave-requests/{request_id}/{decision}", body).status == 200
    told = clients["art"].wait(changed("employee#art", event_type), timeout=10).data
    assert told["event"]["stream"] == "employee#art"
    clients["amy"].wait(changed(f"approvers#{places['Alpha']}", event_type), timeout=10)  # off Amy's list


def test_a_client_never_receives_another_locations_changes(
    local_stack: LocalStack, places: dict[str, str], clients: dict[str, WebSocketClient]
) -> None:
    beta_request = request_leave(local_stack, "bob")
    assert local_stack.client("bea").post(f"/leave-requests/{beta_request}/approve", {}).status == 200
    alpha_request = request_leave(local_stack, "art")
    assert local_stack.client("amy").post(f"/leave-requests/{alpha_request}/deny", {"reason": "no"}).status == 200
    clients["bob"].wait(changed("employee#bob", "LeaveApproved"), timeout=10)
    clients["art"].wait(changed("employee#art", "LeaveDenied"), timeout=10)
    local_stack.settle()
    time.sleep(0.3)  # any straggler the notifier would still send
    for who, client in clients.items():
        topics = {m["topic"] for m in client.messages}
        assert topics, f"{who} heard nothing"
        assert topics <= allowed(who, places), f"{who} heard {topics - allowed(who, places)}"
    other = places["Alpha"]
    assert not any(other in m["topic"] for who in ("bea", "bob") for m in clients[who].messages)
    assert not any(places["Beta"] in m["topic"] for who in ("amy", "art") for m in clients[who].messages)


def forged(local_stack: LocalStack, who: str) -> str:
    """A token with every claim right and the local key's kid, signed by another key."""
    genuine = local_stack.token(who)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    return jwt.encode(claims, other, algorithm="RS256", headers={"kid": jwt.get_unverified_header(genuine)["kid"]})


def refused_tokens(local_stack: LocalStack) -> dict[str, str | None]:
    _, audiences = local_stack.authorizer()
    unsigned = jwt.encode(jwt.decode(local_stack.token("bob"), options={"verify_signature": False}), key=None, algorithm="none")
    bea, bob = local_stack.token("bea").split("."), local_stack.token("bob").split(".")
    return {
        "forged (another key, same kid)": forged(local_stack, "bob"),
        "expired": local_stack.token("bob", ttl=-120),
        "not yet valid": local_stack.token("bob", nbf=int(time.time()) + 600),
        "another audience": local_stack.token("bob", aud="someone-else"),
        "another issuer": local_stack._issuer("https://issuer.evil.example", audiences).token("bob"),
        "alg none": unsigned,
        "tampered claims (bob's claims under bea's signature)": ".".join([bea[0], bob[1], bea[2]]),
        "garbage": "not-a-jwt",
        "none": None,
    }


def test_a_forged_or_stale_token_is_refused_at_the_handshake(local_stack: LocalStack, places: dict[str, str]) -> None:
    server = local_stack.websockets[0]
    open_before = set(server.connections)
    connects_before = len(local_stack.invocations_of("live-connect"))
    for what, token in refused_tokens(local_stack).items():
        with pytest.raises(InvalidStatus) as refused:
            local_stack.websocket(token=token) if token is not None else WebSocketClient(server.url)
        # no token: API Gateway answers 401 itself (the identity source is missing); a bad one: the authorizer's Deny, 403
        assert refused.value.response.status_code == (401 if token is None else 403), what
    # no connection was opened (an earlier test's client may still be closing: the set may shrink)
    assert set(server.connections) - open_before == set()
    assert len(local_stack.invocations_of("live-connect")) == connects_before  # $connect never ran
    with local_stack.websocket("bob") as bob:  # the genuine token still connects
        assert bob.connection.protocol.state.name == "OPEN"


def test_ping_is_answered_through_the_route_response(local_stack: LocalStack, places: dict[str, str]) -> None:
    with local_stack.websocket("art") as art:
        art.send({"action": "ping"})
        assert art.wait(lambda m: m == {"type": "pong"}, timeout=10).data == {"type": "pong"}
