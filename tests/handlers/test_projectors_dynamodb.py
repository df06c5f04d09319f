"""Projector Lambda handlers on DynamoDB (moto), wired from the environment like in AWS."""

from __future__ import annotations

import importlib
import json
import random
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.handler import LambdaHandler
from acme_eventsourcing.runtime.projections import DynamoDBReadModelReader, DynamoDBReadModelStore, MalformedEventError, Projector
from leave_api import queries
from leave_projections.rebuild import PROJECTIONS
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from tests.unit.projections.conftest import create_read_model_table
from tests.unit.projections.projection_story import Story, play_story
from tests.unit.projections.test_story_projections import project, snapshot

HANDLERS = {name: importlib.import_module(f"leave_projections.{name}").handler for name in PROJECTIONS}
"""Each projection module's Lambda entry point (`handler = projector_handler(...)`)."""


def bus_event(event: StoredEvent) -> dict[str, Any]:
    """What EventBridge hands a rule's target for one published event."""
    return {
        "version": "0",
        "id": f"bus-{event.event_id}",
        "source": "acme.leave",
        "account": "123456789012",
        "time": event.occurred_at,
        "region": "us-east-1",
        "resources": [],
        "detail-type": event.event_type,
        "detail": event.envelope(),
    }


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto with atomic requests (as DynamoDB's are), the Events table and one table per projection."""
    lock = threading.Lock()
    process = BotocoreStubber.process_request
    monkeypatch.setattr(BotocoreStubber, "process_request", lambda self, request: _locked(lock, process, self, request))
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="events",
            KeySchema=[{"AttributeName": "stream_id", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "stream_id", "AttributeType": "S"}, {"AttributeName": "version", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for name in PROJECTIONS:
            create_read_model_table(client, f"rm-{name}")
        for name, handler in HANDLERS.items():  # a cold start per test: wired from this test's environment
            monkeypatch.setitem(HANDLERS, name, LambdaHandler(handler.build, uses_clock=handler.uses_clock))
        monkeypatch.setenv("EVENTS_TABLE", "events")
        yield client


def _locked(lock: threading.Lock, process: Any, stubber: Any, request: Any) -> Any:
    with lock:
        return process(stubber, request)


@pytest.fixture
def story(aws: Any) -> Story:
    return play_story(DynamoDBEventStore(aws, "events"))


def deliver(name: str, events: list[StoredEvent], monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setenv("READ_MODEL_TABLE", f"rm-{name}")
    return [HANDLERS[name](bus_event(e), None) for e in events]


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_duplicated_shuffled_bus_delivery_on_dynamodb_gives_the_in_order_read_model(aws, story, monkeypatch, name):
    deliveries = story.all_events() * 2
    random.Random(3).shuffle(deliveries)
    results = deliver(name, deliveries, monkeypatch)
    assert sum(r["applied"] for r in results) == len(story.all_events())
    expected = snapshot(project(PROJECTIONS[name], story, story.all_events()))
    assert snapshot(DynamoDBReadModelStore(aws, f"rm-{name}")) == expected


def test_a_gap_is_filled_from_the_events_table_named_in_the_environment(aws, story, monkeypatch):
    john = [e for e in story.all_events() if e.stream_id == "employee#john"]
    assert deliver("audit", [john[2]], monkeypatch) == [{"applied": len(john)}]  # 1..3 and what follows
    assert deliver("audit", john[:2] + john[-1:], monkeypatch) == [{"applied": 0}] * 3
    rows = DynamoDBReadModelStore(aws, "rm-audit").query("audit#employee#john")
    assert [r.doc["metadata"]["version"] for r in rows] == list(range(1, len(john) + 1))


class RacingStore(DynamoDBReadModelStore):
    """Holds each thread after its first checkpoint read until both have read it."""

    def __init__(self, client: Any, table: str, barrier: threading.Barrier) -> None:
        super().__init__(client, table)
        self._barrier = barrier
        self._waited = False

    def checkpoint(self, stream_id: str) -> int:
        version = super().checkpoint(stream_id)
        if not self._waited:
            self._waited = True
            self._barrier.wait()
        return version


@pytest.mark.parametrize("name", ["audit", "balance"])
def test_the_same_event_in_two_concurrent_invocations_is_applied_once(aws, story, name):
    (first,) = story.events.load("employee#john")[:1]
    barrier = threading.Barrier(2, timeout=10)
    results: list[int] = []

    def invoke() -> None:
        client = boto3.client("dynamodb", region_name="us-east-1")
        projector = Projector(
            projection=PROJECTIONS[name],
            store=RacingStore(client, f"rm-{name}", barrier),
            events=DynamoDBEventStore(client, "events"),
            backoff=lambda attempt: None,
        )
        results.append(projector.handle(first))

    threads = [threading.Thread(target=invoke) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1]
    store = DynamoDBReadModelStore(aws, f"rm-{name}")
    assert store.checkpoints() == {"employee#john": 1}
    assert snapshot(store) == snapshot(project(PROJECTIONS[name], story, [first]))


@pytest.mark.parametrize("detail", [{"data": {}}, "not json", {"metadata": {"stream_id": "s", "version": "x"}}])
def test_a_malformed_bus_event_raises_so_it_ends_in_the_dlq(aws, monkeypatch, detail):
    monkeypatch.setenv("READ_MODEL_TABLE", "rm-audit")
    with pytest.raises(MalformedEventError):
        HANDLERS["audit"]({"detail-type": "LeaveRequested", "source": "acme.leave", "detail": detail}, None)


def test_queries_read_what_the_projector_handlers_wrote(aws, story, monkeypatch):
    for name in PROJECTIONS:
        deliver(name, story.all_events(), monkeypatch)
        monkeypatch.setenv(f"READ_MODEL_TABLE_{name.upper()}", f"rm-{name}")
    handler = LambdaHandler(queries.build)  # a cold start: reads the environment set above

    def get(path: str, sub: str, **extra: Any) -> dict[str, Any]:
        return handler(
            {
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": path,
                "headers": extra.get("headers", {}),
                "queryStringParameters": extra.get("query"),
                "requestContext": {
                    "http": {"method": "GET", "path": path},
                    "requestId": "r",
                    "authorizer": {"jwt": {"claims": {"sub": sub, "cognito:groups": extra.get("groups", "")}}},
                },
            }
        )

    balance = get("/employees/john/balance", "john", query={"year": "2026"})
    assert (balance["statusCode"], json.loads(balance["body"])["remaining"]) == (200, 22)
    pending = json.loads(get("/approvers/sara/pending", "sara")["body"])["items"]
    assert [p["request_id"] for p in pending] == [story.requests["berlin"], story.requests["pending"]]
    feed = get(f"/locations/{story.lisbon}/calendar", "mike", query={"from": "2026-01-01"}, headers={"accept": "text/calendar"})
    assert feed["body"].count("BEGIN:VEVENT") == 2
    history = json.loads(get("/streams/location%23" + story.berlin + "/events", "ana", groups="[admin]")["body"])
    assert [e["metadata"]["event_type"] for e in history["items"]][:2] == ["LocationCreated", "EmployeeAddedToLocation"]


def test_query_checkpoints_are_read_in_batches_of_100_not_one_get_each(aws):
    """A calendar or pending answer shows many streams: their checkpoints cost one
    BatchGetItem per 100, with versions and stuck flags as stored and 0 for unknown streams
    (plus one GetItem of the blue/green pointer, cached: a second answer does not repeat it)."""
    create_read_model_table(aws, "rm-many")
    for n in range(0, 250, 2):
        item = {"pk": {"S": f"checkpoint#employee#e{n}"}, "sk": {"S": "checkpoint"}, "version": {"N": str(n + 1)}}
        if n == 10:
            item["stuck"] = {"BOOL": True}
        aws.put_item(TableName="rm-many", Item=item)
    calls: list[str] = []
    aws.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    streams = [f"employee#e{n}" for n in range(250)]
    reader = DynamoDBReadModelReader(aws, {"calendar": "rm-many"})
    found = reader.checkpoints("calendar", streams)
    assert calls == ["GetItem"] + ["BatchGetItem"] * 3
    calls.clear()
    assert reader.checkpoints("calendar", streams) == found
    assert calls == ["BatchGetItem"] * 3
    assert found == {s: {"version": n + 1 if n % 2 == 0 else 0, "stuck": n == 10} for n, s in enumerate(streams)}
