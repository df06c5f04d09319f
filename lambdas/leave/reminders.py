"""Approval reminders: when a pending request reminds its approver, then goes to the admins.

A request still pending `remind_after` working days after it was made reminds its approver
(`ApprovalReminderSent`); one still pending `escalate_after` working days after it was made
is escalated to the admins (`ApprovalEscalated`). Deciding or cancelling it ends that: a
decided request is never reminded (`decide_reminder` re-checks its status on the stream).

Working days are those of the approver's working week (the person who must act; locations
have no working week of their own), the default MON..FRI when the location has no approver
or the requester is the approver (then the admins decide).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from leave.employee import EmployeeState, LeaveStatus
from leave.events import ApprovalEscalated, ApprovalReminderSent, Event
from leave.location import LocationState
from leave.record import Record
from leave.workdays import add_working_days

DEFAULT_REMIND_AFTER_WORKING_DAYS = 2
DEFAULT_ESCALATE_AFTER_WORKING_DAYS = 5


class ReminderTimes(Record):
    """When a request made at `submitted_at` reminds its approver and when it is escalated."""

    remind_at: datetime
    escalate_at: datetime


def check_delays(remind_after: int, escalate_after: int) -> None:
    """`ValueError` unless 1 <= remind_after < escalate_after (a configuration mistake)."""
    if not 1 <= remind_after < escalate_after:
        raise ValueError(f"reminders need 1 <= remind_after ({remind_after}) < escalate_after ({escalate_after}) working days")


def reminder_times(submitted_at: datetime, week: Iterable[str], *, remind_after: int, escalate_after: int) -> ReminderTimes:
    """The reminder and escalation moments of a request made at `submitted_at`."""
    check_delays(remind_after, escalate_after)
    week = tuple(week)
    return ReminderTimes(
        remind_at=add_working_days(submitted_at, remind_after, week),
        escalate_at=add_working_days(submitted_at, escalate_after, week),
    )


def decider_of(state: EmployeeState, location: LocationState) -> str | None:
    """Who decides the employee's requests now: the location's approver, or None (the admins)
    when it has none or the employee is the approver."""
    approver = location.approver_id
    return None if approver is None or approver == state.employee_id else approver


def decide_reminder(
    state: EmployeeState, location: LocationState, request_id: str, *, escalate: bool, working_days_pending: int
) -> list[Event]:
    """The reminder (or, with `escalate`, the escalation) of a request, if it is still pending
    and was not reminded (escalated) yet; else nothing. `location` is the employee's current one."""
    leave = state.leaves.get(request_id)
    if leave is None or leave.status != LeaveStatus.PENDING or (leave.escalated if escalate else leave.reminded):
        return []
    facts = dict(
        employee_id=state.employee_id,
        request_id=request_id,
        location_id=location.location_id,
        approver_id=decider_of(state, location),
        leave_type=leave.leave_type,
        start=leave.start,
        end=leave.end,
        working_days=leave.working_days,
        working_days_pending=working_days_pending,
    )
    return [ApprovalEscalated(**facts) if escalate else ApprovalReminderSent(**facts)]
