"""`lag` and `redrive` against moto: what is behind, what is stuck and why; DLQs drained from the Events table."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from acme_eventsourcing.ops import Deployment, DeploymentError, lag
from acme_eventsourcing.ops.lag import render
from acme_eventsourcing.ops.redrive import bus_event, redrive
from acme_eventsourcing.runtime.checkpoints import SubscriptionCheckpoints
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
from acme_eventsourcing.runtime.projections import DynamoDBReadModelStore, Projector, ProjectorApp
from acme_eventsourcing.runtime.subscriber import BusEvent, SubscriberApp

from tests.unit.ops.conftest import OTHER_SOURCE, SOURCE, VersionsProjection, append, outputs


def projector(aws: Any, table: str = "rm-home", fail_on: str = "") -> Projector:
    return Projector(
        projection=VersionsProjection(fail_on=fail_on), store=DynamoDBReadModelStore(aws, table), events=DynamoDBEventStore(aws, "events")
    )


def versions(aws: Any, table: str, stream: str) -> list[int]:
    row = DynamoDBReadModelStore(aws, table).get(f"s#{stream}", "versions")
    return [] if row is None else list(row.doc["versions"])


def test_the_outputs_must_name_the_operations_and_a_name_must_be_known(aws):
    with pytest.raises(DeploymentError, match="no 'operations'"):
        Deployment.from_outputs({"api_url": "x"})
    deployment = Deployment.from_outputs(outputs(aws))
    assert deployment.projection("shop/versions").standby_table == "rm-standby"
    assert deployment.events_tables == {SOURCE: "events"}
    with pytest.raises(DeploymentError, match=r"no projection 'balance' in this stack \(known: shop/versions\)"):
        deployment.projection("balance")
    assert deployment.queue(deployment.subscriptions[0].dlq_url).name == "mailer"


def test_lag_counts_what_is_behind_and_names_the_stuck_stream_with_its_reason(aws, deployment):
    store = DynamoDBEventStore(aws, "events")
    a = append(store, "a", 3)
    append(store, "c", 1, event_type="Ignored")  # not a type it reads: not behind
    bad = append(store, "d", 1, note="poison")
    p = projector(aws, fail_on="poison")
    p.handle(a[1])  # a: v1..v3 applied (the gap fill takes what the Events table has)
    with pytest.raises(ValueError):
        p.handle(bad[0])
    append(store, "a", 1)  # a v4: not applied
    append(store, "b", 2)
    report = lag(deployment)
    (versions_lag,) = report.projections
    assert (versions_lag.streams, versions_lag.streams_behind, versions_lag.events_behind) == (4, 3, 4)  # a v4, b v1-2, d v1
    assert versions_lag.table == "rm-home"
    assert versions_lag.oldest_unapplied is not None and versions_lag.oldest_unapplied["stream_id"] in {"a", "b", "d"}
    assert [(s["stream_id"], s["stuck_at_version"]) for s in versions_lag.stuck] == [("d", 1)]
    assert versions_lag.stuck[0]["reason"] == "ValueError: cannot apply note 'poison'"
    text = render(report)
    assert "3 of 4 streams, 4 events behind" in text
    assert "STUCK  d at version 1" in text and "cannot apply note 'poison'" in text
    assert "shop/versions" in text and "mail/mailer" in text and "DLQ empty" in text


def test_lag_of_a_subscription_shows_its_dlq_depth_and_age(aws, deployment):
    sqs = boto3.client("sqs", region_name="us-east-1")
    for i in range(3):
        sqs.send_message(QueueUrl=deployment.subscription("mailer").dlq_url, MessageBody=json.dumps({"n": i}))
    (sub,) = lag(deployment).subscriptions
    assert (sub.dlq.waiting, sub.dlq.in_flight) == (3, 0)
    assert sub.dlq.oldest_age_s is not None and sub.dlq.oldest_age_s < 60
    assert len(sub.stuck) == 3 and all(s["stuck_at_version"] is None for s in sub.stuck)  # not bus events: unreadable
    text = render(lag(deployment))
    assert "3 waiting" in text  # peeking leaves the messages there
    assert text.count("UNREADABLE  unreadable message") == 3


def mailer(aws: Any, recorder: list[str], fail_on: str = "") -> SubscriberApp:
    """The mailer's subscriber as its Lambda runs it: the runtime, recording in its checkpoint table."""

    def handle(delivery: BusEvent) -> dict[str, Any]:
        if fail_on and delivery.event.data.get("note") == fail_on:
            raise RuntimeError(f"the mail server refused {delivery.event.stream_id}")
        recorder.append(f"{delivery.source} {delivery.event.stream_id} v{delivery.event.version}")
        return {"mailed": delivery.event.event_id}

    return SubscriberApp(handle, checkpoints=SubscriptionCheckpoints(aws, "mailer-checkpoints"))


def test_lag_of_a_subscription_compares_its_checkpoints_with_the_source_heads_and_names_what_is_stuck(aws, deployment):
    store = DynamoDBEventStore(aws, "events")
    a = append(store, "a", 3)
    append(store, "c", 2, event_type="Ignored")  # its rule does not match: never behind, not counted
    b = append(store, "b", 1, note="bounce")
    sent: list[str] = []
    app = mailer(aws, sent, fail_on="bounce")
    app(bus_event(a[2], SOURCE))  # v3 first (out of order), then v1: the checkpoint stays at 3
    app(bus_event(a[0], SOURCE))
    with pytest.raises(RuntimeError):
        app(bus_event(b[0], SOURCE))
    (a4,) = append(store, "a", 1)  # a v4: not handled yet
    hr = bus_event(a[0], OTHER_SOURCE)
    hr["detail"]["metadata"].update(stream_id="employee#7", event_id="hr-1")
    app(hr)  # an event of a source that is not in this stack
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = deployment.subscription("mailer").dlq_url
    failed = bus_event(b[0], SOURCE)  # as Lambda's on-failure destination records it, then as EventBridge's target DLQ
    record = {
        "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": failed,
        "responsePayload": {"errorType": "RuntimeError", "errorMessage": "the mail server refused b"},
    }
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
    attrs = {"ERROR_CODE": "ResourceNotFoundException", "ERROR_MESSAGE": "Function not found", "RETRY_ATTEMPTS": "0"}
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(bus_event(a4, SOURCE)),
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()},
    )

    (sub,) = lag(deployment).subscriptions
    shop, hr_lag = sub.sources
    assert (shop.source, shop.events_table, shop.streams, shop.streams_behind, shop.events_behind) == (SOURCE, "events", 2, 2, 2)
    assert shop.oldest_unhandled is not None and (shop.oldest_unhandled["stream_id"], shop.oldest_unhandled["version"]) in {
        ("a", 4),
        ("b", 1),
    }
    assert (hr_lag.source, hr_lag.events_table, hr_lag.streams_behind) == (OTHER_SOURCE, None, None)
    assert [(h["stream_id"], h["version"]) for h in hr_lag.handled] == [("employee#7", 1)]
    assert [(s["source"], s["stream_id"], s["stuck_at_version"], s["messages"]) for s in sub.stuck] == [
        (SOURCE, "a", 4, 1),
        (SOURCE, "b", 1, 1),
    ]
    reasons = {s["stream_id"]: s["reason"] for s in sub.stuck}
    assert reasons["b"] == "RuntimeError: the mail server refused b (the function failed: RetriesExhausted, 3 attempts)"
    assert reasons["a"] == "ResourceNotFoundException: Function not found (delivery by the rule failed)"
    text = render(lag(deployment))
    block = text.split("mail/mailer", 1)[1]
    assert "2 of 2 streams, 2 events behind   table mailer-checkpoints   DLQ 2 waiting" in block
    assert "acme.hr: not a service of this stack, its Events table's heads are unknown; last handled version of 1 streams:" in block
    assert "employee#7 v1 Counted, handled" in block
    assert "STUCK  acme.shop b at version 1 (Counted, 1 in the DLQ) since" in block and "the mail server refused b" in block

    app(bus_event(a4, SOURCE))  # caught up on a, b still stuck
    (sub,) = lag(deployment).subscriptions
    assert (sub.streams_behind, sub.events_behind) == (1, 1)


def test_lag_of_a_subscription_of_a_stack_without_checkpoint_tables_is_its_dlq(aws):
    old = outputs(aws)
    del old["operations"]["mail"]["subscriptions"]["mailer"]["checkpoint_table"]
    (sub,) = lag(Deployment.from_outputs(old, region="us-east-1")).subscriptions
    assert (sub.checkpoint_table, sub.sources) == (None, [])
    assert "no checkpoint table" in render(lag(Deployment.from_outputs(old, region="us-east-1")))


def projector_invoke(aws: Any, calls: list[dict[str, Any]], fail_on: str = "") -> Any:
    app = ProjectorApp(projector(aws, fail_on=fail_on))

    def invoke(function: str, event: dict[str, Any]) -> tuple[bool, str]:
        calls.append(event)
        try:
            return True, json.dumps(app(event))
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"

    return invoke


def test_redrive_of_a_projection_applies_the_events_table_not_the_stale_message(aws, deployment):
    store = DynamoDBEventStore(aws, "events")
    first = append(store, "a", 1)
    append(store, "a", 2)  # the stream moved on since the message
    done = append(store, "b", 2)
    projector(aws).handle(done[-1])
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = deployment.projection("versions").dlq_url
    stale = bus_event(first[0], SOURCE)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(stale))  # as the rule target's DLQ has it
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"requestPayload": stale, "requestContext": {"condition": "RetriesExhausted"}}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(bus_event(done[0], SOURCE)))
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    calls: list[dict[str, Any]] = []

    dry = redrive(deployment, deployment.queue("versions"), dry_run=True, invoke=projector_invoke(aws, calls), log=lambda _: None)
    assert (dry.received, dry.handled, dry.deleted, calls) == (4, 1, 0, [])
    assert versions(aws, "rm-home", "a") == []

    report = redrive(deployment, deployment.queue("versions"), invoke=projector_invoke(aws, calls), log=lambda _: None)
    assert (report.received, report.handled, report.already, report.unreadable, report.deleted) == (4, 1, 2, 1, 3)
    assert versions(aws, "rm-home", "a") == [1, 2, 3]  # the current truth, not just v1
    assert [c["detail"]["metadata"]["version"] for c in calls] == [3]  # one call for both messages of a: its latest event
    left = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in left] == ["not json"]  # kept, visible again


def test_redrive_keeps_what_fails_again(aws, deployment):
    store = DynamoDBEventStore(aws, "events")
    bad = append(store, "d", 1, note="poison")
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = deployment.projection("versions").dlq_url
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(bus_event(bad[0], SOURCE)))
    report = redrive(deployment, deployment.queue("versions"), invoke=projector_invoke(aws, [], fail_on="poison"), log=lambda _: None)
    assert (report.failed, report.deleted) == (1, 0)
    assert "FAILED again: ValueError: cannot apply note 'poison'" in "\n".join(report.lines)
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 1


def test_redrive_of_a_subscription_delivers_the_event_re_read_by_stream_and_version(aws, deployment):
    store = DynamoDBEventStore(aws, "events")
    events = append(store, "a", 2)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = deployment.subscription("mailer").dlq_url
    message = bus_event(events[0], SOURCE)
    message["detail"]["data"] = {"note": "stale copy"}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"requestPayload": message}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))  # the same event twice: delivered once
    foreign = {**bus_event(events[1], "acme.other")}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(foreign))
    delivered: list[dict[str, Any]] = []
    report = redrive(deployment, deployment.queue("mailer"), invoke=lambda fn, e: (delivered.append(e) or True, "null"), log=lambda _: None)
    assert [(e["source"], e["detail"]["metadata"]["version"], e["detail"]["data"]) for e in delivered] == [(SOURCE, 1, {"note": ""})]
    assert (report.handled, report.already, report.failed, report.deleted) == (1, 1, 1, 2)
    assert "no Events table of 'acme.other'" in "\n".join(report.lines)


def test_redrive_of_a_subscription_skips_what_was_handled_since_and_what_the_subscriber_finds_handled(aws, deployment):
    store = DynamoDBEventStore(aws, "events")
    events = append(store, "a", 3)
    sent: list[str] = []
    mailer(aws, sent)(bus_event(events[0], SOURCE))  # v1 dead-lettered once, then an EventBridge retry got through
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = deployment.subscription("mailer").dlq_url
    for e in events:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(bus_event(e, SOURCE)))
    app = mailer(aws, sent)  # another container

    def invoke(function: str, event: dict[str, Any]) -> tuple[bool, str]:
        if event["detail"]["metadata"]["version"] == 2:
            mailer(aws, sent)(event)  # v2 is handled elsewhere while the redrive runs: the subscriber skips it
        return True, json.dumps(app(event))

    report = redrive(deployment, deployment.queue("mailer"), invoke=invoke, log=lambda _: None)
    assert sent == [f"{SOURCE} a v1", f"{SOURCE} a v2", f"{SOURCE} a v3"]  # each mailed once
    assert (report.received, report.handled, report.already, report.failed, report.deleted) == (3, 1, 2, 0, 3)
    lines = "\n".join(report.lines)
    assert "a v1 Counted: already handled (its marker is in mailer-checkpoints): not delivered again" in lines
    assert "a v2 Counted: re-read from events; the subscriber found it handled already and skipped it" in lines
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
