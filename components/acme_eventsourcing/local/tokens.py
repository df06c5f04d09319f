"""The local JWT issuer and the check the HTTP API's JWT authorizer makes.

The local stack replaces Cognito (or the external issuer) by an RSA key it generates once
and keeps in `.local-stack/jwt-private-key.pem` (gitignored). Tokens carry the issuer and
audience the stack declares on its authorizer, so handlers see the claims they would see
on AWS. `verify` does what API Gateway's JWT authorizer does: RS256 signature by a known
`kid`, `iss` equal to the issuer, `aud` (or Cognito's `client_id`) among the audiences,
`exp`/`nbf`/`iat` in range.

The caller's identity goes into the claim the API functions declare (`IDENTITY_CLAIM` in
their environment, `identity_claim(...)` reads it): with `sub`, the token's `sub` is the
employee id; with another claim (the created Cognito pool's `custom:employee_id`) that claim
holds the employee id and `sub` is a stable UUID derived from it, as Cognito's `sub` is a
per-user UUID.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_FILE = "jwt-private-key.pem"
LOCAL_ISSUER = "http://127.0.0.1/local-issuer"
LOCAL_AUDIENCE = "local-stack"
#: The variable the API functions read their identity claim from (see components' IDENTITY_CLAIM_ENV).
IDENTITY_CLAIM_ENV = "IDENTITY_CLAIM"
DEFAULT_IDENTITY_CLAIM = "sub"
_SUB_NAMESPACE = uuid.UUID("9a7c1f52-5b0e-4c59-9d1e-2f3b4a5c6d7e")


def identity_claim(environments: Iterable[Mapping[str, str]]) -> str:
    """The identity claim the given API functions' environments declare (`sub` if none does);
    ValueError if they disagree (one API, one identity)."""
    claims = {env.get(IDENTITY_CLAIM_ENV) or DEFAULT_IDENTITY_CLAIM for env in environments}
    if len(claims) > 1:
        raise ValueError(f"the API functions declare different identity claims {sorted(claims)}")
    return claims.pop() if claims else DEFAULT_IDENTITY_CLAIM


def subject_for(employee_id: str) -> str:
    """The stable UUID `sub` of a local user whose identity is carried by another claim."""
    return str(uuid.uuid5(_SUB_NAMESPACE, employee_id))


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

    def token(
        self,
        employee_id: str,
        groups: Sequence[str] = (),
        ttl: int = 3600,
        *,
        identity_claim: str = DEFAULT_IDENTITY_CLAIM,
        **claims: Any,
    ) -> str:
        """An ID token like Cognito's: `sub`, `cognito:groups` (omitted when empty), `aud`,
        `iss`, `token_use`, `iat`, `exp`; extra `claims` override. `employee_id` goes into
        `identity_claim`: with `sub` it is the `sub`; with another claim, `sub` is
        `subject_for(employee_id)`."""
        now = int(time.time())
        identity = (
            {identity_claim: employee_id} if identity_claim == "sub" else {"sub": subject_for(employee_id), identity_claim: employee_id}
        )
        body: dict[str, Any] = {
            **identity,
            "cognito:username": employee_id,
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
