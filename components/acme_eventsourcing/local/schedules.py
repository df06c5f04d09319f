"""EventBridge Scheduler, locally: when a schedule's occurrences fall, and firing one.

moto stores the schedules (`CreateSchedule`, `GetSchedule`, `ListSchedules`) but never runs
them. Here:
- `occurrences(expression, timezone, after, until, anchor)`: the times a `cron(...)`,
  `rate(...)` or `at(...)` expression falls in (after, until], evaluated in the schedule's
  `ScheduleExpressionTimezone` (so `cron(0 2 1 1 ? *)` in Europe/Lisbon is 02:00 Lisbon
  time; an occurrence the spring-forward change skips is skipped, a repeated hour runs
  once, as Scheduler does). Cron is Scheduler's six fields (minutes hours day-of-month month
  day-of-week year) with `* , - /`, `?`, `L` (last day of the month; `5L` last Thursday),
  `W` (nearest weekday), `#` (`2#1`: first Monday) and names (JAN, MON). A `rate(...)`
  counts from `anchor` (the schedule's StartDate, else when the stack started).
- `fire(schedule, scheduled_time, clients, ...)`: what Scheduler does at an occurrence, for
  the templated targets the local stack can reach: a state machine gets StartExecution, a
  Lambda function an asynchronous Invoke, an SQS queue SendMessage, an event bus PutEvents,
  with the target's `Input` after substituting the context attributes
  (`<aws.scheduler.scheduled-time>`, `<aws.scheduler.schedule-arn>`,
  `<aws.scheduler.execution-id>`, `<aws.scheduler.attempt-number>`). A failed start is
  retried per the target's RetryPolicy (not for errors Scheduler does not retry: a missing
  target, a validation or permission error), then the input goes to the target's
  DeadLetterConfig queue with the attributes Scheduler sets (ERROR_CODE, ERROR_MESSAGE,
  EXECUTION_ID, SCHEDULE_ARN, SCHEDULED_TIME, TARGET_ARN).

The same code fires for `LocalStack.fire_schedule` / `advance_clock` in the stack's process
and for `python -m acme_eventsourcing.local schedule fire NAME` from another process (its
boto3 clients talk to the stack's moto server).
"""

from __future__ import annotations

import calendar
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError

_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d: i + 1 for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}  # Scheduler: 1 = Sunday
#: Errors Scheduler does not retry: the input goes to the DLQ at once.
NOT_RETRIED = frozenset(
    {
        "ResourceNotFoundException",
        "ValidationException",
        "AccessDeniedException",
        "StateMachineDoesNotExist",
        "InvalidArn",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    }
)


class ScheduleError(ValueError):
    """A schedule expression the local stack cannot read (the message says what)."""


# ---------------------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class _Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int] | None  # None: any year
    dom: str  # the raw day-of-month field
    dow: str  # the raw day-of-week field

    def days(self, year: int, month: int) -> list[int]:
        """The days of `month` this cron runs on."""
        last = calendar.monthrange(year, month)[1]
        if self.dom != "?":
            return sorted(_dom_days(self.dom, year, month, last))
        return sorted(_dow_days(self.dow, year, month, last))


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None, what: str = "field") -> frozenset[int]:
    def number(text: str) -> int:
        key = text.upper()
        if names and key in names:
            return names[key]
        if not text.isdigit():
            raise ScheduleError(f"{what}: {text!r} is not a number" + (f" or one of {', '.join(names)}" if names else ""))
        value = int(text)
        if not low <= value <= high:
            raise ScheduleError(f"{what}: {value} is outside {low}-{high}")
        return value

    out: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ScheduleError(f"{what}: step {step_text!r} must be at least 1")
        if base in {"*", "?"}:
            start, end = low, high
        elif "-" in base:
            start, end = (number(x) for x in base.split("-", 1))
        else:
            start = number(base)
            end = high if step_text else start
        out.update(range(start, end + 1, step) if start <= end else [*range(start, high + 1, step), *range(low, end + 1, step)])
    return frozenset(out)


def _dom_days(field: str, year: int, month: int, last: int) -> set[int]:
    days: set[int] = set()
    for part in field.split(","):
        if part == "L":
            days.add(last)
        elif part == "LW":
            days.add(_nearest_weekday(year, month, last, last))
        elif part.endswith("W"):
            days.add(_nearest_weekday(year, month, min(int(part[:-1]), last), last))
        else:
            days.update(d for d in _values(part, 1, 31, what="day-of-month") if d <= last)
    return days


def _nearest_weekday(year: int, month: int, day: int, last: int) -> int:
    weekday = date(year, month, day).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return day + 1 if day < last else day - 2
    return day


def _dow_days(field: str, year: int, month: int, last: int) -> set[int]:
    def scheduler_dow(d: int) -> int:  # Scheduler's 1 = Sunday .. 7 = Saturday
        return (date(year, month, d).weekday() + 1) % 7 + 1

    days: set[int] = set()
    for part in field.split(","):
        if "#" in part:
            weekday_text, _, nth = part.partition("#")
            weekday = next(iter(_values(weekday_text, 1, 7, _DAYS, "day-of-week")))
            matching = [d for d in range(1, last + 1) if scheduler_dow(d) == weekday]
            if int(nth) <= len(matching):
                days.add(matching[int(nth) - 1])
        elif part.endswith("L") and part != "L":
            weekday = next(iter(_values(part[:-1], 1, 7, _DAYS, "day-of-week")))
            days.add(max(d for d in range(1, last + 1) if scheduler_dow(d) == weekday))
        else:
            wanted = _values("7" if part == "L" else part, 1, 7, _DAYS, "day-of-week")
            days.update(d for d in range(1, last + 1) if scheduler_dow(d) in wanted)
    return days


def parse_cron(body: str) -> _Cron:
    """The six fields of `cron(...)` (without the `cron(` and `)`)."""
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleError(
            f"cron({body}) has {len(fields)} fields; Scheduler's cron has 6: minutes hours day-of-month month day-of-week year"
        )
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(f"cron({body}): exactly one of day-of-month and day-of-week must be '?'")
    cron = _Cron(
        minutes=_values(minutes, 0, 59, what="minutes"),
        hours=_values(hours, 0, 23, what="hours"),
        months=_values(month, 1, 12, _MONTHS, "month"),
        years=None if year == "*" else _values(year, 1970, 2199, what="year"),
        dom=dom,
        dow=dow,
    )
    cron.days(2026, 1)  # fail now, not at the first occurrence, on a bad day field
    return cron


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def validate(expression: str, timezone: str = "UTC") -> None:
    """Raise `ScheduleError` naming what is wrong with `expression` (or its time zone)."""
    now = datetime.now(UTC)
    list(occurrences(expression, timezone, after=now, until=now, anchor=now))


def within(at: datetime, start_date: Any, end_date: Any) -> bool:
    """Whether an occurrence falls between a schedule's StartDate and EndDate (ISO strings,
    datetimes or None)."""

    def instant(value: Any) -> datetime | None:
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    start, end = instant(start_date), instant(end_date)
    return (start is None or at >= start) and (end is None or at <= end)


def occurrences(expression: str, timezone: str, *, after: datetime, until: datetime, anchor: datetime) -> Iterator[datetime]:
    """The occurrences (aware UTC, ascending) of a Scheduler expression in (after, until]."""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (KeyError, ValueError):
        raise ScheduleError(f"unknown ScheduleExpressionTimezone {timezone!r}") from None
    expression = expression.strip()
    if expression.startswith("cron(") and expression.endswith(")"):
        yield from _cron_occurrences(parse_cron(expression[5:-1]), zone, after, until)
    elif expression.startswith("rate("):
        found = _RATE.match(expression)
        if found is None:
            raise ScheduleError(f"{expression!r}: a rate is rate(N minute[s]|hour[s]|day[s])")
        period = timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2).rstrip("s")])
        if period <= timedelta(0):
            raise ScheduleError(f"{expression!r}: the rate must be positive")
        n = max(1, int((after - anchor) / period) + 1) if after > anchor else 1
        while (at := anchor + n * period) <= until:
            if at > after:
                yield at
            n += 1
    elif expression.startswith("at(") and expression.endswith(")"):
        try:
            local = datetime.fromisoformat(expression[3:-1])
        except ValueError:
            raise ScheduleError(f"{expression!r}: at() takes yyyy-mm-ddThh:mm:ss") from None
        at = local.replace(tzinfo=zone).astimezone(UTC)
        if after < at <= until:
            yield at
    else:
        raise ScheduleError(f"{expression!r} is not cron(...), rate(...) or at(...)")


def _cron_occurrences(cron: _Cron, zone: ZoneInfo, after: datetime, until: datetime) -> Iterator[datetime]:
    day = after.astimezone(zone).date() - timedelta(days=1)  # a day early: offsets across midnight
    last_day = until.astimezone(zone).date() + timedelta(days=1)
    while day <= last_day:
        if (cron.years is None or day.year in cron.years) and day.month in cron.months:
            days = cron.days(day.year, day.month)
            if day.day in days:
                for hour in sorted(cron.hours):
                    for minute in sorted(cron.minutes):
                        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                        at = local.astimezone(UTC)
                        if at.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
                            continue  # skipped by the spring-forward change: Scheduler skips it too
                        if after < at <= until:  # the fall-back repeat runs once (fold 0)
                            yield at
        elif cron.years is not None and day.year > max(cron.years):
            return
        day += timedelta(days=1)


# ---------------------------------------------------------------------------------- firing
@dataclass(frozen=True)
class Fired:
    """What firing a schedule once did."""

    schedule: str
    scheduled_time: datetime
    target_arn: str
    ok: bool
    attempts: int
    result: str  # the execution ARN, message id, ... or the error
    dead_lettered: bool = False


def substitute(text: str, *, schedule_arn: str, scheduled_time: datetime, execution_id: str, attempt: int) -> str:
    """The target input with Scheduler's context attributes filled in."""
    values = {
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.scheduled-time>": scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": execution_id,
        "<aws.scheduler.attempt-number>": str(attempt),
    }
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def fire(
    schedule: dict[str, Any],
    scheduled_time: datetime,
    clients: Callable[[str], Any],
    *,
    retry_delay: Callable[[int], float] = lambda attempt: 0.0,
    log: Callable[[str], None] = lambda line: None,
) -> Fired:
    """Start `schedule`'s target (a `GetSchedule` answer) as Scheduler would at `scheduled_time`."""
    target = schedule["Target"]
    arn = target["Arn"]
    retry = target.get("RetryPolicy") or {}
    retries = int(retry.get("MaximumRetryAttempts", 185))
    max_age = float(retry.get("MaximumEventAgeInSeconds", 86400))
    execution_id = str(uuid.uuid4())
    started = time.monotonic()
    attempt, error_code, error_message = 0, "", ""
    while True:
        attempt += 1
        payload = substitute(
            target.get("Input") or "{}",
            schedule_arn=schedule["Arn"],
            scheduled_time=scheduled_time,
            execution_id=execution_id,
            attempt=attempt,
        )
        try:
            result = _start(arn, target, payload, clients)
            log(f"schedule {schedule['Name']}: {scheduled_time.isoformat()} -> {result}")
            return Fired(schedule["Name"], scheduled_time, arn, True, attempt, result)
        except ClientError as exc:
            error_code, error_message = exc.response["Error"].get("Code", "Error"), exc.response["Error"].get("Message", "")
        except _Unsupported as exc:
            error_code, error_message = "ValidationException", str(exc)
        if error_code in NOT_RETRIED or attempt > retries or time.monotonic() - started > max_age:
            break
        time.sleep(retry_delay(attempt))
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    log(f"!! schedule {schedule['Name']}: {arn} failed after {attempt} attempt(s): {error_code}: {error_message}")
    if dlq:
        sqs = clients("sqs")
        url = sqs.get_queue_url(QueueName=dlq.rsplit(":", 1)[-1])["QueueUrl"]
        attributes = {
            "ERROR_CODE": error_code,
            "ERROR_MESSAGE": error_message[:256] or "-",
            "EXECUTION_ID": execution_id,
            "SCHEDULE_ARN": schedule["Arn"],
            "SCHEDULED_TIME": scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "TARGET_ARN": arn,
        }
        sqs.send_message(
            QueueUrl=url,
            MessageBody=payload,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
    return Fired(schedule["Name"], scheduled_time, arn, False, attempt, f"{error_code}: {error_message}", dead_lettered=bool(dlq))


class _Unsupported(Exception):
    pass


def _start(arn: str, target: dict[str, Any], payload: str, clients: Callable[[str], Any]) -> str:
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    if service == "states":
        out = clients("stepfunctions").start_execution(stateMachineArn=arn, input=payload)
        return str(out["executionArn"])
    if service == "lambda":
        clients("lambda").invoke(FunctionName=arn, InvocationType="Event", Payload=payload.encode())
        return f"invoked {arn.rsplit(':', 1)[-1]} (asynchronously)"
    if service == "sqs":
        sqs = clients("sqs")
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        kwargs: dict[str, Any] = {"QueueUrl": url, "MessageBody": payload}
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group:
            kwargs.update(MessageGroupId=group, MessageDeduplicationId=str(uuid.uuid4()))
        return f"message {clients('sqs').send_message(**kwargs)['MessageId']} to {url.rsplit('/', 1)[-1]}"
    if service == "events":
        params = target.get("EventBridgeParameters") or {}
        entry = {
            "EventBusName": arn,
            "Source": params.get("Source", "aws.scheduler"),
            "DetailType": params.get("DetailType", "Scheduled Event"),
            "Detail": payload,
        }
        out = clients("events").put_events(Entries=[entry])
        if out.get("FailedEntryCount"):
            raise _Unsupported(json.dumps(out["Entries"]))
        return f"event {out['Entries'][0].get('EventId')} on {arn.rsplit('/', 1)[-1]}"
    raise _Unsupported(f"target {arn} is not emulated locally (state machines, Lambda functions, SQS queues and event buses are)")
