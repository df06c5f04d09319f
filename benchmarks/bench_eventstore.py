"""DynamoDB calls per command on the Events table, under moto.

Run from the repo root: `.venv/bin/python benchmarks/bench_eventstore.py`. Calls are
counted with botocore's `before-call` hook, so every request the code makes is seen.

1. The store alone: load a stream of 0-99 events and append one event with an idempotency
   record (Query + TransactWriteItems), with the transaction items of the append.
2. Every command of the API through `LeaveService` on `DynamoDBEventStore`, in the order
   of the story (DESIGN.md section 3), twice: "warm" runs the whole story on one service,
   as one Lambda container serves request after request; "cold" gives each command a new
   service, as the first request of a fresh container. The target is at most 2 calls.

moto's latencies say nothing about DynamoDB's, so only calls and items are printed.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lambdas")]
os.environ.update(
    {
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
)
for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(var, None)

from collections.abc import Callable, Iterator  # noqa: E402
from datetime import UTC, date, datetime  # noqa: E402

import boto3  # noqa: E402
from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore  # noqa: E402
from acme_eventsourcing.runtime.eventstore.ports import Append, IdempotencyRecord, NewEvent  # noqa: E402
from leave import commands as c  # noqa: E402
from leave_api.service import CommandContext, LeaveService  # noqa: E402
from moto import mock_aws  # noqa: E402

TABLE = "events"
STREAM_LENGTHS = (0, 1, 50, 99)


def event(n: int) -> NewEvent:
    return NewEvent(
        event_type="LeaveRequested",
        data={"request_id": f"req_{n:026d}", "start": "2026-02-02", "end": "2026-02-06", "kind": "pto", "days": 5},
        event_id=f"{n:032x}",
        occurred_at="2026-01-05T09:00:00Z",
        metadata={"actor": "john", "idempotency_key": f"k{n}", "correlation_id": f"c{n}", "causation_id": f"x{n}"},
    )


def create_table(client: Any, table: str = TABLE) -> None:
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "stream_id", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "stream_id", "AttributeType": "S"}, {"AttributeName": "version", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )


def counted_client() -> tuple[Any, Counter[str]]:
    client = boto3.client("dynamodb")
    calls: Counter[str] = Counter()
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))
    return client, calls


ANA = c.Caller(sub="ana", groups=frozenset({"admin"}))
MIKE = c.Caller(sub="mike")
JOHN = c.Caller(sub="john")
TODAY = datetime(2026, 1, 7, 9, tzinfo=UTC)
Step = Callable[[list[str]], c.Command]  # built from the ids of the locations created so far


def story() -> Iterator[tuple[str, Step]]:
    """Each command of API.md once (rollover last), in an order where each one succeeds."""

    def leave(start: date, end: date) -> Step:
        return lambda locs: c.RequestLeave(caller=JOHN, employee_id="john", leave_type="PTO", start=start, end=end)

    yield "create location", lambda locs: c.CreateLocation(caller=ANA, name="Belgrade")
    yield "add employee", lambda locs: c.AddEmployee(caller=ANA, location_id=locs[0], employee_id="john", name="John")
    yield "add employee (2)", lambda locs: c.AddEmployee(caller=ANA, location_id=locs[0], employee_id="mike", name="Mike")
    yield "assign approver", lambda locs: c.AssignApprover(caller=ANA, location_id=locs[0], employee_id="mike")
    yield (
        "assign policy",
        lambda locs: c.AssignLeavePolicy(caller=ANA, location_id=locs[0], leave_type="PTO", days_per_year=20, max_rollover_days=5),
    )
    yield "change working week", lambda locs: c.ChangeWorkingWeek(caller=ANA, employee_id="john", days=("MON", "TUE", "WED", "THU"))
    yield "request leave", leave(date(2026, 3, 9), date(2026, 3, 13))
    yield "approve", lambda locs: c.ApproveLeave(caller=MIKE, request_id="john~3")
    yield "request leave (2)", leave(date(2026, 4, 6), date(2026, 4, 7))
    yield "deny", lambda locs: c.DenyLeave(caller=MIKE, request_id="john~5", reason="release week")
    yield "request leave (3)", leave(date(2026, 5, 4), date(2026, 5, 5))
    yield "cancel", lambda locs: c.CancelLeave(caller=JOHN, request_id="john~7")
    yield (
        "add past leave",
        lambda locs: c.AddPastLeave(caller=MIKE, employee_id="john", leave_type="PTO", start=date(2026, 1, 5), end=date(2026, 1, 6)),
    )
    yield "create location (2)", lambda locs: c.CreateLocation(caller=ANA, name="Novi Sad")
    yield "transfer", lambda locs: c.TransferEmployee(caller=ANA, employee_id="john", to_location_id=locs[1])
    yield "rollover (2 locations, 2 employees)", lambda locs: c.RollOverLeave(caller=ANA, from_year=2026)


def play(service_for: Callable[[], LeaveService], calls: Counter[str]) -> list[tuple[str, int]]:
    """Run the story, each command on `service_for()`; the DynamoDB calls of each."""
    counts, locs = [], []
    for name, step in story():
        command, service = step(locs), service_for()
        calls.clear()
        result = service.execute(command, CommandContext(caller=command.caller.sub, correlation_id=f"bench-{name}"))
        counts.append((name, sum(calls.values())))
        if isinstance(command, c.CreateLocation):
            locs.append(result.body["location_id"])
    return counts


def per_command() -> None:
    client, calls = counted_client()
    results = {}
    for mode in ("warm", "cold"):
        create_table(client, f"{TABLE}-{mode}")
        store = DynamoDBEventStore(client, f"{TABLE}-{mode}")
        one = LeaveService(store, clock=lambda: TODAY)  # warm: one container serves the whole story

        def service_for(mode: str = mode, store: DynamoDBEventStore = store, one: LeaveService = one) -> LeaveService:
            return one if mode == "warm" else LeaveService(store, clock=lambda: TODAY)  # cold: a new container per command

        results[mode] = play(service_for, calls)
    print(f"\n{'command (LeaveService on DynamoDB)':38} {'warm':>5} {'cold':>5}")
    for (name, warm_calls), (_, cold_calls) in zip(results["warm"], results["cold"], strict=True):
        print(f"{name:38} {warm_calls:>5} {cold_calls:>5}")
    single = {mode: [n for name, n in counts if not name.startswith("rollover")] for mode, counts in results.items()}
    print(
        f"DynamoDB calls per command (rollover aside; target <= 2): warm container at most {max(single['warm'])} "
        f"(mean {sum(single['warm']) / len(single['warm']):.2f}), cold container (first command touching its locations) "
        f"at most {max(single['cold'])} (mean {sum(single['cold']) / len(single['cold']):.2f})"
    )


def main() -> None:
    with mock_aws():
        client, calls = counted_client()
        create_table(client)
        store = DynamoDBEventStore(client, TABLE)
        items: list[int] = []  # actions of each TransactWriteItems call
        client.meta.events.register(
            "provide-client-params.dynamodb.TransactWriteItems",
            lambda params, **_: items.append(len(params["TransactItems"])),
        )

        print(f"{'stream length':>13} {'Query':>6} {'TransactWriteItems':>19} {'total':>6} {'<= 2':>5} {'transaction items':>18}")
        for length in STREAM_LENGTHS:
            stream_id = f"employee#len{length}"
            if length:
                history = [event(i) for i in range(length)]
                store.append([Append(stream_id=stream_id, expected_version=0, events=history)])
            calls.clear()
            items.clear()

            loaded = store.load(stream_id)
            stored = store.append(
                [Append(stream_id=stream_id, expected_version=len(loaded), events=[event(length)])],
                idempotency=IdempotencyRecord(
                    key=f"sub#k{length}", request_hash="0" * 64, response={"status": 201, "body": {}}, created_at="2026-01-05T09:00:00Z"
                ),
            )

            assert stored[0].version == length + 1
            total = sum(calls.values())
            print(
                f"{length:>13} {calls['Query']:>6} {calls['TransactWriteItems']:>19} {total:>6} "
                f"{'yes' if total <= 2 else 'NO':>5} {items[0]:>18}"
            )

        per_command()


if __name__ == "__main__":
    main()
