"""The commands function: `POST /orders`, `.../ship`, `.../cancel`.

Per request: the caller from the verified claims, the JSON body checked, the order's
events loaded, the domain decides, and the new events are appended with optimistic
concurrency (`expected_version` = the version loaded: a concurrent writer makes it a 409,
never an overwrite). Lambda handler setting: `orders_api.commands.handler`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from acme_eventsourcing.runtime.eventstore.ports import Append, ConcurrencyError, EventStore, NewEvent
from acme_eventsourcing.runtime.handler import Clock, LambdaHandler, require
from orders import domain

from orders_api import http

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CommandsApp:
    """`app(event) -> response` on one event store; `new_id` makes order ids (tests fix it)."""

    def __init__(
        self, store: EventStore, *, clock: Clock, identity_claim: str = "sub", new_id: Callable[[], str] = lambda: uuid.uuid4().hex
    ) -> None:
        self._store, self._clock, self._claim, self._new_id = store, clock, identity_claim, new_id

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self._handle(event)
        except (http.HttpError, domain.OrderError) as exc:
            return http.error(exc)
        except ConcurrencyError:
            return http.error(http.HttpError(409, "concurrent_modification", "the order changed while processing; retry"))

    def _handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        route = event.get("routeKey")
        params = event.get("pathParameters") or {}
        who = http.caller(event, self._claim)
        body = http.json_body(event)
        if route == "POST /orders":
            order_id = self._new_id()
            items, deliver_on = _items(body), _day(body, "deliver_on")
            self._decide(
                order_id,
                who,
                lambda s: domain.place(
                    s, order_id=order_id, employee_id=who.employee_id, items=items, deliver_on=deliver_on, today=self._clock().date()
                ),
            )
            return http.response(201, {"order_id": order_id})
        order_id = str(params.get("order_id") or "")
        if route == "POST /orders/{order_id}/ship":
            self._decide(order_id, who, lambda s: domain.ship(s, order_id=order_id, caller=who.employee_id, groups=who.groups))
            return http.response(200, {"order_id": order_id, "status": "shipped"})
        if route == "POST /orders/{order_id}/cancel":
            reason = body.get("reason", "")
            if not isinstance(reason, str) or len(reason) > 500:
                raise http.HttpError(400, "invalid_request", "reason must be text of at most 500 characters", "body.reason")
            self._decide(order_id, who, lambda s: domain.cancel(s, order_id=order_id, caller=who.employee_id, reason=reason))
            return http.response(200, {"order_id": order_id, "status": "cancelled"})
        raise http.HttpError(404, "no_route", f"no route {route!r}")

    def _decide(self, order_id: str, who: http.Caller, decide: Callable[[domain.Order], domain.Decision]) -> None:
        append_decision(self._store, domain.stream_id(order_id), decide, actor=who.employee_id, now=self._clock())


def append_decision(
    store: EventStore, stream: str, decide: Callable[[domain.Order], domain.Decision], *, actor: str, now: datetime
) -> None:
    """Load the stream, fold it, let the domain decide, append what it decided, expecting the
    version loaded: if another writer appended in between, `ConcurrencyError` and nothing is written."""
    loaded = store.load(stream)
    decision = decide(domain.fold([(e.event_type, e.data) for e in loaded]))
    at = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    events = [NewEvent(event_type=t, data=d, event_id=uuid.uuid4().hex, occurred_at=at, metadata={"actor": actor}) for t, d in decision]
    store.append([Append(stream_id=stream, expected_version=len(loaded), events=events)])


def _items(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise http.HttpError(400, "invalid_request", "items must be a non-empty list of {sku, quantity}", "body.items")
    for n, item in enumerate(items):
        ok = isinstance(item, dict) and isinstance(item.get("sku"), str) and 0 < len(item["sku"]) <= 40
        if not ok or isinstance(item.get("quantity"), bool) or not isinstance(item.get("quantity"), int):
            raise http.HttpError(400, "invalid_request", "each item is {sku: text, quantity: integer}", f"body.items[{n}]")
    return items


def _day(body: Mapping[str, Any], name: str) -> date:
    value = body.get(name)
    try:
        if isinstance(value, str) and _DAY.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise http.HttpError(400, "invalid_request", f"{name} must be a date YYYY-MM-DD", f"body.{name}")


def build(environ: Mapping[str, str], clock: Clock) -> CommandsApp:
    """The app on the Events table named by `EVENTS_TABLE` (set by EventSourcedService)."""
    import boto3
    from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore

    table = require(environ, "EVENTS_TABLE", "the orders Events table's name")
    return CommandsApp(
        DynamoDBEventStore(boto3.client("dynamodb"), table), clock=clock, identity_claim=environ.get("IDENTITY_CLAIM") or "sub"
    )


handler = LambdaHandler(build)
