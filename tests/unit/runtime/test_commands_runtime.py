"""The runtime library's command side on its own, with a tiny "orders" domain that is not
the leave product: one declaration per command, the generic app and application service,
the one error -> status mapping, idempotency, retries after lost races."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from acme_eventsourcing.runtime.commands import CommandDecl, CommandsApp, Responder
from acme_eventsourcing.runtime.errors import Conflict, Forbidden, NotFound
from acme_eventsourcing.runtime.eventstore import Append, ConcurrencyError, IdempotencyRecord, InMemoryEventStore, StoredEvent
from acme_eventsourcing.runtime.handler import LambdaHandler
from acme_eventsourcing.runtime.openapi import ApiInfo, document
from acme_eventsourcing.runtime.routes import COMMANDS, keys
from acme_eventsourcing.runtime.service import ApplicationService, CommandContext, CommandResult

# --- the "orders" domain: pure ---------------------------------------------------------------


@dataclass(frozen=True)
class PlaceOrder:
    customer_id: str
    order_id: str
    quantity: int
    by: str


@dataclass(frozen=True)
class OrderPlaced:
    customer_id: str
    order_id: str
    quantity: int
    event_type: str = "OrderPlaced"

    @property
    def stream_id(self) -> str:
        return f"order#{self.order_id}"

    def to_data(self) -> Mapping[str, Any]:
        return {"customer_id": self.customer_id, "order_id": self.order_id, "quantity": self.quantity}


class OutOfStock(Exception):
    """A domain error that is not a category: mapped by the app's `error_statuses`."""


def decide(history: Sequence[StoredEvent], command: PlaceOrder) -> list[OrderPlaced]:
    if command.by != command.customer_id:
        raise Forbidden("not_your_account", "only the customer may order for themselves")
    if command.customer_id == "ghost":
        raise NotFound("customer_not_found", "no customer ghost")
    if history:
        raise Conflict("order_exists", f"order {command.order_id} exists")
    if command.quantity > 10:
        raise OutOfStock("only 10 left")
    return [OrderPlaced(command.customer_id, command.order_id, command.quantity)]


class OrderService(ApplicationService):
    def handle(self, command: PlaceOrder, context: CommandContext, now: datetime) -> CommandResult:
        def attempt(number: int, cached: set[str]) -> CommandResult:
            stream = f"order#{command.order_id}"
            history = self.load(stream)
            return self.commit(command, decide(history, command), {stream: len(history)}, context, now)

        return self.retrying(attempt)


ID = {"type": "string", "pattern": "^[a-z0-9-]{1,20}$"}
PLACE_ORDER = CommandDecl(
    name="place_order",
    method="POST",
    path="/customers/{customer_id}/orders",
    body={
        "type": "object",
        "properties": {"order_id": ID, "quantity": {"type": "integer", "minimum": 1}},
        "required": ["order_id", "quantity"],
        "additionalProperties": False,
        "title": "PlaceOrder",
    },
    parameters={"customer_id": ID},
    response={"type": "object", "title": "OrderPlaced"},
    status=201,
    summary="Place an order",
    who="the customer",
    command=PlaceOrder,
    build=lambda params, body, caller: PlaceOrder(params["customer_id"], body["order_id"], body["quantity"], by=caller.id),
    result=lambda command, events: {"order_id": events[0].order_id},
)
DECLARATIONS = (PLACE_ORDER,)


def make(store: Any = None) -> tuple[CommandsApp, Any]:
    store = store or InMemoryEventStore()
    service = OrderService(store, respond=Responder(DECLARATIONS), clock=lambda: datetime(2026, 1, 5, 9, tzinfo=UTC))
    return CommandsApp(DECLARATIONS, service, store, error_statuses={OutOfStock: 422}), store


def request(path: str, body: Any, sub: str = "c-1", key: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json", **({"idempotency-key": key} if key else {})}
    return {
        "rawPath": path,
        "headers": headers,
        "body": json.dumps(body),
        "requestContext": {"http": {"method": "POST", "path": path}, "requestId": "r-1", "authorizer": {"jwt": {"claims": {"sub": sub}}}},
    }


def answer(response: dict[str, Any]) -> tuple[int, Any]:
    return response["statusCode"], json.loads(response["body"])


def test_a_declared_command_appends_its_events_through_the_item_contract() -> None:
    app, store = make()

    assert answer(app(request("/customers/c-1/orders", {"order_id": "o-1", "quantity": 2}))) == (201, {"order_id": "o-1"})

    (stored,) = store.load("order#o-1")
    assert (stored.event_type, stored.data["quantity"], stored.occurred_at) == ("OrderPlaced", 2, "2026-01-05T09:00:00Z")
    assert stored.metadata["actor"] == "c-1" and stored.metadata["correlation_id"] == "r-1"


@pytest.mark.parametrize(
    ("path", "body", "sub", "status", "code"),
    [
        ("/customers/c-1/orders", {"order_id": "o-1"}, "c-1", 400, "invalid_request"),
        ("/customers/C 1/orders", {"order_id": "o-1", "quantity": 1}, "c-1", 400, "invalid_request"),
        ("/customers/c-1/orders", {"order_id": "o-1", "quantity": 1}, "c-2", 403, "not_your_account"),
        ("/customers/ghost/orders", {"order_id": "o-1", "quantity": 1}, "ghost", 404, "customer_not_found"),
        ("/customers/c-1/orders", {"order_id": "o-1", "quantity": 11}, "c-1", 422, "rule_violated"),
        ("/customers/c-1/things", {}, "c-1", 404, "route_not_found"),
    ],
)
def test_errors_map_to_statuses_at_the_edge_only(path: str, body: Any, sub: str, status: int, code: str) -> None:
    app, store = make()

    got, error = answer(app(request(path, body, sub)))

    assert (got, error["error"]["code"]) == (status, code)
    assert store.load("order#o-1") == []


def test_a_conflict_category_is_409() -> None:
    app, _ = make()
    app(request("/customers/c-1/orders", {"order_id": "o-1", "quantity": 1}))

    assert answer(app(request("/customers/c-1/orders", {"order_id": "o-1", "quantity": 1})))[0] == 409


def test_a_retried_request_gets_its_first_response_and_another_request_with_the_key_422() -> None:
    app, store = make()
    first = app(request("/customers/c-1/orders", {"order_id": "o-1", "quantity": 1}, key="k-1"))

    again = app(request("/customers/c-1/orders", {"order_id": "o-1", "quantity": 1}, key="k-1"))
    other = app(request("/customers/c-1/orders", {"order_id": "o-2", "quantity": 1}, key="k-1"))

    assert answer(again) == answer(first) and again["headers"]["Idempotent-Replayed"] == "true"
    assert answer(other)[1]["error"]["code"] == "idempotency_key_reused"
    assert len(store.load("order#o-1")) == 1 and store.load("order#o-2") == []


class RacingStore(InMemoryEventStore):
    """Another writer takes the stream between this command's load and its first append."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    def append(self, appends: Sequence[Append], idempotency: IdempotencyRecord | None = None) -> list[StoredEvent]:
        if not self.raced:
            self.raced = True
            raise ConcurrencyError("raced", stream_ids=frozenset({appends[0].stream_id}))
        return super().append(appends, idempotency)


def test_a_lost_race_reruns_load_decide_append() -> None:
    app, store = make(RacingStore())

    assert answer(app(request("/customers/c-1/orders", {"order_id": "o-1", "quantity": 1})))[0] == 201
    assert store.raced and len(store.load("order#o-1")) == 1


def test_the_route_table_and_openapi_come_from_the_declarations() -> None:
    routes = tuple(d.route for d in DECLARATIONS)

    doc = document(routes, ApiInfo(title="Orders"), "https://api.example")

    assert keys(routes, COMMANDS) == ("POST /customers/{customer_id}/orders",)
    operation = doc["paths"]["/customers/{customer_id}/orders"]["post"]
    assert operation["operationId"] == "place_order" and "201" in operation["responses"] and "403" in operation["responses"]
    assert doc["components"]["parameters"]["customer_id"]["schema"] == ID
    assert doc["servers"][0]["url"] == "https://api.example"


def test_a_handler_factory_builds_the_app_from_the_environment_once() -> None:
    built: list[Mapping[str, str]] = []

    def build(environ: Mapping[str, str], clock: Any) -> CommandsApp:
        built.append(environ)
        return make()[0]

    handler = LambdaHandler(build, environ={"EVENTS_TABLE": "orders"})
    assert handler(request("/customers/c-1/orders", {"order_id": "o-1", "quantity": 1}), None)["statusCode"] == 201
    assert handler(request("/customers/c-1/orders", {"order_id": "o-2", "quantity": 1}), None)["statusCode"] == 201
    assert built == [{"EVENTS_TABLE": "orders"}]
