"""Who the caller is, on the local dev stack: the one identity claim the program declares.

The dev stack creates a Cognito pool whose immutable `custom:employee_id` is the identity
claim; local tokens carry the employee id there and a per-user UUID as `sub`, as Cognito's
do. A token's other claims never stand in for it."""

from __future__ import annotations

import jwt
import pytest
from acme_eventsourcing.local.client import ApiClient

from local import LocalStack

LEAVE = {"leave_type": "PTO", "start": "2026-09-14", "end": "2026-09-15"}


@pytest.fixture(scope="module")
def porto(api: ApiClient) -> str:
    ana = api.as_user("ana", "admin")
    location = ana.post("/locations", {"name": "Porto"}).json["location_id"]
    for who in ("joao", "marta"):
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who.title()}).status == 201
    assert ana.put(f"/locations/{location}/approver", {"employee_id": "marta"}).status == 200
    assert ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 20, "max_rollover_days": 5}).status == 200
    return location


def test_local_tokens_carry_the_employee_in_the_declared_claim(local_stack: LocalStack) -> None:
    assert local_stack.identity_claim() == "custom:employee_id"
    claims = jwt.decode(local_stack.token("marta", ["approver"]), options={"verify_signature": False})
    assert claims["custom:employee_id"] == "marta"
    assert (
        claims["sub"] not in ("marta", "")
        and claims["sub"] == jwt.decode(local_stack.token("marta"), options={"verify_signature": False})["sub"]
    )  # stable per user, like Cognito's


def test_a_sub_naming_the_approver_does_not_make_the_requester_the_approver(api: ApiClient, local_stack: LocalStack, porto: str) -> None:
    joao = api.as_user("joao")
    request_id = joao.post("/employees/joao/leave-requests", LEAVE).json["request_id"]
    local_stack.settle()
    # Joao's identity claim, with the approver's name in `sub` (and the approver group)
    forged = ApiClient(api.base_url, token=local_stack.token("joao", ["approver"], sub="marta"))
    refused = forged.post(f"/leave-requests/{request_id}/approve")
    assert (refused.status, refused.error_code) == (403, "own_request")
    assert api.as_user("marta", "approver").post(f"/leave-requests/{request_id}/approve").status == 200


def test_a_token_without_the_declared_claim_is_401(api: ApiClient, local_stack: LocalStack) -> None:
    bare = ApiClient(api.base_url, token=local_stack.token("ana", ["admin"], identity_claim="sub"))
    response = bare.get("/approvers/ana/pending")
    assert response.status == 401 and "custom:employee_id" in response.text
