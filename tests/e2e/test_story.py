"""The whole story of DESIGN.md section 3 through the local stack, as `local demo` plays it.

The demo runs twice per module (each run starts one local stack): on the real date, and as
if the real date were 2027-01-03, a day the story does not fit (no full past week in the
year yet), so that every date of the year is covered: then the stack simulates the
earliest day it fits. Every check is made on both reports, against the story's day."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from local import LocalStack, demo
from local.__main__ import main
from local.story import StoryFailedError, plan_weeks, prorated_allowance, round_half, story_day


@dataclass(frozen=True)
class Played:
    """One `local demo` run, in-process: its exit status, its report and its invocation log."""

    status: int
    text: str
    log: str
    real: date  # the real date, as the demo saw it

    @property
    def day(self) -> date:
        """The story's today, as the report's header shows it."""
        found = re.search(r"today is (\d{4}-\d{2}-\d{2})", self.text)
        assert found, self.text
        return date.fromisoformat(found[1])


def play(folder: Path, real_today: date | None) -> Played:
    out, log_path = io.StringIO(), folder / "demo.log"
    real = real_today or datetime.now(UTC).date()
    status = demo.run(stack="dev", log_path=log_path, out=out, real_today=real_today)
    return Played(status, out.getvalue(), log_path.read_text(), real)


@pytest.fixture(scope="module")
def played_today(tmp_path_factory: pytest.TempPathFactory) -> Played:
    return play(tmp_path_factory.mktemp("demo"), None)


@pytest.fixture(scope="module")
def played_early_january(tmp_path_factory: pytest.TempPathFactory) -> Played:
    return play(tmp_path_factory.mktemp("demo"), date(2027, 1, 3))


@pytest.fixture(params=["played_today", "played_early_january"])
def report(request: pytest.FixtureRequest) -> Played:
    """Each of the two runs (each module fixture runs once)."""
    return request.getfixturevalue(request.param)


def test_every_step_of_the_story_behaves_as_told(report: Played) -> None:
    assert report.status == 0, report.text
    assert "[FAILED]" not in report.text
    assert report.text.count("[ok] ") >= 9 + 4 + 3  # nine steps, four after-story checks, three live-update checks


def test_the_approvers_and_the_employees_websocket_clients_hear_the_request_and_the_decision(report: Played) -> None:
    text = report.text
    assert "[ok] live: Alex's client received John's new request (Novi Sad's pending list)" in text
    assert "[ok] live: John's client received Alex's decision" in text
    assert "[ok] live: Mike's client received nothing of Novi Sad" in text
    heard = re.search(r"Alex's client <- (\{.*\})\n\s+(\d+) ms after the command was accepted", text)
    told = re.search(r"John's client <- (\{.*\})\n\s+(\d+) ms after the command was accepted", text)
    assert heard and told, text
    request, decision = json.loads(heard[1]), json.loads(told[1])
    assert (request["type"], request["view"], request["event"]["type"]) == ("changed", "pending", "LeaveRequested")
    assert request["topic"].startswith("approvers#loc_") and request["event"]["stream"] == "employee#john"
    assert (decision["topic"], decision["event"]["type"]) == ("employee#john", "LeaveApproved")
    assert "Mike's client heard 0 message(s) meanwhile" in text


def test_the_story_is_played_on_the_real_date_unless_it_does_not_fit_and_the_header_says_which(report: Played) -> None:
    assert report.day == story_day(report.real)
    header = next(line for line in report.text.splitlines() if "today is" in line)
    assert ("simulated" in header) == (report.day != report.real), header
    simulated = "leave-commands, leave-queries, leave-reminders-tasks, leave-rollover-tasks"  # every function with a clock seam
    assert f"today      {report.day} (simulated; real time of day, UTC) in {simulated}\n" in report.log


def test_report_shows_balances_pending_calendars_and_notifications(report: Played) -> None:
    text, today = report.text, report.day
    year = today.year
    allowance = prorated_allowance(year, today, 20, 25)
    remaining = allowance - 9 - 5
    shown = lambda f: str(int(f)) if f.denominator == 1 else str(float(f))  # noqa: E731
    assert f"john      {year}{shown(allowance):>11}            0     9        0{shown(remaining):>11}" in text
    assert f"john      {year + 1}         25            5     0        3         27" in text
    assert "mike: (none)" in text and "alex: john~" in text
    assert "LeaveDenied" in text and "release week" in text
    assert "p50" in text and "p95" in text
    past = today - timedelta(days=today.weekday() + 7)
    assert f"{past}..{past + timedelta(days=4)}  John   PTO approved  4 days" in text  # last week of the story's day
    assert f'"effective_on":"{today}"' in text  # the transfer, effective the story's today


def test_report_shows_a_calendar_feed_fetched_with_no_token_parsed_then_revoked(report: Played) -> None:
    header, *lines = report.text.split("\nCalendar feed (", 1)[1].splitlines()
    assert header.startswith("POST /calendar-feeds by john; GET http") and header.endswith("with no token: 200)")
    events = lines[: lines.index("  revoked: the same URL answers 404")]
    assert any("John - PTO" in e and "UID john~" in e for e in events)
    assert all(
        re.fullmatch(r"  \d{4}-\d\d-\d\d\.\.\d{4}-\d\d-\d\d  .+  \[\w+, SEQUENCE \d+, UID \S+@leave\.acme\.example\]", e) for e in events
    )


def test_a_day_too_early_in_january_is_played_on_the_years_second_monday_and_the_report_says_so(played_early_january: Played) -> None:
    text = played_early_january.text
    assert played_early_january.status == 0, text
    assert "today is 2027-01-11 (simulated: the story needs a past week in this year; real date 2027-01-03)\n" in text
    assert "john      2027         25            0     9        0         11" in text  # 20 -> 25 days from 2027-01-11


def test_a_forced_day_the_story_does_not_fit_is_refused_before_starting_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    def start(self: LocalStack) -> LocalStack:
        raise AssertionError("a local stack was started")

    monkeypatch.setattr(LocalStack, "start", start)
    out = io.StringIO()
    assert demo.run(out=out, today=date(2027, 1, 3)) == 1
    assert "cannot play the story on 2027-01-03" in out.getvalue() and "second week of January" in out.getvalue()


def test_the_header_says_when_and_why_the_date_is_simulated() -> None:
    real = date(2026, 11, 25)
    assert demo.describe_day(real, real, forced=True) == "2026-11-25"
    assert demo.describe_day(date(2027, 3, 1), real, forced=True) == "2027-03-01 (simulated: chosen with --today; real date 2026-11-25)"


def test_demo_and_up_take_today_as_a_date(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(demo, "run", lambda **kwargs: calls.append(kwargs) or 0)
    assert main(["demo", "--today", "2027-03-01"]) == 0
    assert calls[0]["today"] == date(2027, 3, 1)
    for command in ("demo", "up"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--today", "2027-13-01"])
        assert exit_info.value.code == 2
        assert "'2027-13-01' is not a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_allowance_rounding_matches_the_domain_rule() -> None:
    assert [round_half(Fraction(x)) for x in ("22.25", "22.24", "22.75", "20")] == [Fraction(45, 2), 22, 23, 20]
    assert prorated_allowance(2026, date(2026, 7, 1), 20, 25) == Fraction(45, 2)  # docs/domain.md's worked example


def test_story_dates_stay_in_the_year_and_refuse_the_first_days_of_january() -> None:
    past, approved, denied, next_year = plan_weeks(date(2027, 3, 1))
    assert (past, approved, denied, next_year) == (date(2027, 2, 22), date(2027, 1, 11), date(2027, 1, 18), date(2028, 1, 10))
    assert all(d.weekday() == 0 for d in (past, approved, denied, next_year))
    with pytest.raises(StoryFailedError, match="second week of January"):
        plan_weeks(date(2027, 1, 8))


def fits(day: date) -> bool:
    try:
        plan_weeks(day)
    except StoryFailedError:
        return False
    return True


def test_story_day_is_the_real_date_or_else_the_earliest_day_of_its_year_the_story_fits() -> None:
    assert (story_day(date(2027, 1, 3)), story_day(date(2026, 1, 11)), story_day(date(2027, 3, 1))) == (
        date(2027, 1, 11),
        date(2026, 1, 12),
        date(2027, 3, 1),
    )
    for real in (date(2024, 1, 1) + timedelta(days=n) for n in range(4 * 366)):
        day = story_day(real)
        assert fits(day) and day.year == real.year, real
        assert day == real if fits(real) else not fits(day - timedelta(days=1)), real
