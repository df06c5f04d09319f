"""The OpenAPI document: structurally valid, complete against API.md, refs resolve."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from leave_api import schemas
from leave_api.openapi import OPENAPI_VERSION, document
from leave_api.routes import ROUTES

API_MD = Path("/work/shared/API.md")
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
    assert API_MD.exists(), f"the API contract {API_MD} is missing: clone this repo with ../shared beside it"
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
        if path != "/openapi.json":
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


def test_error_responses_use_the_error_schema(doc: dict[str, Any]) -> None:
    for name, response in doc["components"]["responses"].items():
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, name
    assert doc["components"]["schemas"]["Error"] == schemas.ERROR


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


def test_server_url_is_added_when_given() -> None:
    assert document("https://api.example.com")["servers"] == [{"url": "https://api.example.com"}]


def test_document_passes_the_openapi_spec_validator(doc: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)
