"""The local stack's API destination targets (`local.api_destinations`), without a stack.

The input transformer against the examples EventBridge documents (its user guide's table of
templates and outputs), then delivery to a real HTTP endpoint on 127.0.0.1: auth headers,
header parameters, retries of the statuses EventBridge retries then the DLQ with EventBridge's
attributes, no retry of the others, time-outs, the rate limit, and the built-in receiver for
endpoints outside this machine.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from acme_eventsourcing.local.api_destinations import (
    ApiDestinationTarget,
    LocalReceiver,
    RateLimiter,
    auth_headers,
    is_local,
    read_received,
    transform,
)
from acme_eventsourcing.local.model import ApiDestinationDecl, RuleDecl, TargetDecl
from acme_eventsourcing.local.streams import Delays

FAST = Delays(poll_s=0.01, first_retry_s=0.01, max_retry_s=0.05)

# -- the input transformer -----------------------------------------------------------------------

EC2 = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
PATHS = {"instance": "$.detail.instance-id", "state": "$.detail.state"}


@pytest.mark.parametrize(
    ("template", "output"),
    [
        ('"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'),
        ('"instance \\"<instance>\\" is in <state>"', '"instance \\"i-0123456789\\" is in RUNNING"'),
        ('{\n  "instance" : <instance>,\n  "state": <state>\n}', '{"instance":"i-0123456789","state":"RUNNING"}'),
        (
            '{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \\"<instance>\\" is in <state>"}',
            '{"instance":"i-0123456789","state":"RUNNING","instanceStatus":"instance \\"i-0123456789\\" is in RUNNING"}',
        ),
        (
            '{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}',
            '{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}',
        ),
        ('"<aws.events.rule-name> triggered"', '"example triggered"'),
    ],
    ids=["string", "escaped-quotes", "json", "json-strings", "json-mixed", "reserved-in-string"],
)
def test_the_documented_examples(template: str, output: str) -> None:
    assert transform(PATHS, template, EC2, rule_name="example", rule_arn="arn:aws:events:us-east-2:123456789012:rule/example") == output


def test_reserved_variables_are_inserted_as_json() -> None:
    out = json.loads(
        transform(
            PATHS,
            '{"ruleArn": <aws.events.rule-arn>, "original": <aws.events.event>, "whole": <aws.events.event.json>}',
            EC2,
            rule_name="example",
            rule_arn="arn:aws:events:us-east-1:123456789012:rule/example",
        )
    )
    assert out["ruleArn"] == "arn:aws:events:us-east-1:123456789012:rule/example"
    assert out["whole"] == EC2 and out["original"] == {k: v for k, v in EC2.items() if k != "detail"}


def test_values_inside_quotes_are_not_escaped_outside_they_are_json() -> None:
    event = {"detail": {"note": 'say "hi"', "n": 3, "obj": {"a": [1]}}}
    paths = {"note": "$.detail.note", "n": "$.detail.n", "obj": "$.detail.obj"}
    assert transform(paths, '{"raw": "<note>"}', event) == '{"raw": "say "hi""}'  # not JSON any more: sent as it is
    assert json.loads(transform(paths, '{"json": <note>, "n": <n>, "in": "<n> days", "obj": <obj>}', event)) == {
        "json": 'say "hi"',
        "n": 3,
        "in": "3 days",
        "obj": {"a": [1]},
    }


def test_a_missing_path_gives_nothing_and_an_unknown_placeholder_stays() -> None:
    assert transform({"gone": "$.detail.nope"}, '"[<gone>] <other>"', EC2) == '"[] <other>"'
    assert transform({"first": "$.resources[0]"}, "<first>", EC2) == '"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"'


# -- delivery ------------------------------------------------------------------------------------


class Endpoint:
    """An HTTP endpoint on 127.0.0.1 that records requests and answers `statuses` in turn (the last one repeats)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses = [200]
        self.hang = 0.0
        endpoint = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.requests.append({"at": time.monotonic(), "path": self.path, "headers": dict(self.headers), "body": body})
                if endpoint.hang:
                    time.sleep(endpoint.hang)
                status = endpoint.statuses[min(len(endpoint.requests) - 1, len(endpoint.statuses) - 1)]
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.close()


RULE = RuleDecl(
    logical="notify-rule",
    name="notify-rule-1",
    arn="arn:aws:events:us-east-1:123456789012:rule/bus/notify-rule-1",
    bus_name="bus",
    event_pattern=None,
    schedule=None,
    enabled=True,
)


def destination(url: str, *, kind: str = "API_KEY", rate: int = 100) -> ApiDestinationDecl:
    auth = {
        "API_KEY": {"apiKey": {"key": "Authorization", "value": "Bearer xoxb-secret"}},
        "BASIC": {"basic": {"username": "bot", "password": "pw"}},
    }[kind]
    return ApiDestinationDecl(
        logical="notify-destination",
        arn="arn:aws:events:us-east-1:123456789012:api-destination/notify/1",
        endpoint=url,
        method="POST",
        rate_per_second=rate,
        auth_kind=kind,
        auth=auth,
    )


def target(url: str, *, retries: int = 2, max_age_s: int = 3600, **options: Any) -> TargetDecl:
    return TargetDecl(
        logical="notify-target",
        rule=RULE,
        target_id="notify-target",
        arn="arn:aws:events:us-east-1:123456789012:api-destination/notify/1",
        function=None,
        queue=None,
        retry_attempts=retries,
        max_event_age_s=max_age_s,
        dead_letter_queue="notify-dlq",
        input_shaping=None,
        api_destination=destination(url, **options),
        input_paths={"who": "$.detail.who"},
        input_template='{"text": "<who> asked"}',
        header_parameters={"Idempotency-Key": "$.id", "X-Static": "yes"},
    )


class Run:
    """An `ApiDestinationTarget` with its DLQ and errors captured."""

    def __init__(
        self, decl: TargetDecl, *, receiver: LocalReceiver | None = None, timeout_s: float = 5.0, limiter: RateLimiter | None = None
    ) -> None:
        self.dead: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        assert decl.api_destination is not None
        self.target = ApiDestinationTarget(
            decl,
            limiter=limiter or RateLimiter(decl.api_destination.rate_per_second),
            receiver=receiver or LocalReceiver(),
            send=lambda queue, body, attrs: self.dead.append((queue, json.loads(body), attrs)),
            delays=FAST,
            stop=self.stop,
            on_error=self.errors.append,
            timeout_s=timeout_s,
        )
        self.target.start()

    def deliver(self, *events: dict[str, Any], timeout: float = 10.0) -> None:
        for e in events:
            self.target.submit(e)
        deadline = time.monotonic() + timeout
        time.sleep(0.02)
        while not self.target.idle():
            assert time.monotonic() < deadline, "the target did not finish"
            time.sleep(0.01)

    def close(self) -> None:
        self.stop.set()
        self.target.wake()
        self.target.thread.join(timeout=5)


def event(n: int = 1) -> dict[str, Any]:
    return {"id": f"event-{n}", "source": "acme.leave", "detail-type": "LeaveRequested", "detail": {"who": f"john{n}"}}


def test_the_body_the_auth_header_and_the_header_parameters(endpoint: Endpoint) -> None:
    run = Run(target(endpoint.url))
    try:
        run.deliver(event())
    finally:
        run.close()
    (request,) = endpoint.requests
    assert request["path"] == "/hook" and json.loads(request["body"]) == {"text": "john1 asked"}
    headers = request["headers"]
    assert headers["Authorization"] == "Bearer xoxb-secret"
    assert headers["Idempotency-Key"] == "event-1" and headers["X-Static"] == "yes"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert run.dead == [] and run.errors == []


def test_basic_auth_is_sent_as_eventbridge_sends_it(endpoint: Endpoint) -> None:
    assert auth_headers(destination(endpoint.url, kind="BASIC")) == {"Authorization": "Basic " + base64.b64encode(b"bot:pw").decode()}


def test_a_500_is_retried_per_the_retry_policy_then_dead_lettered(endpoint: Endpoint) -> None:
    endpoint.statuses = [500]
    run = Run(target(endpoint.url, retries=2))
    try:
        run.deliver(event())
    finally:
        run.close()
    assert len(endpoint.requests) == 3  # the first attempt and 2 retries
    ((queue, body, attrs),) = run.dead
    assert queue == "notify-dlq" and body == event()  # the original event, as EventBridge dead-letters it
    assert attrs["ERROR_CODE"] == "500" and attrs["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attrs["RETRY_ATTEMPTS"] == "2" and attrs["RULE_ARN"] == RULE.arn and attrs["TARGET_ARN"].endswith("api-destination/notify/1")
    assert "after 3 attempt(s); sent to notify-dlq" in run.errors[0]


def test_a_retried_status_that_then_succeeds_is_delivered_once(endpoint: Endpoint) -> None:
    endpoint.statuses = [429, 503, 200]
    run = Run(target(endpoint.url, retries=5))
    try:
        run.deliver(event())
    finally:
        run.close()
    assert len(endpoint.requests) == 3 and run.dead == [] and run.target.delivered == [(200, "")]


@pytest.mark.parametrize("status", [400, 404, 307])
def test_other_answers_are_not_retried_but_dead_lettered_at_once(endpoint: Endpoint, status: int) -> None:
    endpoint.statuses = [status]
    run = Run(target(endpoint.url, retries=5))
    try:
        run.deliver(event())
    finally:
        run.close()
    assert len(endpoint.requests) == 1  # a redirect is not followed either
    ((_, _, attrs),) = run.dead
    assert attrs["ERROR_CODE"] == str(status) and attrs["RETRY_ATTEMPTS"] == "0"


def test_a_refused_connection_and_a_slow_endpoint_are_retried_then_dead_lettered(endpoint: Endpoint) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = Run(target(f"http://127.0.0.1:{port}/hook", retries=1))
    endpoint.hang = 0.5
    slow = Run(target(endpoint.url, retries=1), timeout_s=0.1)
    try:
        refused.deliver(event())
        slow.deliver(event())
    finally:
        refused.close()
        slow.close()
    for run in (refused, slow):
        ((_, _, attrs),) = run.dead
        assert attrs["ERROR_CODE"] == "SDK_CLIENT_ERROR" and attrs["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert len(endpoint.requests) == 2


def test_a_2xx_is_delivered_whatever_its_body_says() -> None:
    """Slack's chat.postMessage answers 200 `{"ok": false, ...}` to a bad token or channel:
    EventBridge counts that as delivered, and so does the local stack (docs/slack.md)."""
    run = Run(target("https://slack.com/api/chat.postMessage"), receiver=_FailingSlack())
    try:
        run.deliver(event())
    finally:
        run.close()
    assert run.dead == [] and run.target.delivered == [(200, '{"ok": false, "error": "channel_not_found"}')]


class _FailingSlack(LocalReceiver):
    def __call__(self, *args: Any) -> tuple[int, bytes]:
        super().__call__(*args)
        return 200, b'{"ok": false, "error": "channel_not_found"}'


class _RecordingLimiter(RateLimiter):
    """The slot each request was given, and when it was let go."""

    def __init__(self, per_second: int) -> None:
        super().__init__(per_second)
        self.slots: list[tuple[float, float]] = []

    def wait(self, stop: threading.Event) -> None:
        super().wait(stop)
        self.slots.append((self._next - self.interval, time.monotonic()))  # one delivery thread: _next is ours


def test_the_rate_limit_spaces_the_requests(endpoint: Endpoint) -> None:
    """At 10 per second, the requests are given slots 100 ms apart and none leaves before its
    slot. (What the receiver sees can be closer together on a loaded machine: a request
    delayed after its slot lands next to the following one, as on any network.)"""
    limiter = _RecordingLimiter(10)
    run = Run(target(endpoint.url, rate=10), limiter=limiter)
    try:
        run.deliver(*(event(n) for n in range(5)))
    finally:
        run.close()
    assert len(endpoint.requests) == 5 and len(limiter.slots) == 5
    slots = [slot for slot, _ in limiter.slots]
    assert min(b - a for a, b in zip(slots, slots[1:], strict=False)) >= 0.1 - 1e-6  # 10 per second: one slot every 100 ms
    assert all(sent >= slot for slot, sent in limiter.slots)
    assert endpoint.requests[-1]["at"] - slots[0] >= 0.4 - 1e-6  # the fifth went 400 ms after the first slot, at the earliest


def test_an_endpoint_outside_this_machine_goes_to_the_receiver(tmp_path: Any) -> None:
    assert is_local("http://127.0.0.1:9/x") and is_local("http://api.localhost/x") and not is_local("https://slack.com/api/x")
    receiver = LocalReceiver(tmp_path / "received.jsonl")
    run = Run(target("https://slack.com/api/chat.postMessage"), receiver=receiver)
    try:
        run.deliver(event(7))
    finally:
        run.close()
    (recorded,) = receiver.requests
    assert recorded["url"] == "https://slack.com/api/chat.postMessage" and recorded["json"] == {"text": "john7 asked"}
    assert recorded["headers"]["Authorization"] == "Bearer xoxb-secret"
    assert run.target.delivered[0][0] == 200 and json.loads(run.target.delivered[0][1])["ok"] is True
    (written,) = read_received(tmp_path / "received.jsonl")
    assert written["json"] == recorded["json"] and written["headers"]["Authorization"] == "Bearer xox...(masked)"
