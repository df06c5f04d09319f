"""The leave workflows' ASL (pure data): every Task calls the workflow's task function with a
task the handler knows, transient errors are retried with backoff, each batch failure is caught,
and every state is reachable and leads to an end."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from acme_eventsourcing.runtime.eventstore.memory import InMemoryEventStore
from leave_api.service import LeaveService
from leave_workflows import definitions
from leave_workflows.reminders import ReminderTasks
from leave_workflows.rollover import RolloverTasks

MACHINES = {"rollover": (definitions.ROLLOVER, RolloverTasks), "reminders": (definitions.REMINDERS, ReminderTasks)}


def states(machine: Mapping[str, Any]) -> Iterator[tuple[str, dict]]:
    for name, state in machine["States"].items():
        yield name, state
        if state["Type"] == "Map":
            yield from states(state["ItemProcessor"])


def successors(state: Mapping[str, Any]) -> set[str]:
    out = {state[k] for k in ("Next", "Default") if k in state}
    out |= {c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])}
    return out


@pytest.mark.parametrize("name", MACHINES)
def test_each_task_calls_the_task_function_with_a_known_task_and_retries_transient_errors(name: str) -> None:
    machine, tasks_class = MACHINES[name]
    handled = set(tasks_class(LeaveService(InMemoryEventStore())).app().tasks)
    tasks = [s for _, s in states(machine) if s["Type"] == "Task"]
    assert tasks
    assert handled == {"rollover": {"plan", "page", "roll", "complete"}, "reminders": {"schedule", "remind", "escalate"}}[name]
    assert {t["Parameters"]["Payload"]["task"] for t in tasks} == handled
    for t in tasks:
        assert t["Parameters"]["FunctionName"] == "${tasks}"
        [retry] = t["Retry"]
        assert "RetryableError" in retry["ErrorEquals"] and "Lambda.TooManyRequestsException" in retry["ErrorEquals"]
        assert retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 3 and "States.ALL" not in retry["ErrorEquals"]
        assert t["TimeoutSeconds"] > 0


@pytest.mark.parametrize("name", MACHINES)
def test_every_state_is_reachable_and_every_path_ends(name: str) -> None:
    machine, _ = MACHINES[name]
    for scope in [machine] + [s["ItemProcessor"] for _, s in states(machine) if s["Type"] == "Map"]:
        names = set(scope["States"])
        reached, todo = set(), [scope["StartAt"]]
        while todo:
            current = todo.pop()
            if current not in reached:
                reached.add(current)
                todo.extend(successors(scope["States"][current]))
        assert reached == names
        for state in scope["States"].values():
            assert successors(state) <= names
            assert successors(state) or state.get("End") or state["Type"] in {"Succeed", "Fail"}


def test_the_rollover_map_is_bounded_catches_per_batch_and_a_failure_fails_the_execution() -> None:
    roll_page = definitions.ROLLOVER["States"]["RollPage"]
    assert roll_page["MaxConcurrency"] == definitions.ROLLOVER_MAX_CONCURRENCY > 0
    roll = roll_page["ItemProcessor"]["States"]["Roll"]
    assert roll["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "BatchFailed"}]
    failed = roll_page["ItemProcessor"]["States"]["BatchFailed"]["Parameters"]
    assert failed["failed.$"] == "$.employee_ids" and failed["rolled_over"] == 0
    any_failed = definitions.ROLLOVER["States"]["AnyFailed"]
    assert any_failed["Choices"] == [{"Variable": "$.totals.failed", "NumericGreaterThan": 0, "Next": "Incomplete"}]
    assert definitions.ROLLOVER["States"]["Incomplete"]["Type"] == "Fail"


def test_the_reminders_wait_for_the_scheduled_times_and_stop_when_decided() -> None:
    s = definitions.REMINDERS["States"]
    assert s["WaitToRemind"] == {"Type": "Wait", "TimestampPath": "$.remind_at", "Next": "Remind"}
    assert s["WaitToEscalate"] == {"Type": "Wait", "TimestampPath": "$.escalate_at", "Next": "Escalate"}
    assert s["StillPending"]["Choices"][0]["Variable"] == "$.reminder.pending"
    assert set(definitions.DECISION_EVENT_TYPES) == {"LeaveApproved", "LeaveDenied", "LeaveCancelled"}
