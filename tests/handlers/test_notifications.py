"""The notifications subscriber: one webhook POST per new request and decision, errors raise."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from acme_eventsourcing.runtime.handler import LambdaHandler
from leave.events import NOTIFICATION_EVENT_TYPES
from notifications import handler as notifications
from notifications.handler import NOTIFIED_EVENT_TYPES, Webhook, WebhookError, notify


class Receiver:
    """A webhook on 127.0.0.1 that records what it gets and answers `status`."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.headers: dict[str, str] = {}
        self.release = threading.Event()
        self.hang = False
        receiver = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
                if receiver.hang:
                    receiver.release.wait(5)
                self.send_response(receiver.status)
                for k, v in receiver.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def leave_event(detail_type: str, **data: object) -> dict:
    base = {
        "employee_id": "john",
        "request_id": "john~4",
        "leave_type": "PTO",
        "start": "2026-03-02",
        "end": "2026-03-04",
        "working_days": 3,
    }
    return {
        "source": "acme.leave",
        "detail-type": detail_type,
        "id": "bus-id",
        "detail": {
            "metadata": {
                "event_id": "ev-1",
                "stream_id": "employee#john",
                "version": 4,
                "occurred_at": "2026-02-01T09:00:00Z",
                "actor": "john",
            },
            "data": {**base, **data},
        },
    }


def test_subscribes_to_the_event_types_the_domain_declares():
    assert NOTIFIED_EVENT_TYPES == NOTIFICATION_EVENT_TYPES


def test_a_new_request_is_posted_as_json_with_the_event_id_as_idempotency_key(receiver):
    result = notify(leave_event("LeaveRequested", approver_id="mike"), Webhook(url=receiver.url))
    assert result == {"notified": True, "status": 200}
    (req,) = receiver.requests
    assert req["path"] == "/hook"
    assert req["headers"]["Content-Type"] == "application/json"
    assert req["headers"]["Idempotency-Key"] == "ev-1"
    body = req["body"]
    assert body["type"] == "LeaveRequested"
    assert body["text"] == "john requested PTO 2026-03-02..2026-03-04 (3 working days)"
    assert (body["request_id"], body["approver_id"], body["by"]) == ("john~4", "mike", "john")


def test_approval_and_denial_name_who_decided_and_why(receiver):
    notify(leave_event("LeaveApproved", approved_by="mike"), Webhook(url=receiver.url))
    notify(leave_event("LeaveDenied", denied_by="mike", reason="team offsite"), Webhook(url=receiver.url))
    approved, denied = (r["body"] for r in receiver.requests)
    assert approved["text"] == "mike approved john's PTO 2026-03-02..2026-03-04 (3 working days)"
    assert denied["text"] == "mike denied john's PTO 2026-03-02..2026-03-04 (3 working days): team offsite"
    assert (approved["by"], denied["by"]) == ("mike", "mike")


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_a_non_2xx_answer_raises_so_eventbridge_retries(receiver, status):
    receiver.status = status
    with pytest.raises(WebhookError, match=str(status)):
        notify(leave_event("LeaveRequested"), Webhook(url=receiver.url))


def test_a_redirect_is_not_followed_but_raises(receiver):
    receiver.status, receiver.headers = 307, {"Location": "http://127.0.0.1:1/elsewhere"}
    with pytest.raises(WebhookError, match="307"):
        notify(leave_event("LeaveApproved", approved_by="mike"), Webhook(url=receiver.url))
    assert len(receiver.requests) == 1


def test_a_refused_connection_raises():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(WebhookError, match="unreachable"):
        notify(leave_event("LeaveRequested"), Webhook(url=f"http://127.0.0.1:{port}/hook"))


def test_a_webhook_slower_than_the_timeout_raises(receiver):
    receiver.hang = True
    with pytest.raises(WebhookError, match="unreachable"):
        notify(leave_event("LeaveRequested"), Webhook(url=receiver.url, timeout=0.2))


def cold_start() -> LambdaHandler:
    """The module's entry point as a new container gets it: wired from `os.environ` on its first call."""
    return LambdaHandler(notifications.handler.build, uses_clock=notifications.handler.uses_clock)


def test_an_empty_webhook_url_sends_nothing(receiver, monkeypatch):
    monkeypatch.setenv("WEBHOOK_URL", "")
    assert cold_start()(leave_event("LeaveRequested"), None) == {"notified": False}
    assert receiver.requests == []


def test_the_handler_posts_to_the_webhook_url_of_its_environment(receiver, monkeypatch):
    monkeypatch.setenv("WEBHOOK_URL", receiver.url)
    assert cold_start()(leave_event("LeaveDenied", denied_by="mike"), None)["notified"] is True
    assert receiver.requests[0]["body"]["type"] == "LeaveDenied"


def test_the_handler_notifies_an_event_once_per_container_and_reads_no_clock(receiver, monkeypatch):
    monkeypatch.setenv("WEBHOOK_URL", receiver.url)
    handler = cold_start()
    assert handler(leave_event("LeaveRequested"), None)["notified"] is True
    assert handler(leave_event("LeaveRequested"), None) == {"duplicate": True, "event_id": "ev-1"}
    assert len(receiver.requests) == 1
    assert notifications.handler.uses_clock is False


def sqs(message_id: str, event: object) -> dict:
    return {"messageId": message_id, "eventSource": "aws:sqs", "body": event if isinstance(event, str) else json.dumps(event)}


def test_an_sqs_batch_reports_only_the_messages_that_failed(receiver, monkeypatch):
    monkeypatch.setenv("WEBHOOK_URL", receiver.url)
    denied = leave_event("LeaveDenied", denied_by="mike")
    denied["detail"]["metadata"]["event_id"] = "ev-2"
    batch = {"Records": [sqs("m1", leave_event("LeaveRequested")), sqs("m2", "not json"), sqs("m3", denied)]}
    assert cold_start()(batch, None) == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert [r["body"]["type"] for r in receiver.requests] == ["LeaveRequested", "LeaveDenied"]
    receiver.status = 503
    assert cold_start()({"Records": [sqs("m4", denied)]}, None) == {"batchItemFailures": [{"itemIdentifier": "m4"}]}


def test_a_bus_event_without_an_envelope_raises_so_it_ends_in_the_dlq(receiver):
    with pytest.raises(ValueError, match="not an event envelope"):
        notify({**leave_event("LeaveRequested"), "detail": "nothing"}, Webhook(url=receiver.url))
    assert receiver.requests == []


@pytest.mark.parametrize(
    "event",
    [
        {**leave_event("LeaveCancelled"), "detail-type": "LeaveCancelled"},
        {**leave_event("LeaveRequested"), "source": "acme.other"},
    ],
)
def test_other_event_types_and_sources_are_ignored(receiver, event):
    assert notify(event, Webhook(url=receiver.url)) == {"notified": False}
    assert receiver.requests == []


def test_the_path_and_query_of_the_url_are_kept(receiver):
    notify(leave_event("LeaveRequested"), Webhook(url=receiver.url + "?token=abc&channel=leave"))
    assert receiver.requests[0]["path"] == "/hook?token=abc&channel=leave"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "http://", "https:///path-only"])
def test_only_http_urls_are_accepted(url):
    with pytest.raises(ValueError):
        Webhook(url=url)
