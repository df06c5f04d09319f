"""The commands handler on the in-memory store: every route, every error status, idempotency."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.ports import ConcurrencyError
from acme_eventsourcing.runtime.handler import ConfigurationError, LambdaHandler
from acme_eventsourcing.runtime.http import MAX_BODY_BYTES
from acme_eventsourcing.runtime.validation import errors as schema_errors
from leave_api import commands
from leave_api.api import BY_KEY, COMMAND_DECLARATIONS, COMMAND_ROUTES
from test_commands_support import ADMIN, JOHN, MIKE, Api, api_event, setup_location

LEAVE = {"leave_type": "PTO", "start": "2026-02-02", "end": "2026-02-06"}  # Mon-Fri: 5 working days


@pytest.fixture
def api() -> Api:
    return Api.on(InMemoryEventStore())


@pytest.fixture
def berlin(api: Api) -> str:
    return setup_location(api)


@pytest.fixture
def request_id(api: Api, berlin: str) -> str:
    response = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN)
    assert response.status == 201
    return response.body["request_id"]


def assert_success_matches_route_schema(method: str, path_template: str, response: Any) -> None:
    route = BY_KEY[f"{method} {path_template}"]
    assert response.status == route.status
    assert schema_errors(response.body, route.response, "response") == []


# --- every command route: success status and body ---------------------------------------


def test_create_location_is_201_with_the_new_id(api: Api) -> None:
    response = api.call("POST", "/locations", {"name": "Berlin"})
    assert response.status == 201
    assert response.body == {"location_id": "loc_000000000001"}
    assert_success_matches_route_schema("POST", "/locations", response)
    assert api.store.event_count() == 2  # LocationCreated + LocationRegistered


def test_add_employee_is_201(api: Api) -> None:
    location_id = api.call("POST", "/locations", {"name": "Berlin"}).body["location_id"]
    response = api.call("POST", f"/locations/{location_id}/employees", {"employee_id": "john", "name": "John"})
    assert response.body == {"employee_id": "john", "location_id": location_id}
    assert_success_matches_route_schema("POST", "/locations/{location_id}/employees", response)


def test_assign_approver_and_policy_are_200(api: Api) -> None:
    location_id = api.call("POST", "/locations", {"name": "Berlin"}).body["location_id"]
    api.call("POST", f"/locations/{location_id}/employees", {"employee_id": "mike", "name": "Mike"})
    approver = api.call("PUT", f"/locations/{location_id}/approver", {"employee_id": "mike"})
    assert approver.body == {"location_id": location_id, "approver_id": "mike"}
    assert_success_matches_route_schema("PUT", "/locations/{location_id}/approver", approver)
    policy = api.call("PUT", f"/locations/{location_id}/policy", {"leave_type": "PTO", "days_per_year": 20.5, "max_rollover_days": 5.0})
    assert policy.body == {"location_id": location_id, "leave_type": "PTO", "days_per_year": 20.5, "max_rollover_days": 5}
    assert_success_matches_route_schema("PUT", "/locations/{location_id}/policy", policy)


def test_set_working_week_is_200(api: Api, berlin: str) -> None:
    response = api.call("PUT", "/employees/john/working-week", {"days": ["THU", "MON", "TUE", "WED"]})
    assert response.status == 200
    assert response.body["employee_id"] == "john"
    assert set(response.body["days"]) == {"MON", "TUE", "WED", "THU"}
    assert_success_matches_route_schema("PUT", "/employees/{employee_id}/working-week", response)


def test_request_leave_is_201_with_request_id_and_working_days(api: Api, berlin: str) -> None:
    response = api.call("POST", "/employees/john/leave-requests", {**LEAVE, "note": "ski"}, claims=JOHN)
    assert response.status == 201
    assert response.body["working_days"] == 5
    assert response.body["request_id"].startswith("john~")
    assert_success_matches_route_schema("POST", "/employees/{employee_id}/leave-requests", response)


def test_request_leave_counts_only_the_working_week(api: Api, berlin: str) -> None:
    api.call("PUT", "/employees/john/working-week", {"days": ["MON", "TUE", "WED", "THU"]})
    response = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN)
    assert response.body["working_days"] == 4


@pytest.mark.parametrize(("action", "status"), [("approve", "approved"), ("deny", "denied")])
def test_approver_decides_a_request_with_200(api: Api, request_id: str, action: str, status: str) -> None:
    body = {"reason": "team offsite"} if action == "deny" else {}
    response = api.call("POST", f"/leave-requests/{request_id}/{action}", body, claims=MIKE)
    assert (response.status, response.body) == (200, {"request_id": request_id, "status": status})
    assert_success_matches_route_schema("POST", f"/leave-requests/{{request_id}}/{action}", response)


def test_approve_accepts_an_empty_body(api: Api, request_id: str) -> None:
    response = api.call("POST", f"/leave-requests/{request_id}/approve", None, claims=MIKE, headers={"content-type": ""})
    assert response.status == 200


def test_requester_cancels_with_200(api: Api, request_id: str) -> None:
    response = api.call("POST", f"/leave-requests/{request_id}/cancel", {}, claims=JOHN)
    assert (response.status, response.body) == (200, {"request_id": request_id, "status": "cancelled"})
    assert_success_matches_route_schema("POST", "/leave-requests/{request_id}/cancel", response)


def test_approver_adds_a_past_leave_with_201(api: Api, berlin: str) -> None:
    api.clock.advance(14)
    response = api.call(
        "POST", "/employees/john/past-leaves", {"leave_type": "PTO", "start": "2026-01-05", "end": "2026-01-09"}, claims=MIKE
    )
    assert response.status == 201
    assert response.body["working_days"] == 5
    assert_success_matches_route_schema("POST", "/employees/{employee_id}/past-leaves", response)


def test_admin_transfers_an_employee_with_200(api: Api, berlin: str) -> None:
    munich = api.call("POST", "/locations", {"name": "Munich"}).body["location_id"]
    api.clock.advance(10)
    response = api.call("POST", "/employees/john/transfer", {"to_location_id": munich, "effective_date": "2026-02-01"})
    assert response.status == 200
    assert response.body == {"employee_id": "john", "from_location_id": berlin, "to_location_id": munich, "effective_on": "2026-02-01"}
    assert_success_matches_route_schema("POST", "/employees/{employee_id}/transfer", response)


def test_transfer_without_a_date_is_effective_today(api: Api, berlin: str) -> None:
    munich = api.call("POST", "/locations", {"name": "Munich"}).body["location_id"]
    response = api.call("POST", "/employees/john/transfer", {"to_location_id": munich})
    assert response.body["effective_on"] == "2026-01-05"


def test_rollover_is_202(api: Api, berlin: str) -> None:
    api.clock.advance(365)
    response = api.call("POST", "/rollovers", {"from_year": 2026})
    assert response.status == 202
    assert response.body == {"from_year": 2026, "to_year": 2027, "employees": 2, "employees_rolled_over": 2}
    assert_success_matches_route_schema("POST", "/rollovers", response)


WRITE_ROUTES = [route for route in COMMAND_ROUTES if not route.public]
EXAMPLE_PARAMS = {
    "location_id": "loc_1",
    "employee_id": "john",
    "request_id": "john~1",
    "feed_id": "feed_0123456789abcdef01234567",
    "team_id": "T0ACME",
    "user_id": "U0JOHN",
}


def test_every_write_route_is_one_declaration_that_builds_its_domain_command() -> None:
    declared = {d.name: d for d in COMMAND_DECLARATIONS}
    assert set(declared) == {route.handler for route in WRITE_ROUTES}
    assert [d.route for d in COMMAND_DECLARATIONS] == WRITE_ROUTES  # the route table is made of them
    assert len({d.command for d in COMMAND_DECLARATIONS}) == len(COMMAND_DECLARATIONS)  # one declaration per domain command


@pytest.mark.parametrize("route", WRITE_ROUTES, ids=[r.key for r in WRITE_ROUTES])
def test_every_write_route_rejects_missing_claims_unknown_fields_and_big_bodies(api: Api, route: Any) -> None:
    path = route.concrete_path(EXAMPLE_PARAMS)
    assert_error(api, api.call(route.method, path, {}, claims=None), 401, "unauthorized", 0)
    unknown = api.call(route.method, path, {"actor": "ana"})
    assert_error(api, unknown, 400, "invalid_request", 0)
    assert "body.actor is not allowed (unknown field)" in [d["message"] for d in unknown.body["error"]["details"]]
    assert_error(api, api.call(route.method, path, {"pad": "x" * MAX_BODY_BYTES}), 413, "payload_too_large", 0)
    assert api.store.calls == []


def test_openapi_document_is_served_without_a_token(api: Api) -> None:
    response = api.call("GET", "/openapi.json", claims=None)
    assert response.status == 200
    assert response.body["openapi"].startswith("3.")
    assert "/locations" in response.body["paths"]


def test_openapi_servers_come_from_api_url_never_from_the_request(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    event = api_event("GET", "/openapi.json", claims=None, headers={"host": "evil.example"})
    event["requestContext"].update(domainName="evil.example", stage="dev")
    monkeypatch.delenv("API_URL", raising=False)
    assert [s["url"] for s in json.loads(api.app(event)["body"])["servers"]] == ["/"]
    monkeypatch.setenv("API_URL", "https://abc.execute-api.us-east-1.amazonaws.com")
    assert [s["url"] for s in json.loads(api.app(event)["body"])["servers"]] == ["https://abc.execute-api.us-east-1.amazonaws.com"]


# --- errors: every status of the contract, and nothing appended ------------------------------


def assert_error(api: Api, response: Any, status: int, code: str, before: int) -> None:
    assert (response.status, response.code) == (status, code), response.body
    assert set(response.body) == {"error"} and response.body["error"]["message"]
    assert api.store.event_count() == before, "an error must append nothing"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "body.name", "body.name is required"),
        ({"name": 42}, "body.name", "body.name must be a string"),
        ({"name": "Berlin", "actor": "ana"}, "body.actor", "body.actor is not allowed (unknown field)"),
        ([], "body", "body must be an object"),
        ("null", "body", "body must be an object"),
    ],
)
def test_schema_invalid_body_is_400_naming_the_field(api: Api, body: Any, field: str, message: str) -> None:
    before = api.store.event_count()
    response = api.call("POST", "/locations", body)
    assert (response.status, response.code) == (400, "invalid_request")
    assert (response.body["error"]["field"], response.body["error"]["message"]) == (field, message)
    assert api.store.event_count() == before
    assert "append" not in api.store.calls


@pytest.mark.parametrize("raw", ['{"name": "Berlin"', "{'name': 'Berlin'}", "name=Berlin", '{"name": NaN}'])
def test_malformed_json_is_400(api: Api, raw: str) -> None:
    response = api.call("POST", "/locations", raw)
    assert_error(api, response, 400, "malformed_json", 0)
    assert api.store.calls == []


def test_wrong_types_missing_fields_and_bad_dates_are_400_naming_the_field(api: Api, berlin: str) -> None:
    before = api.store.event_count()
    cases = [
        ({"leave_type": "PTO", "start": "2026-02-30", "end": "2026-03-02"}, "body.start"),
        ({"leave_type": "PTO", "start": "2026-02-02"}, "body.end"),
        ({"leave_type": 1, "start": "2026-02-02", "end": "2026-02-03"}, "body.leave_type"),
        ({"leave_type": "PTO", "start": "2026-02-06", "end": "2026-02-02"}, "body.end"),
        ({"leave_type": "PTO", "start": "2026-02-02", "end": "2026-02-03", "employee_id": "mike"}, "body.employee_id"),
    ]
    for body, field in cases:
        response = api.call("POST", "/employees/john/leave-requests", body, claims=JOHN)
        assert (response.status, response.body["error"]["field"]) == (400, field), body
        assert field in response.body["error"]["message"]
    days = api.call("PUT", "/employees/john/working-week", {"days": ["MON", "TUE", "FUNDAY"]})
    assert (days.status, days.body["error"]["field"]) == (400, "body.days[2]")
    policy = api.call("PUT", f"/locations/{berlin}/policy", {"leave_type": "PTO", "days_per_year": "20", "max_rollover_days": 5})
    assert (policy.status, policy.body["error"]["field"]) == (400, "body.days_per_year")
    assert api.store.event_count() == before


@pytest.mark.parametrize("path", ["/locations/bad%20id/employees", "/locations/a#b/employees", "/locations/" + "x" * 65 + "/employees"])
def test_bad_path_id_is_400_naming_it(api: Api, path: str) -> None:
    response = api.call("POST", path, {"employee_id": "john", "name": "John"})
    assert (response.status, response.code, response.body["error"]["field"]) == (400, "invalid_request", "path.location_id")
    assert api.store.calls == []


def test_malformed_request_id_is_400(api: Api, berlin: str) -> None:
    response = api.call("POST", "/leave-requests/not-a-request/approve", {}, claims=MIKE)
    assert (response.status, response.body["error"]["field"]) == (400, "path.request_id")


def test_oversized_body_is_413(api: Api) -> None:
    response = api.call("POST", "/locations", {"name": "x" * MAX_BODY_BYTES})
    assert_error(api, response, 413, "payload_too_large", 0)
    assert api.store.calls == []


def test_base64_encoded_body_is_accepted(api: Api) -> None:
    raw = base64.b64encode(json.dumps({"name": "Zürich"}).encode()).decode()
    assert api.call("POST", "/locations", raw, base64=True).status == 201


def test_non_json_content_type_is_415(api: Api) -> None:
    response = api.call("POST", "/locations", "name=Berlin", headers={"content-type": "application/x-www-form-urlencoded"})
    assert_error(api, response, 415, "unsupported_media_type", 0)


@pytest.mark.parametrize("claims", [None, {}, {"cognito:groups": "[admin]"}])
def test_no_claims_is_401_before_anything_else(api: Api, claims: dict[str, Any] | None) -> None:
    response = api.call("POST", "/locations/bad id/employees", "not json", claims=claims)
    assert_error(api, response, 401, "unauthorized", 0)
    assert api.store.calls == []


def test_non_admin_is_403(api: Api, berlin: str) -> None:
    before = api.store.event_count()
    assert_error(api, api.call("POST", "/locations", {"name": "Paris"}, claims=JOHN), 403, "admin_only", before)


def test_actor_comes_from_the_token_not_the_body(api: Api, berlin: str) -> None:
    # Mike may not request leave for John, whatever the body says.
    before = api.store.event_count()
    response = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=MIKE)
    assert_error(api, response, 403, "not_the_employee", before)


def test_groups_claim_as_a_json_list_makes_an_admin(api: Api) -> None:
    response = api.call("POST", "/locations", {"name": "Paris"}, claims={"sub": "ana", "cognito:groups": '["admin"]'})
    assert response.status == 201


def test_the_configured_identity_claim_is_the_actor(api: Api, berlin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_CLAIM", "custom:employee_id")
    claims = {"sub": "3f1c-uuid", "custom:employee_id": "john"}
    response = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=claims)
    assert response.status == 201


def test_a_claim_naming_the_approver_does_not_make_the_requester_the_approver(api: Api, request_id: str) -> None:
    """John's token (sub john) also says `custom:employee_id: mike`, Mike being his approver:
    with the identity claim left at `sub`, John stays John and cannot approve his own request."""
    before = api.store.event_count()
    claims = {"sub": "john", "custom:employee_id": "mike", "cognito:groups": "[approver]"}
    response = api.call("POST", f"/leave-requests/{request_id}/approve", {}, claims=claims)
    assert_error(api, response, 403, "own_request", before)  # recognised as John, the requester


def test_with_the_claim_configured_the_approver_is_who_it_names(api: Api, request_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_CLAIM", "custom:employee_id")
    response = api.call("POST", f"/leave-requests/{request_id}/approve", {}, claims={"sub": "uuid-of-mike", "custom:employee_id": "mike"})
    assert response.status == 200


def test_a_token_without_the_configured_claim_is_401(api: Api, berlin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_CLAIM", "custom:employee_id")
    response = api.call("POST", "/employees/john/leave-requests", LEAVE, claims={"sub": "john"})
    assert response.status == 401
    assert "custom:employee_id" in response.body["error"]["message"]


def test_only_the_locations_approver_decides_403(api: Api, request_id: str) -> None:
    before = api.store.event_count()
    response = api.call("POST", f"/leave-requests/{request_id}/approve", {}, claims={"sub": "ana", "cognito:groups": "[admin]"})
    assert_error(api, response, 403, "not_the_approver", before)


def test_unknown_location_is_404(api: Api) -> None:
    response = api.call("POST", "/locations/loc_nowhere/employees", {"employee_id": "john", "name": "John"})
    assert_error(api, response, 404, "location_not_found", 0)


def test_unknown_request_is_404(api: Api, berlin: str) -> None:
    before = api.store.event_count()
    response = api.call("POST", "/leave-requests/john~99/approve", {}, claims=MIKE)
    assert_error(api, response, 404, "request_not_found", before)


def test_unknown_employee_is_404(api: Api, berlin: str) -> None:
    before = api.store.event_count()
    response = api.call("PUT", "/employees/nobody/working-week", {"days": ["MON"]})
    assert_error(api, response, 404, "employee_not_found", before)


def test_deciding_a_decided_request_is_409(api: Api, request_id: str) -> None:
    api.call("POST", f"/leave-requests/{request_id}/approve", {}, claims=MIKE)
    before = api.store.event_count()
    response = api.call("POST", f"/leave-requests/{request_id}/deny", {}, claims=MIKE)
    assert_error(api, response, 409, "request_already_decided", before)


def test_lost_race_after_retries_is_409(api: Api, berlin: str) -> None:
    before = api.store.event_count()
    api.store.fail_append = lambda: ConcurrencyError("taken")
    response = api.call("PUT", f"/locations/{berlin}/approver", {"employee_id": "john"})
    assert_error(api, response, 409, "concurrent_modification", before)


def test_not_enough_days_left_is_422(api: Api, berlin: str) -> None:
    before = api.store.event_count()
    response = api.call(
        "POST", "/employees/john/leave-requests", {"leave_type": "PTO", "start": "2026-02-02", "end": "2026-03-31"}, claims=JOHN
    )
    assert_error(api, response, 422, "insufficient_balance", before)


def test_unknown_route_is_404_and_wrong_method_405(api: Api) -> None:
    assert_error(api, api.call("POST", "/nowhere", {}), 404, "route_not_found", 0)
    assert_error(api, api.call("DELETE", "/locations", None), 405, "method_not_allowed", 0)


def test_unexpected_failure_is_500_with_a_logged_correlation_id(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    api.store.fail_load = lambda: RuntimeError("boom")
    response = api.call("POST", "/locations", {"name": "Berlin"})
    assert (response.status, response.code) == (500, "internal_error")
    assert response.body["error"]["correlation_id"] == "req-1"
    assert "boom" not in json.dumps(response.body)
    (log,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (log["level"], log["status"], log["correlation_id"]) == ("ERROR", 500, "req-1")
    assert "RuntimeError: boom" in log["traceback"]
    assert "append" not in api.store.calls


# --- idempotency -------------------------------------------------------------------------------


def key(value: str = "k-1") -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_happy_path_with_a_key_is_at_most_one_load_and_one_append(api: Api, berlin: str) -> None:
    api.store.calls.clear()
    response = api.call(
        "PUT", f"/locations/{berlin}/policy", {"leave_type": "PTO", "days_per_year": 25, "max_rollover_days": 5}, headers=key()
    )
    assert response.status == 200
    assert api.store.calls == ["append"]  # this container created the location: it is cached, and guarded by the append
    api.store.calls.clear()
    response = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN, headers=key("k-2"))
    assert response.status == 201
    assert api.store.calls == ["load", "append"]  # the employee's stream; the location is cached


def test_retry_with_the_same_key_returns_the_first_response_and_appends_nothing(api: Api, berlin: str) -> None:
    first = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN, headers=key())
    before = api.store.event_count()
    again = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN, headers=key())
    assert (again.status, again.body) == (first.status, first.body) == (201, first.body)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert api.store.event_count() == before


def test_retry_of_a_create_returns_the_same_new_id(api: Api) -> None:
    first = api.call("POST", "/locations", {"name": "Berlin"}, headers=key())
    before = api.store.event_count()
    again = api.call("POST", "/locations", {"name": "Berlin"}, headers=key())
    assert again.body == first.body
    assert api.store.event_count() == before


def test_retry_matches_the_body_canonically_and_the_header_case_insensitively(api: Api) -> None:
    first = api.call("POST", "/locations", '{"name":"Berlin"}', headers={"idempotency-key": "k-1"})
    again = api.call("POST", "/locations", '{ "name" : "Berlin" }', headers={"IDEMPOTENCY-KEY": "k-1"})
    assert again.body == first.body


def test_retry_after_the_domain_moved_on_still_returns_the_first_response(api: Api, request_id: str) -> None:
    first = api.call("POST", f"/leave-requests/{request_id}/approve", {}, claims=MIKE, headers=key())
    before = api.store.event_count()
    again = api.call("POST", f"/leave-requests/{request_id}/approve", {}, claims=MIKE, headers=key())
    assert (again.status, again.body) == (first.status, first.body) == (200, first.body)
    assert api.store.event_count() == before


def test_same_key_with_another_body_is_422_and_appends_nothing(api: Api, berlin: str) -> None:
    api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN, headers=key())
    before = api.store.event_count()
    other = {"leave_type": "PTO", "start": "2026-03-02", "end": "2026-03-03"}
    response = api.call("POST", "/employees/john/leave-requests", other, claims=JOHN, headers=key())
    assert_error(api, response, 422, "idempotency_key_reused", before)


def test_same_key_on_another_path_is_422(api: Api, request_id: str) -> None:
    api.call("POST", f"/leave-requests/{request_id}/deny", {}, claims=MIKE, headers=key())
    before = api.store.event_count()
    response = api.call("POST", f"/leave-requests/{request_id}/approve", {}, claims=MIKE, headers=key())
    assert_error(api, response, 422, "idempotency_key_reused", before)


def test_keys_are_scoped_to_the_caller(api: Api, berlin: str) -> None:
    john = api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN, headers=key())
    mike = api.call("POST", "/employees/mike/leave-requests", LEAVE, claims=MIKE, headers=key())
    assert (john.status, mike.status) == (201, 201)
    assert john.body["request_id"] != mike.body["request_id"]


def test_a_failed_request_does_not_burn_its_key(api: Api, berlin: str) -> None:
    too_long = {"leave_type": "PTO", "start": "2026-02-02", "end": "2026-03-31"}
    assert api.call("POST", "/employees/john/leave-requests", too_long, claims=JOHN, headers=key()).status == 422
    assert api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN, headers=key()).status == 201


@pytest.mark.parametrize("value", ["", "x" * 129, "has space", "ünïcode", "a/b"])
def test_invalid_idempotency_key_is_400(api: Api, value: str) -> None:
    response = api.call("POST", "/locations", {"name": "Berlin"}, headers=key(value))
    assert_error(api, response, 400, "invalid_idempotency_key", 0)
    assert response.body["error"]["field"] == "header.Idempotency-Key"


def test_longest_allowed_key_works(api: Api) -> None:
    assert api.call("POST", "/locations", {"name": "Berlin"}, headers=key("k" * 128)).status == 201


def test_rollover_retry_is_answered_before_walking_again(api: Api, berlin: str) -> None:
    api.clock.advance(365)
    first = api.call("POST", "/rollovers", {"from_year": 2026}, headers=key())
    api.store.calls.clear()
    before = api.store.event_count()
    again = api.call("POST", "/rollovers", {"from_year": 2026}, headers=key())
    assert (again.status, again.body) == (first.status, first.body)
    assert api.store.calls == ["get_idempotency"]
    assert api.store.event_count() == before


def test_rollover_key_reused_for_another_year_is_422_and_appends_nothing(api: Api, berlin: str) -> None:
    api.clock.advance(365)
    api.call("POST", "/rollovers", {"from_year": 2026}, headers=key())
    before = api.store.event_count()
    response = api.call("POST", "/rollovers", {"from_year": 2025}, headers=key())
    assert_error(api, response, 422, "idempotency_key_reused", before)


# --- logging, wiring, import -------------------------------------------------------------------


def test_one_structured_log_line_per_request(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    api.call("POST", "/locations", {"name": "Berlin"})
    api.call("POST", "/locations", {"name": ""})
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["route"], r["status"], r["correlation_id"]) for r in records] == [
        ("POST /locations", 201, "req-1"),
        ("POST /locations", 400, "req-1"),
    ]
    assert records[1]["error_code"] == "invalid_request"
    assert all(isinstance(r["latency_ms"], float) for r in records)


def test_handler_without_events_table_fails_loudly() -> None:
    with pytest.raises(ConfigurationError, match="EVENTS_TABLE"):
        LambdaHandler(commands.build, environ={})(api_event("POST", "/locations", {"name": "Berlin"}), None)


def test_importing_the_handler_needs_neither_aws_nor_boto3() -> None:
    lambdas = Path(commands.__file__).resolve().parent.parent
    lazy = ("boto3", "botocore", "leave_api.openapi", "leave_api.asyncapi", "acme_eventsourcing.runtime.asyncapi")
    code = f"import sys, leave_api.commands; print(sorted(m for m in {lazy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=lambdas,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join([str(lambdas), str(lambdas.parent / "components")])},
    )
    assert out.stdout.strip() == "[]"


def test_event_metadata_carries_actor_key_and_correlation_id(api: Api, berlin: str) -> None:
    api.call("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN, headers=key("k-7"))
    (requested,) = [e for e in api.store.inner.load("employee#john") if e.event_type == "LeaveRequested"]
    assert requested.metadata["actor"] == "john"
    assert requested.metadata["idempotency_key"] == "john#k-7"
    assert requested.metadata["correlation_id"] == "req-1"
    assert ADMIN["sub"] not in requested.metadata.values()


# --- the horizon: dates beyond 2000-01-01..2099-12-31 are refused before anything is appended ---


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/employees/john/leave-requests", {"leave_type": "PTO", "start": "2150-06-01", "end": "2150-06-01"}, "body.start"),
        ("/employees/john/leave-requests", {"leave_type": "PTO", "start": "9998-06-01", "end": "9998-06-01"}, "body.start"),
        ("/employees/john/leave-requests", {"leave_type": "PTO", "start": "2026-06-01", "end": "9999-12-31"}, "body.end"),
        ("/employees/john/past-leaves", {"leave_type": "PTO", "start": "1999-12-30", "end": "1999-12-31"}, "body.start"),
        ("/employees/john/transfer", {"to_location_id": "loc_x", "effective_date": "2150-01-01"}, "body.effective_date"),
        ("/rollovers", {"from_year": 2100}, "body.from_year"),
    ],
)
def test_a_date_beyond_the_horizon_is_a_400_naming_the_field_and_appends_nothing(
    api: Api, berlin: str, path: str, body: Any, field: str
) -> None:
    claims = JOHN if "leave-requests" in path else ADMIN
    before = api.store.event_count()
    response = api.call("POST", path, body, claims=claims)
    assert response.status == 400, response.body
    assert response.body["error"]["field"] == field
    assert "2099-12-31" in response.body["error"]["message"] or "2099" in response.body["error"]["message"]
    assert api.store.event_count() == before


def test_the_domain_refusal_of_a_far_date_maps_to_422_naming_the_body_field() -> None:
    from leave.horizon import OutOfHorizon

    (transfer,) = [d for d in COMMAND_DECLARATIONS if d.name == "transfer_employee"]
    error = commands.make_app(InMemoryEventStore()).http_error(OutOfHorizon("effective_on", "2150-01-01"), transfer).response()
    assert error["statusCode"] == 422
    assert json.loads(error["body"])["error"]["field"] == "body.effective_date"
    assert json.loads(error["body"])["error"]["code"] == "date_out_of_range"
