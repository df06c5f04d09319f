"""Operations on the leave local stack: `lag` shows a stuck stream and why, `redrive` applies
the Events table's truth for a stale DLQ message, `rebuild` switches a read model while
commands and queries go on, with no event lost or doubled.

The commands run as an operator runs them: `python -m local ops ...` (in this process, and
once in another one, which reaches the stack through its state file and moto over HTTP)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from acme_eventsourcing.local.client import ApiClient
from acme_eventsourcing.ops import Deployment, lag
from acme_eventsourcing.runtime.projections import (
    DynamoDBReadModelStore,
    EventsTableReader,
    InMemoryReadModelStore,
    read_pointer,
    rebuild,
)

from local import ROOT, LocalStack
from local.__main__ import ops

YEAR = "year=2026&leave_type=PTO"


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ops-state")


@pytest.fixture(scope="module")
def ops_stack(dev_program: Any, stack_factory: Callable[..., LocalStack], state_dir: Path) -> Iterator[LocalStack]:
    stack = stack_factory(dev_program, state_dir=state_dir)
    yield stack
    stack.stop()


@pytest.fixture
def local_ops(state_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """`python -m local ops ARGS` in this process: (exit status, what it printed)."""
    monkeypatch.setenv("LOCAL_STACK_STATE_DIR", str(state_dir))

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = ops(list(args))
        return code, capsys.readouterr().out

    return run


@pytest.fixture(scope="module")
def api(ops_stack: LocalStack) -> ApiClient:
    return ApiClient(ops_stack.api_url, lambda sub, groups: ops_stack.token(sub, groups))


@pytest.fixture(scope="module")
def berlin(api: ApiClient, ops_stack: LocalStack) -> str:
    ana = api.as_user("ana", "admin")
    location = ana.post("/locations", {"name": "Berlin"}).json["location_id"]
    for who in ("hans", "greta", "pete"):
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who.title()}).status == 201
    assert ana.put(f"/locations/{location}/approver", {"employee_id": "greta"}).status == 200
    assert ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 200, "max_rollover_days": 5}).status == 200
    ops_stack.settle()
    return location


def request(client: ApiClient, who: str, day: date, note: str = "") -> int:
    return client.post(
        f"/employees/{who}/leave-requests", {"leave_type": "PTO", "start": day.isoformat(), "end": day.isoformat(), "note": note}
    ).status


def test_lag_shows_the_stuck_stream_and_why_and_redrive_applies_the_current_truth(
    api: ApiClient, ops_stack: LocalStack, berlin: str, state_dir: Path, local_ops: Callable[..., tuple[int, str]]
) -> None:
    projection = ops_stack.function("balance-projector").module.handler.projection
    real_apply = type(projection).apply
    poisoned = threading.Event()
    poisoned.set()

    def apply(self: Any, session: Any, event: Any) -> None:
        if poisoned.is_set() and event.data.get("note") == "poison":
            raise ValueError("the balance cannot take a poisoned note")
        real_apply(self, session, event)

    type(projection).apply = apply
    try:
        pete = api.as_user("pete")
        assert request(pete, "pete", date(2026, 3, 2), note="poison") == 201
        assert request(pete, "pete", date(2026, 3, 3)) == 201  # arrives while stuck: its gap holds the poison
        ops_stack.settle()

        code, out = local_ops("lag")
        assert code == 0
        balance_block = out.split("leave/balance", 1)[1].split("leave/calendar", 1)[0]
        assert re.search(r"^ +1 of \d+ streams, 2 events behind", balance_block)  # pete's two requests
        assert "STUCK  employee#pete at version" in balance_block
        assert "ValueError: the balance cannot take a poisoned note" in balance_block
        assert "DLQ    2 waiting" in balance_block
        assert "leave/pending" in out and "up to date" in out.split("leave/pending", 1)[1]  # the others took both events

        poisoned.clear()  # the fix is deployed; the DLQ still holds the two (now stale) events
        env = {**os.environ, "LOCAL_STACK_STATE_DIR": str(state_dir)}
        done = subprocess.run(
            [sys.executable, "-m", "local", "ops", "redrive", "balance"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "2 messages; 1 handled from the Events table, 1 already applied, 0 failed again, 0 unreadable; 2 deleted" in done.stdout
        assert "employee#pete: v" in done.stdout and "applied" in done.stdout
    finally:
        type(projection).apply = real_apply

    assert api.as_user("pete").get(f"/employees/pete/balance?{YEAR}").json["pending"] == 2  # both requests: the truth
    report = lag(Deployment.from_local(ROOT, "dev", state_dir=state_dir))
    balance = next(p for p in report.projections if p.projection == "leave/balance")
    assert (balance.streams_behind, balance.stuck, balance.dlq and balance.dlq.waiting) == (0, [], 0)
    redrives = [i for i in ops_stack.invocations_of("balance-projector") if i.trigger == "lambda:Invoke"]
    assert len(redrives) == 1 and redrives[0].ok and redrives[0].result == {"applied": 2}


def test_rebuild_during_writes_switches_with_no_event_lost_or_doubled_and_queries_answer_throughout(
    api: ApiClient, ops_stack: LocalStack, berlin: str, state_dir: Path, local_ops: Callable[..., tuple[int, str]]
) -> None:
    deployment = Deployment.from_local(ROOT, "dev", state_dir=state_dir)
    target = deployment.projection("balance")
    ddb = deployment.client("dynamodb")
    before = read_pointer(ddb, target.table)
    stop = threading.Event()
    statuses: list[int] = []
    answers: list[int] = []

    def writer() -> None:  # a request every 0.2 s (at most 40)
        hans = api.as_user("hans")
        day = date(2026, 6, 1)
        while not stop.wait(0.2) and len(statuses) < 40:
            day += timedelta(days=1)
            if day.weekday() < 5:
                statuses.append(request(hans, "hans", day))

    def reader() -> None:
        hans = api.as_user("hans")
        while not stop.wait(0.05):
            answers.append(hans.get(f"/employees/hans/balance?{YEAR}").status)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    try:
        code, out = local_ops("rebuild", "balance", "--grace", "6", "--max-behind", "2")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert code == 0, out
    ops_stack.settle()

    after = read_pointer(ddb, target.table)
    assert (after.generation, after.previous, after.active) == (before.generation + 1, before.active, target.standby_table)
    assert f"now reading {target.standby_table}" in out
    assert statuses and set(statuses) == {201}, "commands went on during the rebuild"
    assert answers and set(answers) == {200}, "queries answered throughout"
    # exactly once: the active read model is what a fresh replay of the Events table gives
    fresh = InMemoryReadModelStore()
    rebuild(EventsTableReader(ddb, target.events_table), resolve_balance(), fresh)
    active = DynamoDBReadModelStore(ddb, after.active)
    assert {(r.pk, r.sk): r.doc for r in active.rows()} == {(r.pk, r.sk): r.doc for r in fresh.rows()}
    assert active.checkpoints() == fresh.checkpoints()
    assert list(DynamoDBReadModelStore(ddb, before.active).rows()) == []  # the old table was cleared
    assert api.as_user("hans").get(f"/employees/hans/balance?{YEAR}").json["pending"] == len(statuses)


def resolve_balance() -> Any:
    """The balance projection, as the rebuild found it (from the projector's handler setting)."""
    from acme_eventsourcing.ops.cli import resolve_projection

    return resolve_projection(Deployment.from_local(ROOT, "dev", state_dir=Path(os.environ["LOCAL_STACK_STATE_DIR"])).projection("balance"))


def test_lambda_invoke_of_a_declared_function_runs_it_in_the_stack(ops_stack: LocalStack, berlin: str) -> None:
    """What `redrive` relies on: Lambda's Invoke (here in-process; the redrive above went over
    HTTP) runs the declared handler, answers its result or its error, and leaves other names to moto."""
    import json

    from botocore.exceptions import ClientError

    client = ops_stack.clients("lambda")  # type: ignore[misc]
    name = ops_stack.function("audit-projector").decl.name
    answer = client.invoke(FunctionName=name, Payload=json.dumps({"detail-type": "X", "detail": {}}).encode())
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "MalformedEventError"
    assert client.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError, match="ResourceNotFoundException|Function not found"):
        client.invoke(FunctionName="no-such-function", Payload=b"{}")
