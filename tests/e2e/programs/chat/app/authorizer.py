"""The $connect REQUEST authorizer: `?token=let-me-in:<user>` is allowed (context user = <user>),
`deny` is denied by policy, `unauthorized` raises API Gateway's Unauthorized, a JWT is allowed
when its RS256 signature verifies with a key of the issuer's JWKS (fetched from
`$ISSUER/.well-known/jwks.json`; user = its `sub`), anything else crashes."""

import base64
import hashlib
import json
import os
import urllib.request


def _b64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signed_by_issuer(token):
    header, payload, signature = token.split(".")
    with urllib.request.urlopen(os.environ["ISSUER"] + "/.well-known/jwks.json", timeout=5) as response:
        keys = {k["kid"]: k for k in json.loads(response.read())["keys"]}
    key = keys.get(json.loads(_b64(header)).get("kid"))
    if key is None:
        return None
    n, e = int.from_bytes(_b64(key["n"]), "big"), int.from_bytes(_b64(key["e"]), "big")
    size = (n.bit_length() + 7) // 8
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(f"{header}.{payload}".encode()).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    if pow(int.from_bytes(_b64(signature), "big"), e, n).to_bytes(size, "big") != expected:
        return None
    return json.loads(_b64(payload))


def _allow(user, effect, event):
    return {
        "principalId": user,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
        },
        "context": {"user": user, "seen_route": event["requestContext"]["routeKey"], "type": event["type"]},
    }


def handler(event, _context):
    token = (event.get("queryStringParameters") or {}).get("token", "")
    if token == "unauthorized":
        raise Exception("Unauthorized")  # noqa: TRY002 - the error API Gateway turns into 401
    if token == "deny" or token.startswith("let-me-in:"):
        return _allow(token.partition(":")[2] or "nobody", "Allow" if token.startswith("let-me-in:") else "Deny", event)
    if token.count(".") == 2:
        claims = _signed_by_issuer(token)
        if claims is None:
            raise Exception("Unauthorized")  # noqa: TRY002
        return _allow(claims["sub"], "Allow", event)
    raise RuntimeError(f"cannot read token {token!r}")
