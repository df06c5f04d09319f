"""Lambda entry point of every command route of API.md (and `GET /openapi.json`).

Thin: match the route, take the caller from the JWT claims, parse and validate the body,
build the domain command, let `LeaveService` decide and append (it loads the streams it
has not cached, then makes one transactional append that also stores the idempotency
record), map errors to the
contract's statuses. A retried request with the same `Idempotency-Key` gets the first
response back: the service's append fails with `IdempotencyKeyUsed` (or the domain
refuses the repeated command), and only then is the stored record looked up.

`handler` wires a DynamoDB store from `EVENTS_TABLE` once per cold start, on first use;
tests build their own with `make_app(store, clock=..., new_id=...)`. Its app reads the
time from the module-level `clock` on every command: the local stack's seam (it sets a
simulated date there after loading the function); AWS never sets it, and nothing in the
environment can shift it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from acme_eventsourcing.runtime.eventstore.ports import ConcurrencyError, EventStore, IdempotencyKeyUsed
from leave import commands as c
from leave.errors import DomainError

from leave_api import http
from leave_api.routes import COMMAND_ROUTES, Match, serve, validate_params
from leave_api.schemas import IDEMPOTENCY_KEY
from leave_api.service import CommandContext, LeaveService, utc_now
from leave_api.validation import errors as schema_errors

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

LOOKUP_FIRST = frozenset({"rollover"})
"""Commands that append in several transactions (rollover walks every employee): a retry
must find the stored response before doing anything, not after the first append."""

Builder = Callable[[Mapping[str, str], Mapping[str, Any], c.Caller], Any]


def _day(body: Mapping[str, Any], name: str) -> date:
    return date.fromisoformat(body[name])


BUILDERS: dict[str, Builder] = {
    "create_location": lambda p, b, who: c.CreateLocation(caller=who, name=b["name"]),
    "add_employee": lambda p, b, who: c.AddEmployee(caller=who, location_id=p["location_id"], employee_id=b["employee_id"], name=b["name"]),
    "assign_approver": lambda p, b, who: c.AssignApprover(caller=who, location_id=p["location_id"], employee_id=b["employee_id"]),
    "set_policy": lambda p, b, who: c.AssignLeavePolicy(
        caller=who,
        location_id=p["location_id"],
        leave_type=b["leave_type"],
        days_per_year=b["days_per_year"],
        max_rollover_days=b["max_rollover_days"],
    ),
    "set_working_week": lambda p, b, who: c.ChangeWorkingWeek(caller=who, employee_id=p["employee_id"], days=tuple(b["days"])),
    "request_leave": lambda p, b, who: c.RequestLeave(
        caller=who,
        employee_id=p["employee_id"],
        leave_type=b["leave_type"],
        start=_day(b, "start"),
        end=_day(b, "end"),
        note=b.get("note", ""),
    ),
    "approve_leave": lambda p, b, who: c.ApproveLeave(caller=who, request_id=p["request_id"]),
    "deny_leave": lambda p, b, who: c.DenyLeave(caller=who, request_id=p["request_id"], reason=b.get("reason", "")),
    "cancel_leave": lambda p, b, who: c.CancelLeave(caller=who, request_id=p["request_id"]),
    "add_past_leave": lambda p, b, who: c.AddPastLeave(
        caller=who, employee_id=p["employee_id"], leave_type=b["leave_type"], start=_day(b, "start"), end=_day(b, "end")
    ),
    "transfer_employee": lambda p, b, who: c.TransferEmployee(
        caller=who,
        employee_id=p["employee_id"],
        to_location_id=b["to_location_id"],
        effective_on=_day(b, "effective_date") if "effective_date" in b else None,
    ),
    "rollover": lambda p, b, who: c.RollOverLeave(caller=who, from_year=int(b["from_year"])),
}


def request_hash(method: str, path: str, body: Any) -> str:
    """sha256 of method, path and the canonical JSON of the body (key order and spacing ignored)."""
    import hashlib  # loads OpenSSL: only requests with an Idempotency-Key pay for it

    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


class CommandsApp:
    """The commands function for one service and store: `app(event) -> response`."""

    def __init__(self, service: LeaveService, store: EventStore) -> None:
        self._service = service
        self._store = store

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return serve(event, COMMAND_ROUTES, self._dispatch)

    def _dispatch(self, event: Mapping[str, Any], found: Match, correlation: str, extra: dict[str, Any]) -> dict[str, Any]:
        route = found.route
        if route.public:
            from leave_api.openapi import configured_server_url, document  # only this route needs them

            return http.json_response(200, document(configured_server_url()))
        caller = http.caller(event)
        params = validate_params(route, found.params)
        body = http.json_body(event)
        problems = schema_errors(body, route.body, "body") if route.body is not None else []
        if problems:
            first = problems[0]
            raise http.bad_request(first.message, field=first.field, details=[p.as_dict() for p in problems])
        if "start" in body and "end" in body and body["end"] < body["start"]:
            raise http.bad_request("body.end must not be before body.start", field="body.end")
        key = self._idempotency_key(event)
        scoped = f"{caller.subject}#{key}" if key else None
        digest = request_hash(route.method, route.concrete_path(params), body) if scoped else None
        if scoped and digest and route.handler in LOOKUP_FIRST:
            replay = self._replay(scoped, digest)
            if replay is not None:
                extra["idempotent_replay"] = True
                return replay
        command = BUILDERS[route.handler](params, body, c.Caller(sub=caller.employee_id, groups=caller.roles))
        context = CommandContext(
            caller=caller.employee_id,
            correlation_id=correlation,
            idempotency_key=scoped,
            request_hash=digest,
        )
        try:
            result = self._service.execute(command, context)
        except (IdempotencyKeyUsed, ConcurrencyError, DomainError) as exc:
            replay = self._replay(scoped, digest) if scoped and digest else None
            if replay is not None:
                extra["idempotent_replay"] = True
                return replay
            raise _http_error(exc) from exc
        return http.json_response(result.status, result.body)

    @staticmethod
    def _idempotency_key(event: Mapping[str, Any]) -> str | None:
        key = http.header(event, IDEMPOTENCY_HEADER)
        if key is None:
            return None
        if schema_errors(key, IDEMPOTENCY_KEY, "header"):
            raise http.bad_request(
                f"the {IDEMPOTENCY_HEADER} header must be 1-128 characters: letters, digits, _ . : -",
                code="invalid_idempotency_key",
                field=f"header.{IDEMPOTENCY_HEADER}",
            )
        return key

    def _replay(self, scoped: str, digest: str) -> dict[str, Any] | None:
        """The first response of this key if it was for the same request; 422 if for another."""
        record = self._store.get_idempotency(scoped)
        if record is None:
            return None
        if record.request_hash != digest:
            raise http.HttpError(422, "idempotency_key_reused", f"this {IDEMPOTENCY_HEADER} was already used for a different request")
        return http.json_response(int(record.response["status"]), record.response.get("body"), headers={REPLAYED_HEADER: "true"})


BODY_FIELDS = {"effective_on": "effective_date"}
"""Command fields whose body field has another name (the rest are the same)."""


def _http_error(exc: Exception) -> http.HttpError:
    if isinstance(exc, DomainError):
        field = None if exc.field is None else "body." + BODY_FIELDS.get(exc.field, exc.field)
        return http.HttpError(exc.http_status, exc.code, exc.message, field=field)
    if isinstance(exc, IdempotencyKeyUsed):
        return http.HttpError(409, "concurrent_modification", f"a request with this {IDEMPOTENCY_HEADER} is still in progress; retry")
    return http.HttpError(409, "concurrent_modification", "the data changed while processing; retry")


def make_app(store: EventStore, **service_options: Any) -> CommandsApp:
    """A commands app on `store` (`clock=`, `new_id=` go to `LeaveService`)."""
    return CommandsApp(LeaveService(store, **service_options), store)


clock: Callable[[], datetime] = utc_now
"""The current time of `handler`'s app, read per command: the local stack's seam; AWS never sets it."""

_app: CommandsApp | None = None


def _app_from_environment() -> CommandsApp:
    import boto3  # deferred: importing this module must not need AWS
    from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore

    table = os.environ.get("EVENTS_TABLE")
    if not table:
        raise RuntimeError("EVENTS_TABLE is not set: the commands function needs the Events table's name")
    return make_app(DynamoDBEventStore(boto3.client("dynamodb"), table), clock=lambda: clock())


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """The Lambda entry point (`leave_api.commands.handler`)."""
    global _app
    if _app is None:
        _app = _app_from_environment()
    return _app(event)
