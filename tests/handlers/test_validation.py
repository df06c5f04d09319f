"""The in-house JSON-Schema subset validator, cross-checked against `jsonschema` on the real schemas."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from acme_eventsourcing.runtime.validation import (
    FieldError,
    SchemaError,
    ValidationFailed,
    check_schema,
    coerce_query,
    errors,
    is_valid,
    validate,
)
from leave_api import schemas
from leave_api.api import ROUTES

REAL_SCHEMAS: dict[str, dict[str, Any]] = {
    name: value for name, value in vars(schemas).items() if name.isupper() and isinstance(value, dict) and "type" in value
}

# (schema name, document, valid?) - hand-picked edge cases of every keyword in use.
CASES: list[tuple[str, Any, bool]] = [
    ("CREATE_LOCATION", {"name": "Berlin"}, True),
    ("CREATE_LOCATION", {"name": ""}, False),
    ("CREATE_LOCATION", {"name": "   "}, False),
    ("CREATE_LOCATION", {"name": "x" * 200}, True),
    ("CREATE_LOCATION", {"name": "x" * 201}, False),
    ("CREATE_LOCATION", {"name": "Zürich 🏔"}, True),
    ("CREATE_LOCATION", {}, False),
    ("CREATE_LOCATION", {"name": "B", "extra": 1}, False),
    ("CREATE_LOCATION", [], False),
    ("CREATE_LOCATION", None, False),
    ("CREATE_LOCATION", {"name": 5}, False),
    ("ADD_EMPLOYEE", {"employee_id": "john", "name": "John"}, True),
    ("ADD_EMPLOYEE", {"employee_id": "john.doe@acme-1_x", "name": "John"}, True),
    ("ADD_EMPLOYEE", {"employee_id": "john#1", "name": "John"}, False),
    ("ADD_EMPLOYEE", {"employee_id": "jo hn", "name": "John"}, False),
    ("ADD_EMPLOYEE", {"employee_id": "x" * 64, "name": "John"}, True),
    ("ADD_EMPLOYEE", {"employee_id": "x" * 65, "name": "John"}, False),
    ("ADD_EMPLOYEE", {"employee_id": "", "name": "John"}, False),
    ("ADD_EMPLOYEE", {"employee_id": "jöhn", "name": "John"}, False),
    ("SET_POLICY", {"leave_type": "PTO", "days_per_year": 20, "max_rollover_days": 5}, True),
    ("SET_POLICY", {"leave_type": "PTO", "days_per_year": 20.5, "max_rollover_days": 0}, True),
    ("SET_POLICY", {"leave_type": "PTO", "days_per_year": 20.0, "max_rollover_days": 0.0}, True),
    ("SET_POLICY", {"leave_type": "PTO", "days_per_year": 20.25, "max_rollover_days": 5}, False),
    ("SET_POLICY", {"leave_type": "PTO", "days_per_year": -1, "max_rollover_days": 5}, False),
    ("SET_POLICY", {"leave_type": "PTO", "days_per_year": 366, "max_rollover_days": 5}, True),
    ("SET_POLICY", {"leave_type": "PTO", "days_per_year": 366.5, "max_rollover_days": 5}, False),
    ("SET_POLICY", {"leave_type": "PTO", "days_per_year": True, "max_rollover_days": 5}, False),
    ("SET_POLICY", {"leave_type": "PTO", "days_per_year": "20", "max_rollover_days": 5}, False),
    ("SET_POLICY", {"leave_type": "pto", "days_per_year": 20, "max_rollover_days": 5}, False),
    ("SET_POLICY", {"leave_type": "P", "days_per_year": 20, "max_rollover_days": 5}, False),
    ("SET_WORKING_WEEK", {"days": ["MON", "TUE", "WED", "THU"]}, True),
    ("SET_WORKING_WEEK", {"days": ["MON", "TUE", "MON"]}, False),
    ("SET_WORKING_WEEK", {"days": []}, False),
    ("SET_WORKING_WEEK", {"days": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]}, True),
    ("SET_WORKING_WEEK", {"days": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN", "MON"]}, False),
    ("SET_WORKING_WEEK", {"days": ["mon"]}, False),
    ("SET_WORKING_WEEK", {"days": "MON"}, False),
    ("SET_WORKING_WEEK", {"days": [1]}, False),
    ("REQUEST_LEAVE", {"leave_type": "PTO", "start": "2026-01-05", "end": "2026-01-09"}, True),
    ("REQUEST_LEAVE", {"leave_type": "PTO", "start": "2026-01-05", "end": "2026-01-09", "note": "ski"}, True),
    ("REQUEST_LEAVE", {"leave_type": "PTO", "start": "2026-02-30", "end": "2026-03-01"}, False),
    ("REQUEST_LEAVE", {"leave_type": "PTO", "start": "2026-1-5", "end": "2026-01-09"}, False),
    ("REQUEST_LEAVE", {"leave_type": "PTO", "start": "20260105", "end": "2026-01-09"}, False),
    ("REQUEST_LEAVE", {"leave_type": "PTO", "start": "2026-W02-1", "end": "2026-01-09"}, False),
    ("REQUEST_LEAVE", {"leave_type": "PTO", "start": "2026-01-05T00:00:00", "end": "2026-01-09"}, False),
    ("REQUEST_LEAVE", {"leave_type": "PTO", "start": "2024-02-29", "end": "2024-03-01"}, True),
    ("REQUEST_LEAVE", {"leave_type": "PTO", "start": 20260105, "end": "2026-01-09"}, False),
    ("REQUEST_LEAVE", {"leave_type": "PTO", "start": "2026-01-05", "end": "2026-01-09", "note": None}, False),
    ("REQUEST_LEAVE", {"leave_type": "PTO", "start": "2026-01-05", "end": "2026-01-09", "note": "n" * 1001}, False),
    ("APPROVE", {}, True),
    ("APPROVE", {"by": "mike"}, False),
    ("DENY", {"reason": "busy week"}, True),
    ("DENY", {"reason": 3}, False),
    ("ROLLOVER", {"from_year": 2025}, True),
    ("ROLLOVER", {"from_year": 2025.0}, True),
    ("ROLLOVER", {"from_year": 2025.5}, False),
    ("ROLLOVER", {"from_year": 1999}, False),
    ("ROLLOVER", {"from_year": "2025"}, False),
    ("ROLLOVER", {"from_year": False}, False),
    ("TRANSFER", {"to_location_id": "loc_2"}, True),
    ("TRANSFER", {"to_location_id": "loc_2", "effective_date": "2026-01-01"}, True),
    ("TRANSFER", {"to_location_id": "loc_2", "effective_date": "01/01/2026"}, False),
    ("BALANCE_QUERY", {}, True),
    ("BALANCE_QUERY", {"year": 2026, "leave_type": "PTO"}, True),
    ("BALANCE_QUERY", {"year": "2026"}, False),
    ("BALANCE_QUERY", {"yaer": 2026}, False),
    ("CALENDAR_QUERY", {"from": "2026-01-01", "to": "2026-12-31"}, True),
    ("CALENDAR_QUERY", {"from": "2026-13-01"}, False),
    ("PATH_REQUEST_ID", "john~3", True),
    ("PATH_REQUEST_ID", "john~03", False),
    ("PATH_REQUEST_ID", "john~0", False),
    ("PATH_REQUEST_ID", "john", False),
    ("PATH_STREAM_ID", "employee#john", True),
    ("PATH_STREAM_ID", "employee#", False),
    ("PATH_STREAM_ID", "#john", False),
    ("PATH_STREAM_ID", "slack-link#T0ACME:U0JOHN", True),
    ("PATH_STREAM_ID", "slack-link#T0ACME/U0JOHN", False),
    ("PATH_SLACK_ID", "U0JOHN", True),
    ("PATH_SLACK_ID", "u0john", False),
    ("PATH_SLACK_ID", "U", False),
    ("LINK_SLACK_USER", {"employee_id": "john"}, True),
    ("LINK_SLACK_USER", {"employee_id": "john", "team_id": "T0ACME"}, False),
    ("LINK_SLACK_USER", {}, False),
    ("UNLINK_SLACK_USER", {}, True),
    ("UNLINK_SLACK_USER", {"employee_id": "john"}, False),
    ("LEAVE_RECORDED", {"request_id": "john~3", "working_days": 4}, True),
    ("LEAVE_RECORDED", {"request_id": "john~3"}, False),
    ("ERROR", {"error": {"code": "invalid_request", "message": "body.name is required", "field": "body.name"}}, True),
    ("ERROR", {"error": {"code": "Invalid", "message": "m"}}, False),
    (
        "PENDING",
        {"items": [{"request_id": "john~3", "employee_id": "john", "start": "2026-01-05", "end": "2026-01-06", "working_days": 2}]},
        True,
    ),
    ("PENDING", {"items": [{"request_id": "john~3"}]}, False),
]

ALL_SCHEMAS = {
    **REAL_SCHEMAS,
    "PATH_REQUEST_ID": schemas.REQUEST_ID,
    "PATH_STREAM_ID": schemas.STREAM_ID,
    "PATH_SLACK_ID": schemas.SLACK_ID,
}


def reference_is_valid(document: Any, schema: dict[str, Any]) -> bool:
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return validator.is_valid(document)


@pytest.mark.parametrize("name", sorted(ALL_SCHEMAS))
def test_every_real_schema_uses_only_supported_keywords_and_is_valid_json_schema(name: str) -> None:
    check_schema(ALL_SCHEMAS[name])
    jsonschema.Draft202012Validator.check_schema(ALL_SCHEMAS[name])


@pytest.mark.parametrize(("name", "document", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_validator_agrees_with_jsonschema_on_hand_picked_documents(name: str, document: Any, expected: bool) -> None:
    schema = ALL_SCHEMAS[name]
    assert reference_is_valid(document, schema) is expected
    assert is_valid(document, schema) is expected


def _mutations(schema: dict[str, Any], valid: dict[str, Any]) -> list[Any]:
    """Documents derived from a valid one: each required field dropped, each field set to
    values of every JSON type, one unknown field added."""
    wrong_values = [None, True, 0, -1, 1.5, 10**6, "", "x", "2026-01-05", [], ["MON"], {}, {"a": 1}]
    found: list[Any] = []
    for name in schema.get("required", ()):
        found.append({k: v for k, v in valid.items() if k != name})
    for name in schema.get("properties", {}):
        for value in wrong_values:
            doc = copy.deepcopy(valid)
            doc[name] = value
            found.append(doc)
    found.append({**valid, "unexpected": 1})
    return found


VALID_BODIES: dict[str, dict[str, Any]] = {
    "CREATE_LOCATION": {"name": "Berlin"},
    "ADD_EMPLOYEE": {"employee_id": "john", "name": "John"},
    "ASSIGN_APPROVER": {"employee_id": "mike"},
    "SET_POLICY": {"leave_type": "PTO", "days_per_year": 20, "max_rollover_days": 5},
    "SET_WORKING_WEEK": {"days": ["MON", "TUE"]},
    "REQUEST_LEAVE": {"leave_type": "PTO", "start": "2026-01-05", "end": "2026-01-06", "note": "x"},
    "APPROVE": {},
    "DENY": {"reason": "no"},
    "CANCEL": {},
    "LINK_SLACK_USER": {"employee_id": "john"},
    "UNLINK_SLACK_USER": {},
    "ADD_PAST_LEAVE": {"leave_type": "PTO", "start": "2025-01-05", "end": "2025-01-06"},
    "TRANSFER": {"to_location_id": "loc_2"},
    "ROLLOVER": {"from_year": 2025},
    "CREATE_CALENDAR_FEED": {"scope": "location", "subject_id": "loc_1"},
    "ROTATE_CALENDAR_FEED": {},
    "REVOKE_CALENDAR_FEED": {},
    "BALANCE_QUERY": {"year": 2026, "leave_type": "PTO"},
    "CALENDAR_QUERY": {"from": "2026-01-01", "to": "2026-01-31"},
}


@pytest.mark.parametrize("name", sorted(VALID_BODIES))
def test_validator_agrees_with_jsonschema_on_systematic_mutations(name: str) -> None:
    schema = REAL_SCHEMAS[name]
    valid = VALID_BODIES[name]
    assert is_valid(valid, schema) and reference_is_valid(valid, schema)
    disagreements = [doc for doc in _mutations(schema, valid) if is_valid(doc, schema) != reference_is_valid(doc, schema)]
    assert disagreements == []


def test_every_command_route_has_a_valid_example_body() -> None:
    bodies = {id(REAL_SCHEMAS[name]): body for name, body in VALID_BODIES.items()}
    assert all(id(route.body) in bodies for route in ROUTES if route.body is not None)


def test_error_names_the_array_item() -> None:
    found = errors({"days": ["MON", "TUE", "XYZ"]}, schemas.SET_WORKING_WEEK)
    assert found == [FieldError("body.days[2]", "body.days[2] must be one of: MON, TUE, WED, THU, FRI, SAT, SUN")]


def test_error_names_the_duplicate_item_and_its_first_occurrence() -> None:
    found = errors({"days": ["MON", "TUE", "MON"]}, schemas.SET_WORKING_WEEK)
    assert found == [FieldError("body.days[2]", "body.days[2] duplicates body.days[0]")]


def test_errors_name_missing_unknown_and_mistyped_fields_in_a_stable_order() -> None:
    found = errors({"start": 5, "bogus": 1}, schemas.REQUEST_LEAVE)
    assert [e.field for e in found] == ["body.leave_type", "body.end", "body.start", "body.bogus"]
    assert [e.message for e in found] == [
        "body.leave_type is required",
        "body.end is required",
        "body.start must be a string",
        "body.bogus is not allowed (unknown field)",
    ]


def test_odd_property_names_are_quoted_in_the_path() -> None:
    found = errors({"name": "x", "a b": 1}, schemas.CREATE_LOCATION)
    assert found[0].field == 'body["a b"]'


def test_bad_date_message_says_the_expected_format() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate({"leave_type": "PTO", "start": "2026-02-30", "end": "2026-03-01"}, schemas.REQUEST_LEAVE)
    assert str(caught.value) == "body.start must be a date YYYY-MM-DD"
    assert caught.value.errors[0].field == "body.start"


def test_where_prefix_names_the_part_of_the_request() -> None:
    assert errors("x y", schemas.ID, "path.location_id")[0].message.startswith("path.location_id does not match")


def test_dollar_anchor_does_not_accept_a_trailing_newline() -> None:
    # Deliberately stricter than jsonschema (Python's `$`): ECMA-262 semantics.
    assert not is_valid("john\n", schemas.ID)
    assert is_valid("john", schemas.ID)


def test_patterns_treat_digits_as_ascii_only() -> None:
    assert not is_valid("john~\u0663", schemas.REQUEST_ID)  # ARABIC-INDIC DIGIT THREE


def test_integral_floats_count_as_integers_like_json_schema_says() -> None:
    assert is_valid(2025.0, schemas.YEAR)
    assert not is_valid(2025.5, schemas.YEAR)
    assert not is_valid(True, schemas.YEAR)


def test_multiple_of_a_float_is_checked_exactly_for_big_numbers() -> None:
    schema = {"type": "number", "multipleOf": 0.5}
    assert is_valid(1e308, schema) == reference_is_valid(1e308, schema)
    assert not is_valid(0.3, schema)


def test_unique_items_distinguishes_true_from_one_but_not_one_from_one_point_zero() -> None:
    schema = {"type": "array", "uniqueItems": True}
    for doc in ([1, True], [1, 1.0], [[1], [1.0]], [{"a": 1}, {"a": True}], [0, False], ["1", 1]):
        assert is_valid(doc, schema) == reference_is_valid(doc, schema), doc


def test_additional_properties_schema_validates_extra_values() -> None:
    schema = {"type": "object", "properties": {}, "additionalProperties": {"type": "integer"}}
    assert errors({"a": 1, "b": "x"}, schema) == [FieldError("body.b", "body.b must be an integer")]


def test_error_list_is_capped() -> None:
    schema = {"type": "array", "items": {"type": "string"}}
    assert len(errors(list(range(100)), schema, limit=5)) == 5


@pytest.mark.parametrize(
    "bad",
    [
        {"oneOf": []},
        {"type": "object", "patternProperties": {}},
        {"format": "email"},
        {"type": "date"},
        {"pattern": "("},
        {"properties": {"a": {"$ref": "#/x"}}},
        {"items": [{"type": "string"}]},
    ],
)
def test_check_schema_rejects_what_the_validator_would_ignore(bad: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        check_schema(bad)


def test_coerce_query_turns_integer_text_into_ints_and_leaves_the_rest_for_the_schema() -> None:
    coerced = coerce_query({"year": "2026", "leave_type": "PTO"}, schemas.BALANCE_QUERY)
    assert coerced == {"year": 2026, "leave_type": "PTO"}
    assert errors(coerce_query({"year": "20x6"}, schemas.BALANCE_QUERY), schemas.BALANCE_QUERY, "query") == [
        FieldError("query.year", "query.year must be an integer")
    ]
