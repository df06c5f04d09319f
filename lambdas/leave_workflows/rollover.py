"""The yearly rollover workflow's tasks: plan, page, roll, complete.

The state machine (`leave_workflows.definitions.ROLLOVER`) runs, for one year:

    Plan -> Map over the page's batches of employees (Roll each batch) -> NextPage -> ...
         -> Complete (RolloverCompleted), or fails if any employee failed

- `plan` derives `from_year` (an explicit ``{"from_year": 2026}``, or the schedule's
  ``{"scheduled_time": "<aws.scheduler.scheduled-time>"}``: the year that has just ended, see
  `year_ended_at`), runs the rollover's up-front checks (`employee.check_rollover`) and
  returns the first page of employee ids, in batches.
- `roll` rolls over each employee of a batch with the rollover command's own domain decision
  (`LeaveService.roll_over_employee`): idempotent per employee and year, so a re-run, a retried
  batch or a partial failure is safe. An employee whose rollover fails for a lasting reason is
  reported in the batch's `failed`; a transient failure fails the batch (`RetryableError`),
  which the state machine retries with backoff.
- `page` adds the batch results to the running totals and returns the next page (`done` when
  there is none).
- `complete` appends `RolloverCompleted` ``{from_year, to_year, employees,
  employees_rolled_over}`` on the year's stream ``rollover#<from_year>``, at most once per
  year (a re-run appends nothing new); the publisher puts it on the bus.

The admin route ``POST /rollovers`` does the same walk in one call and ends with the same
`RolloverCompleted`: both paths give the same events.

State between the tasks (a JSON object, well under the 256 KB payload limit):
``{"from_year", "to_year", "batches": [[employee_id, ...], ...], "cursor", "done",
"totals": {"employees", "rolled_over", "failed"}, "failed_ids": [...]}``; the Map writes
its batch results to ``"results"``.

Environment: `EVENTS_TABLE`; `ROLLOVER_PAGE_SIZE` (employees per page, default 250) and
`ROLLOVER_BATCH_SIZE` (employees per `roll` call, default 25).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from acme_eventsourcing.runtime.handler import Clock, LambdaHandler
from acme_eventsourcing.runtime.service import CommandContext
from leave import employee
from leave.commands import ADMIN_GROUP, Caller, RollOverLeave
from leave_api.service import LeaveService, parse_timestamp

from leave_workflows.tasks import TaskApp, TaskInputError, dynamodb_store, field, is_transient, positive_int

logger = logging.getLogger(__name__)

WORKFLOW = "rollover"
SYSTEM_CALLER = Caller(sub="system:rollover", groups=frozenset({ADMIN_GROUP}))
"""Who the workflow acts as: an admin that no employee id can name (ids never hold ``:``)."""
DEFAULT_PAGE_SIZE = 250
DEFAULT_BATCH_SIZE = 25
MAX_FAILED_IDS = 50
"""How many failed employee ids the state keeps (the count is always whole)."""


def year_ended_at(scheduled_time: datetime) -> int:
    """The year a new-year schedule closes: the year whose end is nearest `scheduled_time`.

    The yearly schedule fires in the first hours of 1 January in its time zone, which is
    within a day of 1 January 00:00 UTC in any zone (UTC-12..UTC+14): e.g. 01:00 in
    Auckland is 12:00 UTC on 31 December. So a time in the first half of a year closes the
    year before, one in the second half closes its own year; no time zone data needed."""
    return scheduled_time.year - 1 if scheduled_time.month <= 6 else scheduled_time.year


class RolloverTasks:
    """The tasks of the rollover workflow on a `LeaveService` (see the module docstring)."""

    def __init__(self, service: LeaveService, *, page_size: int = DEFAULT_PAGE_SIZE, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if page_size < 1 or batch_size < 1:
            raise ValueError(f"page_size and batch_size must be >= 1, got {page_size}, {batch_size}")
        self.service = service
        self.page_size = page_size
        self.batch_size = batch_size

    def app(self) -> TaskApp:
        return TaskApp(WORKFLOW, {"plan": self.plan, "page": self.page, "roll": self.roll, "complete": self.complete})

    # --- tasks ---------------------------------------------------------------------------

    def plan(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The year to close and the first page of employees; refuses a year not started yet
        (`RuleViolated` year_not_started) before reading anything."""
        from_year = self._from_year(payload)
        command = RollOverLeave(caller=SYSTEM_CALLER, from_year=from_year)
        employee.check_rollover(command, self.service.now().date())
        state = {
            "from_year": from_year,
            "to_year": from_year + 1,
            "totals": {"employees": 0, "rolled_over": 0, "failed": 0},
            "failed_ids": [],
        }
        return {**state, **self._page(after=None)}

    def page(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Add the Map's batch results (``payload["results"]``) to the totals; the next page."""
        from_year = field(payload, "from_year", int)
        totals = dict(field(payload, "totals", Mapping))
        failed_ids = list(field(payload, "failed_ids", list, default=[]))
        for result in field(payload, "results", list):
            if not isinstance(result, Mapping):
                raise TaskInputError(f"each batch result must be an object, got {result!r}")
            failed = list(result.get("failed") or [])
            totals["employees"] = totals.get("employees", 0) + int(result.get("employees", 0))
            totals["rolled_over"] = totals.get("rolled_over", 0) + int(result.get("rolled_over", 0))
            totals["failed"] = totals.get("failed", 0) + len(failed)
            failed_ids.extend(failed[: max(0, MAX_FAILED_IDS - len(failed_ids))])
        cursor = payload.get("cursor")
        state = {"from_year": from_year, "to_year": from_year + 1, "totals": totals, "failed_ids": failed_ids}
        if cursor is None:
            return {**state, "batches": [], "cursor": None, "done": True}
        if not isinstance(cursor, str):
            raise TaskInputError(f"cursor must be an employee id or null, got {cursor!r}")
        return {**state, **self._page(after=cursor)}

    def roll(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Roll each employee of ``employee_ids`` (or the one ``employee_id``) over from
        ``from_year``: ``{"employees", "rolled_over", "failed": [ids]}``."""
        from_year = field(payload, "from_year", int)
        ids = field(payload, "employee_ids", list) if "employee_ids" in payload else [field(payload, "employee_id", str)]
        if not all(isinstance(i, str) and i for i in ids):
            raise TaskInputError(f"employee_ids must be a list of employee ids, got {ids!r}")
        command = RollOverLeave(caller=SYSTEM_CALLER, from_year=from_year)
        context = self._context(payload, from_year)
        rolled_over, failed = 0, []
        for employee_id in ids:
            try:
                rolled_over += self.service.roll_over_employee(command, employee_id, context)
            except Exception as exc:
                if is_transient(exc):
                    raise  # the batch is retried: every employee done so far gets nothing new
                logger.exception("rollover of %s from %s failed", employee_id, from_year)
                failed.append(employee_id)
        return {"employees": len(ids), "rolled_over": rolled_over, "failed": failed}

    def complete(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Append the year's `RolloverCompleted` (once per year); refuses if any employee failed."""
        from_year = field(payload, "from_year", int)
        totals = field(payload, "totals", Mapping)
        if totals.get("failed"):
            raise TaskInputError(f"{totals['failed']} employees failed: run the workflow again before completing {from_year}")
        command = RollOverLeave(caller=SYSTEM_CALLER, from_year=from_year)
        result = self.service.complete_rollover(
            command,
            employees=int(totals.get("employees", 0)),
            employees_rolled_over=int(totals.get("rolled_over", 0)),
            context=self._context(payload, from_year),
        )
        return dict(result.body)

    # --- helpers -------------------------------------------------------------------------

    def _page(self, *, after: str | None) -> dict[str, Any]:
        ids = self.service.members(after=after, limit=self.page_size)
        batches = [ids[i : i + self.batch_size] for i in range(0, len(ids), self.batch_size)]
        cursor = ids[-1] if len(ids) == self.page_size else None
        return {"batches": batches, "cursor": cursor, "done": False}

    @staticmethod
    def _from_year(payload: Mapping[str, Any]) -> int:
        if payload.get("from_year") is not None:
            return field(payload, "from_year", int)
        scheduled = payload.get("scheduled_time")
        if not isinstance(scheduled, str):
            raise TaskInputError("give from_year (e.g. 2026) or scheduled_time (the schedule's <aws.scheduler.scheduled-time>)")
        try:
            return year_ended_at(parse_timestamp(scheduled))
        except ValueError:
            raise TaskInputError(f"scheduled_time must be an ISO-8601 time, got {scheduled!r}") from None

    @staticmethod
    def _context(payload: Mapping[str, Any], from_year: int) -> CommandContext:
        execution = payload.get("execution")
        correlation = execution if isinstance(execution, str) and execution else f"rollover-{from_year}"
        return CommandContext(caller=SYSTEM_CALLER.sub, correlation_id=correlation)


def make_app(service: LeaveService, **options: int) -> TaskApp:
    """The task app on `service` (`page_size=`, `batch_size=`)."""
    return RolloverTasks(service, **options).app()


def build(environ: Mapping[str, str], clock: Clock) -> TaskApp:
    """The app of the deployed function: a DynamoDB store on `EVENTS_TABLE`, dated by `clock`."""
    return make_app(
        LeaveService(dynamodb_store(environ), clock=clock),
        page_size=positive_int(environ, "ROLLOVER_PAGE_SIZE", DEFAULT_PAGE_SIZE),
        batch_size=positive_int(environ, "ROLLOVER_BATCH_SIZE", DEFAULT_BATCH_SIZE),
    )


handler = LambdaHandler(build)
"""The Lambda entry point (`leave_workflows.rollover.handler`)."""
