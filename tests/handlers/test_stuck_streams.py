"""A poison event is visible, not silent (issue 8.3).

A projection that cannot apply an event leaves a `stuck` record (which stream, which version,
why) before the error propagates (so the event still goes to the DLQ); the queries on that
stream report it in `stale`, an admin lists it at `GET /admin/projections/stuck`, and the
first successful projection of the stream (a redrive) clears it. Before, the read model just
stopped, with nothing but the DLQ's depth to tell.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import pytest
from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.projections import InMemoryReadModelStore, Projector, Session
from leave_api.queries import QueriesApp
from leave_projections.rebuild import PROJECTIONS
from test_queries import ADMIN, TODAY, StoreReader, call

from tests.unit.projections.projection_story import play_story


@dataclass(frozen=True)
class Poisoned:
    """The balance projection, failing on one (stream, version) while `poisoned` says so."""

    inner: object
    stream_id: str
    version: int
    poisoned: list[bool]

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def event_types(self) -> frozenset[str]:
        return self.inner.event_types

    def apply(self, session: Session, event: StoredEvent) -> None:
        if self.poisoned[0] and (event.stream_id, event.version) == (self.stream_id, self.version):
            raise ValueError("cannot apply this event")
        self.inner.apply(session, event)

    def refresh(self, session: Session, target: str) -> None:
        self.inner.refresh(session, target)


def test_a_stuck_stream_is_recorded_reported_by_its_queries_listed_and_cleared_by_a_redrive(caplog: pytest.LogCaptureFixture) -> None:
    story = play_story()
    john = story.events.load("employee#john")
    poisoned = [True]
    stores = {name: InMemoryReadModelStore() for name in PROJECTIONS}
    projectors = {
        name: Projector(
            projection=Poisoned(p, "employee#john", 5, poisoned) if name == "balance" else p, store=stores[name], events=story.events
        )
        for name, p in PROJECTIONS.items()
    }
    app = QueriesApp(StoreReader(stores), today=lambda: TODAY)
    failures = 0
    with caplog.at_level(logging.ERROR, logger="acme_eventsourcing.runtime.projections.core"):
        for event in story.all_events():
            for projector in projectors.values():
                try:
                    projector.handle(event)
                except ValueError:
                    failures += 1  # to the DLQ, as before
    assert failures == len(john) - 4  # version 5 and every later delivery of john's stream fail

    (row,) = stores["balance"].stuck()
    assert row.sk == "employee#john"
    assert row.doc["stuck_at_version"] == 5 and "ValueError: cannot apply this event" in row.doc["reason"]
    assert stores["balance"].checkpoint_state("employee#john").version == 4
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
    assert {"projection": "balance", "stream_id": "employee#john", "stuck_at_version": 5, "stuck": True}.items() <= logged[-1].items()

    status, body = call(app, "/employees/john/balance", "john")
    assert status == 200 and body["as_of_version"] == 4
    assert body["stale"] == [{k: row.doc[k] for k in ("stream_id", "stuck_at_version", "reason", "since")}]
    status, listing = call(app, "/admin/projections/stuck", ADMIN)
    assert status == 200 and [(i["projection"], i["stream_id"], i["stuck_at_version"]) for i in listing["items"]] == [
        ("balance", "employee#john", 5)
    ]
    assert call(app, "/admin/projections/stuck", "john")[0] == 403

    poisoned[0] = False  # the bug is fixed; the DLQ is redriven
    assert sum(projectors["balance"].handle(event) for event in john[4:]) == len(john) - 4  # the DLQ's events
    assert stores["balance"].stuck() == [] and not stores["balance"].checkpoint_state("employee#john").stuck
    status, body = call(app, "/employees/john/balance", "john")
    assert (body["as_of_version"], body["stale"]) == (len(john), [])
    assert call(app, "/admin/projections/stuck", ADMIN)[1]["items"] == []


def test_a_gap_that_cannot_be_filled_is_recorded_as_stuck() -> None:
    story = play_story()
    store = InMemoryReadModelStore()

    class NoEvents:
        def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
            return []

    projector = Projector(projection=PROJECTIONS["audit"], store=store, events=NoEvents())
    with pytest.raises(RuntimeError):
        projector.handle(story.events.load("employee#john")[2])  # versions 1 and 2 never arrive
    (row,) = store.stuck()
    assert (row.sk, row.doc["stuck_at_version"], row.doc["delivered_version"]) == ("employee#john", 1, 3)
    assert row.doc["reason"].startswith("MissingEventsError")
