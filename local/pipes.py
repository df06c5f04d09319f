"""EventBridge Pipes from a DynamoDB stream to an event bus, run locally.

The source side is the same poller as an event source mapping (`local.streams`: filter,
batch size, retries, maximum record age, bisecting, dead-letter queue). The target side
does what Pipes does for an event bus target: per record, `Source` = the declared source,
`DetailType` and `Time` from their JSON paths (or literals), `Detail` = the input template
rendered against the record (or the whole record), sent with PutEvents in calls of at
most 10 entries; entries PutEvents rejects fail their records, and only those are retried.

Input templates: `<$.a.b.c>` is replaced by the value at that path of the record; inside
a JSON string the value is inserted as text (escaped), elsewhere as JSON. Paths are dotted
(`$.dynamodb.NewImage.event_id.S`); anything else is refused at start-up.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .functions import Invocation
from .model import PipeDecl

_PLACEHOLDER = re.compile(r"<\$((?:\.[A-Za-z0-9_@:-]+)+)>")
_ANY_PLACEHOLDER = re.compile(r"<\$[^>]*>")


class TemplateError(ValueError):
    """A template or path the local Pipe cannot render."""


def check_template(template: str) -> None:
    """Refuse placeholders that are not dotted paths (at start-up, not per record)."""
    for found in _ANY_PLACEHOLDER.findall(template):
        if not _PLACEHOLDER.fullmatch(found):
            raise TemplateError(f"input template placeholder {found} is not a dotted path ($.a.b); not supported locally")


def value_at(record: Any, path: str) -> Any:
    """The value at a dotted JSON path (`$.a.b`) of `record`; KeyError if absent."""
    value = record
    for part in path.removeprefix("$.").split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"{path}: no {part!r}")
        value = value[part]
    return value


def render(template: str, record: Any) -> str:
    """The template with each placeholder replaced (see the module docstring)."""
    out, in_string, i = [], False, 0
    while i < len(template):
        match = _PLACEHOLDER.match(template, i)
        if match:
            value = value_at(record, "$" + match[1])
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1] if in_string else json.dumps(value))
            i = match.end()
            continue
        char = template[i]
        if char == '"' and (i == 0 or template[i - 1] != "\\"):
            in_string = not in_string
        out.append(char)
        i += 1
    return "".join(out)


class PipeTarget:
    """Delivers batches of stream records to the Pipe's bus; reports the records that failed."""

    def __init__(self, pipe: PipeDecl, *, events_client: Any, on_invocation: Callable[[Invocation], None]) -> None:
        if pipe.input_template:
            check_template(pipe.input_template)
        self.pipe = pipe
        self.events = events_client
        self.on_invocation = on_invocation

    def _entry(self, record: dict[str, Any]) -> dict[str, Any]:
        p = self.pipe
        entry: dict[str, Any] = {
            "Source": p.source,
            "DetailType": str(value_at(record, p.detail_type)) if p.detail_type.startswith("$.") else p.detail_type,
            "Detail": render(p.input_template, record) if p.input_template else json.dumps(record),
            "EventBusName": p.bus_name,
        }
        if p.time:
            when = str(value_at(record, p.time)) if p.time.startswith("$.") else p.time
            entry["Time"] = datetime.fromisoformat(when.replace("Z", "+00:00"))
        return entry

    def deliver(self, batch: list[dict[str, Any]]) -> Invocation:
        started, t0 = time.time(), time.perf_counter()
        failed: list[str] = []
        ready: list[tuple[str, dict[str, Any]]] = []
        for record in batch:
            try:
                ready.append((record["dynamodb"]["SequenceNumber"], self._entry(record)))
            except (KeyError, TypeError, ValueError):
                failed.append(record["dynamodb"]["SequenceNumber"])
        for start in range(0, len(ready), 10):
            chunk = ready[start : start + 10]
            answer = self.events.put_events(Entries=[entry for _, entry in chunk])
            failed += [seq for (seq, _), result in zip(chunk, answer["Entries"], strict=True) if result.get("ErrorCode")]
        invocation = Invocation(
            function=self.pipe.logical,
            trigger=f"pipe {len(batch)} record(s)",
            request_id=str(uuid.uuid4()),
            started=started,
            duration_ms=(time.perf_counter() - t0) * 1000,
            ok=True,
            result={"batchItemFailures": [{"itemIdentifier": seq} for seq in failed]},
            error_type=None,
            error_message=None,
        )
        self.on_invocation(invocation)
        return invocation
