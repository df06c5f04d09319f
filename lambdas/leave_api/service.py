"""The leave service's application service: load, decide, append, retry.

`LeaveService` is an `acme_eventsourcing.runtime.service.ApplicationService` (which
appends, retries lost races and stores the idempotency record; the response it stores is
the command's declaration's, `leave_api.api`). `LeaveService.execute(command, context)` loads the streams a command needs (each at most
once), runs the pure domain decision and appends the new events of every stream it touches in
one transaction, together with the idempotency record when the request carried an
`Idempotency-Key`. A lost race (`ConcurrencyError`) reruns the whole load-decide-append, a
bounded number of times, then propagates (HTTP 409). `IdempotencyKeyUsed` and `DomainError`
propagate unchanged: the HTTP layer then looks up the stored first response.

Locations are reference data: an employee's command decides on its location's approver and
policies, but locations change rarely (an admin's assignment, a hire, a transfer). The
service keeps the location states it has read or written in a `LocationCache` (one per Lambda
container) and uses them without reading again. That is safe because every location a
decision used goes into the append as a read guard at the version the state had (no extra
call): if the location has moved on, the transaction fails, the service drops that entry and
decides again on a fresh read; such a retry is not counted as a lost race. A decision that no
append checks (a refusal, or nothing to change) is made again on fresh reads of the cached
locations before it is returned. Stale data can cost a command a round trip, never decide it.

DynamoDB calls per successful command (streams under one page; L = locations the
employee belonged to in the leave's years, usually 1). "Warm": the container has already
read or written the locations involved; "cold": its first command touching them.

============================================  ======  ========================================
command                                       warm    cold (one load per location not cached)
============================================  ======  ========================================
create location                               1       2: load directory, append
assign approver, assign policy                1       2: load location, append
add employee                                  1       2: load location, append (the employee stream
                                                      is assumed new; if it is not, the retry loads it)
change working week, cancel leave             2       2: load employee, append
request leave, add past leave                 2       2 + L
approve, deny                                 2       3: load employee, load location, append
transfer                                      2       4: load employee, both locations, append
rollover                                      1 + locations + 2 x employees + 1 (at most; fresh reads)
============================================  ======  ========================================

A command that changes nothing (e.g. the same approver again) appends nothing, or only its
idempotency record.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from acme_eventsourcing.runtime.eventstore.ports import ConcurrencyError, EventStore, new_event_id
from acme_eventsourcing.runtime.items import timestamp
from acme_eventsourcing.runtime.service import DEFAULT_MAX_ATTEMPTS, ApplicationService, CommandContext, CommandResult, Respond, utc_now
from leave import calendar_feed, employee, location, reminders, slack_link
from leave.commands import (
    AddEmployee,
    ApproveLeave,
    AssignApprover,
    AssignLeavePolicy,
    CancelLeave,
    Command,
    CreateCalendarFeed,
    CreateLocation,
    DenyLeave,
    LinkSlackUser,
    RevokeCalendarFeed,
    RollOverLeave,
    RotateCalendarFeedToken,
    UnlinkSlackUser,
)
from leave.employee import EmployeeState, LeaveStatus, employee_of_request
from leave.errors import DomainError, NotFound
from leave.events import Event, LeaveRolledOver, LocationRegistered, RolloverCompleted, parse_event
from leave.ids import (
    DIRECTORY_STREAM_ID,
    calendar_feed_stream_id,
    employee_stream_id,
    location_stream_id,
    rollover_stream_id,
    slack_link_stream_id,
)
from leave.location import LocationState
from leave.workdays import DEFAULT_WORKING_WEEK

LOCATION_ID_PREFIX = "loc_"
FEED_ID_PREFIX = "feed_"
LOCATION_STREAM_PREFIX = location_stream_id("")
DEFAULT_CACHED_LOCATIONS = 1024
__all__ = ["DEFAULT_MAX_ATTEMPTS", "CommandContext", "CommandResult", "LeaveService", "LocationCache", "utc_now"]

_T = TypeVar("_T")


uuid_hex = new_event_id
"""A uuid4 as 32 hex digits (event ids, location ids)."""


class LocationCache:
    """The location states (and the directory's version) a container has read or written.

    At most `max_entries` locations, the least recently used dropped first; 0 keeps nothing.
    Only existing locations are kept. A state here may be stale: `LeaveService` guards every
    use of one, so a stale entry costs a retry, never a wrong decision. Thread-safe (the local
    stack runs functions on several threads; a Lambda container runs one request at a time).
    """

    def __init__(self, max_entries: int = DEFAULT_CACHED_LOCATIONS) -> None:
        if max_entries < 0:
            raise ValueError(f"max_entries must be >= 0, got {max_entries}")
        self._max_entries = max_entries
        self._states: OrderedDict[str, LocationState] = OrderedDict()
        self._directory_version: int | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._states)

    def get(self, location_id: str) -> LocationState | None:
        with self._lock:
            state = self._states.get(location_id)
            if state is not None:
                self._states.move_to_end(location_id)
            return state

    def put(self, state: LocationState) -> None:
        """Keep `state`, unless it does not exist or an entry at a later version is kept."""
        if not state.exists or self._max_entries == 0:
            return
        with self._lock:
            kept = self._states.get(state.location_id)
            if kept is not None and kept.version > state.version:
                return
            self._states[state.location_id] = state
            self._states.move_to_end(state.location_id)
            while len(self._states) > self._max_entries:
                self._states.popitem(last=False)

    @property
    def directory_version(self) -> int | None:
        return self._directory_version

    def put_directory_version(self, version: int) -> None:
        if self._max_entries:
            with self._lock:
                self._directory_version = max(version, self._directory_version or 0)

    def drop(self, stream_ids: Iterable[str]) -> None:
        """Forget the cached state of these streams (location or directory stream ids)."""
        with self._lock:
            for stream_id in stream_ids:
                if stream_id == DIRECTORY_STREAM_ID:
                    self._directory_version = None
                elif stream_id.startswith(LOCATION_STREAM_PREFIX):
                    self._states.pop(stream_id.removeprefix(LOCATION_STREAM_PREFIX), None)


class LeaveService(ApplicationService):
    """Runs the leave domain's commands against an `EventStore`.

    `clock` gives the current time (aware, or naive UTC): it dates events and is "today" for
    the domain. `new_id` gives unique hex strings for event ids and new location ids.
    `max_attempts` bounds the reruns after lost races. `location_cache` keeps location states
    between commands (a new `LocationCache()` by default; ``LocationCache(0)`` reads every
    location afresh for every command). `respond` gives each command's response; by default
    the declarations of `leave_api.api` (`RESPOND`).
    """

    def __init__(
        self,
        store: EventStore,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = uuid_hex,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        location_cache: LocationCache | None = None,
        respond: Respond | None = None,
    ) -> None:
        if respond is None:
            from leave_api.api import RESPOND  # the declarations: imported when first needed
        super().__init__(store, respond=RESPOND if respond is None else respond, clock=clock, new_id=new_id, max_attempts=max_attempts)
        self._cache = LocationCache() if location_cache is None else location_cache

    def handle(self, command: Command, context: CommandContext, now: datetime) -> CommandResult:
        """Decide and append `command`; raises `DomainError`, `ConcurrencyError` (after the
        retries) or `IdempotencyKeyUsed`."""
        if context.caller != command.caller.sub:
            raise ValueError(f"context.caller {context.caller!r} is not the command's caller {command.caller.sub!r}")
        if isinstance(command, RollOverLeave):
            return self._roll_over(command, context, now)
        return self.retrying(lambda attempt, cached: self._execute_once(command, context, now, attempt, cached))

    def forget(self, stream_ids: Iterable[str]) -> None:
        self._cache.drop(stream_ids)

    def now(self) -> datetime:
        """The current time of the service's clock, aware UTC."""
        return _utc(self._clock())

    # --- one attempt ---------------------------------------------------------------------

    def _execute_once(self, command: Command, context: CommandContext, now: datetime, attempt: int, cached: set[str]) -> CommandResult:
        """Load, decide, append; adds to `cached` the streams whose state came from the cache."""
        today = _utc(now).date()
        locations: dict[str, LocationState] = {}
        match command:
            case CreateLocation():
                new = LocationState(location_id=LOCATION_ID_PREFIX + self._new_id()[:12])
                directory_version = self._directory_version(cached)
                events = location.decide(new, command, today=today)
                versions = {location_stream_id(new.location_id): 0, DIRECTORY_STREAM_ID: directory_version}
                locations[new.location_id] = new
            case AssignApprover() | AssignLeavePolicy():
                locations, events = self._decide_on_locations(
                    (command.location_id,),
                    lambda locs: location.decide(locs[command.location_id], command, today=today),
                    cached,
                    checked=context.idempotency_key is not None,
                )
                versions = {location_stream_id(command.location_id): locations[command.location_id].version}
            case CreateCalendarFeed():
                feed_id = FEED_ID_PREFIX + self._new_id()[:24]
                versions = {calendar_feed_stream_id(feed_id): 0}
                if command.scope == calendar_feed.LOCATION_SCOPE:
                    locations, events = self._decide_on_locations(
                        (command.subject_id,),
                        lambda locs: calendar_feed.decide_create(feed_id, command, location=locs[command.subject_id]),
                        cached,
                        checked=context.idempotency_key is not None,
                    )
                    versions[location_stream_id(command.subject_id)] = locations[command.subject_id].version
                else:  # the employee must exist: their stream is a read guard
                    state = self._load_employee(command.subject_id)
                    events = calendar_feed.decide_create(feed_id, command, employee=state)
                    versions[employee_stream_id(command.subject_id)] = state.version
            case RotateCalendarFeedToken() | RevokeCalendarFeed():
                stream = calendar_feed_stream_id(command.feed_id)
                feed = calendar_feed.fold(command.feed_id, [_event(e) for e in self._store.load(stream)])
                events = calendar_feed.decide(feed, command)
                versions = {stream: feed.version}
            case LinkSlackUser() | UnlinkSlackUser():
                link = self.slack_link(command.team_id, command.slack_user_id)
                versions = {slack_link_stream_id(command.team_id, command.slack_user_id): link.version}
                exists = True
                if isinstance(command, LinkSlackUser):
                    linked = self._load_employee(command.employee_id)
                    exists = linked.exists
                    versions[employee_stream_id(command.employee_id)] = linked.version  # a read guard
                events = slack_link.decide(link, command, employee_exists=exists)
            case _:
                # A new employee's stream is assumed empty on the first attempt (no read);
                # if it exists, the append conflicts and the retry loads it.
                optimistic = isinstance(command, AddEmployee) and attempt == 0
                subject = self._employee_of(command)
                state = EmployeeState(employee_id=subject) if optimistic else self._load_employee(subject)
                locations, events = self._decide_on_locations(
                    employee.required_locations(state, command),
                    lambda locs: employee.decide(state, command, locations=locs, today=today),
                    cached,
                    checked=context.idempotency_key is not None,
                )
                versions = {employee_stream_id(subject): state.version}
                versions.update({location_stream_id(i): loc.version for i, loc in locations.items()})
        result = self.commit(command, events, versions, context, now)
        self._remember(locations, events, versions)
        return result

    def _roll_over(self, command: RollOverLeave, context: CommandContext, now: datetime) -> CommandResult:
        """Walk every location's members, roll each employee over (idempotent per employee),
        then complete the year (`complete_rollover`): the same events as the yearly workflow."""
        today = _utc(now).date()
        employee.check_rollover(command, today)  # refuse before any read
        locations = {i: self._load_location(i) for i in self.location_ids()}
        members = sorted({m for loc in locations.values() for m in loc.members})
        closed = 0
        for employee_id in members:

            def roll(attempt: int, cached: set[str], employee_id: str = employee_id) -> bool:
                state = self._load_employee(employee_id)
                events = employee.decide(state, command, locations=locations, today=today)
                self.append(events, {employee_stream_id(employee_id): state.version}, None, context, now)
                return _year_closed(state, events, command.from_year)

            closed += self.retrying(roll)
        return self.complete_rollover(command, employees=len(members), employees_rolled_over=closed, context=context, now=now)

    # --- the yearly rollover, one step at a time (the rollover workflow's tasks) -------------

    def location_ids(self) -> list[str]:
        """Every location ever created, in creation order (the directory stream)."""
        directory = self._store.load(DIRECTORY_STREAM_ID)
        return [e.location_id for e in map(_event, directory) if isinstance(e, LocationRegistered)]

    def members(self, *, after: str | None = None, limit: int | None = None) -> list[str]:
        """The employees of every location (fresh reads), sorted by id: those after `after`, at most `limit`."""
        ids = sorted({m for i in self.location_ids() for m in self._load_location(i).members})
        if after is not None:
            ids = [i for i in ids if i > after]
        return ids if limit is None else ids[:limit]

    def roll_over_employee(self, command: RollOverLeave, employee_id: str, context: CommandContext) -> bool:
        """Roll ONE employee over from ``command.from_year``, with the rollover command's own
        domain decision; whether that year is now closed for them (a `LeaveRolledOver` of it).

        Idempotent per employee and year: an employee already rolled over gets nothing new
        (one load, no append), so a re-run or a retry after a partial failure is safe. The
        locations decided on may come from the cache; they go into the append as read guards."""
        now = self._clock()
        today = _utc(now).date()
        employee.check_rollover(command, today)

        def attempt(number: int, cached: set[str]) -> bool:
            state = self._load_employee(employee_id)
            if not state.exists:
                return False  # left no trace: nothing to roll over (the walk listed a member)
            locations, events = self._decide_on_locations(
                employee.required_locations(state, command),
                lambda locs: employee.decide(state, command, locations=locs, today=today),
                cached,
                checked=False,
            )
            versions = {employee_stream_id(employee_id): state.version}
            versions.update({location_stream_id(i): loc.version for i, loc in locations.items()})
            self.append(events, versions, None, context, now)
            self._remember(locations, events, versions)
            return _year_closed(state, events, command.from_year)

        return self.retrying(attempt)

    def complete_rollover(
        self, command: RollOverLeave, *, employees: int, employees_rolled_over: int, context: CommandContext, now: datetime | None = None
    ) -> CommandResult:
        """Append `RolloverCompleted` of ``command.from_year`` (with the request's idempotency
        record, if keyed) unless that year already has one: at most one per year, so a re-run
        appends no second one. The response (the summary) either way."""
        now = self._clock() if now is None else now
        completed = RolloverCompleted(
            from_year=command.from_year,
            to_year=command.from_year + 1,
            employees=employees,
            employees_rolled_over=employees_rolled_over,
        )
        summary = {k: v for k, v in completed.to_data().items()}
        result = self.respond(command, summary)
        try:
            self.append([completed], {rollover_stream_id(command.from_year): 0}, result, context, now)
        except ConcurrencyError:  # the year was completed before: only the request's record
            self.append([], {}, result, context, now)
        return result

    # --- approval reminders (the reminders workflow's tasks) ---------------------------------

    def reminder_times(self, request_id: str, *, remind_after: int, escalate_after: int) -> dict[str, Any]:
        """When request `request_id` reminds its approver and goes to the admins (`leave.reminders`),
        from the time it was made (its event's `occurred_at`) and the deciding approver's working
        week; and whether it is still pending. `NotFound` if there is no such request."""
        employee_id = employee_of_request(request_id)
        stored = self._store.load(employee_stream_id(employee_id))
        made = next((e for e in stored if e.event_type == "LeaveRequested" and e.data.get("request_id") == request_id), None)
        if made is None:
            raise NotFound("request_not_found", f"no leave request {request_id}")
        state = employee.fold(employee_id, [_event(e) for e in stored])
        decider = reminders.decider_of(state, self._load_location(state.location_id))
        week = self._load_employee(decider).working_week if decider else DEFAULT_WORKING_WEEK
        times = reminders.reminder_times(parse_timestamp(made.occurred_at), week, remind_after=remind_after, escalate_after=escalate_after)
        return {
            "request_id": request_id,
            "submitted_at": made.occurred_at,
            "remind_at": timestamp(times.remind_at),
            "escalate_at": timestamp(times.escalate_at),
            "pending": state.leaves[request_id].status == LeaveStatus.PENDING,
        }

    def remind(self, request_id: str, *, escalate: bool, working_days_pending: int, context: CommandContext) -> dict[str, Any]:
        """Re-read the request: if it is still pending, append `ApprovalReminderSent` (or, with
        `escalate`, `ApprovalEscalated`) on its stream, once per request. Whether it is still
        pending and whether this call sent anything. A request decided or cancelled meanwhile
        gets nothing (the append is guarded: a decision that races it makes it read again)."""
        employee_id = employee_of_request(request_id)
        now = self._clock()

        def attempt(number: int, cached: set[str]) -> dict[str, Any]:
            state = self._load_employee(employee_id)
            leave = state.leaves.get(request_id)
            if leave is None:
                raise NotFound("request_not_found", f"no leave request {request_id}")
            place = self._load_location(state.location_id)
            events = reminders.decide_reminder(state, place, request_id, escalate=escalate, working_days_pending=working_days_pending)
            self.append(
                events,
                {employee_stream_id(employee_id): state.version, location_stream_id(place.location_id): place.version},
                None,
                context,
                now,
            )
            return {"request_id": request_id, "pending": leave.status == LeaveStatus.PENDING, "sent": bool(events)}

        return self.retrying(attempt)

    # --- Slack links ---------------------------------------------------------------------

    def slack_link(self, team_id: str, slack_user_id: str) -> slack_link.SlackLinkState:
        """The Slack user's link as it is now (one strongly consistent read of its stream)."""
        stored = self._store.load(slack_link_stream_id(team_id, slack_user_id))
        return slack_link.fold(team_id, slack_user_id, [_event(e) for e in stored])

    # --- store access --------------------------------------------------------------------

    def _decide_on_locations(
        self,
        location_ids: Sequence[str],
        decide: Callable[[Mapping[str, LocationState]], list[Event]],
        cached: set[str],
        *,
        checked: bool,
    ) -> tuple[dict[str, LocationState], list[Event]]:
        """`decide` on the locations' states, cached where possible, noting cached streams in `cached`.

        The append guards each location at the version decided on. A decision the append
        will not check is decided again on fresh reads of the cached locations: a refusal
        (`DomainError`), or nothing to append (unless `checked`: an idempotency record
        is appended anyway, with the guards)."""
        locations = {i: self._location(i, cached) for i in location_ids}
        stale = [i for i in location_ids if location_stream_id(i) in cached]
        try:
            events = decide(locations)
            if events or checked or not stale:
                return locations, events
        except DomainError:
            if not stale:
                raise
        self._cache.drop(location_stream_id(i) for i in stale)
        cached.difference_update(location_stream_id(i) for i in stale)
        locations.update({i: self._load_location(i) for i in stale})
        return locations, decide(locations)

    def _location(self, location_id: str, cached: set[str]) -> LocationState:
        """The location's state from the cache (noting its stream in `cached`), else loaded."""
        state = self._cache.get(location_id)
        if state is not None:
            cached.add(location_stream_id(location_id))
            return state
        return self._load_location(location_id)

    def _directory_version(self, cached: set[str]) -> int:
        version = self._cache.directory_version
        if version is not None:
            cached.add(DIRECTORY_STREAM_ID)
            return version
        version = len(self._store.load(DIRECTORY_STREAM_ID))
        self._cache.put_directory_version(version)
        return version

    def _remember(self, locations: Mapping[str, LocationState], events: Sequence[Event], versions: Mapping[str, int]) -> None:
        """After a successful append: cache each location the command read or wrote, as it now is."""
        for location_id, state in locations.items():
            stream = location_stream_id(location_id)
            for event in events:
                if event.stream_id == stream:
                    state = location.evolve(state, event)
            self._cache.put(state)
        if DIRECTORY_STREAM_ID in versions:
            written = sum(1 for e in events if e.stream_id == DIRECTORY_STREAM_ID)
            self._cache.put_directory_version(versions[DIRECTORY_STREAM_ID] + written)

    def _load_location(self, location_id: str) -> LocationState:
        """The location as its stream now is: the cached state (a fold of the stream up to its
        version, events never change) brought up to date with the events after it, or the
        whole stream folded. A location's stream grows with its members and requests; a
        container that read it once reads only what was appended since."""
        state = self._cache.get(location_id) or LocationState(location_id=location_id)
        for stored in self._store.load(location_stream_id(location_id), after_version=state.version):
            state = location.evolve(state, _event(stored))
        self._cache.put(state)
        return state

    def _load_employee(self, employee_id: str) -> EmployeeState:
        return employee.fold(employee_id, [_event(e) for e in self._store.load(employee_stream_id(employee_id))])

    @staticmethod
    def _employee_of(command: Command) -> str:
        if isinstance(command, (ApproveLeave, DenyLeave, CancelLeave)):
            return employee_of_request(command.request_id)
        return command.employee_id  # type: ignore[union-attr]


def _year_closed(state: EmployeeState, events: Sequence[Event], from_year: int) -> bool:
    """Whether `from_year` is rolled over for the employee, with `events` just appended."""
    return any(year == from_year for _, year in state.rollovers) or any(
        isinstance(e, LeaveRolledOver) and e.from_year == from_year for e in events
    )


def _event(stored: Any) -> Event:
    return parse_event(stored.event_type, stored.data)


def parse_timestamp(value: str) -> datetime:
    """An aware UTC datetime from an ISO-8601 timestamp such as ``2026-01-05T09:00:00Z``
    (the `occurred_at` of events, EventBridge Scheduler's ``<aws.scheduler.scheduled-time>``)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    return _utc(moment)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
