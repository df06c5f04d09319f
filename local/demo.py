"""`local demo`: start the local stack, play the leave story over HTTP, print a report.

The story is played on the real date (UTC) or, in the first days of January when it does
not fit (it needs a full past week in the year), on the year's earliest day it fits; the
local stack's functions see that date (`LocalStack(today=...)`) and the report says so.

Exit status 0 only if every step behaved as the story says, every Slack message was sent
(choreography through the bus: the notifications context's API destination, no Lambda; the
local stack's receiver stands in for slack.com and shows what Slack would have received), no
dead-letter queue holds anything and no invocation failed unexpectedly.
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from acme_eventsourcing.local.api_destinations import describe_request
from acme_eventsourcing.local.client import ApiClient, wait_for

from . import slack_step
from .project import LocalStack
from .story import PTO, Story, StoryFailedError, plan_weeks, story_day

NOTIFIED = {"LeaveRequested": 3, "LeaveApproved": 1, "LeaveDenied": 1, "ApprovalReminderSent": 1}
ROLLOVER_SCHEDULE = "leave-rollover-schedule-yearly"
ROLLOVER_WORKFLOW = "leave-rollover"
#: How long the demo waits for a live update before calling it missing (the target is under a second).
LIVE_TIMEOUT_S = 10.0


#: Slack is on for the demo with a stand-in bot token (the local stack has no internet: its
#: receiver takes the chat.postMessage calls); the channel is the dev stack file's.
SLACK_CONFIG = {"leave:slack_bot_token": "xoxb-local-demo"}


def slack_messages(local: LocalStack) -> dict[str, dict[str, Any]]:
    """The chat.postMessage calls Slack would have received, once per event (EventBridge
    delivers at least once: the Idempotency-Key header is the event id)."""
    return {r["headers"].get("Idempotency-Key") or r["at"]: r for r in local.received("slack-destination")}


def message_type(request: dict[str, Any]) -> str:
    return str(((request.get("json") or {}).get("metadata") or {}).get("event_type"))


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def describe_day(day: date, real: date, *, forced: bool) -> str:
    """The story's day for the report's header: whether it is simulated, and why."""
    if day == real:
        return f"{day}"
    why = "chosen with --today" if forced else "the story needs a past week in this year"
    return f"{day} (simulated: {why}; real date {real})"


def run(
    stack: str = "dev",
    log_path: Path | None = None,
    out: TextIO | None = None,
    *,
    today: date | None = None,
    real_today: date | None = None,
) -> int:
    """Play the story on a fresh local stack; print the report to `out`; 0 if all went well.

    `today` forces the story's day (`--today`); by default it is `story_day` of the real
    date (UTC), which `real_today` stands in for."""
    out = out or sys.stdout
    real = real_today or datetime.now(UTC).date()
    day = today or story_day(real)
    try:
        plan_weeks(day)
    except StoryFailedError as exc:
        print(f"cannot play the story on {day}: {exc}", file=out)
        return 1
    shown = describe_day(day, real, forced=today is not None)
    started = time.perf_counter()
    log_path = log_path or Path(".local-stack/demo.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log_file:
        lock = threading.Lock()

        def log(line: str) -> None:
            with lock:
                log_file.write(line + "\n")

        slack_secret = slack_step.signing_secret()  # the stack's Slack signing secret for this run
        overrides = {**SLACK_CONFIG, **slack_step.config_overrides(slack_secret)}
        local = LocalStack(stack, port=0, log=log, config_overrides=overrides, today=day)
        local.start()
        try:
            boot = time.perf_counter() - started
            programs = ", then ".join(p.recorded.project for p in local.evaluated)
            print(f"Local stack {stack!r} ({programs}) up in {boot:.1f} s: API {local.api_url} (invocation log: {log_path})", file=out)
            story = Story(
                ApiClient(local.api_url, lambda sub, groups: local.token(sub, groups)),
                today=day,
                year_end=lambda year: _year_end(local, year),
                let_time_pass=lambda delta: local.advance_clock(by=delta),
            )
            print(f"Playing the leave story (DESIGN.md section 3); today is {shown}\n", file=out)
            failure = None
            try:
                story.play()
            except StoryFailedError as exc:
                failure = str(exc)
            checks = _after_story(local, story) if failure is None else {}
            final = story.final_state()
            ok = failure is None and all(checks.values())
            _report(out, story, final, checks, local, failure)
            if failure is None:
                ok = _live_updates(out, local, story) and ok
                ok = _backup(out, local) and ok
                ok = _operations(out, local, story) and ok
                ok = _calendar_feed(out, local, story) and ok
                ok = slack_step.run(out, local, slack_secret, day) and ok
        finally:
            local.stop()
    total = time.perf_counter() - started
    print(f"\nResult: {'PASS' if ok else 'FAIL'} - {len(story.steps)} steps in {total:.1f} s (start-up {boot:.1f} s)", file=out)
    return 0 if ok else 1


def _year_end(local: LocalStack, year: int) -> dict[str, Any]:
    """Fire the yearly rollover schedule as Scheduler would at 01:00 on 1 January after `year`
    (London time, the stack's `rollover_timezone`), wait for its workflow; the summary."""
    at = datetime(year + 1, 1, 1, 1, 0, tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)
    fired = local.fire_schedule(ROLLOVER_SCHEDULE, at=at)
    local.settle(timeout=60)
    execution = local.executions(ROLLOVER_WORKFLOW)[-1]
    if not fired.ok or execution["status"] != "SUCCEEDED":
        raise StoryFailedError(f"the rollover workflow did not succeed: {fired.result}; {execution['status']} {execution.get('cause')}")
    return execution["output"]


def _after_story(local: LocalStack, story: Story) -> dict[str, bool]:
    """Checks beyond the read models: Slack messages, dead-letter queues, failures."""
    with contextlib.suppress(TimeoutError):  # counted below either way (Slack takes 1 message per second)
        wait_for(lambda: len(slack_messages(local)) >= sum(NOTIFIED.values()), timeout=30, what="Slack messages")
    local.settle(timeout=30)
    kinds: dict[str, int] = {}
    for message in slack_messages(local).values():
        kinds[message_type(message)] = kinds.get(message_type(message), 0) + 1
    sqs = local.clients("sqs")  # type: ignore[misc]
    depths = {
        q.logical: int(
            sqs.get_queue_attributes(QueueUrl=local.queue_url(q.name), AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
        )
        for q in local.model.queues  # type: ignore[union-attr]
    }
    story.state["dlq_depths"] = depths
    story.state["failed_invocations"] = [i for i in local.invocations if not i.ok]
    return {
        "every Slack message was sent once per event (requests with Approve/Deny buttons)": kinds == NOTIFIED
        and all(_buttons(m) for m in slack_messages(local).values() if message_type(m) == "LeaveRequested"),
        "every dead-letter queue is empty": not any(depths.values()),
        "no invocation failed": not story.state["failed_invocations"],
        "no errors reported by the local stack": not local.errors,
    }


def _changed(topic: str, event_type: str) -> Any:
    """A matcher of the `changed` live message for `topic` caused by an `event_type` event."""
    return lambda m: isinstance(m, dict) and m.get("type") == "changed" and m.get("topic") == topic and m["event"]["type"] == event_type


def _stored(message: dict[str, Any]) -> float:
    """When the read model was stored (`stored_at`), as a `time.time()`."""
    return datetime.fromisoformat(message["stored_at"].replace("Z", "+00:00")).timestamp()


def _live_updates(out: TextIO, local: LocalStack, story: Story) -> bool:
    """Live updates (issue 11, item 1), on the stack the story left: Alex (approver of Novi
    Sad), John (a member of it) and Mike (approver of Belgrade only) each connect a standard
    WebSocket client to the local WebSocket API with their own token. John requests a leave:
    Alex's client hears that Novi Sad's pending list changed; Alex approves it: John's client
    hears of the decision. Mike, who may read nothing of Novi Sad, hears none of it."""
    p = lambda line="": print(line, file=out)  # noqa: E731
    novi_sad = story.state["novi_sad"]
    p(f"\nLive updates (WebSocket API {local.websocket_url}; each client connects with ?token=<its JWT>)")
    checks: dict[str, bool] = {}
    try:
        with local.websocket("alex", "admin") as alex, local.websocket("john") as john, local.websocket("mike") as mike:
            p("  connected: Alex (approver of Novi Sad), John (member of Novi Sad), Mike (approver of Belgrade)")
            start = story.next_year_week + timedelta(days=14)  # a Monday; Tuesday is one of John's working days too
            body = {"leave_type": PTO, "start": str(start), "end": str(start + timedelta(days=1)), "note": "live updates"}
            requested = story.john.post("/employees/john/leave-requests", body)
            accepted = time.perf_counter()
            p(f"  John requests {start} .. +1 -> {requested.status} {requested.text[:80]}")
            heard = alex.wait(_changed(f"approvers#{novi_sad}", "LeaveRequested"), timeout=LIVE_TIMEOUT_S)
            p(
                f"  Alex's client <- {json.dumps(heard.data)}\n"
                f"       {(heard.at - accepted) * 1000:.0f} ms after the command was accepted, "
                f"{(heard.wall - _stored(heard.data)) * 1000:.0f} ms after the read model was stored"
            )
            request_id = requested.json["request_id"]
            decided = story.alex.post(f"/leave-requests/{request_id}/approve", {})
            accepted = time.perf_counter()
            p(f"  Alex approves {request_id} -> {decided.status}")
            told = john.wait(_changed("employee#john", "LeaveApproved"), timeout=LIVE_TIMEOUT_S)
            p(
                f"  John's client <- {json.dumps(told.data)}\n"
                f"       {(told.at - accepted) * 1000:.0f} ms after the command was accepted, "
                f"{(told.wall - _stored(told.data)) * 1000:.0f} ms after the read model was stored"
            )
            local.settle(timeout=30)
            topics = sorted({m["topic"] for m in mike.messages if isinstance(m, dict)})
            p(f"  Mike's client heard {len(mike.messages)} message(s) meanwhile" + (f": topics {', '.join(topics)}" if topics else ""))
            checks = {
                "live: Alex's client received John's new request (Novi Sad's pending list)": requested.status == 201,
                "live: John's client received Alex's decision": decided.status == 200,
                "live: Mike's client received nothing of Novi Sad": not any(novi_sad in t for t in topics),
            }
    except (TimeoutError, OSError, KeyError) as exc:
        checks["live: every client received its change"] = False
        p(f"  {type(exc).__name__}: {exc}")
    for name, passed in checks.items():
        p(f"[{'ok' if passed else 'FAILED'}] {name}")
    return all(checks.values())


def _calendar_feed(out: TextIO, local: LocalStack, story: Story) -> bool:
    """A calendar subscription (`POST /calendar-feeds`): John subscribes to his location's
    calendar; its secret URL is fetched as a calendar application would (no token, no
    header), parsed with `icalendar` and its events printed; revoked, it answers 404."""
    import urllib.error
    import urllib.request

    import icalendar

    def fetch(url: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(urllib.request.Request(url), timeout=30) as r:
                return r.status, r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, ""

    p = lambda line="": print(line, file=out)  # noqa: E731
    created = story.john.post("/calendar-feeds", {"scope": "location", "subject_id": story.state["novi_sad"]})
    if created.status != 201:
        p(f"\nCalendar feed: POST /calendar-feeds answered {created.status}: {created.text}")
        return False
    url = created.json["url"]
    local.settle()
    status, body = fetch(url)
    p(f"\nCalendar feed (POST /calendar-feeds by john; GET {url[:-40]}... with no token: {status})")
    events = icalendar.Calendar.from_ical(body).walk("VEVENT") if status == 200 else []
    for event in events:
        last = event.decoded("DTEND") - timedelta(days=1)
        shown = f"{event['STATUS']}, SEQUENCE {event['SEQUENCE']}, UID {event['UID']}"
        p(f"  {event.decoded('DTSTART')}..{last}  {event['SUMMARY']}  [{shown}]")
    story.john.post(f"/calendar-feeds/{created.json['feed_id']}/revoke")
    local.settle()
    revoked, _ = fetch(url)
    p(f"  revoked: the same URL answers {revoked}")
    return status == 200 and bool(events) and revoked == 404


def _buttons(request: dict[str, Any]) -> list[tuple[str, str]]:
    """The (action_id, value) of a Slack message's buttons."""
    blocks = (request.get("json") or {}).get("blocks") or []
    return [(e["action_id"], e["value"]) for b in blocks if b.get("type") == "actions" for e in b["elements"]]


def _backup(out: TextIO, local: LocalStack) -> bool:
    """The platform's event backup (`EventBackup`): every event on the bus also went, through
    a rule and Firehose, to the S3 bucket the platform stack owns, partitioned by source and
    day. The check: every event in leave's Events table is in the backup, at its stream and
    version (`S3BackupReader`, the reader a rebuild from the backup uses)."""
    from acme_eventsourcing.runtime.backup import S3BackupReader
    from acme_eventsourcing.runtime.projections import EventsTableReader

    p = lambda line="": print(line, file=out)  # noqa: E731
    platform = next(e.recorded for e in local.evaluated if "backup_bucket_name" in e.recorded.outputs)
    bucket = str(platform.outputs["backup_bucket_name"])
    s3, ddb = local.clients("s3"), local.clients("dynamodb")
    source = str(local.recorded.outputs["operations"]["leave"]["source"]) if local.recorded else "acme.leave"
    reader = S3BackupReader(s3, bucket, sources=[source])
    keys = reader.object_keys()
    p(f"\nEvent backup (platform stack): s3://{bucket}, {len(keys)} objects of {source}")
    for key in keys[:3]:
        p(f"  {key}")
    if len(keys) > 3:
        p(f"  ... and {len(keys) - 3} more")
    backed_up = {(sid, e.version) for sid in reader.stream_ids() for e in reader.load(sid)}
    events_table = str(local.recorded.outputs["events_table_name"]) if local.recorded else ""
    table = EventsTableReader(ddb, events_table)
    stored = {(sid, e.version) for sid in table.stream_ids() for e in table.load(sid)}
    missing = stored - backed_up
    p(f"  {len(backed_up)} events in the backup; the Events table holds {len(stored)}; missing from the backup: {len(missing)}")
    passed = bool(stored) and not missing
    p(f"[{'ok' if passed else 'FAILED'}] backup: every event of the Events table is in S3 at its stream and version")
    return passed


def _operations(out: TextIO, local: LocalStack, story: Story) -> bool:
    """The operations commands at work on the stack the story left (`python -m local ops ...`):
    `lag`; `redrive` of a stale message (an event the read model already has, as a failed
    delivery leaves it in the DLQ): read from the Events table, found applied, deleted;
    `rebuild balance` blue/green, after which the balances answer the same."""
    from acme_eventsourcing.ops import Deployment, lag, rebuild_blue_green, redrive
    from acme_eventsourcing.ops.lag import render
    from acme_eventsourcing.ops.redrive import bus_event
    from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore
    from leave_projections.balance import BalanceProjection

    p = lambda line="": print(line, file=out)  # noqa: E731
    deployment = Deployment.from_outputs(local.local_outputs(), endpoint_url=local.moto_url, region="us-east-1")
    p("\nOperations (python -m local ops lag | redrive balance | rebuild balance)")
    report = lag(deployment)
    p("\n".join(f"  {line}" for line in render(report).splitlines()))
    balance = deployment.projection("balance")
    ddb, sqs = deployment.client("dynamodb"), deployment.client("sqs")
    first = DynamoDBEventStore(ddb, balance.events_table).load("employee#john")[0]
    sqs.send_message(QueueUrl=balance.dlq_url, MessageBody=json.dumps(bus_event(first, balance.source)))
    p("  a stale copy of employee#john v1 put in the balance DLQ; redrive:")
    drained = redrive(deployment, balance, log=lambda line: p(f"  {line}"))
    p(f"  {drained.summary()}")

    def balances() -> dict[str, Any]:  # the figures, not how current (a rebuild's checkpoints may be further on)
        shown = story.final_state()["balances"]
        return {k: {f: v for f, v in b.items() if not f.startswith("as_of")} if isinstance(b, dict) else b for k, b in shown.items()}

    before = balances()
    result = rebuild_blue_green(
        ddb,
        BalanceProjection(),
        home=balance.table,
        standby=balance.standby_table or "",
        events_table=balance.events_table,
        grace_s=6,  # the functions' pointer cache (5 s) and their run time here
        name=balance.qualified,
        log=lambda line: p(f"  {line}"),
    )
    same = balances() == before
    checks = {
        "lag: every projection up to date, nothing stuck": all(not x.streams_behind and not x.stuck for x in report.projections),
        "redrive: the stale message was found applied and deleted": (drained.already, drained.deleted) == (1, 1),
        f"rebuild: balance switched to {result.to_table}, the balances answer the same": same,
    }
    for name, passed in checks.items():
        p(f"[{'ok' if passed else 'FAILED'}] {name}")
    return all(checks.values())


def _report(out: TextIO, story: Story, final: dict[str, Any], checks: dict[str, bool], local: LocalStack, failure: str | None) -> None:
    p = lambda line="": print(line, file=out)  # noqa: E731
    for step in story.steps:
        latency = f"  [{', '.join(f'{ms:.0f}' for ms in step.latency_ms)} ms]" if step.latency_ms else ""
        p(f"[{'ok' if step.ok else 'FAILED'}] {step.title}{latency}")
        for note in step.notes:
            p(f"       {note}")
    if failure:
        p(f"\nThe story stopped: {failure}")
    p("\nBalances (PTO)")
    p(f"  {'employee':<9}{'year':>5}{'allowance':>11}{'rolled over':>13}{'used':>6}{'pending':>9}{'remaining':>11}")
    for key, b in final["balances"].items():
        if isinstance(b, dict):
            p(
                f"  {b['employee_id']:<9}{b['year']:>5}{b['allowance']:>11}{b['rolled_over']:>13}"
                f"{b['used']:>6}{b['pending']:>9}{b['remaining']:>11}"
            )
        else:
            p(f"  {key:<14} HTTP {b}")
    p("\nPending approvals")
    for who, body in final["pending"].items():
        items = (body or {}).get("items") or []
        p(
            f"  {who}: "
            + (
                "; ".join(f"{i['request_id']} {i['employee_id']} {i['start']}..{i['end']} ({i['working_days']} days)" for i in items)
                or "(none)"
            )
        )
    p("\nTeam calendars")
    for name, body in final["calendars"].items():
        items = body.get("items", []) if isinstance(body, dict) else []
        p(f"  {name}:")
        for i in items:
            p(
                f"    {i['start']}..{i['end']}  {i['name']:<6} {i['leave_type']} {i['status']:<9} "
                f"{i['working_days']} days  ({i['request_id']})"
            )
        if not items:
            p("    (no leaves)")
    messages = list(slack_messages(local).values())
    p("\nSlack (notifications context: rules on the bus -> API destination -> chat.postMessage, no Lambda)")
    first = next((m for m in messages if message_type(m) == "LeaveRequested"), None)
    if first is not None:
        p("  the first request, as Slack would have received it (`python -m local received` lists them all):")
        p("\n".join(f"    {line}" for line in describe_request(first).splitlines()))
    for m in messages:
        body = m.get("json") or {}
        extra = "; ".join(f"{a.get('title')}: {a['text']}" for a in body.get("attachments") or () if a.get("text"))
        p(f"  {message_type(m):<20} {body.get('text')}" + (f" ({extra})" if extra else ""))
    latencies = story.latencies()
    if latencies:
        p(
            f"\nEnd-to-end latency, command accepted -> read model updated ({len(latencies)} commands): "
            f"p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 95):.0f} ms, max {max(latencies):.0f} ms"
        )
    invocations = local.invocations
    per_function: dict[str, int] = {}
    for i in invocations:
        per_function[i.function] = per_function.get(i.function, 0) + 1
    p(f"Invocations: {len(invocations)} (" + ", ".join(f"{k} {v}" for k, v in sorted(per_function.items())) + ")")
    for name, ok in checks.items():
        p(f"[{'ok' if ok else 'FAILED'}] {name}")
    if story.state.get("dlq_depths") and any(story.state["dlq_depths"].values()):
        p(f"       DLQ depths: {story.state['dlq_depths']}")
    for inv in story.state.get("failed_invocations", []):
        p(f"       failed: {inv.line()}")
    for error in local.errors:
        p(f"       local stack: {error}")
