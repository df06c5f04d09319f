"""Leave requests, decisions, cancellations and past leaves (GIVEN events / WHEN command / THEN)."""

from __future__ import annotations

from datetime import date

import pytest
from acme_eventsourcing.runtime.commands import error_status
from leave.commands import AddPastLeave, ApproveLeave, Caller, CancelLeave, DenyLeave, RequestLeave
from leave.errors import Forbidden, InvalidState, NotFound, RuleViolated
from leave.events import (
    LeaveApproved,
    LeaveCancelled,
    LeaveDenied,
    LeaveRequested,
    PastLeaveAdded,
    WorkingWeekChanged,
)
from leave_gwt import ANA, JOHN, MIKE, SARA, TODAY, A, approved, approver, created, joined, office, policy, requested, when

# Weeks of 2026 (Monday..Friday); TODAY is Monday 2026-03-02.
W10 = (date(2026, 3, 2), date(2026, 3, 6))
W11 = (date(2026, 3, 9), date(2026, 3, 13))
W12 = (date(2026, 3, 16), date(2026, 3, 20))
W7 = (date(2026, 2, 9), date(2026, 2, 13))


def request(
    start: date, end: date, *, caller: Caller = JOHN, employee_id: str = "john", leave_type: str = "PTO", note: str = ""
) -> RequestLeave:
    return RequestLeave(caller=caller, employee_id=employee_id, leave_type=leave_type, start=start, end=end, note=note)


def past(start: date, end: date, *, caller: Caller = MIKE, employee_id: str = "john") -> AddPastLeave:
    return AddPastLeave(caller=caller, employee_id=employee_id, leave_type="PTO", start=start, end=end)


def refused(error: type[Exception], given: list, command: object, **kwargs: object) -> str:
    with pytest.raises(error) as raised:
        when(given, command, **kwargs)  # type: ignore[arg-type]
    return raised.value.code  # type: ignore[attr-defined]


# --- requesting --------------------------------------------------------------------------


def test_employee_requests_leave_counting_working_days() -> None:
    assert when(office(), request(date(2026, 3, 9), date(2026, 3, 15), note="ski")) == [
        LeaveRequested(
            employee_id="john",
            request_id="john~2",
            location_id=A,
            approver_id="mike",
            leave_type="PTO",
            start=date(2026, 3, 9),
            end=date(2026, 3, 15),
            working_days=5,
            note="ski",
        )
    ]


def test_only_the_employees_working_days_count() -> None:
    given = [*office(), WorkingWeekChanged(employee_id="john", days=("MON", "TUE", "WED", "THU"))]
    (event,) = when(given, request(date(2026, 3, 9), date(2026, 3, 15)))
    assert isinstance(event, LeaveRequested) and event.working_days == 4


def test_request_id_is_the_employee_stream_version_of_the_request() -> None:
    given = [*office(), WorkingWeekChanged(employee_id="john", days=("MON",)), *requested("john~3", *W11, 1)]
    (event,) = when(given, request(*W12))
    assert isinstance(event, LeaveRequested) and event.request_id == "john~4"


def test_a_location_without_approver_still_takes_requests() -> None:
    (event,) = when([*created(), *joined("john"), *policy()], request(*W11))
    assert isinstance(event, LeaveRequested) and event.approver_id is None


def test_leave_may_be_requested_for_past_days() -> None:
    (event,) = when(office(), request(*W7))
    assert isinstance(event, LeaveRequested) and event.start < TODAY


def test_employees_request_leave_only_for_themselves() -> None:
    assert refused(Forbidden, office(), request(*W11, caller=MIKE)) == "not_the_employee"
    assert refused(Forbidden, office(), request(*W11, caller=ANA)) == "not_the_employee"


def test_an_unknown_employee_cannot_request() -> None:
    ghost = Caller(sub="ghost")
    assert refused(NotFound, office(), request(*W11, caller=ghost, employee_id="ghost")) == "employee_not_found"


def test_a_leave_cannot_end_before_it_starts() -> None:
    assert refused(RuleViolated, office(), request(date(2026, 3, 13), date(2026, 3, 9))) == "invalid_period"


def test_a_leave_must_cover_a_working_day() -> None:
    assert refused(RuleViolated, office(), request(date(2026, 3, 14), date(2026, 3, 15))) == "no_working_days"


@pytest.mark.parametrize("decided", [False, True], ids=["pending", "approved"])
def test_a_leave_cannot_overlap_a_pending_or_approved_one(decided: bool) -> None:
    given = [*office(), *requested("john~2", *W11, 5)]
    if decided:
        given += approved("john~2", *W11, 5)
    assert refused(RuleViolated, given, request(date(2026, 3, 13), date(2026, 3, 17))) == "overlapping_leave"


@pytest.mark.parametrize("closing", [LeaveDenied, LeaveCancelled])
def test_a_denied_or_cancelled_leave_frees_its_days(closing: type) -> None:
    extra = {"denied_by": "mike"} if closing is LeaveDenied else {"cancelled_by": "john", "previous_status": "pending"}
    facts = dict(employee_id="john", request_id="john~2", leave_type="PTO", start=W11[0], end=W11[1], working_days=5)
    given = [*office(), *requested("john~2", *W11, 5), closing(**facts, **extra)]
    (event,) = when(given, request(*W11))
    assert isinstance(event, LeaveRequested)


def test_a_request_may_use_exactly_the_remaining_days() -> None:
    (event,) = when(office(), request(date(2026, 3, 2), date(2026, 3, 27)))  # 4 weeks = 20 days
    assert isinstance(event, LeaveRequested) and event.working_days == 20


def test_a_request_cannot_exceed_the_remaining_days() -> None:
    code = refused(RuleViolated, office(), request(date(2026, 3, 2), date(2026, 3, 30)))  # 21 days
    assert code == "insufficient_balance"


def test_pending_requests_count_against_the_remaining_days() -> None:
    given = [*office(), *requested("john~2", date(2026, 4, 1), date(2026, 4, 21), 15)]
    assert refused(RuleViolated, given, request(date(2026, 5, 4), date(2026, 5, 11))) == "insufficient_balance"  # 6
    (event,) = when(given, request(date(2026, 5, 4), date(2026, 5, 8)))  # 5
    assert isinstance(event, LeaveRequested)


def test_a_leave_type_without_policy_is_refused() -> None:
    assert refused(RuleViolated, office(), request(*W11, leave_type="SICK")) == "no_policy"


def test_a_year_before_the_employee_joined_has_no_policy() -> None:
    assert refused(RuleViolated, office(), request(date(2025, 3, 9), date(2025, 3, 13))) == "no_policy"


def test_a_leave_over_new_year_must_fit_each_year() -> None:
    given = [*office(), *requested("john~2", date(2026, 1, 12), date(2026, 2, 3), 17)]
    # 2026-12-28..2027-01-08: 4 days in 2026 (3 left), 6 in 2027.
    with pytest.raises(RuleViolated, match="in 2026"):
        when(given, request(date(2026, 12, 28), date(2027, 1, 8)))
    (event,) = when(office(), request(date(2026, 12, 28), date(2027, 1, 8)))
    assert isinstance(event, LeaveRequested) and event.working_days == 10


# --- approving and denying ---------------------------------------------------------------


def with_request() -> list:
    return [*office(), *requested("john~2", *W11, 5)]


def test_the_locations_approver_approves() -> None:
    assert when(with_request(), ApproveLeave(caller=MIKE, request_id="john~2")) == [
        LeaveApproved(
            employee_id="john", request_id="john~2", approved_by="mike", leave_type="PTO", start=W11[0], end=W11[1], working_days=5
        )
    ]


def test_the_locations_approver_denies_with_a_reason() -> None:
    assert when(with_request(), DenyLeave(caller=MIKE, request_id="john~2", reason="release week")) == [
        LeaveDenied(
            employee_id="john",
            request_id="john~2",
            denied_by="mike",
            reason="release week",
            leave_type="PTO",
            start=W11[0],
            end=W11[1],
            working_days=5,
        )
    ]


@pytest.mark.parametrize("decide", [ApproveLeave, DenyLeave])
@pytest.mark.parametrize(("caller", "code"), [(SARA, "not_the_approver"), (ANA, "not_the_approver"), (JOHN, "own_request")])
def test_only_the_locations_approver_decides(decide: type, caller: Caller, code: str) -> None:
    given = [*with_request(), *joined("sara")]
    assert refused(Forbidden, given, decide(caller=caller, request_id="john~2")) == code


def test_without_an_approver_nobody_decides() -> None:
    given = [*created(), *joined("john"), *joined("mike"), *policy(), *requested("john~2", *W11, 5)]
    assert refused(Forbidden, given, ApproveLeave(caller=MIKE, request_id="john~2")) == "not_the_approver"


def test_the_approvers_own_requests_are_decided_by_an_admin() -> None:
    given = [*office(), *requested("mike~2", *W11, 5)]
    assert refused(Forbidden, given, ApproveLeave(caller=MIKE, request_id="mike~2")) == "own_request"
    assert refused(Forbidden, given, ApproveLeave(caller=JOHN, request_id="mike~2")) == "not_the_approver"
    (event,) = when(given, ApproveLeave(caller=ANA, request_id="mike~2"))
    assert isinstance(event, LeaveApproved) and event.approved_by == "ana"


@pytest.mark.parametrize("decide", [ApproveLeave, DenyLeave])
def test_a_decided_request_cannot_be_decided_again(decide: type) -> None:
    given = [*with_request(), *approved("john~2", *W11, 5)]
    with pytest.raises(InvalidState) as error:
        when(given, decide(caller=MIKE, request_id="john~2"))
    assert error.value.code == "request_already_decided" and error_status(error.value) == 409


def test_a_cancelled_request_cannot_be_decided() -> None:
    given = [*with_request(), *cancelled("john~2", "pending")]
    assert refused(InvalidState, given, ApproveLeave(caller=MIKE, request_id="john~2")) == "request_cancelled"


@pytest.mark.parametrize("request_id", ["john~99", "ghost~2", "not-a-request", "john~1"])
def test_an_unknown_request_is_not_found(request_id: str) -> None:
    assert refused(NotFound, with_request(), ApproveLeave(caller=MIKE, request_id=request_id)) == "request_not_found"


# --- cancelling --------------------------------------------------------------------------


def cancelled(request_id: str, previous_status: str) -> list:
    facts = dict(leave_type="PTO", start=W11[0], end=W11[1], working_days=5)
    return [LeaveCancelled(employee_id="john", request_id=request_id, cancelled_by="john", previous_status=previous_status, **facts)]


def test_the_requester_cancels_a_pending_request() -> None:
    assert when(with_request(), CancelLeave(caller=JOHN, request_id="john~2")) == cancelled("john~2", "pending")


def test_the_requester_cancels_an_approved_leave_that_has_not_started() -> None:
    given = [*with_request(), *approved("john~2", *W11, 5)]
    assert when(given, CancelLeave(caller=JOHN, request_id="john~2")) == cancelled("john~2", "approved")


def test_an_approved_leave_that_started_cannot_be_cancelled() -> None:
    given = [*with_request(), *approved("john~2", *W11, 5)]
    command = CancelLeave(caller=JOHN, request_id="john~2")
    assert refused(InvalidState, given, command, today=W11[0]) == "leave_already_started"


def test_a_pending_request_for_past_days_can_still_be_cancelled() -> None:
    given = [*office(), *requested("john~2", *W7, 5)]
    (event,) = when(given, CancelLeave(caller=JOHN, request_id="john~2"))
    assert isinstance(event, LeaveCancelled)


@pytest.mark.parametrize("closing", ["denied", "cancelled"])
def test_a_denied_or_cancelled_request_cannot_be_cancelled(closing: str) -> None:
    end = (
        [LeaveDenied(employee_id="john", request_id="john~2", denied_by="mike", leave_type="PTO", start=W11[0], end=W11[1], working_days=5)]
        if closing == "denied"
        else cancelled("john~2", "pending")
    )
    code = refused(InvalidState, [*with_request(), *end], CancelLeave(caller=JOHN, request_id="john~2"))
    assert code == "request_not_cancellable"


@pytest.mark.parametrize("caller", [MIKE, ANA])
def test_only_the_requester_cancels(caller: Caller) -> None:
    assert refused(Forbidden, with_request(), CancelLeave(caller=caller, request_id="john~2")) == "not_the_requester"


# --- past leaves -------------------------------------------------------------------------


def test_the_approver_records_a_past_leave_as_taken() -> None:
    assert when(office(), past(*W7)) == [
        PastLeaveAdded(
            employee_id="john",
            request_id="john~2",
            location_id=A,
            added_by="mike",
            leave_type="PTO",
            start=W7[0],
            end=W7[1],
            working_days=5,
        )
    ]


def test_an_admin_records_a_past_leave() -> None:
    (event,) = when(office(), past(*W7, caller=ANA))
    assert isinstance(event, PastLeaveAdded) and event.added_by == "ana"


def test_a_past_leave_may_end_today() -> None:
    (event,) = when(office(), past(date(2026, 2, 26), TODAY))
    assert isinstance(event, PastLeaveAdded) and event.working_days == 3


@pytest.mark.parametrize(("caller", "code"), [(JOHN, "own_request"), (SARA, "not_the_approver")])
def test_only_the_approver_or_an_admin_records_past_leaves(caller: Caller, code: str) -> None:
    assert refused(Forbidden, [*office(), *joined("sara")], past(*W7, caller=caller)) == code


@pytest.mark.parametrize("caller", [ANA, MIKE], ids=["admin", "approver"])
def test_nobody_records_their_own_past_leave(caller: Caller) -> None:
    given = [*office(), *joined("ana")]
    assert refused(Forbidden, given, past(*W7, caller=caller, employee_id=caller.sub)) == "own_request"


def test_a_past_leave_must_not_end_after_today() -> None:
    assert refused(RuleViolated, office(), past(date(2026, 2, 26), date(2026, 3, 3))) == "not_in_past"


def test_a_past_leave_must_fit_the_balance() -> None:
    given = [*office(), *requested("john~2", date(2026, 4, 1), date(2026, 4, 28), 20)]
    assert refused(RuleViolated, given, past(*W7)) == "insufficient_balance"


def test_a_past_leave_cannot_overlap_another_leave() -> None:
    given = [*office(), *requested("john~2", *W7, 5)]
    assert refused(RuleViolated, given, past(date(2026, 2, 13), date(2026, 2, 16))) == "overlapping_leave"


def test_a_past_leave_needs_a_policy() -> None:
    given = [*created(), *joined("john"), *joined("mike"), *approver("mike")]
    assert refused(RuleViolated, given, past(*W7)) == "no_policy"


def test_a_past_leave_for_an_unknown_employee_is_not_found() -> None:
    assert refused(NotFound, office(), past(*W7, employee_id="ghost")) == "employee_not_found"
