"""Events: JSON-safe round trips, the catalogue of types, tolerant parsing; request ids."""

from __future__ import annotations

import json
from datetime import date

import pytest
from leave import events as ev
from leave.ids import employee_stream_id, location_stream_id, make_request_id, parse_request_id, rollover_stream_id
from leave.record import record_fields

D1, D2 = date(2026, 2, 2), date(2026, 2, 6)
LEAVE_FACTS = {"leave_type": "PTO", "start": D1, "end": D2, "working_days": 5}
SAMPLES: list[ev.Event] = [
    ev.LocationRegistered(location_id="loc_a", name="Belgrade"),
    ev.LocationCreated(location_id="loc_a", name="Belgrade"),
    ev.EmployeeAddedToLocation(location_id="loc_b", employee_id="john", name="John", effective_on=D1, from_location_id="loc_a"),
    ev.EmployeeLeftLocation(location_id="loc_a", employee_id="john", effective_on=D1, to_location_id="loc_b"),
    ev.ApproverAssigned(location_id="loc_a", approver_id="mike", previous_approver_id="sara"),
    ev.ApproverUnassigned(location_id="loc_a", approver_id="mike"),
    ev.LeavePolicyAssigned(location_id="loc_a", leave_type="PTO", days_per_year=20, max_rollover_days=2.5, effective_on=D1),
    ev.EmployeeJoined(employee_id="john", name="John", location_id="loc_a", effective_on=D1),
    ev.WorkingWeekChanged(employee_id="john", days=("MON", "TUE", "WED", "THU")),
    ev.LeaveRequested(
        employee_id="john",
        request_id="john~2",
        location_id="loc_a",
        approver_id=None,
        leave_type="PTO",
        start=D1,
        end=D2,
        working_days=5,
        note="ski",
    ),
    ev.LeaveApproved(employee_id="john", request_id="john~2", approved_by="mike", leave_type="PTO", start=D1, end=D2, working_days=5),
    ev.LeaveDenied(
        employee_id="john", request_id="john~2", denied_by="mike", leave_type="PTO", start=D1, end=D2, working_days=5, reason="busy"
    ),
    ev.LeaveCancelled(
        employee_id="john",
        request_id="john~2",
        cancelled_by="john",
        previous_status="pending",
        leave_type="PTO",
        start=D1,
        end=D2,
        working_days=5,
    ),
    ev.PastLeaveAdded(
        employee_id="john",
        request_id="john~3",
        location_id="loc_a",
        added_by="mike",
        leave_type="PTO",
        start=D1,
        end=D2,
        working_days=5,
    ),
    ev.EmployeeTransferred(
        employee_id="john",
        from_location_id="loc_a",
        to_location_id="loc_b",
        effective_on=D1,
        approver_id="sara",
        pending_request_ids=("john~2", "john~4"),
    ),
    ev.LeaveRolledOver(employee_id="john", leave_type="PTO", from_year=2025, to_year=2026, days=4.5),
    ev.ApprovalReminderSent(
        employee_id="john", request_id="john~2", location_id="loc_a", approver_id="mike", working_days_pending=2, **LEAVE_FACTS
    ),
    ev.ApprovalEscalated(
        employee_id="john", request_id="john~2", location_id="loc_a", approver_id=None, working_days_pending=5, **LEAVE_FACTS
    ),
    ev.RolloverCompleted(from_year=2025, to_year=2026, employees=3, employees_rolled_over=2),
    ev.CalendarFeedCreated(feed_id="feed_1", scope="location", subject_id="loc_a", owner_id="john", token_sha256="ab" * 32),
    ev.CalendarFeedTokenRotated(feed_id="feed_1", token_sha256="cd" * 32, rotated_by="john"),
    ev.CalendarFeedRevoked(feed_id="feed_1", revoked_by="ana"),
    ev.SlackUserLinked(team_id="T0ACME", slack_user_id="U0JOHN", employee_id="john"),
    ev.SlackUserUnlinked(team_id="T0ACME", slack_user_id="U0JOHN", employee_id="john"),
]


def test_samples_cover_every_event_type() -> None:
    assert sorted(e.event_type for e in SAMPLES) == sorted(ev.ALL_EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.event_type)
def test_event_round_trips_through_json(event: ev.Event) -> None:
    data = json.loads(json.dumps(event.to_data()))
    assert ev.parse_event(event.event_type, data) == event


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.event_type)
def test_event_data_holds_only_json_scalars_and_lists(event: ev.Event) -> None:
    def plain(value: object) -> bool:
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, float))

    data = event.to_data()
    assert set(data) == set(record_fields(event))
    assert all(plain(v) for v in data.values())


def test_dates_are_iso_strings_and_whole_day_counts_are_ints() -> None:
    data = ev.LeavePolicyAssigned(location_id="a", leave_type="PTO", days_per_year=20.0, max_rollover_days=2.5, effective_on=D1).to_data()
    assert data["effective_on"] == "2026-02-02"
    assert data["days_per_year"] == 20 and isinstance(data["days_per_year"], int)
    assert data["max_rollover_days"] == 2.5


def test_event_type_is_the_class_name() -> None:
    assert all(type(e).__name__ == e.event_type for e in SAMPLES)
    assert ev.event_class("LeaveRequested") is ev.LeaveRequested


def test_each_event_names_its_stream() -> None:
    by_type = {e.event_type: e for e in SAMPLES}
    assert by_type["LocationCreated"].stream_id == location_stream_id("loc_a") == "location#loc_a"
    assert by_type["LeaveRequested"].stream_id == employee_stream_id("john") == "employee#john"
    assert by_type["LocationRegistered"].stream_id == "directory#locations"
    assert by_type["RolloverCompleted"].stream_id == rollover_stream_id(2025) == "rollover#2025"
    assert by_type["ApprovalReminderSent"].stream_id == by_type["ApprovalEscalated"].stream_id == "employee#john"
    assert by_type["SlackUserLinked"].stream_id == by_type["SlackUserUnlinked"].stream_id == "slack-link#T0ACME:U0JOHN"
    assert {e.stream_id.split("#")[0] for e in SAMPLES if e.event_type in ev.LOCATION_EVENT_TYPES} == {"location"}
    assert {e.stream_id.split("#")[0] for e in SAMPLES if e.event_type in ev.EMPLOYEE_EVENT_TYPES} == {"employee"}


def test_catalogue_lists_each_type_once_and_projections_follow_whole_streams() -> None:
    assert len(set(ev.ALL_EVENT_TYPES)) == len(ev.ALL_EVENT_TYPES) == 24
    for projection in (ev.BALANCE_EVENT_TYPES, ev.PENDING_EVENT_TYPES):
        assert set(projection) == set(ev.EMPLOYEE_EVENT_TYPES) | set(ev.LOCATION_EVENT_TYPES)
    # the calendar also maps feed tokens: it follows the calendar-feed streams whole
    assert set(ev.CALENDAR_EVENT_TYPES) == set(ev.EMPLOYEE_EVENT_TYPES) | set(ev.LOCATION_EVENT_TYPES) | set(ev.CALENDAR_FEED_EVENT_TYPES)
    assert ev.AUDIT_EVENT_TYPES == ev.ALL_EVENT_TYPES
    assert ev.NOTIFICATION_EVENT_TYPES == (
        "LeaveRequested",
        "LeaveApproved",
        "LeaveDenied",
        "LeaveCancelled",
        "ApprovalReminderSent",
        "ApprovalEscalated",
    )
    assert ev.ROLLOVER_EVENT_TYPES == ("RolloverCompleted",) and set(ev.ROLLOVER_EVENT_TYPES) <= set(ev.AUDIT_EVENT_TYPES)
    assert ev.SLACK_LINK_EVENT_TYPES == ("SlackUserLinked", "SlackUserUnlinked") and set(ev.SLACK_LINK_EVENT_TYPES) <= set(
        ev.AUDIT_EVENT_TYPES
    )


def test_parsing_ignores_unknown_keys_and_defaults_missing_optional_fields() -> None:
    data = {**SAMPLES[9].to_data(), "added_in_v2": True}
    del data["note"]
    parsed = ev.parse_event("LeaveRequested", data)
    assert isinstance(parsed, ev.LeaveRequested) and parsed.note == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"start": None}, "start"),
        ({"start": "2026-02-30"}, "start"),
        ({"working_days": "5"}, "working_days"),
        ({"working_days": True}, "working_days"),
        ({"employee_id": 7}, "employee_id"),
    ],
)
def test_parsing_rejects_malformed_fields_naming_them(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ev.parse_event("LeaveRequested", {**SAMPLES[9].to_data(), **change})


def test_parsing_rejects_a_missing_required_field() -> None:
    data = SAMPLES[9].to_data()
    del data["request_id"]
    with pytest.raises(ValueError, match="request_id"):
        ev.parse_event("LeaveRequested", data)


def test_parsing_rejects_a_list_field_given_as_a_string() -> None:
    with pytest.raises(ValueError, match="days"):
        ev.parse_event("WorkingWeekChanged", {"employee_id": "john", "days": "MON"})


def test_parsing_an_unknown_event_type_raises() -> None:
    with pytest.raises(ev.UnknownEventType, match="Nope"):
        ev.parse_event("Nope", {})


def test_number_is_int_when_whole() -> None:
    assert ev.number(20.0) == 20 and isinstance(ev.number(20.0), int)
    assert ev.number(12.5) == 12.5
    assert ev.number(3) == 3


def test_request_id_round_trips_and_names_the_employee_stream() -> None:
    assert make_request_id("john.doe@acme", 7) == "john.doe@acme~7"
    assert parse_request_id("john.doe@acme~7") == ("john.doe@acme", 7)


@pytest.mark.parametrize("bad", ["john", "john~", "~3", "john~0", "john~03", "john~x", "john~-1", "john~３"])
def test_parse_request_id_rejects_what_make_request_id_never_makes(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_request_id(bad)
