"""No input makes a projector commit outgrow one transaction (issue 8.2).

Each test gives a projection more row changes for one event than a (small) transaction
holds, and checks that the projector still applies it, in several commits, to the same read
model a store without limit gets; and that a crash between those commits is finished by the
redelivered event. Before the bound, each of these raised `TooManyActionsError`: the event
went to the DLQ and the stream's read model stopped for good.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.projections import InMemoryReadModelStore, Projection, Projector
from leave.events import (
    EmployeeAddedToLocation,
    EmployeeLeftLocation,
    EmployeeTransferred,
    Event,
    LeaveApproved,
    LeavePolicyAssigned,
    LeaveRequested,
    LocationCreated,
)
from leave_projections.balance import BalanceProjection
from leave_projections.calendar import CalendarProjection
from leave_projections.pending import PendingProjection
from test_cross_stream import append, joined

SMALL = 20


def leave(n: int, start: date, *, location_id: str = "hq") -> LeaveRequested:
    return LeaveRequested(
        employee_id="john",
        request_id=f"john~{n}",
        location_id=location_id,
        approver_id=None,
        leave_type="PTO",
        start=start,
        end=start,
        working_days=1,
    )


def office() -> list[Event]:
    return [
        LocationCreated(location_id="hq", name="HQ"),
        LocationCreated(location_id="b", name="B"),
        LeavePolicyAssigned(location_id="hq", leave_type="PTO", days_per_year=366, max_rollover_days=0, effective_on=date(2026, 1, 5)),
        LeavePolicyAssigned(location_id="b", leave_type="PTO", days_per_year=366, max_rollover_days=0, effective_on=date(2026, 1, 5)),
        *joined("john"),
    ]


def transfer(on: date, pending: tuple[str, ...]) -> list[Event]:
    """The transfer's events, the employee's last (the tests crash inside the last event)."""
    return [
        EmployeeLeftLocation(location_id="hq", employee_id="john", effective_on=on, to_location_id="b"),
        EmployeeAddedToLocation(location_id="b", employee_id="john", name="John", effective_on=on, from_location_id="hq"),
        EmployeeTransferred(
            employee_id="john", from_location_id="hq", to_location_id="b", effective_on=on, approver_id=None, pending_request_ids=pending
        ),
    ]


def many_leaves_then_transfer(approve: bool) -> list[Event]:
    """50 one-day leaves from March 2026 (approved or pending), then a transfer before all of them."""
    leaves = [leave(n + 2, date(2026, 3, 2) + timedelta(days=7 * n)) for n in range(50)]
    decided = [
        LeaveApproved(
            employee_id="john", request_id=x.request_id, approved_by="mike", leave_type="PTO", start=x.start, end=x.end, working_days=1
        )
        for x in leaves
        if approve
    ]
    pending = () if approve else tuple(x.request_id for x in leaves)
    return [*office(), *leaves, *decided, *transfer(date(2026, 2, 2), pending)]


CASES = {
    "balance of a leave 73 years ahead": (BalanceProjection(), [*office(), leave(2, date(2099, 12, 30))]),
    "pending requests moved by a transfer": (PendingProjection(), many_leaves_then_transfer(approve=False)),
    "calendar rows moved by a transfer": (CalendarProjection(), many_leaves_then_transfer(approve=True)),
}


def project(projection: Projection, domain_events: list[Event], store: InMemoryReadModelStore) -> InMemoryReadModelStore:
    events = InMemoryEventStore()
    projector = Projector(projection=projection, store=store, events=events)
    for event in append(events, *domain_events):
        projector.handle(event)
    return store


def snapshot(store: InMemoryReadModelStore) -> dict[tuple[str, str], dict]:
    return {(r.pk, r.sk): dict(r.doc) for r in store.rows()}


@pytest.mark.parametrize("case", CASES)
def test_an_event_with_more_changes_than_a_transaction_holds_is_applied_in_several(case: str) -> None:
    projection, domain_events = CASES[case]
    bounded = project(projection, domain_events, InMemoryReadModelStore(max_actions=SMALL))
    unbounded = project(projection, domain_events, InMemoryReadModelStore(max_actions=10_000))
    assert snapshot(bounded) == snapshot(unbounded)
    assert not any(pk.startswith("refresh#") for pk, _ in snapshot(bounded))


class CrashingAfter(InMemoryReadModelStore):
    """Raises on the `n`th commit (once), as a Lambda timeout between two commits would."""

    def __init__(self, n: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n = n
        self.commits = 0

    def commit(self, *args, **kwargs) -> None:
        self.commits += 1
        if self.commits == self.n:
            raise RuntimeError("crash")
        super().commit(*args, **kwargs)


@pytest.mark.parametrize("case", CASES)
def test_a_crash_between_the_commits_of_one_event_is_finished_by_its_redelivery(case: str) -> None:
    projection, domain_events = CASES[case]
    events = InMemoryEventStore()
    stored: list[StoredEvent] = append(events, *domain_events)
    store = CrashingAfter(0, max_actions=SMALL)
    projector = Projector(projection=projection, store=store, events=events)
    for event in stored[:-1]:
        projector.handle(event)
    store.n = store.commits + 2  # the last event's own commit succeeds, the next one (its deferred rows) crashes
    with pytest.raises(RuntimeError):
        projector.handle(stored[-1])
    assert projector.handle(stored[-1]) == 0  # a duplicate: only the deferred rows are written
    assert snapshot(store) == snapshot(project(projection, domain_events, InMemoryReadModelStore(max_actions=10_000)))
