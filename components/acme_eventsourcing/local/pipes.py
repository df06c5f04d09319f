"""EventBridge Pipes from a DynamoDB stream to an event bus, run locally.

The source side is the same poller as an event source mapping (`local.streams`: filter,
batch size, retries, maximum record age, bisecting, dead-letter queue). A declared Lambda
enrichment runs first, in-process like any function: it gets the batch (a list of
records) and what it returns is what the target gets (a list: one event per element; an
empty response: nothing to send); an enrichment error fails the whole batch. The target
side does what Pipes does for an event bus target: per event, `Source` = the declared
source, `DetailType` and `Time` from their JSON paths (or literals), `Detail` = the input
template rendered against the event (or the whole event), sent with PutEvents in calls of
at most 10 entries. Without enrichment, entries PutEvents rejects fail their records and
only those are retried; with it, events no longer map to records, so any failed entry
fails the whole batch.

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
    """Delivers batches of stream records (through the enrichment, if any) to the Pipe's bus;
    reports the records that failed."""

    def __init__(
        self,
        pipe: PipeDecl,
        *,
        events_client: Any,
        on_invocation: Callable[[Invocation], None],
        enrich: Callable[[list[dict[str, Any]]], Invocation] | None = None,
    ) -> None:
        """`enrich` runs the pipe's declared enrichment function on a batch (required when
        the pipe declares one)."""
        if pipe.input_template:
            check_template(pipe.input_template)
        if (pipe.enrichment is None) != (enrich is None):
            raise ValueError(f"pipe {pipe.logical}: give `enrich` exactly when the pipe declares an enrichment")
        self.pipe = pipe
        self.events = events_client
        self.on_invocation = on_invocation
        self.enrich = enrich

    def _entry(self, event: Any) -> dict[str, Any]:
        p = self.pipe
        entry: dict[str, Any] = {
            "Source": p.source,
            "DetailType": str(value_at(event, p.detail_type)) if p.detail_type.startswith("$.") else p.detail_type,
            "Detail": render(p.input_template, event) if p.input_template else json.dumps(event),
            "EventBusName": p.bus_name,
        }
        if p.time:
            when = str(value_at(event, p.time)) if p.time.startswith("$.") else p.time
            entry["Time"] = datetime.fromisoformat(when.replace("Z", "+00:00"))
        return entry

    def deliver(self, batch: list[dict[str, Any]]) -> Invocation:
        started, t0 = time.time(), time.perf_counter()
        sequence = [record["dynamodb"]["SequenceNumber"] for record in batch]
        if self.enrich is None:
            failed = self._put(list(zip(sequence, batch, strict=True)))
            error = None
        else:
            enriched = self.enrich(batch)
            if not enriched.ok:
                failed, error = sequence, (f"Enrichment.{enriched.error_type}", enriched.error_message)
            else:
                events = _events(enriched.result)
                rejected = self._put([(str(i), e) for i, e in enumerate(events)])
                failed = sequence if rejected else []
                error = ("PutEventsFailed", f"{len(rejected)} of {len(events)} enriched event(s) not put on the bus") if rejected else None
        invocation = Invocation(
            function=self.pipe.logical,
            trigger=f"pipe {len(batch)} record(s)",
            request_id=str(uuid.uuid4()),
            started=started,
            duration_ms=(time.perf_counter() - t0) * 1000,
            ok=error is None,  # a failed enriched batch is retried whole (and bisected)
            result={"batchItemFailures": [{"itemIdentifier": seq} for seq in failed]} if error is None else None,
            error_type=error[0] if error else None,
            error_message=error[1] if error else None,
        )
        self.on_invocation(invocation)
        return invocation

    def _put(self, events: list[tuple[str, Any]]) -> list[str]:
        """Put `(key, event)` pairs on the bus; the keys of those that failed (could not be
        rendered, or PutEvents rejected them)."""
        failed: list[str] = []
        ready: list[tuple[str, dict[str, Any]]] = []
        for key, event in events:
            try:
                ready.append((key, self._entry(event)))
            except (KeyError, TypeError, ValueError):
                failed.append(key)
        for start in range(0, len(ready), 10):
            chunk = ready[start : start + 10]
            answer = self.events.put_events(Entries=[entry for _, entry in chunk])
            failed += [key for (key, _), result in zip(chunk, answer["Entries"], strict=True) if result.get("ErrorCode")]
        return failed


def _events(response: Any) -> list[Any]:
    """The events an enrichment response stands for: a list is one event per element; an
    empty response (`""`, `{}`, `[]`, null) is none; anything else is one event."""
    if isinstance(response, list):
        return response
    return [response] if response not in (None, "", {}) else []
