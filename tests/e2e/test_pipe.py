"""The `publisher: pipe` configuration: stream INSERTs reach the bus through the Pipe as declared
(filter, detail-type and time paths, input template)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from local import LocalStack
from local.client import ApiClient, path_param
from local.pipes import TemplateError, check_template, render
from local.program import evaluate

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
    stack = stack_factory(evaluate("dev", config_overrides={"leave:publisher": "pipe"}).recorded)
    yield stack
    stack.stop()


def test_the_pipe_puts_each_event_on_the_bus_in_its_declared_shape(piped: LocalStack) -> None:
    assert piped.model is not None and len(piped.model.pipes) == 1 and not piped.model.stream_mappings
    api = ApiClient(piped.api_url, lambda sub, groups: piped.token(sub, groups))
    location = api.as_user("ana", "admin").post("/locations", {"name": "Piped"}).json["location_id"]
    piped.settle()
    pipe_runs = [i for i in piped.invocations if i.trigger.startswith("pipe ")]
    assert pipe_runs and all(i.ok and not i.result["batchItemFailures"] for i in pipe_runs)
    # what the bus delivered, as the audit projector received it (it ends in its DLQ, see below)
    dlq = piped.model.function("audit-projector").on_failure
    sqs = piped.clients("sqs")  # type: ignore[misc]
    bodies = [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=piped.queue_url(dlq or ""), MaxNumberOfMessages=10).get("Messages", [])
    ]
    created = next(b["requestPayload"] for b in bodies if b["requestPayload"]["detail-type"] == "LocationCreated")
    assert created["source"] == "acme.leave"
    meta, data = created["detail"]["metadata"], created["detail"]["data"]
    assert (meta["stream_id"], meta["version"]) == (f"location#{location}", "1")  # Pipes copy text: version is a string
    assert json.loads(data)["name"] == "Piped"  # and data is the stored JSON text
    assert json.loads(meta["json"])["actor"] == "ana"


@pytest.mark.xfail(
    strict=True,
    reason="leave_projections.core.from_bus refuses the Pipe's envelope (data is JSON text, version a string): "
    "with publisher: pipe no projection is built (reported in /work/requests-from-local.md)",
)
def test_projections_are_built_from_piped_events(piped: LocalStack) -> None:
    api = ApiClient(piped.api_url, lambda sub, groups: piped.token(sub, groups))
    location = api.as_user("ana", "admin").post("/locations", {"name": "Piped too"}).json["location_id"]
    piped.settle()
    assert api.as_user("ana", "admin").get(f"/streams/{path_param('location#' + location)}/events").status == 200
