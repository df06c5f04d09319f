"""Idempotent retries through real HTTP: the first answer again, and nothing appended twice."""

from __future__ import annotations

import pytest
from acme_eventsourcing.local.client import ApiClient, path_param

from local import LocalStack


@pytest.fixture(scope="module")
def lisbon(api: ApiClient) -> str:
    ana = api.as_user("ana", "admin")
    location = ana.post("/locations", {"name": "Lisbon"}).json["location_id"]
    for who in ("rita", "nuno"):
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who.title()}).status == 201
    assert ana.put(f"/locations/{location}/approver", {"employee_id": "nuno"}).status == 200
    assert ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 20, "max_rollover_days": 5}).status == 200
    return location


def _history(api: ApiClient, stack: LocalStack, stream: str) -> list[str]:
    stack.settle()
    items = api.as_user("ana", "admin").get(f"/streams/{path_param(stream)}/events").json["items"]
    return [e["metadata"]["event_type"] for e in items]


def test_retried_request_returns_the_first_answer_and_appends_once(api: ApiClient, local_stack: LocalStack, lisbon: str) -> None:
    rita = api.as_user("rita")
    body = {"leave_type": "PTO", "start": "2026-07-06", "end": "2026-07-08"}
    answers = [rita.post("/employees/rita/leave-requests", body, idempotency_key="trip-1") for _ in range(3)]
    assert [a.status for a in answers] == [201] * 3
    assert answers[0].json == answers[1].json == answers[2].json == {"request_id": answers[0].json["request_id"], "working_days": 3}
    assert _history(api, local_stack, "employee#rita").count("LeaveRequested") == 1


def test_retried_decision_is_not_a_conflict(api: ApiClient, local_stack: LocalStack, lisbon: str) -> None:
    rita, nuno = api.as_user("rita"), api.as_user("nuno")
    request_id = rita.post("/employees/rita/leave-requests", {"leave_type": "PTO", "start": "2026-08-03", "end": "2026-08-03"}).json[
        "request_id"
    ]
    first = nuno.post(f"/leave-requests/{request_id}/approve", {}, idempotency_key="approve-1")
    retry = nuno.post(f"/leave-requests/{request_id}/approve", {}, idempotency_key="approve-1")
    fresh = nuno.post(f"/leave-requests/{request_id}/approve", {})
    assert (first.status, retry.status, retry.json) == (200, 200, first.json)
    assert fresh.status == 409  # without the key, approving twice is a conflict
    assert _history(api, local_stack, "employee#rita").count("LeaveApproved") == 1


def test_same_key_other_body_is_422_and_appends_nothing(api: ApiClient, local_stack: LocalStack, lisbon: str) -> None:
    rita = api.as_user("rita")
    first = rita.post(
        "/employees/rita/leave-requests", {"leave_type": "PTO", "start": "2026-09-07", "end": "2026-09-07"}, idempotency_key="k-9"
    )
    before = _history(api, local_stack, "employee#rita")
    other = rita.post(
        "/employees/rita/leave-requests", {"leave_type": "PTO", "start": "2026-09-14", "end": "2026-09-14"}, idempotency_key="k-9"
    )
    assert (first.status, other.status, other.error_code) == (201, 422, "idempotency_key_reused")
    assert _history(api, local_stack, "employee#rita") == before


def test_keys_are_scoped_to_the_caller(api: ApiClient, local_stack: LocalStack, lisbon: str) -> None:
    ana, alex = api.as_user("ana", "admin"), api.as_user("alex", "admin")
    first = ana.post("/locations", {"name": "Braga"}, idempotency_key="shared-key")
    second = alex.post("/locations", {"name": "Braga"}, idempotency_key="shared-key")
    assert first.status == second.status == 201
    assert first.json["location_id"] != second.json["location_id"]
