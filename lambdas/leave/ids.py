"""Identifiers of the leave domain: stream ids and request ids.

Employee and location ids match ``^[A-Za-z0-9_.@-]{1,64}$`` (checked by the HTTP layer), so
they never contain ``~``. A request id is ``f"{employee_id}~{n}"``, where ``n`` is the
employee-stream version of the event that created the request: the id alone names the stream
to load, with no lookup table.
"""

from __future__ import annotations

EMPLOYEE_STREAM_PREFIX = "employee#"
LOCATION_STREAM_PREFIX = "location#"
DIRECTORY_STREAM_ID = "directory#locations"
"""The stream listing every location: rollover walks it instead of scanning the table."""

ROLLOVER_STREAM_PREFIX = "rollover#"
CALENDAR_FEED_STREAM_PREFIX = "calendar-feed#"

SLACK_LINK_STREAM_PREFIX = "slack-link#"

REQUEST_ID_SEPARATOR = "~"


def employee_stream_id(employee_id: str) -> str:
    """The stream of one employee, e.g. ``employee#john``."""
    return f"{EMPLOYEE_STREAM_PREFIX}{employee_id}"


def location_stream_id(location_id: str) -> str:
    """The stream of one location, e.g. ``location#loc_0123456789ab``."""
    return f"{LOCATION_STREAM_PREFIX}{location_id}"


def rollover_stream_id(from_year: int) -> str:
    """The stream of one year's rollover, e.g. ``rollover#2026`` (holds its `RolloverCompleted`)."""
    return f"{ROLLOVER_STREAM_PREFIX}{from_year}"


def calendar_feed_stream_id(feed_id: str) -> str:
    """The stream of one calendar subscription feed, e.g. ``calendar-feed#feed_0123456789abcdef01234567``."""
    return f"{CALENDAR_FEED_STREAM_PREFIX}{feed_id}"


def slack_link_stream_id(team_id: str, slack_user_id: str) -> str:
    """The stream of one Slack user's link to an employee, e.g. ``slack-link#T0123:U0456``
    (Slack ids are upper-case letters and digits, so the key is unambiguous)."""
    return f"{SLACK_LINK_STREAM_PREFIX}{team_id}:{slack_user_id}"


def make_request_id(employee_id: str, n: int) -> str:
    """The id of the leave created by version ``n`` of the employee's stream."""
    return f"{employee_id}{REQUEST_ID_SEPARATOR}{n}"


def parse_request_id(request_id: str) -> tuple[str, int]:
    """``(employee_id, n)`` of a request id; `ValueError` if it is not one."""
    employee_id, sep, n = request_id.rpartition(REQUEST_ID_SEPARATOR)
    if not sep or not employee_id or not n.isascii() or not n.isdigit() or int(n) < 1 or n != str(int(n)):
        raise ValueError(f"not a request id: {request_id!r}")
    return employee_id, int(n)
