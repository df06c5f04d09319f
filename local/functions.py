"""Run the declared Lambda functions in this process, each as if in its own sandbox.

Isolation, the way Lambda gives each function its own environment:
- Code: a function imports only what its zip holds. An import finder serves its
  packages from the declared file assets and refuses packages the function does not ship
  (another function's, or `pulumi`, `moto`, ... which Lambda's runtime lacks), so a
  packaging mistake fails here as it would on AWS. Other functions' packages already
  imported by this process are hidden while a function runs; third-party modules this
  process already imported (pulumi, ...) stay reachable, so that check covers fresh imports.
- Modules: each function loads its handler module (and its own packages) into a private
  module namespace, so module-level wiring (clients, table names read from the
  environment at import) is per function, and nothing is left in `sys.modules`.
- Environment: while a function runs, `os.environ` holds its declared variables plus what
  Lambda sets (`AWS_LAMBDA_FUNCTION_NAME`, region, fake credentials) and
  `AWS_ENDPOINT_URL` pointing at moto.

Because `os.environ` and `sys.modules` are process-wide, a gate lets invocations of the
SAME function overlap (same environment; real concurrency, e.g. racing commands) while
invocations of DIFFERENT functions take turns, first come first served.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any, TextIO

from .model import FunctionDecl

#: Importable here, absent from Lambda's Python runtime (boto3/botocore are present).
NOT_IN_LAMBDA_RUNTIME = frozenset(
    {
        "pulumi",
        "pulumi_aws",
        "moto",
        "jwt",
        "cryptography",
        "yaml",
        "jsonschema",
        "werkzeug",
        "flask",
        "requests",
        "pytest",
        "components",
        "local",
        "tests",
    }
)

_current = threading.local()  # .function: the FunctionDecl this thread is running, if any
_sinking = threading.local()  # .active: this thread is in an output sink (one flag for stdout AND stderr)


@contextlib.contextmanager
def host_code() -> Iterator[None]:
    """Run the local stack's own code from a function's thread (moto answering the
    function's boto3 call in-process): its imports are not the function's, its output
    is not the function's log."""
    saved = getattr(_current, "function", None)
    _current.function = None
    try:
        yield
    finally:
        _current.function = saved


@contextlib.contextmanager
def local_wait() -> Iterator[None]:
    """Time spent inside is not the running function's own: it waits for something only the
    local stack shares between invocations (moto's DynamoDB lock). Lambda counts a
    function's own run time against its timeout, and so does `FunctionRuntime.invoke`."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        _current.waited = getattr(_current, "waited", 0.0) + time.perf_counter() - t0


@dataclass(frozen=True)
class Invocation:
    """One invocation as the log and the tests see it."""

    function: str  # logical name
    trigger: str
    request_id: str
    started: float  # time.time()
    duration_ms: float
    ok: bool
    result: Any  # the JSON-round-tripped return value (None on error)
    error_type: str | None
    error_message: str | None
    waited_ms: float = 0.0  # of duration_ms, waiting for what only the local stack shares (not run time)

    def line(self) -> str:
        stamp = datetime.fromtimestamp(self.started).strftime("%H:%M:%S.%f")[:-3]
        outcome = "ok" if self.ok else f"ERROR {self.error_type}: {self.error_message}"
        return f"{stamp}  {self.function:<32} {self.trigger:<48} {self.duration_ms:8.1f} ms  {outcome}"


class LambdaContext:
    """The context object a Python handler receives."""

    def __init__(self, fn: FunctionDecl, request_id: str) -> None:
        self.function_name = fn.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.arn
        self.memory_limit_in_mb = str(fn.memory_mb)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{fn.name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + fn.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        # the function's own run time counts, not its waits for what the local stack shares
        waited = getattr(_current, "waited", 0.0)
        return max(0, int((self._deadline + waited - time.monotonic()) * 1000))


class _RoutedStream(io.TextIOBase):
    """stdout/stderr: what a function prints goes to the function log (CloudWatch's role),
    line by line with the function's name; other threads write through unchanged."""

    def __init__(self, original: TextIO, sink: Callable[[str, str], None]) -> None:
        self.original = original
        self.sink = sink
        self._pending = threading.local()

    def write(self, text: str) -> int:
        fn: FunctionDecl | None = getattr(_current, "function", None)
        if fn is None or getattr(_sinking, "active", False):  # the sink may print (to either stream), too
            return self.original.write(text)
        buffered = getattr(self._pending, "text", "") + text
        *lines, self._pending.text = buffered.split("\n")
        for line in lines:
            self._emit(fn, line)
        return len(text)

    def flush_thread(self) -> None:
        """Emit what the current thread's function printed without a final newline."""
        fn: FunctionDecl | None = getattr(_current, "function", None)
        text = getattr(self._pending, "text", "")
        self._pending.text = ""
        if fn is not None and text:
            self._emit(fn, text)

    def _emit(self, fn: FunctionDecl, line: str) -> None:
        _sinking.active = True
        try:
            self.sink(fn.logical, line)
        finally:
            _sinking.active = False

    def flush(self) -> None:
        self.original.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, buffer, ...
        return getattr(self.original, name)


class _CodeFinder(importlib.abc.MetaPathFinder):
    """Resolves the running function's imports from its zip only (other threads: no-op)."""

    def __init__(self, blocked: frozenset[str]) -> None:
        self.blocked = blocked

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        fn: FunctionDecl | None = getattr(_current, "function", None)
        if fn is None:
            return None
        top = fullname.partition(".")[0]
        if top not in fn.top_level_names:
            if top in self.blocked:
                raise ModuleNotFoundError(
                    f"No module named {fullname!r}: function {fn.logical} does not ship it (and Lambda's runtime lacks it)", name=fullname
                )
            return None
        rel = fullname.replace(".", "/")
        if (init := fn.files.get(f"{rel}/__init__.py")) is not None:
            return importlib.util.spec_from_file_location(fullname, init, submodule_search_locations=[str(init.parent)])
        if (module := fn.files.get(f"{rel}.py")) is not None:
            return importlib.util.spec_from_file_location(fullname, module)
        if any(p.startswith(rel + "/") for p in fn.files):  # a folder without __init__.py
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = []
            return spec
        raise ModuleNotFoundError(f"No module named {fullname!r} in the zip of function {fn.logical}", name=fullname)


class _Gate:
    """Same-function invocations overlap; different functions take turns (FIFO)."""

    def __init__(self, enter: Callable[[LoadedFunction], None], leave: Callable[[LoadedFunction], None]) -> None:
        self._cond = threading.Condition()
        self._enter, self._leave = enter, leave
        self._owner: str | None = None
        self._active = 0
        self._waiting: deque[tuple[str, object]] = deque()

    @contextlib.contextmanager
    def hold(self, fn: LoadedFunction) -> Iterator[None]:
        ticket = (fn.decl.logical, object())
        with self._cond:
            self._waiting.append(ticket)
            self._cond.wait_for(lambda: self._may_enter(ticket))
            self._waiting.remove(ticket)
            if self._active == 0:
                self._enter(fn)
                self._owner = fn.decl.logical
            self._active += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if self._active == 0:
                    self._leave(fn)
                    self._owner = None
                self._cond.notify_all()

    def _may_enter(self, ticket: tuple[str, object]) -> bool:
        if self._active and self._owner != ticket[0]:
            return False
        for waiting in self._waiting:
            if waiting is ticket:
                return True
            if waiting[0] != ticket[0]:
                return False
        return True


@dataclass
class LoadedFunction:
    """A function, its environment and its private module namespace."""

    decl: FunctionDecl
    environment: dict[str, str]
    modules: dict[str, ModuleType]
    slots: threading.BoundedSemaphore | None  # reserved concurrency

    @property
    def module(self) -> ModuleType:
        """The handler's module (patch attributes on it to change behaviour in tests)."""
        return self.modules[self.decl.handler.rsplit(".", 1)[0]]


class FunctionRuntime:
    """Loads every declared function and invokes them, logging one line per invocation."""

    def __init__(
        self,
        functions: Sequence[FunctionDecl],
        *,
        lambda_environment: Mapping[str, str],
        on_invocation: Callable[[Invocation], None],
        on_error: Callable[[str], None],
        on_output: Callable[[str, str], None],
    ) -> None:
        owned = frozenset().union(*(f.top_level_names for f in functions)) if functions else frozenset()
        self._owned = owned
        self._finder = _CodeFinder(owned | NOT_IN_LAMBDA_RUNTIME)
        self._lambda_env = dict(lambda_environment)
        self._on_invocation, self._on_error, self._on_output = on_invocation, on_error, on_output
        self._streams: list[tuple[str, _RoutedStream]] = []
        self._gate = _Gate(self._install, self._uninstall)
        self._saved_env: dict[str, str | None] = {}
        self._saved_modules: dict[str, ModuleType | None] = {}
        self.functions: dict[str, LoadedFunction] = {}
        self._decls = list(functions)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Install the import finder and output routing, and load (cold-start) every function."""
        sys.meta_path.insert(0, self._finder)
        for name in ("stdout", "stderr"):
            stream = _RoutedStream(getattr(sys, name), self._on_output)
            self._streams.append((name, stream))
            setattr(sys, name, stream)
        try:
            for decl in self._decls:
                self.functions[decl.logical] = self._load(decl)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self._finder)
        for name, stream in self._streams:
            if getattr(sys, name) is stream:  # unless someone (e.g. pytest) replaced it since
                setattr(sys, name, stream.original)
        self._streams = []

    def function(self, logical: str) -> LoadedFunction:
        return self.functions[logical]

    def _load(self, decl: FunctionDecl) -> LoadedFunction:
        module_name, _, attr = decl.handler.rpartition(".")
        env = {
            **self._lambda_env,
            **decl.environment,
            "AWS_LAMBDA_FUNCTION_NAME": decl.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(decl.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{decl.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{os.getpid()}",
            "_HANDLER": decl.handler,
        }
        slots = threading.BoundedSemaphore(decl.reserved_concurrency) if decl.reserved_concurrency else None
        loaded = LoadedFunction(decl=decl, environment=env, modules={}, slots=slots)
        with self._gate.hold(loaded):
            _current.function = decl
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                raise RuntimeError(f"function {decl.logical}: importing its handler module {module_name!r} failed: {exc}") from exc
            finally:
                _current.function = None
            loaded.modules.update({k: m for k, m in sys.modules.items() if k.partition(".")[0] in decl.top_level_names})
        if not callable(getattr(module, attr, None)):
            raise RuntimeError(f"function {decl.logical}: handler {decl.handler!r} is not a function of {module_name}")
        return loaded

    # ------------------------------------------------------------------ environment swap (under the gate)
    def _install(self, fn: LoadedFunction) -> None:
        # the function's own packages come in; other functions' packages (imported by this
        # process, e.g. by __main__.py or tests) are hidden, so an import of a package the
        # function does not ship fails here as in Lambda
        hidden = self._owned
        self._saved_modules = {k: sys.modules.pop(k) for k in list(sys.modules) if k.partition(".")[0] in hidden}
        sys.modules.update(fn.modules)
        self._saved_env = {k: os.environ.get(k) for k in [*fn.environment, "AWS_PROFILE"]}
        os.environ.pop("AWS_PROFILE", None)
        os.environ.update(fn.environment)

    def _uninstall(self, fn: LoadedFunction) -> None:
        names = fn.decl.top_level_names
        # keep what the function imported lazily for its next invocation
        fn.modules.update({k: m for k, m in sys.modules.items() if k.partition(".")[0] in names})
        for k in [k for k in sys.modules if k.partition(".")[0] in names]:
            del sys.modules[k]
        sys.modules.update({k: m for k, m in self._saved_modules.items() if m is not None})
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env, self._saved_modules = {}, {}

    # ------------------------------------------------------------------ invoke
    def invoke(self, logical: str, event: Any, trigger: str) -> Invocation:
        """Run the handler once with `event` (JSON round-tripped, as Lambda would)."""
        fn = self.functions[logical]
        request_id = str(uuid.uuid4())
        payload = json.loads(json.dumps(event))
        ok, result, error_type, error_message = False, None, None, None
        with fn.slots or contextlib.nullcontext(), self._gate.hold(fn):
            started, t0 = time.time(), time.perf_counter()
            _current.function, _current.waited = fn.decl, 0.0
            try:
                handler = getattr(fn.module, fn.decl.handler.rpartition(".")[2])
                value = handler(payload, LambdaContext(fn.decl, request_id))
                result, ok = json.loads(json.dumps(value)), True
            except Exception as exc:  # the handler's failure is the invocation's outcome
                error_type, error_message = _describe(exc)
                self._on_error(f"{fn.decl.logical} {request_id}:\n" + "".join(traceback.format_exception(exc)).rstrip())
            finally:
                for _, stream in self._streams:
                    stream.flush_thread()
                _current.function = None
            duration_ms = (time.perf_counter() - t0) * 1000
            waited_ms, _current.waited = _current.waited * 1000, 0.0
        # Lambda's timeout is on the function's own run time: the gate (before t0) and the
        # local-only waits inside (`local_wait`) are not; a committed command is no timeout
        # because the local stack made it wait.
        if ok and duration_ms - waited_ms > fn.decl.timeout_s * 1000:
            ok, result, error_type = False, None, "Sandbox.Timedout"
            error_message = f"Task timed out after {fn.decl.timeout_s} seconds (ran {(duration_ms - waited_ms) / 1000:.2f} s here)"
        invocation = Invocation(
            function=logical,
            trigger=trigger,
            request_id=request_id,
            started=started,
            duration_ms=duration_ms,
            ok=ok,
            result=result,
            error_type=error_type,
            error_message=error_message,
            waited_ms=waited_ms,
        )
        self._on_invocation(invocation)
        return invocation


def _describe(exc: BaseException) -> tuple[str, str]:
    """Lambda's errorType/errorMessage; a result that is not JSON is Runtime.MarshalError."""
    if isinstance(exc, (TypeError, ValueError)) and "JSON serializable" in str(exc):
        return "Runtime.MarshalError", f"Unable to marshal response: {exc}"
    return type(exc).__name__, str(exc)
