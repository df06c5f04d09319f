"""The query routes of the leave API (API.md): plain data, without the domain.

Kept apart from the command declarations (`leave_api.api`, which builds domain commands)
so that the queries function, which reads read models only, ships neither the domain nor
the event store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acme_eventsourcing.runtime.routes import QUERIES, Route

from leave_api import schemas as s


def _query(
    method: str,
    path: str,
    handler: str,
    who: str,
    summary: str,
    query: Mapping[str, Any] | None,
    response: Mapping[str, Any],
    **kwargs: Any,
) -> Route:
    return Route(
        method=method,
        path=path,
        handler=handler,
        function=QUERIES,
        who=who,
        summary=summary,
        status=200,
        query=query,
        response=response,
        parameters={name: s.PATH_PARAMETERS[name] for name in s.PATH_PARAMETERS if "{" + name + "}" in path},
        **kwargs,
    )


FEED_PATH_PREFIX = "/calendar-feeds/"
FEED_SUFFIX = ".ics"

QUERY_ROUTES: tuple[Route, ...] = (
    _query(
        "GET",
        "/employees/{employee_id}/balance",
        "get_balance",
        "the employee, their approver, admin",
        "Leave balance of an employee for a year",
        s.BALANCE_QUERY,
        s.BALANCE,
        errors=(403, 404),
    ),
    _query(
        "GET",
        "/approvers/{employee_id}/pending",
        "get_pending",
        "that approver",
        "Leave requests waiting for this approver",
        s.NO_QUERY,
        s.PENDING,
        errors=(403,),
    ),
    _query(
        "GET",
        "/locations/{location_id}/calendar",
        "get_calendar",
        "members, admin",
        "Team calendar of a location (JSON, or iCalendar with Accept: text/calendar)",
        s.CALENDAR_QUERY,
        s.CALENDAR,
        errors=(403, 404),
        media_types=("application/json", "text/calendar"),
    ),
    _query(
        "GET",
        "/calendar-feeds",
        "get_calendar_feeds",
        "anyone signed in (their own feeds)",
        "The caller's calendar feeds (without their secret URLs)",
        s.NO_QUERY,
        s.CALENDAR_FEEDS,
    ),
    _query(
        "GET",
        FEED_PATH_PREFIX + "{feed_file}",
        "get_calendar_feed",
        "anyone holding the feed's secret URL (no token: calendar applications send none)",
        "A calendar feed by its secret URL (iCalendar; 404 for an unknown, rotated-away or revoked token)",
        None,  # calendar applications may add query strings of their own: ignored
        s.ICALENDAR_DOCUMENT,
        errors=(404,),
        media_types=("text/calendar",),
        public=True,
        secret_params=("feed_file",),
    ),
    _query(
        "GET",
        "/streams/{stream_id}/events",
        "get_stream_events",
        "admin",
        "Audit history of a stream, oldest first",
        s.NO_QUERY,
        s.EVENTS,
        errors=(403, 404),
    ),
    _query(
        "GET",
        "/admin/projections/stuck",
        "get_stuck_streams",
        "admin",
        "Streams a projector is stuck on (an event it cannot apply), per projection",
        s.NO_QUERY,
        s.STUCK_STREAMS,
        errors=(403,),
    ),
)
