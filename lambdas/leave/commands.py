"""What callers ask the domain to do: one frozen `Record` per command route of API.md.

Every command carries the `Caller` (taken from the JWT claims by the HTTP layer, never from
the body): authorization is a domain rule, decided with the facts of the streams.
"""

from __future__ import annotations

from datetime import date

from leave.record import Record

ADMIN_GROUP = "admin"


class Caller(Record):
    """Who sends the command: `sub` is the employee id, `groups` the Cognito groups."""

    sub: str
    groups: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


class CreateLocation(Record):
    """``POST /locations`` (admin). The service picks the new location's id."""

    caller: Caller
    name: str


class AddEmployee(Record):
    """``POST /locations/{location_id}/employees`` (admin): a new employee joins the location."""

    caller: Caller
    location_id: str
    employee_id: str
    name: str


class AssignApprover(Record):
    """``PUT /locations/{location_id}/approver`` (admin): `employee_id` must be a member."""

    caller: Caller
    location_id: str
    employee_id: str


class AssignLeavePolicy(Record):
    """``PUT /locations/{location_id}/policy`` (admin), in effect from today."""

    caller: Caller
    location_id: str
    leave_type: str
    days_per_year: float
    max_rollover_days: float


class ChangeWorkingWeek(Record):
    """``PUT /employees/{employee_id}/working-week`` (admin), e.g. ``("MON", "TUE", "WED", "THU")``."""

    caller: Caller
    employee_id: str
    days: tuple[str, ...]


class RequestLeave(Record):
    """``POST /employees/{employee_id}/leave-requests`` (the employee): `start`..`end` inclusive."""

    caller: Caller
    employee_id: str
    leave_type: str
    start: date
    end: date
    note: str = ""


class ApproveLeave(Record):
    """``POST /leave-requests/{request_id}/approve`` (the location's approver)."""

    caller: Caller
    request_id: str


class DenyLeave(Record):
    """``POST /leave-requests/{request_id}/deny`` (the location's approver)."""

    caller: Caller
    request_id: str
    reason: str = ""


class CancelLeave(Record):
    """``POST /leave-requests/{request_id}/cancel`` (the requester)."""

    caller: Caller
    request_id: str


class AddPastLeave(Record):
    """``POST /employees/{employee_id}/past-leaves`` (the location's approver or an admin)."""

    caller: Caller
    employee_id: str
    leave_type: str
    start: date
    end: date


class TransferEmployee(Record):
    """``POST /employees/{employee_id}/transfer`` (admin): the new location's policy applies
    from `effective_on` (inclusive; None means today)."""

    caller: Caller
    employee_id: str
    to_location_id: str
    effective_on: date | None = None


class RollOverLeave(Record):
    """``POST /rollovers`` (admin, or the yearly schedule acting as one): close `from_year` for everyone."""

    caller: Caller
    from_year: int


class CreateCalendarFeed(Record):
    """``POST /calendar-feeds``: a calendar subscription feed of a location (`scope`
    ``location``: its members, or an admin) or of one employee (`scope` ``employee``: that
    employee, or an admin). `token` is the feed's new secret (made by the HTTP layer with
    `secrets`); only its SHA-256 is recorded. The service picks the feed's id."""

    caller: Caller
    scope: str
    subject_id: str
    token: str


class RotateCalendarFeedToken(Record):
    """``POST /calendar-feeds/{feed_id}/rotate`` (its owner, or an admin): `token` replaces the old one."""

    caller: Caller
    feed_id: str
    token: str


class RevokeCalendarFeed(Record):
    """``POST /calendar-feeds/{feed_id}/revoke`` (its owner, or an admin): the token stops answering."""

    caller: Caller
    feed_id: str


class LinkSlackUser(Record):
    """``PUT /slack-links/{team_id}/{user_id}`` (the employee themself, or an admin): the Slack
    user `slack_user_id` of workspace `team_id` acts as `employee_id` when they press a leave
    request's Approve/Deny button in Slack."""

    caller: Caller
    team_id: str
    slack_user_id: str
    employee_id: str


class UnlinkSlackUser(Record):
    """``DELETE /slack-links/{team_id}/{user_id}`` (the linked employee, or an admin)."""

    caller: Caller
    team_id: str
    slack_user_id: str


Command = (
    CreateLocation
    | AddEmployee
    | AssignApprover
    | AssignLeavePolicy
    | ChangeWorkingWeek
    | RequestLeave
    | ApproveLeave
    | DenyLeave
    | CancelLeave
    | AddPastLeave
    | TransferEmployee
    | RollOverLeave
    | CreateCalendarFeed
    | RotateCalendarFeedToken
    | RevokeCalendarFeed
    | LinkSlackUser
    | UnlinkSlackUser
)
