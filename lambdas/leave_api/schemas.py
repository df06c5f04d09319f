"""JSON Schemas of the API: request bodies, path and query parameters, responses, errors.

One source of truth: the handlers validate with them (the runtime library's
`acme_eventsourcing.runtime.validation`) and `openapi.document()` publishes them. They use
only what `validation.check_schema` accepts, and each is also valid JSON Schema 2020-12
(the tests cross-check with `jsonschema`). The error format and the `Idempotency-Key`
schema are the runtime library's (every service answers the same).
"""

from __future__ import annotations

from typing import Any

from acme_eventsourcing.runtime.http import ERROR_SCHEMA as ERROR  # noqa: F401 - published here too
from acme_eventsourcing.runtime.http import IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_PATTERN  # noqa: F401 - published here too

Schema = dict[str, Any]

# --- building blocks ---------------------------------------------------------------------

ID_PATTERN = "^[A-Za-z0-9_.@-]{1,64}$"
ID: Schema = {
    "type": "string",
    "pattern": ID_PATTERN,
    "description": "An employee or location id: 1-64 letters, digits or `_ . @ -` (see `leave.ids`).",
    "examples": ["john"],
}
REQUEST_ID: Schema = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_.@-]{1,64}~[1-9][0-9]{0,9}$",
    "description": "A leave request id `<employee_id>~<n>` (see `leave.ids`).",
    "examples": ["john~3"],
}
STREAM_ID: Schema = {
    "type": "string",
    "pattern": "^[a-z][a-z_-]{0,31}#[A-Za-z0-9_.@:-]{1,80}$",
    "description": "A stream id `<kind>#<id>`, e.g. `employee#john`, `slack-link#T0123:U0456` (URL-encode `#` as `%23`).",
    "examples": ["employee#john"],
}
SLACK_ID: Schema = {
    "type": "string",
    "pattern": "^[A-Z0-9]{2,32}$",
    "description": "A Slack id: a workspace (team) `T...`, a user `U...` or `W...` (Slack: the member's profile, Copy member ID).",
    "examples": ["T0123ABCD"],
}
LEAVE_TYPE: Schema = {
    "type": "string",
    "pattern": "^[A-Z][A-Z0-9_]{1,31}$",
    "description": "Leave type code in capitals, e.g. `PTO`.",
    "examples": ["PTO"],
}
DATE: Schema = {"type": "string", "format": "date", "description": "An ISO date `YYYY-MM-DD`.", "examples": ["2026-01-05"]}
HORIZON_DATE: Schema = {
    **DATE,
    # The whole date shape, not only the century: generators (schemathesis, hypothesis-jsonschema)
    # draw from the pattern, and a bare `^20` prefix left nearly every drawn string an invalid date.
    "pattern": "^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
    "description": "An ISO date `YYYY-MM-DD` from 2000-01-01 to 2099-12-31, the service's horizon (`leave.horizon`).",
}
"""A date a command records: within the horizon, so no date makes unbounded arithmetic or rows."""
NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}
TEXT: Schema = {"type": "string", "maxLength": 1000}
DAYS: Schema = {"type": "number", "minimum": 0, "maximum": 366, "multipleOf": 0.5, "description": "Days, in steps of half a day."}
YEAR: Schema = {"type": "integer", "minimum": 2000, "maximum": 2100}
HORIZON_YEAR: Schema = {**YEAR, "maximum": 2099, "description": "A year of the service's horizon, 2000 to 2099."}
WEEKDAY: Schema = {"type": "string", "enum": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]}
WORKING_DAYS: Schema = {"type": "number", "minimum": 0, "description": "Working days the leave covers."}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None, **annotations: Any) -> Schema:
    """A closed object schema: these properties, the first group required, nothing else."""
    schema: Schema = {"type": "object", "properties": {**required, **(optional or {})}, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return {**schema, **annotations}


FEED_ID: Schema = {
    "type": "string",
    "pattern": "^feed_[0-9a-f]{24}$",
    "description": "A calendar feed id (not a secret: the feed's token is).",
    "examples": ["feed_0123456789abcdef01234567"],
}
FEED_FILE: Schema = {
    "type": "string",
    "minLength": 1,
    "description": "`<token>.ics`: the feed's secret token (43 base64url characters, 256 random bits) and `.ics`. "
    "An unknown, rotated-away or revoked token, or anything else, answers 404.",
    "examples": ["5qQKHkzVJZKk2f0lJ0Y8cX8z1mN3oPqRsTuVwXyZa0b.ics"],
}

# --- path parameters (every `{name}` of every route) ---------------------------------------

PATH_PARAMETERS: dict[str, Schema] = {
    "location_id": ID,
    "employee_id": ID,
    "request_id": REQUEST_ID,
    "stream_id": STREAM_ID,
    "feed_id": FEED_ID,
    "feed_file": FEED_FILE,
    "team_id": SLACK_ID,
    "user_id": SLACK_ID,
}

# --- request bodies of the commands ---------------------------------------------------------

CREATE_LOCATION = obj({"name": NAME}, title="CreateLocation")
ADD_EMPLOYEE = obj({"employee_id": ID, "name": NAME}, title="AddEmployee")
ASSIGN_APPROVER = obj({"employee_id": ID}, title="AssignApprover")
SET_POLICY = obj(
    {"leave_type": LEAVE_TYPE, "days_per_year": DAYS, "max_rollover_days": DAYS},
    title="SetLeavePolicy",
)
SET_WORKING_WEEK = obj(
    {"days": {"type": "array", "items": WEEKDAY, "minItems": 1, "maxItems": 7, "uniqueItems": True}},
    title="SetWorkingWeek",
)
REQUEST_LEAVE = obj({"leave_type": LEAVE_TYPE, "start": HORIZON_DATE, "end": HORIZON_DATE}, {"note": TEXT}, title="RequestLeave")
APPROVE = obj({}, title="ApproveLeave")
LINK_SLACK_USER = obj({"employee_id": ID}, title="LinkSlackUser")
UNLINK_SLACK_USER = obj({}, title="UnlinkSlackUser")
DENY = obj({}, {"reason": TEXT}, title="DenyLeave")
CANCEL = obj({}, title="CancelLeave")
ADD_PAST_LEAVE = obj({"leave_type": LEAVE_TYPE, "start": HORIZON_DATE, "end": HORIZON_DATE}, title="AddPastLeave")
TRANSFER = obj(
    {"to_location_id": ID},
    {
        "effective_date": {
            **HORIZON_DATE,
            "description": "The day the new location's policy starts (default: today, UTC), from 2000-01-01 to 2099-12-31.",
        }
    },
    title="TransferEmployee",
)
ROLLOVER = obj({"from_year": HORIZON_YEAR}, title="Rollover")
CREATE_CALENDAR_FEED = obj(
    {"scope": {"type": "string", "enum": ["location", "employee"]}, "subject_id": ID},
    title="CreateCalendarFeed",
    description="`scope` `location` and the location's id in `subject_id` (its leaves: its members or an admin), "
    "or `employee` and the employee's id (their leaves: the employee or an admin).",
)
ROTATE_CALENDAR_FEED = obj({}, title="RotateCalendarFeedToken")
REVOKE_CALENDAR_FEED = obj({}, title="RevokeCalendarFeed")

# --- query parameters of the queries ----------------------------------------------------------

BALANCE_QUERY = obj(
    {},
    {
        "year": {**YEAR, "description": "Default: the current year (UTC)."},
        "leave_type": {**LEAVE_TYPE, "default": "PTO"},
    },
    title="BalanceQuery",
)
CALENDAR_QUERY = obj(
    {},
    {"from": {**DATE, "description": "First day (inclusive)."}, "to": {**DATE, "description": "Last day (inclusive)."}},
    title="CalendarQuery",
)
NO_QUERY = obj({}, title="NoQuery")

# --- responses ------------------------------------------------------------------------------


def result(properties: dict[str, Schema], optional: dict[str, Schema] | None = None, **annotations: Any) -> Schema:
    """A response object: every property of `properties` is always present, those of
    `optional` sometimes; clients ignore extra ones."""
    return {"type": "object", "required": list(properties), "properties": {**properties, **(optional or {})}, **annotations}


LOCATION_CREATED = result({"location_id": ID}, title="LocationCreated")
EMPLOYEE_ADDED = result({"employee_id": ID, "location_id": ID}, title="EmployeeAdded")
SLACK_LINKED = result({"team_id": SLACK_ID, "user_id": SLACK_ID, "employee_id": ID}, title="SlackUserLinked")
SLACK_UNLINKED = result({"team_id": SLACK_ID, "user_id": SLACK_ID}, title="SlackUserUnlinked")
APPROVER_ASSIGNED = result({"location_id": ID, "approver_id": ID}, title="ApproverAssigned")
POLICY_ASSIGNED = result(
    {"location_id": ID, "leave_type": LEAVE_TYPE, "days_per_year": DAYS, "max_rollover_days": DAYS},
    title="LeavePolicyAssigned",
)
WORKING_WEEK_CHANGED = result(
    {"employee_id": ID, "days": {"type": "array", "items": WEEKDAY, "uniqueItems": True}},
    title="WorkingWeekChanged",
)
LEAVE_RECORDED = result({"request_id": REQUEST_ID, "working_days": WORKING_DAYS}, title="LeaveRecorded")
LEAVE_DECIDED = result(
    {"request_id": REQUEST_ID, "status": {"type": "string", "enum": ["approved", "denied", "cancelled"]}},
    title="LeaveStatusChanged",
)
EMPLOYEE_TRANSFERRED = result(
    {"employee_id": ID, "from_location_id": ID, "to_location_id": ID, "effective_on": DATE},
    title="EmployeeTransferred",
)
ROLLOVER_DONE = result(
    {
        "from_year": YEAR,
        "to_year": YEAR,
        "employees": {"type": "integer", "minimum": 0},
        "employees_rolled_over": {"type": "integer", "minimum": 0},
    },
    title="RolloverDone",
)
FEED_SCOPE: Schema = {"type": "string", "enum": ["location", "employee"]}
FEED_STATUS: Schema = {"type": "string", "enum": ["active", "revoked"]}
FEED_URL: Schema = {
    "type": "string",
    "description": "The feed's secret subscription URL `<API_URL>/calendar-feeds/<token>.ics`, for a calendar "
    "application (no header, no token needed). Answered ONCE, by the request that made the token: it is stored "
    "nowhere in clear, so a replay of the request (same `Idempotency-Key`, `Idempotent-Replayed: true`) answers "
    "without it; rotate the feed to get a new URL.",
}
CALENDAR_FEED = result(
    {"feed_id": FEED_ID, "scope": FEED_SCOPE, "status": FEED_STATUS},
    {"location_id": ID, "employee_id": ID, "url": FEED_URL},
    title="CalendarFeed",
    description="A new calendar feed: `location_id` or `employee_id` names what it shows (its `scope`).",
)
FEED_CHANGED = result({"feed_id": FEED_ID, "status": FEED_STATUS}, {"url": FEED_URL}, title="CalendarFeedChanged")
STALE_ITEM: Schema = result(
    {
        "stream_id": {"type": "string"},
        "stuck_at_version": {"type": "integer", "minimum": 1, "description": "The version the projector could not apply."},
        "reason": {"type": "string", "description": "The error, e.g. `TooManyActionsError: ...`."},
        "since": {"type": "string", "description": "When it was recorded (ISO 8601, UTC)."},
    },
    title="StuckStream",
)
FRESHNESS: dict[str, Schema] = {
    "as_of_version": {
        "type": "integer",
        "minimum": 0,
        "description": "The version of the query's stream (the employee's for a balance, the location's for a calendar, "
        "the stream's for its events) this read model reflects. The response's strong `ETag` changes with the body; "
        "send it in `If-None-Match` to get 304 Not Modified.",
    },
    "as_of": {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 0},
        "description": "Each stream this answer shows, with the version of it the read model reflects.",
    },
    "stale": {
        "type": "array",
        "items": STALE_ITEM,
        "description": "Streams of this answer the projector is stuck on (an event it cannot apply): the answer "
        "stops at `stuck_at_version - 1` for them until the event is redriven. Empty when current.",
    },
}
"""How current a read-model answer is (every query that reads a read model adds these)."""

BALANCE = obj(
    {
        "employee_id": ID,
        "year": YEAR,
        "leave_type": LEAVE_TYPE,
        "allowance": WORKING_DAYS,
        "rolled_over": WORKING_DAYS,
        "used": WORKING_DAYS,
        "pending": WORKING_DAYS,
        "remaining": {"type": "number"},
    },
    {
        "rolled_out": {
            **WORKING_DAYS,
            "description": "Days of this year rolled over into the next one "
            "(remaining = allowance + rolled_over - used - pending - rolled_out).",
        },
        **FRESHNESS,
    },
    title="Balance",
)
PENDING_ITEM: Schema = {
    "type": "object",
    "required": ["request_id", "employee_id", "start", "end", "working_days"],
    "properties": {
        "request_id": REQUEST_ID,
        "employee_id": ID,
        "start": DATE,
        "end": DATE,
        "working_days": WORKING_DAYS,
        "leave_type": LEAVE_TYPE,
    },
}
PENDING = obj({"items": {"type": "array", "items": PENDING_ITEM}}, FRESHNESS, title="PendingApprovals")
CALENDAR_ITEM: Schema = {
    "type": "object",
    "required": ["employee_id", "start", "end"],
    "properties": {
        "request_id": REQUEST_ID,
        "employee_id": ID,
        "leave_type": LEAVE_TYPE,
        "start": DATE,
        "end": DATE,
        "name": {"type": "string", "description": "The employee's name."},
        "status": {"type": "string", "enum": ["pending", "approved"]},
        "working_days": WORKING_DAYS,
    },
}
CALENDAR = obj({"items": {"type": "array", "items": CALENDAR_ITEM}}, FRESHNESS, title="Calendar")
ENVELOPE: Schema = {
    "type": "object",
    "required": ["metadata", "data"],
    "properties": {
        "metadata": {
            "type": "object",
            "required": ["event_id", "stream_id", "version", "occurred_at"],
            "properties": {
                "event_id": {"type": "string"},
                "stream_id": {"type": "string"},
                "version": {"type": "integer", "minimum": 1},
                "occurred_at": {"type": "string"},
                "event_type": {"type": "string"},
                "actor": {"type": "string"},
                "idempotency_key": {"type": "string"},
                "correlation_id": {"type": "string"},
                "causation_id": {"type": "string"},
            },
        },
        "data": {"type": "object"},
    },
}
EVENTS = obj({"items": {"type": "array", "items": ENVELOPE}}, FRESHNESS, title="StreamEvents")
STUCK_STREAMS = obj(
    {"items": {"type": "array", "items": {**STALE_ITEM, "required": [*STALE_ITEM["required"], "projection"]}}},
    title="StuckStreams",
    description="Every stream a projector is stuck on, per projection (one Query of the `stuck` partition of each read-model table).",
)
FEED_ITEM = result(
    {
        "feed_id": FEED_ID,
        "scope": FEED_SCOPE,
        "status": FEED_STATUS,
        "created_at": {"type": "string", "description": "When it was created (ISO 8601, UTC)."},
        "changed_at": {"type": "string", "description": "When it was created, last rotated or revoked (ISO 8601, UTC)."},
    },
    {"location_id": ID, "employee_id": ID},
    title="CalendarFeedItem",
)
CALENDAR_FEEDS = obj(
    {"items": {"type": "array", "items": FEED_ITEM}},
    title="CalendarFeeds",
    description="The caller's calendar feeds, newest first, without their tokens (never stored in clear).",
)
ICALENDAR_DOCUMENT: Schema = {"type": "string", "title": "ICalendarDocument", "description": "An iCalendar (RFC 5545) document."}
OPENAPI_DOCUMENT: Schema = {"type": "object", "title": "OpenAPIDocument", "required": ["openapi", "paths"]}
ASYNCAPI_DOCUMENT: Schema = {"type": "object", "title": "AsyncAPIDocument", "required": ["asyncapi", "channels"]}
