"""The leave story of DESIGN.md section 3, played as real HTTP requests.

Each step sends commands as their actors, checks the status (and body) the story expects,
then polls the read models each command should change until the expected state shows up:
the time from an accepted command's response until the last of its effects is seen is
that command's end-to-end latency (command accepted -> read model updated). The expected
numbers are worked out here from the story's dates (independently of the domain code), so
a wrong balance fails the step.

Dates are relative to today (the service's clock): the past leave is last week (so the
story needs today to be at least the year's second Monday), the other leaves are in the
first weeks of this year and next. `story_day` picks the day to play it on; `local demo`
simulates that date in the local stack when the real one is too early in January.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from acme_eventsourcing.local.client import ApiClient, Response, path_param, wait_for

PTO = "PTO"


@dataclass
class Step:
    """One step of the story and how it went."""

    title: str
    ok: bool = True
    notes: list[str] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.ok = False
        self.notes.append(f"FAILED: {message}")


class StoryFailedError(AssertionError):
    """A step did not behave as the story says."""


def round_half(value: Fraction) -> Fraction:
    """To the nearest half day, halves up (the domain's rule for allowances)."""
    return Fraction(int(value * 2 + Fraction(1, 2)), 2)


def prorated_allowance(year: int, change: date, before: int, after: int) -> Fraction:
    """Allowance of a year split at `change` (inclusive) between two yearly allowances."""
    days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    head = (change - date(year, 1, 1)).days
    return round_half(Fraction(before * head + after * (days - head), days))


def number(value: Fraction | int) -> float | int:
    """As JSON shows it: an int when whole."""
    f = Fraction(value)
    return int(f) if f.denominator == 1 else float(f)


def _first_monday(year: int) -> date:
    return date(year, 1, 1) + timedelta(days=(7 - date(year, 1, 1).weekday()) % 7)


def story_day(real: date) -> date:
    """The day to play the story on: `real`, or, before the year's second Monday (no full
    past week in the year yet), that Monday: the earliest day the story fits."""
    return max(real, _first_monday(real.year) + timedelta(weeks=1))


def plan_weeks(today: date) -> tuple[date, date, date, date]:
    """Mondays of the story's leaves: the past leave (last week), the approved and the denied
    requests (early this year), and the request moved by the transfer (early next year)."""
    year = today.year
    past = today - timedelta(days=today.weekday() + 7)
    if past.year != year:
        raise StoryFailedError("the story needs a full past week in this year: run it after the second week of January")
    first_monday = _first_monday(year)
    weeks = [first_monday + timedelta(weeks=k) for k in range(1, 6) if first_monday + timedelta(weeks=k) != past]
    next_first = date(year + 1, 1, 1)
    return past, weeks[0], weeks[1], next_first + timedelta(days=(7 - next_first.weekday()) % 7 + 7)


@dataclass
class Story:
    """Plays the story against `client`; `steps` and `report` tell how it went."""

    client: ApiClient
    today: date = field(default_factory=date.today)
    timeout: float = 15.0
    poll: float = 0.025
    steps: list[Step] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    year_end: Callable[[int], dict[str, Any]] | None = None
    """Runs the year-end rollover of a year through the yearly schedule's workflow and returns
    its summary (the local stack fires the schedule); None: Ana calls ``POST /rollovers``."""
    let_time_pass: Callable[[timedelta], None] | None = None
    """Moves the stack's clock forward (workflows wake); None: the story skips the reminder."""
    _accepted: tuple[Step, float, float | None] | None = None  # step, accepted at, latency so far (ms)

    def __post_init__(self) -> None:
        self.ana = self.client.as_user("ana", "admin")
        self.alex = self.client.as_user("alex", "admin")
        self.mike = self.client.as_user("mike")
        self.john = self.client.as_user("john")
        self.year = self.today.year
        self.past_week, self.approved_week, self.denied_week, self.next_year_week = plan_weeks(self.today)

    # ------------------------------------------------------------------ plumbing
    def _step(self, title: str) -> Step:
        step = Step(title)
        self.steps.append(step)
        return step

    def _expect(self, step: Step, response: Response, status: int, what: str) -> Response:
        """Check a command's answer; an accepted command starts a latency measurement."""
        self._commit_latency()
        step.notes.append(f"{what} -> {response.status} {response.text[:160]}")
        if response.status != status:
            step.fail(f"{what}: expected {status}, got {response.status} {response.text[:300]}")
            raise StoryFailedError(step.notes[-1])
        if 200 <= status < 300:
            self._accepted = (step, time.perf_counter(), None)
        return response

    def _commit_latency(self) -> None:
        """The last accepted command's latency: until the last of its effects was seen."""
        if self._accepted is not None and self._accepted[2] is not None:
            self._accepted[0].latency_ms.append(self._accepted[2])
        self._accepted = None

    def _visible(self, step: Step, what: str, read: Callable[[], Response], check: Callable[[Any], bool]) -> Any:
        """Poll `read` until `check(body)` holds; record the latency since now."""
        start = time.perf_counter()
        last: list[Response] = []

        def probe() -> Any:
            response = read()
            last[:] = [response]
            return response.json if response.status == 200 and check(response.json) else None

        try:
            body = wait_for(probe, timeout=self.timeout, interval=self.poll, what=what)
        except TimeoutError:
            seen = f"{last[0].status} {last[0].text[:300]}" if last else "nothing"
            step.fail(f"{what}: not visible within {self.timeout} s; last seen {seen}")
            raise StoryFailedError(step.notes[-1]) from None
        now = time.perf_counter()
        step.notes.append(f"visible: {what} (polled {(now - start) * 1000:.0f} ms)")
        if self._accepted is not None:
            self._accepted = (self._accepted[0], self._accepted[1], (now - self._accepted[1]) * 1000)
        return body

    def balance(self, who: str, year: int, caller: ApiClient | None = None) -> Response:
        return (caller or self.ana).get(f"/employees/{who}/balance?year={year}&leave_type={PTO}")

    def pending(self, approver: ApiClient, approver_id: str) -> Response:
        return approver.get(f"/approvers/{approver_id}/pending")

    def calendar(self, location_id: str, first: date, last: date) -> Response:
        return self.ana.get(f"/locations/{location_id}/calendar?from={first}&to={last}")

    def _balance_is(self, step: Step, who: str, year: int, **expected: Any) -> dict[str, Any]:
        want = {k: number(v) for k, v in expected.items()}
        return self._visible(
            step, f"{who}'s {year} balance {want}", lambda: self.balance(who, year), lambda b: all(b.get(k) == v for k, v in want.items())
        )

    # ------------------------------------------------------------------ the story
    def play(self) -> None:
        """Every step, in order; stops at the first step that misbehaves (StoryFailedError)."""
        y = self.year
        st = self.state

        step = self._step("1. Ana (admin) creates the Belgrade location and moves John and Mike into it")
        st["belgrade"] = self._expect(step, self.ana.post("/locations", {"name": "Belgrade"}), 201, "POST /locations").json["location_id"]
        a = st["belgrade"]
        self._visible(step, "Belgrade's calendar", lambda: self.calendar(a, self.today, self.today), lambda b: b.get("items") == [])
        for who, name in (("john", "John"), ("mike", "Mike")):
            self._expect(step, self.ana.post(f"/locations/{a}/employees", {"employee_id": who, "name": name}), 201, f"add {who}")
            self._visible(
                step,
                f"{who} joined, in the audit history",
                lambda w=who: self.ana.get(f"/streams/{path_param('employee#' + w)}/events"),
                lambda body: [e["metadata"]["event_type"] for e in body["items"]] == ["EmployeeJoined"],
            )

        step = self._step("2. Ana makes Mike the approver of Belgrade")
        self._expect(step, self.ana.put(f"/locations/{a}/approver", {"employee_id": "mike"}), 200, "PUT approver")
        self._visible(step, "Mike's pending approvals", lambda: self.pending(self.mike, "mike"), lambda b: b.get("items") == [])

        step = self._step("3. Ana assigns the policy: 20 PTO days a year, up to 5 roll over")
        self._expect(
            step,
            self.ana.put(f"/locations/{a}/policy", {"leave_type": PTO, "days_per_year": 20, "max_rollover_days": 5}),
            200,
            "PUT policy",
        )
        self._balance_is(step, "john", y, allowance=20, used=0, pending=0, remaining=20)

        step = self._step(f"4. John requests {self.approved_week} .. +4 (5 working days); Mike approves it")
        body = {
            "leave_type": PTO,
            "start": str(self.approved_week),
            "end": str(self.approved_week + timedelta(days=4)),
            "note": "family trip",
        }
        r = self._expect(step, self.john.post("/employees/john/leave-requests", body), 201, "request leave")
        st["approved_request"] = rid = r.json["request_id"]
        self._check(step, r.json.get("working_days") == 5, f"5 working days, got {r.json}")
        self._visible(
            step,
            "the request in Mike's pending list",
            lambda: self.pending(self.mike, "mike"),
            lambda b: [i["request_id"] for i in b["items"]] == [rid],
        )
        self._balance_is(step, "john", y, used=0, pending=5, remaining=15)
        self._expect(step, self.mike.post(f"/leave-requests/{rid}/approve", {}), 200, "Mike approves")
        self._balance_is(step, "john", y, used=5, pending=0, remaining=15)
        self._visible(step, "Mike's pending list empty", lambda: self.pending(self.mike, "mike"), lambda b: b["items"] == [])
        self._visible(
            step,
            "the approved leave on Belgrade's calendar",
            lambda: self.calendar(a, date(y, 1, 1), date(y, 12, 31)),
            lambda b: [(i["request_id"], i["status"]) for i in b["items"]] == [(rid, "approved")],
        )

        step = self._step(f"4b. John requests {self.denied_week} .. +1 (2 days); Mike denies it; approving it afterwards is a conflict")
        body = {"leave_type": PTO, "start": str(self.denied_week), "end": str(self.denied_week + timedelta(days=1))}
        rid2 = self._expect(step, self.john.post("/employees/john/leave-requests", body), 201, "request leave").json["request_id"]
        st["denied_request"] = rid2
        self._visible(
            step,
            "the request in Mike's pending list",
            lambda: self.pending(self.mike, "mike"),
            lambda b: [i["request_id"] for i in b["items"]] == [rid2],
        )
        self._expect(step, self.mike.post(f"/leave-requests/{rid2}/deny", {"reason": "release week"}), 200, "Mike denies")
        self._visible(step, "Mike's pending list empty", lambda: self.pending(self.mike, "mike"), lambda b: b["items"] == [])
        self._balance_is(step, "john", y, used=5, pending=0, remaining=15)
        again = self._expect(step, self.mike.post(f"/leave-requests/{rid2}/approve", {}), 409, "approve the denied request")
        self._check(step, again.error_code is not None, f"an error body, got {again.text}")

        if self.year_end is None:
            step = self._step(f"5. Year end: Ana rolls {y} over; unused days up to 5 move to {y + 1}")
            r = self._expect(step, self.ana.post("/rollovers", {"from_year": y}), 202, "POST /rollovers")
            summary = r.json
        else:
            step = self._step(f"5. Year end: the yearly schedule (1 January 01:00) starts the rollover workflow for {y}")
            summary = self.year_end(y)
            step.notes.append(f"rollover workflow -> {summary}")
        self._check(step, summary.get("employees_rolled_over") == 2, f"2 employees rolled over, got {summary}")
        self._balance_is(step, "john", y + 1, allowance=20, rolled_over=5, remaining=25)
        self._balance_is(step, "john", y, used=5, remaining=10)
        self._balance_is(step, "mike", y + 1, rolled_over=5, remaining=25)
        again = self._expect(step, self.ana.post("/rollovers", {"from_year": y}), 202, "the same rollover by the admin route (idempotent)")
        self._check(step, again.json == summary, f"the admin route's summary {again.json} is the workflow's {summary}")
        self._visible(
            step,
            f"one RolloverCompleted of {y}",
            lambda: self.ana.get(f"/streams/{path_param(f'rollover#{y}')}/events"),
            lambda b: [e["metadata"]["event_type"] for e in b["items"]] == ["RolloverCompleted"],
        )
        self._balance_is(step, "john", y + 1, rolled_over=5, remaining=25)

        step = self._step("6. Ana changes John's working week to Monday-Thursday")
        self._expect(step, self.ana.put("/employees/john/working-week", {"days": ["MON", "TUE", "WED", "THU"]}), 200, "PUT working-week")
        self._visible(
            step,
            "WorkingWeekChanged in John's history",
            lambda: self.ana.get(f"/streams/{path_param('employee#john')}/events"),
            lambda b: b["items"] and b["items"][-1]["metadata"]["event_type"] == "WorkingWeekChanged",
        )

        step = self._step(f"7. Mike adds a past leave for John: {self.past_week} .. +4 (Mon-Fri, 4 of John's working days)")
        body = {"leave_type": PTO, "start": str(self.past_week), "end": str(self.past_week + timedelta(days=4))}
        r = self._expect(step, self.mike.post("/employees/john/past-leaves", body), 201, "POST past-leaves")
        st["past_leave"] = r.json["request_id"]
        self._check(step, r.json.get("working_days") == 4, f"4 working days (Mon-Thu week), got {r.json}")
        self._balance_is(step, "john", y, used=9, pending=0, remaining=6)

        step = self._step("8. Alex (admin) opens Novi Sad (25 days, 3 roll over), becomes its approver and transfers John there")
        st["novi_sad"] = b = self._expect(step, self.alex.post("/locations", {"name": "Novi Sad"}), 201, "POST /locations").json[
            "location_id"
        ]
        self._expect(step, self.alex.post(f"/locations/{b}/employees", {"employee_id": "alex", "name": "Alex"}), 201, "add alex")
        self._expect(step, self.alex.put(f"/locations/{b}/approver", {"employee_id": "alex"}), 200, "alex approves Novi Sad")
        self._expect(
            step,
            self.alex.put(f"/locations/{b}/policy", {"leave_type": PTO, "days_per_year": 25, "max_rollover_days": 3}),
            200,
            "PUT policy",
        )
        body = {"leave_type": PTO, "start": str(self.next_year_week), "end": str(self.next_year_week + timedelta(days=2))}
        r = self._expect(
            step, self.john.post("/employees/john/leave-requests", body), 201, f"John requests {self.next_year_week} .. +2 (pending)"
        )
        st["moved_request"] = rid3 = r.json["request_id"]
        self._visible(
            step,
            "it in Mike's pending list",
            lambda: self.pending(self.mike, "mike"),
            lambda b_: [i["request_id"] for i in b_["items"]] == [rid3],
        )
        self._expect(step, self.alex.post("/employees/john/transfer", {"to_location_id": b}), 200, "transfer John (effective today)")
        allowance = prorated_allowance(y, self.today, 20, 25)
        st["expected_allowance"] = allowance
        self._balance_is(step, "john", y, allowance=allowance, used=9, remaining=allowance - 9 - 5)
        self._balance_is(step, "john", y + 1, allowance=25, rolled_over=5, pending=3, remaining=27)
        self._visible(
            step,
            "John's request moved to Alex",
            lambda: self.pending(self.alex, "alex"),
            lambda b_: [i["request_id"] for i in b_["items"]] == [rid3],
        )
        self._visible(step, "and off Mike's list", lambda: self.pending(self.mike, "mike"), lambda b_: b_["items"] == [])
        self._commit_latency()
        if self.let_time_pass is not None:
            self._reminder(rid3)

    def _reminder(self, request_id: str) -> None:
        """Nobody decides a request for two working days: its approver is reminded (the
        reminders workflow, woken by the stack's clock), once."""
        step = self._step(f"9. Nobody decides {request_id} for 2 working days: its approver (now Alex) is reminded")
        assert self.let_time_pass is not None
        self.let_time_pass(timedelta(days=4))  # 2 working days are at most 4 days away (Friday -> Tuesday)
        step.notes.append("4 days pass on the stack's clock")

        def reminders(body: Any) -> list[dict[str, Any]]:
            return [e for e in body["items"] if e["metadata"]["event_type"] == "ApprovalReminderSent"]

        body = self._visible(
            step,
            "ApprovalReminderSent in John's history",
            lambda: self.ana.get(f"/streams/{path_param('employee#john')}/events"),
            lambda b: len(reminders(b)) == 1,
        )
        [reminder] = reminders(body)
        data = reminder["data"]
        self._check(step, (data["request_id"], data["approver_id"]) == (request_id, "alex"), f"Alex reminded of {request_id}, got {data}")
        step.notes.append(f"reminder: {data['approver_id']}, {data['request_id']} pending for {data['working_days_pending']} working days")

    def _check(self, step: Step, condition: bool, message: str) -> None:
        if not condition:
            step.fail(message)
            raise StoryFailedError(message)

    # ------------------------------------------------------------------ results
    def latencies(self) -> list[float]:
        return [ms for s in self.steps for ms in s.latency_ms]

    def final_state(self) -> dict[str, Any]:
        """Balances, pending approvals and calendars at the end (for the report)."""
        y, st = self.year, self.state
        out: dict[str, Any] = {"balances": {}, "pending": {}, "calendars": {}}
        for who in ("john", "mike", "alex"):
            for year in (y, y + 1):
                r = self.balance(who, year)
                out["balances"][f"{who} {year}"] = r.json if r.status == 200 else f"{r.status}"
        out["pending"] = {who: self.pending(c, who).json for who, c in (("mike", self.mike), ("alex", self.alex))}
        for name in ("belgrade", "novi_sad"):
            if name in st:
                r = self.calendar(st[name], date(y, 1, 1), date(y + 1, 12, 31))
                out["calendars"][name] = r.json if r.status == 200 else f"{r.status}"
        return out
