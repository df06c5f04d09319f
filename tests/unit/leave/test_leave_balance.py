"""The balance: pro-rata allowance (transfers, policy changes), rounding, used, pending, rollovers."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from leave.balance import Balance, allowance, balance, policy_periods, round_half_day
from leave.commands import TransferEmployee
from leave.events import Event, LeaveRolledOver, PastLeaveAdded, WorkingWeekChanged
from leave_gwt import ANA, A, B, approved, created, joined, office, policy, requested, states, when


def balance_of(given: list[Event], year: int = 2026, leave_type: str = "PTO", employee_id: str = "john") -> Balance:
    employees, locations = states(given)
    return balance(employees[employee_id], locations, year, leave_type)


def transferred(on: date, days_b: float = 25, cap_b: float = 3) -> list[Event]:
    given = [*office(), *created(B), *policy(days_b, cap_b, B)]
    return given + when(given, TransferEmployee(caller=ANA, employee_id="john", to_location_id=B, effective_on=on))


def test_a_full_year_in_one_location_gets_the_policys_days() -> None:
    assert balance_of(office()) == Balance(
        employee_id="john", year=2026, leave_type="PTO", allowance=20, rolled_over=0, used=0, pending=0, rolled_out=0, remaining=20
    )


def test_the_joining_year_counts_in_full_and_earlier_years_are_empty() -> None:
    late = [*created(), *policy(), *joined("john", on=date(2026, 11, 25))]
    assert balance_of(late).allowance == 20
    assert balance_of(late, 2025).allowance == 0


def test_a_transfer_prorates_the_allowance_by_calendar_days() -> None:
    # The worked example of docs/domain.md: 20 days in A for 181 days, 25 in B for 184 days.
    given = transferred(date(2026, 7, 1))
    employees, locations = states(given)
    periods = policy_periods(employees["john"], locations, 2026, "PTO")
    assert [(p.location_id, p.days, p.policy.days_per_year) for p in periods] == [(A, 181, 20), (B, 184, 25)]
    assert allowance(periods, 2026) == Fraction(45, 2)  # 8220/365 = 22.52 -> 22.5
    assert balance_of(given).allowance == 22.5
    assert balance_of(given, 2027).allowance == 25


def test_a_leap_year_prorates_over_366_days() -> None:
    given = transferred(date(2028, 7, 1))
    # 20 * 182/366 + 25 * 184/366 = 8240/366 = 22.51 -> 22.5
    assert balance_of(given, 2028).allowance == 22.5


def test_a_policy_change_applies_from_its_day() -> None:
    given = [*office(), *policy(30, 5, on=date(2026, 10, 1))]
    # 20 * 273/365 + 30 * 92/365 = 8220/365 = 22.52 -> 22.5
    assert balance_of(given).allowance == 22.5
    assert balance_of(given, 2027).allowance == 30


def test_a_location_without_a_policy_grants_nothing_for_its_days() -> None:
    given = [*office(), *created(B)]
    given += when(given, TransferEmployee(caller=ANA, employee_id="john", to_location_id=B, effective_on=date(2026, 7, 1)))
    # 20 * 181/365 = 9.92 -> 10
    assert balance_of(given).allowance == 10
    assert balance_of(given, 2027).allowance == 0


@pytest.mark.parametrize(
    ("exact", "rounded"),
    [
        (Fraction(2225, 100), Fraction(45, 2)),
        (Fraction(2224, 100), Fraction(22)),
        (Fraction(2275, 100), Fraction(23)),
        (Fraction(2274, 100), Fraction(45, 2)),
        (Fraction(0), Fraction(0)),
    ],
)
def test_allowance_rounds_to_the_nearest_half_day_halves_up(exact: Fraction, rounded: Fraction) -> None:
    assert round_half_day(exact) == rounded


def test_used_counts_approved_and_past_leaves_and_pending_counts_requests() -> None:
    given = [
        *office(),
        *requested("john~2", date(2026, 3, 9), date(2026, 3, 13), 5),
        *approved("john~2", date(2026, 3, 9), date(2026, 3, 13), 5),
        *requested("john~4", date(2026, 4, 6), date(2026, 4, 8), 3),
        PastLeaveAdded(
            employee_id="john",
            request_id="john~5",
            location_id=A,
            added_by="mike",
            leave_type="PTO",
            start=date(2026, 2, 9),
            end=date(2026, 2, 10),
            working_days=2,
        ),
    ]
    b = balance_of(given)
    assert (b.used, b.pending, b.remaining) == (7, 3, 10)
    assert balance_of(given, leave_type="SICK").used == 0


def test_rollovers_add_to_the_next_year_and_leave_the_old_one() -> None:
    given = [*office(), LeaveRolledOver(employee_id="john", leave_type="PTO", from_year=2026, to_year=2027, days=4.5)]
    assert (balance_of(given).rolled_out, balance_of(given).remaining) == (4.5, 15.5)
    assert (balance_of(given, 2027).rolled_over, balance_of(given, 2027).remaining) == (4.5, 24.5)


def test_a_leave_over_new_year_counts_in_each_year() -> None:
    given = [*office(), *requested("john~2", date(2026, 12, 28), date(2027, 1, 8), 10)]
    assert (balance_of(given).pending, balance_of(given, 2027).pending) == (4, 6)


def test_a_later_working_week_change_keeps_the_days_already_counted() -> None:
    given = [
        *office(),
        *requested("john~2", date(2026, 3, 9), date(2026, 3, 13), 5),
        WorkingWeekChanged(employee_id="john", days=("MON", "TUE")),
    ]
    assert balance_of(given).pending == 5


def test_a_transfer_may_leave_the_balance_negative() -> None:
    given = [*office(), *requested("john~2", date(2026, 3, 2), date(2026, 3, 27), 20), *created(B), *policy(10, 0, B)]
    given += when(given, TransferEmployee(caller=ANA, employee_id="john", to_location_id=B, effective_on=date(2026, 7, 1)))
    assert balance_of(given).remaining == -5  # allowance 15


def test_balance_needs_every_location_of_the_year() -> None:
    employees, locations = states(transferred(date(2026, 7, 1)))
    with pytest.raises(ValueError, match=B):
        balance(employees["john"], {A: locations[A]}, 2026, "PTO")


def test_balance_as_dict_is_the_api_body() -> None:
    assert balance_of(transferred(date(2026, 7, 1))).as_dict() == {
        "employee_id": "john",
        "year": 2026,
        "leave_type": "PTO",
        "allowance": 22.5,
        "rolled_over": 0,
        "used": 0,
        "pending": 0,
        "rolled_out": 0,
        "remaining": 22.5,
    }
