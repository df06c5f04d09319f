"""End to end on the local stack (`acme_eventsourcing.local`): this project's own Pulumi
program on moto, its functions in this process, its HTTP API on 127.0.0.1 with a local JWT
issuer. A command's event goes through the Events table's stream, the publisher and the bus
to the projection, and the query answers from the read model; an approved leave put on the
shared bus by "the leave service" reaches the courier through the subscription."""

from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3
import pytest
from acme_eventsourcing.local import LocalStack
from conftest import PROJECT


class Courier(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        Courier.received.append((self.headers["Idempotency-Key"], json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def courier():
    server = HTTPServer(("127.0.0.1", 0), Courier)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/holds"
    server.shutdown()


@pytest.fixture(scope="module")
def stack(courier, tmp_path_factory):
    local = LocalStack.from_program(
        PROJECT,
        "dev",
        log=None,
        today=date(2027, 3, 1),
        config_overrides={"orders:courier_url": courier},
        state_dir=tmp_path_factory.mktemp("local-stack"),
    )
    with local:
        yield local


def test_a_command_reaches_the_query_through_stream_bus_and_projection(stack):
    ana, wes = stack.client("ana"), stack.client("wes", "warehouse")
    placed = ana.post("/orders", {"items": [{"sku": "monitor-27", "quantity": 2}], "deliver_on": "2027-03-05"})
    assert placed.status == 201, placed.text
    order_id = placed.json["order_id"]
    stack.settle()
    order = ana.get(f"/orders/{order_id}")
    assert order.status == 200, order.text
    assert (order.json["status"], order.json["items"], order.json["as_of_version"]) == ("placed", [{"sku": "monitor-27", "quantity": 2}], 1)

    assert wes.post(f"/orders/{order_id}/ship").status == 200
    assert ana.post(f"/orders/{order_id}/cancel").status == 409  # shipped: too late
    stack.settle()
    shipped = ana.get(f"/orders/{order_id}").json
    assert (shipped["status"], shipped["shipped_by"], shipped["as_of_version"]) == ("shipped", "wes", 2)
    assert [o["status"] for o in ana.get("/employees/ana/orders").json["items"]] == ["shipped"]


def test_bad_input_and_callers_get_4xx_never_5xx(stack):
    ana = stack.client("ana")
    assert ana.post("/orders", {"items": [], "deliver_on": "2027-03-05"}).error_code == "invalid_request"
    assert ana.post("/orders", {"items": [{"sku": "pen", "quantity": 1}], "deliver_on": "2027-02-01"}).status == 422
    assert stack.client().post("/orders", {}).status == 401  # no token: the authorizer refuses
    assert stack.client("bob").get("/employees/ana/orders").status == 403


def test_an_approved_leave_on_the_shared_bus_asks_the_courier_to_hold_deliveries(stack):
    events = boto3.client("events", endpoint_url=stack.moto_url, region_name="us-east-1")
    [bus] = [b["Name"] for b in events.list_event_buses()["EventBuses"] if b["Name"] != "default"]
    envelope = {
        "metadata": {"event_id": "leave-e1", "stream_id": "employee-ana", "version": 3, "occurred_at": "2027-03-01T10:00:00Z"},
        "data": {"employee_id": "ana", "request_id": "r1", "approved_by": "carol", "start": "2027-03-04", "end": "2027-03-08"},
    }
    entry = {"EventBusName": bus, "Source": "acme.leave", "DetailType": "LeaveApproved", "Detail": json.dumps(envelope)}
    assert events.put_events(Entries=[entry, {**entry, "DetailType": "LeaveDenied"}])["FailedEntryCount"] == 0
    stack.settle()
    assert Courier.received == [
        (
            "leave-e1",
            {
                "hold_deliveries_to": "ana",
                "from": "2027-03-04",
                "until": "2027-03-08",
                "because": "approved leave",
                "leave_request_id": "r1",
                "event_id": "leave-e1",
            },
        )
    ]
