"""`http.json_body` rejects a JSON object that repeats a key (issue 8, point 9).

`json.loads` keeps the last value of a repeated key; other parsers keep the first or fail,
so `{"employee_id": "ana", "employee_id": "admin"}` would mean different things to a proxy,
a log reader and the handler. The body is refused with a 400 naming the key instead.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from acme_eventsourcing.runtime import http
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from hypothesis import given
from hypothesis import strategies as st
from leave_api.commands import make_app


def event(body: str, method: str = "POST", path: str = "/locations", claims: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "headers": {"content-type": "application/json"},
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "http": {"method": method, "path": path},
            "requestId": "req-1",
            "stage": "$default",
            "authorizer": {"jwt": {"claims": claims or {"sub": "ana", "cognito:groups": "[admin]"}, "scopes": None}},
        },
    }


def rejected(body: str) -> http.HttpError:
    with pytest.raises(http.HttpError) as caught:
        http.json_body(event(body))
    return caught.value


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('{"name": "a", "name": "b"}', "name"),
        ('{"name": "a", "name": "a"}', "name"),  # even with the same value: the text is ambiguous
        ('{"days": [{"x": 1, "x": 2}]}', "x"),  # nested in an array
        ('{"outer": {"inner": 1, "inner": 1}}', "inner"),  # nested in an object
        ('{"a": 1, "\\u0061": 2}', "a"),  # the same key once decoded
    ],
)
def test_a_repeated_key_is_400_naming_the_key(body: str, key: str) -> None:
    error = rejected(body)
    assert (error.status, error.code, error.field) == (400, "malformed_json", "body")
    assert f'"{key}"' in error.message


def test_distinct_keys_and_equal_keys_in_different_objects_are_fine() -> None:
    assert http.json_body(event('{"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 3}, {"x": 4}]}')) == {
        "a": {"x": 1},
        "b": {"x": 2},
        "c": [{"x": 3}, {"x": 4}],
    }


@given(
    st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=5) | st.booleans(), min_size=1, max_size=6),
    st.data(),
)
def test_repeating_any_key_of_any_object_is_rejected(obj: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(obj)))
    pairs = [json.dumps(k) + ":" + json.dumps(v) for k, v in obj.items()]
    repeated = data.draw(st.integers(0, len(pairs)))
    pairs.insert(repeated, json.dumps(key) + ":" + json.dumps(data.draw(st.integers())))
    error = rejected("{" + ",".join(pairs) + "}")
    assert error.status == 400 and json.dumps(key, ensure_ascii=False)[:80] in error.message
    assert http.json_body(event(json.dumps(obj))) == obj  # the object itself is accepted


class RecordingStore(InMemoryEventStore):
    def __init__(self) -> None:
        super().__init__()
        self.appends = 0

    def append(self, *args: Any, **kwargs: Any) -> Any:
        self.appends += 1
        return super().append(*args, **kwargs)


def test_the_commands_handler_answers_400_and_appends_nothing() -> None:
    store = RecordingStore()
    response = make_app(store)(event('{"name": "Berlin", "name": "Paris"}'))
    assert response["statusCode"] == 400
    error = json.loads(response["body"])["error"]
    assert (error["code"], error["field"]) == ("malformed_json", "body")
    assert '"name"' in error["message"]
    assert store.appends == 0
    assert make_app(store)(event('{"name": "Berlin"}'))["statusCode"] == 201 and store.appends == 1
