"""Concurrent requests on one employee, through real HTTP and the real conditional writes.

Commands run concurrently in the local stack (invocations of one function overlap), so
the requests race on the employee's stream: some win, some retry, some lose with 409.
Whatever the outcome, no event is lost or duplicated, versions have no gaps, and the read
models agree with the event history."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from acme_eventsourcing.local.client import ApiClient, Response, path_param

from local import LocalStack

WORKERS = 12


@pytest.fixture(scope="module")
def madrid(api: ApiClient) -> str:
    ana = api.as_user("ana", "admin")
    location = ana.post("/locations", {"name": "Madrid"}).json["location_id"]
    for who in ("lola", "pablo"):
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who.title()}).status == 201
    assert ana.put(f"/locations/{location}/approver", {"employee_id": "pablo"}).status == 200
    assert ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 30, "max_rollover_days": 5}).status == 200
    return location


def _history(api: ApiClient, stream: str) -> list[dict]:
    return api.as_user("ana", "admin").get(f"/streams/{path_param(stream)}/events").json["items"]


def _most_at_once(stack: LocalStack, function: str, last: int) -> int:
    """How many of the function's last `last` invocations were running at the same moment."""
    spans = [(i.started, i.started + i.duration_ms / 1000) for i in stack.invocations_of(function)[-last:]]
    return max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)


def _in_parallel(calls: list) -> list[Response]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_concurrent_requests_lose_no_event_and_leave_no_gap(api: ApiClient, local_stack: LocalStack, madrid: str) -> None:
    lola = api.as_user("lola")
    mondays = [date(2026, 2, 2) + timedelta(weeks=k) for k in range(WORKERS)]
    answers = _in_parallel(
        [
            (
                lambda d=d: lola.post(
                    "/employees/lola/leave-requests", {"leave_type": "PTO", "start": str(d), "end": str(d + timedelta(days=1))}
                )
            )
            for d in mondays
        ]
    )
    assert {a.status for a in answers} <= {201, 409}
    accepted = {a.json["request_id"] for a in answers if a.status == 201}
    assert accepted, "at least one request wins"
    assert _most_at_once(local_stack, "commands", len(mondays)) > 1, "the commands really ran concurrently"
    local_stack.settle()
    history = _history(api, "employee#lola")
    assert [e["metadata"]["version"] for e in history] == list(range(1, len(history) + 1))
    assert len({e["metadata"]["event_id"] for e in history}) == len(history)
    requested = [e["data"]["request_id"] for e in history if e["metadata"]["event_type"] == "LeaveRequested"]
    assert sorted(requested) == sorted(accepted)
    pending = api.as_user("pablo").get("/approvers/pablo/pending").json["items"]
    assert sorted(i["request_id"] for i in pending) == sorted(accepted)
    balance = lola.get("/employees/lola/balance?year=2026&leave_type=PTO").json
    assert (balance["pending"], balance["remaining"]) == (2 * len(accepted), 30 - 2 * len(accepted))


def test_concurrent_decisions_on_one_request_take_effect_once(api: ApiClient, local_stack: LocalStack, madrid: str) -> None:
    lola, pablo = api.as_user("lola"), api.as_user("pablo")
    request_id = lola.post("/employees/lola/leave-requests", {"leave_type": "PTO", "start": "2026-10-05", "end": "2026-10-05"}).json[
        "request_id"
    ]
    answers = _in_parallel(
        [(lambda i=i: pablo.post(f"/leave-requests/{request_id}/{'approve' if i % 2 else 'deny'}", {})) for i in range(WORKERS)]
    )
    assert sorted(a.status for a in answers) == [200] + [409] * (WORKERS - 1)
    local_stack.settle()
    decisions = [
        e
        for e in _history(api, "employee#lola")
        if e["data"].get("request_id") == request_id and e["metadata"]["event_type"] != "LeaveRequested"
    ]
    assert len(decisions) == 1
    winner = next(a for a in answers if a.status == 200).json["status"]
    assert decisions[0]["metadata"]["event_type"] == {"approved": "LeaveApproved", "denied": "LeaveDenied"}[winner]


def test_concurrent_retries_of_one_request_append_it_once(api: ApiClient, local_stack: LocalStack, madrid: str) -> None:
    lola = api.as_user("lola")
    body = {"leave_type": "PTO", "start": "2026-11-02", "end": "2026-11-02"}
    answers = _in_parallel(
        [(lambda: lola.post("/employees/lola/leave-requests", body, idempotency_key="same-click")) for _ in range(WORKERS)]
    )
    winners = [a for a in answers if a.status == 201]
    assert winners and all(a.json == winners[0].json for a in winners)
    assert {a.status for a in answers} <= {201, 409}
    local_stack.settle()
    requested = [
        e for e in _history(api, "employee#lola") if e["metadata"]["event_type"] == "LeaveRequested" and e["data"]["start"] == "2026-11-02"
    ]
    assert len(requested) == 1
