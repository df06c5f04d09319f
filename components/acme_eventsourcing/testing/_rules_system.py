"""Whole-system rules: checked over every program of a system at once (`check_system`).

A platform stack owns the bus, the archive and the backup; service stacks own their tables,
streams and consumers; they refer to each other by ARN through stack references. These rules
need all of them: how many readers a stream has, whether each consumer's bounds fit the
retention of the stream it reads, and whether every consumer, schedule and workflow has a
failure path (a DLQ or an alarm) that some program of the system declares.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters, and `check_system(stacks)` returns one `Violation` per
offending resource and reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ._policy_core import Violation
from ._policy_view import (
    BUCKET,
    BUCKET_V2,
    KINESIS_STREAM,
    MAPPING,
    PIPE,
    QUEUE,
    SCHEDULE,
    STATE_MACHINE,
    TARGET,
    TOPIC,
    StackView,
    SystemView,
    _arn_service,
    _number,
    get,
    program_of,
)
from .harness import RecordedResource, RecordedStack

#: How long a DynamoDB stream keeps a record (fixed by AWS), and a Kinesis stream by default.
STREAM_RETENTION_SECONDS = 86400
#: What an on-failure destination of a mapping may be.
_DESTINATION_TYPES = (QUEUE, TOPIC, BUCKET, BUCKET_V2)


@dataclass(frozen=True)
class StreamReadersLimited:
    max_readers: int = 2

    id: ClassVar[str] = "SYS001"
    title: ClassVar[str] = "At most two readers per DynamoDB stream, across every program"
    rationale: ClassVar[str] = (
        "DynamoDB Streams serves each shard to at most two simultaneous readers; a third (a mapping or "
        "a Pipe, in this program or another reading the ARN it exported) is throttled, and every "
        "reader's iterator age grows. Add consumers behind the bus, not on the stream."
    )

    def checked_system(self, stacks: Sequence[RecordedStack]) -> int:
        """How many stream readers the rule counted."""
        return sum(_arn_service(r.stream_arn) == "dynamodb" for r in SystemView(stacks).stream_readers)

    def check_system(self, stacks: Sequence[RecordedStack]) -> list[Violation]:
        system = SystemView(stacks)
        by_stream: dict[tuple[str, ...], list[Any]] = {}
        for reader in system.stream_readers:
            if _arn_service(reader.stream_arn) == "dynamodb":
                by_stream.setdefault(system.stream_key(reader), []).append(reader)
        out = []
        for key, readers in by_stream.items():
            if len(readers) <= self.max_readers:
                continue
            names = sorted(r.label for r in readers)
            table = system.table_of_stream(readers[0].stream_arn, readers[0].view)
            subjects = [table[1]] if key[0] == "table" and table else [r.reader for r in readers]
            for subject in subjects:
                message = f"its stream {readers[0].stream_arn!r} has {len(readers)} readers {names}; at most {self.max_readers}"
                out.append(Violation.of(self.id, subject, message))
        return out


@dataclass(frozen=True)
class StreamConsumersWithinRetention:
    margin_seconds: int = 3600

    id: ClassVar[str] = "SYS002"
    title: ClassVar[str] = "Every stream consumer gives up on a record before the stream drops it"
    rationale: ClassVar[str] = (
        "A DynamoDB stream keeps a record 24 hours (a Kinesis stream its retention_period). A mapping "
        "or Pipe whose maximum_record_age_in_seconds is unset, -1 or beyond that keeps retrying a poison "
        "record until the stream trims it: the record is then gone without reaching the on-failure "
        "destination, and the shard was blocked all day. The age must be set and at most the retention "
        "minus a margin (default 1 hour: a retry in flight, a 15-minute function timeout), and "
        "maximum_retry_attempts finite (0..10000; -1 retries until the record expires)."
    )

    def checked_system(self, stacks: Sequence[RecordedStack]) -> int:
        """How many stream consumers the rule examined."""
        return len(SystemView(stacks).stream_readers)

    def check_system(self, stacks: Sequence[RecordedStack]) -> list[Violation]:
        system = SystemView(stacks)
        out = []
        for reader in system.stream_readers:
            retention = self._retention(system, reader)
            limit = retention - self.margin_seconds
            problems = []
            age, retries = _number(reader.max_age), _number(reader.retries)
            if age is None or age < 0:
                problems.append(f"maximum_record_age_in_seconds is {_shown(reader.max_age)}: unbounded, the stream drops the record first")
            elif age > limit:
                margin = f"retention {retention} s minus a {self.margin_seconds} s margin"
                problems.append(f"maximum_record_age_in_seconds {int(age)} exceeds {limit} ({margin})")
            if retries is None or retries < 0:
                problems.append(f"maximum_retry_attempts is {_shown(reader.retries)}: retries until the record expires")
            if problems:
                out.append(Violation.of(self.id, reader.reader, "; ".join(problems)))
        return out

    @staticmethod
    def _retention(system: SystemView, reader: Any) -> int:
        if _arn_service(reader.stream_arn) != "kinesis":
            return STREAM_RETENTION_SECONDS
        found = system.find(KINESIS_STREAM, reader.stream_arn, reader.view)
        hours = _number(found[1].inputs.get("retentionPeriod")) if found else None
        return int(hours * 3600) if hours else STREAM_RETENTION_SECONDS


@dataclass(frozen=True)
class FailuresCaught:
    id: ClassVar[str] = "SYS003"
    title: ClassVar[str] = "Every consumer, schedule and workflow has a DLQ or a failure alarm that the system declares"
    rationale: ClassVar[str] = (
        "A failure nobody receives is a lost event or a job that silently never ran. Every event source "
        "mapping has an on-failure destination (an SQS mapping: its queue's redrive policy), every rule "
        "target and schedule a dead-letter queue, every Pipe a DLQ (an SQS-source Pipe: its queue's "
        "redrive policy), every state machine an alarm on AWS/States ExecutionsFailed; and the queue, "
        "topic or alarm is declared by some program of the system (a reference to nothing catches nothing)."
    )

    def checked_system(self, stacks: Sequence[RecordedStack]) -> int:
        """How many consumers, schedules and workflows the rule examined."""
        return sum(len(v.of_type(t)) for v in SystemView(stacks).views for t in (MAPPING, TARGET, PIPE, SCHEDULE, STATE_MACHINE))

    def check_system(self, stacks: Sequence[RecordedStack]) -> list[Violation]:
        system = SystemView(stacks)
        out = []
        for view in system.views:
            for r, problem in self._problems(system, view):
                out.append(Violation.of(self.id, r, problem))
        return out

    def _problems(self, system: SystemView, view: StackView) -> list[tuple[RecordedResource, str]]:
        found: list[tuple[RecordedResource, str]] = []

        def need(resource: RecordedResource, arn: Any, what: str, types: tuple[str, ...] = (QUEUE,)) -> None:
            if not arn:
                found.append((resource, f"no {what}"))
            elif system.declares(types, arn, view) is None:
                found.append((resource, f"{what} {arn!r} is declared by no program of the system ({_programs(system)})"))

        def queue_redrive(resource: RecordedResource, queue_arn: Any) -> None:
            queue = system.find(QUEUE, queue_arn, view)
            if queue is None:
                found.append((resource, f"source queue {queue_arn!r} is declared by no program of the system"))
            else:
                need(
                    resource,
                    get(queue[0].redrive_policy(queue[1]), "deadLetterTargetArn"),
                    f"redrive policy on source queue {queue[1].name!r}",
                )

        for m in view.of_type(MAPPING):
            if _arn_service(m.inputs.get("eventSourceArn")) == "sqs":
                queue_redrive(m, m.inputs.get("eventSourceArn"))
            else:
                need(m, get(m.inputs, "destinationConfig", "onFailure", "destinationArn"), "on-failure destination", _DESTINATION_TYPES)
        for t in view.of_type(TARGET):
            need(t, get(t.inputs, "deadLetterConfig", "arn"), "dead_letter_config")
        for p in view.of_type(PIPE):
            source = p.inputs.get("source")
            if _arn_service(source) == "sqs":
                queue_redrive(p, source)
            else:
                params = [v for v in (get(p.inputs, "sourceParameters") or {}).values() if isinstance(v, dict)]
                need(
                    p,
                    next((get(v, "deadLetterConfig", "arn") for v in params if get(v, "deadLetterConfig", "arn")), None),
                    "pipe dead_letter_config",
                )
        for s in view.of_type(SCHEDULE):
            need(s, get(s.inputs, "target", "deadLetterConfig", "arn"), "schedule dead_letter_config")
        for m in view.of_type(STATE_MACHINE):
            arn = str(m.state.get("arn"))
            if not system.alarms_on("AWS/States", "ExecutionsFailed", "StateMachineArn", arn):
                found.append((m, f"no alarm on AWS/States ExecutionsFailed with StateMachineArn={arn!r} in any program"))
        return found


def _shown(value: Any) -> str:
    """A recorded number as written (the engine hands integers over as floats)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else repr(value)


def _programs(system: SystemView) -> str:
    return ", ".join(program_of(s) for s in system.stacks)
