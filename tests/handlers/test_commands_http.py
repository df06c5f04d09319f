"""HTTP plumbing shared by the commands and queries handlers: claims, bodies, routes, responses."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from acme_eventsourcing.runtime import http
from acme_eventsourcing.runtime.routes import Match, match, query_params, serve
from leave_api.api import BY_KEY, COMMAND_ROUTES, QUERY_ROUTES, ROUTES


def event(
    method: str = "POST",
    path: str = "/locations",
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
    route_key: str | None = None,
    path_parameters: dict[str, str] | None = None,
    stage: str = "$default",
    **extra: Any,
) -> dict[str, Any]:
    authorizer = {"jwt": {"claims": claims, "scopes": None}} if claims is not None else None
    return {
        "version": "2.0",
        "routeKey": route_key or "$default",
        "rawPath": path,
        "headers": headers or {},
        "pathParameters": path_parameters,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "http": {"method": method, "path": path},
            "requestId": "req-1",
            "stage": stage,
            **({"authorizer": authorizer} if authorizer else {}),
        },
        **extra,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[admin approver]", {"admin", "approver"}),
        ("[admin]", {"admin"}),
        ("admin", {"admin"}),
        ("admin,approver", {"admin", "approver"}),
        ('["admin", "approver"]', {"admin", "approver"}),
        (["admin", "approver"], {"admin", "approver"}),
        ("[]", set()),
        ("", set()),
        (None, set()),
    ],
)
def test_groups_claim_is_parsed_in_every_shape_api_gateway_sends(value: Any, expected: set[str]) -> None:
    assert http.parse_groups(value) == frozenset(expected)


def test_caller_is_the_configured_identity_claim_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    both = {"sub": "uuid-1", "custom:employee_id": "john", "cognito:groups": "[admin]"}
    monkeypatch.delenv("IDENTITY_CLAIM", raising=False)
    by_sub = http.caller(event(claims=both))  # the default claim is sub: custom:employee_id is ignored
    assert (by_sub.id, by_sub.subject, by_sub.has_role("admin"), by_sub.has_role("approver")) == ("uuid-1", "uuid-1", True, False)
    monkeypatch.setenv("IDENTITY_CLAIM", "custom:employee_id")
    by_attribute = http.caller(event(claims=both))
    assert (by_attribute.id, by_attribute.subject) == ("john", "uuid-1")
    with pytest.raises(http.HttpError) as caught:  # no fallback to sub when the configured claim is missing
        http.caller(event(claims={"sub": "mike", "cognito:groups": "approver"}))
    assert caught.value.status == 401 and "custom:employee_id" in caught.value.message


@pytest.mark.parametrize("claims", [None, {}, {"sub": ""}, {"cognito:groups": "[admin]"}])
def test_no_usable_claims_is_401(claims: dict[str, Any] | None) -> None:
    with pytest.raises(http.HttpError) as caught:
        http.caller(event(claims=claims))
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")


def test_headers_are_case_insensitive() -> None:
    assert http.header(event(headers={"Idempotency-Key": "k"}), "idempotency-key") == "k"
    assert http.header(event(headers={"idempotency-key": "k"}), "Idempotency-Key") == "k"
    assert http.header(event(), "Idempotency-Key") is None


def test_stage_prefix_is_stripped_from_the_path() -> None:
    assert http.path(event(path="/dev/locations", stage="dev")) == "/locations"
    assert http.path(event(path="/locations", stage="$default")) == "/locations"
    assert http.path(event(path="/development/x", stage="dev")) == "/development/x"


def test_base64_body_is_decoded() -> None:
    raw = base64.b64encode(json.dumps({"name": "Zürich"}).encode()).decode()
    assert http.json_body(event(body=raw, isBase64Encoded=True)) == {"name": "Zürich"}


def test_empty_body_is_an_empty_object() -> None:
    assert http.json_body(event(body=None)) == {}
    assert http.json_body(event(body="  ")) == {}


@pytest.mark.parametrize(
    "body",
    ["{", "{'a': 1}", '{"a": NaN}', '{"a": Infinity}', '{"a": 1e400}', "[" * 5000 + "]" * 5000, "nul", '{"a": ' + "9" * 5000 + "}"],
)
def test_anything_but_strict_json_is_400_malformed_json(body: str) -> None:
    with pytest.raises(http.HttpError) as caught:
        http.json_body(event(body=body))
    assert (caught.value.status, caught.value.code, caught.value.field) == (400, "malformed_json", "body")


@pytest.mark.parametrize("body", ['{"name": "\\ud800"}', '{"name": "\ud800"}'])
def test_lone_surrogates_are_400_not_a_storage_failure_later(body: str) -> None:
    with pytest.raises(http.HttpError) as caught:
        http.json_body(event(body=body))
    assert (caught.value.status, caught.value.code) == (400, "malformed_json")


def test_invalid_base64_and_invalid_utf8_are_400() -> None:
    for raw in ("not base64!", base64.b64encode(b'{"a": "\xff"}').decode()):
        with pytest.raises(http.HttpError) as caught:
            http.json_body(event(body=raw, isBase64Encoded=True))
        assert caught.value.status == 400


def test_body_over_the_limit_is_413_even_when_base64_encoded() -> None:
    big = json.dumps({"name": "x" * http.MAX_BODY_BYTES})
    for ev in (event(body=big), event(body=base64.b64encode(big.encode()).decode(), isBase64Encoded=True)):
        with pytest.raises(http.HttpError) as caught:
            http.json_body(ev)
        assert (caught.value.status, caught.value.code) == (413, "payload_too_large")


def test_limit_counts_bytes_not_characters() -> None:
    body = json.dumps({"name": "é" * (http.MAX_BODY_BYTES // 2)}, ensure_ascii=False)  # 2 bytes per é
    assert len(body) < 2 * http.MAX_BODY_BYTES
    with pytest.raises(http.HttpError) as caught:
        http.json_body(event(body=body))
    assert caught.value.status == 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_non_json_content_type_is_415(content_type: str) -> None:
    with pytest.raises(http.HttpError) as caught:
        http.json_body(event(body="{}", headers={"Content-Type": content_type}))
    assert (caught.value.status, caught.value.code) == (415, "unsupported_media_type")


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"])
def test_json_content_types_are_accepted(content_type: str) -> None:
    assert http.json_body(event(body='{"a": 1}', headers={"content-type": content_type})) == {"a": 1}


def test_error_response_has_the_contract_shape() -> None:
    response = http.error_response(400, "invalid_request", "body.name is required", field="body.name")
    assert response["statusCode"] == 400
    assert response["headers"]["content-type"] == "application/json"
    assert json.loads(response["body"]) == {"error": {"code": "invalid_request", "message": "body.name is required", "field": "body.name"}}


def test_log_request_writes_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    http.log_request(event(), route="POST /locations", status=201, started=0.0, correlation="req-1")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert {k: record[k] for k in ("route", "status", "correlation_id")} == {
        "route": "POST /locations",
        "status": 201,
        "correlation_id": "req-1",
    }
    assert isinstance(record["latency_ms"], float)


# --- routes --------------------------------------------------------------------------------


def test_route_table_splits_into_commands_and_queries() -> None:
    assert {r.key for r in COMMAND_ROUTES} | {r.key for r in QUERY_ROUTES} == set(BY_KEY)
    assert all(r.method == "GET" for r in QUERY_ROUTES)
    assert len(BY_KEY) == len(ROUTES)


def test_match_uses_route_key_and_path_parameters_from_api_gateway() -> None:
    found = match(
        event(
            path="/locations/loc_1/employees", route_key="POST /locations/{location_id}/employees", path_parameters={"location_id": "loc_1"}
        ),
        ROUTES,
    )
    assert (found.route.handler, found.params) == ("add_employee", {"location_id": "loc_1"})


def test_match_falls_back_to_the_path_with_stage_and_url_encoding() -> None:
    found = match(event("GET", "/dev/streams/employee%23john/events", stage="dev"), ROUTES)
    assert (found.route.handler, found.params) == ("get_stream_events", {"stream_id": "employee#john"})


def test_bad_path_parameter_is_400_naming_it() -> None:
    with pytest.raises(http.HttpError) as caught:
        match(event(path="/locations/bad id!/employees"), ROUTES)
    assert (caught.value.status, caught.value.field) == (400, "path.location_id")
    assert "path.location_id" in caught.value.message


def test_unknown_path_is_404_and_wrong_method_is_405() -> None:
    with pytest.raises(http.HttpError) as not_found:
        match(event("POST", "/nowhere"), ROUTES)
    assert (not_found.value.status, not_found.value.code) == (404, "route_not_found")
    with pytest.raises(http.HttpError) as wrong_method:
        match(event("DELETE", "/locations"), ROUTES)
    assert (wrong_method.value.status, wrong_method.value.code) == (405, "method_not_allowed")


def test_commands_table_does_not_match_query_routes() -> None:
    with pytest.raises(http.HttpError) as caught:
        match(event("GET", "/employees/john/balance"), COMMAND_ROUTES)
    assert caught.value.status == 404


def test_query_params_are_coerced_and_validated_against_the_route() -> None:
    balance = BY_KEY["GET /employees/{employee_id}/balance"]
    ok = event("GET", "/employees/john/balance", queryStringParameters={"year": "2026", "leave_type": "PTO"})
    assert query_params(ok, balance) == {"year": 2026, "leave_type": "PTO"}
    for params, field in (({"year": "twenty"}, "query.year"), ({"year": "1800"}, "query.year"), ({"yaer": "2026"}, "query.yaer")):
        with pytest.raises(http.HttpError) as caught:
            query_params(event("GET", "/employees/john/balance", queryStringParameters=params), balance)
        assert (caught.value.status, caught.value.field) == (400, field)


def test_serve_maps_http_errors_and_bugs_and_logs_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    def dispatch(ev: Any, found: Match, correlation: str, log: dict[str, Any]) -> dict[str, Any]:
        if found.params["employee_id"] == "forbidden":
            raise http.HttpError(403, "forbidden", "not yours")
        if found.params["employee_id"] == "bug":
            raise KeyError("oops")
        log["rows"] = 1
        return http.json_response(200, {"who": found.params["employee_id"], "correlation": correlation})

    statuses = [serve(event("GET", f"/approvers/{who}/pending"), QUERY_ROUTES, dispatch) for who in ("mike", "forbidden", "bug")]
    assert [r["statusCode"] for r in statuses] == [200, 403, 500]
    assert json.loads(statuses[0]["body"]) == {"who": "mike", "correlation": "req-1"}
    assert json.loads(statuses[2]["body"])["error"] == {
        "code": "internal_error",
        "message": "unexpected error; quote the correlation id",
        "correlation_id": "req-1",
    }
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["route"], r["status"], r.get("error_code")) for r in logs] == [
        ("GET /approvers/{employee_id}/pending", 200, None),
        ("GET /approvers/{employee_id}/pending", 403, "forbidden"),
        ("GET /approvers/{employee_id}/pending", 500, "internal_error"),
    ]
    assert logs[0]["rows"] == 1 and "KeyError" in logs[2]["traceback"]
