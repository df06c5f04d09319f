"""Rules on event delivery: the publisher limited to its source, stream readers and rule targets that lose nothing.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from ._policy_core import Violation
from ._policy_view import (
    MAPPING,
    PIPE,
    QUEUE,
    ROLE,
    STREAM_SERVICES,
    TARGET,
    StackView,
    _arn_service,
    _number,
    get,
)
from .harness import RecordedResource, RecordedStack

#: How ESM001 names the settings of a mapping and of a pipe: destination, retries, age, bisect.
_MAPPING_SETTINGS = (
    "destination_config.on_failure",
    "maximum_retry_attempts",
    "maximum_record_age_in_seconds",
    "bisect_batch_on_function_error",
)


_PIPE_SETTINGS = (
    "dead_letter_config",
    "maximum_retry_attempts",
    "maximum_record_age_in_seconds",
    "on_partial_batch_item_failure=AUTOMATIC_BISECT",
)


@dataclass(frozen=True)
class PublisherLimitedToItsSource:
    source_variables: tuple[str, ...] = ("EVENT_SOURCE", "SERVICE_SOURCE")

    id: ClassVar[str] = "EVT001"
    title: ClassVar[str] = "The publisher may put events on one bus, with its own source only"
    rationale: ClassVar[str] = (
        "The function (or pipe) reading an Events table's stream speaks for the service: its "
        "events:PutEvents must name exactly one bus ARN and carry a StringEquals events:source "
        "condition equal to the service's source (the function's EVENT_SOURCE variable), so it "
        "cannot impersonate another domain."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many publishers the rule examined."""
        return len(StackView.of(stack).publishers)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for reader, _table, fn in view.publishers:
            if reader.type == PIPE:
                role = view.find(ROLE, reader.inputs.get("roleArn"))
                source = get(reader.inputs, "targetParameters", "eventbridgeEventBusParameters", "source")
                subject = reader
            elif fn is not None:
                role = view.function_role(fn)
                variables = get(fn.inputs, "environment", "variables") or {}
                source = next((variables[v] for v in self.source_variables if variables.get(v)), None)
                subject = fn
            else:
                out.append(Violation.of(self.id, reader, "the publisher function of this mapping is not declared in this stack"))
                continue
            if role is None:
                out.append(Violation.of(self.id, subject, "the publisher's role is not declared in this stack"))
                continue
            out += self._check_role(view, subject, role, source)
        return out

    def _check_role(self, view: StackView, subject: RecordedResource, role: RecordedResource, source: Any) -> list[Violation]:
        puts = [(d, s) for d, s in view.role_statements(role) if s.allow and s.grants_action("events:PutEvents")]
        if not puts:
            return [Violation.of(self.id, subject, f"role {role.name!r} grants no events:PutEvents; the publisher cannot publish")]
        out = []
        buses: set[str] = set()
        for doc, s in puts:
            where = f"role {role.name!r} {doc.where}: {s.label}"
            wild = [r for r in s.resources if "*" in r or "?" in r]
            if s.not_resources is not None:
                wild.append(f"NotResource {list(s.not_resources)}")
            if wild:
                out.append(Violation.of(self.id, subject, f"{where} allows events:PutEvents on {wild}, not one bus"))
            buses.update(r for r in s.resources if ":event-bus/" in r)
            values = s.condition_values("StringEquals", "events:source")
            if values is None or len(values) != 1:
                message = f"{where} allows events:PutEvents without a single-valued StringEquals events:source condition"
                out.append(Violation.of(self.id, subject, message))
            elif source is not None and values[0] != source:
                message = f"{where} limits events:source to {values[0]!r}, not the service's source {source!r}"
                out.append(Violation.of(self.id, subject, message))
        if len(buses) > 1:
            out.append(Violation.of(self.id, subject, f"role {role.name!r} may put events on {len(buses)} buses {sorted(buses)}, not one"))
        return out


@dataclass(frozen=True)
class MappingsHandleFailures:
    id: ClassVar[str] = "ESM001"
    title: ClassVar[str] = "Every event source mapping (and stream pipe) has an on-failure destination and bounded retries"
    rationale: ClassVar[str] = (
        "A stream mapping retries a failing batch until the records expire (-1 = forever), blocking "
        "its shard: set maximum_retry_attempts >= 0, maximum_record_age_in_seconds (not -1), "
        "bisect_batch_on_function_error and an on-failure destination. An SQS mapping needs a redrive "
        "policy on its source queue instead."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many mappings and stream pipes the rule examined."""
        return len(StackView.of(stack).of_type(MAPPING)) + sum(
            _arn_service(p.inputs.get("source")) in STREAM_SERVICES for p in StackView.of(stack).of_type(PIPE)
        )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for m in view.of_type(MAPPING):
            source = m.inputs.get("eventSourceArn")
            if _arn_service(source) == "sqs":
                queue = view.find(QUEUE, source)
                redrive = view.redrive_policy(queue) if queue else None
                if not get(redrive, "deadLetterTargetArn") or not _number(get(redrive, "maxReceiveCount")):
                    message = f"source queue {source!r} has no redrive policy (deadLetterTargetArn and maxReceiveCount) in this stack"
                    out.append(Violation.of(self.id, m, message))
                continue
            problems = self._stream_problems(
                destination=get(m.inputs, "destinationConfig", "onFailure", "destinationArn"),
                retries=m.inputs.get("maximumRetryAttempts"),
                age=m.inputs.get("maximumRecordAgeInSeconds"),
                bisect=m.inputs.get("bisectBatchOnFunctionError") is True,
                names=_MAPPING_SETTINGS,
            )
            if problems:
                out.append(Violation.of(self.id, m, "; ".join(problems)))
        for p in view.of_type(PIPE):
            if _arn_service(p.inputs.get("source")) not in STREAM_SERVICES:
                continue
            sources = get(p.inputs, "sourceParameters") or {}
            params = sources.get("dynamodbStreamParameters") or sources.get("kinesisStreamParameters") or {}
            problems = self._stream_problems(
                destination=get(params, "deadLetterConfig", "arn"),
                retries=params.get("maximumRetryAttempts"),
                age=params.get("maximumRecordAgeInSeconds"),
                bisect=params.get("onPartialBatchItemFailure") == "AUTOMATIC_BISECT",
                names=_PIPE_SETTINGS,
            )
            if problems:
                out.append(Violation.of(self.id, p, "; ".join(problems)))
        return out

    @staticmethod
    def _stream_problems(*, destination: Any, retries: Any, age: Any, bisect: bool, names: tuple[str, str, str, str]) -> list[str]:
        problems = []
        if not destination:
            problems.append(f"no {names[0]}")
        retries_n, age_n = _number(retries), _number(age)
        if retries_n is None or retries_n < 0:
            problems.append(f"{names[1]} is {retries!r}; set 0..10000 (unset or -1 retries until the record expires)")
        if age_n is None or age_n < 0:
            problems.append(f"{names[2]} is {age!r}; set a bound (unset or -1 keeps records up to their retention)")
        if not bisect:
            problems.append(f"{names[3]} is not set")
        return problems


@dataclass(frozen=True)
class TargetsHandleFailures:
    id: ClassVar[str] = "EVT002"
    title: ClassVar[str] = "Every EventBridge rule target has a DLQ and an explicit retry policy"
    rationale: ClassVar[str] = (
        "EventBridge drops an event after its retries (by default 185 over 24 hours) unless the "
        "target has a dead-letter queue; an explicit retry_policy.maximum_retry_attempts says how "
        "long a broken consumer may be retried."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many rule targets the rule examined."""
        return len(StackView.of(stack).of_type(TARGET))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for t in StackView.of(stack).of_type(TARGET):
            problems = []
            if not get(t.inputs, "deadLetterConfig", "arn"):
                problems.append("no dead_letter_config")
            retries = _number(get(t.inputs, "retryPolicy", "maximumRetryAttempts"))
            if retries is None or retries < 0:
                problems.append("no retry_policy.maximum_retry_attempts")
            if problems:
                out.append(Violation.of(self.id, t, f"target {t.inputs.get('arn')!r}: {'; '.join(problems)}"))
        return out


#: The Schema Registry schema resource type.
SCHEMA = "aws:schemas/schema:Schema"
_DRAFT4 = "http://json-schema.org/draft-04/schema#"


@dataclass(frozen=True)
class EventSchemasDescribeTheirEvents:
    id: ClassVar[str] = "EVT003"
    title: ClassVar[str] = "Every Schema Registry schema is self-contained and describes the event its name says"
    rationale: ClassVar[str] = (
        "Consumers validate events and generate code bindings from the registry: a schema that does not "
        "parse, points outside itself ($ref to another document), or is named `<source>@<detail-type>` "
        "while describing another source or detail-type binds them to the wrong events."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many Schema Registry schemas the rule examined."""
        return len(StackView.of(stack).of_type(SCHEMA))

    def check(self, stack: RecordedStack) -> list[Violation]:
        return [
            Violation.of(self.id, s, f"schema {s.inputs.get('name')!r}: {problem}")
            for s in StackView.of(stack).of_type(SCHEMA)
            if (problem := self._problem(s)) is not None
        ]

    @staticmethod
    def _problem(schema: RecordedResource) -> str | None:
        kind, text, name = schema.inputs.get("type"), schema.inputs.get("content"), schema.inputs.get("name") or ""
        if kind not in ("JSONSchemaDraft4", "OpenApi3"):
            return f"type {kind!r} is neither JSONSchemaDraft4 nor OpenApi3"
        try:
            content = json.loads(text) if isinstance(text, str) else None
        except ValueError as exc:
            return f"content is not JSON ({exc})"
        if not isinstance(content, dict):
            return "content is not a JSON object"
        outside = sorted({ref for ref in _refs(content) if not ref.startswith("#")})
        if outside:
            return f"content refers outside itself: {outside}"
        if kind == "OpenApi3":
            return None if "openapi" in content else "an OpenApi3 schema without an `openapi` version"
        if content.get("$schema") != _DRAFT4:
            return f"a JSONSchemaDraft4 schema whose $schema is {content.get('$schema')!r}, not {_DRAFT4!r}"
        source, _, detail_type = str(name).partition("@")
        if not detail_type:
            return "its name is not `<source>@<detail-type>`"
        properties = content.get("properties") if isinstance(content.get("properties"), dict) else {}
        for key, expected in (("source", source), ("detail-type", detail_type)):
            described = (properties.get(key) or {}).get("enum") if isinstance(properties.get(key), dict) else None
            if described != [expected]:
                return f"named for {key} {expected!r} but describes {key} {described!r}"
        return None


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []
