"""Narrow patches of moto: two keep a long-running local stack's memory flat, the others its speed.

1. **Instance tracking off.** Every moto model object (`BaseModel` subclasses: items,
   stream records, tables, queues, messages, events, ...) is appended, at creation, to
   its class's `instances_tracked` list, which only moto's dashboard
   (`/moto-api/data.json`) reads and nothing empties until a reset. Every deep copy of
   a table creates new model objects, so the lists keep every copy ever made. Patched,
   `BaseModel.__new__` no longer records instances (the dashboard lists none).
2. **TransactWriteItems rolls back with an undo log.** moto 5.2.5 deep-copies each table a
   transaction names, once per item, before running it, and swaps the copies in when an
   item fails: the cost and the garbage grow with the table (the Events table, on every
   command). The patched method runs the same checks and writes in the same order, but
   before each item it keeps a copy of that one item and, per table, the length of the
   stream shard; a failed transaction puts those items back and drops the stream records
   it added, in place. Callers hold the DynamoDB lock (`local.backend`), so nothing sees
   the intermediate state.
3. **Rule targets' JSONPaths parsed once.** For every event, every rule it matches and
   every target of the rule, moto's `EventTemplateParser.parse` parses the target's
   input paths (eight of them by default) with `jsonpath_ng.ext.parse`, which builds a
   new PLY lexer and parser each time: about 7 ms per path, 0.35 s of CPU per published
   event on the dev stack (97% of the publisher's time). Patched, `jsonpath_ng.ext.parse`
   keeps the parsed expression per path string (a parsed JSONPath is not changed by
   `find`); what moto matches and delivers is the same.
4. **A table Query reads its partition, not the table.** moto's `Table.query` on the base
   table (no index) takes `self.all_items()`, a sorted list of EVERY item of the table, and
   keeps those whose hash key matches: each Query costs O(n log n) in the table's size, so
   every projector read and every event-store load grew with all the data ever written
   (17% of the local stack's CPU under load, plus the comparisons). Patched, while a
   base-table Query with a hash key runs, `all_items()` returns just that partition's items
   in the same order (`self.items[hash_key]`, sorted as moto sorts); index queries, scans
   and everything else still see every item. The result is the same list moto would have
   filtered out of the whole table.
5. **moto's request dispatch looks its tables up once.** For every request, moto's
   `BaseResponse.call_action` lists the response class's methods with `inspect.getmembers`
   (`method_names_from_class`) and converts the action name to snake case character by character
   (`camelcase_to_underscores`): about 5% of the local stack's CPU under load. Patched,
   both keep their answer per class / per name (a class's methods and a name's snake case
   do not change while the process runs).
6. **A backend is looked up, not re-created.** Every moto request and many model methods
   look their backend up as `<service>_backends[account_id]`; moto's `BackendDict.__getitem__`
   takes a process-wide lock, lists the dict's keys and searches its list of every service's
   backends (with a Python `__eq__` per entry) each time, to create the account's backend on
   first use: about 7% of the local stack's CPU under load, and a lock every thread queues
   on. Patched, an account already present is returned at once; a new one still goes through
   moto's method.
7. **DynamoDB item answers are encoded directly.** moto 5.2 serializes every DynamoDB answer
   by walking botocore's output shape member by member (`moto.core.serialize`, with a key
   picker trying several spellings of each name): about 13% of the local stack's CPU, most
   of it in item attribute values. For the item operations (`FAST_DYNAMODB_OPERATIONS`), a
   successful answer is encoded with `json.dumps`, keeping what the serializer keeps (the output
   shape's members, None left out; bytes as base64, datetimes as epoch seconds) but taking
   each item attribute value whole; errors and every other operation still
   go through moto's serializer. `tests/e2e/test_moto_fast_paths.py` compares both
   encodings over every operation of the list.

8. **Step Functions run on the local stack** (`install_step_functions(host)`, while a stack
   runs; moto's own ASL interpreter runs the executions, `execute_state_machine` on):
   - a Lambda task (`arn:aws:states:::lambda:invoke[.waitForTaskToken]` or a bare function
     ARN) calls `host.invoke_lambda` (the in-process function) instead of moto's Lambda
     (Docker): `lambda_eval_utils.execute_lambda_function_integration` is replaced, the one
     place both task kinds call Lambda; an error comes back as Lambda's FunctionError
     payload, so Retry/Catch see the function's errorType;
   - a Wait state waits on `host.clock` (`WaitFunction._wait_interval`,
     `Timestamp._get_wait_seconds`): the deadline is clock time, and advancing the clock
     wakes it; unsimulated it waits real time, as moto does. A timestamp is UTC (moto
     compares it with the naive local time) and may carry a numeric offset, as on AWS;
   - while a Wait or a `.waitForTaskToken` task waits, its execution counts as parked
     (`parked(execution_arn)`), so `settle()` does not wait for it;
   - an execution started without a name gets a UUID (moto's parser names it "None", and
     two such starts with the same input would be one execution);
   - `host.execution_ended(execution)` is told when an execution ends (the log line);
   - a definition is parsed once (`ExecutionWorker._get_evaluation_entrypoint`): moto's
     ANTLR parser ran per execution, 12% of the local stack's CPU under load. The parsed
     program is a tree of declarations that evaluation does not change (every execution's
     state lives in its own `Environment`), so executions of one definition share it.

`install()` is idempotent. `tests/e2e/test_local_hardening.py` pins the moto version and
the source of the replaced method: a moto upgrade that changes them fails there loudly.
"""

from __future__ import annotations

import base64
import calendar
import copy
import functools
import json
import math
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jsonpath_ng.ext
from moto.core import responses as moto_responses
from moto.core.base_backend import BackendDict
from moto.core.common_models import BaseModel
from moto.core.model_instances import model_data
from moto.core.utils import get_service_model
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

#: The moto release whose internals these patches replace (see the module docstring).
MOTO_VERSION = "5.2.5"

#: moto's own methods, as imported (the version pin test compares their source).
MOTO_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items
MOTO_TABLE_QUERY = Table.query
MOTO_TABLE_ALL_ITEMS = Table.all_items
MOTO_METHOD_NAMES = moto_responses.method_names_from_class
MOTO_CAMELCASE_TO_UNDERSCORES = moto_responses.camelcase_to_underscores
MOTO_BACKEND_GETITEM = BackendDict.__getitem__
MOTO_DYNAMODB_SERIALIZED = DynamoHandler.serialized

#: The DynamoDB operations whose successful answers `_dynamodb_serialized` encodes itself.
FAST_DYNAMODB_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Apply both patches (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        BaseModel.__new__ = _untracked_new  # type: ignore[method-assign,assignment]
        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
        jsonpath_ng.ext.parse = _parsed_once(jsonpath_ng.ext.parse)  # moto imports it per call, from the module
        Table.query = _partition_query  # type: ignore[method-assign]
        Table.all_items = _all_items  # type: ignore[method-assign]
        moto_responses.method_names_from_class = functools.cache(MOTO_METHOD_NAMES)
        moto_responses.camelcase_to_underscores = functools.lru_cache(maxsize=4096)(MOTO_CAMELCASE_TO_UNDERSCORES)
        BackendDict.__getitem__ = _backend_getitem  # type: ignore[method-assign]
        DynamoHandler.serialized = _dynamodb_serialized  # type: ignore[method-assign]
        forget_tracked_instances()
        _installed = True


def tracked_instances() -> int:
    """How many model objects moto's instance tracking holds."""
    return sum(len(getattr(cls, "instances_tracked", ())) for models in model_data.values() for cls in models.values())


def forget_tracked_instances() -> None:
    for models in model_data.values():
        for cls in models.values():
            cls.instances_tracked = []  # type: ignore[attr-defined]


_partition = threading.local()  # (table, hash key) of the base-table Query this thread runs


def _partition_query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
    """moto's `Table.query`, with `all_items()` narrowed to the queried partition when the
    query is on the base table (see the module docstring)."""
    if hash_key is None or kwargs.get("index_name") or (len(args) > 6 and args[6]):
        return MOTO_TABLE_QUERY(self, hash_key, *args, **kwargs)
    _partition.current = (self, hash_key)
    try:
        return MOTO_TABLE_QUERY(self, hash_key, *args, **kwargs)
    finally:
        _partition.current = None


def _all_items(self: Table) -> list[Item]:
    """moto's `Table.all_items`, or only the queried partition's items (same order) inside a
    base-table Query on this table."""
    current = getattr(_partition, "current", None)
    if current is None or current[0] is not self:
        return MOTO_TABLE_ALL_ITEMS(self)
    found = self.items.get(current[1])
    if found is None:
        return []
    items = list(found.values()) if self.range_key_attr else [found]  # type: ignore[list-item]
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _backend_getitem(self: BackendDict, account_id: str) -> Any:
    """moto's `BackendDict.__getitem__` without its lock and searches once the account's
    backend exists (see the module docstring)."""
    if dict.__contains__(self, account_id):
        return dict.__getitem__(self, account_id)
    return MOTO_BACKEND_GETITEM(self, account_id)


def _dynamodb_serialized(self: DynamoHandler, action_result: moto_responses.ActionResult) -> Any:
    """`DynamoHandler.serialized`, encoding a successful item operation's answer directly
    (see the module docstring)."""
    result = action_result.result
    action = self._get_action()
    if isinstance(result, Exception) or action not in FAST_DYNAMODB_OPERATIONS:
        return MOTO_DYNAMODB_SERIALIZED(self, action_result)
    shape = _output_shape(action)
    body = json.dumps(_shaped(result, shape) if result is not None else {}, default=_json_default, separators=(",", ":"))
    headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
    return 200, headers, body


@functools.cache
def _output_shape(action: str) -> Any:
    return get_service_model("dynamodb").operation_model(action).output_shape


def _shaped(value: Any, shape: Any) -> Any:
    """`value` with what moto's serializer keeps of it: a structure's members of the shape
    (None left out), lists and maps member by member; an attribute value whole."""
    if shape is None:
        return {}
    kind = shape.type_name
    if kind == "structure":
        if shape.name == "AttributeValue":
            return value
        members = shape.members
        return {k: _shaped(v, members[k]) for k, v in value.items() if v is not None and k in members}
    if kind == "list":
        return [_shaped(v, shape.member) for v in value]
    if kind == "map":
        return {k: _shaped(v, shape.value) for k, v in value.items() if v is not None}
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        epoch = calendar.timegm(value.utctimetuple())
        return epoch + (value.microsecond // 1000) / 1000.0 if value.microsecond else epoch
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"moto's DynamoDB answer holds a {type(value).__name__}, which the fast encoding does not know")


def _parsed_once(parse: Any) -> Any:
    """`parse`, remembering the expression of each path string (see the module docstring)."""
    return functools.lru_cache(maxsize=1024)(parse)


@staticmethod  # type: ignore[misc]
def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


class _UndoLog:
    """What a transaction changed, to put back if it fails."""

    def __init__(self) -> None:
        self.items: list[tuple[Table, DynamoType, DynamoType | None, Item | None]] = []
        self.stream_lengths: dict[int, tuple[Table, int]] = {}

    def before(self, table: Table, hash_key: DynamoType, range_key: DynamoType | None, current: Item | None) -> None:
        if id(table) not in self.stream_lengths:
            self.stream_lengths[id(table)] = (table, len(table.stream_shard.items) if table.stream_shard is not None else 0)
        self.items.append((table, hash_key, range_key, copy.deepcopy(current)))

    def roll_back(self) -> None:
        for table, hash_key, range_key, saved in reversed(self.items):
            if range_key is not None:
                if saved is None:
                    table.items.get(hash_key, {}).pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = saved
            elif saved is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = saved
        for table, length in self.stream_lengths.values():
            if table.stream_shard is not None:
                del table.stream_shard.items[length:]


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's `DynamoDBBackend.transact_write_items`, with `_UndoLog` instead of a deep
    copy of every table (same checks, same order, same errors)."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = _UndoLog()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)
            current = self.get_item(table_name, key)
            if op_type != "ConditionCheck":  # the only change to undo
                table = self.get_table(table_name)
                undo.before(table, *self.get_keys_value(table, key), current)
            if condition_expression is not None:
                condition_op = get_filter_expression(condition_expression, expression_attribute_names, expression_attribute_values)
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            undo.roll_back()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:  # noqa: BLE001 - moto reports every other failure per item
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]
    if any(code is not None for code, _, _ in errors):
        undo.roll_back()
        raise TransactionCanceledException(errors)


# ------------------------------------------------------------------------------ Step Functions (5.)
class StepFunctionsHost(Protocol):
    """What the patched interpreter asks of the running local stack."""

    clock: Any  # `.now()`: aware UTC, and `.listen(callback)`

    def invoke_lambda(self, function: str, payload: bytes | None, trigger: str) -> dict[str, Any]:
        """Lambda's Invoke answer: {"StatusCode", "ExecutedVersion", "Payload" (parsed), "FunctionError"?};
        raises botocore's ClientError (ResourceNotFoundException) for an unknown function."""
        ...

    def execution_ended(self, execution: Any) -> None: ...


_host: StepFunctionsHost | None = None
_sfn_lock = threading.Lock()
_sfn_installed = False


@dataclass(eq=False)
class _Parked:
    """A branch of an execution that waits: for a clock time (a Wait state) or for a task token."""

    execution_arn: str
    deadline: datetime | None  # None: a task token
    wake: threading.Event = field(default_factory=threading.Event)


_parked: set[_Parked] = set()
MOTO_SFN: dict[str, Any] = {}  # moto's replaced functions, by name (the version pin test compares their source)


def install_step_functions(host: StepFunctionsHost | None) -> None:
    """Serve moto's Step Functions interpreter from `host` (None: moto's own behaviour again)."""
    global _host, _sfn_installed
    from moto.core.config import default_user_config

    with _sfn_lock:
        if not _sfn_installed:
            _patch_step_functions()
            _sfn_installed = True
        _host = host
        default_user_config["stepfunctions"] = {"execute_state_machine": host is not None}
    if host is not None:
        host.clock.listen(lambda before, after: wake_waits())


def parked(execution_arn: str) -> int:
    """How many branches of the execution wait for a time still to come or for a task token."""
    now = _host.clock.now() if _host is not None else None
    with _sfn_lock:
        return sum(1 for p in _parked if p.execution_arn == execution_arn and (p.deadline is None or now is None or p.deadline > now))


def next_wait_deadline(after: datetime) -> datetime | None:
    """The earliest time after `after` a waiting Wait state wakes at, if any."""
    with _sfn_lock:
        return min((p.deadline for p in _parked if p.deadline is not None and p.deadline > after), default=None)


def wake_waits(execution_arn: str | None = None) -> None:
    """Every waiting Wait state (or only those of `execution_arn`) re-reads the clock."""
    with _sfn_lock:
        waits = [p for p in _parked if execution_arn is None or p.execution_arn == execution_arn]
    for wait in waits:
        wait.wake.set()


def _execution_id(env: Any) -> str | None:
    try:
        return str(env.states.context_object.context_object_data["Execution"]["Id"])
    except (AttributeError, KeyError, TypeError):
        return None  # not known: wake every wait, as before


@contextmanager
def _parking(env: Any, deadline: datetime | None = None) -> Iterator[_Parked]:
    wait = _Parked(env.states.context_object.context_object_data["Execution"]["Id"], deadline)
    with _sfn_lock:
        _parked.add(wait)
    try:
        yield wait
    finally:
        with _sfn_lock:
            _parked.discard(wait)


def _patch_step_functions() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    MOTO_SFN.update(
        execute_lambda_function_integration=lambda_eval_utils.execute_lambda_function_integration,
        wait_interval=WaitFunction._wait_interval,
        timestamp_wait_seconds=Timestamp._get_wait_seconds,
        eval_wait_for_task_token=StateTaskServiceCallback._eval_wait_for_task_token,
        start_execution=StepFunctionsParserBackend.start_execution,
        terminated=BaseExecutionWorkerCommunication.terminated,
        evaluation_entrypoint=ExecutionWorker._get_evaluation_entrypoint,
    )

    @functools.lru_cache(maxsize=256)
    def parsed(definition: str) -> Any:
        return AmazonStateLanguageParser.parse(definition)[0]

    def evaluation_entrypoint(self: Any) -> Any:
        return parsed(self._evaluation_details.state_machine_details.definition)

    def execute_lambda_function_integration(env: Any, parameters: dict[str, Any], region: str, state_credentials: Any) -> None:
        host = _host
        if host is None or env.is_mocked_mode():
            return MOTO_SFN["execute_lambda_function_integration"](env, parameters, region, state_credentials)
        context = env.states.context_object.context_object_data
        trigger = f"state machine {context['StateMachine']['Name']}: {context['State']['Name']}"
        response = host.invoke_lambda(str(parameters["FunctionName"]), parameters.get("Payload"), trigger)
        if response.get("FunctionError"):
            payload = json.dumps(response["Payload"], separators=(",", ":"))
            raise lambda_eval_utils.LambdaFunctionErrorException(response["FunctionError"], payload)
        env.stack.append({k: v for k, v in response.items() if k in {"StatusCode", "ExecutedVersion", "Payload"}})

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        host = _host
        if host is None:
            return MOTO_SFN["wait_interval"](self, env, wait_seconds)
        deadline = host.clock.now() + timedelta(seconds=wait_seconds)
        with _parking(env, deadline) as wait:
            while env.is_running():
                wait.wake.clear()
                remaining = (deadline - host.clock.now()).total_seconds()
                if remaining <= 0:
                    return
                wait.wake.wait(remaining)

    def timestamp_wait_seconds(self: Any, env: Any) -> int:
        host = _host
        if host is None:
            return MOTO_SFN["timestamp_wait_seconds"](self, env)
        self.string.eval(env=env)
        text = env.stack.pop()
        timestamp = self._from_timestamp_string(timestamp=text) or _rfc3339_with_offset(text)
        if timestamp is None:
            from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException

            raise FailureEventException(self._create_failure_event(env, text))
        return math.ceil(((timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)) - host.clock.now()).total_seconds())

    def eval_wait_for_task_token(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        with _parking(env):
            return MOTO_SFN["eval_wait_for_task_token"](self, env, *args, **kwargs)

    def start_execution(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        return MOTO_SFN["start_execution"](self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    def terminated(self: Any) -> None:
        MOTO_SFN["terminated"](self)
        host = _host
        if host is not None:
            host.execution_ended(self.execution)

    def stopping(original: Any) -> Any:
        @functools.wraps(original)
        def stop(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(self, *args, **kwargs)
            finally:
                # a waiting Wait of this execution sees it is no longer running (only its own:
                # waking every execution's made stopping n executions cost n^2 wake-ups)
                wake_waits(_execution_id(self))

        return stop

    lambda_eval_utils.execute_lambda_function_integration = execute_lambda_function_integration
    WaitFunction._wait_interval = wait_interval
    Timestamp._get_wait_seconds = timestamp_wait_seconds
    StateTaskServiceCallback._eval_wait_for_task_token = eval_wait_for_task_token
    StepFunctionsParserBackend.start_execution = start_execution
    BaseExecutionWorkerCommunication.terminated = terminated
    ExecutionWorker._get_evaluation_entrypoint = evaluation_entrypoint
    for name in ("set_stop", "set_error", "set_timed_out"):
        setattr(Environment, name, stopping(getattr(Environment, name)))


def _rfc3339_with_offset(text: Any) -> datetime | None:
    """A TimestampPath value with a numeric offset (`2027-01-04T09:00:00+01:00`), which Step
    Functions accepts and moto's pattern (Z only) does not."""
    if not isinstance(text, str) or "T" not in text or text.endswith("Z"):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
