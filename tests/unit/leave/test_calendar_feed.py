"""The calendar-feed aggregate: who may create, rotate and revoke a feed, and what its events keep."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from leave import calendar_feed as feeds
from leave.commands import Caller, CreateCalendarFeed, RevokeCalendarFeed, RotateCalendarFeedToken
from leave.employee import EmployeeState, Placement
from leave.errors import Forbidden, InvalidState, NotFound, RuleViolated
from leave.events import CalendarFeedCreated, CalendarFeedRevoked, CalendarFeedTokenRotated, parse_event
from leave.location import LocationState

TOKEN = "t" * 43
ANA = Caller(sub="ana", groups=frozenset({"admin"}))
JOHN = Caller(sub="john")
SARA = Caller(sub="sara")
BERLIN = LocationState(location_id="loc_1", version=3, name="Berlin", members=frozenset({"john", "mike"}), approver_id="mike")
JOHNS = EmployeeState(employee_id="john", version=1, placements=(Placement(location_id="loc_1", since=date(2026, 1, 5)),))


def create(caller: Caller, scope: str = "location", subject: str = "loc_1", **states: object) -> list:
    command = CreateCalendarFeed(caller=caller, scope=scope, subject_id=subject, token=TOKEN)
    return feeds.decide_create("feed_1", command, **states)  # type: ignore[arg-type]


def test_a_member_creates_a_location_feed_whose_event_keeps_the_tokens_sha256_only() -> None:
    (event,) = create(JOHN, location=BERLIN)
    assert event == CalendarFeedCreated(
        feed_id="feed_1",
        scope="location",
        subject_id="loc_1",
        owner_id="john",
        owner_is_admin=False,
        token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest(),
    )
    assert TOKEN not in str(event.to_data())
    assert parse_event(event.event_type, event.to_data()) == event
    assert event.stream_id == "calendar-feed#feed_1"


def test_who_may_create_a_feed() -> None:
    with pytest.raises(Forbidden):
        create(SARA, location=BERLIN)
    with pytest.raises(NotFound):
        create(JOHN, location=LocationState(location_id="loc_2"))
    (admins,) = create(ANA, location=BERLIN)
    assert admins.owner_is_admin  # not a member: its feed does not depend on membership
    (own,) = create(JOHN, "employee", "john", employee=JOHNS)
    assert (own.scope, own.subject_id, own.owner_is_admin) == ("employee", "john", False)
    with pytest.raises(Forbidden):
        create(SARA, "employee", "john", employee=JOHNS)
    with pytest.raises(NotFound):
        create(ANA, "employee", "nobody", employee=EmployeeState(employee_id="nobody"))
    with pytest.raises(RuleViolated):
        create(ANA, "team", "x")


def test_a_short_token_is_refused() -> None:
    with pytest.raises(ValueError, match="128 bits"):
        feeds.decide_create("feed_1", CreateCalendarFeed(caller=JOHN, scope="location", subject_id="loc_1", token="short"), location=BERLIN)


def test_rotate_and_revoke_by_the_owner_or_an_admin_only() -> None:
    state = feeds.fold("feed_1", create(JOHN, location=BERLIN))
    assert (state.status, state.owner_id, state.version) == ("active", "john", 1)
    new = "n" * 43
    (rotated,) = feeds.decide(state, RotateCalendarFeedToken(caller=JOHN, feed_id="feed_1", token=new))
    assert rotated == CalendarFeedTokenRotated(feed_id="feed_1", token_sha256=feeds.token_digest(new), rotated_by="john")
    with pytest.raises(NotFound):  # someone else's feed: as if it did not exist
        feeds.decide(state, RevokeCalendarFeed(caller=SARA, feed_id="feed_1"))
    (revoked,) = feeds.decide(state, RevokeCalendarFeed(caller=ANA, feed_id="feed_1"))
    assert revoked == CalendarFeedRevoked(feed_id="feed_1", revoked_by="ana")
    gone = feeds.evolve(state, revoked)
    assert gone.status == "revoked"
    assert feeds.decide(gone, RevokeCalendarFeed(caller=JOHN, feed_id="feed_1")) == []
    with pytest.raises(InvalidState):
        feeds.decide(gone, RotateCalendarFeedToken(caller=JOHN, feed_id="feed_1", token=new))
    with pytest.raises(NotFound):
        feeds.decide(feeds.FeedState(feed_id="feed_9"), RevokeCalendarFeed(caller=ANA, feed_id="feed_9"))
