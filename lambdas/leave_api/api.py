"""The leave API (API.md) as data: ONE declaration per command, the query routes, the route table.

Each command is one `CommandDecl` of the runtime library: route, body schema, who may call
it, how the domain command is built from the validated request and the caller, and what a
success answers. Adding a command means: the domain (`leave.commands`, `leave.employee` or
`leave.location`) and one declaration here (plus its schemas in `schemas`). The commands
function (`leave_api.commands`), the application service's responses (`RESPOND`), the
OpenAPI document (`leave_api.openapi`) and the Pulumi program (`__main__.py`: `ROUTES`) all
read this module, so they cannot drift.

Pure data and stdlib (plus the domain's command records): the Pulumi program imports it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from acme_eventsourcing.runtime.commands import CommandDecl, Responder
from acme_eventsourcing.runtime.http import Caller, bad_request
from acme_eventsourcing.runtime.routes import COMMANDS, QUERIES, Route, served_by
from leave import commands as c
from leave.events import CalendarFeedCreated, EmployeeTransferred, Event, LeaveRequested, PastLeaveAdded, WorkingWeekChanged, number
from leave.workdays import normalize_week

from leave_api import schemas as s
from leave_api.query_routes import FEED_PATH_PREFIX, FEED_SUFFIX, QUERY_ROUTES

__all__ = ["COMMANDS", "COMMAND_DECLARATIONS", "COMMAND_ROUTES", "QUERIES", "QUERY_ROUTES", "RESPOND", "ROUTES", "BY_KEY"]


def who(caller: Caller) -> c.Caller:
    """The domain's caller: the employee the identity claim names, with their groups."""
    return c.Caller(sub=caller.id, groups=caller.roles)


def params(*names: str) -> dict[str, Any]:
    return {name: s.PATH_PARAMETERS[name] for name in names}


def _day(body: Mapping[str, Any], name: str) -> date:
    return date.fromisoformat(body[name])


def _dates_in_order(body: Mapping[str, Any]) -> None:
    if body["end"] < body["start"]:
        raise bad_request("body.end must not be before body.start", field="body.end")


def _leave_recorded(command: Any, events: Sequence[Event]) -> dict[str, Any]:
    (leave,) = [e for e in events if isinstance(e, (LeaveRequested, PastLeaveAdded))]
    return {"request_id": leave.request_id, "working_days": leave.working_days}


def _decided(status: str) -> Any:
    return lambda command, events: {"request_id": command.request_id, "status": status}


def _week(command: c.ChangeWorkingWeek, events: Sequence[Event]) -> dict[str, Any]:
    changed = [e for e in events if isinstance(e, WorkingWeekChanged)]
    return {"employee_id": command.employee_id, "days": list(changed[0].days if changed else normalize_week(command.days))}


def _transferred(command: c.TransferEmployee, events: Sequence[Event]) -> dict[str, Any]:
    (moved,) = [e for e in events if isinstance(e, EmployeeTransferred)]
    return {
        "employee_id": moved.employee_id,
        "from_location_id": moved.from_location_id,
        "to_location_id": moved.to_location_id,
        "effective_on": moved.effective_on.isoformat(),
    }


FEED_TOKEN_BYTES = 32
"""Random bytes of a calendar feed token (256 bits; 43 base64url characters)."""


def new_feed_token() -> str:
    """A new calendar feed token: `FEED_TOKEN_BYTES` from `secrets`, base64url without padding."""
    return secrets.token_urlsafe(FEED_TOKEN_BYTES)


def feed_url(token: str) -> str:
    """The subscription URL of a feed token: `<API_URL>/calendar-feeds/<token>.ics` (a path
    alone when the function has no `API_URL`, as in unit tests)."""
    from acme_eventsourcing.runtime.openapi import configured_server_url  # only these commands need it

    return (configured_server_url() or "").rstrip("/") + FEED_PATH_PREFIX + token + FEED_SUFFIX


def _create_feed(p: Mapping[str, str], b: Mapping[str, Any], caller: Caller) -> c.CreateCalendarFeed:
    return c.CreateCalendarFeed(caller=who(caller), scope=b["scope"], subject_id=b["subject_id"], token=new_feed_token())


def _feed_created(command: c.CreateCalendarFeed, events: Sequence[Event]) -> dict[str, Any]:
    (created,) = [e for e in events if isinstance(e, CalendarFeedCreated)]
    return {"feed_id": created.feed_id, "scope": created.scope, f"{created.scope}_id": created.subject_id, "status": "active"}


def _feed_secret(command: Any, events: Sequence[Event]) -> dict[str, Any]:
    """The URL made of the command's new token: answered once, never stored (`CommandDecl.secret`)."""
    return {"url": feed_url(command.token)} if events else {}


COMMAND_DECLARATIONS: tuple[CommandDecl, ...] = (
    CommandDecl(
        name="create_location",
        method="POST",
        path="/locations",
        who="admin",
        summary="Create a location",
        body=s.CREATE_LOCATION,
        status=201,
        response=s.LOCATION_CREATED,
        command=c.CreateLocation,
        build=lambda p, b, caller: c.CreateLocation(caller=who(caller), name=b["name"]),
        result=lambda command, events: {"location_id": events[0].location_id},
    ),
    CommandDecl(
        name="add_employee",
        method="POST",
        path="/locations/{location_id}/employees",
        who="admin",
        summary="Add an employee to a location",
        body=s.ADD_EMPLOYEE,
        status=201,
        response=s.EMPLOYEE_ADDED,
        errors=(404,),
        parameters=params("location_id"),
        command=c.AddEmployee,
        build=lambda p, b, caller: c.AddEmployee(
            caller=who(caller), location_id=p["location_id"], employee_id=b["employee_id"], name=b["name"]
        ),
        result=lambda command, events: {"employee_id": command.employee_id, "location_id": command.location_id},
    ),
    CommandDecl(
        name="assign_approver",
        method="PUT",
        path="/locations/{location_id}/approver",
        who="admin",
        summary="Make an employee of the location its approver",
        body=s.ASSIGN_APPROVER,
        response=s.APPROVER_ASSIGNED,
        errors=(404,),
        parameters=params("location_id"),
        command=c.AssignApprover,
        build=lambda p, b, caller: c.AssignApprover(caller=who(caller), location_id=p["location_id"], employee_id=b["employee_id"]),
        result=lambda command, events: {"location_id": command.location_id, "approver_id": command.employee_id},
    ),
    CommandDecl(
        name="set_policy",
        method="PUT",
        path="/locations/{location_id}/policy",
        who="admin",
        summary="Set the location's leave policy",
        body=s.SET_POLICY,
        response=s.POLICY_ASSIGNED,
        errors=(404,),
        parameters=params("location_id"),
        command=c.AssignLeavePolicy,
        build=lambda p, b, caller: c.AssignLeavePolicy(
            caller=who(caller),
            location_id=p["location_id"],
            leave_type=b["leave_type"],
            days_per_year=b["days_per_year"],
            max_rollover_days=b["max_rollover_days"],
        ),
        result=lambda command, events: {
            "location_id": command.location_id,
            "leave_type": command.leave_type,
            "days_per_year": number(command.days_per_year),
            "max_rollover_days": number(command.max_rollover_days),
        },
    ),
    CommandDecl(
        name="set_working_week",
        method="PUT",
        path="/employees/{employee_id}/working-week",
        who="admin",
        summary="Set the employee's working days",
        body=s.SET_WORKING_WEEK,
        response=s.WORKING_WEEK_CHANGED,
        errors=(404,),
        parameters=params("employee_id"),
        command=c.ChangeWorkingWeek,
        build=lambda p, b, caller: c.ChangeWorkingWeek(caller=who(caller), employee_id=p["employee_id"], days=tuple(b["days"])),
        result=_week,
    ),
    CommandDecl(
        name="request_leave",
        method="POST",
        path="/employees/{employee_id}/leave-requests",
        who="the employee",
        summary="Request leave",
        body=s.REQUEST_LEAVE,
        status=201,
        response=s.LEAVE_RECORDED,
        errors=(404,),
        parameters=params("employee_id"),
        command=c.RequestLeave,
        check=_dates_in_order,
        build=lambda p, b, caller: c.RequestLeave(
            caller=who(caller),
            employee_id=p["employee_id"],
            leave_type=b["leave_type"],
            start=_day(b, "start"),
            end=_day(b, "end"),
            note=b.get("note", ""),
        ),
        result=_leave_recorded,
    ),
    CommandDecl(
        name="approve_leave",
        method="POST",
        path="/leave-requests/{request_id}/approve",
        who="the location's approver",
        summary="Approve a pending leave request",
        body=s.APPROVE,
        response=s.LEAVE_DECIDED,
        errors=(404,),
        parameters=params("request_id"),
        command=c.ApproveLeave,
        build=lambda p, b, caller: c.ApproveLeave(caller=who(caller), request_id=p["request_id"]),
        result=_decided("approved"),
    ),
    CommandDecl(
        name="deny_leave",
        method="POST",
        path="/leave-requests/{request_id}/deny",
        who="the location's approver",
        summary="Deny a pending leave request",
        body=s.DENY,
        response=s.LEAVE_DECIDED,
        errors=(404,),
        parameters=params("request_id"),
        command=c.DenyLeave,
        build=lambda p, b, caller: c.DenyLeave(caller=who(caller), request_id=p["request_id"], reason=b.get("reason", "")),
        result=_decided("denied"),
    ),
    CommandDecl(
        name="cancel_leave",
        method="POST",
        path="/leave-requests/{request_id}/cancel",
        who="the requester",
        summary="Cancel one's own leave request",
        body=s.CANCEL,
        response=s.LEAVE_DECIDED,
        errors=(404,),
        parameters=params("request_id"),
        command=c.CancelLeave,
        build=lambda p, b, caller: c.CancelLeave(caller=who(caller), request_id=p["request_id"]),
        result=_decided("cancelled"),
    ),
    CommandDecl(
        name="add_past_leave",
        method="POST",
        path="/employees/{employee_id}/past-leaves",
        who="approver or admin",
        summary="Record a leave already taken",
        body=s.ADD_PAST_LEAVE,
        status=201,
        response=s.LEAVE_RECORDED,
        errors=(404,),
        parameters=params("employee_id"),
        command=c.AddPastLeave,
        check=_dates_in_order,
        build=lambda p, b, caller: c.AddPastLeave(
            caller=who(caller), employee_id=p["employee_id"], leave_type=b["leave_type"], start=_day(b, "start"), end=_day(b, "end")
        ),
        result=_leave_recorded,
    ),
    CommandDecl(
        name="transfer_employee",
        method="POST",
        path="/employees/{employee_id}/transfer",
        who="admin",
        summary="Move an employee to another location",
        body=s.TRANSFER,
        response=s.EMPLOYEE_TRANSFERRED,
        errors=(404,),
        parameters=params("employee_id"),
        command=c.TransferEmployee,
        body_fields={"effective_on": "effective_date"},
        build=lambda p, b, caller: c.TransferEmployee(
            caller=who(caller),
            employee_id=p["employee_id"],
            to_location_id=b["to_location_id"],
            effective_on=_day(b, "effective_date") if "effective_date" in b else None,
        ),
        result=_transferred,
    ),
    CommandDecl(
        name="link_slack_user",
        method="PUT",
        path="/slack-links/{team_id}/{user_id}",
        who="the employee themself, or an admin",
        summary="Let a Slack user approve and deny in Slack as this employee (docs/slack.md)",
        body=s.LINK_SLACK_USER,
        response=s.SLACK_LINKED,
        errors=(404,),
        parameters=params("team_id", "user_id"),
        command=c.LinkSlackUser,
        build=lambda p, b, caller: c.LinkSlackUser(
            caller=who(caller), team_id=p["team_id"], slack_user_id=p["user_id"], employee_id=b["employee_id"]
        ),
        result=lambda command, events: {"team_id": command.team_id, "user_id": command.slack_user_id, "employee_id": command.employee_id},
    ),
    CommandDecl(
        name="unlink_slack_user",
        method="DELETE",
        path="/slack-links/{team_id}/{user_id}",
        who="the linked employee, or an admin",
        summary="Remove a Slack user's link: their Slack buttons are refused from now on",
        body=s.UNLINK_SLACK_USER,
        response=s.SLACK_UNLINKED,
        errors=(404,),
        parameters=params("team_id", "user_id"),
        command=c.UnlinkSlackUser,
        build=lambda p, b, caller: c.UnlinkSlackUser(caller=who(caller), team_id=p["team_id"], slack_user_id=p["user_id"]),
        result=lambda command, events: {"team_id": command.team_id, "user_id": command.slack_user_id},
    ),
    CommandDecl(
        name="rollover",
        method="POST",
        path="/rollovers",
        who="admin (and the yearly schedule)",
        summary="Roll unused days of a year over into the next",
        body=s.ROLLOVER,
        status=202,
        response=s.ROLLOVER_DONE,
        command=c.RollOverLeave,
        lookup_first=True,  # walks every employee in many transactions
        build=lambda p, b, caller: c.RollOverLeave(caller=who(caller), from_year=int(b["from_year"])),
        result=lambda command, summary: dict(summary),
    ),
    CommandDecl(
        name="create_calendar_feed",
        method="POST",
        path="/calendar-feeds",
        who="a location's members or an admin (location feed); the employee or an admin (employee feed)",
        summary="Create a secret calendar subscription URL of a location's or an employee's leaves",
        body=s.CREATE_CALENDAR_FEED,
        status=201,
        response=s.CALENDAR_FEED,
        errors=(404,),
        command=c.CreateCalendarFeed,
        build=_create_feed,
        result=_feed_created,
        secret=_feed_secret,
    ),
    CommandDecl(
        name="rotate_calendar_feed",
        method="POST",
        path="/calendar-feeds/{feed_id}/rotate",
        who="the feed's owner or an admin",
        summary="Give a calendar feed a new secret URL; the old one answers 404 from now on",
        body=s.ROTATE_CALENDAR_FEED,
        response=s.FEED_CHANGED,
        errors=(404,),
        parameters=params("feed_id"),
        command=c.RotateCalendarFeedToken,
        build=lambda p, b, caller: c.RotateCalendarFeedToken(caller=who(caller), feed_id=p["feed_id"], token=new_feed_token()),
        result=lambda command, events: {"feed_id": command.feed_id, "status": "active"},
        secret=_feed_secret,
    ),
    CommandDecl(
        name="revoke_calendar_feed",
        method="POST",
        path="/calendar-feeds/{feed_id}/revoke",
        who="the feed's owner or an admin",
        summary="Revoke a calendar feed: its URL answers 404 from now on",
        body=s.REVOKE_CALENDAR_FEED,
        response=s.FEED_CHANGED,
        errors=(404,),
        parameters=params("feed_id"),
        command=c.RevokeCalendarFeed,
        build=lambda p, b, caller: c.RevokeCalendarFeed(caller=who(caller), feed_id=p["feed_id"]),
        result=lambda command, events: {"feed_id": command.feed_id, "status": "revoked"},
    ),
)

RESPOND = Responder(COMMAND_DECLARATIONS)
"""`respond(command, outcome)` of `LeaveService`: each command's declared status and body."""


OPENAPI_ROUTE = Route(
    method="GET",
    path="/openapi.json",
    handler="get_openapi",
    function=COMMANDS,
    who="anyone",
    summary="This API's OpenAPI document",
    status=200,
    response=s.OPENAPI_DOCUMENT,
    public=True,
)
"""Served by the commands function, without a token."""

ASYNCAPI_ROUTE = Route(
    method="GET",
    path="/asyncapi.json",
    handler="get_asyncapi",
    function=COMMANDS,
    who="anyone",
    summary="The AsyncAPI document of the events this service puts on the bus and of its WebSocket messages",
    status=200,
    response=s.ASYNCAPI_DOCUMENT,
    public=True,
)
"""Served by the commands function, without a token (`leave_api.asyncapi`)."""

ROUTES: tuple[Route, ...] = (*(d.route for d in COMMAND_DECLARATIONS), *QUERY_ROUTES, OPENAPI_ROUTE, ASYNCAPI_ROUTE)
"""The route table: what the Pulumi program declares and the OpenAPI document describes."""
BY_KEY: dict[str, Route] = {route.key: route for route in ROUTES}
COMMAND_ROUTES: tuple[Route, ...] = served_by(ROUTES, COMMANDS)
