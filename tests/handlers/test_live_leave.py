"""Leave's live updates on the story's read models: the topics a caller gets are only what the
queries let them read, and the projections' notices name the right topics (never another
location's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.live_messages import check_topic
from acme_eventsourcing.runtime.projections import InMemoryReadModelStore, Projector, StoreReadModelReader
from leave_api.live import LeaveTopics
from leave_api.queries import QueriesApp
from leave_projections import live_topics
from leave_projections.rebuild import PROJECTIONS

from tests.handlers.test_queries import call
from tests.unit.projections.projection_story import Story, play_story

TODAY = date(2026, 6, 1)
PEOPLE = ("john", "mike", "sara", "ana", "alex", "nobody")


class Recording:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], StoredEvent]] = []

    def notify(self, view: str, topics: Sequence[str], event: StoredEvent) -> None:
        self.sent.append((view, list(topics), event))


@pytest.fixture(scope="module")
def story() -> Story:
    return play_story()


@pytest.fixture(scope="module")
def projected(story: Story) -> tuple[dict[str, InMemoryReadModelStore], Recording]:
    notices = Recording()
    stores = {}
    for name, projection in PROJECTIONS.items():
        store = stores[name] = InMemoryReadModelStore()
        projector = Projector(projection=projection, store=store, events=story.events, notices=notices)
        for event in story.all_events():
            projector.handle(event)
    return stores, notices


@pytest.fixture(scope="module")
def topics(projected: Any) -> LeaveTopics:
    return LeaveTopics(StoreReadModelReader(projected[0]))


def test_each_person_hears_their_own_view_their_calendar_and_the_locations_they_approve(story: Story, topics: LeaveTopics) -> None:
    assert topics("john", {}) == ["employee#john", f"location#{story.berlin}"]  # transferred: Berlin now, not Lisbon
    assert topics("mike", {}) == ["employee#mike", f"location#{story.lisbon}", f"approvers#{story.lisbon}"]
    assert topics("sara", {}) == ["employee#sara", f"location#{story.berlin}", f"approvers#{story.berlin}"]
    assert topics("ana", {"cognito:groups": "[admin]"}) == []  # an admin who is no employee has no view of their own
    assert topics("nobody", {}) == []


@pytest.mark.parametrize("who", PEOPLE)
def test_nobody_gets_a_topic_for_data_they_may_not_read(projected: Any, topics: LeaveTopics, who: str) -> None:
    app = QueriesApp(StoreReadModelReader(projected[0]), today=lambda: TODAY)
    for topic in topics(who, {}):
        check_topic(topic)
        kind, _, key = topic.partition("#")
        path = {
            "employee": f"/employees/{key}/balance",
            "location": f"/locations/{key}/calendar",
            "approvers": f"/approvers/{who}/pending",
        }[kind]
        status, body = call(app, path, who)
        assert status == 200, (topic, body)


def test_the_notices_name_the_location_of_the_change_and_never_another(story: Story, projected: Any) -> None:
    _stores, notices = projected
    berlin_request = [
        (view, t) for view, t, e in notices.sent if e.event_type == "LeaveRequested" and e.data.get("location_id") == story.berlin
    ]
    assert ("pending", [f"approvers#{story.berlin}", "employee#john"]) in berlin_request
    assert ("calendar", [f"location#{story.berlin}"]) in berlin_request
    assert ("balance", ["employee#john"]) in berlin_request
    for _view, t in berlin_request:
        assert f"approvers#{story.lisbon}" not in t and f"location#{story.lisbon}" not in t
    for view, t, _e in notices.sent:
        assert view in ("balance", "pending", "calendar")  # audit is not live
        for topic in t:
            check_topic(topic)


def test_the_transfer_tells_both_locations_calendars(story: Story, projected: Any) -> None:
    _stores, notices = projected
    moved = {topic for view, t, e in notices.sent if e.event_type == "EmployeeTransferred" and view == "calendar" for topic in t}
    assert {f"location#{story.lisbon}", f"location#{story.berlin}"} <= moved


def test_topics_of_changed_rows() -> None:
    assert live_topics.employees_of([("balance#e-1", "2026#PTO"), ("employee#e-1", "head"), ("balance#e-2", "x")], "balance#") == [
        "employee#e-1",
        "employee#e-2",
    ]
    assert live_topics.pending_topics(
        [
            ("pending#l-1", "r-1"),
            ("approver#mike", "l-2"),
            ("location#l-3", "state"),
            ("employee#e-1", "state"),
            ("employee#e-1", "event#3"),
        ]
    ) == ["approvers#l-1", "approvers#l-2", "approvers#l-3", "employee#e-1"]
    assert live_topics.calendar_topics([("calendar#l-1", "2026-01-02#r"), ("location#l-2", "state"), ("employee#e-1", "head")]) == [
        "location#l-1",
        "location#l-2",
    ]
