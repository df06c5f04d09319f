"""Calendar subscription feeds through the real commands app, calendar projection and queries
app (in memory): create, fetch with no token, parse with `icalendar`, rotate, revoke, who may,
what is never stored in clear, and the UID/SEQUENCE rules as a leave changes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import icalendar
import pytest
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.projections import InMemoryReadModelStore, Projector, StoreReadModelReader
from acme_eventsourcing.runtime.validation import errors as schema_errors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leave_api.api import BY_KEY
from leave_api.queries import QueriesApp
from leave_projections.calendar import CalendarProjection
from test_commands_support import ADMIN, JOHN, MIKE, Api, api_event, setup_location

TODAY = date(2026, 1, 5)
SARA = {"sub": "sara"}
LEAVE = {"leave_type": "PTO", "start": "2026-02-02", "end": "2026-02-06"}


class World:
    """Commands app, calendar projection and queries app on one in-memory store."""

    def __init__(self) -> None:
        self.api = Api.on(InMemoryEventStore())
        self.read_model = InMemoryReadModelStore()
        self.projector = Projector(projection=CalendarProjection(), store=self.read_model, events=self.api.store)
        self.queries = QueriesApp(StoreReadModelReader({"calendar": self.read_model}), today=lambda: TODAY)

    def settle(self) -> None:
        """Deliver every stored event to the projector (it applies each (stream, version) once)."""
        for stream in sorted(self.api.store.streams):
            for event in self.api.store.inner.load(stream):
                self.projector.handle(event)

    def command(self, method: str, path: str, body: Any = None, claims: dict[str, Any] | None = ADMIN, **kw: Any) -> Any:
        response = self.api.call(method, path, {} if body is None else body, claims=claims, **kw)
        self.settle()
        return response

    def query(self, path: str, claims: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self.queries(api_event("GET", path, claims=claims, headers=headers))

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """GET a feed URL with NO authorizer claims and no header (a calendar application)."""
        return self.query(url[url.index("/calendar-feeds/") :], None, headers)

    def stored_text(self) -> str:
        """Everything persisted: every event (data and metadata), the idempotency records, every read-model row."""
        inner = self.api.store.inner
        parts = [json.dumps([e.__dict__ for e in inner.load(s)], default=str) for s in sorted(self.api.store.streams)]
        parts += [json.dumps(vars(inner), default=str)]
        parts += [json.dumps([(r.pk, r.sk, r.doc) for r in self.read_model.rows()])]
        return "\n".join(parts)


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.location = setup_location(w.api)  # type: ignore[attr-defined]
    w.settle()
    yield w


def events_of(body: str) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1].removesuffix(".ics")


# --- create, fetch, parse ----------------------------------------------------------------------


def test_a_member_creates_a_location_feed_and_a_calendar_application_reads_it_with_no_token(world: World) -> None:
    assert world.command("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN).status == 201
    created = world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN)
    assert created.status == 201, created.body
    assert schema_errors(created.body, BY_KEY["POST /calendar-feeds"].response, "response") == []
    assert created.body["scope"] == "location" and created.body["location_id"] == world.location
    assert created.body["url"].startswith("/calendar-feeds/") and created.body["url"].endswith(".ics")
    assert len(token_of(created.body["url"])) == 43  # 256 bits, base64url

    feed = world.fetch(created.body["url"])
    assert feed["statusCode"] == 200
    assert feed["headers"]["content-type"] == "text/calendar; charset=utf-8"
    assert feed["headers"]["cache-control"] == "private, no-cache" and feed["headers"]["etag"]
    calendar = icalendar.Calendar.from_ical(feed["body"])
    assert str(calendar["X-WR-CALNAME"]) == "Berlin"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == "john~2@leave.acme.example"
    assert event.decoded("DTSTART") == date(2026, 2, 2) and event.decoded("DTEND") == date(2026, 2, 7)
    assert str(event["SUMMARY"]) == "John - PTO (pending)"
    # a refresh with the ETag is a 304 without a body
    again = world.fetch(created.body["url"], headers={"if-none-match": feed["headers"]["etag"]})
    assert again["statusCode"] == 304 and again["body"] == ""


def test_the_location_feed_shows_what_members_see_in_the_calendar_json(world: World) -> None:
    world.command("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN)
    url = world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=MIKE).body["url"]
    listed = json.loads(world.query(f"/locations/{world.location}/calendar", JOHN)["body"])["items"]
    assert {f"{i['request_id']}@leave.acme.example" for i in listed} == set(events_of(world.fetch(url)["body"]))


def test_the_token_is_stored_nowhere_in_clear_only_its_sha256(world: World) -> None:
    created = world.command(
        "POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN, headers={"idempotency-key": "k1"}
    )
    token = token_of(created.body["url"])
    stored = world.stored_text()
    assert token not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored  # looked up by its digest
    rotated = world.command("POST", f"/calendar-feeds/{created.body['feed_id']}/rotate", claims=JOHN, headers={"idempotency-key": "k2"})
    assert token_of(rotated.body["url"]) not in world.stored_text()


def test_a_replay_answers_the_same_feed_without_its_url_and_creates_nothing_more(world: World) -> None:
    first = world.command(
        "POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN, headers={"idempotency-key": "feed-1"}
    )
    count = world.api.store.event_count()
    replay = world.command(
        "POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN, headers={"idempotency-key": "feed-1"}
    )
    assert replay.status == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.body == {k: v for k, v in first.body.items() if k != "url"}
    assert world.api.store.event_count() == count
    assert world.fetch(first.body["url"])["statusCode"] == 200  # the first URL still works


# --- revoke, rotate: 404, the same 404 as an unknown token ----------------------------------------


def test_a_revoked_feed_answers_404_with_the_body_of_an_unknown_token(world: World) -> None:
    created = world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN).body
    unknown = world.fetch("/calendar-feeds/" + "A" * 43 + ".ics")
    assert unknown["statusCode"] == 404
    revoked = world.command("POST", f"/calendar-feeds/{created['feed_id']}/revoke", claims=JOHN)
    assert (revoked.status, revoked.body) == (200, {"feed_id": created["feed_id"], "status": "revoked"})
    gone = world.fetch(created["url"])
    assert (gone["statusCode"], gone["body"]) == (404, unknown["body"])
    # revoking again changes nothing; a revoked feed cannot be rotated back to life
    count = world.api.store.event_count()
    assert world.command("POST", f"/calendar-feeds/{created['feed_id']}/revoke", claims=JOHN).status == 200
    assert world.api.store.event_count() == count
    assert world.command("POST", f"/calendar-feeds/{created['feed_id']}/rotate", claims=JOHN).status == 409


def test_rotating_gives_a_new_url_and_the_old_one_answers_404(world: World) -> None:
    created = world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN).body
    rotated = world.command("POST", f"/calendar-feeds/{created['feed_id']}/rotate", claims=JOHN)
    assert rotated.status == 200 and rotated.body["url"] != created["url"]
    assert schema_errors(rotated.body, BY_KEY["POST /calendar-feeds/{feed_id}/rotate"].response, "response") == []
    assert world.fetch(created["url"])["statusCode"] == 404
    assert world.fetch(rotated.body["url"])["statusCode"] == 200


def test_the_callers_feeds_are_listed_without_tokens(world: World) -> None:
    first = world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN).body
    second = world.command("POST", "/calendar-feeds", {"scope": "employee", "subject_id": "john"}, claims=JOHN).body
    world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=MIKE)
    world.command("POST", f"/calendar-feeds/{first['feed_id']}/revoke", claims=JOHN)
    answer = world.query("/calendar-feeds", JOHN)
    body = json.loads(answer["body"])
    assert schema_errors(body, BY_KEY["GET /calendar-feeds"].response, "response") == []
    assert {(i["feed_id"], i["scope"], i["status"]) for i in body["items"]} == {
        (first["feed_id"], "location", "revoked"),
        (second["feed_id"], "employee", "active"),
    }
    assert token_of(first["url"]) not in answer["body"] and "url" not in answer["body"]
    assert world.query("/calendar-feeds", None)["statusCode"] == 401


# --- who may ----------------------------------------------------------------------------------------


def test_a_member_of_another_location_cannot_create_a_feed_of_this_one(world: World) -> None:
    other = world.command("POST", "/locations", {"name": "Lisbon"}).body["location_id"]
    world.command("POST", f"/locations/{other}/employees", {"employee_id": "sara", "name": "Sara"})
    count = world.api.store.event_count()
    refused = world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=SARA)
    assert (refused.status, refused.code) == (403, "forbidden")
    assert world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": "loc_nope"}, claims=SARA).status == 404
    assert world.api.store.event_count() == count
    assert world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=ADMIN).status == 201


def test_an_employee_feed_is_the_employees_own_and_shows_only_their_leaves(world: World) -> None:
    world.command("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN)
    world.command("POST", "/employees/mike/leave-requests", {**LEAVE, "start": "2026-03-02", "end": "2026-03-03"}, claims=MIKE)
    assert (
        world.command("POST", "/calendar-feeds", {"scope": "employee", "subject_id": "john"}, claims=MIKE).status == 403
    )  # his approver: no
    assert world.command("POST", "/calendar-feeds", {"scope": "employee", "subject_id": "nobody"}, claims=ADMIN).status == 404
    url = world.command("POST", "/calendar-feeds", {"scope": "employee", "subject_id": "john"}, claims=JOHN).body["url"]
    calendar = icalendar.Calendar.from_ical(world.fetch(url)["body"])
    assert str(calendar["X-WR-CALNAME"]) == "John: leave"
    assert list(events_of(world.fetch(url)["body"])) == ["john~2@leave.acme.example"]


def test_only_the_owner_or_an_admin_rotates_or_revokes_and_others_see_404(world: World) -> None:
    created = world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN).body
    for action in ("rotate", "revoke"):
        refused = world.command("POST", f"/calendar-feeds/{created['feed_id']}/{action}", claims=MIKE)
        assert (refused.status, refused.code) == (404, "feed_not_found")
    assert world.fetch(created["url"])["statusCode"] == 200
    assert world.command("POST", f"/calendar-feeds/{created['feed_id']}/revoke", claims=ADMIN).status == 200
    assert world.command("POST", "/calendar-feeds/feed_ffffffffffffffffffffffff/revoke", claims=ADMIN).status == 404


def test_a_members_feed_stops_when_they_leave_the_location_an_admins_does_not(world: World) -> None:
    members = world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN).body["url"]
    admins = world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=ADMIN).body["url"]
    other = world.command("POST", "/locations", {"name": "Lisbon"}).body["location_id"]
    assert world.command("POST", "/employees/john/transfer", {"to_location_id": other}).status == 200
    assert world.fetch(members)["statusCode"] == 404
    assert world.fetch(admins)["statusCode"] == 200


def test_create_needs_a_scope_and_a_subject(world: World) -> None:
    for body, field in (({"subject_id": world.location}, "body.scope"), ({"scope": "team", "subject_id": "x"}, "body.scope")):
        refused = world.command("POST", "/calendar-feeds", body, claims=JOHN)
        assert (refused.status, refused.body["error"]["field"]) == (400, field)


# --- stable across changes: UID and SEQUENCE ---------------------------------------------------------


def test_uid_stays_and_sequence_grows_as_a_leave_is_approved_then_it_leaves_when_cancelled(world: World) -> None:
    url = world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN).body["url"]
    mine = world.command("POST", "/calendar-feeds", {"scope": "employee", "subject_id": "john"}, claims=JOHN).body["url"]
    request_id = world.command("POST", "/employees/john/leave-requests", LEAVE, claims=JOHN).body["request_id"]
    uid = f"{request_id}@leave.acme.example"
    for feed in (url, mine):
        pending = events_of(world.fetch(feed)["body"])[uid]
        assert (str(pending["STATUS"]), int(pending["SEQUENCE"])) == ("TENTATIVE", 0)
    world.command("POST", f"/leave-requests/{request_id}/approve", claims=MIKE)
    for feed in (url, mine):
        approved = events_of(world.fetch(feed)["body"])[uid]
        assert (str(approved["STATUS"]), int(approved["SEQUENCE"])) == ("CONFIRMED", 1)
        assert approved.decoded("DTSTART") == date(2026, 2, 2)
    world.command("POST", f"/leave-requests/{request_id}/cancel", claims=JOHN)
    for feed in (url, mine):
        assert uid not in events_of(world.fetch(feed)["body"])  # a subscribed feed is replaced whole: it drops the event


# --- random paths: always the one 404, never a 500 ----------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.one_of(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=22, max_size=64).map(
            lambda t: t + ".ics"
        ),
        st.text(min_size=1, max_size=80).filter(lambda t: "/" not in t),
    )
)
def test_random_tokens_and_paths_always_answer_the_one_404(world: World, name: str) -> None:
    world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN)
    event = api_event("GET", "/calendar-feeds/x", claims=None)
    event["routeKey"], event["pathParameters"] = "GET /calendar-feeds/{feed_file}", {"feed_file": name}
    answer = world.queries(event)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"]) == {"error": {"code": "feed_not_found", "message": "no such calendar feed"}}


def test_the_access_log_never_shows_the_token(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    url = world.command("POST", "/calendar-feeds", {"scope": "location", "subject_id": world.location}, claims=JOHN).body["url"]
    capsys.readouterr()
    assert world.fetch(url)["statusCode"] == 200
    logged = capsys.readouterr().out
    assert '"path":"/calendar-feeds/***"' in logged and token_of(url) not in logged
