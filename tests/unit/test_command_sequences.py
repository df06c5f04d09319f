"""Property: whatever commands the service accepts, every read model projects them, and equals
a direct fold of the events (issue 8.2).

Hypothesis draws sequences of commands (locations, hires, approvers, policies, working weeks,
leave requests and past leaves with arbitrary dates, in and far outside the horizon, decisions,
cancellations, transfers with arbitrary dates, rollovers, days passing) and runs them through
`LeaveService` on the in-memory store. Then:

- a refused command appended nothing;
- the accepted events project without error on every projection, delivered in order on
  DynamoDB's 100-action transactions, and again shuffled and duplicated on 20-action ones;
- each read model equals the oracle below: a fold of the streams with the domain's `fold`,
  written out row by row, independently of the projections' incremental code (for calendar
  feeds: the one `token#<sha256>` row of each feed's current token while it is active).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, IdempotencyRecord, StoredEvent
from acme_eventsourcing.runtime.projections import InMemoryReadModelStore, Projector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leave import calendar_feed, employee, location
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
    CreateCalendarFeed,
    CreateLocation,
    DenyLeave,
    LinkSlackUser,
    RequestLeave,
    RevokeCalendarFeed,
    RollOverLeave,
    RotateCalendarFeedToken,
    TransferEmployee,
    UnlinkSlackUser,
)
from leave.employee import EmployeeState, LeaveStatus
from leave.errors import DomainError
from leave.events import parse_event
from leave.location import LocationState
from leave_api.service import CommandContext, LeaveService
from leave_projections.rebuild import PROJECTIONS

ADMIN = Caller(sub="ana", groups=frozenset({"admin"}))
PEOPLE = ("e1", "e2", "e3")
START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

# --- the commands ------------------------------------------------------------------------

near_days = st.dates(date(2026, 1, 1), date(2027, 3, 1))
any_days = st.one_of(
    near_days,
    st.dates(date(1990, 1, 1), date(2200, 12, 31)),
    st.sampled_from([date(1, 1, 1), date(1999, 12, 31), date(2000, 1, 1), date(2099, 12, 31), date(2100, 1, 1), date(9998, 6, 1)]),
    st.just(date(9999, 12, 31)),
)
leave_types = st.sampled_from(["PTO", "SICK"])
someone = st.sampled_from(PEOPLE)
index = st.integers(0, 5)


@st.composite
def periods(draw: st.DrawFn) -> tuple[date, date]:
    start = draw(st.one_of(near_days, near_days, near_days, any_days))
    if draw(st.integers(0, 4)) == 0:
        end = draw(any_days)
    else:
        shift = draw(st.integers(-2, 30))
        end = start + timedelta(days=shift) if date.min + timedelta(days=2) <= start <= date.max - timedelta(days=30) else start
    return start, end


requests = st.tuples(st.just("request"), someone, leave_types, periods())
decisions = st.tuples(st.just("decide"), st.sampled_from(["approve", "deny", "cancel"]), index, st.one_of(st.just(ADMIN.sub), someone))
steps = st.one_of(
    requests,
    decisions,
    requests,
    decisions,
    st.tuples(st.just("location")),
    st.tuples(st.just("hire"), someone, index),
    st.tuples(st.just("approver"), index, someone),
    st.tuples(st.just("policy"), index, leave_types, st.sampled_from([0, 0.5, 10, 20, 366]), st.sampled_from([0, 2.5, 5])),
    st.tuples(st.just("week"), someone, st.sets(st.sampled_from(["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]), min_size=1)),
    st.tuples(st.just("request"), someone, leave_types, periods()),
    st.tuples(st.just("past"), someone, leave_types, periods(), st.one_of(st.just(ADMIN.sub), someone)),
    st.tuples(st.just("decide"), st.sampled_from(["approve", "deny", "cancel"]), index, st.one_of(st.just(ADMIN.sub), someone)),
    st.tuples(st.just("transfer"), someone, index, st.one_of(st.none(), near_days, any_days)),
    st.tuples(st.just("transfer"), someone, index, st.one_of(st.none(), near_days)),
    st.tuples(st.just("rollover"), st.integers(1998, 2101)),
    st.tuples(st.just("days pass"), st.integers(1, 400)),
    st.tuples(st.sampled_from(["remind", "escalate"]), index),
    st.tuples(st.just("feed"), st.one_of(st.just(ADMIN.sub), someone), st.sampled_from(["location", "employee"]), index),
    st.tuples(st.sampled_from(["rotate", "revoke"]), index, st.one_of(st.just(ADMIN.sub), someone)),
)


class RecordingStore(InMemoryEventStore):
    """The in-memory event store, keeping every appended event in publish order."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[StoredEvent] = []

    def append(self, appends: Sequence[Append], idempotency: IdempotencyRecord | None = None) -> list[StoredEvent]:
        stored = super().append(appends, idempotency)
        self.published.extend(stored)
        return stored


WORKFLOW_CONTEXT = CommandContext(caller="system:reminders", correlation_id="c")


@dataclass
class World:
    store: RecordingStore = field(default_factory=RecordingStore)
    now: datetime = START
    locations: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    tokens: Iterator[str] = field(default_factory=lambda: (f"token-{n:040d}" for n in itertools.count(1)))

    def __post_init__(self) -> None:
        ids = itertools.count(1)
        self.service = LeaveService(self.store, clock=lambda: self.now, new_id=lambda: f"{next(ids):012x}{0:020x}")

    def location(self, i: int) -> str:
        return self.locations[i % len(self.locations)] if self.locations else "loc_missing"

    def request(self, i: int) -> str:
        return self.requests[i % len(self.requests)] if self.requests else "e1~9"

    def command(self, step: tuple[Any, ...]) -> Command | None:
        match step:
            case ("location",):
                return CreateLocation(caller=ADMIN, name="Office")
            case ("hire", who, i):
                return AddEmployee(caller=ADMIN, location_id=self.location(i), employee_id=who, name=who.upper())
            case ("approver", i, who):
                return AssignApprover(caller=ADMIN, location_id=self.location(i), employee_id=who)
            case ("policy", i, leave_type, days, cap):
                return AssignLeavePolicy(
                    caller=ADMIN, location_id=self.location(i), leave_type=leave_type, days_per_year=days, max_rollover_days=cap
                )
            case ("week", who, days):
                return ChangeWorkingWeek(caller=ADMIN, employee_id=who, days=tuple(sorted(days)))
            case ("request", who, leave_type, (start, end)):
                return RequestLeave(caller=Caller(sub=who), employee_id=who, leave_type=leave_type, start=start, end=end)
            case ("past", who, leave_type, (start, end), by):
                caller = ADMIN if by == ADMIN.sub else Caller(sub=by)
                return AddPastLeave(caller=caller, employee_id=who, leave_type=leave_type, start=start, end=end)
            case ("decide", what, i, by):
                caller = ADMIN if by == ADMIN.sub else Caller(sub=by)
                kind = {"approve": ApproveLeave, "deny": DenyLeave, "cancel": CancelLeave}[what]
                return kind(caller=caller, request_id=self.request(i))
            case ("transfer", who, i, on):
                return TransferEmployee(caller=ADMIN, employee_id=who, to_location_id=self.location(i), effective_on=on)
            case ("rollover", year):
                return RollOverLeave(caller=ADMIN, from_year=year)
            case ("slack link", who, slack_user):
                return LinkSlackUser(caller=Caller(sub=who), team_id="T0ACME", slack_user_id=slack_user, employee_id=who)
            case ("slack unlink", who, slack_user):
                return UnlinkSlackUser(caller=Caller(sub=who), team_id="T0ACME", slack_user_id=slack_user)
            case ("days pass", days):
                self.now += timedelta(days=days)
                return None
            case ("feed", by, scope, i):
                caller = ADMIN if by == ADMIN.sub else Caller(sub=by)
                subject = self.location(i) if scope == "location" else PEOPLE[i % len(PEOPLE)]
                return CreateCalendarFeed(caller=caller, scope=scope, subject_id=subject, token=next(self.tokens))
            case ("rotate" | "revoke" as what, i, by):
                caller = ADMIN if by == ADMIN.sub else Caller(sub=by)
                feed_id = self.feeds[i % len(self.feeds)] if self.feeds else "feed_missing"
                if what == "revoke":
                    return RevokeCalendarFeed(caller=caller, feed_id=feed_id)
                return RotateCalendarFeedToken(caller=caller, feed_id=feed_id, token=next(self.tokens))
        raise AssertionError(step)

    def run(self, step: tuple[Any, ...]) -> None:
        if step[0] in ("remind", "escalate"):  # the reminders workflow's tasks, not a command
            before = len(self.store.published)
            try:
                self.service.remind(self.request(step[1]), escalate=step[0] == "escalate", working_days_pending=2, context=WORKFLOW_CONTEXT)
            except DomainError:
                assert len(self.store.published) == before, f"{step} was refused but appended events"
            return
        command = self.command(step)
        if command is None:
            return
        before = len(self.store.published)
        try:
            result = self.service.execute(command, CommandContext(caller=command.caller.sub, correlation_id="c"))
        except DomainError:
            assert len(self.store.published) == before, f"{command} was refused but appended events"
            return
        if isinstance(command, CreateLocation):
            self.locations.append(result.body["location_id"])
        if isinstance(command, CreateCalendarFeed):
            self.feeds.append(result.body["feed_id"])
        if "request_id" in result.body and isinstance(command, (RequestLeave, AddPastLeave)):
            self.requests.append(result.body["request_id"])


# --- the oracle: fold the streams, write the rows out ----------------------------------------


@dataclass(frozen=True)
class Folded:
    events: dict[str, list[StoredEvent]]
    employees: dict[str, EmployeeState]
    locations: dict[str, LocationState]


def fold(published: list[StoredEvent]) -> Folded:
    streams: dict[str, list[StoredEvent]] = {}
    for e in published:
        streams.setdefault(e.stream_id, []).append(e)
    parsed = {s: [parse_event(e.event_type, e.data) for e in evs] for s, evs in streams.items()}
    return Folded(
        events=streams,
        employees={s.split("#", 1)[1]: employee.fold(s.split("#", 1)[1], evs) for s, evs in parsed.items() if s.startswith("employee#")},
        locations={s.split("#", 1)[1]: location.fold(s.split("#", 1)[1], evs) for s, evs in parsed.items() if s.startswith("location#")},
    )


def expected_balances(world: Folded) -> dict[tuple[str, str], dict[str, Any]]:
    rows = {}
    for employee_id, state in world.employees.items():
        locations = {p.location_id: world.locations[p.location_id] for p in state.placements}
        ends = [int(e.occurred_at[:4]) for e in world.events[f"employee#{employee_id}"]]
        ends += [leave.end.year for leave in state.leaves.values()]
        ends += [from_year + 1 for _, from_year in state.rollovers] + [p.since.year for p in state.placements]
        types = {t for loc in locations.values() for t in loc.policies} | {leave.leave_type for leave in state.leaves.values()}
        types |= {t for t, _ in state.rollovers}
        for year in range(state.placements[0].since.year, max(ends) + 2):
            for leave_type in types:
                rows[(f"balance#{employee_id}", f"{year:04d}#{leave_type}")] = balance(state, locations, year, leave_type).as_dict()
    return rows


def expected_pending(world: Folded) -> dict[tuple[str, str], dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for employee_id, state in world.employees.items():
        for leave in state.leaves.values():
            if leave.status == LeaveStatus.PENDING:
                rows[(f"pending#{state.location_id}", leave.request_id)] = {
                    "request_id": leave.request_id,
                    "employee_id": employee_id,
                    "leave_type": leave.leave_type,
                    "start": leave.start.isoformat(),
                    "end": leave.end.isoformat(),
                    "working_days": leave.working_days,
                }
    for location_id, loc in world.locations.items():
        if loc.approver_id:
            rows[(f"approver#{loc.approver_id}", location_id)] = {"location_id": location_id}
    return rows


def expected_calendar(world: Folded) -> dict[tuple[str, str], dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for employee_id, state in world.employees.items():
        for leave in state.leaves.values():
            if leave.status not in (LeaveStatus.PENDING, LeaveStatus.APPROVED):
                continue
            # the location the employee is in on the leave's first day (the first one before they joined)
            starts = [(date(p.since.year, 1, 1) if i == 0 else p.since, p.location_id) for i, p in enumerate(state.placements)]
            where = [loc for since, loc in starts if since <= leave.start][-1:] or [starts[0][1]]
            rows[(f"calendar#{where[0]}", f"{leave.end.isoformat()}#{leave.request_id}")] = {
                "request_id": leave.request_id,
                "employee_id": employee_id,
                "name": state.name,
                "leave_type": leave.leave_type,
                "start": leave.start.isoformat(),
                "end": leave.end.isoformat(),
                "status": str(leave.status),
                "working_days": leave.working_days,
            }
    for location_id, loc in world.locations.items():
        rows[(f"location#{location_id}", "state")] = {"name": loc.name, "members": sorted(loc.members)}
    for stream, evs in world.events.items():
        if stream.startswith("calendar-feed#"):
            parsed = [parse_event(e.event_type, e.data) for e in evs]
            state = calendar_feed.fold(stream.split("#", 1)[1], parsed)
            digest = [e.token_sha256 for e in parsed if hasattr(e, "token_sha256")][-1]
            if state.status == calendar_feed.ACTIVE:
                rows[(f"token#{digest}", "feed")] = {"feed_id": state.feed_id, "scope": state.scope, "subject_id": state.subject_id}
    return rows


def expected_audit(world: Folded) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (f"audit#{e.stream_id}", f"{e.version:010d}"): {"version": e.version, "event_type": e.event_type, "data": dict(e.data)}
        for evs in world.events.values()
        for e in evs
    }


def actual(store: InMemoryReadModelStore, projection: str) -> dict[tuple[str, str], dict[str, Any]]:
    rows = {(r.pk, r.sk): dict(r.doc) for r in store.rows()}
    match projection:
        case "balance":
            return {k: v for k, v in rows.items() if k[0].startswith("balance#")}
        case "pending":
            return {k: v for k, v in rows.items() if k[0].startswith(("pending#", "approver#"))}
        case "calendar":
            found = {k: {f: v[f] for f in v if f != "ics"} for k, v in rows.items() if k[0].startswith("calendar#")}
            found.update({k: {"name": v["name"], "members": v["members"]} for k, v in rows.items() if k[0].startswith("location#")})
            found.update({k: {f: v[f] for f in ("feed_id", "scope", "subject_id")} for k, v in rows.items() if k[0].startswith("token#")})
            return found
        case "audit":
            return {
                k: {"version": v["metadata"]["version"], "event_type": v["metadata"]["event_type"], "data": v["data"]}
                for k, v in rows.items()
            }
    raise AssertionError(projection)


ORACLES = {"balance": expected_balances, "pending": expected_pending, "calendar": expected_calendar, "audit": expected_audit}


def project(name: str, events: InMemoryEventStore, delivery: list[StoredEvent], max_actions: int) -> InMemoryReadModelStore:
    store = InMemoryReadModelStore(max_actions=max_actions)
    projector = Projector(projection=PROJECTIONS[name], store=store, events=events, backoff=lambda attempt: None)
    for event in delivery:
        projector.handle(event)
    return store


def check_projections(world: World, shuffle: random.Random) -> None:
    published = world.store.published
    folded = fold(published)
    shuffled = published + shuffle.sample(published, len(published) // 2)
    shuffle.shuffle(shuffled)
    for name, oracle in ORACLES.items():
        expected = oracle(folded)
        for delivery, max_actions in ((published, 100), (shuffled, 20)):
            store = project(name, world.store, delivery, max_actions)
            assert actual(store, name) == expected, name
            assert store.checkpoints() == {s: len(evs) for s, evs in folded.events.items()}
            assert not any(r.pk.startswith("refresh#") for r in store.rows())
            assert not any(store.checkpoint_state(s).refresh_pending for s in folded.events)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.just("location")), min_size=2, max_size=3),
    st.lists(st.tuples(st.just("hire"), someone, index), max_size=2),
    st.lists(steps, min_size=5, max_size=30),
    st.randoms(use_true_random=False),
)
def test_whatever_the_service_accepts_projects_and_equals_a_fold_of_the_events(
    setup: list[tuple[Any, ...]], hires: list[tuple[Any, ...]], more: list[tuple[Any, ...]], shuffle: random.Random
) -> None:
    world = World()
    office = [("hire", "e1", 0), ("hire", "e2", 0), ("approver", 0, "e2"), ("policy", 0, "PTO", 20, 5)]
    for step in [*setup, *office, *hires, *more]:
        world.run(step)
    check_projections(world, shuffle)


SCRIPT: list[tuple[Any, ...]] = [
    ("location",),
    ("location",),
    ("hire", "e1", 0),
    ("hire", "e2", 0),
    ("hire", "e3", 1),
    ("approver", 0, "e2"),
    ("approver", 1, "e3"),
    ("policy", 0, "PTO", 20, 5),
    ("policy", 1, "PTO", 25, 5),
    ("request", "e1", "PTO", (date(2026, 7, 6), date(2026, 7, 10))),
    ("decide", "approve", 0, "e2"),
    ("request", "e1", "PTO", (date(2026, 8, 3), date(2026, 8, 4))),
    ("decide", "deny", 1, "e2"),
    ("request", "e1", "PTO", (date(2026, 9, 7), date(2026, 9, 7))),
    ("decide", "cancel", 2, "e1"),
    ("request", "e1", "PTO", (date(2026, 12, 28), date(2027, 1, 5))),
    ("past", "e1", "PTO", (date(2026, 5, 4), date(2026, 5, 5)), "ana"),
    ("week", "e1", {"MON", "TUE", "WED", "THU"}),
    ("request", "e2", "PTO", (date(2099, 12, 30), date(2099, 12, 30))),
    ("transfer", "e1", 1, date(2026, 10, 1)),
    ("transfer", "e2", 1, None),
    ("policy", 1, "PTO", 30, 10),
    ("remind", 3),
    ("escalate", 3),
    ("days pass", 250),
    ("rollover", 2026),
    ("request", "e1", "PTO", (date(2150, 6, 1), date(2150, 6, 1))),
    ("feed", "e1", "location", 1),
    ("feed", "e3", "employee", 0),
    ("rotate", 0, "e1"),
    ("revoke", 1, "ana"),
    ("slack link", "e2", "U0E2"),  # a stream no projection but the audit follows
    ("slack unlink", "e2", "U0E2"),
]


def test_a_scripted_sequence_with_every_event_type_projects_and_equals_the_fold() -> None:
    world = World()
    for step in SCRIPT:
        world.run(step)
    from leave.events import ALL_EVENT_TYPES

    assert {e.event_type for e in world.store.published} == set(ALL_EVENT_TYPES)
    for seed in range(2):
        check_projections(world, random.Random(seed))


def test_a_leave_ahead_by_decades_is_accepted_within_the_horizon_and_projects() -> None:
    """The example of the issue, moved inside the horizon: 2099 is 73 years of balance rows."""
    world = World()
    for step in [
        ("location",),
        ("hire", "e1", 0),
        ("policy", 0, "PTO", 20, 5),
        ("request", "e1", "PTO", (date(2099, 12, 30), date(2099, 12, 30))),
    ]:
        world.run(step)
    assert world.requests == ["e1~2"]
    check_projections(world, random.Random(1))


def test_leaves_beyond_the_horizon_are_refused_and_append_nothing() -> None:
    world = World()
    for step in [("location",), ("hire", "e1", 0), ("policy", 0, "PTO", 20, 5)]:
        world.run(step)
    before = len(world.store.published)
    for start, end in [(date(2150, 6, 1), date(2150, 6, 1)), (date(2026, 6, 1), date(9999, 12, 31)), (date(9998, 6, 1), date(9998, 6, 1))]:
        world.run(("request", "e1", "PTO", (start, end)))
    world.run(("transfer", "e1", 0, date(2150, 1, 1)))
    assert len(world.store.published) == before and world.requests == []
