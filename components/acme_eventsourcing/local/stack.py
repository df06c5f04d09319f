"""`LocalStack`: a Pulumi program's resources on moto, its handlers in this process.

    with LocalStack.from_program("path/to/project", "dev") as stack:   # or .start() / .stop()
        client = stack.client("ana", "admin")       # an ApiClient calling as ana
        client.post("/orders", {...})
        stack.settle()                               # every effect of what was written landed

`LocalStack.from_programs([platform, service], "dev")` runs several programs on one moto:
the platform first, then the services reading its real outputs through their stack
references (`program.evaluate_programs`, `program.merge`).

`LocalStack(recorded_stack=...)` runs a given (e.g. edited) `RecordedStack` instead of
evaluating the program. `LocalStack(today=date(...))` simulates that date in the functions
that have a clock seam (`clocks.py`). moto keeps its state per process, so one local stack
runs per process at a time.

Step Functions and Scheduler (`local.moto_patches`, `local.schedules`): state machines run
on moto's ASL interpreter with their Lambda tasks in this process; schedules fire on demand
(`stack.fire_schedule(name)`) or when the stack clock passes an occurrence
(`stack.advance_clock(by=timedelta(days=3))`, which also wakes Wait states whose time has
come); `stack.executions(machine)` lists executions with their status and output.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from botocore.exceptions import ClientError

from acme_eventsourcing.testing import RecordedStack
from acme_eventsourcing.testing.stack_model import StackModel

from . import moto_patches, schedules
from .api_destinations import ApiDestinationTarget, LocalReceiver, RateLimiter, is_local
from .backend import ACCOUNT_ID, FAKE_CREDENTIALS, Clients, MotoServer, Provisioned, provision, quiet_moto_logs
from .client import ApiClient
from .clocks import LocalClock, set_clock
from .direct import DirectSQS, DirectStreams
from .firehose import FirehoseTarget, problem
from .functions import FunctionRuntime, Invocation, LoadedFunction
from .http_api import HTTP_TRIGGER, ApiServer
from .journal import Journal, JournalError, JournalSource, caught_up, event_stores, journal_writer, replay, stream_end
from .jwks import LocalJwks
from .model import DELIVERY_STREAM_NOTES, EMULATED, IGNORED_SETTINGS, FunctionDecl, LocalModel, StateMachineDecl, build_model
from .pipes import PipeTarget
from .program import Program, ProgramError, evaluate_programs, merge
from .statedir import STATE_DIR_ENV, state_dir_for  # noqa: F401 - their home was here: callers import them from the stack
from .streams import Delays, StreamPoller, StreamSource
from .targets import AsyncInvoker, TargetDrainer
from .tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, Issuer, identity_claim, load_key
from .websocket import WS_TRIGGER, WebSocketServer
from .wsclient import WebSocketClient

DEFAULT_DELAYS = Delays()


class LocalStackError(RuntimeError):
    """The local stack cannot start (the message says why)."""


class LocalStack:
    """A Pulumi program run locally: its tables, queues, bus and rules on moto (server mode),
    its Lambda handlers in this process, its HTTP APIs on 127.0.0.1 with a local JWT issuer,
    its WebSocket APIs on 127.0.0.1 as real WebSocket endpoints (`local.websocket`).

    Start with `.start()` (or `with`); then `.api_url`, `.websocket_url`, `.token(...)`, `.client(...)`,
    `.settle()`, `.invocations_of(...)`, `.stop()`. `program` is the Pulumi project
    directory (`Pulumi.yaml`, `Pulumi.<stack>.yaml`, the program); `programs` several of
    them, run in order as one system (state then lives with the last); `recorded_stack` runs an
    already recorded (e.g. edited) stack instead. Options: `port` (0 = any free port) of the
    first API, `config_overrides` ({"project:key": value}) and `stack_references` (real
    outputs of referenced stacks; missing ones are faked and listed in `fake_outputs`),
    `today` (a simulated date for functions with a clock seam), `persist`/`fresh`/`state_dir`
    (keep the event stores in a journal across starts), `delays` (poll interval and retry
    back-off), `log` (where the banner and the invocation log go; None = nowhere).
    """

    _running: LocalStack | None = None
    _running_lock = threading.Lock()

    def __init__(
        self,
        stack: str = "dev",
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        program: str | os.PathLike[str] | None = None,
        programs: Sequence[str | os.PathLike[str]] | None = None,
        recorded_stack: RecordedStack | None = None,
        config_overrides: Mapping[str, Any] | None = None,
        stack_references: Mapping[str, Mapping[str, Any]] | None = None,
        log: Callable[[str], None] | None = print,
        delays: Delays = DEFAULT_DELAYS,
        async_workers: int = 2,
        state_dir: Path | None = None,
        today: date | None = None,
        persist: bool = False,
        fresh: bool = False,
        token_command: str | None = None,
        try_path: str | None = None,
    ) -> None:
        self.stack_name = stack
        self.port, self.host = port, host
        if programs and program is not None:
            raise LocalStackError("give program= or programs=, not both")
        #: The Pulumi projects run, in order (the last one's directory keeps the state).
        self.programs: tuple[Path, ...] = tuple(Path(p).resolve() for p in programs or ((program,) if program is not None else ()))
        self.program = self.programs[-1] if self.programs else None
        self.evaluated: list[Program] = []  # each program's own recorded run, once started
        # the banner's hints: how to mint a token (a command after the interpreter) and a path to try
        self.token_command = token_command or (
            f"-m acme_eventsourcing.local token --program {self.program} --stack {stack} --sub alice" if self.program is not None else None
        )
        self.try_path = try_path
        self._recorded = recorded_stack
        self._config_overrides, self._stack_references = config_overrides, stack_references
        self._log_sink = log
        self.delays, self.async_workers = delays, async_workers
        self.state_dir = state_dir if state_dir is not None else state_dir_for(self.program)
        self.today = today
        # the stack clock: Wait states, schedules and (once simulated) the functions' clock seams read it
        self.clock = LocalClock(today)
        self._moto_port_before = os.environ.get("MOTO_PORT")  # put back on stop
        self.fired: list[schedules.Fired] = []  # every schedule occurrence fired, in order
        self._started_at: datetime | None = None  # clock time at start: rate() schedules count from it
        # persist: keep the event store(s) in `state_dir/<stack>/events.jsonl` and replay them
        # on start (`local.journal`); fresh: set an existing journal aside first
        self.persist, self.fresh = persist, fresh
        self.journal: Journal | None = None
        self.journal_pollers: list[StreamPoller] = []
        self.replayed = 0
        self._journal_stop = threading.Event()
        self._replay_through: dict[str, int] = {}  # event store logical -> last sequence number replay wrote
        self._detached: list[tuple[str, str, list[dict[str, Any]]]] = []  # (rule, bus, targets) held back during replay
        self._journal_notes: list[str] = []
        self.simulated: list[str] = []  # functions whose clock shows `today`
        self.fake_outputs: tuple[tuple[str, str, Any], ...] = ()
        self.invocations: list[Invocation] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = False
        self._stopped = False
        self.model: LocalModel | None = None
        self.stack_model: StackModel | None = None
        self.recorded: RecordedStack | None = None
        self.moto: MotoServer | None = None
        self.clients: Clients | None = None
        self.region = "us-east-1"
        self.provisioned: Provisioned | None = None
        self.runtime: FunctionRuntime | None = None
        self.invokers: dict[str, AsyncInvoker] = {}
        self.drainers: list[TargetDrainer] = []
        #: API destination targets (`local.api_destinations`) and the receiver standing in for endpoints outside this machine
        self.destination_targets: dict[str, ApiDestinationTarget] = {}
        self.receiver: LocalReceiver | None = None
        self.pollers: list[StreamPoller] = []
        self.apis: list[ApiServer] = []
        self.websockets: list[WebSocketServer] = []
        self.jwks: LocalJwks | None = None  # the issuers' JWKS for Lambda authorizers (local.jwks)
        self._issuers: dict[tuple[str, tuple[str, ...]], Issuer] = {}

    @classmethod
    def from_program(cls, program: str | os.PathLike[str], stack: str = "dev", **options: Any) -> LocalStack:
        """A local stack of the Pulumi project at `program` for `stack` (not started yet:
        `with LocalStack.from_program(...) as stack:` starts and stops it). `options` are
        those of `LocalStack(...)`."""
        return cls(stack, program=program, **options)

    @classmethod
    def from_programs(cls, programs: Sequence[str | os.PathLike[str]], stack: str = "dev", **options: Any) -> LocalStack:
        """A local stack running several Pulumi projects for `stack` on one moto, in order
        (e.g. `[platform_dir, service_dir]`): a later program's stack reference to an earlier
        one reads its real outputs. State lives with the last program."""
        return cls(stack, programs=programs, **options)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        with LocalStack._running_lock:
            if LocalStack._running is not None:
                raise LocalStackError("a local stack is already running in this process (moto's state is per process); stop it first")
            LocalStack._running = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        t0 = time.perf_counter()
        if self._recorded is None:
            if not self.programs:
                raise LocalStackError("nothing to run: give program= (a Pulumi project directory) or recorded_stack=")
            try:
                self.evaluated = evaluate_programs(
                    self.stack_name,
                    programs=self.programs,
                    config_overrides=self._config_overrides,
                    stack_references=self._stack_references,
                )
                self._recorded = merge(self.evaluated)
            except ProgramError as exc:
                raise LocalStackError(str(exc)) from None
            self.fake_outputs = tuple(f for p in self.evaluated for f in p.fake_outputs)
        self.recorded = self._recorded
        self.stack_model = StackModel(self._recorded)  # one index of the recorded stack, for the model and the journal
        self.model = model = build_model(self._recorded, code_cache=self.state_dir / "code", model=self.stack_model)
        region = str(self._recorded.config.get("aws:region") or "us-east-1")
        self._key = load_key(self.state_dir)

        quiet_moto_logs()
        self.moto = MotoServer(self.host, 0)
        self.moto.start()
        self._started = True
        self.moto.reset()
        self.clients = clients = Clients(self.moto.url, region)
        self.region = region
        self.moto.lambda_invoke = self._lambda_api  # Lambda's Invoke API runs the declared functions here
        moto_patches.install_step_functions(self)  # before provisioning: the state machines go to the interpreter's backend
        # the interpreter's service integrations (events:putEvents, dynamodb:putItem, aws-sdk:*) call localhost:$MOTO_PORT
        os.environ["MOTO_PORT"] = str(self.moto.get_host_and_port()[1])
        self._started_at = self.clock.now()
        self.provisioned = provision(model, clients)
        if self.persist:
            self._open_journal()

        lambda_env = {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        }
        self.runtime = FunctionRuntime(
            model.functions, lambda_environment=lambda_env, on_invocation=self._record, on_error=self._error, on_output=self._output
        )
        self.runtime.start()
        if self.today is not None:
            self.simulated = set_clock(self.runtime.functions.values(), self.clock)

        for fn in {t.function.logical: t.function for t in model.targets if t.function is not None}.values():
            self.invokers[fn.logical] = AsyncInvoker(
                fn,
                runtime=self.runtime,
                send=self._send,
                workers=self.async_workers,
                delays=self.delays,
                stop=self._stop,
                on_error=self._error,
            )
        self._api_destination_targets(model)
        for target in model.targets:
            url = self.provisioned.target_queues.get(target.logical)
            if url is None:
                continue
            invoker = self.invokers.get(target.function.logical) if target.function else None
            destination = self.destination_targets.get(target.logical)
            self.drainers.append(
                TargetDrainer(
                    target,
                    queue_url=url,
                    sqs_client=DirectSQS(clients("sqs")),  # AWS's own delivery: no API call of the account's (local.direct)
                    invoker=invoker,
                    send=self._send,
                    stop=self._stop,
                    on_error=self._error,
                    start_execution=self._start_execution if target.state_machine is not None or ":states:" in target.arn else None,
                    deliver=FirehoseTarget(target.delivery_stream.name, clients("firehose")).deliver
                    if target.delivery_stream
                    else destination.submit
                    if destination is not None
                    else None,
                )
            )
        runtime = self.runtime
        for mapping in model.stream_mappings:
            if mapping.enabled:
                logical = mapping.function.logical
                self.pollers.append(
                    self._poller(
                        mapping,
                        lambda batch, fn=logical: runtime.invoke(fn, {"Records": batch}, trigger=f"stream {len(batch)} record(s)"),
                        mapping.function.arn,
                    )
                )
        for pipe in model.pipes:
            enrich = (
                (lambda batch, fn=pipe.enrichment.logical: runtime.invoke(fn, batch, trigger=f"enrichment {len(batch)} record(s)"))
                if pipe.enrichment
                else None
            )
            target = PipeTarget(pipe, events_client=clients("events"), on_invocation=self._record, enrich=enrich)
            self.pollers.append(self._poller(pipe, target.deliver, pipe.arn))
        for i, api in enumerate(model.apis):
            self.apis.append(
                ApiServer(
                    api,
                    host=self.host,
                    port=self.port if i == 0 else 0,
                    runtime=self.runtime,
                    issuer_for=self._issuer,
                    account_id=ACCOUNT_ID,
                    on_request=self._log,
                )
            )
        if any(r.authorizer is not None for a in model.websocket_apis for r in a.routes):
            issuers = {r.authorizer.issuer for a in model.apis for r in a.routes if r.authorizer is not None} | {LOCAL_ISSUER}
            self.jwks = LocalJwks(issuers, (f.environment for f in model.functions), self._issuer(LOCAL_ISSUER, (LOCAL_AUDIENCE,)).jwks())
            self.jwks.install()
        for ws_api in model.websocket_apis:
            self.websockets.append(
                WebSocketServer(
                    ws_api, host=self.host, port=0, runtime=self.runtime, region=region, account_id=ACCOUNT_ID, on_log=self._log
                )
            )
        self._point_functions_at_local_apis()
        for worker in [*self.invokers.values(), *self.destination_targets.values()]:
            worker.start()
        for thread in [*self.drainers, *self.pollers, *self.journal_pollers]:
            thread.start()
        self._finish_replay()  # the API opens once the replayed events are published
        for thread in self.apis:
            thread.start()
        for ws in self.websockets:
            ws.start()
        self._write_state()
        self._banner(time.perf_counter() - t0)

    def _api_destination_targets(self, model: LocalModel) -> None:
        """A delivery worker per API destination target; one rate limiter per destination,
        one receiver (recording into `<state dir>/<stack>.received.jsonl`) for them all."""
        if not model.api_destinations:
            return
        self.receiver = LocalReceiver(self.state_dir / f"{self.stack_name}.received.jsonl")
        limiters = {d.arn: RateLimiter(d.rate_per_second) for d in model.api_destinations}
        for target in model.targets:
            if target.api_destination is not None and target.rule.enabled:
                self.destination_targets[target.logical] = ApiDestinationTarget(
                    target,
                    limiter=limiters[target.api_destination.arn],
                    receiver=self.receiver,
                    send=self._send,
                    delays=self.delays,
                    stop=self._stop,
                    on_error=self._error,
                    on_delivery=self._log,
                )

    def received(self, destination: str | None = None) -> list[dict[str, Any]]:
        """The requests the built-in receiver took for API destinations whose endpoint is not
        local (e.g. Slack), oldest first: `destination` (a logical name or a suffix of it, e.g.
        `"slack-destination"`) keeps one destination's. Each: `at`, `destination`, `method`, `url`,
        `headers`, `body` (text) and `json` (the body parsed, or None)."""
        if self.receiver is None:
            return []
        return [r for r in self.receiver.snapshot() if destination is None or r["destination"].endswith(destination)]

    def _point_functions_at_local_apis(self) -> None:
        """A function environment value that is an API's recorded endpoint (the mock engine's
        `https://<id>.execute-api...`, e.g. `API_URL`) becomes that API's local URL."""
        assert self.runtime is not None
        local = {server.api.endpoint: server.url for server in self.apis if server.api.endpoint}
        for fn in self.runtime.functions.values():
            fn.environment.update({k: local[v] for k, v in fn.environment.items() if v in local})

    def _poller(
        self,
        source: StreamSource,
        deliver: Callable[[list[dict[str, Any]]], Invocation],
        target_arn: str,
        stop: threading.Event | None = None,
        wake_on_writes: bool = True,
    ) -> StreamPoller:
        assert self.moto is not None and self.clients is not None and self.provisioned is not None
        stream_arn = self.provisioned.stream_arns[source.table.name]  # type: ignore[attr-defined]
        return StreamPoller(
            source,
            deliver=deliver,
            target_arn=target_arn,
            stream_arn=stream_arn,
            streams_client=DirectStreams(self.clients("dynamodbstreams")),  # Lambda's own poller (local.direct)
            read_lock=self.moto.table_locks.guard([source.table.name]),  # type: ignore[attr-defined]
            forget_iterators=functools.partial(self.moto.forget_shard_iterators, stream_arn),
            sqs_client=self.clients("sqs"),
            failure_queue_url=self.provisioned.queue_urls.get(source.on_failure) if source.on_failure else None,
            stop=stop or self._stop,
            delays=self.delays,
            on_error=self._error,
            # a write to the table wakes the poller (`local.backend`); the poll interval is the fallback
            wake=self.moto.in_process.watch(source.table.name) if wake_on_writes else None,  # type: ignore[attr-defined]
        )

    # ------------------------------------------------------------------ the journal (local.journal)
    def _open_journal(self) -> None:
        """Load the journal into the fresh event store tables, holding back every rule target
        that is not a projection until `_finish_replay`; then start journaling."""
        assert self.model is not None and self.clients is not None and self.provisioned is not None and self._recorded is not None
        stores = event_stores(self._recorded, self.model, self.stack_model)
        tables = {t.logical: t for t in self.model.tables if t.logical in stores}
        path = self.state_dir / self.stack_name / "events.jsonl"
        shown = _shown(path)
        if not tables:
            self._journal_notes.append("events     not kept: the program declares no EventSourcedService event store")
            return
        journal = Journal(path, project=self._recorded.project, stack=self.stack_name, tables=list(tables.values()))
        if self.fresh and (previous := journal.set_aside()) is not None:
            self._journal_notes.append(f"events     --fresh: the previous journal was moved to {_shown(previous)}")
        try:
            loaded = journal.open()
        except JournalError as exc:
            raise LocalStackError(str(exc)) from None
        self.journal = journal
        if loaded.torn_bytes:
            self._journal_notes.append(
                f"warning    {shown}: its last line was cut off ({loaded.torn_bytes} bytes; a crash while writing?): skipped and cut"
            )
        if loaded.records:
            projections = {t for targets in stores.values() for t in targets}
            self._hold_back_targets(projections)
            self.replayed = replay(self.clients("dynamodb"), tables, loaded.records)
        streams = self.clients("dynamodbstreams")
        for table in tables.values():
            arn = self.provisioned.stream_arns[table.name]
            through = stream_end(streams, arn) if loaded.records else 0
            self._replay_through[table.logical] = through
            self.journal_pollers.append(
                self._poller(
                    JournalSource(table, logical=f"journal:{table.logical}"),
                    journal_writer(journal, table, through),
                    arn,
                    self._journal_stop,
                    wake_on_writes=False,  # the journal keeps its interval: one fsync per poll that finds records
                )
            )
        kept = f"{self.replayed} replayed from {shown}" if loaded.records else f"none yet; kept in {shown}"
        self._journal_notes.insert(0, f"events     {kept} (tables {', '.join(t.name for t in tables.values())}); --fresh starts empty")
        if loaded.records:
            self._journal_notes.append(
                "replay     through the publisher to the projections (read models rebuilt); "
                + (f"held back from {len(self._detached)} other rule target(s): not notified again" if self._detached else "")
            )

    def _hold_back_targets(self, projections: set[str]) -> None:
        """Detach every rule target but the projections from its rule on moto (a targeted replay)."""
        assert self.model is not None and self.clients is not None
        events = self.clients("events")
        for target in self.model.targets:
            if target.logical in projections:
                continue
            rule = target.rule
            listed = events.list_targets_by_rule(Rule=rule.name, EventBusName=rule.bus_name)["Targets"]
            held = [t for t in listed if t["Id"] == target.target_id]
            if held:
                events.remove_targets(Rule=rule.name, EventBusName=rule.bus_name, Ids=[target.target_id])
                self._detached.append((rule.name, rule.bus_name, held))

    def _finish_replay(self) -> None:
        """Wait until the publishers have sent every replayed record, then re-attach the held-back targets."""
        if not self.replayed:
            return
        publishers = [
            p for p in self.pollers if getattr(p.mapping, "table", None) is not None and p.mapping.table.logical in self._replay_through
        ]  # type: ignore[attr-defined]
        deadline = time.monotonic() + max(60.0, self.replayed / 50)
        while not all(caught_up(dict(p.positions), self._replay_through[p.mapping.table.logical]) for p in publishers):  # type: ignore[attr-defined]
            if time.monotonic() > deadline or self._stop.is_set():
                self._error("replay: the publisher did not send every replayed event in time; held-back targets re-attached anyway")
                break
            time.sleep(self.delays.poll_s)
        assert self.clients is not None
        events = self.clients("events")
        for rule, bus, targets in self._detached:
            events.put_targets(Rule=rule, EventBusName=bus, Targets=targets)

    def _close_journal(self, timeout: float = 10.0) -> None:
        """Let the journal catch up with the streams (nothing is served any more), then close it."""
        if self.journal_pollers:
            since, deadline = time.time(), time.monotonic() + timeout
            while time.monotonic() < deadline and not all(p.empty_poll_after(since) or not p.is_alive() for p in self.journal_pollers):
                time.sleep(self.delays.poll_s)
            self._journal_stop.set()
            for poller in self.journal_pollers:
                if poller.is_alive():
                    poller.join(timeout=5)
        if self.journal is not None:
            self.journal.close()

    def stop(self) -> None:
        """Stop serving and polling, stop moto, release the process slot (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        for api in self.apis:
            api.stop()
        for ws in self.websockets:
            ws.stop()  # before the runtime: open connections get their $disconnect
        if self.jwks is not None:
            self.jwks.uninstall()
        if self._started:
            self._stop_executions()
            moto_patches.install_step_functions(None)
            if self._moto_port_before is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._moto_port_before
        for invoker in [*self.invokers.values(), *self.destination_targets.values()]:
            invoker.wake()
        destination_threads = [d.thread for d in self.destination_targets.values()]
        for thread in [*self.drainers, *self.pollers, *(t for i in self.invokers.values() for t in i.threads), *destination_threads]:
            if thread.is_alive():
                thread.join(timeout=5)
        self._close_journal()
        if self.runtime is not None:
            self.runtime.stop()
        if self.moto is not None and self._started:
            self.moto.stop()
            self._started = False
        self._state_file().unlink(missing_ok=True)
        with LocalStack._running_lock:
            if LocalStack._running is self:
                LocalStack._running = None

    # ------------------------------------------------------------------ what callers use
    @property
    def api_url(self) -> str:
        if not self.apis:
            raise LocalStackError("this stack declares no HTTP API")
        return self.apis[0].url

    @property
    def websocket_url(self) -> str:
        """`ws://127.0.0.1:<port>/<stage>` of the first WebSocket API (a standard client connects to it)."""
        if not self.websockets:
            raise LocalStackError("this stack declares no WebSocket API")
        return self.websockets[0].url

    def websocket(self, caller: str | None = None, *groups: str, token: str | None = None, api: str | None = None) -> WebSocketClient:
        """A `WebSocketClient` connected to the first WebSocket API (or the one named `api`),
        with a fresh token for `caller` in `groups` (or the given `token`) in the query-string
        parameter its `$connect` authorizer reads (`token` if none is declared); no caller and
        no token: no token. A refused handshake raises `websockets.exceptions.InvalidStatus`."""
        servers = [ws for ws in self.websockets if api is None or api in {ws.api.logical, ws.api.api_id}]
        if not servers:
            raise LocalStackError(f"no WebSocket API {api!r}" if api else "this stack declares no WebSocket API")
        server = servers[0]
        if caller is not None and token is None:
            token = self.token(caller, groups)
        if token is None:
            return WebSocketClient(server.url)
        connect = server.api.route("$connect")
        sources = connect.authorizer.identity_sources if connect is not None and connect.authorizer is not None else ()
        name = next((s.removeprefix("route.request.querystring.") for s in sources if s.startswith("route.request.querystring.")), "token")
        return WebSocketClient(f"{server.url}?{urlencode({name: token})}")

    def websocket_urls(self) -> dict[str, str]:
        """Each WebSocket API's local URL, by its logical name."""
        return {ws.api.logical: ws.url for ws in self.websockets}

    @property
    def moto_url(self) -> str:
        assert self.moto is not None
        return self.moto.url

    def token(self, caller: str, groups: Sequence[str] = (), ttl: int = 3600, **claims: Any) -> str:
        """A JWT the first API's authorizer accepts, for `caller` in the API's identity
        claim (`sub` unless its functions declare `IDENTITY_CLAIM`), member of `groups`
        (`cognito:groups`); `claims` add or override claims (`identity_claim=` picks another claim)."""
        issuer, audiences = self.authorizer()
        claims.setdefault("identity_claim", self.identity_claim())
        return self._issuer(issuer, audiences).token(caller, groups, ttl, **claims)

    def client(self, caller: str | None = None, *groups: str) -> ApiClient:
        """An `ApiClient` for the first API: calling as `caller` in `groups` with a fresh
        token, or without a token when no caller is given (`.as_user(...)` switches caller)."""
        base = ApiClient(self.api_url, lambda sub, in_groups: self.token(sub, in_groups))
        return base if caller is None else base.as_user(caller, *groups)

    def identity_claim(self) -> str:
        """The claim the API functions identify callers by (their `IDENTITY_CLAIM`, default `sub`)."""
        assert self.model is not None
        return identity_claim(r.function.environment for api in self.model.apis for r in api.routes)

    def authorizer(self) -> tuple[str, tuple[str, ...]]:
        """(issuer, audiences) of the first JWT route, or the local defaults."""
        assert self.model is not None
        for api in self.model.apis:
            for route in api.routes:
                if route.authorizer is not None:
                    return route.authorizer.issuer, route.authorizer.audiences
        return LOCAL_ISSUER, (LOCAL_AUDIENCE,)

    def function(self, key: str) -> LoadedFunction:
        """A running function by logical name or suffix (`"balance-projector"`)."""
        assert self.model is not None and self.runtime is not None
        return self.runtime.function(self.model.function(key).logical)

    def queue_url(self, name: str) -> str:
        assert self.provisioned is not None and self.model is not None
        return self.provisioned.queue_urls[self.model.queue(name).name]

    def invocations_of(self, key: str) -> list[Invocation]:
        assert self.model is not None
        logical = self.model.function(key).logical
        with self._lock:
            return [i for i in self.invocations if i.function == logical]

    # ------------------------------------------------------------------ Step Functions and schedules
    def state_machine(self, key: str) -> StateMachineDecl:
        """A declared state machine by logical name, name, ARN or a unique suffix of its logical name."""
        assert self.model is not None
        machines = self.model.state_machines
        found = [m for m in machines if key in {m.logical, m.name, m.arn}] or [m for m in machines if m.logical.endswith(key)]
        if len(found) != 1:
            raise KeyError(f"{key!r} names {len(found)} state machines; state machines: {sorted(m.logical for m in machines)}")
        return found[0]

    def executions(self, state_machine: str) -> list[dict[str, Any]]:
        """The executions of a state machine (see `state_machine`), oldest first, each as
        `DescribeExecution` answers it plus `input`/`output` parsed from JSON: `status`
        (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED), `output`, `error`, `cause`, ..."""
        assert self.clients is not None
        sfn = self.clients("stepfunctions")
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=self.state_machine(state_machine).arn)
        listed = [e for page in pages for e in page["executions"]]
        out = []
        for item in sorted(listed, key=lambda e: e["startDate"]):
            described = sfn.describe_execution(executionArn=item["executionArn"])
            described.pop("ResponseMetadata", None)
            for key in ("input", "output"):
                if isinstance(described.get(key), str):
                    described[key] = json.loads(described[key])
            out.append(described)
        return out

    def fire_schedule(self, name: str, *, group: str | None = None, at: datetime | None = None) -> schedules.Fired:
        """Fire a schedule now, as Scheduler would at `at` (default: the stack clock's now):
        its target is started with the context attributes substituted, the retry policy
        and DLQ apply. `name` is the schedule's name (or a declared schedule's logical name)."""
        assert self.clients is not None and self.model is not None
        declared = next((d for d in self.model.schedules if name in {d.logical, d.name}), None)
        schedule_name, group = (declared.name, declared.group) if declared else (name, group or "default")
        try:
            schedule = self.clients("scheduler").get_schedule(Name=schedule_name, GroupName=group or "default")
        except ClientError:
            known = sorted(d.name for d in self.model.schedules)
            raise KeyError(f"no schedule {name!r} in group {group or 'default'!r}; schedules: {known}") from None
        fired = schedules.fire(schedule, at or self.clock.now(), self.clients, retry_delay=self.delays.retry, log=self._log)
        with self._lock:
            self.fired.append(fired)
        if not fired.ok:
            self._error(f"schedule {schedule_name}: {fired.target_arn} not started: {fired.result}")
        return fired

    def advance_clock(
        self, *, to: datetime | None = None, by: timedelta | None = None, settle: bool = True, timeout: float = 30.0
    ) -> list[schedules.Fired]:
        """Move the stack clock forward (`to` an aware datetime, naive = UTC, or `by` a
        timedelta); the functions' clock seams show it from now on. Time passes in steps,
        as it would on AWS: the clock stops at each moment something is due in the
        interval, in time order: an enabled schedule occurrence (fired then, its scheduled
        time being that moment) or a Wait state's end (it wakes), and with `settle` (the
        default) everything that moment set off settles (`settle(timeout)`) before the next
        one, so a workflow that waits a day twice is done after `by=timedelta(days=3)`.
        The schedules fired, in order."""
        assert self.model is not None and self.clients is not None and self.runtime is not None
        if (to is None) == (by is None):
            raise ValueError("advance the clock either to= a datetime or by= a timedelta")
        before = self.clock.now()
        end = (to if to.tzinfo is not None else to.replace(tzinfo=UTC)) if to is not None else before + (by or timedelta(0))
        if end < before:
            raise ValueError(f"the clock only moves forward: it is {before.isoformat()}")
        if not self.simulated:
            self.simulated = set_clock(self.runtime.functions.values(), self.clock)
        due = sorted(
            (at, s.name, s.group)
            for s in self.model.schedules
            if s.enabled
            for at in schedules.occurrences(s.expression, s.timezone, after=before, until=end, anchor=self._anchor(s))
            if schedules.within(at, s.start_date, s.end_date)
        )
        fired: list[schedules.Fired] = []
        while True:
            now = self.clock.now()
            wait_ends = moto_patches.next_wait_deadline(after=now)
            moments = [m for m in (due[0][0] if due else None, wait_ends) if m is not None and m <= end]
            if not moments:
                break
            moment = min(moments)
            if moment > now:
                self.clock.advance(to=moment)  # the Waits whose time has come wake
            while due and due[0][0] <= moment:
                at, name, group = due.pop(0)
                fired.append(self.fire_schedule(name, group=group, at=at))
            if settle:
                self.settle(timeout)
        if end > self.clock.now():
            self.clock.advance(to=end)
        if settle:
            self.settle(timeout)
        return fired

    def _anchor(self, schedule: Any) -> datetime:
        """Where a rate() schedule counts from: its StartDate, else when this stack started."""
        if schedule.start_date:
            start = datetime.fromisoformat(str(schedule.start_date).replace("Z", "+00:00"))
            return start if start.tzinfo else start.replace(tzinfo=UTC)
        assert self._started_at is not None
        return self._started_at

    def _running_executions(self) -> list[Any]:
        """moto's running executions of the declared state machines, read from its backend
        (what ListExecutions answers; settle() asks 20 times a second)."""
        from moto.stepfunctions.responses import get_backend

        assert self.clients is not None and self.model is not None
        declared = {m.arn for m in self.model.state_machines}
        machines = [m for m in list(get_backend(ACCOUNT_ID, self.clients.region).state_machines) if m.arn in declared]
        return [e for m in machines for e in list(m.executions) if e.status == "RUNNING"]

    def _stop_executions(self) -> None:
        """Stop what still runs (a Wait of days): its thread would outlive this stack. Each
        execution is stopped on moto's backend object directly, as its StopExecution does:
        through boto3, 160 parked executions took 2 s of the stop."""
        if self.clients is None or self.model is None:
            return
        from moto.core.utils import utcnow

        for execution in self._running_executions():
            with contextlib.suppress(Exception):  # ended meanwhile
                execution.stop(stop_date=utcnow(), error="", cause="the local stack stopped")

    def _start_execution(self, state_machine_arn: str, input_json: str) -> str:
        """StartExecution on moto (a rule target's delivery)."""
        assert self.clients is not None
        return str(self.clients("stepfunctions").start_execution(stateMachineArn=state_machine_arn, input=input_json)["executionArn"])

    def execution_ended(self, execution: Any) -> None:
        """Told by the interpreter (`moto_patches`) when an execution ends: its log line."""
        detail = f": {execution.error}: {str(execution.cause)[:200]}" if execution.error else ""
        self._log(f"execution {execution.name} of {execution.state_machine.name}: {execution.status}{detail}")

    def _find_function(self, ref: str) -> FunctionDecl | None:
        """The declared function a name, logical name, ARN or qualified name/ARN points at."""
        assert self.model is not None
        name = ref.split(":function:", 1)[1] if ":function:" in ref else ref
        name = name.split(":", 1)[0]
        return next((f for f in self.model.functions if name in (f.name, f.logical) or ref == f.arn), None)

    def invoke_lambda(self, function: str, payload: bytes | None, trigger: str) -> dict[str, Any]:
        """Lambda's synchronous Invoke of a declared function, in-process (a Task state's call)."""
        decl = self._find_function(function)
        if decl is None:
            raise ClientError(
                {
                    "Error": {"Code": "ResourceNotFoundException", "Message": f"Function not found: {function}"},
                    "ResponseMetadata": {"HTTPStatusCode": 404, "RequestId": "local"},
                },
                "Invoke",
            )
        assert self.runtime is not None
        invocation = self.runtime.invoke(decl.logical, json.loads(payload or b"{}"), trigger=trigger)
        response: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
        if invocation.ok:
            response["Payload"] = invocation.result
        else:
            response["FunctionError"] = "Unhandled"
            response["Payload"] = {
                "errorMessage": invocation.error_message,
                "errorType": invocation.error_type,
                "requestId": invocation.request_id,
                "stackTrace": [],
            }
        return response

    def _lambda_api(self, function: str, payload: bytes, invocation_type: str) -> tuple[int, dict[str, str], bytes]:
        """Lambda's Invoke API on moto's URL (`MotoServer.lambda_invoke`): the declared function runs here."""
        function = unquote(function)
        decl = self._find_function(function)
        if decl is None:
            body = json.dumps({"Type": "User", "Message": f"Function not found: {function}"}).encode()
            return 404, {"Content-Type": "application/json", "x-amzn-ErrorType": "ResourceNotFoundException"}, body
        try:
            event = json.loads(payload or b"{}")
        except ValueError:
            body = json.dumps({"Type": "User", "Message": "Could not parse request body into json"}).encode()
            return 400, {"Content-Type": "application/json", "x-amzn-ErrorType": "InvalidRequestContentException"}, body
        if invocation_type == "DryRun":
            return 204, {}, b""
        if invocation_type == "Event":
            self._async_invoker(decl).submit(event, trigger="lambda:Invoke Event")
            return 202, {}, b""
        response = self.invoke_lambda(decl.arn, payload, trigger="lambda:Invoke")
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        if response.get("FunctionError"):
            headers["X-Amz-Function-Error"] = response["FunctionError"]
        return 200, headers, json.dumps(response["Payload"]).encode()

    def _async_invoker(self, decl: FunctionDecl) -> AsyncInvoker:
        """The function's asynchronous invocation queue (retries, on-failure destination), started on first use."""
        assert self.runtime is not None
        with self._lock:
            invoker = self.invokers.get(decl.logical)
            if invoker is None:
                invoker = self.invokers[decl.logical] = AsyncInvoker(
                    decl,
                    runtime=self.runtime,
                    send=self._send,
                    workers=self.async_workers,
                    delays=self.delays,
                    stop=self._stop,
                    on_error=self._error,
                )
                invoker.start()
            return invoker

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until every stream is read to its end, every delivery queue is empty, no
        asynchronous invocation (or retry) is pending and every running state machine
        execution waits (a Wait state for a time still to come, a task token) or has ended:
        what was written has had its effects."""
        assert self.clients is not None
        deadline, since = time.monotonic() + timeout, time.time()
        calm = 0
        while calm < 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the local stack did not settle within {timeout} s")
            pollers = [*self.pollers, *self.journal_pollers]
            quiet = all(p.empty_poll_after(since) for p in pollers) and all(self._queue_empty(d) for d in self.drainers)
            quiet = quiet and all(i.idle() for i in list(self.invokers.values()))
            quiet = quiet and all(d.idle() for d in self.destination_targets.values())
            quiet = quiet and all(moto_patches.parked(e.execution_arn) for e in self._running_executions())
            calm = calm + 1 if quiet else 0
            time.sleep(self.delays.poll_s)

    def _queue_empty(self, drainer: TargetDrainer) -> bool:
        return drainer.in_hand() == 0 and drainer.sqs.in_queue(drainer.queue_url) == 0

    # ------------------------------------------------------------------ internals
    def _issuer(self, issuer: str, audiences: tuple[str, ...]) -> Issuer:
        key = (issuer, audiences)
        if key not in self._issuers:
            self._issuers[key] = Issuer(self._key, issuer, audiences)
        return self._issuers[key]

    def _send(self, queue_name: str, body: str, attributes: Mapping[str, str]) -> None:
        assert self.clients is not None and self.provisioned is not None
        self.clients("sqs").send_message(
            QueueUrl=self.provisioned.queue_urls[queue_name],
            MessageBody=body,
            MessageAttributes={k: {"DataType": "String", "StringValue": v or "-"} for k, v in attributes.items()},
        )

    def local_outputs(self) -> dict[str, Any]:
        """The stack's outputs as another process reaches them here: each declared queue's URL
        is moto's (what `python -m acme_eventsourcing.ops --local` reads from the state file)."""
        assert self.recorded is not None and self.provisioned is not None
        urls = self.provisioned.queue_urls
        # a WebSocket API's wss:// (or recorded) URL, with its stage, is its local ws:// URL
        ws_urls = {
            f"{scheme}{endpoint.split('://', 1)[1]}": ws.url
            for ws in self.websockets
            for endpoint in ws.management_endpoints
            for scheme in ("wss://", "https://")
        }

        def local(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: local(v) for k, v in value.items()}
            if isinstance(value, list):
                return [local(v) for v in value]
            if isinstance(value, str) and value.startswith("https://sqs.") and value.rsplit("/", 1)[-1] in urls:
                return urls[value.rsplit("/", 1)[-1]]
            if isinstance(value, str) and value in ws_urls:
                return ws_urls[value]
            return value

        return local(json.loads(json.dumps(dict(self.recorded.outputs), default=str)))

    def _record(self, invocation: Invocation) -> None:
        with self._lock:
            self.invocations.append(invocation)
        if not invocation.trigger.startswith((HTTP_TRIGGER, WS_TRIGGER)):  # a request has its own line (http_api, websocket)
            self._log(invocation.line())

    def _error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)
        self._log(f"!! {message}")

    def _output(self, function: str, line: str) -> None:
        self._log(f"   | {function}: {line}")

    def _log(self, line: str) -> None:
        if self._log_sink is not None:
            self._log_sink(line)

    def _state_file(self) -> Path:
        return self.state_dir / f"{self.stack_name}.json"

    def _write_state(self) -> None:
        """What `python -m acme_eventsourcing.local token` and other processes need to talk to this stack."""
        issuer, audiences = self.authorizer()
        state = {
            "pid": os.getpid(),
            "api_url": self.api_url if self.apis else None,
            "websocket_url": self.websocket_url if self.websockets else None,
            "websocket_urls": self.websocket_urls(),
            "moto_url": self.moto_url,
            "region": self.region,
            "issuer": issuer,
            "audiences": list(audiences),
            "identity_claim": self.identity_claim(),
            "outputs": self.local_outputs(),
        }
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._state_file().write_text(json.dumps(state, indent=2))

    def _banner(self, seconds: float) -> None:
        assert self.model is not None and self.provisioned is not None
        m = self.model
        lines = [f"local stack {self.stack_name!r} is up ({seconds:.1f} s)"]
        if self.evaluated:
            shown = [f"{p.recorded.project} ({_shown(p.directory or Path('?'))})" for p in self.evaluated]
            lines.append(f"  programs   {', then '.join(shown)}" + (": later ones read earlier ones' outputs" if len(shown) > 1 else ""))
        if self.apis:
            issuer, audiences = self.authorizer()
            lines += [
                f"  API        {self.api_url}   ({sum(len(a.routes) for a in m.apis)} routes)",
                f"  JWT        issuer {issuer}, audience {', '.join(audiences)} (signed with the key in {_shown(self.state_dir)}/)",
            ]
            if self.token_command:
                lines.append(f"  token      {sys.executable} {self.token_command}")
                if self.try_path is not None:
                    lines.append(
                        f'  try        curl -H "Authorization: Bearer $(python {self.token_command})" {self.api_url}{self.try_path}'
                    )
        for ws in self.websockets:
            keys = ", ".join(r.route_key for r in ws.api.routes)
            connect = ws.api.route("$connect")
            guard = f"; $connect authorizer {connect.authorizer.function.name}" if connect and connect.authorizer else ""
            sources = connect.authorizer.identity_sources if connect and connect.authorizer else ()
            query = [s.rsplit(".", 1)[-1] for s in sources if s.startswith("route.request.querystring.")]
            shown = ws.url + ("?" + "&".join(f"{q}=..." for q in query) if query else "")
            lines.append(f"  WebSocket  {shown}   (routes {keys}{guard})")
        if self.persist:
            lines += [f"  {note}" for note in self._journal_notes]
        else:
            lines.append("  events     in memory only: gone when this stack stops (LocalStack(persist=True) keeps them)")
        if self.today is not None:
            if self.simulated:
                lines.append(f"  today      {self.today} (simulated; real time of day, UTC) in {', '.join(self.simulated)}")
            else:
                lines.append(f"  today      {self.today} NOT simulated: no function has a clock seam (clock / today)")
        lines += [
            f"  moto       {self.moto_url}   (AWS_ENDPOINT_URL for boto3 / the AWS CLI; fake credentials)",
            f"  on moto    tables {len(m.tables)}, queues {len(m.queues)} (+{len(self.provisioned.target_queues)} local target queues), "
            f"buses {len([b for b in m.buses if b.name != 'default'])}, archives {len(m.archives)}, rules {len(m.rules)}, "
            f"log groups {len(m.log_groups)}",
            f"  in-process functions {len(m.functions)}, stream mappings {len(m.stream_mappings)}, pipes {len(m.pipes)}, "
            f"rule targets {len(self.drainers)}, "
            f"HTTP routes {sum(len(a.routes) for a in m.apis)}"
            + (f", WebSocket routes {sum(len(a.routes) for a in m.websocket_apis)}" if m.websocket_apis else ""),
        ]
        for machine in m.state_machines:
            lines.append(f"  workflow   {machine.name} ({machine.type.lower()}): moto's interpreter, Lambda tasks in-process")
        for sch in m.schedules:
            state = "" if sch.enabled else " DISABLED"
            lines.append(
                f"  schedule   {sch.group}/{sch.name}: {sch.expression} {sch.timezone} -> {sch.target['Arn'].split(':')[-1]}{state}"
                f"  (fire: stack.fire_schedule / `schedule fire {sch.name}`; or advance the clock)"
            )
        for destination in m.api_destinations:
            targets = sum(1 for t in m.targets if t.api_destination is destination)
            where = (
                "sent there"
                if is_local(destination.endpoint)
                else f"recorded by the local receiver ({self.state_dir}/{self.stack_name}.received.jsonl; `received` lists them)"
            )
            lines.append(
                f"  api dest   {destination.logical}: {destination.method} {destination.endpoint}, {destination.rate_per_second}/s, "
                f"{targets} rule target(s): {where}"
            )
        if self.clock.simulated:
            lines.append(f"  clock      {self.clock.now().isoformat(timespec='seconds')} (simulated; advance_clock moves it)")
        for bucket in m.buckets:
            streams = [s.name for s in m.delivery_streams if s.bucket == bucket.name]
            lines.append(
                f"  bucket     s3://{bucket.name}  ({bucket.logical}{', versioned' if bucket.versioned else ''}"
                + (f"; written by delivery stream {', '.join(streams)}" if streams else "")
                + ")"
            )
        for ref, name, value in self.fake_outputs:
            lines.append(f"  FAKE       stack reference {ref} output {name} = {value!r}")
        lines.append("  emulated   " + "; ".join(sorted({t.split(":")[-1] for t in EMULATED})))
        lines.append("  NOT emulated (declared, no local effect):")
        lines += [f"    - {t} x{n}: {why}" for t, n, why in m.not_emulated]
        lines += [f"    - {s}" for s in IGNORED_SETTINGS]
        if m.delivery_streams:
            lines += [f"    - delivery streams: {s}" for s in DELIVERY_STREAM_NOTES]
        for rule in m.rules:
            if rule.schedule:
                lines.append(f"    - rule {rule.logical}: schedule {rule.schedule} is never fired locally")
        for target in m.targets:
            if target.input_shaping:
                lines.append(
                    f"    - target {target.logical}: {target.input_shaping} is not applied locally (the target gets the whole event)"
                )
            if (
                target.function is None
                and target.queue is None
                and target.state_machine is None
                and target.delivery_stream is None
                and target.api_destination is None
                and ":lambda:" not in target.arn
                and ":states:" not in target.arn
            ):
                lines.append(f"    - target {target.logical}: {target.arn} is neither a declared function nor a queue; not delivered")
        lines += [f"  warning    {w}" for w in m.warnings]
        for stream in m.delivery_streams:
            if (why := problem(stream.s3_configuration)) is not None:
                lines.append(f"  warning    delivery stream {stream.logical}: {why}; records put on it fail locally")
        lines.append("  (IAM is not enforced locally: every function may call every local resource)")
        for line in lines:
            self._log(line)


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it (as the banner shows it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
