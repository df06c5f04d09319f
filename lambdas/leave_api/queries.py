"""Lambda entry point of the query routes of API.md: reads read-model tables, nothing else.

Thin: match the route, take the caller from the JWT claims (401 first), validate path and
query parameters (400 naming the parameter), look the ids up (404), authorize with facts of
the read models (403), answer. The layouts read here are written by `leave_projections`
(each module's docstring): a row is `pk`, `sk`, `rev`, and `doc` (JSON text).

- balance: the employee, the approver of their current location, or an admin;
- pending: that approver only; the join of `approver#<id>` (their locations) with
  `pending#<location>` (the requests there), without the approver's own requests (an admin
  decides those);
- calendar: current members of the location, or an admin; `Accept: text/calendar` gives the
  iCalendar feed (VEVENTs rendered by the projector);
- stream events: admin only;
- calendar feeds: `GET /calendar-feeds` lists the caller's own feeds (no tokens: none is
  stored); `GET /calendar-feeds/<token>.ics` is PUBLIC (calendar applications send no
  header): the token is the credential. It is hashed (SHA-256) and looked up as
  `token#<digest>` in the calendar read model, which holds only active tokens; a location
  feed also needs its owner to be a member still (unless an admin made it). Every failure,
  whatever its cause (malformed, unknown, rotated away, revoked, owner gone), is the same
  404 body, so the answer tells nothing about why.

`handler` is a `LambdaHandler` (runtime library): its first call builds the app from the
environment (`READ_MODEL_TABLE_<PROJECTION>`, DynamoDB) and keeps it for the container's
life; tests build `QueriesApp(reader, today=...)` on any `ReadModelReader`, or call
`build(environ, clock)`. "Today" comes from the handler's clock, read per request: the local
stack may point it at a simulated day (`handler.use_clock`); AWS never does, and nothing in
the environment can shift it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from acme_eventsourcing.runtime import http
from acme_eventsourcing.runtime.handler import Clock, LambdaHandler
from acme_eventsourcing.runtime.projections import ReadModelReader, freshness, reader_from_env, stuck_streams
from acme_eventsourcing.runtime.routes import Match, query_params, serve, validate_params

from leave_api.query_routes import FEED_SUFFIX, QUERY_ROUTES

PROJECTIONS = ("balance", "pending", "calendar", "audit")
ICALENDAR = "text/calendar"
CALENDAR_END = "END:VCALENDAR\r\n"
BALANCE_FIELDS = ("employee_id", "year", "leave_type", "allowance", "rolled_over", "used", "pending", "remaining", "rolled_out")
CALENDAR_FIELDS = ("request_id", "employee_id", "name", "leave_type", "start", "end", "status", "working_days")
PENDING_FIELDS = ("request_id", "employee_id", "leave_type", "start", "end", "working_days")
ADMIN = "admin"
FEED_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,128}")
"""What a feed token looks like (base64url, 128 bits or more); anything else is not looked up."""
FEED_FIELDS = ("feed_id", "scope", "status", "created_at", "changed_at")
FEED_HISTORY_DAYS = 366
"""A feed shows leaves that ended at most this many days ago, and every later one."""
FEED_CACHE_CONTROL = "private, no-cache"
"""Subscribers may keep a copy but revalidate it (the ETag makes that a 304): a revoked feed
stops at the next refresh, and no shared cache keeps a capability URL's answer."""


def feed_not_found() -> http.HttpError:
    """THE answer of every feed URL that does not serve a calendar, whatever the reason."""
    return http.HttpError(404, "feed_not_found", "no such calendar feed")


def wants_icalendar(accept: str | None) -> bool:
    """Whether the Accept header asks for iCalendar: `text/calendar` listed with q > 0 and not
    below `application/json` (wildcards never outrank an explicit `text/calendar`)."""
    quality: dict[str, float] = {}
    for part in (accept or "").split(","):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = q
    return quality.get(ICALENDAR, 0.0) > 0 and quality[ICALENDAR] >= quality.get(http.JSON_CONTENT_TYPE, 0.0)


def utc_today() -> date:
    """The current day, UTC (the commands side's "today")."""
    return datetime.now(UTC).date()


def approved_locations(reader: ReadModelReader, approver: str) -> list[str]:
    """The locations whose pending requests `approver` may read (and decide)."""
    return [row["location_id"] for row in reader.query("pending", f"approver#{approver}")]


def is_member(calendar_state: Mapping[str, Any], employee_id: str) -> bool:
    """Whether `employee_id` is a current member of the location (may read its calendar)."""
    return employee_id in calendar_state.get("members", [])


class QueriesApp:
    """The queries function for one set of read models: `app(event) -> response`."""

    def __init__(self, reader: ReadModelReader, *, today: Callable[[], date] | None = None) -> None:
        self._reader = reader
        self._today = today or utc_today

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return serve(event, QUERY_ROUTES, self._dispatch)

    def _dispatch(self, event: Mapping[str, Any], found: Match, correlation: str, log_fields: dict[str, Any]) -> dict[str, Any]:
        if found.route.public:  # the feed: its token is in the path, no caller
            return self.get_calendar_feed(found.params, event)
        caller = http.caller(event)
        params = validate_params(found.route, found.params)
        answer = getattr(self, found.route.handler)
        return answer(caller, params, query_params(event, found.route), event)

    # --- the routes (named by `query_routes.QUERY_ROUTES[*].handler`) --------------------------------------

    def get_balance(self, caller: http.Caller, params: dict[str, str], query: dict[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
        employee_id = params["employee_id"]
        year = query.get("year", self._today().year)
        leave_type = query.get("leave_type", "PTO")
        head = self._reader.get("balance", f"employee#{employee_id}", "head")
        if head is None:
            raise http.HttpError(404, "employee_not_found", f"no employee {employee_id}")
        if not (caller.has_role(ADMIN) or caller.id == employee_id or self._approves(caller, head)):
            raise http.HttpError(403, "forbidden", "only the employee, their approver or an admin may see this balance")
        row = self._reader.get("balance", f"balance#{employee_id}", f"{year:04d}#{leave_type}")
        if row is None:
            raise http.HttpError(404, "balance_not_found", f"no {leave_type} balance of {employee_id} for {year}")
        body = {name: row[name] for name in BALANCE_FIELDS}
        return self._answer(event, body, "balance", f"employee#{employee_id}")

    def _approves(self, caller: http.Caller, head: Mapping[str, Any]) -> bool:
        location = head.get("location_id")
        state = self._reader.get("balance", f"location#{location}", "state") if location else None
        return state is not None and state.get("approver_id") == caller.id

    def get_pending(self, caller: http.Caller, params: dict[str, str], query: dict[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
        approver = params["employee_id"]
        if caller.id != approver:
            raise http.HttpError(403, "forbidden", "only that approver may see their pending requests")
        locations = approved_locations(self._reader, approver)
        items = [
            {name: row[name] for name in PENDING_FIELDS}
            for location in locations
            for row in self._reader.query("pending", f"pending#{location}")
            if row["employee_id"] != approver
        ]
        streams = [f"location#{location}" for location in locations] + [f"employee#{i['employee_id']}" for i in items]
        return self._answer(event, {"items": sorted(items, key=lambda i: (i["start"], i["request_id"]))}, "pending", None, streams)

    def get_calendar(self, caller: http.Caller, params: dict[str, str], query: dict[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
        location_id = params["location_id"]
        first, last = query.get("from", ""), query.get("to")
        if last is not None and last < first:
            raise http.bad_request("query.to must not be before query.from", field="query.to")
        state = self._reader.get("calendar", f"location#{location_id}", "state")
        if state is None:
            raise http.HttpError(404, "location_not_found", f"no location {location_id}")
        if not (caller.has_role(ADMIN) or is_member(state, caller.id)):
            raise http.HttpError(403, "forbidden", "only members of the location or an admin may see its calendar")
        rows = [r for r in self._reader.query("calendar", f"calendar#{location_id}", first) if last is None or r["start"] <= last]
        rows.sort(key=lambda r: (r["start"], r["request_id"]))
        streams = sorted({f"employee#{r['employee_id']}" for r in rows})
        if wants_icalendar(http.header(event, "accept")):
            body = state["ics_begin"] + "".join(r["ics"] for r in rows) + CALENDAR_END
            return _conditional(event, http.text_response(200, body, f"{ICALENDAR}; charset=utf-8"))
        items = [{name: r[name] for name in CALENDAR_FIELDS} for r in rows]
        return self._answer(event, {"items": items}, "calendar", f"location#{location_id}", streams)

    def get_calendar_feeds(
        self, caller: http.Caller, params: dict[str, str], query: dict[str, Any], event: Mapping[str, Any]
    ) -> dict[str, Any]:
        rows = self._reader.query("calendar", f"owner#{caller.id}")
        items = [{**{k: r[k] for k in FEED_FIELDS}, f"{r['scope']}_id": r["subject_id"]} for r in rows]
        items.sort(key=lambda i: (i["created_at"], i["feed_id"]), reverse=True)
        return _conditional(event, http.json_response(200, {"items": items}))

    def get_calendar_feed(self, params: Mapping[str, str], event: Mapping[str, Any]) -> dict[str, Any]:
        """The iCalendar document a feed token serves, or `feed_not_found` (see the module docstring)."""
        name = params.get("feed_file", "")
        token = name[: -len(FEED_SUFFIX)] if name.endswith(FEED_SUFFIX) else ""
        if not FEED_TOKEN.fullmatch(token):
            raise feed_not_found()
        digest = hashlib.sha256(token.encode()).hexdigest()
        feed = self._reader.get("calendar", f"token#{digest}", "feed")
        if feed is None or not hmac.compare_digest(str(feed.get("token_sha256", "")), digest):
            raise feed_not_found()
        first = (self._today() - timedelta(days=FEED_HISTORY_DAYS)).isoformat()
        subject = feed["subject_id"]
        if feed["scope"] == "location":
            header = self._reader.get("calendar", f"location#{subject}", "state")
            if header is None or not (feed.get("owner_is_admin") or feed["owner_id"] in header.get("members", [])):
                raise feed_not_found()
            rows = self._reader.query("calendar", f"calendar#{subject}", first)
        else:
            header = self._reader.get("calendar", f"employee-calendar#{subject}", "calendar")
            if header is None:
                raise feed_not_found()
            rows = [r for r in self._reader.query("calendar", f"employee-calendar#{subject}", first) if "ics" in r]
        rows.sort(key=lambda r: (r["start"], r["request_id"]))
        body = header["ics_begin"] + "".join(r["ics"] for r in rows) + CALENDAR_END
        headers = {"cache-control": FEED_CACHE_CONTROL, "x-robots-tag": "noindex", "referrer-policy": "no-referrer"}
        return _conditional(event, http.text_response(200, body, f"{ICALENDAR}; charset=utf-8", headers))

    def get_stream_events(
        self, caller: http.Caller, params: dict[str, str], query: dict[str, Any], event: Mapping[str, Any]
    ) -> dict[str, Any]:
        if not caller.has_role(ADMIN):
            raise http.HttpError(403, "forbidden", "only an admin may read a stream's history")
        stream_id = params["stream_id"]
        items = self._reader.query("audit", f"audit#{stream_id}")
        if not items:
            raise http.HttpError(404, "stream_not_found", f"no events in stream {stream_id}")
        return self._answer(event, {"items": items}, "audit", stream_id)

    def get_stuck_streams(
        self, caller: http.Caller, params: dict[str, str], query: dict[str, Any], event: Mapping[str, Any]
    ) -> dict[str, Any]:
        if not caller.has_role(ADMIN):
            raise http.HttpError(403, "forbidden", "only an admin may list stuck streams")
        return _conditional(event, http.json_response(200, {"items": stuck_streams(self._reader, PROJECTIONS)}))

    # --- how current an answer is -----------------------------------------------------------

    def _answer(
        self, event: Mapping[str, Any], body: dict[str, Any], projection: str, subject: str | None, others: list[str] | tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """The 200 answer of a read-model query, saying how current it is: `as_of_version` (the
        version of `subject`'s stream the read model reflects), `as_of` (each stream the answer
        shows, with that version) and `stale` (those the projector is stuck on), with an ETag."""
        body.update(freshness(self._reader, projection, subject, others))
        return _conditional(event, http.json_response(200, body))


def _conditional(event: Mapping[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Add a strong ETag (a digest of the body, so it changes whenever the answer does, e.g. a
    balance after a policy change with the employee's stream unchanged), and answer 304 Not
    Modified, without a body, when `If-None-Match` names it (or is `*`)."""
    tag = '"' + hashlib.sha256(response["body"].encode()).hexdigest()[:32] + '"'
    response["headers"]["etag"] = tag
    wanted = http.header(event, "if-none-match")
    if wanted is not None and (wanted.strip() == "*" or tag in {t.strip().removeprefix("W/") for t in wanted.split(",")}):
        return {"statusCode": 304, "headers": {"etag": tag}, "body": "", "isBase64Encoded": False}
    return response


def build(environ: Mapping[str, str], clock: Clock) -> QueriesApp:
    """The app of the deployed function: every read-model table from the environment, its day from `clock`."""
    return QueriesApp(reader_from_env(environ, PROJECTIONS), today=lambda: clock().astimezone(UTC).date())


handler = LambdaHandler(build)
"""The Lambda entry point (`leave_api.queries.handler`)."""
