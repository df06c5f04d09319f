"""The OpenAPI document: structurally valid, complete against API.md, refs resolve."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from leave_api import schemas
from leave_api.api import ROUTES
from leave_api.openapi import ERROR_RESPONSES, GATEWAY_STATUSES, LINKS, OPENAPI_VERSION, configured_server_url, document

REPOSITORY = Path(__file__).resolve().parents[2]
SHARED = REPOSITORY.parent / "shared"  # the contract lives beside the repository, in ../shared
API_MD = SHARED / "API.md"
CONTRACT_ROUTES = {
    ("POST", "/locations"),
    ("POST", "/locations/{location_id}/employees"),
    ("PUT", "/locations/{location_id}/approver"),
    ("PUT", "/locations/{location_id}/policy"),
    ("PUT", "/employees/{employee_id}/working-week"),
    ("POST", "/employees/{employee_id}/leave-requests"),
    ("POST", "/leave-requests/{request_id}/approve"),
    ("POST", "/leave-requests/{request_id}/deny"),
    ("POST", "/leave-requests/{request_id}/cancel"),
    ("POST", "/employees/{employee_id}/past-leaves"),
    ("POST", "/employees/{employee_id}/transfer"),
    ("POST", "/rollovers"),
    ("GET", "/employees/{employee_id}/balance"),
    ("GET", "/approvers/{employee_id}/pending"),
    ("GET", "/locations/{location_id}/calendar"),
    ("GET", "/streams/{stream_id}/events"),
    ("GET", "/openapi.json"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_document_declares_openapi_3_with_info(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == OPENAPI_VERSION and re.fullmatch(r"3\.[01]\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]


def test_every_route_of_api_md_is_present_with_its_method(doc: dict[str, Any]) -> None:
    documented = {(method, path) for method, path, _ in operations(doc)}
    assert documented >= CONTRACT_ROUTES


def test_contract_table_in_this_test_matches_api_md() -> None:
    assert API_MD.is_file(), f"the API contract {API_MD} is missing: ../shared must sit beside the repository {REPOSITORY}"
    found = set(re.findall(r"^\| `(GET|POST|PUT|DELETE|PATCH) ([^`?]+)", API_MD.read_text(), flags=re.M))
    assert found == CONTRACT_ROUTES


def test_document_and_route_table_list_the_same_operations(doc: dict[str, Any]) -> None:
    assert {(m, p) for m, p, _ in operations(doc)} == {(r.method, r.path) for r in ROUTES}


def test_every_operation_has_an_id_a_success_and_error_responses(doc: dict[str, Any]) -> None:
    ids = []
    for method, path, operation in operations(doc):
        ids.append(operation["operationId"])
        statuses = set(operation["responses"])
        assert any(s.startswith("2") for s in statuses), (method, path)
        assert "500" in statuses, (method, path)
        if operation.get("security") != []:  # public operations (the published documents, a calendar feed) take no token
            assert {"400", "401"} <= statuses, (method, path)
    assert len(ids) == len(set(ids))


def test_writes_document_their_body_the_idempotency_key_and_every_error_status_of_the_contract(doc: dict[str, Any]) -> None:
    for method, path, operation in operations(doc):
        if method == "GET":
            continue
        assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert {"$ref": "#/components/parameters/IdempotencyKey"} in operation["parameters"]
        assert {"400", "401", "403", "409", "413", "415", "422"} <= set(operation["responses"]), path


def test_every_path_parameter_is_declared(doc: dict[str, Any]) -> None:
    for method, path, operation in operations(doc):
        declared = {
            resolve(doc, p["$ref"])["name"] if "$ref" in p else p["name"]
            for p in operation.get("parameters", [])
            if (resolve(doc, p["$ref"]) if "$ref" in p else p)["in"] == "path"
        }
        assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path)


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    found = list(refs(doc))
    assert found
    for ref in found:
        assert resolve(doc, ref) is not None


def test_bearer_jwt_is_the_default_security_and_the_document_itself_is_public(doc: dict[str, Any]) -> None:
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []


def shapes(doc: dict[str, Any], response: dict[str, Any]) -> set[str]:
    """The component schemas a (possibly $ref'd) response's JSON body may have."""
    if "$ref" in response:
        response = resolve(doc, response["$ref"])
    schema = response["content"]["application/json"]["schema"]
    return {ref.rsplit("/", 1)[1] for ref in refs(schema)}


def test_error_responses_declare_the_handler_and_the_gateway_shapes_they_can_carry(doc: dict[str, Any]) -> None:
    assert doc["components"]["schemas"]["Error"] == schemas.ERROR
    gateway = doc["components"]["schemas"]["GatewayError"]
    jsonschema.validate({"message": "Unauthorized"}, gateway)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"error": {"code": "x", "message": "y"}}, gateway)
    expected = {
        "400": {"Error"},
        "401": {"Error", "GatewayError"},  # the JWT authorizer; a verified token naming nobody
        "403": {"Error"},  # no route declares scopes, so the gateway never answers 403
        "404": {"Error", "GatewayError"},  # unknown id; no route
        "409": {"Error"},
        "413": {"Error", "GatewayError"},  # over 16 KB (handler); over 10 MB (gateway)
        "415": {"Error"},
        "422": {"Error"},
        "429": {"GatewayError"},  # stage throttling
        "500": {"Error", "GatewayError"},  # internal_error; the function crashed or timed out
    }
    for method, path, operation in operations(doc):
        for status, response in operation["responses"].items():
            if status[0] in "45":  # 304 has no body
                assert shapes(doc, response) == expected[status], (method, path, status)
    assert {str(status) for status in ERROR_RESPONSES} == set(expected)


def test_every_operation_declares_what_the_gateway_may_answer_on_any_route(doc: dict[str, Any]) -> None:
    for method, path, operation in operations(doc):
        assert {str(s) for s in GATEWAY_STATUSES} <= set(operation["responses"]), (method, path)
        if operation.get("security") != []:
            assert "WWW-Authenticate" in resolve(doc, operation["responses"]["401"]["$ref"])["headers"]


def test_the_local_gateway_answers_are_gateway_errors(doc: dict[str, Any]) -> None:
    from acme_eventsourcing.local.http_api import _message

    for status in (401, 404, 413, 500):
        _, headers, body = _message(status, "x", [])
        assert ("content-type", "application/json") in headers
        jsonschema.validate(json.loads(body), doc["components"]["schemas"]["GatewayError"])


def test_published_schemas_are_the_ones_the_handlers_validate_with(doc: dict[str, Any]) -> None:
    for route in ROUTES:
        if route.body is not None:
            ref = doc["paths"][route.path][route.method.lower()]["requestBody"]["content"]["application/json"]["schema"]
            assert resolve(doc, ref["$ref"]) == route.body


def test_every_component_schema_is_valid_json_schema(doc: dict[str, Any]) -> None:
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_body_limit_is_documented(doc: dict[str, Any]) -> None:
    assert "16384 bytes" in doc["components"]["responses"]["PayloadTooLarge"]["description"]


def test_document_is_a_fresh_copy_each_time() -> None:
    first = document()
    first["paths"].clear()
    assert document()["paths"]


def test_servers_is_the_configured_url_or_the_relative_root() -> None:
    assert document("https://api.example.com/")["servers"][0]["url"] == "https://api.example.com"
    assert document()["servers"][0]["url"] == "/"
    assert document("")["servers"][0]["url"] == "/"


def test_the_server_url_is_read_from_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_URL", "https://abc.execute-api.eu-west-1.amazonaws.com")
    assert configured_server_url() == "https://abc.execute-api.eu-west-1.amazonaws.com"
    monkeypatch.setenv("API_URL", " ")
    assert configured_server_url() is None
    monkeypatch.delenv("API_URL")
    assert configured_server_url() is None


def test_links_name_existing_operations_parameters_and_answer_fields(doc: dict[str, Any]) -> None:
    by_id = {operation["operationId"]: (method, path, operation) for method, path, operation in operations(doc)}
    count = 0
    for source, targets in LINKS.items():
        method, path, operation = by_id[source]
        success = next(r for s, r in operation["responses"].items() if s.startswith("2"))
        answer = resolve(doc, success["content"]["application/json"]["schema"]["$ref"])
        assert set(success["links"]) == set(targets), source
        for name, link in success["links"].items():
            _, target_path, _ = by_id[link["operationId"]]
            for parameter, expression in link["parameters"].items():
                assert f"{{{parameter}}}" in target_path, (source, name, parameter)
                field = re.fullmatch(r"\$response\.body#/(\w+)", expression)
                assert field and field[1] in answer["required"], (source, name, expression)
                count += 1
    assert count >= 10


def test_document_passes_the_openapi_spec_validator(doc: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)


def test_read_model_queries_document_their_etag_and_304() -> None:
    doc = document()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            conditional = method == "get" and operation.get("security") != []
            names = {p.get("name") for p in operation.get("parameters", [])}
            assert ("If-None-Match" in names) == conditional, (method, path)
            assert ("304" in operation["responses"]) == conditional, (method, path)
            if conditional:
                assert "ETag" in operation["responses"]["200"]["headers"], (method, path)
