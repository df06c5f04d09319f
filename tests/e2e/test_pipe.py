"""The `publisher: pipe` configuration: stream INSERTs reach the bus through the Pipe as declared
(filter, enrichment function, detail-type and time paths, input template), in the same envelope
as the Lambda publisher's."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from acme_eventsourcing.local.client import ApiClient, path_param
from acme_eventsourcing.local.functions import Invocation
from acme_eventsourcing.local.pipes import PipeTarget, TemplateError, check_template, render
from acme_eventsourcing.local.program import evaluate_programs, merge
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore

from local import PROGRAMS, LocalStack

TEMPLATE = '{"id": "<$.a.id>", "n": <$.a.n>, "text": "<$.a.obj>", "raw": <$.a.obj>}'


def test_template_inserts_text_inside_strings_and_json_elsewhere() -> None:
    record = {"a": {"id": 'x"y', "n": 5, "obj": {"k": [1, 2]}}}
    assert json.loads(render(TEMPLATE, record)) == {"id": 'x"y', "n": 5, "text": '{"k": [1, 2]}', "raw": {"k": [1, 2]}}
    with pytest.raises(KeyError):
        render(TEMPLATE, {"a": {}})
    with pytest.raises(TemplateError):
        check_template('{"x": "<$.items[0]>"}')


@pytest.fixture(scope="module")
def piped(stack_factory: Callable[..., LocalStack]) -> Iterator[LocalStack]:
    stack = stack_factory(merge(evaluate_programs("dev", programs=PROGRAMS, config_overrides={"leave:publisher": "pipe"})))
    yield stack
    stack.stop()


def test_the_pipe_puts_the_fixed_envelope_on_the_bus(piped: LocalStack) -> None:
    assert piped.model is not None and len(piped.model.pipes) == 1 and not piped.model.stream_mappings
    pipe = piped.model.pipes[0]
    assert pipe.enrichment is not None and pipe.enrichment.handler == "acme_eventsourcing.runtime.publisher.enrich"
    # another team's subscriber: a rule on the bus for everything acme.leave sends, to a queue
    sqs, events = piped.clients("sqs"), piped.clients("events")  # type: ignore[misc]
    queue_url = sqs.create_queue(QueueName="other-team")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="other-team", EventBusName=pipe.bus_name, EventPattern=json.dumps({"source": ["acme.leave"]}))
    events.put_targets(Rule="other-team", EventBusName=pipe.bus_name, Targets=[{"Id": "queue", "Arn": queue_arn}])

    api = ApiClient(piped.api_url, lambda sub, groups: piped.token(sub, groups))
    location = api.as_user("ana", "admin").post("/locations", {"name": "Piped"}).json["location_id"]
    piped.settle()

    pipe_runs = [i for i in piped.invocations if i.function == pipe.logical]
    assert pipe_runs and all(i.ok and not i.result["batchItemFailures"] for i in pipe_runs)
    enrichments = piped.invocations_of(pipe.enrichment.logical)
    assert enrichments and all(i.ok for i in enrichments)
    received = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]]
    created = next(e for e in received if e["detail-type"] == "LocationCreated")
    (stored,) = DynamoDBEventStore(piped.clients("dynamodb"), pipe.table.name).load(f"location#{location}")  # type: ignore[misc]
    assert created["source"] == "acme.leave"
    assert created["time"] == stored.occurred_at
    assert created["detail"] == stored.envelope()  # version an int, data an object, metadata fields in place
    assert created["detail"]["metadata"]["actor"] == "ana" and created["detail"]["data"]["name"] == "Piped"


def test_projections_are_built_from_piped_events(piped: LocalStack) -> None:
    api = ApiClient(piped.api_url, lambda sub, groups: piped.token(sub, groups))
    location = api.as_user("ana", "admin").post("/locations", {"name": "Piped too"}).json["location_id"]
    piped.settle()
    assert api.as_user("ana", "admin").get(f"/streams/{path_param('location#' + location)}/events").status == 200
    assert all(i.ok for f in ("audit-projector", "balance-projector") for i in piped.invocations_of(f))


class _Bus:
    """An EventBridge client that records entries and rejects those whose DetailType is `Rejected`."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        self.entries += Entries
        return {"Entries": [{"ErrorCode": "X"} if e["DetailType"] == "Rejected" else {"EventId": "1"} for e in Entries]}


def _enrichment(ok: bool, result: Any) -> Callable[[list[dict[str, Any]]], Invocation]:
    def enrich(batch: list[dict[str, Any]]) -> Invocation:
        return Invocation("enrich", "test", "r", 0.0, 0.0, ok, result, None if ok else "Boom", None if ok else "boom")

    return enrich


BATCH = [{"dynamodb": {"SequenceNumber": "1"}}, {"dynamodb": {"SequenceNumber": "2"}}]
ENVELOPE = {"metadata": {"version": 1}, "data": {}}


@pytest.mark.parametrize(
    ("enrichment", "sent", "ok"),
    [
        (_enrichment(True, [{"detail-type": "A", "time": "2026-01-05T09:00:00Z", "detail": ENVELOPE}]), ["A"], True),
        (_enrichment(True, []), [], True),  # an empty response: nothing to send
        (_enrichment(False, None), [], False),  # the enrichment failed: the whole batch is retried
        (_enrichment(True, [{"detail-type": "A", "time": "2026-01-05T09:00:00Z", "detail": ENVELOPE}, {"time": "x"}]), ["A"], False),
        (_enrichment(True, [{"detail-type": "Rejected", "time": "2026-01-05T09:00:00Z", "detail": ENVELOPE}]), ["Rejected"], False),
    ],
    ids=["sent", "empty", "enrichment-failed", "unrenderable-event", "put-rejected"],
)
def test_the_target_sends_what_the_enrichment_returns_and_fails_the_whole_batch_otherwise(
    piped: LocalStack, enrichment: Callable[[list[dict[str, Any]]], Invocation], sent: list[str], ok: bool
) -> None:
    assert piped.model is not None
    bus, runs = _Bus(), []
    target = PipeTarget(piped.model.pipes[0], events_client=bus, on_invocation=runs.append, enrich=enrichment)

    invocation = target.deliver(BATCH)

    assert [e["DetailType"] for e in bus.entries] == sent
    assert all(json.loads(e["Detail"]) == ENVELOPE for e in bus.entries)
    assert invocation.ok is ok and runs == [invocation]
    if ok:
        assert invocation.result == {"batchItemFailures": []}
