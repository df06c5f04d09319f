"""Rules on functions and observability: tracing, timeouts, memory, and alarms on errors, DLQs and stream lag.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._policy_core import Violation
from ._policy_view import (
    FUNCTION,
    MAPPING,
    PIPE,
    STREAM_SERVICES,
    StackView,
    _arn_service,
    _number,
    get,
)
from .harness import RecordedResource, RecordedStack


@dataclass(frozen=True)
class FunctionsConfigured:
    id: ClassVar[str] = "OBS001"
    title: ClassVar[str] = "Every function is traced and has an explicit timeout and memory size"
    rationale: ClassVar[str] = (
        "Active X-Ray tracing follows a command through the stream, the bus and the projectors; "
        "defaults of 3 s and 128 MB are accidents, not decisions."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many functions the rule examined."""
        return len(StackView.of(stack).of_type(FUNCTION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for fn in StackView.of(stack).of_type(FUNCTION):
            problems = []
            if get(fn.inputs, "tracingConfig", "mode") != "Active":
                problems.append("tracing_config.mode is not Active")
            if _number(fn.inputs.get("timeout")) is None:
                problems.append("no explicit timeout")
            if _number(fn.inputs.get("memorySize")) is None:
                problems.append("no explicit memory_size")
            if problems:
                out.append(Violation.of(self.id, fn, "; ".join(problems)))
        return out


@dataclass(frozen=True)
class FunctionErrorAlarms:
    id: ClassVar[str] = "OBS002"
    title: ClassVar[str] = "Every function has an alarm on its Errors metric"
    rationale: ClassVar[str] = "A failing function must page someone, not wait to be noticed."

    def checked(self, stack: RecordedStack) -> int:
        """How many functions the rule examined."""
        return len(StackView.of(stack).of_type(FUNCTION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        return [
            Violation.of(self.id, fn, f"no alarm on AWS/Lambda Errors with FunctionName={view.physical_name(fn)!r}")
            for fn in view.of_type(FUNCTION)
            if not view.alarms_on("AWS/Lambda", "Errors", "FunctionName", view.physical_name(fn))
        ]


@dataclass(frozen=True)
class DeadLetterQueueAlarms:
    id: ClassVar[str] = "OBS003"
    title: ClassVar[str] = "Every dead-letter queue has an alarm on its depth"
    rationale: ClassVar[str] = (
        "A DLQ nobody watches is a slower way to lose events: alarm on "
        "ApproximateNumberOfMessagesVisible of every queue that receives failures."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many dead-letter queues the rule examined."""
        return len({q.urn for q, _sender in StackView.of(stack).dead_letter_queues})

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        seen: set[str] = set()
        for queue, sender in view.dead_letter_queues:
            name = view.physical_name(queue)
            if queue.urn in seen or view.alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name):
                continue
            seen.add(queue.urn)
            metric = f"AWS/SQS ApproximateNumberOfMessagesVisible with QueueName={name!r}"
            message = f"receives failures of {sender.name!r} but has no alarm on {metric}"
            out.append(Violation.of(self.id, queue, message))
        return out


@dataclass(frozen=True)
class StreamIteratorAgeAlarms:
    id: ClassVar[str] = "OBS004"
    title: ClassVar[str] = "Every stream reader has a lag or failure alarm"
    rationale: ClassVar[str] = (
        "A stuck publisher stops the whole system without a single error. A stream mapping's "
        "function needs an AWS/Lambda IteratorAge alarm (growing age is the signal); a pipe reading "
        "a stream, which has no such metric, needs an AWS/EventBridge/Pipes alarm on its PipeName "
        "(e.g. ExecutionFailed)."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many stream mappings and stream pipes the rule examined."""
        return len(self._readers(stack))

    @staticmethod
    def _readers(stack: RecordedStack) -> list[RecordedResource]:
        mappings = [m for m in StackView.of(stack).of_type(MAPPING) if _arn_service(m.inputs.get("eventSourceArn")) in STREAM_SERVICES]
        return mappings + [p for p in StackView.of(stack).of_type(PIPE) if _arn_service(p.inputs.get("source")) in STREAM_SERVICES]

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for reader in self._readers(stack):
            if reader.type == PIPE:
                name = view.physical_name(reader)
                if not view.alarms_on("AWS/EventBridge/Pipes", None, "PipeName", name):
                    out.append(Violation.of(self.id, reader, f"no alarm on an AWS/EventBridge/Pipes metric with PipeName={name!r}"))
                continue
            fn = view.find(FUNCTION, reader.inputs.get("functionName"))
            name = view.physical_name(fn) if fn else str(reader.inputs.get("functionName"))
            if not view.alarms_on("AWS/Lambda", "IteratorAge", "FunctionName", name):
                out.append(Violation.of(self.id, reader, f"no alarm on AWS/Lambda IteratorAge with FunctionName={name!r}"))
        return out
