"""Fixtures of the operations tests: moto with atomic requests, an Events table, a blue/green
read model (two tables), DLQs, a subscription's checkpoint table, and a projection that
shows every version it applied."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from acme_eventsourcing.ops import Deployment
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, NewEvent, StoredEvent
from acme_eventsourcing.runtime.projections import Session
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from tests.unit.projections.conftest import create_read_model_table

SOURCE = "acme.shop"
OTHER_SOURCE = "acme.hr"
"""A source the mailer subscribes to that is not a service of the stack (its heads are unknown)."""


@dataclass(frozen=True)
class VersionsProjection:
    """One row per stream listing the versions applied to it: a doubled or lost event shows."""

    name: str = "versions"
    event_types: frozenset[str] = frozenset({"Counted"})
    fail_on: str = ""

    def apply(self, session: Session, event: StoredEvent) -> None:
        if self.fail_on and event.data.get("note") == self.fail_on:
            raise ValueError(f"cannot apply note {self.fail_on!r}")
        doc = session.get(f"s#{event.stream_id}", "versions") or {"versions": []}
        session.put(f"s#{event.stream_id}", "versions", {"versions": [*doc["versions"], event.version]})


def append(store: DynamoDBEventStore, stream_id: str, n: int = 1, event_type: str = "Counted", note: str = "") -> list[StoredEvent]:
    current = store.load(stream_id)
    version = current[-1].version if current else 0
    events = [NewEvent(event_type=event_type, data={"note": note}) for _ in range(n)]
    return store.append([Append(stream_id=stream_id, expected_version=version, events=events)])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto (each request atomic, as DynamoDB's are) with the Events table, a blue/green
    read model `rm-home`/`rm-standby`, and two DLQs."""
    lock = threading.Lock()
    process = BotocoreStubber.process_request

    def locked(self: Any, request: Any) -> Any:
        with lock:
            return process(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", locked)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="events",
            KeySchema=[{"AttributeName": "stream_id", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "stream_id", "AttributeType": "S"}, {"AttributeName": "version", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        create_read_model_table(client, "rm-home")
        create_read_model_table(client, "rm-standby")
        create_read_model_table(client, "mailer-checkpoints")  # the subscription's: pk/sk too
        sqs = boto3.client("sqs", region_name="us-east-1")
        sqs.create_queue(QueueName="versions-dlq")
        sqs.create_queue(QueueName="mailer-dlq")
        yield client


def outputs(aws: Any) -> dict[str, Any]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    return {
        "operations": {
            "shop": {
                "source": SOURCE,
                "events_table": "events",
                "projections": {
                    "versions": {
                        "table": "rm-home",
                        "standby_table": "rm-standby",
                        "function": "shop-versions-projector",
                        "handler": "shop.versions.handler",
                        "timeout_s": 3,
                        "dlq_url": sqs.get_queue_url(QueueName="versions-dlq")["QueueUrl"],
                        "detail_types": ["Counted"],
                    }
                },
                "subscriptions": {},
            },
            "mail": {
                "source": "acme.mail",
                "events_table": None,
                "projections": {},
                "subscriptions": {
                    "mailer": {
                        "function": "mail-mailer-subscriber",
                        "handler": "mail.handler",
                        "timeout_s": 3,
                        "dlq_url": sqs.get_queue_url(QueueName="mailer-dlq")["QueueUrl"],
                        "checkpoint_table": "mailer-checkpoints",
                        "sources": [SOURCE, OTHER_SOURCE],
                        "detail_types": ["Counted"],
                    }
                },
            },
        }
    }


@pytest.fixture
def deployment(aws: Any) -> Deployment:
    return Deployment.from_outputs(outputs(aws), region="us-east-1")
