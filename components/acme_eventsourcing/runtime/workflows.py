"""Starting and stopping a workflow's executions from bus events (the `Workflow` component's trigger).

EventBridge's Step Functions target cannot name an execution, so a `Workflow` with
`EventStart`/`EventStop` deploys this module as its trigger function (standard library and
boto3 only). A rule per `EventStart`/`EventStop` sends matching bus events to `handler`,
which finds the trigger the event matches (by `source` and `detail-type`) in
`WORKFLOW_TRIGGERS` and:

- start: `StartExecution` of `STATE_MACHINE_ARN` named `execution_name(<value at name_from>)`,
  with the whole bus event as input. The name is deterministic, so a redelivered event
  starts nothing new: `ExecutionAlreadyExists` (same name, the execution running with other
  input, or already finished) counts as success;
- stop: `StopExecution` of the execution that name gives (`arn:...:execution:<state machine
  name>:<name>`). An execution that does not exist (never started, or its start is still on
  its way) or has finished already counts as success: there is nothing left to stop.

An event whose `name_from` value is missing or empty raises `TriggerError`: it can never be
handled, so after the asynchronous retries it lands in the trigger's DLQ, where its alarm
shows it.

Environment: `STATE_MACHINE_ARN`; `WORKFLOW_TRIGGERS`, a JSON list of
`{"action": "start"|"stop", "sources": [...], "detail_types": [...], "name_from": "detail.x.y"}`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

#: Step Functions' limit on an execution name.
MAX_NAME_LENGTH = 80
#: Characters kept as they are in an execution name (the rest become `-`). Step Functions
#: allows more, but CloudWatch logging and X-Ray want ASCII letters, digits, `-` and `_`.
_KEPT = re.compile(r"[^A-Za-z0-9_-]")
_HASH_LENGTH = 10

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


class TriggerError(Exception):
    """An event this trigger can never handle (no name at `name_from`, or no trigger matches)."""


def execution_name(value: Any) -> str:
    """The execution name for `value` (a string or number from the event): the value itself
    when it is a valid name already (ASCII letters, digits, `-`, `_`; at most 80 characters),
    else its valid characters (others replaced by `-`, cut to fit) followed by `-` and a hash
    of the whole value, so two values never share a name by sanitising. Deterministic: the
    same value always gives the same name, in the starter and in the stopper."""
    text = str(value)
    if not text:
        raise TriggerError("an execution name needs a non-empty value")
    if not _KEPT.search(text) and len(text) <= MAX_NAME_LENGTH:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]
    kept = _KEPT.sub("-", text)[: MAX_NAME_LENGTH - _HASH_LENGTH - 1]
    return f"{kept}-{digest}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """`arn:<partition>:states:<region>:<account>:execution:<state machine name>:<name>`."""
    prefix, marker, machine = state_machine_arn.partition(":stateMachine:")
    if not marker or not machine:
        raise ValueError(f"{state_machine_arn!r} is not a state machine ARN")
    return f"{prefix}:execution:{machine}:{name}"


def value_at(event: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted `path` of `event` (e.g. `detail.metadata.stream_id`), or None."""
    node: Any = event
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def start(client: Any, state_machine_arn: str, name: str, execution_input: Mapping[str, Any]) -> str:
    """Start the execution `name` with `execution_input`; `"started"`, or `"exists"` when an
    execution of that name is running or has run (Step Functions keeps names for 90 days)."""
    try:
        client.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input))
    except ClientError as exc:
        if _code(exc) == "ExecutionAlreadyExists":
            return "exists"
        raise
    return "started"


def stop(client: Any, arn: str, *, cause: str = "") -> str:
    """Stop the execution `arn`: `"stopped"`; `"absent"` when there is no such execution;
    `"finished"` when it is not running any more (stopped, succeeded, failed, timed out)."""
    try:
        status = client.describe_execution(executionArn=arn)["status"]
    except ClientError as exc:
        if _code(exc) == "ExecutionDoesNotExist":
            return "absent"
        raise
    if status != "RUNNING":
        return "finished"
    try:
        client.stop_execution(executionArn=arn, error="Stopped", cause=cause[:32768])
    except ClientError as exc:
        if _code(exc) == "ExecutionDoesNotExist":
            return "absent"
        # it may have finished between the two calls: then there is nothing to stop
        if client.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return "finished"
        raise
    return "stopped"


@dataclass(frozen=True)
class Trigger:
    """One `EventStart` or `EventStop` as the function sees it."""

    action: str
    sources: Sequence[str]
    detail_types: Sequence[str]
    name_from: str

    def matches(self, event: Mapping[str, Any]) -> bool:
        return event.get("source") in self.sources and event.get("detail-type") in self.detail_types


def triggers_from(text: str) -> list[Trigger]:
    """The triggers of `WORKFLOW_TRIGGERS`."""
    out = []
    for item in json.loads(text):
        if item.get("action") not in ("start", "stop"):
            raise ValueError(f"trigger action must be 'start' or 'stop', not {item.get('action')!r}")
        out.append(Trigger(item["action"], tuple(item["sources"]), tuple(item["detail_types"]), item["name_from"]))
    return out


def handle(client: Any, state_machine_arn: str, triggers: Sequence[Trigger], event: Mapping[str, Any]) -> dict[str, str]:
    """Start or stop the execution `event` names; what was done, for the log and the tests."""
    trigger = next((t for t in triggers if t.matches(event)), None)
    if trigger is None:
        raise TriggerError(f"no trigger for source {event.get('source')!r} detail-type {event.get('detail-type')!r}")
    value = value_at(event, trigger.name_from)
    if value is None or value == "" or isinstance(value, Mapping | list | bool):
        raise TriggerError(f"event {event.get('id')!r} ({event.get('detail-type')!r}) has no name at {trigger.name_from!r}")
    name = execution_name(value)
    if trigger.action == "start":
        outcome = start(client, state_machine_arn, name, event)
    else:
        cause = f"{event.get('detail-type')} {event.get('id', '')}".strip()
        outcome = stop(client, execution_arn(state_machine_arn, name), cause=cause)
    result = {"action": trigger.action, "execution": name, "outcome": outcome}
    logger.info(json.dumps(result))
    return result


_CLIENT: Any = None


def handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    """The Lambda entry point: one bus event from a rule of the workflow."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = boto3.client("stepfunctions")
    return handle(_CLIENT, os.environ["STATE_MACHINE_ARN"], triggers_from(os.environ["WORKFLOW_TRIGGERS"]), event)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
