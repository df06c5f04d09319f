"""Property-based API testing from our own OpenAPI document (schemathesis), on the local stack.

A bounded pass, small enough for the suite (about 20 s of requests on 2 busy cores): the
examples and fuzzing phases on every operation, then stateful sequences along the
document's links (create a location -> add an employee -> request leave -> approve ...),
all with a valid admin token and a fixed seed. Every check is on: no 5xx, status codes,
content types, headers and bodies as documented (the handlers' `Error` and the gateway's
`GatewayError` included), negative data rejected, positive data accepted, a request without
the token refused. The documented tool limitations (`schemathesis_run.EXCLUDED_CHECKS` and
the positive-data rejections the schema cannot express) are listed there with their reasons;
any other failure fails this test. Run with `-s` to see the counts;
`benchmarks/bench_schemathesis.py` runs a bigger pass (coverage phase included).

The pass sends a valid token with every request, so the gateway's own answers (401 without
a token, 404 for an unrouted method) reach schemathesis only through checks that look at
the status alone; the tests before it check those bodies against the document.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from schemathesis_run import run_pass

from local import LocalStack


def request(stack: LocalStack, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    url = urlsplit(stack.api_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(body) if body else None
    finally:
        connection.close()


@pytest.fixture(scope="module")
def document(local_stack: LocalStack) -> dict[str, Any]:
    status, _, doc = request(local_stack, "GET", "/openapi.json")
    assert status == 200
    return doc


def response_schema(doc: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    """The documented JSON schema of one response, as a standalone schema (components attached)."""
    response = doc["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return {**response["content"]["application/json"]["schema"], "components": doc["components"]}


def test_servers_is_the_configured_local_url_whatever_the_host_header_says(local_stack: LocalStack) -> None:
    for headers in ({}, {"Host": "evil.example"}, {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}):
        status, _, doc = request(local_stack, "GET", "/openapi.json", headers)
        assert status == 200 and [s["url"] for s in doc["servers"]] == [local_stack.api_url], headers


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PATCH", "DELETE"])
def test_a_method_no_route_declares_is_the_gateway_404_not_a_5xx(local_stack: LocalStack, document: dict[str, Any], method: str) -> None:
    status, headers, body = request(local_stack, method, "/locations")
    assert (status, body) == (404, {"message": "Not Found"})
    assert headers["content-type"] == "application/json"
    jsonschema.validate(body, {**document["components"]["schemas"]["GatewayError"]})


def test_gateway_answers_match_the_documented_responses(local_stack: LocalStack, document: dict[str, Any]) -> None:
    status, headers, body = request(local_stack, "GET", "/employees/ana/balance")
    assert (status, body) == (401, {"message": "Unauthorized"}) and "www-authenticate" in headers
    jsonschema.validate(body, response_schema(document, "/employees/{employee_id}/balance", "get", 401))
    token = {"Authorization": f"Bearer {local_stack.token('ana', ['admin'])}"}
    status, _, body = request(local_stack, "GET", "/employees/nobody-here/balance", token)
    assert status == 404 and set(body) == {"error"}  # the handler's unknown id: the other shape of the same response
    jsonschema.validate(body, response_schema(document, "/employees/{employee_id}/balance", "get", 404))


def test_a_bounded_schemathesis_pass_finds_nothing(local_stack: LocalStack, document: dict[str, Any]) -> None:
    declared = sum(1 for item in document["paths"].values() for method in item if method in {"get", "put", "post", "delete", "patch"})
    token = local_stack.token("ana", ["admin"])
    # one pass per phase, each with its own time: fuzzing and stateful run until their
    # max_time (max_examples does not end them), and a shared budget let the examples phase
    # use it all on a loaded machine, leaving fuzzing 0 cases
    examples = run_pass(local_stack.api_url, token, max_examples=2, max_time=60, phases=("examples",))
    fuzzing = run_pass(local_stack.api_url, token, max_examples=2, max_time=8, phases=("fuzzing",))
    stateful = run_pass(local_stack.api_url, token, max_examples=3, max_steps=5, max_time=7, phases=("stateful",))
    print(f"\n{examples.summary()}\n{fuzzing.summary()}\n{stateful.summary()}")
    for result in (examples, fuzzing, stateful):
        assert not result.errors, result.summary()
        assert not result.findings, result.summary()
        assert result.operations == declared and result.stop_reason in {"completed", "max_time"}
    assert examples.cases["examples"] > 0 and fuzzing.cases["fuzzing"] > 0
    assert examples.statuses[401] + fuzzing.statuses[401] > 0, "the missing-token check never ran"
    assert stateful.cases["stateful"] > 1 and sum(stateful.links.values()) > 0, "no stateful step followed a document link"
