"""The rollover workflow's tasks on the in-memory event store: the year from the schedule,
paging, idempotency per employee and year, a re-run after a partial failure, RolloverCompleted
once, and the same events as the admin route."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from acme_eventsourcing.runtime.eventstore.ports import Append, ConcurrencyError, IdempotencyRecord, StoredEvent
from leave.commands import AddEmployee, AssignLeavePolicy, Caller, CreateLocation, RollOverLeave, TransferEmployee
from leave.errors import RuleViolated
from leave_api.service import CommandContext, LeaveService
from leave_workflows.rollover import RolloverTasks, make_app, year_ended_at
from leave_workflows.tasks import RetryableError, TaskInputError

ANA = Caller(sub="ana", groups=frozenset({"admin"}))
NEW_YEAR = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)


class FlakyStore:
    """An event store that fails the appends to chosen streams (`failing`: how many times each,
    raising `error`), and keeps every event it stored, in order (`stored`)."""

    def __init__(self, inner: InMemoryEventStore) -> None:
        self.inner = inner
        self.stored: list[StoredEvent] = []
        self.failing: dict[str, int] = {}
        self.error: Callable[[str], Exception] = lambda stream: RuntimeError(f"disk on fire for {stream}")

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        return self.inner.load(stream_id, after_version)

    def append(self, appends: Sequence[Append], idempotency: IdempotencyRecord | None = None) -> list[StoredEvent]:
        for a in appends:
            if a.events and self.failing.get(a.stream_id, 0) > 0:
                self.failing[a.stream_id] -= 1
                raise self.error(a.stream_id)
        stored = self.inner.append(appends, idempotency)
        self.stored.extend(stored)
        return stored

    def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        return self.inner.get_idempotency(key)


def world(employees: int = 7, *, at: datetime = NEW_YEAR) -> tuple[FlakyStore, LeaveService]:
    """Two locations with PTO policies and `employees` employees (e00, e01, ...), one transferred."""
    store = FlakyStore(InMemoryEventStore())
    clock = {"now": datetime(2026, 1, 5, 9, 0, tzinfo=UTC)}
    ids = itertools.count(1)
    service = LeaveService(store, clock=lambda: clock["now"], new_id=lambda: f"{next(ids):012x}".ljust(32, "0"))

    def run(command: Any) -> Any:
        return service.execute(command, CommandContext(caller=command.caller.sub, correlation_id="setup"))

    a = run(CreateLocation(caller=ANA, name="Belgrade")).body["location_id"]
    b = run(CreateLocation(caller=ANA, name="Lisbon")).body["location_id"]
    run(AssignLeavePolicy(caller=ANA, location_id=a, leave_type="PTO", days_per_year=20, max_rollover_days=5))
    run(AssignLeavePolicy(caller=ANA, location_id=b, leave_type="PTO", days_per_year=25, max_rollover_days=3))
    for i in range(employees):
        run(AddEmployee(caller=ANA, location_id=a if i % 2 else b, employee_id=f"e{i:02d}", name=f"E{i}"))
    if employees:
        run(TransferEmployee(caller=ANA, employee_id="e00", to_location_id=a))
    clock["now"] = at
    return store, service


def run_workflow(app: Callable[[Mapping[str, Any]], dict[str, Any]], start: Mapping[str, Any]) -> dict[str, Any]:
    """What the ROLLOVER state machine does, in process: Plan, Map over batches (a batch that
    raises counts as failed, as its Catch does), NextPage until done, then Complete or fail."""
    state = app({"task": "plan", "input": start})
    while True:
        results = []
        for batch in state["batches"]:
            try:
                results.append(app({"task": "roll", "input": {"from_year": state["from_year"], "employee_ids": batch}}))
            except Exception:
                results.append({"employees": len(batch), "rolled_over": 0, "failed": batch})
        state = app({"task": "page", "input": {**state, "results": results}})
        if state["done"]:
            break
    if state["totals"]["failed"]:
        return {"failed": state["totals"]["failed"], "failed_ids": state["failed_ids"]}
    return app({"task": "complete", "input": state})


def events_of(store: FlakyStore, prefix: str = "") -> list[tuple[str, int, str, dict]]:
    """Every stored event of the streams starting with `prefix`, by stream and version."""
    return sorted((e.stream_id, e.version, e.event_type, dict(e.data)) for e in store.stored if e.stream_id.startswith(prefix))


# --- plan: which year -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheduled", "year"),
    [
        ("2027-01-01T01:00:00Z", 2026),  # London
        ("2026-12-31T12:00:00Z", 2026),  # 01:00 on 1 January in Auckland
        ("2027-01-01T11:00:00Z", 2026),  # 01:00 on 1 January in Honolulu
        ("2026-12-31T11:00:00Z", 2026),  # 01:00 on 1 January on Kiritimati (UTC+14)
        ("2027-01-01T01:00:00+00:00", 2026),
    ],
)
def test_plan_closes_the_year_the_schedule_has_just_ended(scheduled: str, year: int) -> None:
    _, service = world(3)
    state = make_app(service)({"task": "plan", "input": {"scheduled_time": scheduled}})
    assert (state["from_year"], state["to_year"]) == (year, year + 1)
    assert state["totals"] == {"employees": 0, "rolled_over": 0, "failed": 0}


def test_year_ended_at_is_the_year_whose_end_is_nearest() -> None:
    assert year_ended_at(datetime(2027, 6, 30, tzinfo=UTC)) == 2026
    assert year_ended_at(datetime(2027, 7, 1, tzinfo=UTC)) == 2027


def test_plan_takes_an_explicit_year_and_refuses_one_not_started() -> None:
    _, service = world(3)
    app = make_app(service)
    assert app({"task": "plan", "input": {"from_year": 2025}})["from_year"] == 2025
    with pytest.raises(RuleViolated) as refused:
        app({"task": "plan", "input": {"from_year": 2028}})
    assert refused.value.code == "year_not_started"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"task": "plan", "input": {}}, "give from_year"),
        ({"task": "plan", "input": {"scheduled_time": "new year"}}, "scheduled_time must be an ISO-8601 time"),
        ({"task": "plan", "input": {"from_year": "2026"}}, "from_year must be an int"),
        ({"task": "plan", "input": {"from_year": True}}, "from_year must be an int"),
        ({"task": "roll", "input": {"from_year": 2026, "employee_ids": [1]}}, "employee_ids must be a list of employee ids"),
        ({"task": "fly", "input": {}}, "unknown rollover task 'fly'"),
        ({"task": "plan", "input": [1]}, "input must be a JSON object"),
    ],
)
def test_bad_task_input_is_a_clear_error(event: dict, message: str) -> None:
    _, service = world(1)
    with pytest.raises(TaskInputError, match=message):
        make_app(service)(event)


# --- paging -----------------------------------------------------------------------------------


def test_pages_and_batches_reach_every_employee_once_in_id_order() -> None:
    _, service = world(7)
    app = RolloverTasks(service, page_size=3, batch_size=2).app()
    state = app({"task": "plan", "input": {"from_year": 2026}})
    seen, pages = [], 0
    while True:
        pages += 1
        assert all(len(b) <= 2 for b in state["batches"]) and sum(map(len, state["batches"])) <= 3
        seen += [i for b in state["batches"] for i in b]
        results = [{"employees": len(b), "rolled_over": 0, "failed": []} for b in state["batches"]]
        state = app({"task": "page", "input": {**state, "results": results}})
        if state["done"]:
            break
    assert seen == [f"e{i:02d}" for i in range(7)]
    assert pages == 3 and state["totals"]["employees"] == 7 and state["batches"] == []


def test_a_tenant_with_no_employees_completes_with_zero_counts() -> None:
    store, service = world(0)
    assert run_workflow(make_app(service), {"from_year": 2026}) == {
        "from_year": 2026,
        "to_year": 2027,
        "employees": 0,
        "employees_rolled_over": 0,
    }
    assert [e[2] for e in events_of(store, "rollover#")] == ["RolloverCompleted"]


# --- rolling: idempotent per employee and year ---------------------------------------------------


def test_rolling_an_employee_twice_appends_nothing_the_second_time() -> None:
    store, service = world(3)
    app = make_app(service)
    first = app({"task": "roll", "input": {"from_year": 2026, "employee_ids": ["e01", "e02"]}})
    before = events_of(store)
    again = app({"task": "roll", "input": {"from_year": 2026, "employee_ids": ["e01", "e02"]}})
    assert first == again == {"employees": 2, "rolled_over": 2, "failed": []}
    assert events_of(store) == before
    assert [e[2] for e in events_of(store, "employee#e01")].count("LeaveRolledOver") == 1
    single = app({"task": "roll", "input": {"from_year": 2026, "employee_id": "e00"}})
    assert single == {"employees": 1, "rolled_over": 1, "failed": []}


def test_an_unknown_employee_is_not_rolled_over_and_not_a_failure() -> None:
    _, service = world(1)
    assert make_app(service)({"task": "roll", "input": {"from_year": 2026, "employee_ids": ["ghost"]}}) == {
        "employees": 1,
        "rolled_over": 0,
        "failed": [],
    }


def test_a_transient_failure_fails_the_batch_as_retryable() -> None:
    store, service = world(2)
    store.failing["employee#e01"] = 5
    store.error = lambda stream: ConcurrencyError(f"{stream} moved on", stream_ids=frozenset({stream}))
    with pytest.raises(RetryableError):
        make_app(service)({"task": "roll", "input": {"from_year": 2026, "employee_ids": ["e00", "e01"]}})


def test_the_workflow_rolls_every_employee_and_completes_once() -> None:
    store, service = world(7)
    app = RolloverTasks(service, page_size=3, batch_size=2).app()
    done = run_workflow(app, {"scheduled_time": "2027-01-01T01:00:00Z"})
    assert done == {"from_year": 2026, "to_year": 2027, "employees": 7, "employees_rolled_over": 7}
    for i in range(7):
        assert [e[2] for e in events_of(store, f"employee#e{i:02d}")].count("LeaveRolledOver") == 1
    [completed] = events_of(store, "rollover#")
    assert completed[:3] == ("rollover#2026", 1, "RolloverCompleted") and completed[3] == done
    before = events_of(store)
    assert run_workflow(app, {"from_year": 2026}) == done  # a re-run: the same summary, nothing appended
    assert events_of(store) == before


def test_a_run_that_fails_half_way_is_rerun_without_duplicating_any_event() -> None:
    store, service = world(7)
    app = RolloverTasks(service, page_size=3, batch_size=2).app()
    store.failing.update({"employee#e02": 1, "employee#e05": 1})  # each fails once, for good reason
    failed = run_workflow(app, {"from_year": 2026})
    assert failed == {"failed": 2, "failed_ids": ["e02", "e05"]}
    assert events_of(store, "rollover#") == []  # not completed
    rolled = [s for s, _, t, _ in events_of(store) if t == "LeaveRolledOver"]
    assert sorted(rolled) == [f"employee#e{i:02d}" for i in range(7) if i not in (2, 5)]
    done = run_workflow(app, {"from_year": 2026})
    assert done == {"from_year": 2026, "to_year": 2027, "employees": 7, "employees_rolled_over": 7}
    events = events_of(store)
    assert len({(s, v) for s, v, _, _ in events}) == len(events)
    assert sorted(s for s, _, t, _ in events if t == "LeaveRolledOver") == [f"employee#e{i:02d}" for i in range(7)]
    assert [t for _, _, t, _ in events if t == "RolloverCompleted"] == ["RolloverCompleted"]


def test_a_whole_batch_that_keeps_failing_counts_each_of_its_employees() -> None:
    store, service = world(4)
    store.failing["employee#e01"] = 1
    app = RolloverTasks(service, page_size=10, batch_size=2).app()
    state = app({"task": "plan", "input": {"from_year": 2026}})
    caught = {"employees": 2, "rolled_over": 0, "failed": state["batches"][0]}  # what BatchFailed gives
    rolled = app({"task": "roll", "input": {"from_year": 2026, "employee_ids": state["batches"][1]}})
    state = app({"task": "page", "input": {**state, "results": [caught, rolled]}})
    assert state["totals"] == {"employees": 4, "rolled_over": 2, "failed": 2} and state["failed_ids"] == ["e00", "e01"]
    with pytest.raises(TaskInputError, match="2 employees failed"):
        app({"task": "complete", "input": state})


# --- the same events as the admin route ----------------------------------------------------------


def test_the_workflow_and_the_admin_route_give_the_same_events() -> None:
    by_route, route_service = world(5)
    result = route_service.execute(RollOverLeave(caller=ANA, from_year=2026), CommandContext(caller="ana", correlation_id="r"))
    by_workflow, workflow_service = world(5)
    done = run_workflow(RolloverTasks(workflow_service, page_size=2, batch_size=1).app(), {"from_year": 2026})
    assert result.body == done
    assert events_of(by_route) == events_of(by_workflow)
    assert [t for _, _, t, _ in events_of(by_route) if t == "RolloverCompleted"] == ["RolloverCompleted"]


def test_the_admin_route_after_the_workflow_appends_nothing() -> None:
    store, service = world(4)
    run_workflow(make_app(service), {"from_year": 2026})
    before = events_of(store)
    again = service.execute(RollOverLeave(caller=ANA, from_year=2026), CommandContext(caller="ana", correlation_id="r"))
    assert again.body == {"from_year": 2026, "to_year": 2027, "employees": 4, "employees_rolled_over": 4}
    assert events_of(store) == before
