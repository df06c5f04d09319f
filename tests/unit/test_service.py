"""LeaveService against the in-memory event store: the story of DESIGN.md section 3, the store
calls each command makes, idempotency, retries after lost races, rollover and event metadata."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, ConcurrencyError, IdempotencyKeyUsed, IdempotencyRecord, StoredEvent
from leave import employee, location
from leave.balance import balance
from leave.commands import (
    AddEmployee,
    AddPastLeave,
    ApproveLeave,
    AssignApprover,
    AssignLeavePolicy,
    Caller,
    CancelLeave,
    ChangeWorkingWeek,
    Command,
    CreateLocation,
    DenyLeave,
    RequestLeave,
    RollOverLeave,
    TransferEmployee,
)
from leave.errors import Forbidden, InvalidState, RuleViolated
from leave.events import parse_event
from leave_api.service import CommandContext, CommandResult, LeaveService, LocationCache

ANA = Caller(sub="ana", groups=frozenset({"admin"}))
ALEX = Caller(sub="alex", groups=frozenset({"admin"}))
JOHN = Caller(sub="john")
MIKE = Caller(sub="mike", groups=frozenset({"approver"}))
SARA = Caller(sub="sara", groups=frozenset({"approver"}))


class CountingStore:
    """An `EventStore` that records each call (one call = one DynamoDB request for short streams)."""

    def __init__(self, inner: InMemoryEventStore | None = None) -> None:
        self.inner = inner or InMemoryEventStore()
        self.calls: list[tuple[str, Any]] = []
        self.loads: list[tuple[str, int]] = []  # (stream, after_version) of each load

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        self.calls.append(("load", stream_id))
        self.loads.append((stream_id, after_version))
        return self.inner.load(stream_id, after_version)

    def append(self, appends: Sequence[Append], idempotency: IdempotencyRecord | None = None) -> list[StoredEvent]:
        self.calls.append(("append", tuple(a.stream_id if a.events else f"guard:{a.stream_id}" for a in appends)))
        return self.inner.append(appends, idempotency)

    def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        self.calls.append(("get_idempotency", key))
        return self.inner.get_idempotency(key)


@dataclass
class Clock:
    now: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, day: date) -> None:
        self.now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


@dataclass
class App:
    """A service on a counting in-memory store, with a settable clock and predictable ids."""

    store: CountingStore = field(default_factory=CountingStore)
    clock: Clock = field(default_factory=Clock)
    cache: LocationCache = field(default_factory=LocationCache)
    """``LocationCache(0)``: every command reads its locations, as a fresh container's first command does."""

    def __post_init__(self) -> None:
        counter = itertools.count(1)
        self.service = LeaveService(
            self.store, clock=self.clock, new_id=lambda: f"{next(counter):012x}".ljust(32, "0"), location_cache=self.cache
        )

    def run(self, command: Command, *, key: str | None = None, correlation_id: str = "corr-1") -> CommandResult:
        context = CommandContext(
            caller=command.caller.sub,
            correlation_id=correlation_id,
            idempotency_key=None if key is None else f"{command.caller.sub}#{key}",
            request_hash=None if key is None else f"hash-of-{key}",
        )
        return self.service.execute(command, context)

    def calls_of(self, command: Command, **kwargs: Any) -> list[tuple[str, Any]]:
        self.store.calls.clear()
        self.run(command, **kwargs)
        return list(self.store.calls)

    def events(self, stream_id: str) -> list[StoredEvent]:
        return self.store.inner.load(stream_id)

    def balance(self, employee_id: str, year: int) -> dict[str, Any]:
        john = employee.fold(employee_id, [parse_event(e.event_type, e.data) for e in self.events(f"employee#{employee_id}")])
        locations = {
            i: location.fold(i, [parse_event(e.event_type, e.data) for e in self.events(f"location#{i}")])
            for i in john.location_ids(year, year)
        }
        return balance(john, locations, year, "PTO").as_dict()


def office(app: App) -> str:
    """Slide 13, steps 1-3, through the service; returns the location id."""
    loc = app.run(CreateLocation(caller=ANA, name="Belgrade")).body["location_id"]
    app.run(AddEmployee(caller=ANA, location_id=loc, employee_id="john", name="John"))
    app.run(AddEmployee(caller=ANA, location_id=loc, employee_id="mike", name="Mike"))
    app.run(AssignApprover(caller=ANA, location_id=loc, employee_id="mike"))
    app.run(AssignLeavePolicy(caller=ANA, location_id=loc, leave_type="PTO", days_per_year=20, max_rollover_days=5))
    return loc


def request(start: date, end: date, employee_id: str = "john") -> RequestLeave:
    return RequestLeave(caller=Caller(sub=employee_id), employee_id=employee_id, leave_type="PTO", start=start, end=end)


# --- the story ---------------------------------------------------------------------------


def test_the_story_of_design_section_3() -> None:
    app = App()
    # 1-3. Ana creates a location, moves John and Mike in, makes Mike approver, assigns 20 PTO days.
    created = app.run(CreateLocation(caller=ANA, name="Belgrade"))
    assert created == CommandResult(status=201, body={"location_id": "loc_000000000001"})
    a = created.body["location_id"]
    assert app.run(AddEmployee(caller=ANA, location_id=a, employee_id="john", name="John")).status == 201
    assert app.run(AddEmployee(caller=ANA, location_id=a, employee_id="mike", name="Mike")).status == 201
    assert app.run(AssignApprover(caller=ANA, location_id=a, employee_id="mike")).status == 200
    policy = AssignLeavePolicy(caller=ANA, location_id=a, leave_type="PTO", days_per_year=20, max_rollover_days=5)
    assert app.run(policy).status == 200

    # 4. John requests leave; Mike approves one request and denies another.
    first = app.run(request(date(2026, 3, 9), date(2026, 3, 13)))
    assert first == CommandResult(status=201, body={"request_id": "john~2", "working_days": 5})
    assert app.run(ApproveLeave(caller=MIKE, request_id="john~2")) == CommandResult(
        status=200, body={"request_id": "john~2", "status": "approved"}
    )
    second = app.run(request(date(2026, 4, 6), date(2026, 4, 10)))
    assert second.body["request_id"] == "john~4"
    assert app.run(DenyLeave(caller=MIKE, request_id="john~4", reason="release")).body["status"] == "denied"
    john_2026 = app.balance("john", 2026)
    assert (john_2026["used"], john_2026["pending"], john_2026["remaining"]) == (5, 0, 15)

    # 5. Year end: rollover moves 5 of John's 15 unused days (the cap) and 5 of Mike's 20.
    app.clock.set(date(2027, 1, 4))
    rolled = app.run(RollOverLeave(caller=ANA, from_year=2026))
    assert rolled == CommandResult(status=202, body={"from_year": 2026, "to_year": 2027, "employees": 2, "employees_rolled_over": 2})
    assert app.balance("john", 2027)["rolled_over"] == 5 and app.balance("mike", 2027)["rolled_over"] == 5

    # 6. Ana gives John a Monday-to-Thursday week: a Monday-to-Sunday leave is 4 days.
    app.run(ChangeWorkingWeek(caller=ANA, employee_id="john", days=("MON", "TUE", "WED", "THU")))
    pending = app.run(request(date(2027, 2, 1), date(2027, 2, 7)))
    assert pending.body == {"request_id": "john~8", "working_days": 4}

    # 7. Mike adds past leaves for John.
    app.clock.set(date(2027, 1, 20))
    past = app.run(AddPastLeave(caller=MIKE, employee_id="john", leave_type="PTO", start=date(2027, 1, 11), end=date(2027, 1, 12)))
    assert past == CommandResult(status=201, body={"request_id": "john~9", "working_days": 2})

    # 8. Alex transfers John to Novi Sad (25 days, Sara approves) from 1 July; Sara now decides his request.
    b = app.run(CreateLocation(caller=ALEX, name="Novi Sad")).body["location_id"]
    app.run(AddEmployee(caller=ALEX, location_id=b, employee_id="sara", name="Sara"))
    app.run(AssignApprover(caller=ALEX, location_id=b, employee_id="sara"))
    app.run(AssignLeavePolicy(caller=ALEX, location_id=b, leave_type="PTO", days_per_year=25, max_rollover_days=3))
    moved = app.run(TransferEmployee(caller=ALEX, employee_id="john", to_location_id=b, effective_on=date(2027, 7, 1)))
    assert moved == CommandResult(
        status=200,
        body={"employee_id": "john", "from_location_id": a, "to_location_id": b, "effective_on": "2027-07-01"},
    )
    with pytest.raises(Forbidden):
        app.run(ApproveLeave(caller=MIKE, request_id="john~8"))
    assert app.run(ApproveLeave(caller=SARA, request_id="john~8")).status == 200

    # John's 2027: 20 x 181/365 + 25 x 184/365 = 22.5 days, 5 rolled over, 4 + 2 used.
    assert app.balance("john", 2027) == {
        "employee_id": "john",
        "year": 2027,
        "leave_type": "PTO",
        "allowance": 22.5,
        "rolled_over": 5,
        "used": 6,
        "pending": 0,
        "rolled_out": 0,
        "remaining": 21.5,
    }
    assert [e.event_type for e in app.events("directory#locations")] == ["LocationRegistered"] * 2
    assert [e.event_type for e in app.events(f"location#{a}")][-1] == "EmployeeLeftLocation"
    assert [e.event_type for e in app.events("employee#john")] == [
        "EmployeeJoined",
        "LeaveRequested",
        "LeaveApproved",
        "LeaveRequested",
        "LeaveDenied",
        "LeaveRolledOver",
        "WorkingWeekChanged",
        "LeaveRequested",
        "PastLeaveAdded",
        "EmployeeTransferred",
        "LeaveApproved",
    ]


# --- store calls per command ---------------------------------------------------------------


def test_store_calls_per_command_when_no_location_is_cached() -> None:
    """A container's first command on a location: it reads the location (one call each)."""
    app = App(cache=LocationCache(0))
    assert app.calls_of(CreateLocation(caller=ANA, name="Belgrade")) == [
        ("load", "directory#locations"),
        ("append", ("location#loc_000000000001", "directory#locations")),
    ]
    a = "loc_000000000001"
    loc, john, directory = f"location#{a}", "employee#john", "directory#locations"
    assert app.calls_of(AddEmployee(caller=ANA, location_id=a, employee_id="john", name="John")) == [
        ("load", loc),
        ("append", (john, loc)),
    ]
    app.run(AddEmployee(caller=ANA, location_id=a, employee_id="mike", name="Mike"))
    assert app.calls_of(AssignApprover(caller=ANA, location_id=a, employee_id="mike")) == [("load", loc), ("append", (loc,))]
    policy = AssignLeavePolicy(caller=ANA, location_id=a, leave_type="PTO", days_per_year=20, max_rollover_days=5)
    assert app.calls_of(policy) == [("load", loc), ("append", (loc,))]
    week = ChangeWorkingWeek(caller=ANA, employee_id="john", days=("MON", "TUE", "WED", "THU"))
    assert app.calls_of(week) == [("load", john), ("append", (john,))]
    assert app.calls_of(request(date(2026, 3, 9), date(2026, 3, 13))) == [("load", john), ("load", loc), ("append", (john, f"guard:{loc}"))]
    assert app.calls_of(ApproveLeave(caller=MIKE, request_id="john~3")) == [
        ("load", john),
        ("load", loc),
        ("append", (john, f"guard:{loc}")),
    ]
    app.run(request(date(2026, 3, 16), date(2026, 3, 20)))
    assert app.calls_of(DenyLeave(caller=MIKE, request_id="john~5")) == [("load", john), ("load", loc), ("append", (john, f"guard:{loc}"))]
    app.run(request(date(2026, 3, 23), date(2026, 3, 27)))
    assert app.calls_of(CancelLeave(caller=JOHN, request_id="john~7")) == [("load", john), ("append", (john,))]
    past = AddPastLeave(caller=MIKE, employee_id="john", leave_type="PTO", start=date(2026, 1, 1), end=date(2026, 1, 2))
    assert app.calls_of(past) == [("load", john), ("load", loc), ("append", (john, f"guard:{loc}"))]
    b = app.run(CreateLocation(caller=ANA, name="Novi Sad")).body["location_id"]
    transfer = TransferEmployee(caller=ANA, employee_id="john", to_location_id=b)
    assert app.calls_of(transfer) == [
        ("load", john),
        ("load", loc),
        ("load", f"location#{b}"),
        ("append", (john, loc, f"location#{b}")),
    ]
    app.clock.set(date(2027, 1, 4))
    # Rollover: the directory, each location, then per employee one load and one append,
    # then the year's RolloverCompleted (a conditional append: once per year).
    assert app.calls_of(RollOverLeave(caller=ANA, from_year=2026)) == [
        ("load", directory),
        ("load", loc),
        ("load", f"location#{b}"),
        ("load", john),
        ("append", (john,)),
        ("load", "employee#mike"),
        ("append", ("employee#mike",)),
        ("append", ("rollover#2026",)),
    ]
    assert app.calls_of(RollOverLeave(caller=ANA, from_year=2026)) == [
        ("load", directory),
        ("load", loc),
        ("load", f"location#{b}"),
        ("load", john),
        ("load", "employee#mike"),
        ("append", ("rollover#2026",)),  # refused: the year already has its RolloverCompleted
    ]
    assert [e.event_type for e in app.events("rollover#2026")] == ["RolloverCompleted"]


def test_store_calls_per_command_with_cached_locations() -> None:
    """A warm container: the locations it read or wrote are guarded, not read again."""
    app = App()
    assert app.calls_of(CreateLocation(caller=ANA, name="Belgrade")) == [
        ("load", "directory#locations"),
        ("append", ("location#loc_000000000001", "directory#locations")),
    ]
    a = "loc_000000000001"
    loc, john, directory = f"location#{a}", "employee#john", "directory#locations"
    assert app.calls_of(AddEmployee(caller=ANA, location_id=a, employee_id="john", name="John")) == [("append", (john, loc))]
    app.run(AddEmployee(caller=ANA, location_id=a, employee_id="mike", name="Mike"))
    assert app.calls_of(AssignApprover(caller=ANA, location_id=a, employee_id="mike")) == [("append", (loc,))]
    policy = AssignLeavePolicy(caller=ANA, location_id=a, leave_type="PTO", days_per_year=20, max_rollover_days=5)
    assert app.calls_of(policy) == [("append", (loc,))]
    week = ChangeWorkingWeek(caller=ANA, employee_id="john", days=("MON", "TUE", "WED", "THU"))
    assert app.calls_of(week) == [("load", john), ("append", (john,))]
    assert app.calls_of(request(date(2026, 3, 9), date(2026, 3, 13))) == [("load", john), ("append", (john, f"guard:{loc}"))]
    assert app.calls_of(ApproveLeave(caller=MIKE, request_id="john~3")) == [("load", john), ("append", (john, f"guard:{loc}"))]
    app.run(request(date(2026, 3, 16), date(2026, 3, 20)))
    assert app.calls_of(DenyLeave(caller=MIKE, request_id="john~5")) == [("load", john), ("append", (john, f"guard:{loc}"))]
    app.run(request(date(2026, 3, 23), date(2026, 3, 27)))
    assert app.calls_of(CancelLeave(caller=JOHN, request_id="john~7")) == [("load", john), ("append", (john,))]
    past = AddPastLeave(caller=MIKE, employee_id="john", leave_type="PTO", start=date(2026, 1, 1), end=date(2026, 1, 2))
    assert app.calls_of(past) == [("load", john), ("append", (john, f"guard:{loc}"))]
    app.store.calls.clear()
    b = app.run(CreateLocation(caller=ANA, name="Novi Sad")).body["location_id"]
    assert app.store.calls == [("append", (f"location#{b}", directory))]
    transfer = TransferEmployee(caller=ANA, employee_id="john", to_location_id=b)
    assert app.calls_of(transfer) == [("load", john), ("append", (john, loc, f"location#{b}"))]
    # the transfer left both locations cached at their new versions
    assert app.calls_of(AssignApprover(caller=ANA, location_id=b, employee_id="john")) == [("append", (f"location#{b}",))]
    sara, at_b = "employee#sara", f"location#{b}"
    assert app.calls_of(AddEmployee(caller=ANA, location_id=b, employee_id="sara", name="Sara")) == [("append", (sara, at_b))]
    policy_b = AssignLeavePolicy(caller=ANA, location_id=b, leave_type="PTO", days_per_year=20, max_rollover_days=5)
    assert app.calls_of(policy_b) == [("append", (at_b,))]
    assert app.calls_of(request(date(2026, 6, 1), date(2026, 6, 5), "sara")) == [("load", sara), ("append", (sara, f"guard:{at_b}"))]
    john_approves = ApproveLeave(caller=Caller(sub="john"), request_id="sara~2")
    assert app.calls_of(john_approves) == [("load", sara), ("append", (sara, f"guard:{at_b}"))]


def test_a_command_that_changes_nothing_appends_nothing() -> None:
    app = App()
    a = office(app)
    assert app.calls_of(AssignApprover(caller=ANA, location_id=a, employee_id="mike")) == [("load", f"location#{a}")]


def test_a_refused_command_makes_no_write() -> None:
    app = App()
    office(app)
    with pytest.raises(RuleViolated):
        app.calls_of(request(date(2026, 3, 2), date(2026, 4, 30)))
    assert [c for c in app.store.calls if c[0] == "append"] == []


def test_rollover_refuses_a_non_admin_before_reading_anything() -> None:
    app = App()
    office(app)
    app.store.calls.clear()
    with pytest.raises(Forbidden):
        app.run(RollOverLeave(caller=MIKE, from_year=2026))
    assert app.store.calls == []


# --- idempotency ---------------------------------------------------------------------------


def test_a_keyed_command_stores_its_response_with_the_events() -> None:
    app = App()
    office(app)
    result = app.run(request(date(2026, 3, 9), date(2026, 3, 13)), key="k1")
    record = app.store.inner.get_idempotency("john#k1")
    assert record is not None
    assert (record.request_hash, record.response) == ("hash-of-k1", {"status": 201, "body": result.body})
    assert record.created_at == "2026-01-05T09:00:00Z"


def test_a_repeated_key_appends_nothing_and_reports_the_key_as_used() -> None:
    app = App()
    office(app)
    app.run(request(date(2026, 3, 9), date(2026, 3, 13)), key="k1")
    with pytest.raises(IdempotencyKeyUsed):
        app.run(request(date(2026, 3, 16), date(2026, 3, 20)), key="k1")
    assert [e.event_type for e in app.events("employee#john")] == ["EmployeeJoined", "LeaveRequested"]


def test_a_repeated_location_creation_creates_nothing() -> None:
    app = App()
    app.run(CreateLocation(caller=ANA, name="Belgrade"), key="k1")
    with pytest.raises(IdempotencyKeyUsed):
        app.run(CreateLocation(caller=ANA, name="Belgrade"), key="k1")
    assert len(app.events("directory#locations")) == 1


def test_a_repeated_decision_is_refused_by_the_domain_and_appends_nothing() -> None:
    app = App()
    office(app)
    app.run(request(date(2026, 3, 9), date(2026, 3, 13)))
    app.run(ApproveLeave(caller=MIKE, request_id="john~2"), key="k2")
    with pytest.raises(InvalidState):
        app.run(ApproveLeave(caller=MIKE, request_id="john~2"), key="k2")
    assert len(app.events("employee#john")) == 3


def test_a_keyed_command_that_changes_nothing_still_stores_its_response() -> None:
    app = App()
    a = office(app)
    result = app.run(AssignApprover(caller=ANA, location_id=a, employee_id="mike"), key="k3")
    record = app.store.inner.get_idempotency("ana#k3")
    assert record is not None and record.response == {"status": 200, "body": result.body}


def test_a_keyed_rollover_stores_its_response_after_the_walk() -> None:
    app = App()
    office(app)
    app.clock.set(date(2027, 1, 4))
    result = app.run(RollOverLeave(caller=ANA, from_year=2026), key="yearly-2026")
    record = app.store.inner.get_idempotency("ana#yearly-2026")
    assert record is not None and record.response == {"status": 202, "body": result.body}
    with pytest.raises(IdempotencyKeyUsed):
        app.run(RollOverLeave(caller=ANA, from_year=2026), key="yearly-2026")
    assert [e.event_type for e in app.events("employee#john")].count("LeaveRolledOver") == 1


# --- lost races ----------------------------------------------------------------------------


class RacingStore(CountingStore):
    """Before each of the first `races` appends, a competitor writes first."""

    def __init__(self, inner: InMemoryEventStore, competitor: Callable[[], object], races: int = 1) -> None:
        super().__init__(inner)
        self.competitor = competitor
        self.races = races

    def append(self, appends: Sequence[Append], idempotency: IdempotencyRecord | None = None) -> list[StoredEvent]:
        if self.races:
            self.races -= 1
            self.competitor()
        return super().append(appends, idempotency)


def test_a_lost_race_reruns_load_decide_append() -> None:
    app = App()
    office(app)
    rival = LeaveService(app.store.inner, clock=app.clock)
    racing = RacingStore(
        app.store.inner,
        lambda: rival.execute(request(date(2026, 3, 16), date(2026, 3, 20)), CommandContext(caller="john", correlation_id="rival")),
    )
    result = LeaveService(racing, clock=app.clock).execute(
        request(date(2026, 3, 9), date(2026, 3, 13)), CommandContext(caller="john", correlation_id="me")
    )
    assert result.body == {"request_id": "john~3", "working_days": 5}
    # the retry reloads the employee; the location it read first is cached and guarded again
    assert [c[0] for c in racing.calls] == ["load", "load", "append", "load", "append"]


def test_a_retry_decides_again_with_what_the_rival_wrote() -> None:
    app = App()
    office(app)
    rival = LeaveService(app.store.inner, clock=app.clock)
    racing = RacingStore(
        app.store.inner,
        lambda: rival.execute(request(date(2026, 4, 1), date(2026, 4, 28)), CommandContext(caller="john", correlation_id="rival")),
    )
    with pytest.raises(RuleViolated) as error:
        LeaveService(racing, clock=app.clock).execute(
            request(date(2026, 3, 9), date(2026, 3, 13)), CommandContext(caller="john", correlation_id="me")
        )
    assert error.value.code == "insufficient_balance"


class AlwaysConflicting(CountingStore):
    def append(self, appends: Sequence[Append], idempotency: IdempotencyRecord | None = None) -> list[StoredEvent]:
        self.calls.append(("append", tuple(a.stream_id if a.events else f"guard:{a.stream_id}" for a in appends)))
        raise ConcurrencyError("someone else was faster", stream_ids=frozenset({"employee#john"}))


def test_retries_are_bounded_then_the_conflict_propagates() -> None:
    app = App()
    office(app)
    store = AlwaysConflicting(app.store.inner)
    service = LeaveService(store, clock=app.clock, max_attempts=3)
    with pytest.raises(ConcurrencyError):
        service.execute(request(date(2026, 3, 9), date(2026, 3, 13)), CommandContext(caller="john", correlation_id="c"))
    assert [c[0] for c in store.calls].count("append") == 3


def test_adding_an_existing_employee_conflicts_then_is_refused() -> None:
    app = App()
    a = office(app)
    app.store.calls.clear()
    with pytest.raises(InvalidState) as error:
        app.run(AddEmployee(caller=ANA, location_id=a, employee_id="john", name="John"))
    assert error.value.code == "employee_exists"
    assert app.store.calls == [
        ("append", ("employee#john", f"location#{a}")),  # optimistic: the stream is assumed new
        ("load", "employee#john"),  # the retry reads it; refused on the cached location,
        ("load", f"location#{a}"),  # so refused again on a fresh read before it is returned
    ]
    assert len(app.events("employee#john")) == 1


# --- rollover walks every employee -----------------------------------------------------------


def test_rollover_reaches_every_employee_of_every_location_once() -> None:
    app = App()
    office(app)
    b = app.run(CreateLocation(caller=ANA, name="Novi Sad")).body["location_id"]
    app.run(AddEmployee(caller=ANA, location_id=b, employee_id="sara", name="Sara"))
    app.run(AssignLeavePolicy(caller=ANA, location_id=b, leave_type="PTO", days_per_year=25, max_rollover_days=3))
    app.run(TransferEmployee(caller=ANA, employee_id="mike", to_location_id=b))
    app.clock.set(date(2027, 1, 4))
    result = app.run(RollOverLeave(caller=ANA, from_year=2026))
    assert result.body["employees"] == 3
    for who in ("john", "mike", "sara"):
        rolled = [e for e in app.events(f"employee#{who}") if e.event_type == "LeaveRolledOver"]
        assert len(rolled) == 1, who
    assert [e.data["days"] for e in app.events("employee#sara") if e.event_type == "LeaveRolledOver"] == [3]


def test_rollover_of_a_future_year_is_refused() -> None:
    app = App()
    office(app)
    with pytest.raises(RuleViolated) as error:
        app.run(RollOverLeave(caller=ANA, from_year=2027))
    assert error.value.code == "year_not_started"


# --- metadata and wiring ---------------------------------------------------------------------


def test_events_carry_actor_idempotency_correlation_and_causation() -> None:
    app = App()
    office(app)
    app.run(request(date(2026, 3, 9), date(2026, 3, 13)), key="k1", correlation_id="req-42")
    stored = app.events("employee#john")[-1]
    assert stored.metadata == {
        "actor": "john",
        "idempotency_key": "john#k1",
        "correlation_id": "req-42",
        "causation_id": "req-42",
    }
    assert stored.occurred_at == "2026-01-05T09:00:00Z"
    assert len(stored.event_id) == 32 and len({e.event_id for e in app.events("employee#john")}) == 2


def test_an_explicit_causation_id_is_kept() -> None:
    app = App()
    context = CommandContext(caller="ana", correlation_id="c", causation_id="schedule-2027")
    app.service.execute(CreateLocation(caller=ANA, name="Belgrade"), context)
    assert app.events("directory#locations")[0].metadata["causation_id"] == "schedule-2027"


def test_a_naive_clock_is_taken_as_utc() -> None:
    store = InMemoryEventStore()
    service = LeaveService(store, clock=lambda: datetime(2026, 1, 5, 23, 30))
    service.execute(CreateLocation(caller=ANA, name="Belgrade"), CommandContext(caller="ana", correlation_id="c"))
    assert store.load("directory#locations")[0].occurred_at == "2026-01-05T23:30:00Z"


def test_location_ids_come_from_the_id_factory() -> None:
    service = LeaveService(InMemoryEventStore(), new_id=lambda: "0123456789abcdef0123456789abcdef")
    result = service.execute(CreateLocation(caller=ANA, name="Belgrade"), CommandContext(caller="ana", correlation_id="c"))
    assert result.body == {"location_id": "loc_0123456789ab"}


@pytest.mark.parametrize(
    "context",
    [
        CommandContext(caller="mike", correlation_id="c"),
        CommandContext(caller="ana", correlation_id="c", idempotency_key="ana#k"),
        CommandContext(caller="ana", correlation_id="c", request_hash="h"),
    ],
    ids=["caller-mismatch", "key-without-hash", "hash-without-key"],
)
def test_a_miswired_context_is_a_programming_error(context: CommandContext) -> None:
    with pytest.raises(ValueError):
        LeaveService(InMemoryEventStore()).execute(CreateLocation(caller=ANA, name="Belgrade"), context)


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LeaveService(InMemoryEventStore(), max_attempts=0)


class ChangeBeforeFirstAppend(CountingStore):
    """Runs `change` once, right before the first append reaches the store: a concurrent
    writer that lands between a command's load and its append."""

    def __init__(self, inner: InMemoryEventStore, change: Callable[[], None]) -> None:
        super().__init__(inner)
        self.change: Callable[[], None] | None = change

    def append(self, appends: Sequence[Append], idempotency: IdempotencyRecord | None = None) -> list[StoredEvent]:
        if self.change is not None:
            change, self.change = self.change, None
            change()
        return super().append(appends, idempotency)


def test_approval_is_decided_again_when_the_approver_changes_between_load_and_append() -> None:
    app = App()
    loc = office(app)
    app.run(AddEmployee(caller=ANA, location_id=loc, employee_id="sara", name="Sara"))
    request_id = app.run(request(date(2026, 3, 9), date(2026, 3, 13))).body["request_id"]
    # Ana makes Sara the approver while Mike's approval is between its load and its append
    racing = App(
        store=ChangeBeforeFirstAppend(app.store.inner, lambda: app.run(AssignApprover(caller=ANA, location_id=loc, employee_id="sara")))
    )

    with pytest.raises(Forbidden):
        racing.run(ApproveLeave(caller=MIKE, request_id=request_id))

    assert [e.event_type for e in app.events("employee#john")][-1] == "LeaveRequested"
    assert [c[0] for c in racing.store.calls] == ["load", "load", "append", "load", "load"]


# --- the location cache: stale entries cost a round trip, never a wrong decision ------------


def two_containers() -> tuple[App, App, str]:
    """Two services on one store, each with its own cache (two Lambda containers), both warm."""
    first = App()
    loc = office(first)
    first.run(AddEmployee(caller=ANA, location_id=loc, employee_id="sara", name="Sara"))
    second = App(store=CountingStore(first.store.inner), clock=first.clock)
    second.run(request(date(2026, 3, 9), date(2026, 3, 13)))  # reads and caches the location
    return first, second, loc


def test_a_stale_cached_approver_cannot_approve() -> None:
    first, second, loc = two_containers()
    first.run(AssignApprover(caller=ANA, location_id=loc, employee_id="sara"))  # the second container does not know

    second.store.calls.clear()
    with pytest.raises(Forbidden):
        second.run(ApproveLeave(caller=MIKE, request_id="john~2"))

    assert second.store.calls == [
        ("load", "employee#john"),  # the cache says Mike is the approver: allowed,
        ("append", ("employee#john", f"guard:location#{loc}")),  # but the guard catches the stale entry
        ("load", "employee#john"),  # the retry, free of charge
        ("load", f"location#{loc}"),  # decides on a fresh read: Mike is no longer the approver
    ]
    assert [e.event_type for e in second.events("employee#john")][-1] == "LeaveRequested"


def test_a_refusal_decided_on_a_stale_cache_is_decided_again() -> None:
    first, second, loc = two_containers()
    first.run(AssignApprover(caller=ANA, location_id=loc, employee_id="sara"))

    second.store.calls.clear()
    result = second.run(ApproveLeave(caller=SARA, request_id="john~2"))  # the cache still says Mike

    assert second.store.calls == [
        ("load", "employee#john"),
        ("load", f"location#{loc}"),  # refused on the cached location: decided again on a fresh read
        ("append", ("employee#john", f"guard:location#{loc}")),
    ]
    assert result.body == {"request_id": "john~2", "status": "approved"}
    second.store.calls.clear()  # and the second container now knows Sara is the approver
    second.run(request(date(2026, 3, 16), date(2026, 3, 17)))
    second.run(DenyLeave(caller=SARA, request_id="john~4"))
    assert [c for c in second.store.calls if c[0] == "load" and c[1].startswith("location#")] == []


def test_nothing_to_change_on_a_stale_cache_is_confirmed_on_fresh_reads() -> None:
    first, second, loc = two_containers()
    first.run(AssignApprover(caller=ANA, location_id=loc, employee_id="sara"))

    # the second container's cache still says Mike is the approver: "nothing to change" would be wrong
    second.run(AssignApprover(caller=ANA, location_id=loc, employee_id="mike"))

    assigned = [e.data["approver_id"] for e in first.events(f"location#{loc}") if e.event_type == "ApproverAssigned"]
    assert assigned == ["mike", "sara", "mike"]


def test_a_stale_cache_entry_is_not_counted_as_a_lost_race() -> None:
    first = App()
    loc = office(first)
    second = App(store=CountingStore(first.store.inner), clock=first.clock)
    second.service = LeaveService(second.store, clock=first.clock, max_attempts=1, location_cache=second.cache)
    second.run(request(date(2026, 3, 9), date(2026, 3, 13)))
    first.run(AddEmployee(caller=ANA, location_id=loc, employee_id="sara", name="Sara"))  # the location moves on

    result = second.run(request(date(2026, 3, 16), date(2026, 3, 20)))  # one attempt allowed, and it is enough

    assert result.body["request_id"] == "john~3"


def test_a_cached_location_is_brought_up_to_date_from_the_events_after_it() -> None:
    """A warm container reads only what was appended to a location since it cached it, and
    ends with the state a fold of the whole stream gives."""
    first, second, loc = two_containers()
    cached = second.cache.get(loc)
    assert cached is not None
    first.run(AddEmployee(caller=ANA, location_id=loc, employee_id="ivo", name="Ivo"))
    first.run(AssignApprover(caller=ANA, location_id=loc, employee_id="sara"))
    second.store.loads.clear()
    state = second.service._load_location(loc)

    assert second.store.loads == [(f"location#{loc}", cached.version)]
    assert state == location.fold(loc, [parse_event(e.event_type, e.data) for e in first.events(f"location#{loc}")])
    assert (state.approver_id, "ivo" in state.members, second.cache.get(loc)) == ("sara", True, state)


def test_the_location_cache_keeps_the_most_recently_used_existing_locations() -> None:
    cache = LocationCache(2)
    a, b, c = (location.LocationState(location_id=i, version=1) for i in "abc")
    cache.put(location.LocationState(location_id="new"))  # not created yet: never kept
    cache.put(a)
    cache.put(b)
    assert cache.get("a") == a  # a is now the most recently used
    cache.put(c)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (a, None, c)
    cache.put(location.LocationState(location_id="a", version=0))
    cache.put(a)
    newer = location.LocationState(location_id="c", version=2)
    cache.put(newer)
    cache.put(c)  # an older state read by a slower request does not replace a newer one
    assert cache.get("c") == newer
    cache.drop(["location#c", "employee#a"])
    assert (cache.get("a"), cache.get("c"), len(cache)) == (a, None, 1)
    cache.put_directory_version(3)
    cache.drop(["directory#locations"])
    assert cache.directory_version is None


def test_a_zero_sized_location_cache_keeps_nothing() -> None:
    cache = LocationCache(0)
    cache.put(location.LocationState(location_id="a", version=1))
    cache.put_directory_version(1)
    assert (cache.get("a"), cache.directory_version, len(cache)) == (None, None, 0)
    with pytest.raises(ValueError, match="max_entries"):
        LocationCache(-1)
