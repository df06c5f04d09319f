"""Every error status of API.md through real HTTP: 400, 401, 403, 404, 409, 413, 415, 422.

Each answer has the contract's shape (`{"error": {"code", "message"}}`; 401 is API
Gateway's own `{"message": "Unauthorized"}`) and nothing is appended for a refused request."""

from __future__ import annotations

import pytest
from acme_eventsourcing.local.client import ApiClient, path_param

from local import LocalStack


@pytest.fixture(scope="module")
def porto(api: ApiClient) -> str:
    """A location with john (member) and mike (approver); policy 3 PTO days."""
    ana = api.as_user("ana", "admin")
    location = ana.post("/locations", {"name": "Porto"}).json["location_id"]
    for who in ("john", "mike"):
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who.title()}).status == 201
    assert ana.put(f"/locations/{location}/approver", {"employee_id": "mike"}).status == 200
    assert ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 3, "max_rollover_days": 0}).status == 200
    return location


def _events(api: ApiClient, stack: LocalStack, stream: str) -> list[dict]:
    """The stream's events as the audit projection has them, once everything written so far is projected."""
    stack.settle()
    response = api.as_user("ana", "admin").get(f"/streams/{path_param(stream)}/events")
    return response.json["items"] if response.status == 200 else []


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code", "field"),
    [
        (b'{"name": ', "application/json", 400, "malformed_json", "body"),
        (b"{}", "application/json", 400, "invalid_request", "body.name"),
        (b'{"name": 5}', "application/json", 400, "invalid_request", "body.name"),
        (b'{"name": "x", "bogus": 1}', "application/json", 400, "invalid_request", "body.bogus"),
        (b'{"name": "x"}', "text/plain", 415, "unsupported_media_type", None),
        (b'{"name": "' + b"x" * 20000 + b'"}', "application/json", 413, "payload_too_large", None),
    ],
)
def test_bad_input_is_a_4xx_naming_the_problem(
    api: ApiClient, raw: bytes, content_type: str, status: int, code: str, field: str | None
) -> None:
    response = api.as_user("ana", "admin").request("POST", "/locations", raw=raw, headers={"Content-Type": content_type})
    assert (response.status, response.error_code) == (status, code)
    assert response.json["error"]["message"]
    assert response.json["error"].get("field") == field


def test_bad_query_parameter_is_400(api: ApiClient, porto: str) -> None:
    response = api.as_user("john").get("/employees/john/balance?year=abc&leave_type=PTO")
    assert (response.status, response.error_code, response.json["error"]["field"]) == (400, "invalid_request", "query.year")


def test_missing_or_invalid_token_is_401_from_the_authorizer(api: ApiClient, local_stack: LocalStack) -> None:
    anonymous = api.post("/locations", {"name": "x"})
    expired = ApiClient(api.base_url, token=local_stack.token("ana", ["admin"], ttl=-10)).post("/locations", {"name": "x"})
    forged = ApiClient(api.base_url, token="e30.e30.c2ln").post("/locations", {"name": "x"})
    assert [(r.status, r.json) for r in (anonymous, expired, forged)] == [(401, {"message": "Unauthorized"})] * 3


def test_forbidden_is_403_and_appends_nothing(api: ApiClient, porto: str, local_stack: LocalStack) -> None:
    john, mike = api.as_user("john"), api.as_user("mike")
    before = len(_events(api, local_stack, "employee#john"))
    assert before >= 1  # at least EmployeeJoined: the projection has caught up
    assert john.post("/locations", {"name": "x"}).error_code == "admin_only"
    assert (
        mike.post("/employees/john/leave-requests", {"leave_type": "PTO", "start": "2026-03-02", "end": "2026-03-02"}).error_code
        == "not_the_employee"
    )
    assert john.get(f"/streams/{path_param('employee#john')}/events").status == 403
    assert john.get("/approvers/mike/pending").status == 403
    assert len(_events(api, local_stack, "employee#john")) == before


def test_unknown_ids_are_404(api: ApiClient, porto: str) -> None:
    ana, mike = api.as_user("ana", "admin"), api.as_user("mike")
    assert ana.post("/locations/loc_nope/employees", {"employee_id": "x1", "name": "X"}).error_code == "location_not_found"
    assert mike.post("/leave-requests/john~999/approve", {}).error_code == "request_not_found"
    assert ana.get("/employees/nobody/balance?year=2026&leave_type=PTO").status == 404
    assert ana.get("/nope").json == {"message": "Not Found"}


def test_conflicts_are_409(api: ApiClient, porto: str, local_stack: LocalStack) -> None:
    ana, john, mike = api.as_user("ana", "admin"), api.as_user("john"), api.as_user("mike")
    assert ana.post(f"/locations/{porto}/employees", {"employee_id": "john", "name": "John"}).error_code == "employee_exists"
    request_id = john.post("/employees/john/leave-requests", {"leave_type": "PTO", "start": "2026-04-06", "end": "2026-04-06"}).json[
        "request_id"
    ]
    assert mike.post(f"/leave-requests/{request_id}/approve", {}).status == 200
    again = mike.post(f"/leave-requests/{request_id}/deny", {})
    assert (again.status, again.error_code) == (409, "request_already_decided")


def test_domain_rules_are_422(api: ApiClient, porto: str) -> None:
    john = api.as_user("john")
    too_long = john.post("/employees/john/leave-requests", {"leave_type": "PTO", "start": "2026-05-04", "end": "2026-05-08"})
    no_policy = john.post("/employees/john/leave-requests", {"leave_type": "SICK", "start": "2026-05-04", "end": "2026-05-04"})
    assert john.post("/employees/john/leave-requests", {"leave_type": "PTO", "start": "2026-06-01", "end": "2026-06-01"}).status == 201
    overlapping = john.post("/employees/john/leave-requests", {"leave_type": "PTO", "start": "2026-06-01", "end": "2026-06-01"})
    assert [r.status for r in (too_long, no_policy, overlapping)] == [422] * 3
    assert [r.error_code for r in (too_long, no_policy, overlapping)] == ["insufficient_balance", "no_policy", "overlapping_leave"]


def test_reusing_an_idempotency_key_for_another_body_is_422(api: ApiClient) -> None:
    ana = api.as_user("ana", "admin")
    first = ana.post("/locations", {"name": "Faro"}, idempotency_key="errors-key-1")
    other = ana.post("/locations", {"name": "Lagos"}, idempotency_key="errors-key-1")
    assert first.status == 201
    assert (other.status, other.error_code) == (422, "idempotency_key_reused")
