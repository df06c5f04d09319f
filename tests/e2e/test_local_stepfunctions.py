"""Step Functions and EventBridge Scheduler on the local stack, for any program.

`tests/e2e/programs/workflows` declares, with plain pulumi_aws, state machines (a Map of
Lambda tasks with Retry and Catch, Waits of days and until a timestamp, a failing task),
a rule whose target is a state machine, and schedules (cron in Asia/Tokyo, rate, at) aimed
at a state machine, a function, a queue and a missing state machine with a DLQ. The local
stack runs the executions on moto's ASL interpreter with the Lambda tasks in-process,
fires schedules on demand or as its simulated clock passes them, and the CLI lists and
fires schedules of the running stack.

The tests share one stack and run in order: the clock is real until
`test_a_wait_of_days_passes_when_the_clock_is_advanced` moves it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from acme_eventsourcing.local import LocalStack
from acme_eventsourcing.local.schedules import ScheduleError, occurrences

WORKFLOWS = Path(__file__).resolve().parent / "programs" / "workflows"


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workflows-state")


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[LocalStack]:
    lines: list[str] = []
    with LocalStack.from_program(WORKFLOWS, "dev", port=0, log=lines.append, state_dir=state_dir) as running:
        running.banner = lines  # type: ignore[attr-defined]
        yield running


def _start(stack: LocalStack, machine: str, payload: dict) -> str:
    sfn = stack.clients("stepfunctions")  # type: ignore[misc]
    return sfn.start_execution(stateMachineArn=stack.state_machine(machine).arn, input=json.dumps(payload))["executionArn"]


def _execution(stack: LocalStack, machine: str, arn: str) -> dict:
    return next(e for e in stack.executions(machine) if e["executionArn"] == arn)


def _records(stack: LocalStack, kind: str) -> list[str]:
    table = stack.model.tables[0].name  # type: ignore[union-attr]
    items = stack.clients("dynamodb").scan(TableName=table)["Items"]  # type: ignore[misc]
    return [i["event"]["S"] for i in items if i.get("kind", {}).get("S") == kind]


def test_the_banner_lists_state_machines_and_schedules(stack: LocalStack) -> None:
    banner = "\n".join(stack.banner)  # type: ignore[attr-defined]
    assert "workflow   wf-batch-" in banner and "workflow   wf-sleeper-" in banner
    assert "cron(0 9 ? * MON-FRI *) Asia/Tokyo -> wf-recorder-" in banner
    assert "never fired locally" not in banner
    assert "aws:sfn/stateMachine:StateMachine x" not in banner  # emulated, not in the NOT emulated list
    sfn, scheduler = stack.clients("stepfunctions"), stack.clients("scheduler")  # type: ignore[misc]
    names = {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    assert {m.name for m in stack.model.state_machines} == names  # type: ignore[union-attr]
    groups = {g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]}
    listed = {s["Name"] for g in groups for s in scheduler.list_schedules(GroupName=g)["Schedules"]}
    assert {s.name for s in stack.model.schedules} == listed  # type: ignore[union-attr]


def test_a_map_of_lambda_tasks_retries_and_catches_as_on_aws(stack: LocalStack) -> None:
    arn = _start(stack, "wf-batch", {"items": [{"id": "a"}, {"id": "b", "flaky": True}, {"id": "c", "bad": True}]})
    stack.settle()
    execution = _execution(stack, "wf-batch", arn)
    assert execution["status"] == "SUCCEEDED"
    results = execution["output"]["recorded"]["results"]
    assert results == [
        {"id": "a", "done": True, "attempts": 1},
        {"id": "b", "done": True, "attempts": 2},  # FlakyError, retried once
        {"id": "c", "done": False, "error": "ValueError"},  # caught by its errorType
    ]
    work = [i for i in stack.invocations_of("wf-work") if "wf-batch" in i.trigger]
    assert sorted((i.ok, i.error_type or "") for i in work) == [(False, "FlakyError"), (False, "ValueError"), (True, ""), (True, "")]
    assert all(i.trigger.endswith(": Work") for i in work)
    assert [i.trigger.rsplit(": ", 1)[1] for i in stack.invocations_of("wf-record")] == ["Record"]


def test_executions_of_one_definition_share_its_parse_and_keep_their_own_state(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parses: list[str] = []
    original = AmazonStateLanguageParser.parse
    monkeypatch.setattr(
        AmazonStateLanguageParser, "parse", staticmethod(lambda definition: parses.append(definition) or original(definition))
    )
    arns = {n: _start(stack, "wf-batch", {"items": [{"id": f"x{n}"}, {"id": f"y{n}", "bad": True}]}) for n in range(3)}
    stack.settle()
    for n, arn in arns.items():
        execution = _execution(stack, "wf-batch", arn)
        assert execution["status"] == "SUCCEEDED"
        assert execution["output"]["recorded"]["results"] == [
            {"id": f"x{n}", "done": True, "attempts": 1},
            {"id": f"y{n}", "done": False, "error": "ValueError"},
        ]
    assert len(parses) <= 1  # the first execution of a definition parses it (this one may already have); the others reuse it


def test_a_failing_execution_is_failed_with_the_function_error(stack: LocalStack) -> None:
    arn = _start(stack, "wf-failing", {})
    stack.settle()
    execution = _execution(stack, "wf-failing", arn)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "ValueError"
    assert json.loads(execution["cause"])["errorMessage"] == "item doomed is bad"


def test_a_task_token_parks_the_execution_until_the_callback_and_service_integrations_reach_moto(stack: LocalStack) -> None:
    arn = _start(stack, "wf-callback", {})
    stack.settle()  # returns: the execution waits for its token
    assert _execution(stack, "wf-callback", arn)["status"] == "RUNNING"
    [asked] = _records(stack, "callback")
    token = asked.split("'token': '", 1)[1].split("'", 1)[0]
    stack.clients("stepfunctions").send_task_success(taskToken=token, output=json.dumps({"answer": "yes"}))  # type: ignore[misc]
    stack.settle()
    assert _execution(stack, "wf-callback", arn)["status"] == "SUCCEEDED"
    table = stack.model.tables[0].name  # type: ignore[union-attr]
    saved = stack.clients("dynamodb").get_item(TableName=table, Key={"pk": {"S": "callback#done"}})["Item"]  # type: ignore[misc]
    assert saved["answer"] == {"S": "yes"}  # the dynamodb:putItem task wrote to the stack's moto


def test_a_short_wait_takes_real_time_when_the_clock_is_not_simulated(stack: LocalStack) -> None:
    t0 = time.monotonic()
    arn = _start(stack, "wf-short", {})
    while _execution(stack, "wf-short", arn)["status"] == "RUNNING":
        assert time.monotonic() - t0 < 20
        time.sleep(0.05)
    assert time.monotonic() - t0 >= 1.0
    assert _execution(stack, "wf-short", arn)["status"] == "SUCCEEDED"


def test_a_rule_whose_target_is_a_state_machine_starts_it_with_the_event(stack: LocalStack) -> None:
    events = stack.clients("events")  # type: ignore[misc]
    bus = stack.model.buses[0].name  # type: ignore[union-attr]
    events.put_events(Entries=[{"EventBusName": bus, "Source": "test.orders", "DetailType": "Order placed", "Detail": '{"order": 7}'}])
    events.put_events(Entries=[{"EventBusName": bus, "Source": "other", "DetailType": "Ignored", "Detail": "{}"}])
    stack.settle()
    started = [e for e in stack.executions("wf-recorder") if isinstance(e["input"], dict) and "detail-type" in e["input"]]
    assert len(started) == 1
    assert started[0]["status"] == "SUCCEEDED"
    assert (started[0]["input"]["detail-type"], started[0]["input"]["detail"]) == ("Order placed", {"order": 7})


def test_schedules_fire_on_demand_to_each_kind_of_target(stack: LocalStack) -> None:
    ping = stack.fire_schedule("wf-daily-ping")
    inbox = stack.fire_schedule("wf-to-inbox")
    morning = stack.fire_schedule("wf-tokyo-morning", at=datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    stack.settle()
    assert ping.ok and inbox.ok and morning.ok
    assert any("'kind': 'ping'" in r for r in _records(stack, "ping"))  # the function target, invoked asynchronously
    messages = stack.clients("sqs").receive_message(QueueUrl=stack.queue_url("wf-inbox"), MaxNumberOfMessages=10)["Messages"]  # type: ignore[misc]
    schedule_arn = next(s for s in stack.model.schedules if s.logical == "wf-to-inbox")  # type: ignore[union-attr]
    assert [m["Body"] for m in messages] == [f"hello arn:aws:scheduler:us-east-1:123456789012:schedule/default/{schedule_arn.name}"]
    execution = _execution(stack, "wf-recorder", morning.result)
    assert execution["input"] == {"kind": "tokyo-morning", "at": "2026-12-01T00:00:00Z"}
    assert execution["status"] == "SUCCEEDED"


def test_a_failed_start_goes_to_the_schedule_dead_letter_queue(stack: LocalStack) -> None:
    fired = stack.fire_schedule("wf-broken")
    assert not fired.ok and fired.dead_lettered and fired.attempts == 1  # a missing target is not retried
    messages = stack.clients("sqs").receive_message(  # type: ignore[misc]
        QueueUrl=stack.queue_url("wf-schedule-dlq"), MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"kind": "broken"}]
    attributes = {k: v["StringValue"] for k, v in messages[0]["MessageAttributes"].items()}
    assert attributes["TARGET_ARN"].endswith(":stateMachine:does-not-exist")
    assert attributes["ERROR_CODE"] in {"StateMachineDoesNotExist", "ResourceNotFoundException"}
    assert any("wf-broken" in e for e in stack.errors)


def test_the_command_line_lists_and_fires_the_running_stack_schedules(stack: LocalStack, state_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "LOCAL_STACK_STATE_DIR": str(state_dir)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "acme_eventsourcing.local", *args, "--program", str(WORKFLOWS)]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)

    listed = cli("schedule", "list")
    assert listed.returncode == 0, listed.stderr
    for schedule in stack.model.schedules:  # type: ignore[union-attr]
        assert schedule.name in listed.stdout and schedule.expression in listed.stdout
    before = len(_records(stack, "ping"))
    fired = cli("schedule", "fire", "wf-daily-ping")  # a Lambda target: invoked in the stack's process
    assert fired.returncode == 0, fired.stderr
    morning = cli("schedule", "fire", "wf-tokyo-morning")  # in its group, found without --group
    assert morning.returncode == 0, morning.stderr
    stack.settle()
    assert len(_records(stack, "ping")) == before + 1
    execution_arn = morning.stdout.strip().splitlines()[-1].split(" -> ")[-1]
    assert _execution(stack, "wf-recorder", execution_arn)["input"]["kind"] == "tokyo-morning"
    missing = cli("schedule", "fire", "no-such-schedule")
    assert missing.returncode == 2 and "no schedule 'no-such-schedule'" in missing.stderr


def test_a_wait_of_days_passes_when_the_clock_is_advanced(stack: LocalStack) -> None:
    start = stack.clock.now()
    until = (start + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    arn = _start(stack, "wf-sleeper", {"until": until})
    stack.settle()  # returns: the execution waits for a time still to come
    assert _execution(stack, "wf-sleeper", arn)["status"] == "RUNNING"
    stack.advance_clock(by=timedelta(days=2))
    stack.settle()
    assert _execution(stack, "wf-sleeper", arn)["status"] == "RUNNING"  # 2 of 3 days
    stack.advance_clock(by=timedelta(days=1, minutes=1))
    stack.settle()
    assert _execution(stack, "wf-sleeper", arn)["status"] == "RUNNING"  # now waiting until `until` (day 5)
    stack.advance_clock(to=datetime.fromisoformat(until.replace("Z", "+00:00")) + timedelta(seconds=1))
    stack.settle()
    execution = _execution(stack, "wf-sleeper", arn)
    assert execution["status"] == "SUCCEEDED"
    seen = datetime.fromisoformat(execution["output"]["now"])  # the function's clock seam shows the stack clock
    assert seen >= datetime.fromisoformat(until.replace("Z", "+00:00"))
    assert seen - stack.clock.now() < timedelta(minutes=1)


def test_one_advance_passes_every_wait_on_the_way_as_time_would(stack: LocalStack) -> None:
    until = (stack.clock.now() + timedelta(days=4)).astimezone(timezone(timedelta(hours=1))).replace(microsecond=0)
    arn = _start(stack, "wf-sleeper", {"until": until.isoformat()})  # a numeric offset, as Step Functions accepts
    stack.settle()
    stack.advance_clock(by=timedelta(days=6))  # the 3-day Wait ends, then the Wait until day 4, on the way
    execution = _execution(stack, "wf-sleeper", arn)
    assert execution["status"] == "SUCCEEDED"
    assert until <= datetime.fromisoformat(execution["output"]["now"]) < until + timedelta(minutes=1)


def test_advancing_the_clock_fires_the_schedules_it_passes_in_their_time_zone(stack: LocalStack) -> None:
    before = len(_records(stack, "ping"))
    start = stack.clock.now()
    fired = stack.advance_clock(by=timedelta(days=3))
    stack.settle()
    by_schedule: dict[str, list[datetime]] = {}
    for f in fired:
        by_schedule.setdefault(f.schedule.rsplit("-", 1)[0], []).append(f.scheduled_time)
        assert f.ok, f.result
    assert [f.scheduled_time for f in fired] == sorted(f.scheduled_time for f in fired)  # in time order
    assert len(by_schedule["wf-daily-ping"]) == 3  # rate(1 day) over 3 days
    mornings = by_schedule["wf-tokyo-morning"]
    assert mornings, "three days hold at least one weekday morning"
    for at in mornings:
        local = at.astimezone(ZoneInfo("Asia/Tokyo"))
        assert (local.hour, local.minute) == (9, 0) and local.weekday() < 5 and start < at <= stack.clock.now()
    assert "wf-broken" not in by_schedule and "wf-to-inbox" not in by_schedule  # at(2099-...) is not passed
    assert len(_records(stack, "ping")) == before + 3
    inputs = [e["input"] for e in stack.executions("wf-recorder") if e["input"].get("kind") == "tokyo-morning"]
    for at in mornings:
        assert {"kind": "tokyo-morning", "at": at.strftime("%Y-%m-%dT%H:%M:%SZ")} in inputs


def test_the_clock_only_moves_forward(stack: LocalStack) -> None:
    with pytest.raises(ValueError, match="only moves forward"):
        stack.advance_clock(to=datetime(2000, 1, 1, tzinfo=UTC))


def test_lambda_invoke_on_the_moto_url_runs_the_declared_function(stack: LocalStack) -> None:
    from botocore.exceptions import ClientError

    lambdas = stack.clients("lambda")  # type: ignore[misc]
    now_fn = stack.function("wf-now").decl.name
    answer = lambdas.invoke(FunctionName=now_fn, Payload=b'{"x": 1}')
    assert json.loads(answer["Payload"].read())["x"] == 1 and "FunctionError" not in answer
    failed = lambdas.invoke(FunctionName=stack.function("wf-work").decl.arn, Payload=b'{"id": "z", "bad": true}')
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "ValueError"
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        lambdas.invoke(FunctionName="no-such-function", Payload=b"{}")


# ------------------------------------------------------------------ firing, without a stack
class _Throttled:
    """Clients whose StartExecution is throttled `failures` times, then starts."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls, self.sent = failures, 0, []

    def __call__(self, service: str) -> _Throttled:
        return self

    def start_execution(self, stateMachineArn: str, input: str) -> dict:  # noqa: A002, N803 - boto3's names
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.calls <= self.failures:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "StartExecution")
        return {"executionArn": f"{stateMachineArn}:run-{self.calls}"}

    def get_queue_url(self, QueueName: str) -> dict:  # noqa: N803
        return {"QueueUrl": f"https://sqs.local/{QueueName}"}

    def send_message(self, **kwargs: object) -> dict:
        self.sent.append(kwargs)
        return {"MessageId": "m"}


_SCHEDULE = {
    "Name": "nightly",
    "Arn": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly",
    "Target": {
        "Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
        "Input": '{"attempt": "<aws.scheduler.attempt-number>"}',
        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
        "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:123456789012:dlq"},
    },
}


def test_a_throttled_start_is_retried_per_the_retry_policy() -> None:
    from acme_eventsourcing.local.schedules import fire

    clients = _Throttled(failures=2)
    fired = fire(_SCHEDULE, datetime(2026, 1, 1, tzinfo=UTC), clients)
    assert (fired.ok, fired.attempts, fired.result) == (True, 3, "arn:aws:states:us-east-1:123456789012:stateMachine:m:run-3")
    assert clients.sent == []


def test_a_start_that_keeps_failing_goes_to_the_dlq_after_the_retries() -> None:
    from acme_eventsourcing.local.schedules import fire

    clients = _Throttled(failures=10)
    fired = fire(_SCHEDULE, datetime(2026, 1, 1, tzinfo=UTC), clients)
    assert (fired.ok, fired.attempts, fired.dead_lettered) == (False, 3, True)  # the first attempt and 2 retries
    [message] = clients.sent
    assert message["QueueUrl"] == "https://sqs.local/dlq" and json.loads(message["MessageBody"]) == {"attempt": "3"}
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "ThrottlingException"  # type: ignore[index]
    assert message["MessageAttributes"]["SCHEDULED_TIME"]["StringValue"] == "2026-01-01T00:00:00Z"  # type: ignore[index]


# ------------------------------------------------------------------ schedule expressions, without a stack
def _all(expression: str, tz: str, after: datetime, until: datetime) -> list[datetime]:
    return list(occurrences(expression, tz, after=after, until=until, anchor=after))


def test_cron_occurrences_follow_the_time_zone_and_its_daylight_saving() -> None:
    # 02:30 every day in New York: 07:30 UTC in winter, 06:30 UTC in summer (DST began 2026-03-08)
    found = _all("cron(30 2 * * ? *)", "America/New_York", datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))
    assert [a.strftime("%d %H:%M") for a in found] == ["06 07:30", "07 07:30", "09 06:30"]  # 02:30 on the 8th does not exist
    lisbon = _all("cron(0 2 1 1 ? *)", "Europe/Lisbon", datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 2, tzinfo=UTC))
    assert [a.isoformat() for a in lisbon] == ["2026-01-01T02:00:00+00:00", "2027-01-01T02:00:00+00:00", "2028-01-01T02:00:00+00:00"]


def test_cron_special_characters() -> None:
    jan = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    assert [a.day for a in _all("cron(0 12 L * ? *)", "UTC", *jan)] == [31]
    assert [a.day for a in _all("cron(0 12 ? * 2#1 *)", "UTC", *jan)] == [5]  # first Monday of January 2026
    assert [a.day for a in _all("cron(0 12 ? * 6L *)", "UTC", *jan)] == [30]  # last Friday
    assert [a.day for a in _all("cron(0 12 3W * ? *)", "UTC", *jan)] == [2]  # the 3rd is a Saturday: Friday the 2nd
    assert [a.day for a in _all("cron(0 12 ? * MON-FRI *)", "UTC", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC))] == [
        1, 2, 5, 6, 7,
    ]  # fmt: skip
    assert len(_all("cron(0/15 * * * ? *)", "UTC", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, tzinfo=UTC))) == 4
    assert _all("cron(0 0 1 JAN ? 2027)", "UTC", datetime(2026, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)) == [
        datetime(2027, 1, 1, tzinfo=UTC)
    ]


def test_rate_and_at_occurrences() -> None:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    rate = list(occurrences("rate(6 hours)", "UTC", after=anchor + timedelta(hours=7), until=anchor + timedelta(days=1), anchor=anchor))
    assert [a.hour for a in rate] == [12, 18, 0]
    at = _all("at(2026-06-01T09:00:00)", "Europe/Lisbon", anchor, datetime(2027, 1, 1, tzinfo=UTC))
    assert at == [datetime(2026, 6, 1, 8, 0, tzinfo=UTC)]  # Lisbon is UTC+1 in June


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("cron(0 9 * * *)", "has 5 fields"),
        ("cron(0 9 * * MON *)", "exactly one of day-of-month and day-of-week"),
        ("cron(61 9 * * ? *)", "61 is outside 0-59"),
        ("rate(5 weeks)", "a rate is rate"),
        ("every day", "is not cron"),
    ],
)
def test_bad_expressions_are_named(expression: str, problem: str) -> None:
    with pytest.raises(ScheduleError, match=problem):
        _all(expression, "UTC", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


def test_an_unknown_time_zone_is_named() -> None:
    with pytest.raises(ScheduleError, match="unknown ScheduleExpressionTimezone 'Mars/Olympus'"):
        _all("rate(1 day)", "Mars/Olympus", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


def test_the_moto_internals_the_step_functions_patches_replace_are_the_expected_ones(stack: LocalStack) -> None:
    import inspect

    from acme_eventsourcing.local import moto_patches

    sources = {name: inspect.getsource(original) for name, original in moto_patches.MOTO_SFN.items()}
    assert "_invoke_lambda_function(" in sources["execute_lambda_function_integration"]
    assert "env.program_state_event.wait(wait_seconds)" in sources["wait_interval"]
    assert "datetime.datetime.now()" in sources["timestamp_wait_seconds"]  # moto's naive local time; ours is the stack clock
    assert "callback_endpoint" in sources["eval_wait_for_task_token"]
    assert "execution_arn.format(" in sources["start_execution"] and "name,\n" in sources["start_execution"]
    assert "self._reflect_execution_status()" in sources["terminated"]
    # parsed once per definition: moto's parses the definition per execution, and nothing else
    assert "AmazonStateLanguageParser.parse(" in sources["evaluation_entrypoint"]
    assert "self._evaluation_details.state_machine_details.definition" in sources["evaluation_entrypoint"]


def test_the_stack_clock_keeps_a_given_day_and_only_moves_forward() -> None:
    from datetime import date

    from acme_eventsourcing.local.clocks import LocalClock

    real = LocalClock()
    assert not real.simulated and abs(real.now() - datetime.now(UTC)) < timedelta(seconds=1)
    pinned = LocalClock(date(2030, 2, 3))
    assert pinned.simulated and pinned.today() == date(2030, 2, 3)
    assert abs(pinned.now().timetz().replace(tzinfo=None).hour - datetime.now(UTC).hour) in {0, 23}  # the real time of day
    heard: list[tuple[datetime, datetime]] = []
    pinned.listen(lambda before, after: heard.append((before, after)))
    before, after = pinned.advance(by=timedelta(days=2, hours=1))
    assert after - before >= timedelta(days=2, hours=1) and pinned.today() >= date(2030, 2, 5) and heard == [(before, after)]
    with pytest.raises(ValueError, match="only moves forward"):
        pinned.advance(to=datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="either to= a datetime or by= a timedelta"):
        pinned.advance()
