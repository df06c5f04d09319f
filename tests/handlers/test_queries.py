"""The queries handler on the story's read models: every route, 401/403/404/400, iCalendar."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from acme_eventsourcing.runtime.handler import ConfigurationError, LambdaHandler
from acme_eventsourcing.runtime.projections import InMemoryReadModelStore
from acme_eventsourcing.runtime.validation import errors as schema_errors
from leave_api import queries
from leave_api.api import BY_KEY
from leave_api.queries import QueriesApp, wants_icalendar
from leave_projections.rebuild import PROJECTIONS

from tests.unit.projections.projection_story import Story, play_story
from tests.unit.projections.test_story_projections import project

TODAY = date(2026, 6, 1)
ADMIN = {"sub": "ana", "cognito:groups": "[admin]"}


class StoreReader:
    """`ReadModelReader` over the in-memory read-model stores of the projections."""

    def __init__(self, stores: dict[str, InMemoryReadModelStore]) -> None:
        self._stores = stores

    def get(self, projection: str, pk: str, sk: str) -> dict[str, Any] | None:
        row = self._stores[projection].get(pk, sk)
        return None if row is None else dict(row.doc)

    def query(self, projection: str, pk: str, sk_from: str = "") -> list[dict[str, Any]]:
        return [dict(r.doc) for r in self._stores[projection].query(pk) if r.sk >= sk_from]

    def checkpoints(self, projection: str, stream_ids: list[str]) -> dict[str, dict[str, Any]]:
        states = {s: self._stores[projection].checkpoint_state(s) for s in stream_ids}
        return {s: {"version": state.version, "stuck": state.stuck} for s, state in states.items()}


@pytest.fixture(scope="module")
def story() -> Story:
    return play_story()


@pytest.fixture(scope="module")
def app(story: Story) -> QueriesApp:
    stores = {name: project(p, story, story.all_events()) for name, p in PROJECTIONS.items()}
    return QueriesApp(StoreReader(stores), today=lambda: TODAY)


def request(
    path: str,
    claims: dict[str, Any] | None,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> dict[str, Any]:
    authorizer = {"authorizer": {"jwt": {"claims": claims}}} if claims is not None else {}
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "queryStringParameters": query,
        "headers": headers or {},
        "requestContext": {"http": {"method": method, "path": path}, "requestId": "req-1", "stage": "$default", **authorizer},
    }


def call(app: QueriesApp, path: str, who: str | dict[str, Any] | None, **kwargs: Any) -> tuple[int, Any]:
    claims = {"sub": who} if isinstance(who, str) else who
    response = app(request(path, claims, **kwargs))
    body = response["body"]
    if response["headers"]["content-type"].startswith("application/json"):
        body = json.loads(body)
    return response["statusCode"], body


def assert_error(result: tuple[int, Any], status: int, field: str | None = None) -> None:
    assert result[0] == status, result
    assert set(result[1]) == {"error"} and {"code", "message"} <= set(result[1]["error"])
    if field is not None:
        assert result[1]["error"]["field"] == field


def assert_matches_contract(route_key: str, body: Any) -> None:
    assert schema_errors(body, BY_KEY[route_key].response, "response") == []


# --- balance -------------------------------------------------------------------------------------

BALANCE = "GET /employees/{employee_id}/balance"


def test_the_employee_reads_their_balance_for_this_year_by_default(app):
    status, body = call(app, "/employees/john/balance", "john")
    assert status == 200
    assert body == {
        "employee_id": "john",
        "year": 2026,
        "leave_type": "PTO",
        "allowance": 24,
        "rolled_over": 5,
        "used": 1,
        "pending": 6,
        "remaining": 22,
        "rolled_out": 0,
        "as_of_version": 13,
        "as_of": {"employee#john": 13},
        "stale": [],
    }
    assert_matches_contract(BALANCE, body)


def test_balance_of_another_year_and_leave_type(app):
    status, body = call(app, "/employees/john/balance", "john", query={"year": "2025", "leave_type": "PTO"})
    assert (status, body["year"], body["used"], body["remaining"]) == (200, 2025, 5, 10)
    assert body["allowance"] + body["rolled_over"] - body["used"] - body["pending"] - body["rolled_out"] == body["remaining"]


@pytest.mark.parametrize("who", ["sara", ADMIN])
def test_their_current_approver_and_an_admin_read_the_balance(app, who):
    assert call(app, "/employees/john/balance", who)[0] == 200


@pytest.mark.parametrize("who", ["mike", "sara-not", {"sub": "mike", "cognito:groups": "[approver]"}])
def test_anyone_else_even_a_former_approver_is_forbidden(app, who):
    assert_error(call(app, "/employees/john/balance", who), 403)


def test_unknown_employee_and_year_without_balance_are_404(app):
    assert_error(call(app, "/employees/nobody/balance", ADMIN), 404)
    status, body = call(app, "/employees/john/balance", "john", query={"year": "2031"})
    assert (status, body["error"]["code"]) == (404, "balance_not_found")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"year": "abc"}, "query.year"),
        ({"year": "1999"}, "query.year"),
        ({"year": "2026.5"}, "query.year"),
        ({"leave_type": "pto"}, "query.leave_type"),
    ],
)
def test_bad_balance_parameters_are_400_naming_the_parameter(app, query, field):
    assert_error(call(app, "/employees/john/balance", "john", query=query), 400, field)


def test_an_unknown_query_parameter_is_400_naming_it(app):
    status, body = call(app, "/employees/john/balance", "john", query={"yaer": "2026"})
    assert status == 400 and "yaer" in body["error"]["message"]


def test_a_malformed_path_id_is_400_naming_it(app):
    assert_error(call(app, "/employees/jo%20hn/balance", "john"), 400, "path.employee_id")


def test_no_token_is_401_before_anything_else(app):
    assert_error(call(app, "/employees/jo%20hn/balance", None, query={"year": "x"}), 401)


# --- pending -------------------------------------------------------------------------------------


def test_an_approver_sees_the_requests_of_their_location_including_transferred_ones(app, story):
    status, body = call(app, "/approvers/sara/pending", "sara")
    assert status == 200
    assert [i["request_id"] for i in body["items"]] == [story.requests["berlin"], story.requests["pending"]]
    assert body["items"][0] == {
        "request_id": story.requests["berlin"],
        "employee_id": "john",
        "leave_type": "PTO",
        "start": "2026-05-04",
        "end": "2026-05-05",
        "working_days": 2,
    }
    assert_matches_contract("GET /approvers/{employee_id}/pending", body)


def test_an_approver_does_not_see_their_own_request_nor_those_of_employees_who_left(app):
    status, body = call(app, "/approvers/mike/pending", "mike")
    assert (status, body["items"], body["stale"]) == (200, [], [])


@pytest.mark.parametrize("who", ["john", ADMIN])
def test_only_that_approver_reads_their_pending_list(app, who):
    assert_error(call(app, "/approvers/sara/pending", who), 403)


def test_pending_takes_no_query_parameters(app):
    assert call(app, "/approvers/sara/pending", "sara", query={"limit": "5"})[0] == 400


# --- calendar ------------------------------------------------------------------------------------

CALENDAR = "GET /locations/{location_id}/calendar"


def test_a_member_sees_approved_and_pending_leaves_of_their_location_by_start(app, story):
    status, body = call(app, f"/locations/{story.lisbon}/calendar", "mike")
    assert status == 200
    r = story.requests
    assert [(i["request_id"], i["status"]) for i in body["items"]] == [
        (r["approved"], "approved"),
        (r["mike"], "pending"),
        (r["past"], "approved"),
    ]
    assert body["items"][0] == {
        "request_id": r["approved"],
        "employee_id": "john",
        "name": "John Smith",
        "leave_type": "PTO",
        "start": "2025-03-03",
        "end": "2025-03-07",
        "status": "approved",
        "working_days": 5,
    }
    assert_matches_contract(CALENDAR, body)


def test_calendar_from_to_keeps_the_leaves_overlapping_the_range(app, story):
    status, body = call(app, f"/locations/{story.lisbon}/calendar", ADMIN, query={"from": "2026-01-01", "to": "2026-01-04"})
    assert [i["request_id"] for i in body["items"]] == [story.requests["mike"]]
    _, only_to = call(app, f"/locations/{story.lisbon}/calendar", ADMIN, query={"to": "2025-03-03"})
    assert [i["request_id"] for i in only_to["items"]] == [story.requests["approved"]]


def test_after_a_transfer_the_employee_reads_the_new_calendar_not_the_old(app, story):
    assert call(app, f"/locations/{story.berlin}/calendar", "john")[0] == 200
    assert_error(call(app, f"/locations/{story.lisbon}/calendar", "john"), 403)


def test_unknown_location_is_404(app):
    assert_error(call(app, "/locations/loc_nowhere/calendar", ADMIN), 404)


@pytest.mark.parametrize(
    ("query", "field"),
    [({"from": "2026-13-01"}, "query.from"), ({"to": "tomorrow"}, "query.to"), ({"from": "2026-02-01", "to": "2026-01-01"}, "query.to")],
)
def test_bad_calendar_dates_are_400_naming_the_parameter(app, story, query, field):
    assert_error(call(app, f"/locations/{story.lisbon}/calendar", "mike", query=query), 400, field)


def test_accept_text_calendar_gives_an_icalendar_feed(app, story):
    response = app(request(f"/locations/{story.lisbon}/calendar", {"sub": "mike"}, headers={"Accept": "text/calendar"}))
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "text/calendar; charset=utf-8"
    text = response["body"]
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    lines = text.replace("\r\n ", "").split("\r\n")
    assert "X-WR-CALNAME:Lisbon\\, PT\\; HQ" in lines
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == 3
    assert f"UID:{story.requests['approved']}@leave.acme.example" in lines
    assert "DTSTART;VALUE=DATE:20250303" in lines and "DTEND;VALUE=DATE:20250308" in lines


def test_the_icalendar_feed_honours_from_to(app, story):
    response = app(request(f"/locations/{story.lisbon}/calendar", ADMIN, query={"from": "2026-01-03"}, headers={"accept": "text/calendar"}))
    assert response["body"].count("BEGIN:VEVENT") == 1


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("application/json", False),
        ("*/*", False),
        ("text/calendar", True),
        ("text/calendar, */*", True),
        ("text/calendar;q=0.5, application/json", False),
        ("application/json;q=0.1, text/calendar", True),
        ("text/calendar;q=0", False),
        ("text/*", False),
    ],
)
def test_content_negotiation_prefers_json_unless_text_calendar_is_asked_for(accept, expected):
    assert wants_icalendar(accept) is expected


# --- streams -------------------------------------------------------------------------------------


def test_an_admin_reads_a_streams_envelopes_oldest_first(app):
    status, body = call(app, "/streams/employee%23john/events", ADMIN)
    assert status == 200
    assert [e["metadata"]["version"] for e in body["items"]] == list(range(1, 14))
    assert body["items"][-1]["metadata"]["event_type"] == "LeaveRequested"
    assert_matches_contract("GET /streams/{stream_id}/events", body)


def test_stream_events_are_for_admins_only(app):
    assert_error(call(app, "/streams/employee%23john/events", "john"), 403)


def test_unknown_stream_is_404_and_a_malformed_one_400(app):
    assert_error(call(app, "/streams/employee%23nobody/events", ADMIN), 404)
    assert_error(call(app, "/streams/nohash/events", ADMIN), 400, "path.stream_id")


# --- routing and wiring --------------------------------------------------------------------------


def test_unknown_routes_are_404_and_wrong_methods_405(app):
    assert_error(call(app, "/nothing", "john"), 404)
    assert_error(call(app, "/employees/john/balance", "john", method="DELETE"), 405)


def test_the_handler_names_the_missing_tables():
    handler = LambdaHandler(queries.build, environ={"READ_MODEL_TABLE_BALANCE": "leave-balance"})
    with pytest.raises(ConfigurationError, match="READ_MODEL_TABLE_AUDIT") as caught:
        handler(request("/approvers/sara/pending", {"sub": "sara"}))
    assert "READ_MODEL_TABLE_BALANCE" not in str(caught.value)


def test_the_handlers_app_takes_today_from_the_handlers_clock_on_every_request(story, monkeypatch):
    assert isinstance(queries.handler, LambdaHandler) and queries.handler.build is queries.build
    assert abs(queries.handler.now() - datetime.now(UTC)) < timedelta(minutes=1)  # what AWS runs: the real day
    stores = {name: project(p, story, story.all_events()) for name, p in PROJECTIONS.items()}
    monkeypatch.setattr(queries, "DynamoDBReader", lambda client, tables: StoreReader(stores))
    handler = LambdaHandler(queries.build, environ={f"READ_MODEL_TABLE_{name.upper()}": f"leave-{name}" for name in queries.PROJECTIONS})
    balance = request("/employees/john/balance", {"sub": "john"})
    handler.use_clock(lambda: datetime(2025, 3, 1, 9, tzinfo=UTC))
    first = handler(balance)
    handler.use_clock(lambda: datetime(2031, 3, 1, 9, tzinfo=UTC))  # the app exists by now
    second = handler(balance)
    assert (first["statusCode"], json.loads(first["body"])["year"]) == (200, 2025)
    assert (second["statusCode"], json.loads(second["body"])["error"]["code"]) == (404, "balance_not_found")


class BrokenReader:
    """A read-model reader whose table is unreachable."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the table is gone")

    def query(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the table is gone")


def test_an_unexpected_failure_is_a_500_with_the_correlation_id_not_a_crash() -> None:
    status, body = call(QueriesApp(BrokenReader(), today=lambda: TODAY), "/employees/john/balance", "john")
    assert status == 500
    assert body["error"]["code"] == "internal_error" and body["error"]["correlation_id"]


# --- how current an answer is: as_of_version, as_of, stale, ETag / If-None-Match ---------------


def test_read_model_answers_say_which_stream_versions_they_reflect(app, story):
    lisbon = story.lisbon
    _, calendar = call(app, f"/locations/{lisbon}/calendar", ADMIN)
    assert calendar["as_of_version"] == len(story.events.load(f"location#{lisbon}"))
    assert calendar["as_of"] == {
        f"location#{lisbon}": calendar["as_of_version"],
        **{f"employee#{i['employee_id']}": len(story.events.load(f"employee#{i['employee_id']}")) for i in calendar["items"]},
    }
    _, events = call(app, "/streams/employee%23john/events", ADMIN)
    assert events["as_of_version"] == events["items"][-1]["metadata"]["version"] == len(story.events.load("employee#john"))
    _, pending = call(app, "/approvers/sara/pending", "sara")
    assert all(pending["as_of"][f"employee#{i['employee_id']}"] >= 1 for i in pending["items"]) and pending["stale"] == []


def test_an_etag_names_the_answer_and_if_none_match_gives_304(app):
    first = app(request("/employees/john/balance", {"sub": "john"}))
    tag = first["headers"]["etag"]
    assert tag.startswith('"') and tag.endswith('"')
    again = app(request("/employees/john/balance", {"sub": "john"}, headers={"if-none-match": tag}))
    assert (again["statusCode"], again["body"], again["headers"]["etag"]) == (304, "", tag)
    other = app(request("/employees/john/balance", {"sub": "john"}, query={"year": "2027"}, headers={"if-none-match": tag}))
    assert other["statusCode"] == 200 and other["headers"]["etag"] != tag
