"""The approval reminders workflow's tasks on the in-memory event store: when to remind and
escalate (the approver's working week), once per request, never for a decided request."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.handler import ConfigurationError
from leave.commands import (
    AddEmployee,
    ApproveLeave,
    AssignApprover,
    AssignLeavePolicy,
    Caller,
    CancelLeave,
    ChangeWorkingWeek,
    CreateLocation,
    DenyLeave,
    RequestLeave,
)
from leave.errors import NotFound
from leave_api.service import CommandContext, LeaveService
from leave_workflows import reminders
from leave_workflows.reminders import make_app
from leave_workflows.tasks import TaskInputError

ANA = Caller(sub="ana", groups=frozenset({"admin"}))
MIKE = Caller(sub="mike")
JOHN = Caller(sub="john")
FRIDAY = datetime(2026, 3, 6, 10, 30, tzinfo=UTC)


class Office:
    """Belgrade: John, and Mike its approver; John asks for leave on a Friday at 10:30."""

    def __init__(self) -> None:
        self.store = InMemoryEventStore()
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        ids = itertools.count(1)
        self.service = LeaveService(self.store, clock=lambda: self.now, new_id=lambda: f"{next(ids):012x}".ljust(32, "0"))
        self.location = self.run(CreateLocation(caller=ANA, name="Belgrade")).body["location_id"]
        for who in ("john", "mike"):
            self.run(AddEmployee(caller=ANA, location_id=self.location, employee_id=who, name=who.title()))
        self.run(AssignApprover(caller=ANA, location_id=self.location, employee_id="mike"))
        self.run(AssignLeavePolicy(caller=ANA, location_id=self.location, leave_type="PTO", days_per_year=20, max_rollover_days=5))
        self.app = make_app(self.service)

    def run(self, command: Any) -> Any:
        return self.service.execute(command, CommandContext(caller=command.caller.sub, correlation_id="c"))

    def request(self, who: Caller = JOHN, at: datetime = FRIDAY) -> str:
        self.now = at
        leave = RequestLeave(
            caller=who, employee_id=who.sub, leave_type="PTO", start=datetime(2026, 4, 6).date(), end=datetime(2026, 4, 7).date()
        )
        return self.run(leave).body["request_id"]

    def types(self, employee_id: str = "john") -> list[str]:
        return [e.event_type for e in self.store.load(f"employee#{employee_id}")]


def bus_event(request_id: str) -> dict:
    """The LeaveRequested bus event the start rule hands the execution."""
    return {"source": "acme.leave", "detail-type": "LeaveRequested", "detail": {"metadata": {}, "data": {"request_id": request_id}}}


def test_schedule_reminds_after_two_and_escalates_after_five_working_days_of_the_approver() -> None:
    office = Office()
    request_id = office.request()
    planned = office.app({"task": "schedule", "input": bus_event(request_id)})
    assert planned == {
        "request_id": request_id,
        "submitted_at": "2026-03-06T10:30:00Z",
        "remind_at": "2026-03-10T10:30:00Z",  # Monday, Tuesday
        "escalate_at": "2026-03-13T10:30:00Z",  # ... Friday
        "pending": True,
        "remind_after": 2,
        "escalate_after": 5,
    }


def test_the_approvers_working_week_counts_and_the_delays_are_configurable() -> None:
    office = Office()
    office.run(ChangeWorkingWeek(caller=ANA, employee_id="mike", days=("MON", "TUE", "WED", "THU")))
    request_id = office.request()
    app = make_app(office.service, remind_after=1, escalate_after=5)
    planned = app({"task": "schedule", "input": {"request_id": request_id}})
    assert (planned["remind_at"], planned["escalate_at"]) == (
        "2026-03-09T10:30:00Z",
        "2026-03-16T10:30:00Z",
    )  # Mon; Mon..Thu, Mon (not Fri 13)


def test_remind_then_escalate_a_pending_request_once_each() -> None:
    office = Office()
    request_id = office.request()
    office.now = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
    assert office.app({"task": "remind", "input": {"request_id": request_id, "remind_after": 2}}) == {
        "request_id": request_id,
        "pending": True,
        "sent": True,
    }
    assert office.app({"task": "remind", "input": {"request_id": request_id}})["sent"] is False  # a retried task: nothing twice
    assert office.app({"task": "escalate", "input": {"request_id": request_id, "escalate_after": 5}})["sent"] is True
    assert office.app({"task": "escalate", "input": {"request_id": request_id}})["sent"] is False
    assert office.types().count("ApprovalReminderSent") == office.types().count("ApprovalEscalated") == 1
    [reminder] = [e for e in office.store.load("employee#john") if e.event_type == "ApprovalReminderSent"]
    assert reminder.data["approver_id"] == "mike" and reminder.data["working_days_pending"] == 2
    assert reminder.data["leave_type"] == "PTO" and reminder.data["start"] == "2026-04-06"
    assert reminder.metadata["actor"] == reminders.SYSTEM_ACTOR
    # the request still decides as before
    office.run(ApproveLeave(caller=MIKE, request_id=request_id))
    assert office.types()[-1] == "LeaveApproved"


@pytest.mark.parametrize("decision", ["approve", "deny", "cancel"])
def test_a_decided_request_is_never_reminded_nor_escalated(decision: str) -> None:
    office = Office()
    request_id = office.request()
    command = {
        "approve": ApproveLeave(caller=MIKE, request_id=request_id),
        "deny": DenyLeave(caller=MIKE, request_id=request_id),
        "cancel": CancelLeave(caller=JOHN, request_id=request_id),
    }[decision]
    office.run(command)
    before = office.types()
    assert office.app({"task": "schedule", "input": {"request_id": request_id}})["pending"] is False
    for task in ("remind", "escalate"):
        assert office.app({"task": task, "input": {"request_id": request_id}}) == {
            "request_id": request_id,
            "pending": False,
            "sent": False,
        }
    assert office.types() == before


def test_the_approvers_own_request_goes_to_the_admins() -> None:
    office = Office()
    request_id = office.request(MIKE)
    office.app({"task": "remind", "input": {"request_id": request_id}})
    [reminder] = [e for e in office.store.load("employee#mike") if e.event_type == "ApprovalReminderSent"]
    assert reminder.data["approver_id"] is None


def test_unknown_requests_and_bad_input_are_clear_errors() -> None:
    office = Office()
    with pytest.raises(NotFound):
        office.app({"task": "schedule", "input": {"request_id": "john~99"}})
    with pytest.raises(NotFound):
        office.app({"task": "remind", "input": {"request_id": "nobody"}})
    with pytest.raises(TaskInputError, match="needs request_id"):
        office.app({"task": "remind", "input": {"detail": {"data": {}}}})
    with pytest.raises(TaskInputError, match="remind_after must be an int"):
        office.app({"task": "remind", "input": {"request_id": "john~1", "remind_after": "2"}})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"REMIND_AFTER_WORKING_DAYS": "5", "ESCALATE_AFTER_WORKING_DAYS": "5"}, "remind_after .5. < escalate_after"),
        ({"REMIND_AFTER_WORKING_DAYS": "two"}, "must be a whole number"),
        ({"ESCALATE_AFTER_WORKING_DAYS": "0"}, "must be >= 1"),
    ],
)
def test_a_bad_delay_configuration_is_a_configuration_error(environ: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        reminders.build({"EVENTS_TABLE": "events", **environ}, lambda: FRIDAY)
