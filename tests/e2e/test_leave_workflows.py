"""The leave workflows on the local stack, as `__main__.py` declares them: the approval
reminders (started per request, a reminder after N working days of simulated time, none after
a decision: the execution is stopped) and the yearly rollover (started by its schedule when
the clock passes 1 January 01:00 London time; a run that fails half-way is re-run without
duplicating any event; the admin route afterwards appends nothing).

The tests share one stack and run in order: the stack's day is pinned to Monday 2026-12-07 and
the clock only moves forward. Events are read back through the admin route
``GET /streams/{stream_id}/events`` (the audit read model: every event of every stream)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from acme_eventsourcing.local.client import ApiClient, path_param
from acme_eventsourcing.testing import RecordedStack

from local import LocalStack

DAY = date(2026, 12, 7)  # a Monday
EMPLOYEES = [f"e{i:02d}" for i in range(12)]
SCHEDULE = "leave-rollover-schedule-yearly"


@pytest.fixture(scope="module")
def stack(dev_program: RecordedStack, stack_factory: Callable[..., LocalStack]) -> Iterator[LocalStack]:
    running = stack_factory(dev_program, today=DAY)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def office(stack: LocalStack) -> dict[str, Any]:
    api = ApiClient(stack.api_url, lambda sub, groups: stack.token(sub, groups))
    ana = api.as_user("ana", "admin")
    location = ana.post("/locations", {"name": "Berlin"}).json["location_id"]
    for who in EMPLOYEES:
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who.upper()}).status == 201
    assert ana.put(f"/locations/{location}/approver", {"employee_id": "e00"}).status == 200
    assert ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 20, "max_rollover_days": 5}).status == 200
    stack.settle()
    return {"api": api, "ana": ana, "location": location}


def history(office: dict[str, Any], stream_id: str) -> list[dict[str, Any]]:
    response = office["ana"].get(f"/streams/{path_param(stream_id)}/events")
    if response.status == 404 and response.error_code == "stream_not_found":
        return []
    assert response.status == 200, response.text
    return response.json["items"]


def types(office: dict[str, Any], stream_id: str) -> list[str]:
    return [e["metadata"]["event_type"] for e in history(office, stream_id)]


def request_leave(office: dict[str, Any], who: str) -> str:
    body = {"leave_type": "PTO", "start": "2027-02-01", "end": "2027-02-02"}
    response = office["api"].as_user(who).post(f"/employees/{who}/leave-requests", body)
    assert response.status == 201, response.text
    return response.json["request_id"]


def execution_of(stack: LocalStack, request_id: str) -> dict[str, Any]:
    [execution] = [e for e in stack.executions("leave-reminders") if e["input"]["detail"]["data"]["request_id"] == request_id]
    return execution


def rollovers(stack: LocalStack) -> list[dict[str, Any]]:
    return stack.executions("leave-rollover")


# --- approval reminders --------------------------------------------------------------------------


def test_a_request_pending_two_working_days_reminds_its_approver(stack: LocalStack, office: dict[str, Any]) -> None:
    request_id = request_leave(office, "e01")
    stack.settle()
    assert execution_of(stack, request_id)["status"] == "RUNNING"  # waiting for remind_at
    stack.advance_clock(by=timedelta(days=1, hours=23))
    assert "ApprovalReminderSent" not in types(office, "employee#e01")  # one working day is not two
    stack.advance_clock(by=timedelta(days=1))
    reminders = [e for e in history(office, "employee#e01") if e["metadata"]["event_type"] == "ApprovalReminderSent"]
    assert [(r["data"]["request_id"], r["data"]["approver_id"], r["data"]["working_days_pending"]) for r in reminders] == [
        (request_id, "e00", 2)
    ]
    assert execution_of(stack, request_id)["status"] == "RUNNING"  # now waiting to escalate
    stack.advance_clock(by=timedelta(days=3))  # Friday
    assert "ApprovalEscalated" not in types(office, "employee#e01")
    stack.advance_clock(by=timedelta(days=1, hours=2))  # past the next Monday: its 5th working day
    assert types(office, "employee#e01").count("ApprovalEscalated") == 1
    assert execution_of(stack, request_id)["status"] == "SUCCEEDED"


def test_a_decided_request_stops_its_workflow_and_nobody_is_reminded(stack: LocalStack, office: dict[str, Any]) -> None:
    approved, cancelled = request_leave(office, "e02"), request_leave(office, "e03")
    stack.settle()
    assert office["api"].as_user("e00").post(f"/leave-requests/{approved}/approve", {}).status == 200
    assert office["api"].as_user("e03").post(f"/leave-requests/{cancelled}/cancel", {}).status == 200
    stack.settle()
    assert execution_of(stack, approved)["status"] == execution_of(stack, cancelled)["status"] == "ABORTED"
    stack.advance_clock(by=timedelta(days=8))
    assert not {"ApprovalReminderSent", "ApprovalEscalated"} & {*types(office, "employee#e02"), *types(office, "employee#e03")}


# --- the yearly rollover ---------------------------------------------------------------------------


def test_a_rollover_that_fails_half_way_fails_its_execution_and_appends_no_completion(
    stack: LocalStack, office: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    service_class = stack.function("leave-rollover-tasks").module.LeaveService  # the function's own copy
    real = service_class.roll_over_employee
    broken = {"e04", "e09"}

    def fails_for_some(self: Any, command: Any, employee_id: str, context: Any) -> bool:
        if employee_id in broken:
            raise RuntimeError(f"injected failure for {employee_id}")
        return real(self, command, employee_id, context)

    monkeypatch.setattr(service_class, "roll_over_employee", fails_for_some)
    stack.fire_schedule(SCHEDULE, at=datetime(2027, 1, 1, 1, 0, tzinfo=UTC))  # as Scheduler would on 1 January
    stack.settle()
    [failed] = rollovers(stack)
    assert (failed["status"], failed["error"]) == ("FAILED", "RolloverIncomplete")
    assert history(office, "rollover#2026") == []
    assert "run the workflow again" in failed["cause"]
    rolled = {who for who in EMPLOYEES if "LeaveRolledOver" in types(office, f"employee#{who}")}
    assert rolled and broken.isdisjoint(rolled) and len(rolled) < len(EMPLOYEES)


def test_the_schedule_at_new_year_reruns_the_rollover_for_everyone_without_duplicating_any_event(
    stack: LocalStack, office: dict[str, Any]
) -> None:
    before = {who: history(office, f"employee#{who}") for who in EMPLOYEES}
    fired = stack.advance_clock(to=datetime(2027, 1, 1, 2, 0, tzinfo=UTC))  # passes 01:00 London time
    assert [f.scheduled_time for f in fired] == [datetime(2027, 1, 1, 1, 0, tzinfo=UTC)] and fired[0].ok
    done = rollovers(stack)[-1]
    assert done["status"] == "SUCCEEDED"
    summary = {"from_year": 2026, "to_year": 2027, "employees": len(EMPLOYEES), "employees_rolled_over": len(EMPLOYEES)}
    assert done["output"] == summary
    for who in EMPLOYEES:
        after = history(office, f"employee#{who}")
        assert after[: len(before[who])] == before[who]  # nothing rewritten
        assert [e["metadata"]["event_type"] for e in after].count("LeaveRolledOver") == 1, who
        assert [e["metadata"]["version"] for e in after] == list(range(1, len(after) + 1))
    [completed] = history(office, "rollover#2026")
    assert completed["metadata"]["event_type"] == "RolloverCompleted" and completed["data"] == summary


def test_the_admin_route_afterwards_gives_the_same_summary_and_appends_nothing(stack: LocalStack, office: dict[str, Any]) -> None:
    counts = {who: len(history(office, f"employee#{who}")) for who in EMPLOYEES}
    response = office["ana"].post("/rollovers", {"from_year": 2026})
    assert response.status == 202 and response.json == rollovers(stack)[-1]["output"]
    stack.settle()
    assert {who: len(history(office, f"employee#{who}")) for who in EMPLOYEES} == counts
    assert len(history(office, "rollover#2026")) == 1
