"""moto in server mode on 127.0.0.1, and the declared resources created on it.

Three things make moto behave like AWS where the local stack relies on it:
- DynamoDB requests are serialized per table (`TableLocks`). moto's DynamoDB backend has
  no lock: two concurrent conditional writes can both pass their check, and a failed
  TransactWriteItems rolls back the items it changed, dropping writes that landed
  meanwhile. DynamoDB itself serializes writes per item; moto keeps each table's items,
  indexes and stream shard in the table's own objects, so a request holds the lock of
  every table it names (sorted, so two transactions never wait for each other), and
  requests on other tables run meanwhile. A request naming no table (ListTables, PartiQL)
  and one that adds, drops or reshapes a table holds them all (`TableLocks.exclusive`).
- Stream reads see no rolled-back writes. A failed TransactWriteItems still runs its
  other puts on the live table (adding stream records) before it rolls them back
  (`local.moto_patches`: an undo log, in place, instead of moto's deep copy of the table
  per item); a reader in between would return those phantom records (and the next real
  write reuses their sequence numbers). So a poller holds its table's lock
  (`MotoServer.table_locks.guard([table])`) from GetShardIterator to GetRecords; Streams
  requests themselves do not take it.
- moto's state is process-global: the backends are reset when the server starts. moto
  also keeps every shard iterator it hands out; the local stack drops them once a minute
  (AWS expires them after 15 minutes).

Requests this process sends to its own moto server (the functions' boto3 clients and
provisioning) never go over HTTP (the stream pollers and rule-target drainers do not even
go through boto3: `local.direct` reads the backends for them): a botocore `before-send` hook
(`InProcessDispatch`) hands them to the same moto backend method the server would call,
in the calling thread, with DynamoDB requests under the same table locks. That is how moto's own
`mock_aws` answers boto3 (its `BotocoreStubber`); the request keeps its local URL, so what
moto derives from it (queue URLs) is the same as over HTTP. The HTTP server still serves
other processes (the AWS CLI, boto3 elsewhere) from the same backends.

Lambda's Invoke API (`POST /2015-03-31/functions/NAME/invocations`), in-process or over
HTTP, is answered by `MotoServer.lambda_invoke` when the stack sets it: the declared
function runs in this process (moto would start a Docker container for a function it does
not even have). That is how a schedule's Lambda target is fired from the CLI, and how a
handler's own `lambda.invoke` reaches another declared function.

A write answered in-process wakes whoever watches its table (`InProcessDispatch.watch`:
the stream pollers), so a stream's records are read as soon as they exist instead of
after a poll interval; writes over HTTP are still found by the pollers' periodic poll.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import threading
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import botocore.handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from moto import backend_index, backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import MockRawResponse
from moto.core.exceptions import HTTPException
from moto.core.request import normalize_request
from moto.dynamodbstreams.models import dynamodbstreams_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from . import firehose, moto_patches
from .functions import host_code, local_wait
from .model import LocalModel, QueueDecl, TableDecl, TargetDecl

ACCOUNT_ID = "123456789012"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


#: (function name or ARN, payload, invocation type) -> (status, headers, body): Lambda's Invoke, answered locally.
LambdaInvoke = Callable[[str, bytes, str], tuple[int, dict[str, str], bytes]]
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations$")


class TableLocks:
    """moto's DynamoDB, serialized per table (see the module docstring).

    `guard(names)` holds the lock of each named table (taken in sorted order) and shares the
    backend with other guards; `exclusive` holds the whole backend (every table). Guards are
    reusable context managers, safe to share between threads. Not reentrant."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0  # guards holding the backend shared
        self._exclusive = False
        self._exclusive_waiting = 0  # waiting exclusive holders go first (no starvation)
        self._tables: dict[str, threading.Lock] = {}
        self.exclusive = _Guard(self, None)

    def guard(self, names: Iterable[str]) -> _Guard:
        """A context manager holding these tables' locks (no names: `exclusive`)."""
        names = sorted(set(names))
        return _Guard(self, [self._tables.setdefault(n, threading.Lock()) for n in names]) if names else self.exclusive

    def for_request(self, target: str, body: Any) -> _Guard:
        """The guard a DynamoDB request (`X-Amz-Target`, JSON body) needs."""
        if target.rpartition(".")[2] in _RESHAPING:
            return self.exclusive
        return self.guard(_tables_named(body))

    def _enter(self, exclusive: bool) -> None:
        with self._cond:
            if exclusive:
                self._exclusive_waiting += 1
                while self._exclusive or self._shared:
                    self._cond.wait()
                self._exclusive_waiting -= 1
                self._exclusive = True
            else:
                while self._exclusive or self._exclusive_waiting:
                    self._cond.wait()
                self._shared += 1

    def _exit(self, exclusive: bool) -> None:
        with self._cond:
            if exclusive:
                self._exclusive = False
            else:
                self._shared -= 1
            self._cond.notify_all()


class _Guard:
    """Holds some tables of a `TableLocks` (None: all of them) while inside `with`."""

    def __init__(self, owner: TableLocks, locks: list[threading.Lock] | None) -> None:
        self.owner, self.locks = owner, locks

    def __enter__(self) -> _Guard:
        self.owner._enter(self.locks is None)
        taken = 0
        try:
            for lock in self.locks or ():
                lock.acquire()
                taken += 1
        except BaseException:
            for lock in reversed((self.locks or [])[:taken]):
                lock.release()
            self.owner._exit(self.locks is None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for lock in reversed(self.locks or ()):
            lock.release()
        self.owner._exit(self.locks is None)


#: DynamoDB operations that add, drop or reshape a table: they hold every table.
_RESHAPING = frozenset(
    {
        "CreateTable",
        "DeleteTable",
        "UpdateTable",
        "RestoreTableFromBackup",
        "RestoreTableToPointInTime",
        "ImportTable",
        "CreateGlobalTable",
        "UpdateGlobalTable",
    }
)


class _SerializedDynamoDB:
    """WSGI middleware: DynamoDB requests under their tables' locks (see the module
    docstring); Lambda Invoke requests go to the server's `lambda_invoke` when it is set."""

    def __init__(self, app: Callable[..., Iterable[bytes]], locks: TableLocks, server: MotoServer | None = None) -> None:
        self.app = app
        self.locks = locks
        self.server = server

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        invoke = getattr(self.server, "lambda_invoke", None)
        found = _INVOKE_PATH.match(environ.get("PATH_INFO", "")) if invoke is not None and environ.get("REQUEST_METHOD") == "POST" else None
        if found is not None:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            status, headers, answer = invoke(
                unquote(found["function"]), body, environ.get("HTTP_X_AMZ_INVOCATION_TYPE") or "RequestResponse"
            )
            start_response(f"{status} {HTTPStatus(status).phrase}", [*headers.items(), ("Content-Length", str(len(answer)))])
            return [answer]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB_"):  # not DynamoDBStreams_: pollers hold the lock around those
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)  # read again by moto
            with self.locks.for_request(target, body):
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


#: DynamoDB operations that may add stream records.
_WRITES = frozenset(f"DynamoDB_20120810.{op}" for op in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"))


class InProcessDispatch:
    """botocore `before-send` hook: a request to `base_url` is answered by moto's backend
    method in this thread instead of over HTTP (see the module docstring)."""

    def __init__(self, base_url: str, table_locks: TableLocks, server: MotoServer | None = None) -> None:
        self.prefix = base_url.rstrip("/") + "/"
        self.table_locks = table_locks
        self.server = server
        self.answered = 0  # requests answered in-process (tests check the mechanism)
        self._methods: dict[tuple[str, str], Callable[..., Any] | None] = {}
        self._watchers: dict[str, list[threading.Event]] = {}  # table name -> set after each write to it

    def watch(self, table_name: str) -> threading.Event:
        """An event set after every successful in-process write to `table_name` (the caller clears it)."""
        wake = threading.Event()
        self._watchers.setdefault(table_name, []).append(wake)
        return wake

    def __call__(self, request: AWSPreparedRequest) -> AWSResponse | None:
        with host_code():  # moto's code, in the calling (maybe a function's) thread
            return self._answer(request)

    def _answer(self, request: AWSPreparedRequest) -> AWSResponse | None:
        invoke = getattr(self.server, "lambda_invoke", None)
        if invoke is not None and request.method == "POST" and (found := _INVOKE_PATH.match(urlsplit(request.url).path)):
            body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
            status, headers, answer = invoke(
                unquote(found["function"]), body, _header(request, "X-Amz-Invocation-Type") or "RequestResponse"
            )
            self.answered += 1
            return AWSResponse(request.url, status, headers, MockRawResponse(answer))  # type: ignore[arg-type]
        target = _header(request, "X-Amz-Target")
        method = self._method(request, target)
        if method is None:
            return None  # a service or path moto's backends do not route: over HTTP
        guard = self.table_locks.for_request(target, request.body) if target.startswith("DynamoDB_") else None
        if guard is not None:
            with local_wait():  # behind other invocations' requests on these tables: not this function's run time
                guard.__enter__()
        try:
            normalized = normalize_request(request)
            status, headers, body = method(normalized, request.url, normalized.headers)
        except HTTPException as exc:
            status, headers, body = exc.code, exc.get_headers(), exc.get_body()
        except Exception as exc:  # what moto's server answers for a crash in a backend
            status, headers = 500, {"Content-Type": "application/json"}
            body = json.dumps({"__type": "InternalFailure", "message": f"moto: {type(exc).__name__}: {exc}"})
        finally:
            if guard is not None:
                guard.__exit__(None, None, None)
        self.answered += 1
        if self._watchers and target in _WRITES and int(status) == 200:
            for table in _tables_named(request.body):
                for wake in self._watchers.get(table, ()):
                    wake.set()
        return AWSResponse(request.url, int(status), headers, MockRawResponse(body))  # type: ignore[arg-type]

    def _method(self, request: AWSPreparedRequest, target: str) -> Callable[..., Any] | None:
        scope = _CREDENTIAL_SCOPE.search(_header(request, "Authorization"))
        if scope is None:
            return None
        region, service = scope.groups()
        host = f"{service}.{region}.amazonaws.com"
        if service == "dynamodb" and target.startswith("DynamoDBStreams"):
            host = f"streams.dynamodb.{region}.amazonaws.com"
        path = urlsplit(request.url).path or "/"
        key = (host, path)
        if key not in self._methods:
            self._methods[key] = _backend_method(f"https://{host}{path}")
        return self._methods[key]


def _tables_named(body: Any) -> set[str]:
    """The tables a DynamoDB request names (by name or ARN): `TableName`, the keys of a
    batch's `RequestItems`, the tables of `TransactItems`."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return set()
    names = {request.get("TableName"), *request.get("RequestItems", {})}
    names |= {op.get("TableName") for item in request.get("TransactItems", ()) for op in item.values() if isinstance(op, dict)}
    return {n.rpartition(":table/")[2] if isinstance(n, str) and n.startswith("arn:") else n for n in names if isinstance(n, str)}


def _header(request: AWSPreparedRequest, name: str) -> str:
    value = request.headers.get(name) or ""
    return value.decode() if isinstance(value, bytes) else value


def _backend_method(aws_url: str) -> Callable[..., Any] | None:
    """The moto response method that answers `aws_url` (what moto's BotocoreStubber picks)."""
    for service, pattern in backend_index.backend_url_patterns:
        if pattern.match(aws_url):
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            regions = backend_dict[DEFAULT_ACCOUNT_ID]
            backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
            return next((m for url, m in backend.urls.items() if re.compile(url).match(aws_url)), None)
    return None


_dispatchers: dict[str, InProcessDispatch] = {}  # moto base URL/ -> its dispatcher (one per running server)


def _before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
    for prefix, dispatch in list(_dispatchers.items()):
        if request.url.startswith(prefix):
            return dispatch(request)
    return None


# every botocore session created from now on (boto3's default session included) asks the hook;
# botocore calls every before-send handler (the first answer wins), so it is registered once:
# a session created before this import talks HTTP to moto, which answers the same
botocore.handlers.BUILTIN_HANDLERS.append(("before-send", _before_send))


class MotoServer(ThreadedMotoServer):
    """`ThreadedMotoServer` with DynamoDB requests serialized per table; `port=0` picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(ip_address=host, port=port, verbose=False)
        self.table_locks = TableLocks()
        #: every table at once (the whole DynamoDB backend), as a context manager
        self.dynamodb_lock = self.table_locks.exclusive
        self.lambda_invoke: LambdaInvoke | None = None  # set by the local stack: declared functions run in-process
        moto_patches.install()  # memory stays flat (no instance tracking, no table copies)

    def _server_entry(self) -> None:  # same as moto's, with the middleware
        app = _SerializedDynamoDB(DomainDispatcherApplication(create_backend_app), self.table_locks, self)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()

    def start(self) -> None:
        super().start()
        self.in_process = InProcessDispatch(self.url, self.table_locks, self)
        _dispatchers[self.in_process.prefix] = self.in_process
        # moto's Step Functions interpreter calls AWS services at http://localhost:$MOTO_PORT
        _dispatchers[self.in_process.prefix.replace("127.0.0.1", "localhost")] = self.in_process

    def stop(self) -> None:
        dispatch = getattr(self, "in_process", None)
        if dispatch is not None:
            _dispatchers.pop(dispatch.prefix, None)
            _dispatchers.pop(dispatch.prefix.replace("127.0.0.1", "localhost"), None)
        super().stop()

    @property
    def url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    def forget_shard_iterators(self, stream_arn: str | None = None) -> None:
        """Drop the shard iterators moto keeps for ever (two per poll: a slow leak over hours):
        those of `stream_arn`, holding its table's lock (`table_locks.guard`), or all of them,
        holding `dynamodb_lock`; so no poller is between its two calls."""
        for account in dynamodbstreams_backends.values():
            for backend in account.values():
                if stream_arn is None:
                    backend.shard_iterators.clear()
                    continue
                for arn in [a for a in backend.shard_iterators if a.startswith(stream_arn + "|")]:
                    del backend.shard_iterators[arn]

    def reset(self) -> None:
        """Drop every resource moto holds in this process (its state is global)."""
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).read()


def quiet_moto_logs() -> None:
    """moto's server logs every request through werkzeug; keep only problems."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # the interpreter logs every failed state with its whole parse tree; executions report their errors themselves
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


@dataclass
class Clients:
    """boto3 clients on the local moto server (thread-safe, shared), all from one session:
    botocore loads its endpoint data and service models once per session."""

    endpoint: str
    region: str
    _cache: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _session: Any = None

    def __call__(self, service: str) -> Any:
        with self._lock:  # a session is not safe to create clients from concurrently
            if self._session is None:
                self._session = boto3.session.Session()
            if service not in self._cache:
                self._cache[service] = self._session.client(
                    service,
                    endpoint_url=self.endpoint,
                    region_name=self.region,
                    aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                    config=Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=50),
                )
            return self._cache[service]


@dataclass(frozen=True)
class Provisioned:
    """Names and URLs of what was created on moto."""

    queue_urls: dict[str, str]  # queue name -> URL
    queue_arns: dict[str, str]  # queue name -> ARN
    target_queues: dict[str, str]  # target logical name -> URL of its local delivery queue
    stream_arns: dict[str, str]  # table name -> moto's stream ARN
    buckets: tuple[str, ...] = ()  # bucket names


def provision(model: LocalModel, clients: Clients) -> Provisioned:
    """Create the model's tables, queues, buses, archives, rules, targets, buckets, delivery
    streams and secrets on moto."""
    for table in model.tables:
        _create_table(clients("dynamodb"), table)
    _create_buckets_and_streams(model, clients)
    queue_urls, queue_arns = _create_queues(clients("sqs"), model.queues, _stand_in_queues(model))
    events = clients("events")
    for bus in model.buses:
        if bus.name != "default":
            events.create_event_bus(Name=bus.name)
    bus_arns = {b["Name"]: b["Arn"] for b in events.list_event_buses()["EventBuses"]}
    for archive in model.archives:
        kwargs: dict[str, Any] = {
            "ArchiveName": archive.name,
            "EventSourceArn": bus_arns[archive.bus_name],
            "RetentionDays": archive.retention_days,
        }
        if archive.event_pattern:
            kwargs["EventPattern"] = archive.event_pattern
        events.create_archive(**kwargs)
    for rule in model.rules:
        kwargs = {"Name": rule.name, "EventBusName": rule.bus_name, "State": "ENABLED" if rule.enabled else "DISABLED"}
        if rule.event_pattern:
            kwargs["EventPattern"] = rule.event_pattern
        if rule.schedule:
            kwargs["ScheduleExpression"] = rule.schedule
        events.put_rule(**kwargs)
    target_queues: dict[str, str] = {}
    for target in model.targets:
        if not target.rule.enabled or target.rule.schedule:
            continue  # moto would treat a schedule rule as match-all; schedules are not fired locally
        # a function or state machine (an undeclared one fails delivery: the drainer's DLQ path) or a
        # delivery stream: moto delivers to none of them
        if (
            target.function is not None
            or ":lambda:" in target.arn
            or target.state_machine is not None
            or ":states:" in target.arn
            or target.delivery_stream is not None
            or target.api_destination is not None
        ):
            url, arn = _delivery_queue(clients("sqs"), target)
            target_queues[target.logical] = url
        elif target.queue is not None:
            arn = queue_arns[target.queue.name]
        else:
            continue
        events.put_targets(Rule=target.rule.name, EventBusName=target.rule.bus_name, Targets=[{"Id": target.target_id, "Arn": arn}])
    _create_workflows(model, clients)
    for secret in model.secrets:
        extra = {"SecretString": secret.value} if secret.value is not None else {}
        clients("secretsmanager").create_secret(Name=secret.name, **extra)
    logs = clients("logs")
    for name in model.log_groups:
        logs.create_log_group(logGroupName=name)
    ddb = clients("dynamodb")
    stream_arns = {t.name: ddb.describe_table(TableName=t.name)["Table"]["LatestStreamArn"] for t in model.tables if t.stream_view_type}
    return Provisioned(
        queue_urls=queue_urls,
        queue_arns=queue_arns,
        target_queues=target_queues,
        stream_arns=stream_arns,
        buckets=tuple(b.name for b in model.buckets),
    )


def _create_buckets_and_streams(model: LocalModel, clients: Clients) -> None:
    """The declared buckets (versioning as declared; stand-ins for buckets a stream writes to
    but this stack does not own) and extended S3 delivery streams; moto's Firehose then
    writes the AWS object layout (`local.firehose`)."""
    s3 = clients("s3")
    region = s3.meta.region_name
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    declared = {b.name for b in model.buckets}
    for name in sorted(declared | {s.bucket for s in model.delivery_streams}):
        s3.create_bucket(Bucket=name, **location)
    for bucket in model.buckets:
        if bucket.versioned:
            s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
    if model.delivery_streams:
        firehose.install()
    for stream in model.delivery_streams:
        clients("firehose").create_delivery_stream(
            DeliveryStreamName=stream.name,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration=dict(stream.s3_configuration),
        )


def _create_workflows(model: LocalModel, clients: Clients) -> None:
    """State machines (moto's ASL interpreter must be on: `moto_patches.install_step_functions`),
    schedule groups and schedules, under their declared names."""
    sfn = clients("stepfunctions")
    for machine in model.state_machines:
        sfn.create_state_machine(
            name=machine.name,
            definition=machine.definition,
            roleArn=machine.role_arn or f"arn:aws:iam::{ACCOUNT_ID}:role/local-stack",
            type=machine.type,
        )
    scheduler = clients("scheduler")
    for group in sorted({*model.schedule_groups, *(s.group for s in model.schedules)} - {"default"}):  # undeclared: a stand-in
        scheduler.create_schedule_group(Name=group)
    for schedule in model.schedules:
        kwargs: dict[str, Any] = {
            "Name": schedule.name,
            "GroupName": schedule.group,
            "ScheduleExpression": schedule.expression,
            "ScheduleExpressionTimezone": schedule.timezone,
            "FlexibleTimeWindow": dict(schedule.flexible_window),
            "Target": dict(schedule.target),
            "State": "ENABLED" if schedule.enabled else "DISABLED",
        }
        scheduler.create_schedule(**kwargs)


def _create_table(ddb: Any, table: TableDecl) -> None:
    def keys(hash_key: str | None, range_key: str | None) -> list[dict[str, str]]:
        schema = [{"AttributeName": hash_key, "KeyType": "HASH"}] if hash_key else []
        if range_key:
            schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
        return schema

    def projection(index: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"ProjectionType": index.projection_type}
        if index.non_key_attributes:
            out["NonKeyAttributes"] = list(index.non_key_attributes)
        return out

    kwargs: dict[str, Any] = {
        "TableName": table.name,
        "KeySchema": keys(table.hash_key, table.range_key),
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in table.attributes],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if table.stream_view_type:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view_type}
    if table.global_indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            {"IndexName": g.name, "KeySchema": keys(g.hash_key, g.range_key), "Projection": projection(g)} for g in table.global_indexes
        ]
    if table.local_indexes:
        kwargs["LocalSecondaryIndexes"] = [
            {"IndexName": g.name, "KeySchema": keys(table.hash_key, g.range_key), "Projection": projection(g)} for g in table.local_indexes
        ]
    ddb.create_table(**kwargs)
    if table.ttl_attribute:
        ddb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute})


def _stand_in_queues(model: LocalModel) -> list[QueueDecl]:
    """Queues referenced as destinations but owned elsewhere (plain queues locally)."""
    declared = {q.name for q in model.queues}
    names = (
        {t.dead_letter_queue for t in model.targets}
        | {f.on_failure for f in model.functions}
        | {m.on_failure for m in model.stream_mappings}
        | {p.on_failure for p in model.pipes}
        | {(s.target.get("DeadLetterConfig") or {}).get("Arn", "").rsplit(":", 1)[-1] or None for s in model.schedules}
    )
    return [
        QueueDecl(logical=n, name=n, declared_arn="", attributes={}, dead_letter_queue=None, max_receive_count=None)
        for n in sorted(names - declared - {None})
    ]


def _create_queues(sqs: Any, declared: Iterable[QueueDecl], stand_ins: Iterable[QueueDecl]) -> tuple[dict[str, str], dict[str, str]]:
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    pending = [*declared, *stand_ins]
    while pending:  # dead-letter queues before the queues that redrive to them
        ready = [q for q in pending if q.dead_letter_queue is None or q.dead_letter_queue in arns]
        if not ready:
            raise ValueError(f"queues {[q.name for q in pending]} redrive to queues that are not declared")
        for q in ready:
            attrs = dict(q.attributes)
            if q.dead_letter_queue:
                attrs["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": arns[q.dead_letter_queue], "maxReceiveCount": str(q.max_receive_count)}
                )
            urls[q.name] = sqs.create_queue(QueueName=q.name, Attributes=attrs)["QueueUrl"]
            arns[q.name] = sqs.get_queue_attributes(QueueUrl=urls[q.name], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            pending.remove(q)
    return urls, arns


def _delivery_queue(sqs: Any, target: TargetDecl) -> tuple[str, str]:
    """The local queue standing in for a Lambda target: moto delivers matched events into it."""
    digest = hashlib.sha1(target.logical.encode()).hexdigest()[:8]
    name = f"local-target-{target.logical[:50]}-{digest}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn
