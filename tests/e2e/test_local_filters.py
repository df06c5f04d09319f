"""The event-pattern matcher the local stack uses for event source mapping filters."""

from __future__ import annotations

import pytest
from acme_eventsourcing.local.filters import Pattern, UnsupportedPatternError, matches_any

PUBLISHER_FILTER = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"record_type": {"S": ["event"]}}}}


def _record(event_name: str, record_type: str) -> dict:
    return {"eventName": event_name, "dynamodb": {"NewImage": {"record_type": {"S": record_type}, "version": {"N": "1"}}}}


def test_publisher_filter_passes_event_inserts_only() -> None:
    pattern = Pattern.parse(PUBLISHER_FILTER)
    assert pattern.matches(_record("INSERT", "event"))
    assert not pattern.matches(_record("INSERT", "idempotency"))
    assert not pattern.matches(_record("MODIFY", "event"))
    assert not pattern.matches({"eventName": "INSERT", "dynamodb": {}})


def test_no_filters_match_everything_and_any_filter_is_enough() -> None:
    first, second = Pattern.parse({"a": ["x"]}), Pattern.parse({"b": ["y"]})
    assert matches_any((), {"anything": 1})
    assert matches_any((first, second), {"b": "y"})
    assert not matches_any((first, second), {"a": "y", "b": "x"})


@pytest.mark.parametrize(
    ("matcher", "value", "expected"),
    [
        ({"prefix": "Leave"}, "LeaveApproved", True),
        ({"prefix": "Leave"}, "PastLeaveAdded", False),
        ({"prefix": {"equals-ignore-case": "leave"}}, "LeaveApproved", True),
        ({"suffix": "Added"}, "PastLeaveAdded", True),
        ({"equals-ignore-case": "insert"}, "INSERT", True),
        ({"wildcard": "Leave*ed"}, "LeaveApproved", True),
        ({"wildcard": "Leave*ed"}, "LeaveApprover", False),
        ({"anything-but": ["REMOVE", "MODIFY"]}, "INSERT", True),
        ({"anything-but": "INSERT"}, "INSERT", False),
        ({"anything-but": {"prefix": "idem"}}, "idempotency", False),
        ({"numeric": [">", 0, "<=", 5]}, 5, True),
        ({"numeric": [">", 0, "<=", 5]}, 6, False),
        ({"numeric": ["=", 5]}, "5", False),
        ({"cidr": "10.0.0.0/8"}, "10.1.2.3", True),
        ("5", 5, False),
        (5, 5.0, True),
        (True, True, True),
        (None, None, True),
    ],
)
def test_operators(matcher: object, value: object, expected: bool) -> None:
    assert Pattern.parse({"field": [matcher]}).matches({"field": value}) is expected


def test_exists_and_missing_fields() -> None:
    assert Pattern.parse({"a": [{"exists": False}]}).matches({"b": 1})
    assert not Pattern.parse({"a": [{"exists": True}]}).matches({"b": 1})
    assert not Pattern.parse({"a": [{"anything-but": "x"}]}).matches({"b": 1})


def test_arrays_match_when_any_element_matches() -> None:
    pattern = Pattern.parse({"tags": ["red"], "items": {"kind": ["a"]}})
    assert pattern.matches({"tags": ["blue", "red"], "items": [{"kind": "b"}, {"kind": "a"}]})
    assert not pattern.matches({"tags": ["blue"], "items": [{"kind": "a"}]})


def test_or_combines_alternatives() -> None:
    pattern = Pattern.parse({"$or": [{"a": ["1"]}, {"b": ["2"]}]})
    assert pattern.matches({"b": "2"}) and not pattern.matches({"a": "2"})


@pytest.mark.parametrize(
    "pattern",
    [{"a": [{"regex": ".*"}]}, {"a": []}, {"a": "x"}, {"a": [{"numeric": [">"]}]}, {"a": [{"prefix": 1}]}, "[]"],
)
def test_unsupported_or_malformed_patterns_fail_loudly(pattern: object) -> None:
    with pytest.raises(UnsupportedPatternError):
        Pattern.parse(pattern)  # type: ignore[arg-type]
