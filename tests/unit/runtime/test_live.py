"""The live-updates runtime: the `$connect` authorizer's JWT checks (forged tokens refused), the
connection handlers on moto, and the notifier (right connections only, gone ones deleted,
other failures retried)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import jwt
import pytest
from acme_eventsourcing.runtime import live
from acme_eventsourcing.runtime.live_messages import CHANGED_MESSAGE_SCHEMA, read_model_changed
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
AUDIENCE = "client-1"
KID = "key-1"
ENV = {"JWT_ISSUER": ISSUER, "JWT_AUDIENCES": f"other,{AUDIENCE}", "IDENTITY_CLAIM": "custom:employee_id"}
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/live/$connect"
TABLE = "connections"
ENDPOINT = "https://abc123.execute-api.us-east-1.amazonaws.com/live"

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(key: rsa.RSAPrivateKey, kid: str = KID) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": kid, "alg": "RS256", "use": "sig"}]}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    body = {
        "sub": "5f0c-uuid",
        "custom:employee_id": "e-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def token(key: rsa.RSAPrivateKey = KEY, kid: str = KID, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="RS256", headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(header: dict[str, Any], body: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}.{b64(signature)}"


def hs256_with_public_key() -> str:
    """The classic confusion attack: an HMAC token keyed with the (public) RSA key's PEM."""
    secret = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing = unsigned({"alg": "HS256", "kid": KID, "typ": "JWT"}, claims()).rsplit(".", 1)[0]
    return f"{signing}.{b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())}"


class Fetches:
    """A JWKS source that counts its fetches."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks, self.urls = jwks, []

    def __call__(self, url: str) -> dict[str, Any]:
        self.urls.append(url)
        return self.jwks


def authorizer(topics: Any = None, fetch: Any = None, env: dict[str, str] = ENV) -> Any:
    return live.authorizer_handler(
        topics=topics or (lambda identity, _claims: [f"employee#{identity}"]), environ=env, jwks=fetch or Fetches(jwks_of(KEY))
    )


def connect(handler: Any, tok: Any) -> dict[str, Any]:
    params = {} if tok is None else {"token": tok}
    return handler({"type": "REQUEST", "methodArn": METHOD_ARN, "queryStringParameters": params})


# --------------------------------------------------------------------------- the authorizer
def test_a_valid_token_is_allowed_with_its_identity_and_topics() -> None:
    fetch = Fetches(jwks_of(KEY))
    seen: list[tuple[str, dict[str, Any]]] = []

    def topics(identity: str, c: dict[str, Any]) -> list[str]:
        seen.append((identity, c))
        return ["employee#e-1", "location#l-1", "employee#e-1"]

    answer = connect(authorizer(topics, fetch), token())
    assert answer["principalId"] == "e-1"
    assert answer["policyDocument"]["Statement"] == [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}]
    assert answer["context"] == {"identity": "e-1", "topics": json.dumps(["employee#e-1", "location#l-1"])}
    assert seen[0][0] == "e-1" and seen[0][1]["sub"] == "5f0c-uuid"  # the configured claim, not sub
    assert fetch.urls == [f"{ISSUER}/.well-known/jwks.json"]


def test_a_cognito_access_token_is_accepted_by_its_client_id() -> None:
    answer = connect(authorizer(), token(aud=None, client_id=AUDIENCE, token_use="access"))
    assert answer["principalId"] == "e-1"


FORGED = {
    "bad signature": lambda: token(key=OTHER_KEY),
    "tampered payload": lambda: (
        lambda t: t.split(".")[0] + "." + b64(json.dumps(claims(**{"custom:employee_id": "boss"})).encode()) + "." + t.split(".")[2]
    )(token()),
    "unknown kid": lambda: token(kid="other-kid"),
    "alg none": lambda: unsigned({"alg": "none", "kid": KID}, claims()),
    "alg none with a signature": lambda: unsigned({"alg": "none", "kid": KID}, claims(), b"x" * 256),
    "HS256 with the public key as secret": lambda: hs256_with_public_key(),
    "RS512": lambda: jwt.encode(claims(), KEY, algorithm="RS512", headers={"kid": KID}),
    "wrong issuer": lambda: token(iss="https://evil.example"),
    "issuer with a trailing slash": lambda: token(iss=ISSUER + "/"),
    "wrong audience": lambda: token(aud="someone-else"),
    "no audience at all": lambda: token(aud=None),
    "expired": lambda: token(exp=int(time.time()) - 120),
    "no exp": lambda: token(exp=None),
    "not yet valid": lambda: token(nbf=int(time.time()) + 600),
    "issued in the future": lambda: token(iat=int(time.time()) + 600),
    "missing identity claim": lambda: token(**{"custom:employee_id": None}),
    "empty identity claim": lambda: token(**{"custom:employee_id": "  "}),
    "missing": lambda: None,
    "empty": lambda: "",
    "garbage": lambda: "not-a-jwt",
    "two parts": lambda: "a.b",
    "header not JSON": lambda: "bm90IGpzb24." + token().split(".", 1)[1],
}


DENY = {
    "principalId": live.ANONYMOUS,
    "policyDocument": {"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "*"}]},
}


@pytest.mark.parametrize("forge", FORGED.values(), ids=FORGED.keys())
def test_forged_expired_or_misdirected_tokens_are_denied(forge: Any, caplog: pytest.LogCaptureFixture) -> None:
    tok = forge()
    assert connect(authorizer(), tok) == DENY  # 403, no context: no identity, no topics
    refused = [json.loads(r.getMessage()) for r in caplog.records if "connect_refused" in r.getMessage()]
    assert len(refused) == 1 and refused[0]["reason"]
    assert not tok or tok not in caplog.text  # the reason is logged, never the token


def test_an_event_without_method_arn_is_denied() -> None:
    assert authorizer()({"type": "REQUEST", "queryStringParameters": {"token": token()}}) == DENY


def test_a_token_within_the_leeway_is_accepted() -> None:
    assert connect(authorizer(), token(exp=int(time.time()) - 5))["principalId"] == "e-1"


def test_the_jwks_is_cached_and_refetched_for_an_unknown_kid_at_most_once_a_minute() -> None:
    clock = [1000.0]
    fetch = Fetches(jwks_of(KEY))
    cache = live.JwksCache("https://issuer/jwks", fetch, now=lambda: clock[0])
    cache.key(KID)
    cache.key(KID)
    assert len(fetch.urls) == 1
    with pytest.raises(live.InvalidTokenError, match="unknown kid"):
        cache.key("rotated")  # within a minute of the last fetch: no refetch
    assert len(fetch.urls) == 1
    clock[0] += live.JWKS_MIN_REFETCH_SECONDS + 1
    fetch.jwks = {"keys": jwks_of(KEY)["keys"] + jwks_of(OTHER_KEY, "rotated")["keys"]}
    assert cache.key("rotated") == (OTHER_KEY.public_key().public_numbers().n, 65537)
    assert len(fetch.urls) == 2


def test_keys_not_for_rs256_signatures_are_ignored() -> None:
    jwk = jwks_of(KEY)["keys"][0]
    fetch = Fetches({"keys": [{**jwk, "alg": "RS512"}, {**jwk, "kid": "enc", "use": "enc"}, {"kty": "EC", "kid": "ec"}]})
    assert connect(authorizer(fetch=fetch), token()) == DENY


def test_the_default_fetch_refuses_a_non_https_issuer() -> None:
    with pytest.raises(live.InvalidTokenError, match="non-HTTPS"):
        live.default_jwks_fetch("http://127.0.0.1/local-issuer/.well-known/jwks.json")


def test_use_jwks_fetch_overrides_the_fetch_of_handlers_built_without_one() -> None:
    fetch = Fetches(jwks_of(KEY))
    handler = live.authorizer_handler(topics=lambda i, c: [], environ={**ENV, "JWKS_URL": "https://local/jwks"})
    live.use_jwks_fetch(fetch)
    try:
        assert connect(handler, token())["principalId"] == "e-1"
    finally:
        live.use_jwks_fetch(None)
    assert fetch.urls == ["https://local/jwks"]


def test_too_many_topics_are_refused_and_invalid_topics_fail_the_call() -> None:
    assert connect(authorizer(lambda i, c: [f"employee#{n}" for n in range(live.MAX_TOPICS + 1)]), token()) == DENY
    with pytest.raises(ValueError, match="invalid live-updates topic"):
        connect(authorizer(lambda i, c: ["bad topic!"]), token())


def test_authorizer_handler_needs_exactly_one_topics_source() -> None:
    with pytest.raises(TypeError):
        live.authorizer_handler()
    with pytest.raises(TypeError):
        live.authorizer_handler(topics=lambda i, c: [], build_topics=lambda env: lambda i, c: [])


def test_build_topics_gets_the_environment() -> None:
    envs: list[Any] = []
    handler = live.authorizer_handler(
        build_topics=lambda env: envs.append(env) or (lambda i, c: [f"employee#{i}"]), environ=ENV, jwks=Fetches(jwks_of(KEY))
    )
    assert connect(handler, token())["context"]["topics"] == '["employee#e-1"]'
    assert envs == [ENV]


@settings(max_examples=25, deadline=None)
@given(message=st.binary(max_size=300), flip=st.integers(min_value=0, max_value=255))
def test_the_pure_python_verification_agrees_with_cryptography(message: bytes, flip: int) -> None:
    signature = KEY.sign(message, padding.PKCS1v15(), hashes.SHA256())
    numbers = KEY.public_key().public_numbers()
    assert live.rsa_pkcs1_sha256_verify(numbers.n, numbers.e, message, signature)
    tampered = bytearray(signature)
    tampered[flip] ^= 0x01
    assert not live.rsa_pkcs1_sha256_verify(numbers.n, numbers.e, message, bytes(tampered))
    assert not live.rsa_pkcs1_sha256_verify(numbers.n, numbers.e, message + b"!", signature)
    sha1 = KEY.sign(message, padding.PKCS1v15(), hashes.SHA1())  # another DigestInfo: refused
    assert not live.rsa_pkcs1_sha256_verify(numbers.n, numbers.e, message, sha1)


# --------------------------------------------------------------------------- connections on moto
@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def ws_event(route: str, connection: str, authorizer: dict[str, Any] | None = None, body: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"routeKey": route, "connectionId": connection, "eventType": route.strip("$").upper()}
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {"requestContext": context, **({"body": body} if body is not None else {})}


def open_connection(client: Any, connection: str, identity: str, topics: list[str]) -> None:
    handler = live.connect_handler_for({"CONNECTIONS_TABLE": TABLE}, client)
    answer = handler(ws_event("$connect", connection, {"principalId": identity, "identity": identity, "topics": json.dumps(topics)}))
    assert answer == {"statusCode": 200}


def items(client: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["pk"]["S"], i["sk"]["S"]): i for i in client.scan(TableName=TABLE)["Items"]}


def test_connect_stores_the_topics_with_a_ttl_and_disconnect_removes_them(aws: Any) -> None:
    before = int(time.time())
    open_connection(aws, "c-1", "e-1", ["employee#e-1", "location#l-1"])
    stored = items(aws)
    assert set(stored) == {("connection#c-1", "connection"), ("topic#employee#e-1", "c-1"), ("topic#location#l-1", "c-1")}
    for item in stored.values():
        assert item["identity"] == {"S": "e-1"}
        assert before + live.CONNECTION_TTL_SECONDS <= int(item["expires_at"]["N"]) <= int(time.time()) + live.CONNECTION_TTL_SECONDS
        assert item["topics"] == {"L": [{"S": "employee#e-1"}, {"S": "location#l-1"}]}
    open_connection(aws, "c-2", "e-2", ["location#l-1"])
    disconnect = live.disconnect_handler_for({"CONNECTIONS_TABLE": TABLE}, aws)
    assert disconnect(ws_event("$disconnect", "c-1")) == {"statusCode": 200}
    assert set(items(aws)) == {("connection#c-2", "connection"), ("topic#location#l-1", "c-2")}
    assert disconnect(ws_event("$disconnect", "never-seen")) == {"statusCode": 200}  # nothing to delete: fine


def test_connect_without_the_authorizers_context_is_refused(aws: Any) -> None:
    handler = live.connect_handler_for({"CONNECTIONS_TABLE": TABLE}, aws)
    assert handler(ws_event("$connect", "c-1"))["statusCode"] == 403
    assert handler(ws_event("$connect", "c-1", {"identity": "e-1", "topics": "not json"}))["statusCode"] == 403
    assert items(aws) == {}


def test_default_route_answers_a_ping_and_explains_anything_else(aws: Any) -> None:
    handler = live.connect_handler_for({"CONNECTIONS_TABLE": TABLE}, aws)
    assert json.loads(handler(ws_event("$default", "c-1", body='{"action": "ping"}'))["body"]) == {"type": "pong"}
    for body in ('{"action": "subscribe", "topic": "admins"}', "not json", None):
        answer = json.loads(handler(ws_event("$default", "c-1", body=body))["body"])
        assert answer["type"] == "error" and answer["code"] == "unknown_action"
    assert items(aws) == {}  # a message never subscribes anything


# --------------------------------------------------------------------------- the notifier
def notice(topics: list[str], view: str = "pending") -> dict[str, Any]:
    detail = read_model_changed(
        view=view,
        topics=topics,
        event_id="ev-1",
        event_type="LeaveRequested",
        stream_id="employee#e-1",
        version=3,
        stored_at="2026-11-30T10:00:00.000Z",
    )
    return {"source": "acme.leave.live", "detail-type": "ReadModelChanged", "detail": detail}


def sent() -> dict[str, list[dict[str, Any]]]:
    """What moto's Management API received per connection (it concatenates the posts)."""
    backend = apigatewaymanagementapi_backends["123456789012"]["us-east-1"]
    out = {}
    for connection, c in backend.connections.items():
        if c.data:
            out[connection] = [json.loads(line) for line in c.data.decode().replace("}{", "}\n{").splitlines()]
    return out


class Boundary:
    """The Management API client with some connections gone (410) or failing (429)."""

    def __init__(self, client: Any, gone: set[str] = frozenset(), failing: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.client, self.gone, self.failing, self.calls = client, gone, failing, []

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> Any:  # noqa: N803 - boto3's names
        self.calls.append(ConnectionId)
        if ConnectionId in self.gone:
            raise self.client.exceptions.GoneException(
                {"Error": {"Code": "GoneException", "Message": "gone"}, "ResponseMetadata": {"HTTPStatusCode": 410}}, "PostToConnection"
            )
        if ConnectionId in self.failing:
            raise ClientError(
                {"Error": {"Code": "LimitExceededException", "Message": "slow down"}, "ResponseMetadata": {"HTTPStatusCode": 429}},
                "PostToConnection",
            )
        return self.client.post_to_connection(ConnectionId=ConnectionId, Data=Data)


def notifier(dynamodb: Any, management: Any) -> Any:
    return live.notifier_handler_for(
        {"CONNECTIONS_TABLE": TABLE, "CONNECTIONS_ENDPOINT": ENDPOINT}, dynamodb=dynamodb, management=management
    )


def test_the_notifier_tells_each_holder_once_and_nobody_else(aws: Any) -> None:
    open_connection(aws, "approver", "mike", ["employee#mike", "approvers#l-1", "location#l-1"])
    open_connection(aws, "employee", "e-1", ["employee#e-1", "location#l-1"])
    open_connection(aws, "other-location", "sara", ["employee#sara", "approvers#l-2", "location#l-2"])
    management = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name="us-east-1")
    report = notifier(aws, management)(notice(["approvers#l-1", "location#l-1", "employee#e-1"]))
    assert report == {"sent": 2, "gone": 0, "failed": 0}
    messages = sent()
    assert set(messages) == {"approver", "employee"}  # never the other location's client
    assert [m["topic"] for m in messages["approver"]] == ["approvers#l-1"]  # one message, its first matching topic
    assert [m["topic"] for m in messages["employee"]] == ["location#l-1"]
    import jsonschema

    for m in messages["approver"] + messages["employee"]:
        jsonschema.validate(m, CHANGED_MESSAGE_SCHEMA)
        assert m["event"] == {"id": "ev-1", "type": "LeaveRequested", "stream": "employee#e-1", "version": 3}


def test_gone_connections_are_deleted_and_the_others_still_told(aws: Any) -> None:
    open_connection(aws, "gone", "e-1", ["employee#e-1", "location#l-1"])
    open_connection(aws, "alive", "e-2", ["location#l-1"])
    management = Boundary(boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name="us-east-1"), gone={"gone"})
    report = notifier(aws, management)(notice(["location#l-1"], view="calendar"))
    assert report == {"sent": 1, "gone": 1, "failed": 0}
    assert set(items(aws)) == {("connection#alive", "connection"), ("topic#location#l-1", "alive")}  # all of gone's items


def test_other_failures_fail_the_invocation_after_telling_the_rest(aws: Any) -> None:
    open_connection(aws, "slow", "e-1", ["location#l-1"])
    open_connection(aws, "fine", "e-2", ["location#l-1"])
    management = Boundary(boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name="us-east-1"), failing={"slow"})
    with pytest.raises(live.NotifyError, match="1 connection"):
        notifier(aws, management)(notice(["location#l-1"], view="calendar"))
    assert sorted(management.calls) == ["fine", "slow"]
    assert ("topic#location#l-1", "slow") in items(aws)  # kept: it is not gone


def test_expired_connections_are_skipped(aws: Any) -> None:
    open_connection(aws, "old", "e-1", ["location#l-1"])
    aws.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "topic#location#l-1"}, "sk": {"S": "old"}},
        UpdateExpression="SET expires_at = :t",
        ExpressionAttributeValues={":t": {"N": str(int(time.time()) - 1)}},
    )
    management = Boundary(boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name="us-east-1"))
    assert notifier(aws, management)(notice(["location#l-1"]))["sent"] == 0
    assert management.calls == []


def test_the_notifier_refuses_what_is_not_a_notice(aws: Any) -> None:
    handler = notifier(aws, Boundary(None))
    with pytest.raises(ValueError, match="ReadModelChanged"):
        handler({"detail-type": "LeaveRequested", "detail": {}})
    with pytest.raises(ValueError, match="topics"):
        handler({"detail-type": "ReadModelChanged", "detail": {"view": "x"}})


def test_many_holders_are_each_told_exactly_once_in_parallel(aws: Any) -> None:
    members = [f"m-{n}" for n in range(40)]
    for m in members:
        open_connection(aws, m, m, [f"employee#{m}", "location#l-1"])
    open_connection(aws, "outsider", "x", ["location#l-2"])
    management = Boundary(boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name="us-east-1"), gone={"m-7"})
    report = notifier(aws, management)(notice(["location#l-1", "employee#m-3"], view="calendar"))
    assert report == {"sent": 39, "gone": 1, "failed": 0}
    assert sorted(management.calls) == sorted(members)  # each once, never the outsider
    assert all(len(v) == 1 for v in sent().values())
    assert not [k for k in items(aws) if k[1] == "m-7" or k[0] == "connection#m-7"]
