"""The calendar-feed aggregate (stream ``calendar-feed#<feed_id>``): a secret, revocable
iCalendar subscription URL of a location's or an employee's leaves.

The feed's token is a capability: whoever holds the URL reads the calendar, with no other
credential (calendar applications send none). So the token never enters an event, a read
model or a log in clear: the events keep `token_digest(token)` (hex SHA-256; the token is
at least 128 random bits, so a plain hash cannot be inverted or brute-forced), and the
calendar read model is looked up by that digest.

Who may create a feed is the same rule as who may read the calendar through the API: a
location feed by a member of the location (its approver is one) or an admin; an employee
feed by that employee or an admin. Rotating and revoking: the feed's owner or an admin.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from leave.commands import Caller, CreateCalendarFeed, RevokeCalendarFeed, RotateCalendarFeedToken
from leave.employee import EmployeeState
from leave.errors import Forbidden, InvalidState, NotFound, RuleViolated
from leave.events import CalendarFeedCreated, CalendarFeedRevoked, CalendarFeedTokenRotated, Event
from leave.location import LocationState
from leave.record import Record, replace

LOCATION_SCOPE = "location"
EMPLOYEE_SCOPE = "employee"
SCOPES = (LOCATION_SCOPE, EMPLOYEE_SCOPE)
ACTIVE = "active"
REVOKED = "revoked"
MIN_TOKEN_CHARS = 22
"""base64url characters of 128 bits: the shortest token the domain accepts."""

FeedCommand = CreateCalendarFeed | RotateCalendarFeedToken | RevokeCalendarFeed


def token_digest(token: str) -> str:
    """The hex SHA-256 of a feed token: what events and the read model keep instead of it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class FeedState(Record):
    """What the feed's stream says so far; `version` is the number of events folded."""

    feed_id: str
    version: int = 0
    scope: str = ""
    subject_id: str = ""
    owner_id: str = ""
    status: str = ""

    @property
    def exists(self) -> bool:
        return self.version > 0


def evolve(state: FeedState, event: Event) -> FeedState:
    """The state after one more event of the feed's stream."""
    state = replace(state, version=state.version + 1)
    match event:
        case CalendarFeedCreated():
            return replace(state, scope=event.scope, subject_id=event.subject_id, owner_id=event.owner_id, status=ACTIVE)
        case CalendarFeedRevoked():
            return replace(state, status=REVOKED)
    return state


def fold(feed_id: str, events: Sequence[Event]) -> FeedState:
    """The state of a feed from its whole stream."""
    state = FeedState(feed_id=feed_id)
    for event in events:
        state = evolve(state, event)
    return state


def decide_create(
    feed_id: str, command: CreateCalendarFeed, *, location: LocationState | None = None, employee: EmployeeState | None = None
) -> list[Event]:
    """The events of a new feed `feed_id`: the location's (give `location`) or the employee's (give `employee`)."""
    _check_token(command.token)
    caller = command.caller
    if command.scope == LOCATION_SCOPE:
        if location is None or not location.exists:
            raise NotFound("location_not_found", f"no location {command.subject_id}")
        member = caller.sub in location.members or caller.sub == location.approver_id
        if not (member or caller.is_admin):
            raise Forbidden("forbidden", "only members of the location or an admin may subscribe to its calendar")
    elif command.scope == EMPLOYEE_SCOPE:
        if caller.sub != command.subject_id and not caller.is_admin:
            raise Forbidden("forbidden", "only the employee or an admin may subscribe to an employee's leaves")
        if employee is None or not employee.exists:
            raise NotFound("employee_not_found", f"no employee {command.subject_id}")
        member = caller.sub == command.subject_id
    else:
        raise RuleViolated("invalid_scope", f"scope must be one of {', '.join(SCOPES)}, got {command.scope!r}")
    return [
        CalendarFeedCreated(
            feed_id=feed_id,
            scope=command.scope,
            subject_id=command.subject_id,
            owner_id=caller.sub,
            owner_is_admin=caller.is_admin and not member,
            token_sha256=token_digest(command.token),
        )
    ]


def decide(state: FeedState, command: RotateCalendarFeedToken | RevokeCalendarFeed) -> list[Event]:
    """New events for rotating or revoking an existing feed (none: already revoked), or a `DomainError`."""
    if not state.exists:
        raise NotFound("feed_not_found", f"no calendar feed {state.feed_id}")
    _require_owner(state, command.caller)
    match command:
        case RotateCalendarFeedToken():
            _check_token(command.token)
            if state.status == REVOKED:
                raise InvalidState("feed_revoked", f"calendar feed {state.feed_id} is revoked; create a new one")
            return [
                CalendarFeedTokenRotated(feed_id=state.feed_id, token_sha256=token_digest(command.token), rotated_by=command.caller.sub)
            ]
        case RevokeCalendarFeed():
            if state.status == REVOKED:
                return []
            return [CalendarFeedRevoked(feed_id=state.feed_id, revoked_by=command.caller.sub)]
    raise TypeError(f"not a calendar-feed command: {type(command).__name__}")


def _require_owner(state: FeedState, caller: Caller) -> None:
    # A feed someone else owns answers 404, not 403: feed ids are not secrets, but whose they
    # are is nobody else's business.
    if caller.sub != state.owner_id and not caller.is_admin:
        raise NotFound("feed_not_found", f"no calendar feed {state.feed_id}")


def _check_token(token: str) -> None:
    if len(token) < MIN_TOKEN_CHARS:
        raise ValueError("a calendar feed token must carry at least 128 bits")
