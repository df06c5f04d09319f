"""The whole story of DESIGN.md section 3 through the local stack, as `local demo` plays it."""

from __future__ import annotations

import io
from datetime import date
from fractions import Fraction

import pytest

from local import demo
from local.story import StoryFailedError, plan_weeks, prorated_allowance, round_half


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str]:
    """`local demo`, in-process: its exit status and its report."""
    out = io.StringIO()
    status = demo.run(stack="dev", log_path=tmp_path_factory.mktemp("demo") / "demo.log", out=out)
    return status, out.getvalue()


def test_every_step_of_the_story_behaves_as_told(report: tuple[int, str]) -> None:
    status, text = report
    assert status == 0, text
    assert "[FAILED]" not in text
    assert text.count("[ok] ") >= 9 + 4  # nine steps, four after-story checks


def test_report_shows_balances_pending_calendars_and_notifications(report: tuple[int, str]) -> None:
    _, text = report
    year = date.today().year
    allowance = prorated_allowance(year, date.today(), 20, 25)
    remaining = allowance - 9 - 5
    shown = lambda f: str(int(f)) if f.denominator == 1 else str(float(f))  # noqa: E731
    assert f"john      {year}{shown(allowance):>11}            0     9        0{shown(remaining):>11}" in text
    assert f"john      {year + 1}         25            5     0        3         27" in text
    assert "mike: (none)" in text and "alex: john~" in text
    assert "LeaveDenied" in text and "release week" in text
    assert "p50" in text and "p95" in text


def test_allowance_rounding_matches_the_domain_rule() -> None:
    assert [round_half(Fraction(x)) for x in ("22.25", "22.24", "22.75", "20")] == [Fraction(45, 2), 22, 23, 20]
    assert prorated_allowance(2026, date(2026, 7, 1), 20, 25) == Fraction(45, 2)  # docs/domain.md's worked example


def test_story_dates_stay_in_the_year_and_refuse_the_first_days_of_january() -> None:
    past, approved, denied, next_year = plan_weeks(date(2027, 3, 1))
    assert (past, approved, denied, next_year) == (date(2027, 2, 22), date(2027, 1, 11), date(2027, 1, 18), date(2028, 1, 10))
    assert all(d.weekday() == 0 for d in (past, approved, denied, next_year))
    with pytest.raises(StoryFailedError, match="second week of January"):
        plan_weeks(date(2027, 1, 8))
