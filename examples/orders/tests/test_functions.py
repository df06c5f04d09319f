"""The functions on their ports, in memory: commands on the in-memory event store, the
projection through the runtime's projector on the in-memory read-model store, the queries
on its reader, the courier subscription against a local HTTP server."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from acme_eventsourcing.runtime.eventstore import InMemoryEventStore
from acme_eventsourcing.runtime.projections import (
    InMemoryReadModelStore,
    MalformedEventError,
    Projector,
    ProjectorApp,
    StoreReadModelReader,
)
from acme_eventsourcing.runtime.subscriber import BusEvent, parse_bus_event
from orders_api.api import ROUTES
from orders_api.commands import make_app
from orders_api.queries import QueriesApp
from orders_leave.courier import CourierSubscriber, hold_request
from orders_views.orders import OrdersProjection

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def request(route: str, who: str, body: object = None, groups: str = "", key: str | None = None, **params: str) -> dict:
    """An API Gateway (payload 2.0) event as the HTTP API sends it, its JWT already verified."""
    claims = {"sub": who, **({"cognito:groups": groups} if groups else {})} if who else {}
    method, path = route.split(" ", 1)
    return {
        "routeKey": route,
        "rawPath": path.format(**params),
        "pathParameters": params,
        "headers": {"content-type": "application/json", **({"idempotency-key": key} if key else {})},
        "body": None if body is None else json.dumps(body),
        "requestContext": {"http": {"method": method, "path": path.format(**params)}, "authorizer": {"jwt": {"claims": claims}}},
    }


def answer(response: dict) -> tuple[int, dict]:
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def store():
    return InMemoryEventStore()


@pytest.fixture
def app(store):
    return make_app(store, lambda: NOW)


ORDER = {"items": [{"sku": "monitor-27", "quantity": 2}], "deliver_on": "2027-03-05"}


def place(app, who: str = "ana", body: dict = ORDER) -> str:
    status, created = answer(app(request("POST /orders", who, body)))
    assert status == 201, created
    return created["order_id"]


def test_placing_an_order_appends_one_event_to_its_stream(app, store):
    status, created = answer(app(request("POST /orders", "ana", ORDER)))
    assert status == 201 and created["status"] == "placed"
    [event] = store.load(f"order-{created['order_id']}")
    assert (event.event_type, event.version, event.metadata["actor"]) == ("OrderPlaced", 1, "ana")
    assert event.data["employee_id"] == "ana" and event.occurred_at == "2027-03-01T09:00:00Z"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"deliver_on": "2027-03-05"}, "body.items"),
        ({"items": [{"sku": "pen"}], "deliver_on": "2027-03-05"}, "body.items[0].quantity"),
        ({"items": [{"sku": "pen", "quantity": True}], "deliver_on": "2027-03-05"}, "body.items[0].quantity"),
        ({"items": [{"sku": "pen", "quantity": 1}], "deliver_on": "2027-02-30"}, "body.deliver_on"),
        ({"items": [{"sku": "pen", "quantity": 1}]}, "body.deliver_on"),
        ({**ORDER, "price": 0}, "body.price"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(app, body, field):
    status, error = answer(app(request("POST /orders", "ana", body)))
    assert (status, error["error"]["field"]) == (400, field)


def test_not_json_is_a_400_no_identity_a_401_and_a_bad_order_id_a_400(app):
    bad = request("POST /orders", "ana")
    bad["body"] = "{not json"
    assert answer(app(bad))[0] == 400
    assert answer(app(request("POST /orders", "", ORDER)))[0] == 401
    assert answer(app(request("POST /orders/{order_id}/ship", "wes", {}, "warehouse", order_id="not-an-id")))[0] == 400


@pytest.mark.parametrize(
    ("route", "who", "groups", "status", "code"),
    [
        ("POST /orders/{order_id}/ship", "ana", "", 403, "not_warehouse"),
        ("POST /orders/{order_id}/cancel", "bob", "", 403, "not_orderer"),
    ],
)
def test_domain_refusals_map_to_one_status_each(app, route, who, groups, status, code):
    order_id = place(app)
    got_status, body = answer(app(request(route, who, {}, groups, order_id=order_id)))
    assert (got_status, body["error"]["code"]) == (status, code)


def test_a_passed_delivery_day_is_a_422_naming_the_field(app):
    status, error = answer(app(request("POST /orders", "ana", {**ORDER, "deliver_on": "2027-03-01"})))
    assert (status, error["error"]["code"], error["error"]["field"]) == (422, "delivery_date_passed", "body.deliver_on")


def test_ship_then_cancel_is_a_409_and_unknown_a_404(app, store):
    order_id = place(app)
    assert answer(app(request("POST /orders/{order_id}/ship", "wes", {}, "warehouse", order_id=order_id)))[0] == 200
    assert answer(app(request("POST /orders/{order_id}/cancel", "ana", {}, order_id=order_id)))[0] == 409
    assert answer(app(request("POST /orders/{order_id}/cancel", "ana", {}, order_id="0" * 32)))[0] == 404
    assert [e.event_type for e in store.load(f"order-{order_id}")] == ["OrderPlaced", "OrderShipped"]


def test_a_retried_request_with_its_idempotency_key_gets_the_first_answer_and_appends_nothing(app, store):
    first = app(request("POST /orders", "ana", ORDER, key="k-1"))
    again = app(request("POST /orders", "ana", ORDER, key="k-1"))
    assert answer(again) == answer(first) and again["headers"]["Idempotent-Replayed"] == "true"
    assert answer(app(request("POST /orders", "ana", {**ORDER, "deliver_on": "2027-03-06"}, key="k-1")))[0] == 422
    assert len(store.load(f"order-{answer(first)[1]['order_id']}")) == 1


def test_a_lost_race_is_retried_then_decided_on_the_new_state(store):
    order_id = place(make_app(store, lambda: NOW))

    class Racing(InMemoryEventStore):
        """The warehouse ships the order between this request's load and its append."""

        raced = False

        def load(self, stream_id, after_version=0):
            return store.load(stream_id, after_version)

        def append(self, appends, idempotency=None):
            if not Racing.raced:
                Racing.raced = True
                make_app(store, lambda: NOW)(request("POST /orders/{order_id}/ship", "wes", {}, "warehouse", order_id=order_id))
            return store.append(appends, idempotency)

        def get_idempotency(self, key):
            return store.get_idempotency(key)

    status, error = answer(make_app(Racing(), lambda: NOW)(request("POST /orders/{order_id}/cancel", "ana", {}, order_id=order_id)))
    assert (status, error["error"]["code"]) == (409, "not_open")  # the rerun saw the shipment
    assert [e.event_type for e in store.load(f"order-{order_id}")] == ["OrderPlaced", "OrderShipped"]


def test_the_openapi_document_is_public_and_lists_every_route(app):
    event = request("GET /openapi.json", "")
    status, document = answer(app(event))
    assert status == 200
    assert {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops} == {r.key for r in ROUTES}


# --- projection and queries ----------------------------------------------------------------


def on_the_bus(store, stream: str) -> list[dict]:
    """The stream's events as the publisher puts them on the bus."""
    return [{"source": "acme.orders", "detail-type": e.event_type, "detail": e.envelope()} for e in store.load(stream)]


@pytest.fixture
def read_model():
    return InMemoryReadModelStore()


def test_the_projection_applies_each_event_once_in_stream_order(app, store, read_model):
    order_id = place(app)
    app(request("POST /orders/{order_id}/ship", "wes", {}, "warehouse", order_id=order_id))
    placed, shipped = on_the_bus(store, f"order-{order_id}")
    project = ProjectorApp(Projector(projection=OrdersProjection(), store=read_model, events=store))
    assert project(shipped) == {"applied": 2}  # out of order: version 1 is loaded from the event store first
    assert project(placed) == {"applied": 0}  # a duplicate
    assert project(shipped) == {"applied": 0}
    queries = QueriesApp(StoreReadModelReader({"orders": read_model}))
    status, order = answer(queries(request("GET /orders/{order_id}", "ana", order_id=order_id)))
    assert status == 200
    assert order == {
        "order_id": order_id,
        "employee_id": "ana",
        "items": [{"sku": "monitor-27", "quantity": 2}],
        "deliver_on": "2027-03-05",
        "status": "shipped",
        "placed_at": "2027-03-01T09:00:00Z",
        "shipped_at": "2027-03-01T09:00:00Z",
        "shipped_by": "wes",
        "as_of_version": 2,
        "as_of": {f"order-{order_id}": 2},
        "stale": [],
    }


def test_an_employee_sees_their_orders_and_no_one_else_does(app, store, read_model):
    first = place(app)
    second = place(app, body={**ORDER, "deliver_on": "2027-03-09"})
    app(request("POST /orders/{order_id}/cancel", "ana", {"reason": "duplicate"}, order_id=second))
    project = ProjectorApp(Projector(projection=OrdersProjection(), store=read_model, events=store))
    for event in [*on_the_bus(store, f"order-{first}"), *on_the_bus(store, f"order-{second}")]:
        project(event)
    queries = QueriesApp(StoreReadModelReader({"orders": read_model}))
    status, mine = answer(queries(request("GET /employees/{employee_id}/orders", "ana", employee_id="ana")))
    assert status == 200
    assert sorted((o["order_id"], o["status"]) for o in mine["items"]) == sorted([(first, "placed"), (second, "cancelled")])
    assert mine["as_of"] == {f"order-{first}": 1, f"order-{second}": 2}
    assert answer(queries(request("GET /employees/{employee_id}/orders", "bob", employee_id="ana")))[0] == 403
    assert answer(queries(request("GET /employees/{employee_id}/orders", "wes", groups="warehouse", employee_id="ana")))[0] == 200
    assert answer(queries(request("GET /orders/{order_id}", "bob", order_id=first)))[0] == 404
    assert answer(queries(request("GET /orders/{order_id}", "ana", order_id="0" * 32)))[0] == 404
    assert answer(queries(request("GET /orders/{order_id}", "", order_id=first)))[0] == 401


def test_the_projector_refuses_what_is_not_an_event_envelope(store, read_model):
    project = ProjectorApp(Projector(projection=OrdersProjection(), store=read_model, events=store))
    with pytest.raises(MalformedEventError):
        project({"source": "acme.orders", "detail-type": "OrderPlaced", "detail": {"metadata": {"stream_id": "x"}, "data": {}}})


# --- the leave subscription ------------------------------------------------------------


def approved(**data: object) -> BusEvent:
    leave = {"employee_id": "ana", "request_id": "r1", "start": "2027-03-04", "end": "2027-03-08", **data}
    envelope = {
        "metadata": {"event_id": "e1", "stream_id": "employee-ana", "version": 7, "occurred_at": "2027-03-01T10:00:00Z"},
        "data": leave,
    }
    return parse_bus_event({"source": "acme.leave", "detail-type": "LeaveApproved", "detail": envelope})


def test_approved_leave_becomes_one_hold_request_keyed_by_the_event():
    assert hold_request(approved()) == {
        "hold_deliveries_to": "ana",
        "from": "2027-03-04",
        "until": "2027-03-08",
        "because": "approved leave",
        "leave_request_id": "r1",
        "event_id": "e1",
    }
    with pytest.raises(ValueError, match="employee_id"):
        hold_request(approved(employee_id=""))


def test_the_courier_gets_the_hold_once_per_event_with_its_id_as_idempotency_key():
    received: list[tuple[str, dict]] = []

    class Courier(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.headers["Idempotency-Key"], body))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Courier)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        subscriber = CourierSubscriber(f"http://127.0.0.1:{server.server_port}/holds")
        assert subscriber(approved()) == {"held": True, "status": 202}
        assert received == [("e1", hold_request(approved()))]
        denied = parse_bus_event({**_bus(approved()), "detail-type": "LeaveDenied"})
        assert subscriber(denied) == {"held": False}
        assert len(received) == 1
    finally:
        server.shutdown()


def test_a_courier_that_refuses_makes_the_delivery_fail_so_the_bus_retries():
    with pytest.raises(RuntimeError, match="unreachable"):
        CourierSubscriber("http://127.0.0.1:9/holds", timeout_s=1)(approved())


def _bus(delivery: BusEvent) -> dict:
    return {"source": delivery.source, "detail-type": delivery.detail_type, "detail": delivery.event.envelope()}
