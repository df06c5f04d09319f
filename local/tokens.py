"""The local JWT issuer and the check the HTTP API's JWT authorizer makes.

The local stack replaces Cognito (or the external issuer) by an RSA key it generates once
and keeps in `.local-stack/jwt-private-key.pem` (gitignored). Tokens carry the issuer and
audience the stack declares on its authorizer, so handlers see the claims they would see
on AWS. `verify` does what API Gateway's JWT authorizer does: RS256 signature by a known
`kid`, `iss` equal to the issuer, `aud` (or Cognito's `client_id`) among the audiences,
`exp`/`nbf`/`iat` in range.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_FILE = "jwt-private-key.pem"
LOCAL_ISSUER = "http://127.0.0.1/local-issuer"
LOCAL_AUDIENCE = "local-stack"


class InvalidTokenError(Exception):
    """The token would be refused by the JWT authorizer (the message says why)."""


@dataclass(frozen=True)
class Issuer:
    """Signs and checks tokens for one issuer/audience pair with the local key."""

    private_key: rsa.RSAPrivateKey
    issuer: str
    audiences: tuple[str, ...]

    @property
    def kid(self) -> str:
        der = self.private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode().rstrip("=")

    def token(self, sub: str, groups: Sequence[str] = (), ttl: int = 3600, **claims: Any) -> str:
        """An ID token like Cognito's: `sub`, `cognito:groups` (omitted when empty), `aud`,
        `iss`, `token_use`, `iat`, `exp`; extra `claims` override."""
        now = int(time.time())
        body: dict[str, Any] = {
            "sub": sub,
            "cognito:username": sub,
            "iss": self.issuer,
            "aud": self.audiences[0],
            "token_use": "id",
            "auth_time": now,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        if groups:
            body["cognito:groups"] = list(groups)
        body.update(claims)
        return jwt.encode(body, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or `InvalidTokenError`."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"malformed token: {exc}") from exc
        if header.get("kid") != self.kid:
            raise InvalidTokenError("unknown kid")
        try:
            claims = jwt.decode(
                token,
                self.private_key.public_key(),
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iss"]},
                leeway=0,
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(str(exc)) from exc
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if not set(self.audiences) & {*auds, claims.get("client_id")}:
            raise InvalidTokenError("audience not allowed")
        return claims

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWKS document."""
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}


def load_key(state_dir: Path) -> rsa.RSAPrivateKey:
    """The local signing key, generated (2048-bit RSA, mode 0600) on first use."""
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        tmp = state_dir / f".{KEY_FILE}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        try:
            os.link(tmp, path)  # atomic: a concurrent first run keeps whichever key landed first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return loaded


def flatten_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway's JWT authorizer hands them to the function: every value a
    string, arrays as `[a b]` (so `cognito:groups` arrives as `"[admin approver]"`)."""

    def text(value: Any) -> str:
        if isinstance(value, list):
            return "[" + " ".join(text(v) for v in value) + "]"
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return {k: text(v) for k, v in claims.items()}
