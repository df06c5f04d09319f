"""The events of the leave domain: what happened, in the past tense.

Each event is a frozen `Record` (a keyword-only value, see `leave.record`) that knows its
stream (`stream_id`) and converts to and from JSON-safe data (`to_data` / `from_data`): dates
are ISO ``YYYY-MM-DD`` strings, tuples are lists, day counts are numbers (an int when whole,
otherwise a float such as ``12.5``).

Streams:

- ``location#<location_id>``: `LocationCreated`, `EmployeeAddedToLocation`,
  `EmployeeLeftLocation`, `ApproverAssigned`, `ApproverUnassigned`, `LeavePolicyAssigned`.
- ``employee#<employee_id>``: `EmployeeJoined`, `WorkingWeekChanged`, `LeaveRequested`,
  `LeaveApproved`, `LeaveDenied`, `LeaveCancelled`, `PastLeaveAdded`, `EmployeeTransferred`,
  `LeaveRolledOver`, `ApprovalReminderSent`, `ApprovalEscalated` (the reminders workflow).
- ``directory#locations``: `LocationRegistered` (the list of locations that rollover walks).
- ``rollover#<from_year>``: `RolloverCompleted` (at most one per year: appended at version 1).
- ``calendar-feed#<feed_id>``: `CalendarFeedCreated`, `CalendarFeedTokenRotated`,
  `CalendarFeedRevoked` (a calendar subscription: its scope and the SHA-256 of its secret
  token, never the token itself).
- ``slack-link#<team_id>:<slack_user_id>``: `SlackUserLinked`, `SlackUserUnlinked` (which
  employee a Slack user acts as when they press a request's Approve/Deny button).

`from_data` ignores keys it does not know and fills missing optional fields with their
defaults, so an older reader accepts newer events and newer readers accept old ones.

The per-projection tuples list every event type of each stream a projection follows: a
projector that applies "only the next version of a stream" must see all of that stream's
versions, or it would wait for a gap that never fills.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Mapping
from datetime import date
from functools import cache
from typing import Any, ClassVar, Union

from leave.ids import (
    DIRECTORY_STREAM_ID,
    calendar_feed_stream_id,
    employee_stream_id,
    location_stream_id,
    rollover_stream_id,
    slack_link_stream_id,
)
from leave.record import Record, has_default, record_fields

_REGISTRY: dict[str, type[Event]] = {}


class UnknownEventType(ValueError):
    """`parse_event` got an event type this domain does not define."""


class Event(Record):
    """Base of every domain event; `event_type` is the class name."""

    event_type: ClassVar[str]
    #: The globals of the module that declared the class, captured when it is created: its
    #: field annotations are evaluated there (`_hints`), not through `sys.modules` at run time.
    _annotation_globals: ClassVar[dict[str, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._annotation_globals = vars(sys.modules[cls.__module__])  # the module being executed
        if cls.__name__ in {"LocationEvent", "EmployeeEvent", "DirectoryEvent", "RolloverEvent", "CalendarFeedEvent", "SlackLinkEvent"}:
            return
        cls.event_type = cls.__name__
        _REGISTRY[cls.__name__] = cls

    @property
    def stream_id(self) -> str:
        """The stream this event belongs to."""
        raise NotImplementedError

    def to_data(self) -> dict[str, Any]:
        """JSON-safe data of the event (the `data` attribute of the stored item)."""
        return {name: _encode(getattr(self, name)) for name in record_fields(self)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Event:
        """The event from its `to_data` form; `ValueError` if a required field is missing or malformed."""
        hints = _hints(cls)
        kwargs: dict[str, Any] = {}
        for name in record_fields(cls):
            if name in data:
                try:
                    kwargs[name] = _decode(hints[name], data[name])
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{cls.__name__}.{name}: {exc}") from exc
            elif not has_default(cls, name):
                raise ValueError(f"{cls.__name__}: missing field {name!r}")
        return cls(**kwargs)


class LocationEvent(Event):
    """An event of a location's stream."""

    location_id: str

    @property
    def stream_id(self) -> str:
        return location_stream_id(self.location_id)


class EmployeeEvent(Event):
    """An event of an employee's stream."""

    employee_id: str

    @property
    def stream_id(self) -> str:
        return employee_stream_id(self.employee_id)


class DirectoryEvent(Event):
    """An event of the directory stream (the list of locations)."""

    @property
    def stream_id(self) -> str:
        return DIRECTORY_STREAM_ID


class RolloverEvent(Event):
    """An event of a year's rollover stream (``rollover#<from_year>``)."""

    from_year: int

    @property
    def stream_id(self) -> str:
        return rollover_stream_id(self.from_year)


class CalendarFeedEvent(Event):
    """An event of a calendar feed's stream (``calendar-feed#<feed_id>``)."""

    feed_id: str

    @property
    def stream_id(self) -> str:
        return calendar_feed_stream_id(self.feed_id)


class SlackLinkEvent(Event):
    """An event of a Slack user's link stream (``slack-link#<team_id>:<slack_user_id>``)."""

    team_id: str
    slack_user_id: str
    employee_id: str

    @property
    def stream_id(self) -> str:
        return slack_link_stream_id(self.team_id, self.slack_user_id)


# --- directory#locations ---------------------------------------------------------------


class LocationRegistered(DirectoryEvent):
    """A location was created (written with `LocationCreated`, in the same transaction)."""

    location_id: str
    name: str


# --- location#<location_id> ------------------------------------------------------------


class LocationCreated(LocationEvent):
    """An admin created a location."""

    name: str


class EmployeeAddedToLocation(LocationEvent):
    """An employee became a member: a new employee, or one transferred in (`from_location_id`)."""

    employee_id: str
    name: str
    effective_on: date
    from_location_id: str | None = None


class EmployeeLeftLocation(LocationEvent):
    """A member was transferred to another location, from `effective_on` (inclusive)."""

    employee_id: str
    effective_on: date
    to_location_id: str


class ApproverAssigned(LocationEvent):
    """A member became the location's approver (replacing `previous_approver_id`, if any)."""

    approver_id: str
    previous_approver_id: str | None = None


class ApproverUnassigned(LocationEvent):
    """The approver left the location (transfer); the location has no approver until one is assigned."""

    approver_id: str


class LeavePolicyAssigned(LocationEvent):
    """The location's policy for one leave type, in effect from `effective_on` (inclusive)."""

    leave_type: str
    days_per_year: float
    max_rollover_days: float
    effective_on: date


# --- employee#<employee_id> ------------------------------------------------------------


class EmployeeJoined(EmployeeEvent):
    """An admin added a new employee to a location (always the first event of the stream)."""

    name: str
    location_id: str
    effective_on: date


class WorkingWeekChanged(EmployeeEvent):
    """The employee's working days, e.g. ``("MON", "TUE", "WED", "THU")``, for leaves requested from now on."""

    days: tuple[str, ...]


class LeaveRequested(EmployeeEvent):
    """The employee asked for leave; `approver_id` is the location's approver at that moment."""

    request_id: str
    location_id: str
    approver_id: str | None
    leave_type: str
    start: date
    end: date
    working_days: int
    note: str = ""


class LeaveApproved(EmployeeEvent):
    """The approver approved a pending request (the leave's facts are repeated for subscribers)."""

    request_id: str
    approved_by: str
    leave_type: str
    start: date
    end: date
    working_days: int


class LeaveDenied(EmployeeEvent):
    """The approver denied a pending request."""

    request_id: str
    denied_by: str
    leave_type: str
    start: date
    end: date
    working_days: int
    reason: str = ""


class LeaveCancelled(EmployeeEvent):
    """The requester cancelled a pending request or an approved leave that had not started."""

    request_id: str
    cancelled_by: str
    previous_status: str  # "pending" or "approved"
    leave_type: str
    start: date
    end: date
    working_days: int


class PastLeaveAdded(EmployeeEvent):
    """An approver or admin recorded a leave already taken; it counts as approved and used."""

    request_id: str
    location_id: str
    added_by: str
    leave_type: str
    start: date
    end: date
    working_days: int


class EmployeeTransferred(EmployeeEvent):
    """An admin moved the employee to another location from `effective_on` (inclusive).

    `pending_request_ids` are now decided by `approver_id`, the new location's approver (None
    until one is assigned there).
    """

    from_location_id: str
    to_location_id: str
    effective_on: date
    approver_id: str | None
    pending_request_ids: tuple[str, ...] = ()


class LeaveRolledOver(EmployeeEvent):
    """Unused days of `from_year` (possibly 0) carried into `to_year`; the year is then closed."""

    leave_type: str
    from_year: int
    to_year: int
    days: float


class ApprovalReminderSent(EmployeeEvent):
    """A request was still pending `working_days_pending` working days after it was made: its
    approver (`approver_id`, the location's approver now; None when the location has none or
    the requester is the approver, then the admins decide) was reminded. The leave's facts
    are repeated for subscribers."""

    request_id: str
    location_id: str
    approver_id: str | None
    leave_type: str
    start: date
    end: date
    working_days: int
    working_days_pending: int


class ApprovalEscalated(EmployeeEvent):
    """A request was still pending `working_days_pending` working days after it was made: it was
    escalated to the admins (the ``admin`` group decides requests of any location)."""

    request_id: str
    location_id: str
    approver_id: str | None
    leave_type: str
    start: date
    end: date
    working_days: int
    working_days_pending: int


# --- rollover#<from_year> --------------------------------------------------------------


class RolloverCompleted(RolloverEvent):
    """Every employee was rolled over from `from_year` (by the yearly workflow or `POST /rollovers`).

    `employees` were walked; `employees_rolled_over` of them have `from_year` closed (a
    `LeaveRolledOver` of it for at least one leave type; an employee with no policy that year
    has nothing to roll over). Appended once per year: a re-run appends nothing."""

    to_year: int
    employees: int
    employees_rolled_over: int


# --- calendar-feed#<feed_id> ---------------------------------------------------------


class CalendarFeedCreated(CalendarFeedEvent):
    """A calendar subscription feed was created: the leaves of a location (`scope` ``location``)
    or of one employee (`scope` ``employee``), `subject_id` naming which.

    `token_sha256` is the hex SHA-256 of the feed's secret token (the token itself is only
    ever in the response to the caller). `owner_id` created it; `owner_is_admin` says it was
    created with the admin's authority (a member's location feed stops answering when its
    owner leaves the location; an admin's does not)."""

    scope: str
    subject_id: str
    owner_id: str
    owner_is_admin: bool = False
    token_sha256: str


class CalendarFeedTokenRotated(CalendarFeedEvent):
    """The feed got a new secret token (`token_sha256`); the previous one no longer answers."""

    token_sha256: str
    rotated_by: str


class CalendarFeedRevoked(CalendarFeedEvent):
    """The feed was revoked: its token no longer answers, for good."""

    revoked_by: str


# --- slack-link#<team_id>:<slack_user_id> ---------------------------------------------------


class SlackUserLinked(SlackLinkEvent):
    """Slack user `slack_user_id` of workspace `team_id` now acts as `employee_id` in Slack
    (by the employee themself or an admin: `actor` in the metadata)."""


class SlackUserUnlinked(SlackLinkEvent):
    """The Slack user no longer acts as `employee_id` (their buttons are refused until linked again)."""


# --- catalogue -------------------------------------------------------------------------

DIRECTORY_EVENT_TYPES: tuple[str, ...] = (LocationRegistered.event_type,)
LOCATION_EVENT_TYPES: tuple[str, ...] = tuple(
    c.event_type
    for c in (
        LocationCreated,
        EmployeeAddedToLocation,
        EmployeeLeftLocation,
        ApproverAssigned,
        ApproverUnassigned,
        LeavePolicyAssigned,
    )
)
EMPLOYEE_EVENT_TYPES: tuple[str, ...] = tuple(
    c.event_type
    for c in (
        EmployeeJoined,
        WorkingWeekChanged,
        LeaveRequested,
        LeaveApproved,
        LeaveDenied,
        LeaveCancelled,
        PastLeaveAdded,
        EmployeeTransferred,
        LeaveRolledOver,
        ApprovalReminderSent,
        ApprovalEscalated,
    )
)
ROLLOVER_EVENT_TYPES: tuple[str, ...] = (RolloverCompleted.event_type,)
CALENDAR_FEED_EVENT_TYPES: tuple[str, ...] = tuple(
    c.event_type for c in (CalendarFeedCreated, CalendarFeedTokenRotated, CalendarFeedRevoked)
)
SLACK_LINK_EVENT_TYPES: tuple[str, ...] = (SlackUserLinked.event_type, SlackUserUnlinked.event_type)
ALL_EVENT_TYPES: tuple[str, ...] = (
    LOCATION_EVENT_TYPES
    + EMPLOYEE_EVENT_TYPES
    + DIRECTORY_EVENT_TYPES
    + ROLLOVER_EVENT_TYPES
    + CALENDAR_FEED_EVENT_TYPES
    + SLACK_LINK_EVENT_TYPES
)

BALANCE_EVENT_TYPES: tuple[str, ...] = EMPLOYEE_EVENT_TYPES + LOCATION_EVENT_TYPES
"""Employee streams (leaves, transfers, rollovers, working weeks) and location streams (policies)."""
PENDING_EVENT_TYPES: tuple[str, ...] = EMPLOYEE_EVENT_TYPES + LOCATION_EVENT_TYPES
"""Employee streams (requests and decisions, transfers) and location streams (approver changes)."""
CALENDAR_EVENT_TYPES: tuple[str, ...] = EMPLOYEE_EVENT_TYPES + LOCATION_EVENT_TYPES + CALENDAR_FEED_EVENT_TYPES
"""Employee streams (leaves), location streams (names, members) and calendar-feed streams
(which secret token serves which calendar)."""
AUDIT_EVENT_TYPES: tuple[str, ...] = ALL_EVENT_TYPES
NOTIFICATION_EVENT_TYPES: tuple[str, ...] = (
    LeaveRequested.event_type,
    LeaveApproved.event_type,
    LeaveDenied.event_type,
    LeaveCancelled.event_type,
    ApprovalReminderSent.event_type,
    ApprovalEscalated.event_type,
)
"""What the notifications context sends to Slack (a new request, each decision, a
cancellation, each reminder and escalation of a request left pending)."""


def event_class(event_type: str) -> type[Event]:
    """The class of an event type; `UnknownEventType` if the domain has none."""
    try:
        return _REGISTRY[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None


def event_classes() -> tuple[type[Event], ...]:
    """Every event class of the domain, in declaration order (what the AsyncAPI document lists)."""
    return tuple(_REGISTRY.values())


def field_types(cls: type[Event]) -> dict[str, Any]:
    """The type of each field of `cls` (declaration order, base classes first): what its
    `to_data` form is made of, and what the published JSON Schema of its data is built from."""
    hints = _hints(cls)
    return {name: hints[name] for name in record_fields(cls)}


def parse_event(event_type: str, data: Mapping[str, Any]) -> Event:
    """The event of a stored `(event_type, data)` pair."""
    return event_class(event_type).from_data(data)


# --- JSON conversion -------------------------------------------------------------------


def number(value: float) -> int | float:
    """A day count as JSON likes it: an int when whole (``20``), else a float (``12.5``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, float):
        return number(value)
    return value


@cache
def _hints(cls: type[Event]) -> dict[str, Any]:
    """The field types of `cls`, each class's annotations evaluated in the globals of the module
    that declared it (captured at class creation). `typing.get_type_hints(cls)` would look the
    module up in `sys.modules` when the first event is parsed, which a host that runs several
    private copies of this module in one process (the local stack) does not fill."""
    fields = set(record_fields(cls))
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        namespace = klass.__dict__.get("_annotation_globals")
        own = {n: a for n, a in klass.__dict__.get("__annotations__", {}).items() if n in fields}
        if namespace is not None and own:
            holder = types.SimpleNamespace(__annotations__=own)
            hints.update(typing.get_type_hints(holder, globalns=namespace, localns=dict(vars(klass))))
    return hints


def _decode(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _decode(inner, value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        (item, _ellipsis) = typing.get_args(hint)
        return tuple(_decode(item, v) for v in value)
    if hint is date:
        if not isinstance(value, str):
            raise TypeError(f"expected an ISO date string, got {type(value).__name__}")
        return date.fromisoformat(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        return number(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {type(value).__name__}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected a boolean, got {type(value).__name__}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        return value
    raise TypeError(f"unsupported field type {hint!r}")  # pragma: no cover - guarded by tests
