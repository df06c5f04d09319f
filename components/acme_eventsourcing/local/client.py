"""A small HTTP client for the local API (stdlib urllib), used by the demo and the e2e tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

T = TypeVar("T")


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None

    @property
    def error_code(self) -> str | None:
        """`error.code` of an error body (API.md's format), if any."""
        body = self.json if self.text.startswith("{") else None
        return (body.get("error") or {}).get("code") if isinstance(body, dict) else None


@dataclass(frozen=True)
class ApiClient:
    """Calls `base_url` as one caller; `as_user` gives a client for another."""

    base_url: str
    token_for: Callable[[str, Sequence[str]], str] | None = None
    token: str | None = None
    timeout: float = 30.0
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    def as_user(self, sub: str, *groups: str) -> ApiClient:
        assert self.token_for is not None, "give token_for to mint tokens"
        return ApiClient(self.base_url, self.token_for, self.token_for(sub, groups), self.timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        raw: bytes | None = None,
    ) -> Response:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {**self.extra_headers, **(headers or {})}
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        if self.token is not None:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        if idempotency_key is not None:
            all_headers["Idempotency-Key"] = idempotency_key
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as r:
                return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as e:
            return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode("utf-8", "replace"))

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", path, {} if body is None else body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("PUT", path, {} if body is None else body, **kwargs)


def path_param(value: str) -> str:
    """A path segment, percent-encoded (`employee#john` -> `employee%23john`)."""
    return quote(value, safe="")


def wait_for(check: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.05, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(interval)
