"""Change notices of live projections: one per commit that changed rows, after the commit, with
the projection's topics; a notice that cannot be sent never fails nor repeats the projection."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import jsonschema
import pytest
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, NewEvent, StoredEvent
from acme_eventsourcing.runtime.live_messages import READ_MODEL_CHANGED_SCHEMA
from acme_eventsourcing.runtime.projections import (
    EventBridgeNotices,
    InMemoryReadModelStore,
    Projector,
    Session,
    build_projector,
    notices_from_env,
)
from acme_eventsourcing.runtime.projections.core import NOTICE_FAILURES_METRIC
from moto import mock_aws


@dataclass(frozen=True)
class Members:
    """A toy live projection: per group its members; a `Renamed` event rewrites a row as it was."""

    name: str = "members"
    event_types: frozenset[str] = frozenset({"Joined", "Touched", "Grew"})

    def apply(self, session: Session, event: StoredEvent) -> None:
        group = event.stream_id.split("#", 1)[1]
        doc = session.get(f"group#{group}", "members") or {"members": []}
        if event.event_type == "Joined":
            doc["members"] = sorted({*doc["members"], event.data["who"]})
        if event.event_type == "Grew":
            session.refresh_later(group)
        session.put(f"group#{group}", "members", doc)  # Touched: the same document, no change

    def refresh(self, session: Session, target: str) -> None:
        session.put(f"size#{target}", "size", {"n": len((session.get(f"group#{target}", "members") or {"members": []})["members"])})

    def topics(self, event: StoredEvent, changed: Sequence[tuple[str, str]]) -> Iterable[str]:
        return [f"group#{pk.split('#', 1)[1]}" for pk, _sk in changed if not pk.startswith("refresh#")]


class Recording:
    """Notices as sent, with what the store held when each was sent."""

    def __init__(self, store: InMemoryReadModelStore, fail: bool = False) -> None:
        self.store, self.fail, self.sent = store, fail, []

    def notify(self, view: str, topics: Sequence[str], event: StoredEvent) -> None:
        committed = self.store.checkpoints().get(event.stream_id, 0)
        self.sent.append((view, list(topics), event.stream_id, event.version, committed))
        if self.fail:
            raise RuntimeError("the bus is down")


def append(events: InMemoryEventStore, stream_id: str, *changes: tuple[str, dict[str, Any]]) -> list[StoredEvent]:
    current = len(events.load(stream_id))
    new = [
        NewEvent(event_type=t, data=d, event_id=f"{stream_id}-{current + i}", occurred_at="2026-01-05T09:00:00Z")
        for i, (t, d) in enumerate(changes, start=1)
    ]
    return events.append([Append(stream_id=stream_id, expected_version=current, events=new)])


def setup(fail: bool = False) -> tuple[InMemoryReadModelStore, InMemoryEventStore, Recording, Projector]:
    store, events = InMemoryReadModelStore(), InMemoryEventStore()
    notices = Recording(store, fail)
    return store, events, notices, Projector(projection=Members(), store=store, events=events, notices=notices, backoff=lambda a: None)


def test_a_notice_follows_each_commit_that_changed_rows_and_names_its_topics() -> None:
    _store, events, notices, projector = setup()
    joined, touched = append(events, "team#red", ("Joined", {"who": "ana"}), ("Touched", {}))
    projector.handle(joined)
    projector.handle(touched)  # committed (the checkpoint moves) but no row changed: no notice
    projector.handle(joined)  # a duplicate: nothing applied, nothing told
    assert notices.sent == [("members", ["group#red"], "team#red", 1, 1)]  # sent after the commit (checkpoint 1)


def test_gap_filling_tells_each_applied_event() -> None:
    _store, events, notices, projector = setup()
    first, second = append(events, "team#red", ("Joined", {"who": "ana"}), ("Joined", {"who": "bob"}))
    assert projector.handle(second) == 2
    assert [(s[3], s[4]) for s in notices.sent] == [(1, 1), (2, 2)]


def test_refresh_commits_are_told_too_with_the_event_that_caused_them() -> None:
    _store, events, notices, projector = setup()
    joined, grew = append(events, "team#red", ("Joined", {"who": "ana"}), ("Grew", {}))
    projector.handle(joined)
    projector.handle(grew)
    assert [(s[1], s[3]) for s in notices.sent] == [(["group#red"], 1), (["group#red"], 2)]  # the refresh's size row, event 2


def test_a_failed_notice_is_logged_and_counted_and_the_projection_goes_on(capsys: pytest.CaptureFixture[str], caplog: Any) -> None:
    store, events, notices, projector = setup(fail=True)
    first, second = append(events, "team#red", ("Joined", {"who": "ana"}), ("Joined", {"who": "bob"}))
    assert projector.handle(first) == 1  # no exception: EventBridge must not redeliver for a notice
    assert projector.handle(second) == 1
    assert store.get("group#red", "members").doc == {"members": ["ana", "bob"]}
    assert store.checkpoints()["team#red"] == 2 and len(notices.sent) == 2
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if NOTICE_FAILURES_METRIC in line]
    assert [m[NOTICE_FAILURES_METRIC] for m in metrics] == [1, 1] and metrics[0]["Projection"] == "members"
    assert metrics[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": NOTICE_FAILURES_METRIC, "Unit": "Count"}]
    assert any('"live_notice": "failed"' in r.getMessage() for r in caplog.records)


def test_without_notices_or_topics_nothing_is_sent() -> None:
    store, events = InMemoryReadModelStore(), InMemoryEventStore()
    (joined,) = append(events, "team#red", ("Joined", {"who": "ana"}))
    Projector(projection=Members(), store=store, events=events).handle(joined)  # a rebuild: no notices

    @dataclass(frozen=True)
    class Quiet:
        name: str = "quiet"
        event_types: frozenset[str] = frozenset({"Joined"})

        def apply(self, session: Session, event: StoredEvent) -> None:
            session.put("x", "y", {"v": event.version})

    recording = Recording(store)
    Projector(projection=Quiet(), store=InMemoryReadModelStore(), events=events, notices=recording).handle(joined)
    assert recording.sent == []


# --------------------------------------------------------------------------- on the bus (moto)
@pytest.fixture
def bus() -> Any:
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        events.create_event_bus(Name="shared")
        queue = sqs.create_queue(QueueName="seen")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": ["acme.leave.live"], "detail-type": ["ReadModelChanged"]}
        events.put_rule(Name="live", EventBusName="shared", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="live", EventBusName="shared", Targets=[{"Id": "q", "Arn": arn}])
        yield events, sqs, queue


def test_event_bridge_notices_put_a_read_model_changed_notice_on_the_live_source(bus: Any) -> None:
    events, sqs, queue = bus
    store = InMemoryEventStore()
    (joined,) = append(store, "employee#e-1", ("Joined", {"who": "ana"}))
    EventBridgeNotices(events, "shared", "acme.leave", now=lambda: "2026-11-30T10:00:00.000Z").notify(
        "pending", ["approvers#l-1", "employee#e-1"], joined
    )
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert body["source"] == "acme.leave.live" and body["detail-type"] == "ReadModelChanged"
    jsonschema.validate(body["detail"], READ_MODEL_CHANGED_SCHEMA)
    assert body["detail"] == {
        "view": "pending",
        "topics": ["approvers#l-1", "employee#e-1"],
        "event": {"id": joined.event_id, "type": "Joined", "stream": "employee#e-1", "version": 1},
        "stored_at": "2026-11-30T10:00:00.000Z",
    }


def test_a_refused_entry_raises(bus: Any) -> None:
    class Refusing:
        def put_events(self, Entries: list[Any]) -> dict[str, Any]:  # noqa: N803 - boto3's names
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "AccessDenied", "ErrorMessage": "no"}]}

    (joined,) = append(InMemoryEventStore(), "employee#e-1", ("Joined", {"who": "ana"}))
    with pytest.raises(RuntimeError, match="AccessDenied"):
        EventBridgeNotices(Refusing(), "shared", "acme.leave").notify("pending", ["employee#e-1"], joined)


def test_the_projector_of_a_live_projection_gets_notices_from_its_environment(bus: Any) -> None:
    env = {"READ_MODEL_TABLE": "rm", "EVENTS_TABLE": "ev", "SERVICE_SOURCE": "acme.leave"}
    client = boto3.client("dynamodb", region_name="us-east-1")
    assert build_projector(Members(), env, client).notices is None  # not declared live: no LIVE_EVENT_BUS
    live = build_projector(Members(), {**env, "LIVE_EVENT_BUS": "shared"}, client)
    assert isinstance(live.notices, EventBridgeNotices) and live.notices.source == "acme.leave.live"
    assert notices_from_env({"LIVE_EVENT_BUS": "shared"}) is None  # no SERVICE_SOURCE: no source to put
