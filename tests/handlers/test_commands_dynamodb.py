"""The commands handler on the DynamoDB event store under moto: call counts, idempotency items, wiring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.handler import LambdaHandler
from leave_api import commands
from moto import mock_aws
from test_commands_support import JOHN, Api, api_event, setup_location

TABLE = "events"
LEAVE = {"leave_type": "PTO", "start": "2026-02-02", "end": "2026-02-06"}


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "stream_id", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "stream_id", "AttributeType": "S"}, {"AttributeName": "version", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        yield client


@pytest.fixture
def dynamo_calls(client: Any) -> list[str]:
    """The DynamoDB operations the client sends, in order."""
    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    return calls


@pytest.fixture
def api(client: Any) -> Api:
    return Api.on(DynamoDBEventStore(client, TABLE))


def items(client: Any, record_type: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=TABLE):
        found += [item for item in page["Items"] if item["record_type"]["S"] == record_type]
    return found


def test_a_command_with_a_key_costs_at_most_one_query_and_one_transaction(api: Api, client: Any, dynamo_calls: list[str]) -> None:
    location_id = setup_location(api)  # this container wrote the location: it is cached
    dynamo_calls.clear()
    policy = {"leave_type": "PTO", "days_per_year": 25, "max_rollover_days": 5}
    response = api.call("PUT", f"/locations/{location_id}/policy", policy, headers={"Idempotency-Key": "k-1"})
    assert response.status == 200
    assert dynamo_calls == ["TransactWriteItems"]
    dynamo_calls.clear()
    response = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN, headers={"Idempotency-Key": "k-2"})
    assert response.status == 201
    assert dynamo_calls == ["Query", "TransactWriteItems"]  # the employee's stream, then the append guarding the location


def test_idempotency_item_is_written_with_the_events_in_the_fixed_layout(api: Api, client: Any) -> None:
    setup_location(api)
    first = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN, headers={"Idempotency-Key": "k-1"})
    (record,) = items(client, "idempotency")
    assert (record["stream_id"]["S"], record["version"]["N"]) == ("idempotency#john#k-1", "0")
    assert json.loads(record["response"]["S"]) == {"status": 201, "body": first.body}
    assert len(record["request_hash"]["S"]) == 64
    requested = [i for i in items(client, "event") if i["event_type"]["S"] == "LeaveRequested"]
    assert json.loads(requested[0]["metadata"]["S"])["idempotency_key"] == "john#k-1"


def test_retry_returns_the_first_response_and_appends_nothing(api: Api, client: Any, dynamo_calls: list[str]) -> None:
    setup_location(api)
    first = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN, headers={"Idempotency-Key": "k-1"})
    before = len(items(client, "event"))
    dynamo_calls.clear()
    again = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN, headers={"Idempotency-Key": "k-1"})
    calls = list(dynamo_calls)
    assert (again.status, again.body) == (first.status, first.body)
    assert len(items(client, "event")) == before
    # load the employee; the domain refuses the overlapping leave, on the cached location
    # and again on a fresh read of it; then the stored response
    assert calls == ["Query", "Query", "GetItem"]


def test_same_key_with_another_body_is_422_and_appends_nothing(api: Api, client: Any) -> None:
    location_id = api.call("POST", "/locations", {"name": "Berlin"}, headers={"Idempotency-Key": "k-1"}).body["location_id"]
    before = len(items(client, "event"))
    response = api.call("POST", "/locations", {"name": "Munich"}, headers={"Idempotency-Key": "k-1"})
    assert (response.status, response.code) == (422, "idempotency_key_reused")
    assert len(items(client, "event")) == before
    assert location_id


def test_domain_error_appends_nothing(api: Api, client: Any) -> None:
    setup_location(api)
    before = len(items(client, "event"))
    response = api.call(
        "POST", "/employees/john/leave-requests", {"leave_type": "PTO", "start": "2026-02-02", "end": "2026-03-31"}, claims=JOHN
    )
    assert (response.status, response.code) == (422, "insufficient_balance")
    assert len(items(client, "event")) == before


def test_lambda_handler_wires_the_events_table_from_the_environment(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(commands.handler, LambdaHandler) and commands.handler.build is commands.build
    monkeypatch.setenv("EVENTS_TABLE", TABLE)
    handler = LambdaHandler(commands.build)  # reads os.environ, as on AWS
    response = handler(api_event("POST", "/locations", {"name": "Berlin"}), None)
    assert response["statusCode"] == 201
    wired = handler.app
    assert handler(api_event("POST", "/locations", {"name": "Munich"}), None)["statusCode"] == 201
    assert handler.app is wired  # once per cold start
    names = sorted(json.loads(i["data"]["S"])["name"] for i in items(client, "event") if i["event_type"]["S"] == "LocationCreated")
    assert names == ["Berlin", "Munich"]


def test_the_handlers_app_reads_the_handlers_clock_on_every_command(client: Any) -> None:
    assert abs(commands.handler.now() - datetime.now(UTC)) < timedelta(minutes=1)  # what AWS runs: the real time
    handler = LambdaHandler(commands.build, environ={"EVENTS_TABLE": TABLE})
    handler.use_clock(lambda: datetime(2027, 1, 15, 9, 30, tzinfo=UTC))
    assert handler(api_event("POST", "/locations", {"name": "Berlin"}), None)["statusCode"] == 201
    handler.use_clock(lambda: datetime(2031, 7, 1, 12, 0, tzinfo=UTC))  # the app exists by now
    assert handler(api_event("POST", "/locations", {"name": "Munich"}), None)["statusCode"] == 201
    created = {
        json.loads(i["data"]["S"])["name"]: i["occurred_at"]["S"]
        for i in items(client, "event")
        if i["event_type"]["S"] == "LocationCreated"
    }
    assert created == {"Berlin": "2027-01-15T09:30:00Z", "Munich": "2031-07-01T12:00:00Z"}
