"""The functions on their ports: commands on the in-memory event store, the projector and
the queries on DynamoDB (moto), the courier subscription's request."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from moto import mock_aws
from orders_api.commands import CommandsApp
from orders_api.queries import QueriesApp
from orders_leave.courier import hold_request
from orders_views.orders import OrdersProjector

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def request(route: str, who: str, body: object = None, groups: str = "", **params: str) -> dict:
    claims = {"sub": who, **({"cognito:groups": groups} if groups else {})}
    return {
        "routeKey": route,
        "pathParameters": params,
        "body": None if body is None else json.dumps(body),
        "requestContext": {"authorizer": {"jwt": {"claims": claims}}},
    }


def answer(response: dict) -> tuple[int, dict]:
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def store():
    return InMemoryEventStore()


@pytest.fixture
def app(store):
    ids = iter(f"o{n}" for n in range(1, 100))
    return CommandsApp(store, clock=lambda: NOW, new_id=lambda: next(ids))


ORDER = {"items": [{"sku": "monitor-27", "quantity": 2}], "deliver_on": "2027-03-05"}


def test_placing_an_order_appends_one_event_to_its_stream(app, store):
    assert answer(app(request("POST /orders", "ana", ORDER))) == (201, {"order_id": "o1"})
    [event] = store.load("order-o1")
    assert (event.event_type, event.version, event.metadata) == ("OrderPlaced", 1, {"actor": "ana"})
    assert event.data["employee_id"] == "ana" and event.occurred_at.startswith("2027-03-01T09:00:00")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"deliver_on": "2027-03-05"}, "body.items"),
        ({"items": [{"sku": "pen"}], "deliver_on": "2027-03-05"}, "body.items[0]"),
        ({"items": [{"sku": "pen", "quantity": True}], "deliver_on": "2027-03-05"}, "body.items[0]"),
        ({"items": [{"sku": "pen", "quantity": 1}], "deliver_on": "2027-02-30"}, "body.deliver_on"),
        ({"items": [{"sku": "pen", "quantity": 1}]}, "body.deliver_on"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(app, store, body, field):
    status, error = answer(app(request("POST /orders", "ana", body)))
    assert status == 400 and error["error"]["field"] == field
    assert store.load("order-o1") == []


def test_not_json_is_a_400_and_no_token_claim_a_401(app):
    bad = request("POST /orders", "ana")
    bad["body"] = "{not json"
    assert answer(app(bad))[0] == 400
    assert answer(app(request("POST /orders", "", ORDER)))[0] == 401


@pytest.mark.parametrize(
    ("route", "who", "groups", "status", "code"),
    [
        ("POST /orders/{order_id}/ship", "ana", "", 403, "not_warehouse"),
        ("POST /orders/{order_id}/cancel", "bob", "", 403, "not_orderer"),
    ],
)
def test_domain_refusals_map_to_one_status_each(app, route, who, groups, status, code):
    app(request("POST /orders", "ana", ORDER))
    got_status, body = answer(app(request(route, who, {}, groups, order_id="o1")))
    assert (got_status, body["error"]["code"]) == (status, code)


def test_ship_then_cancel_is_a_409_and_unknown_a_404(app, store):
    app(request("POST /orders", "ana", ORDER))
    assert answer(app(request("POST /orders/{order_id}/ship", "wes", {}, "warehouse", order_id="o1")))[0] == 200
    assert answer(app(request("POST /orders/{order_id}/cancel", "ana", {}, order_id="o1")))[0] == 409
    assert answer(app(request("POST /orders/{order_id}/cancel", "ana", {}, order_id="nope")))[0] == 404
    assert [e.event_type for e in store.load("order-o1")] == ["OrderPlaced", "OrderShipped"]


def test_a_concurrent_writer_makes_it_a_409_not_an_overwrite(store):
    class Racing(InMemoryEventStore):
        """Another writer appends between this request's load and its append."""

        def load(self, stream_id, after_version=0):
            return store.load(stream_id, after_version)

        def append(self, appends, idempotency=None):
            store.append([type(appends[0])(stream_id=appends[0].stream_id, expected_version=1, events=appends[0].events)])
            return store.append(appends, idempotency)

        def get_idempotency(self, key):
            return store.get_idempotency(key)

    CommandsApp(store, clock=lambda: NOW, new_id=lambda: "o1")(request("POST /orders", "ana", ORDER))
    racing = CommandsApp(Racing(), clock=lambda: NOW)
    assert answer(racing(request("POST /orders/{order_id}/cancel", "ana", {}, order_id="o1")))[0] == 409
    assert [e.event_type for e in store.load("order-o1")] == ["OrderPlaced", "OrderCancelled"]


# --- projector and queries on DynamoDB -----------------------------------------------------


@pytest.fixture
def dynamodb(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for table, (h, r) in {"events": ("stream_id", "version"), "orders": ("pk", "sk")}.items():
            client.create_table(
                TableName=table,
                AttributeDefinitions=[
                    {"AttributeName": h, "AttributeType": "S"},
                    {"AttributeName": r, "AttributeType": "N" if r == "version" else "S"},
                ],
                KeySchema=[{"AttributeName": h, "KeyType": "HASH"}, {"AttributeName": r, "KeyType": "RANGE"}],
                BillingMode="PAY_PER_REQUEST",
            )
        yield client


def bus_events(store) -> list[dict]:
    """The events of order o1 as the publisher puts them on the bus."""
    return [{"source": "acme.orders", "detail-type": e.event_type, "detail": e.envelope()} for e in store.load("order-o1")]


def test_the_projection_applies_each_event_once_and_fills_gaps(dynamodb):
    events = DynamoDBEventStore(dynamodb, "events")
    app = CommandsApp(events, clock=lambda: NOW, new_id=lambda: "o1")
    app(request("POST /orders", "ana", ORDER))
    app(request("POST /orders/{order_id}/ship", "wes", {}, "warehouse", order_id="o1"))
    placed, shipped = bus_events(events)
    project = OrdersProjector(dynamodb, "orders", events)
    assert project(shipped) == {"applied": 2, "duplicate": False}  # out of order: version 1 loaded from the Events table
    assert project(placed) == {"applied": 0, "duplicate": True}
    assert project(shipped) == {"applied": 0, "duplicate": True}
    queries = QueriesApp(dynamodb, "orders")
    status, order = answer(queries(request("GET /orders/{order_id}", "ana", order_id="o1")))
    assert status == 200
    assert order == {
        "order_id": "o1",
        "employee_id": "ana",
        "items": [{"sku": "monitor-27", "quantity": 2}],
        "deliver_on": "2027-03-05",
        "status": "shipped",
        "placed_at": placed["detail"]["metadata"]["occurred_at"],
        "shipped_at": shipped["detail"]["metadata"]["occurred_at"],
        "shipped_by": "wes",
    }
    assert answer(queries(request("GET /orders/{order_id}", "bob", order_id="o1")))[0] == 404
    assert answer(queries(request("GET /orders/{order_id}", "wes", groups="warehouse", order_id="o1")))[0] == 200


def test_the_projector_refuses_what_is_not_an_orders_envelope(dynamodb):
    project = OrdersProjector(dynamodb, "orders", DynamoDBEventStore(dynamodb, "events"))
    with pytest.raises(ValueError, match="not an orders event envelope"):
        project({"source": "acme.orders", "detail-type": "OrderPlaced", "detail": {"metadata": {"stream_id": "x"}, "data": {}}})


# --- the leave subscription ------------------------------------------------------------


def approved(**data: object) -> dict:
    leave = {"employee_id": "ana", "request_id": "r1", "start": "2027-03-04", "end": "2027-03-08", **data}
    return {"source": "acme.leave", "detail-type": "LeaveApproved", "detail": {"metadata": {"event_id": "e1"}, "data": leave}}


def test_approved_leave_becomes_one_hold_request_keyed_by_the_event():
    assert hold_request(approved()) == {
        "hold_deliveries_to": "ana",
        "from": "2027-03-04",
        "until": "2027-03-08",
        "because": "approved leave",
        "leave_request_id": "r1",
        "event_id": "e1",
    }
    assert hold_request({**approved(), "detail-type": "LeaveDenied"}) is None
    with pytest.raises(ValueError, match="employee_id"):
        hold_request(approved(employee_id=""))
