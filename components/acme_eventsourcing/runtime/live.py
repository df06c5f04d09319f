"""The live-updates functions: the `$connect` authorizer, the connection handlers and the notifier.

A client opens `wss://<api>/<stage>?token=<JWT>`. API Gateway calls the REQUEST authorizer
(`authorizer_handler(...)`, product code: it names the connection's topics), which checks the
token as strictly as the HTTP API's JWT authorizer (`verify_jwt`) and hands the identity and
topics on in its context; the `$connect` route's function (`connect_handler`) stores them;
`$disconnect` (`disconnect_handler`) removes them; the notifier (`notifier_handler`),
a target of the rule on `<source>.live` / `ReadModelChanged` notices, sends each connection
holding one of a notice's topics one `changed(...)` message (`live_messages`).

Connections table (keys `pk`/`sk`, TTL attribute `expires_at`):

- `topic#<topic>` / `<connection id>`: the connection holds the topic (`identity`,
  `topics`: all of the connection's topics, `expires_at`); the notifier Queries these;
- `connection#<connection id>` / `connection`: the connection (`identity`, `topics`,
  `connected_at`, `expires_at`); `$disconnect` reads it to delete the topic items.

Items expire 2 h 5 min after connecting (API Gateway closes a WebSocket after 2 h at most;
the notifier skips expired items that DynamoDB has not yet removed). Topics are fixed when a
connection opens: a change of who may read what (a transfer, a new approver) reaches a
client when it reconnects.

Environment: `CONNECTIONS_TABLE` (all three functions), `CONNECTIONS_ENDPOINT` (the notifier:
`https://{api id}.execute-api.{region}.amazonaws.com/{stage}`), and for the authorizer
`JWT_ISSUER`, `JWT_AUDIENCES` (comma-separated), `IDENTITY_CLAIM` (default `sub`),
optionally `JWKS_URL` (default `<issuer>/.well-known/jwks.json`). Standard library and boto3 only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field
from typing import Any

from ._frozen import frozen_dataclass
from .handler import Clock, LambdaHandler, require
from .live_messages import READ_MODEL_CHANGED, changed, check_topic

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

CONNECTIONS_TABLE_ENV = "CONNECTIONS_TABLE"
CONNECTIONS_ENDPOINT_ENV = "CONNECTIONS_ENDPOINT"
JWT_ISSUER_ENV = "JWT_ISSUER"
JWT_AUDIENCES_ENV = "JWT_AUDIENCES"
JWKS_URL_ENV = "JWKS_URL"
IDENTITY_CLAIM_ENV = "IDENTITY_CLAIM"
DEFAULT_IDENTITY_CLAIM = "sub"
#: The query-string parameter the client passes its token in (`wss://...?token=<JWT>`).
TOKEN_PARAMETER = "token"
#: How long a connection's items live: API Gateway's 2-hour connection limit, plus a margin.
CONNECTION_TTL_SECONDS = 2 * 3600 + 300
#: Clock skew tolerated on `exp`, `nbf` and `iat` (seconds).
LEEWAY_SECONDS = 30
#: How long a fetched JWKS is used; an unknown `kid` refetches it, at most once per `JWKS_MIN_REFETCH_SECONDS`.
JWKS_CACHE_SECONDS = 3600
JWKS_MIN_REFETCH_SECONDS = 60
#: At most this many topics per connection (each costs an item and a write at connect time).
MAX_TOPICS = 50
#: How many posts the notifier makes at once.
POST_CONCURRENCY = 16
#: The message a client gets back for `{"action": "ping"}` (keep-alive: API Gateway closes idle connections after 10 min).
PONG = {"type": "pong"}

TopicsFn = Callable[[str, Mapping[str, Any]], Iterable[str]]
"""The product's rule of who hears what: `(identity, verified claims) -> topics`."""
JwksFetch = Callable[[str], Mapping[str, Any]]
"""`(JWKS URL) -> the JWKS document` (`{"keys": [...]}`)."""


# --------------------------------------------------------------------------- JWT verification
class InvalidTokenError(Exception):
    """The token would be refused by API Gateway's JWT authorizer; the message says why."""


# DER prefix of DigestInfo { sha256, NULL } (RFC 8017, 9.2 note 1)
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _b64url(text: str) -> bytes:
    if not isinstance(text, str) or any(c in text for c in "+/= \t\r\n"):
        raise InvalidTokenError("malformed token: not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidTokenError("malformed token: not base64url") from exc


def _json_part(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url(text))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidTokenError(f"malformed token: the {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidTokenError(f"malformed token: the {what} is not a JSON object")
    return value


def _int_from_b64url(text: Any, what: str) -> int:
    if not isinstance(text, str) or not text:
        raise InvalidTokenError(f"JWKS key has no {what}")
    return int.from_bytes(_b64url(text), "big")


def rsa_pkcs1_sha256_verify(n: int, e: int, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is an RSASSA-PKCS1-v1_5 SHA-256 signature of `message` by the key
    (`n`, `e`) (RFC 8017 8.2.2: the encoded message is rebuilt and compared, never parsed)."""
    k = (n.bit_length() + 7) // 8
    if k < 256 or len(signature) != k:  # 2048-bit keys at least; the signature is exactly k bytes
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)


def default_jwks_fetch(url: str) -> Mapping[str, Any]:
    """The JWKS at `url` (HTTPS GET, 5 s timeout)."""
    if not url.startswith("https://"):
        raise InvalidTokenError(f"refusing to fetch the JWKS over a non-HTTPS URL {url!r}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - https only, checked above
        return json.loads(response.read(1_000_000))


class JwksCache:
    """The issuer's signing keys by `kid`, fetched with `fetch` and kept `JWKS_CACHE_SECONDS`;
    a `kid` not in the cache refetches (at most once per `JWKS_MIN_REFETCH_SECONDS`)."""

    def __init__(self, url: str, fetch: JwksFetch = default_jwks_fetch, now: Callable[[], float] = time.time) -> None:
        self.url, self._fetch, self._now = url, fetch, now
        self._keys: dict[str, tuple[int, int]] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> tuple[int, int]:
        """(n, e) of the RS256 signing key `kid`, or InvalidTokenError."""
        with self._lock:
            now = self._now()
            stale = self._fetched_at is None or now - self._fetched_at > JWKS_CACHE_SECONDS
            may_refetch = self._fetched_at is None or now - self._fetched_at > JWKS_MIN_REFETCH_SECONDS
            if stale or (kid not in self._keys and may_refetch):
                self._keys = _rsa_keys(self._fetch(self.url))
                self._fetched_at = now
            found = self._keys.get(kid)
        if found is None:
            raise InvalidTokenError("unknown kid: the issuer's JWKS has no such signing key")
        return found


def _rsa_keys(jwks: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    keys: dict[str, tuple[int, int]] = {}
    for jwk in jwks.get("keys") or ():
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("alg", "RS256") != "RS256" or jwk.get("use", "sig") != "sig":
            continue
        try:
            keys[jwk["kid"]] = (_int_from_b64url(jwk.get("n"), "n"), _int_from_b64url(jwk.get("e"), "e"))
        except InvalidTokenError:
            continue
    return keys


@frozen_dataclass(kw_only=True)
class JwtVerifier:
    """What API Gateway's JWT authorizer checks, for tokens outside an HTTP API (the WebSocket
    `$connect`): alg RS256 only (never `none` nor HMAC), a `kid` of the issuer's JWKS and a
    valid signature by it, `iss` exactly the issuer, `aud` (or Cognito's `client_id`) among
    `audiences`, `exp` in the future and `nbf`/`iat` not, within `leeway` seconds."""

    issuer: str
    audiences: tuple[str, ...]
    keys: JwksCache
    leeway: int = LEEWAY_SECONDS
    now: Callable[[], float] = field(default=time.time)

    def verify(self, token: Any) -> dict[str, Any]:
        """The token's claims, or InvalidTokenError saying why it is refused."""
        if not isinstance(token, str) or not token:
            raise InvalidTokenError("no token")
        if len(token) > 16_384:
            raise InvalidTokenError("token too long")
        parts = token.split(".")
        if len(parts) != 3 or not all(parts):
            raise InvalidTokenError("malformed token: expected header.payload.signature")
        header = _json_part(parts[0], "header")
        if header.get("alg") != "RS256":
            raise InvalidTokenError(f"alg {header.get('alg')!r} is not allowed (RS256 only)")
        if "crit" in header:
            raise InvalidTokenError("critical header parameters are not supported")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("the token names no kid")
        n, e = self.keys.key(kid)
        if not rsa_pkcs1_sha256_verify(n, e, f"{parts[0]}.{parts[1]}".encode("ascii"), _b64url(parts[2])):
            raise InvalidTokenError("bad signature")
        claims = _json_part(parts[1], "payload")
        if claims.get("iss") != self.issuer:
            raise InvalidTokenError("iss is not the expected issuer")
        aud = claims.get("aud")
        auds = set(aud) if isinstance(aud, list) else {aud}
        if not (auds | {claims.get("client_id")}) & set(self.audiences):
            raise InvalidTokenError("neither aud nor client_id is an allowed audience")
        now = self.now()
        exp = claims.get("exp")
        if not _is_number(exp):
            raise InvalidTokenError("the token has no numeric exp")
        if now >= exp + self.leeway:
            raise InvalidTokenError("the token has expired")
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if value is not None and (not _is_number(value) or value > now + self.leeway):
                raise InvalidTokenError(f"{name} is in the future")
        return claims


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- the authorizer
_JWKS_OVERRIDE: list[JwksFetch | None] = [None]


def use_jwks_fetch(fetch: JwksFetch | None) -> None:
    """Fetch JWKS documents with `fetch` from now on, in every authorizer built afterwards and
    already built (a host whose issuer is not on the internet: the local stack, tests);
    None restores HTTPS. AWS never calls it."""
    _JWKS_OVERRIDE[0] = fetch


def _jwks_fetch(url: str) -> Mapping[str, Any]:
    override = _JWKS_OVERRIDE[0]
    return override(url) if override is not None else default_jwks_fetch(url)


def jwt_verifier_from_env(environ: Mapping[str, str], *, fetch: JwksFetch | None = None) -> JwtVerifier:
    """The verifier of `JWT_ISSUER` / `JWT_AUDIENCES` (JWKS from `JWKS_URL` or the issuer's well-known URL)."""
    issuer = require(environ, JWT_ISSUER_ENV, "the issuer whose tokens open connections (the HTTP API's)")
    audiences = tuple(a.strip() for a in require(environ, JWT_AUDIENCES_ENV, "the allowed audiences, comma-separated").split(",") if a)
    url = environ.get(JWKS_URL_ENV) or issuer.rstrip("/") + "/.well-known/jwks.json"
    return JwtVerifier(issuer=issuer, audiences=audiences, keys=JwksCache(url, fetch or _jwks_fetch))


def identity_claim(environ: Mapping[str, str]) -> str:
    return (environ.get(IDENTITY_CLAIM_ENV) or "").strip() or DEFAULT_IDENTITY_CLAIM


#: The principal of a refused connection attempt.
ANONYMOUS = "anonymous"


def _policy(effect: str, principal: str, resource: str) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }


class AuthorizerApp:
    """The `$connect` REQUEST authorizer: token -> Allow with (identity, topics), or Deny.

    A refused token gets a Deny policy (API Gateway answers 403 and opens no connection)
    rather than an exception: a stranger's junk token is not a function error, so the
    function's Errors alarm stays for real failures. (A request without the `token`
    parameter never reaches the function: API Gateway answers 401 itself, the identity source
    being missing.) The reason is logged, the token never."""

    def __init__(self, verifier: JwtVerifier, topics: TopicsFn, claim: str = DEFAULT_IDENTITY_CLAIM) -> None:
        self.verifier, self.topics, self.claim = verifier, topics, claim

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        resource = event.get("methodArn")
        token = (event.get("queryStringParameters") or {}).get(TOKEN_PARAMETER)
        try:
            if not isinstance(resource, str) or not resource:
                raise InvalidTokenError("the event has no methodArn (not an API Gateway REQUEST authorizer event)")
            claims = self.verifier.verify(token)
        except InvalidTokenError as exc:
            return self._deny(str(exc))
        identity = claims.get(self.claim)
        if not isinstance(identity, str) or not identity.strip():
            return self._deny(f"no {self.claim!r} claim")
        identity = identity.strip()
        topics = list(dict.fromkeys(check_topic(t) for t in self.topics(identity, claims)))
        if len(topics) > MAX_TOPICS:
            return self._deny(f"{len(topics)} topics, more than {MAX_TOPICS}", identity)
        _log({"live": "connect_authorized", "identity": identity, "topics": len(topics)})
        # context values must be strings, numbers or booleans
        return {**_policy("Allow", identity, resource), "context": {"identity": identity, "topics": json.dumps(topics)}}

    @staticmethod
    def _deny(reason: str, identity: str | None = None) -> dict[str, Any]:
        _log({"live": "connect_refused", "reason": reason, **({"identity": identity} if identity else {})})
        return _policy("Deny", ANONYMOUS, "*")


def authorizer_handler(
    topics: TopicsFn | None = None,
    *,
    build_topics: Callable[[Mapping[str, str]], TopicsFn] | None = None,
    environ: Mapping[str, str] | None = None,
    jwks: JwksFetch | None = None,
) -> LambdaHandler[AuthorizerApp]:
    """The Lambda entry point of the `$connect` authorizer, declared in product code:

        handler = live.authorizer_handler(build_topics=lambda env: MyTopics(reader_from_env(env, ["members"])))

    `topics(identity, claims)` (or the one `build_topics(environ)` makes, for topics read from
    tables named in the environment) returns the topics the caller may hear: only what that
    identity may read through the HTTP API. A bad token, a missing identity claim or more
    than `MAX_TOPICS` topics is refused with a Deny policy (403, `AuthorizerApp`); an invalid
    topic or an error of `topics` fails the call (API Gateway answers 500 and the connection
    is not opened). `jwks` replaces the
    HTTPS fetch of the issuer's JWKS (tests; see also `use_jwks_fetch`)."""
    if (topics is None) == (build_topics is None):
        raise TypeError("give topics or build_topics (exactly one)")

    def build(env: Mapping[str, str], clock: Clock) -> AuthorizerApp:
        fn = topics if topics is not None else build_topics(env)  # type: ignore[misc]
        return AuthorizerApp(jwt_verifier_from_env(env, fetch=jwks), fn, identity_claim(env))

    return LambdaHandler(build, environ=environ, uses_clock=False)


# --------------------------------------------------------------------------- the connections
def topic_pk(topic: str) -> str:
    return f"topic#{topic}"


def connection_pk(connection_id: str) -> str:
    return f"connection#{connection_id}"


CONNECTION_SK = "connection"


def _connection_id(event: Mapping[str, Any]) -> str:
    connection_id = (event.get("requestContext") or {}).get("connectionId")
    if not isinstance(connection_id, str) or not connection_id:
        raise ValueError("the event has no requestContext.connectionId (not a WebSocket API event)")
    return connection_id


class ConnectApp:
    """`$connect` (store the authorized identity and topics) and `$default` (answer pings)."""

    def __init__(self, client: Any, table: str, now: Callable[[], float] = time.time) -> None:
        self.client, self.table, self.now = client, table, now

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        context = event.get("requestContext") or {}
        route = context.get("routeKey")
        if route == "$connect":
            return self.connect(event)
        return self.message(event)

    def connect(self, event: Mapping[str, Any]) -> dict[str, Any]:
        connection_id = _connection_id(event)
        authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
        identity = authorizer.get("identity") or authorizer.get("principalId")
        try:
            topics = [check_topic(t) for t in json.loads(authorizer.get("topics") or "null")]
        except (TypeError, ValueError):
            topics = None
        if not isinstance(identity, str) or not identity or topics is None:
            _log({"live": "connect_refused", "reason": "no authorizer context", "connection": connection_id})
            return {"statusCode": 403, "body": "no authorizer context"}
        now = int(self.now())
        expires = now + CONNECTION_TTL_SECONDS
        common = {"identity": {"S": identity}, "topics": {"L": [{"S": t} for t in topics]}, "expires_at": {"N": str(expires)}}
        # the connection first: $disconnect finds the topic items through it
        self.client.put_item(
            TableName=self.table,
            Item={"pk": {"S": connection_pk(connection_id)}, "sk": {"S": CONNECTION_SK}, "connected_at": {"N": str(now)}, **common},
        )
        for topic in topics:
            self.client.put_item(TableName=self.table, Item={"pk": {"S": topic_pk(topic)}, "sk": {"S": connection_id}, **common})
        _log({"live": "connected", "connection": connection_id, "identity": identity, "topics": len(topics)})
        return {"statusCode": 200}

    def message(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A message from the client: `{"action": "ping"}` gets `{"type": "pong"}`; anything
        else an error message (this endpoint only sends; views are read through the HTTP API)."""
        try:
            body = json.loads(event.get("body") or "null")
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("action") == "ping":
            return {"statusCode": 200, "body": json.dumps(PONG)}
        error = {
            "type": "error",
            "code": "unknown_action",
            "message": 'this endpoint only sends "changed" messages; send {"action": "ping"} to keep the connection open',
        }
        return {"statusCode": 200, "body": json.dumps(error)}


class DisconnectApp:
    """`$disconnect`: delete the connection's items (the TTL removes what a lost call leaves)."""

    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        connection_id = _connection_id(event)
        item = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": connection_pk(connection_id)}, "sk": {"S": CONNECTION_SK}}, ConsistentRead=True
        ).get("Item")
        topics = [t["S"] for t in item.get("topics", {}).get("L", [])] if item else []
        forget(self.client, self.table, connection_id, topics)
        _log({"live": "disconnected", "connection": connection_id, "topics": len(topics)})
        return {"statusCode": 200}


def forget(client: Any, table: str, connection_id: str, topics: Iterable[str]) -> None:
    """Delete a connection's topic items and its connection item."""
    for topic in topics:
        client.delete_item(TableName=table, Key={"pk": {"S": topic_pk(topic)}, "sk": {"S": connection_id}})
    client.delete_item(TableName=table, Key={"pk": {"S": connection_pk(connection_id)}, "sk": {"S": CONNECTION_SK}})


def _dynamodb() -> Any:
    import boto3

    return boto3.client("dynamodb")


def connect_handler_for(environ: Mapping[str, str] | None = None, client: Any = None) -> LambdaHandler[ConnectApp]:
    """A `$connect`/`$default` entry point (tests give `environ` and a client)."""
    return LambdaHandler(
        lambda env, clock: ConnectApp(client or _dynamodb(), require(env, CONNECTIONS_TABLE_ENV, "the connections table")),
        environ=environ,
        uses_clock=False,
    )


def disconnect_handler_for(environ: Mapping[str, str] | None = None, client: Any = None) -> LambdaHandler[DisconnectApp]:
    """A `$disconnect` entry point (tests give `environ` and a client)."""
    return LambdaHandler(
        lambda env, clock: DisconnectApp(client or _dynamodb(), require(env, CONNECTIONS_TABLE_ENV, "the connections table")),
        environ=environ,
        uses_clock=False,
    )


# --------------------------------------------------------------------------- the notifier
class NotifyError(RuntimeError):
    """Some connections could not be told (not gone: throttled, API errors): the invocation
    fails, so Lambda and EventBridge retry it and then the DLQ keeps the notice."""


@frozen_dataclass
class NotifyReport:
    """What one notice did: messages `sent`, connections found `gone` (deleted), `failed`."""

    sent: int
    gone: int
    failed: int


class NotifierApp:
    """Sends each connection holding a notice's topics one `changed` message."""

    def __init__(self, dynamodb: Any, table: str, management: Any, now: Callable[[], float] = time.time) -> None:
        self.dynamodb, self.table, self.management, self.now = dynamodb, table, management, now

    def __call__(self, event: Mapping[str, Any]) -> dict[str, int]:
        if event.get("detail-type") != READ_MODEL_CHANGED:
            raise ValueError(f"not a {READ_MODEL_CHANGED} notice: detail-type {event.get('detail-type')!r}")
        notice = event.get("detail")
        if not isinstance(notice, Mapping) or not isinstance(notice.get("topics"), list):
            raise ValueError("the notice has no detail.topics")
        report = self.notify(notice)
        _log({"live": "notified", "view": notice.get("view"), "event": (notice.get("event") or {}).get("id"), **report.__dict__})
        if report.failed:
            raise NotifyError(f"{report.failed} connection(s) could not be told; the notice will be retried")
        return dict(report.__dict__)

    def notify(self, notice: Mapping[str, Any]) -> NotifyReport:
        now = int(self.now())
        targets: dict[str, tuple[str, list[str]]] = {}  # connection -> (the first topic it matched, all its topics)
        for topic in notice["topics"]:
            for item in self._holders(topic):
                if int(item.get("expires_at", {}).get("N", "0")) <= now:
                    continue
                connection = item["sk"]["S"]
                if connection not in targets:
                    targets[connection] = (topic, [t["S"] for t in item.get("topics", {}).get("L", [])] or [topic])
        outcomes = (
            [self._post(notice, c, topic, topics) for c, (topic, topics) in targets.items()]
            if len(targets) < 2
            else self._fan_out(notice, targets)
        )
        return NotifyReport(sent=outcomes.count("sent"), gone=outcomes.count("gone"), failed=outcomes.count("failed"))

    def _fan_out(self, notice: Mapping[str, Any], targets: Mapping[str, tuple[str, list[str]]]) -> list[str]:
        """Posts in parallel (boto3 clients are thread-safe): a location's members within the second."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(POST_CONCURRENCY, len(targets))) as pool:
            return list(pool.map(lambda item: self._post(notice, item[0], *item[1]), targets.items()))

    def _post(self, notice: Mapping[str, Any], connection: str, topic: str, topics: list[str]) -> str:
        data = json.dumps(changed(notice, topic), separators=(",", ":")).encode()
        try:
            self.management.post_to_connection(ConnectionId=connection, Data=data)
            return "sent"
        except Exception as exc:  # noqa: BLE001 - classified below
            if _is_gone(exc):
                forget(self.dynamodb, self.table, connection, topics)
                return "gone"
            _log({"live": "post_failed", "connection": connection, "error": f"{type(exc).__name__}: {exc}"[:300]})
            return "failed"

    def _holders(self, topic: str) -> Iterable[Mapping[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": topic_pk(topic)}},
        }
        while True:
            page = self.dynamodb.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _is_gone(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = (response.get("Error") or {}).get("Code")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code in ("GoneException", "410") or status == 410 or type(exc).__name__ == "GoneException"


def notifier_handler_for(
    environ: Mapping[str, str] | None = None, *, dynamodb: Any = None, management: Any = None
) -> LambdaHandler[NotifierApp]:
    """A notifier entry point (tests give `environ` and clients)."""

    def build(env: Mapping[str, str], clock: Clock) -> NotifierApp:
        table = require(env, CONNECTIONS_TABLE_ENV, "the connections table")
        endpoint = require(
            env,
            CONNECTIONS_ENDPOINT_ENV,
            "the WebSocket API's management endpoint (https://{api}.execute-api.{region}.amazonaws.com/{stage})",
        )
        client = management
        if client is None:
            import boto3

            client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
        return NotifierApp(dynamodb or _dynamodb(), table, client)

    return LambdaHandler(build, environ=environ, uses_clock=False)


def _log(record: Mapping[str, Any]) -> None:
    logger.info(json.dumps(record, default=str))


#: The entry points the `LiveUpdates` component deploys (handler settings
#: `acme_eventsourcing.runtime.live.connect_handler`, `...disconnect_handler`, `...notifier_handler`).
connect_handler = connect_handler_for()
disconnect_handler = disconnect_handler_for()
notifier_handler = notifier_handler_for()

__all__ = [
    "AuthorizerApp",
    "ConnectApp",
    "DisconnectApp",
    "ANONYMOUS",
    "InvalidTokenError",
    "JwksCache",
    "JwtVerifier",
    "NotifierApp",
    "NotifyError",
    "authorizer_handler",
    "connect_handler",
    "disconnect_handler",
    "notifier_handler",
    "rsa_pkcs1_sha256_verify",
    "use_jwks_fetch",
]
