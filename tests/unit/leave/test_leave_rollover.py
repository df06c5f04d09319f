"""Yearly rollover: unused days, capped, into the next year, once per employee and year."""

from __future__ import annotations

from datetime import date

import pytest
from leave.balance import balance
from leave.commands import AddPastLeave, RequestLeave, RollOverLeave, TransferEmployee
from leave.errors import Forbidden, RuleViolated
from leave.events import Event, LeaveRequested, LeaveRolledOver, PastLeaveAdded
from leave_gwt import ANA, JOHN, MIKE, B, approved, approver, created, joined, office, policy, requested, states, when

NEW_YEAR = date(2027, 1, 4)
MARCH = (date(2026, 3, 9), date(2026, 3, 13))


def roll(given: list, employee_id: str = "john", *, year: int = 2026, today: date = NEW_YEAR) -> list[Event]:
    return when(given, RollOverLeave(caller=ANA, from_year=year), employee_id=employee_id, today=today)


def rolled(days: float, employee_id: str = "john", leave_type: str = "PTO") -> LeaveRolledOver:
    return LeaveRolledOver(employee_id=employee_id, leave_type=leave_type, from_year=2026, to_year=2027, days=days)


def _transfer_to_b(effective_on: date) -> TransferEmployee:
    return TransferEmployee(caller=ANA, employee_id="john", to_location_id=B, effective_on=effective_on)


def used(days: int) -> list[Event]:
    """John used `days` (1..20) working days of 2026, from Monday 2 March."""
    end = date(2026, 3, 2 + (days - 1) // 5 * 7 + (days - 1) % 5)
    return [*requested("john~2", date(2026, 3, 2), end, days), *approved("john~2", date(2026, 3, 2), end, days)]


def test_rollover_moves_unused_days_up_to_the_cap() -> None:
    assert roll([*office(), *used(5)]) == [rolled(5)]  # 15 unused, cap 5


def test_rollover_moves_all_unused_days_under_the_cap() -> None:
    assert roll([*office(), *used(17)]) == [rolled(3)]


def test_pending_days_do_not_roll_over() -> None:
    given = [*office(), *requested("john~2", date(2026, 12, 1), date(2026, 12, 18), 14)]
    assert roll(given) == [rolled(5)]
    given = [*office(), *requested("john~2", date(2026, 12, 1), date(2026, 12, 25), 19)]
    assert roll(given) == [rolled(1)]


def test_a_negative_balance_rolls_over_nothing_and_still_closes_the_year() -> None:
    given = [*office(), *used(20), *created(B), *policy(10, 5, B)]
    given += when(given, _transfer_to_b(date(2026, 7, 1)))  # allowance falls to 15 of which 20 used
    assert roll(given) == [rolled(0)]


def test_half_days_roll_over() -> None:
    given = [*office(), *created(B), *policy(25, 10, B)]
    given += when(given, _transfer_to_b(date(2026, 7, 1)))  # allowance 22.5 (docs/domain.md)
    assert roll(given) == [rolled(10)]
    given = [*office(), *created(B), *policy(25, 30, B), *used(10)]
    given += when(given, _transfer_to_b(date(2026, 7, 1)))
    assert roll(given) == [rolled(12.5)]


def test_rollover_is_idempotent_per_employee_and_year() -> None:
    given = [*office(), *used(5)]
    given += roll(given)
    assert roll(given) == []


def test_each_leave_type_with_a_policy_rolls_over_once() -> None:
    given = [*office(), *policy(10, 2, leave_type="STUDY"), *used(5)]
    assert roll(given) == [rolled(5), rolled(2, leave_type="STUDY")]
    assert roll([*given, rolled(5)]) == [rolled(2, leave_type="STUDY")]


def test_the_cap_is_the_one_in_effect_on_the_last_day_of_the_year() -> None:
    given = [*office(), *policy(20, 1, on=date(2026, 12, 31)), *used(5)]
    assert roll(given) == [rolled(1)]


def test_an_employee_who_joined_after_the_year_has_nothing_to_roll_over() -> None:
    given = [*created(), *policy(), *joined("newbie", on=date(2027, 1, 2))]
    assert roll(given, "newbie") == []


def test_the_current_year_may_be_rolled_over_early_but_not_a_future_one() -> None:
    assert roll([*office(), *used(5)], today=date(2026, 12, 20)) == [rolled(5)]
    with pytest.raises(RuleViolated) as error:
        roll(office(), year=2027, today=date(2026, 12, 20))
    assert error.value.code == "year_not_started"


def test_only_an_admin_rolls_over() -> None:
    with pytest.raises(Forbidden) as error:
        when(office(), RollOverLeave(caller=MIKE, from_year=2026), employee_id="john", today=NEW_YEAR)
    assert error.value.code == "admin_only"


def test_rolled_over_days_can_be_taken_next_year() -> None:
    given = [*office(), *used(5)]
    given += roll(given)
    # 25 days (20 + 5 rolled over) from Monday 1 February 2027.
    command = RequestLeave(caller=JOHN, employee_id="john", leave_type="PTO", start=date(2027, 2, 1), end=date(2027, 3, 5))
    (event,) = when(given, command, today=NEW_YEAR)
    assert isinstance(event, LeaveRequested) and event.working_days == 25


def test_rolled_over_days_leave_the_old_year() -> None:
    given = [*office(), *used(5)]
    given += roll(given)  # 15 left: 5 rolled over, 10 still bookable in 2026
    john = states(given)[0]["john"]
    assert balance(john, states(given)[1], 2026, "PTO").remaining == 10
    command = AddPastLeave(caller=MIKE, employee_id="john", leave_type="PTO", start=date(2026, 11, 2), end=date(2026, 11, 16))
    with pytest.raises(RuleViolated) as error:  # 11 days
        when(given, command, today=NEW_YEAR)
    assert error.value.code == "insufficient_balance"
    command = AddPastLeave(caller=MIKE, employee_id="john", leave_type="PTO", start=date(2026, 11, 2), end=date(2026, 11, 13))
    (event,) = when(given, command, today=NEW_YEAR)
    assert isinstance(event, PastLeaveAdded) and event.working_days == 10


def test_a_rollover_reads_only_the_locations_of_that_year() -> None:
    given = [*office(), *created(B), *joined("sara", B), *approver("sara", B), *policy(25, 3, B)]
    given += when(given, _transfer_to_b(date(2027, 2, 1)), today=date(2027, 1, 20))
    assert roll(given, today=date(2027, 3, 1)) == [rolled(5)]  # the cap of loc_a on 31 December 2026
