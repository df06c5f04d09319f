"""The approval reminders workflow's tasks: schedule, remind, escalate.

Started for each `LeaveRequested` (execution named after the request), stopped when the
request is approved, denied or cancelled. The state machine
(`leave_workflows.definitions.REMINDERS`):

    Schedule -> Wait until remind_at -> Remind -> (still pending?) -> Wait until escalate_at -> Escalate

- `schedule` reads the request (its `LeaveRequested`'s `occurred_at` is when it was made)
  and computes ``remind_at`` and ``escalate_at``: `REMIND_AFTER_WORKING_DAYS` (default 2) and
  `ESCALATE_AFTER_WORKING_DAYS` (default 5) working days later, counted in the deciding
  approver's working week (`leave.reminders`).
- `remind` and `escalate` each re-read the request: only if it is still pending do they append
  `ApprovalReminderSent` / `ApprovalEscalated` on the request's stream (once per request, so a
  retried task appends nothing twice); each returns whether it is still pending. Stopping the
  execution on a decision is the fast path; this re-check is what guarantees that nobody is
  reminded of a decided request.

The input of `schedule` is the bus event that started the execution (its
``detail.data.request_id``) or ``{"request_id": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acme_eventsourcing.runtime.handler import Clock, ConfigurationError, LambdaHandler
from acme_eventsourcing.runtime.service import CommandContext
from leave.reminders import DEFAULT_ESCALATE_AFTER_WORKING_DAYS, DEFAULT_REMIND_AFTER_WORKING_DAYS, check_delays
from leave_api.service import LeaveService

from leave_workflows.tasks import TaskApp, TaskInputError, dynamodb_store, field, positive_int

WORKFLOW = "reminders"
SYSTEM_ACTOR = "system:reminders"
"""The `actor` of the reminders' events (no employee id holds ``:``)."""


class ReminderTasks:
    """The tasks of the reminders workflow on a `LeaveService` (see the module docstring)."""

    def __init__(
        self,
        service: LeaveService,
        *,
        remind_after: int = DEFAULT_REMIND_AFTER_WORKING_DAYS,
        escalate_after: int = DEFAULT_ESCALATE_AFTER_WORKING_DAYS,
    ) -> None:
        check_delays(remind_after, escalate_after)
        self.service = service
        self.remind_after = remind_after
        self.escalate_after = escalate_after

    def app(self) -> TaskApp:
        return TaskApp(WORKFLOW, {"schedule": self.schedule, "remind": self.remind, "escalate": self.escalate})

    def schedule(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``{"request_id", "submitted_at", "remind_at", "escalate_at", "pending",
        "remind_after", "escalate_after"}`` (times as ``2026-01-07T09:00:00Z``)."""
        request_id = request_id_of(payload)
        times = self.service.reminder_times(request_id, remind_after=self.remind_after, escalate_after=self.escalate_after)
        return {**times, "remind_after": self.remind_after, "escalate_after": self.escalate_after}

    def remind(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Remind the approver if the request is still pending: ``{"request_id", "pending", "sent"}``."""
        return self._send(payload, escalate=False)

    def escalate(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Escalate to the admins if the request is still pending: ``{"request_id", "pending", "sent"}``."""
        return self._send(payload, escalate=True)

    def _send(self, payload: Mapping[str, Any], *, escalate: bool) -> dict[str, Any]:
        request_id = request_id_of(payload)
        after = field(
            payload, "escalate_after" if escalate else "remind_after", int, default=self.escalate_after if escalate else self.remind_after
        )
        execution = payload.get("execution")
        context = CommandContext(
            caller=SYSTEM_ACTOR, correlation_id=execution if isinstance(execution, str) and execution else f"reminders-{request_id}"
        )
        return self.service.remind(request_id, escalate=escalate, working_days_pending=after, context=context)


def request_id_of(payload: Mapping[str, Any]) -> str:
    """The request id of a task's input: ``request_id``, or the bus event's ``detail.data.request_id``."""
    request_id = payload.get("request_id")
    if request_id is None:
        detail = payload.get("detail")
        data = detail.get("data") if isinstance(detail, Mapping) else None
        request_id = data.get("request_id") if isinstance(data, Mapping) else None
    if not isinstance(request_id, str) or not request_id:
        raise TaskInputError("the input needs request_id (or a bus event with detail.data.request_id)")
    return request_id


def make_app(service: LeaveService, **options: int) -> TaskApp:
    """The task app on `service` (`remind_after=`, `escalate_after=` working days)."""
    return ReminderTasks(service, **options).app()


def build(environ: Mapping[str, str], clock: Clock) -> TaskApp:
    """The app of the deployed function: a DynamoDB store on `EVENTS_TABLE`, dated by `clock`;
    the delays from `REMIND_AFTER_WORKING_DAYS` and `ESCALATE_AFTER_WORKING_DAYS`."""
    remind_after = positive_int(environ, "REMIND_AFTER_WORKING_DAYS", DEFAULT_REMIND_AFTER_WORKING_DAYS)
    escalate_after = positive_int(environ, "ESCALATE_AFTER_WORKING_DAYS", DEFAULT_ESCALATE_AFTER_WORKING_DAYS)
    try:
        check_delays(remind_after, escalate_after)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return make_app(LeaveService(dynamodb_store(environ), clock=clock), remind_after=remind_after, escalate_after=escalate_after)


handler = LambdaHandler(build)
"""The Lambda entry point (`leave_workflows.reminders.handler`)."""
