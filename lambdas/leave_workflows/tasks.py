"""What the workflows' task handlers share: the task dispatch, input checks, the store.

Each workflow has ONE Lambda function; its Task states call it with the payload
``{"task": NAME, "input": <the state's input>}`` and `TaskApp` runs the named task. A task
that fails for a reason worth retrying (a lost race after the service's own retries,
DynamoDB throttling) raises `RetryableError`: the state machine's Retry matches that name.
Any other error is the task's failure (the state machine's Catch decides what it means).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from acme_eventsourcing.runtime.eventstore.ports import ConcurrencyError, EventStore
from acme_eventsourcing.runtime.handler import Clock, ConfigurationError, require

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "InternalServerError",
    }
)

Task = Callable[[Mapping[str, Any]], dict[str, Any]]


class TaskInputError(ValueError):
    """The task's input lacks what it needs or holds a malformed value (names the field)."""


class RetryableError(RuntimeError):
    """A transient failure (a lost race, throttling): the state machine retries the task with backoff."""


def is_transient(exc: BaseException) -> bool:
    """A lost race or a throttled / conflicting DynamoDB call."""
    if isinstance(exc, ConcurrencyError):
        return True
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return code in THROTTLING_CODES


class TaskApp:
    """Runs ``tasks[event["task"]](event["input"])``; an unknown task is a `TaskInputError`."""

    def __init__(self, workflow: str, tasks: Mapping[str, Task]) -> None:
        self.workflow = workflow
        self.tasks = dict(tasks)

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(event, Mapping):
            raise TaskInputError(f"a {self.workflow} task takes a JSON object, got {type(event).__name__}")
        name = event.get("task")
        task = self.tasks.get(name) if isinstance(name, str) else None
        if task is None:
            raise TaskInputError(f"unknown {self.workflow} task {name!r}; one of {', '.join(sorted(self.tasks))}")
        payload = event.get("input", {})
        if not isinstance(payload, Mapping):
            raise TaskInputError(f"{self.workflow}.{name}: input must be a JSON object")
        try:
            result = task(payload)
        except Exception as exc:
            if is_transient(exc):
                raise RetryableError(f"{self.workflow}.{name}: {exc}") from exc
            raise
        logger.info(json.dumps({"workflow": self.workflow, "task": name, "result": _short(result)}, default=str))
        return result


def field(payload: Mapping[str, Any], name: str, kind: type, *, default: Any = None) -> Any:
    """`payload[name]` if it is a `kind` (a bool is no int), else `default` when given, else `TaskInputError`."""
    value = payload.get(name)
    if value is None and default is not None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TaskInputError(f"{name} must be {'an' if kind is int else 'a'} {kind.__name__}, got {value!r}")
    return value


def positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    """An integer >= 1 from the environment (`default` when unset); `ConfigurationError` otherwise."""
    raw = environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ConfigurationError(f"{name} must be >= 1, got {value}")
    return value


def dynamodb_store(environ: Mapping[str, str]) -> EventStore:
    """The Events table of the deployed function (`EVENTS_TABLE`)."""
    import boto3  # deferred: importing the task modules must not need AWS
    from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore

    return DynamoDBEventStore(boto3.client("dynamodb"), require(environ, "EVENTS_TABLE", "the Events table's name"))


def _short(result: Mapping[str, Any]) -> dict[str, Any]:
    """The result for the log line, without long lists."""
    return {k: (f"[{len(v)} items]" if isinstance(v, list) and len(v) > 5 else v) for k, v in result.items()}


__all__ = ["Clock", "RetryableError", "TaskApp", "TaskInputError", "dynamodb_store", "field", "is_transient", "positive_int"]
