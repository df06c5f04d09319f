"""The issuers' JWKS documents, answered with the local key (a Lambda authorizer checks tokens).

API Gateway's JWT authorizer is emulated by the local stack itself (`local.http_api`), but a
Lambda authorizer (a WebSocket `$connect` REQUEST authorizer) verifies the token in the
function: it fetches its issuer's JWKS, `https://<issuer>/.well-known/jwks.json` (Cognito's
layout) or a URL it is given. Locally the tokens are signed with the local key
(`local.tokens`), so while the stack runs, `urllib.request.urlopen` of a known JWKS URL is
answered in this process with the local key's JWKS. Known: the `/.well-known/jwks.json`
of every issuer a JWT authorizer of the stack declares, of the local issuer and of every
function environment variable whose name ends in `ISSUER`, and any function environment
value that is an `https://` URL ending in `jwks.json`. Every other URL
goes where it would (a urllib opener installed for the stack's lifetime, then restored).
"""

from __future__ import annotations

import email.message
import io
import json
import urllib.request
import urllib.response
from collections.abc import Iterable, Mapping
from typing import Any

WELL_KNOWN = "/.well-known/jwks.json"


class _LocalJwks(urllib.request.BaseHandler):
    handler_order = 100  # before urllib's own HTTP(S) handlers

    def __init__(self, urls: Iterable[str], document: Mapping[str, Any]) -> None:
        self.urls = frozenset(urls)
        self.body = json.dumps(document).encode()
        self.served = 0

    def _open(self, request: urllib.request.Request) -> urllib.response.addinfourl | None:
        if request.full_url not in self.urls:
            return None  # the next handler opens it
        headers = email.message.Message()
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(self.body))
        self.served += 1
        response = urllib.response.addinfourl(io.BytesIO(self.body), headers, request.full_url, 200)
        response.msg = "OK"  # type: ignore[attr-defined] - what urllib's HTTP handlers read
        return response

    https_open = _open
    http_open = _open


class LocalJwks:
    """Answers the known JWKS URLs with `document` from `install()` until `uninstall()`."""

    def __init__(self, issuers: Iterable[str], environments: Iterable[Mapping[str, str]], document: Mapping[str, Any]) -> None:
        environments = list(environments)
        named = {
            v for env in environments for k, v in env.items() if k.upper().endswith("ISSUER") and v.startswith(("https://", "http://"))
        }
        urls = {issuer.rstrip("/") + WELL_KNOWN for issuer in {*issuers, *named}}
        urls |= {v for env in environments for v in env.values() if v.startswith("https://") and v.endswith("jwks.json")}
        self.urls = tuple(sorted(urls))
        self._handler = _LocalJwks(self.urls, document)
        self._before: urllib.request.OpenerDirector | None = None

    @property
    def served(self) -> int:
        """How many JWKS documents were answered (tests check the mechanism)."""
        return self._handler.served

    def install(self) -> None:
        self._before = urllib.request._opener  # type: ignore[attr-defined] - what urlopen used until now
        urllib.request.install_opener(urllib.request.build_opener(self._handler))

    def uninstall(self) -> None:
        urllib.request._opener = self._before  # type: ignore[attr-defined]
