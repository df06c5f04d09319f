"""Stopping and starting a persistent local stack keeps the events (`acme_eventsourcing.local.journal`):
the Events table comes back from `.local-stack/<stack>/events.jsonl` and the read models
are rebuilt through the publisher and the projections."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from acme_eventsourcing.local.client import ApiClient
from acme_eventsourcing.local.journal import FORMAT
from acme_eventsourcing.testing import RecordedStack

from local import LocalStack, LocalStackError
from local.story import PTO, plan_weeks, story_day

DAY = story_day(datetime.now(UTC).date())


def _client(stack: LocalStack, who: str, *groups: str) -> ApiClient:
    return ApiClient(stack.api_url, lambda sub, g: stack.token(sub, g)).as_user(who, *groups)


def _scan(stack: LocalStack, name: str) -> list[str]:
    """The table's items, without a read-model row's `rev`: that counts the row's writes (the
    projector's optimistic lock), and projectors run concurrently, as on AWS, so how many
    times a row was rewritten on the way to the same document depends on how the streams'
    events interleaved (a location's policy and an employee's request, say)."""
    ddb = stack.clients("dynamodb")  # type: ignore[misc]
    items, kwargs = [], {"TableName": name, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        items += [{k: v for k, v in i.items() if k != "rev"} for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return sorted(json.dumps(i, sort_keys=True) for i in items)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _tables(stack: LocalStack) -> dict[str, list[str]]:
    assert stack.model is not None
    return {t.logical: _scan(stack, t.name) for t in stack.model.tables}


def _subscriber_calls(stack: LocalStack) -> int:
    """Calls of the functions that react to events other than the projectors: the reminders
    workflow's start/stop trigger (the notifications webhook subscriber is gone: Slack messages
    go through an API destination, with no function)."""
    assert stack.model is not None
    return sum(len(stack.invocations_of(f.logical)) for f in stack.model.functions if f.logical.endswith(("-subscriber", "-trigger")))


def _journal(state: Path) -> Path:
    return state / "dev" / "events.jsonl"


@pytest.fixture
def persistent(dev_program: RecordedStack, stack_factory: Callable[..., LocalStack], tmp_path: Path) -> Iterator[Callable[..., LocalStack]]:
    """`persistent(**options)` starts a persistent local stack keeping its journal in tmp_path."""
    started: list[LocalStack] = []

    def start(**options: Any) -> LocalStack:
        lines: list[str] = []
        stack = stack_factory(dev_program, persist=True, state_dir=tmp_path, today=DAY, log=lines.append, **options)
        stack.lines = lines  # type: ignore[attr-defined]
        started.append(stack)
        return stack

    yield start
    for stack in started:
        stack.stop()


def _play(stack: LocalStack) -> dict[str, Any]:
    """Commands that fill every read model and notify the subscriber; returns what they answered."""
    ana, john, mike = _client(stack, "ana", "admin"), _client(stack, "john"), _client(stack, "mike", "approver")
    created = ana.post("/locations", {"name": "Restartville"}, idempotency_key="restart-loc-1")
    assert created.status == 201, created.text
    location = created.json["location_id"]
    for who, name in (("john", "John"), ("mike", "Mike")):
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": name}).status == 201
    assert ana.put(f"/locations/{location}/approver", {"employee_id": "mike"}).status == 200
    assert ana.put(f"/locations/{location}/policy", {"leave_type": PTO, "days_per_year": 20, "max_rollover_days": 5}).status == 200
    week = plan_weeks(DAY)[1]
    request = john.post("/employees/john/leave-requests", {"leave_type": PTO, "start": str(week), "end": str(week + timedelta(days=4))})
    assert request.status == 201, request.text
    approved = mike.post(f"/leave-requests/{request.json['request_id']}/approve", {})
    assert approved.status == 200, approved.text
    stack.settle()
    return {"location": location, "created": created.json}


def test_a_restart_replays_the_events_and_rebuilds_the_same_read_models(persistent: Callable[..., LocalStack], tmp_path: Path) -> None:
    first = persistent()
    played = _play(first)
    before = _tables(first)
    notified = _subscriber_calls(first)
    standby = {t for t in before if t.endswith("-standby")}  # blue/green: empty until a rebuild fills one
    assert len(standby) == 4 and not any(before[t] for t in standby)
    connections = {t for t in before if t.endswith("-live-connections")}  # live updates: only WebSocket clients fill it
    assert len(connections) == 1 and not any(before[t] for t in connections)
    assert notified > 0 and all(v for t, v in before.items() if t not in standby | connections), (
        "every table has items and the subscriber heard the events"
    )
    first.stop()
    written = _journal(tmp_path).read_text().splitlines()
    assert json.loads(written[0])["format"] == FORMAT and len(written) - 1 == len(before["leave-events"])

    second = persistent()
    second.settle()
    assert second.replayed == len(before["leave-events"])
    assert _tables(second) == before  # the Events table (idempotency records included) and every read model
    assert _subscriber_calls(second) == 0, "a replay goes to the projections, not to the subscriptions"
    banner = "\n".join(second.lines)  # type: ignore[attr-defined]
    assert f"events     {second.replayed} replayed from {_journal(tmp_path)}" in banner
    # the idempotency record came back: the same request is answered as the first time
    again = _client(second, "ana", "admin").post("/locations", {"name": "Restartville"}, idempotency_key="restart-loc-1")
    assert again.json == played["created"]
    # the subscriptions are attached again, and what happens now is journaled after the replayed lines
    week = plan_weeks(DAY)[2]
    body = {"leave_type": PTO, "start": str(week), "end": str(week + timedelta(days=1))}
    assert _client(second, "john").post("/employees/john/leave-requests", body).status == 201
    second.settle()
    assert _subscriber_calls(second) == 1, "the new LeaveRequested reaches the subscription"
    second.stop()
    lines = _journal(tmp_path).read_text().splitlines()
    assert lines[: len(written)] == written and len(lines) > len(written)
    assert len(lines) - 1 == len(set(lines[1:])), "no record is journaled twice"


def test_fresh_starts_empty_and_sets_the_journal_aside(persistent: Callable[..., LocalStack], tmp_path: Path) -> None:
    first = persistent()
    _play(first)
    first.stop()
    kept = _journal(tmp_path).read_text()
    fresh = persistent(fresh=True)
    fresh.settle()
    assert fresh.replayed == 0
    assert not any(_tables(fresh).values())
    assert (tmp_path / "dev" / "events.jsonl.previous").read_text() == kept
    assert len(_journal(tmp_path).read_text().splitlines()) == 1  # a new journal: its header only


def test_a_torn_last_line_is_skipped_and_cut(persistent: Callable[..., LocalStack], tmp_path: Path) -> None:
    first = persistent()
    ana = _client(first, "ana", "admin")
    assert ana.post("/locations", {"name": "Torn"}).status == 201
    first.settle()
    first.stop()
    journal = _journal(tmp_path)
    whole = journal.read_text().splitlines()
    with journal.open("a") as file:
        file.write('{"table":"leave-events","put":{"stream_id":{"S":"loc')  # a crash in the middle of a write
    second = persistent()
    assert second.replayed == len(whole) - 1
    assert any("last line was cut off" in line for line in second.lines)  # type: ignore[attr-defined]
    assert _client(second, "ana", "admin").post("/locations", {"name": "After"}).status == 201
    second.settle()
    second.stop()
    for line in journal.read_text().splitlines():
        json.loads(line)  # every line whole again


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ({"format": "local-stack-journal/0"}, "is not a local-stack-journal/1 journal"),
        ({"format": FORMAT, "project": "leave", "stack": "prod", "tables": {}}, "was written for stack 'prod'"),
        (
            {"format": FORMAT, "project": "leave", "stack": "dev", "tables": {"leave-events": {"hash": "pk", "range": "sk"}}},
            "holds events of table 'leave-events' with keys",
        ),
    ],
)
def test_a_journal_of_another_format_stack_or_layout_is_refused(
    dev_program: RecordedStack, stack_factory: Callable[..., LocalStack], tmp_path: Path, header: dict[str, Any], says: str
) -> None:
    _journal(tmp_path).parent.mkdir(parents=True)
    _journal(tmp_path).write_text(json.dumps(header) + "\n")
    with pytest.raises(LocalStackError, match="--fresh") as refused:
        stack_factory(dev_program, persist=True, state_dir=tmp_path, log=None)
    assert says in str(refused.value)
    assert LocalStack._running is None  # the failed start released the process slot


def test_without_persist_nothing_is_written(dev_program: RecordedStack, stack_factory: Callable[..., LocalStack], tmp_path: Path) -> None:
    lines: list[str] = []
    stack = stack_factory(dev_program, state_dir=tmp_path, log=lines.append)
    try:
        assert _client(stack, "ana", "admin").post("/locations", {"name": "Gone"}).status == 201
        stack.settle()
    finally:
        stack.stop()
    assert not _journal(tmp_path).exists()
    assert any(line.startswith("  events     in memory only") for line in lines)
