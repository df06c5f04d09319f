"""Helpers for the commands handler tests (no tests here): API Gateway v2 events, a recording store, a clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from acme_eventsourcing.runtime.eventstore.ports import Append, EventStore, IdempotencyRecord, StoredEvent
from acme_eventsourcing.runtime.http import HttpError
from acme_eventsourcing.runtime.routes import match
from leave_api.api import ROUTES
from leave_api.commands import CommandsApp, make_app

ADMIN = {"sub": "ana", "cognito:groups": "[admin]"}
JOHN = {"sub": "john"}
MIKE = {"sub": "mike", "cognito:groups": "[approver]"}


def api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    claims: dict[str, Any] | None = ADMIN,
    headers: dict[str, str] | None = None,
    base64: bool = False,
    request_id: str = "req-1",
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event as API Gateway sends it after the JWT authorizer."""
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": text,
        "isBase64Encoded": base64,
        "requestContext": {
            "http": {"method": method, "path": path},
            "requestId": request_id,
            "stage": "$default",
            **({"authorizer": {"jwt": {"claims": claims, "scopes": None}}} if claims is not None else {}),
        },
    }
    try:
        found = match(event, ROUTES, check=False)
    except HttpError:
        return event
    event["routeKey"] = found.route.key
    if found.params:
        event["pathParameters"] = found.params
    return event


@dataclass
class Clock:
    """A settable clock (UTC)."""

    now: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, days: int) -> None:
        self.now += timedelta(days=days)


@dataclass
class RecordingStore:
    """Wraps a store; records every call and every stream it touched (to count events)."""

    inner: EventStore
    calls: list[str] = field(default_factory=list)
    streams: set[str] = field(default_factory=set)
    fail_append: Callable[[], Exception] | None = None
    fail_load: Callable[[], Exception] | None = None

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        self.calls.append("load")
        self.streams.add(stream_id)
        if self.fail_load:
            raise self.fail_load()
        return self.inner.load(stream_id, after_version)

    def append(self, appends: Sequence[Append], idempotency: IdempotencyRecord | None = None) -> list[StoredEvent]:
        self.calls.append("append")
        self.streams.update(a.stream_id for a in appends)
        if self.fail_append:
            raise self.fail_append()
        return self.inner.append(appends, idempotency)

    def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        self.calls.append("get_idempotency")
        return self.inner.get_idempotency(key)

    def event_count(self) -> int:
        """Events in every stream this store has seen (read straight from the inner store)."""
        return sum(len(self.inner.load(stream)) for stream in self.streams)


def new_ids() -> Callable[[], str]:
    counter = count(1)
    return lambda: f"{next(counter):012x}".ljust(32, "0")  # unique in its first 12 digits (location ids)


@dataclass
class Api:
    """The commands app on a recording store, called like API Gateway would."""

    store: RecordingStore
    clock: Clock
    app: CommandsApp

    @classmethod
    def on(cls, inner: EventStore) -> Api:
        store, clock = RecordingStore(inner), Clock()
        return cls(store, clock, make_app(store, clock=clock, new_id=new_ids()))

    def call(self, method: str, path: str, body: Any = None, **options: Any) -> Response:
        raw = self.app(api_event(method, path, body, **options))
        return Response(raw["statusCode"], json.loads(raw["body"]), raw["headers"])


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def code(self) -> str:
        return self.body["error"]["code"]


def setup_location(api: Api) -> str:
    """The story's start: Ana creates Berlin with John and Mike, Mike approves, 20 PTO days."""
    location_id = api.call("POST", "/locations", {"name": "Berlin"}).body["location_id"]
    for employee_id, name in (("john", "John"), ("mike", "Mike")):
        assert api.call("POST", f"/locations/{location_id}/employees", {"employee_id": employee_id, "name": name}).status == 201
    assert api.call("PUT", f"/locations/{location_id}/approver", {"employee_id": "mike"}).status == 200
    policy = {"leave_type": "PTO", "days_per_year": 20, "max_rollover_days": 5}
    assert api.call("PUT", f"/locations/{location_id}/policy", policy).status == 200
    return location_id
