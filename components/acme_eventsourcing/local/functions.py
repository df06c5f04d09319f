"""Run the declared Lambda functions in this process, each as if in its own sandbox.

Isolation, the way Lambda gives each function its own environment:
- Code: a function imports only what its zip holds. An import finder serves its
  packages from the declared file assets and refuses packages the function does not ship
  (another function's, or `pulumi`, `moto`, ... which Lambda's runtime lacks), so a
  packaging mistake fails here as it would on AWS. Other functions' packages are never
  visible to a function; third-party modules this process already imported (pulumi, ...)
  stay reachable, so that check covers fresh imports.
- Modules: each function loads its handler module (and its own packages) into a private
  module namespace, so module-level wiring (clients, table names read from the
  environment at import) is per function, and nothing is left in `sys.modules`.
- Environment: in a thread running a function, `os.environ` (and so `os.getenv`) is that
  function's: its declared variables plus what Lambda sets (`AWS_LAMBDA_FUNCTION_NAME`,
  region, fake credentials) and `AWS_ENDPOINT_URL` pointing at moto, over the process's.

Concurrency: invocations of different functions run at the same time, as on AWS
(reserved concurrency is a semaphore per function). Nothing a function sees is swapped
into the process while it runs:
- `os.environ` is replaced, while the runtime runs, by a mapping that looks up the
  running function of the calling thread (`_ThreadEnviron`); other threads see the process's
  environment.
- Imports: a function's modules are imported (cold start, or later a submodule it imports
  lazily) exclusively, under one lock, with its packages put into `sys.modules` for that
  moment only and collected into its private namespace. At run time an `import` statement
  (`builtins.__import__`) or `importlib.import_module` naming a package of a function, in
  a thread running a function, is answered from that function's private namespace (or
  refused if it does not ship the package); every other import is the process's.
- The run-time state is per thread: a thread a function starts itself sees the process's
  environment and imports, not the function's (the local stack's functions start none).
"""

from __future__ import annotations

import builtins
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
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
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
        "acme_eventsourcing",
        "local",
        "tests",
    }
)

_current = threading.local()  # .function / .loaded: the FunctionDecl / LoadedFunction this thread is running, if any
_sinking = threading.local()  # .active: this thread is in an output sink (one flag for stdout AND stderr)


@contextlib.contextmanager
def host_code() -> Iterator[None]:
    """Run the local stack's own code from a function's thread (moto answering the
    function's boto3 call in-process): its imports are not the function's, its output
    is not the function's log."""
    saved = getattr(_current, "function", None), getattr(_current, "loaded", None)
    _current.function = _current.loaded = None
    try:
        yield
    finally:
        _current.function, _current.loaded = saved


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


class _FunctionEnviron(MutableMapping[str, str]):
    """One function's `os.environ`: its own variables (`LoadedFunction.environment`, which it
    may change) over the process's, without what a Lambda sandbox would not have."""

    def __init__(self, own: dict[str, str], process: MutableMapping[str, str], hidden: Sequence[str]) -> None:
        self.own, self.process, self.hidden = own, process, set(hidden)

    def __getitem__(self, key: str) -> str:
        if key in self.own:
            return self.own[key]
        if key in self.hidden:
            raise KeyError(key)
        return self.process[key]

    def __setitem__(self, key: str, value: str) -> None:
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"str expected, not {type(key if not isinstance(key, str) else value).__name__}")
        self.own[key] = value
        self.hidden.discard(key)

    def __delitem__(self, key: str) -> None:
        present = key in self
        self.own.pop(key, None)
        if not present:
            raise KeyError(key)
        self.hidden.add(key)

    def __contains__(self, key: object) -> bool:
        return key in self.own or (key not in self.hidden and key in self.process)

    def __iter__(self) -> Iterator[str]:
        yield from self.own
        yield from (k for k in list(self.process) if k not in self.own and k not in self.hidden)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _ThreadEnviron(MutableMapping[str, str]):
    """`os.environ` while functions run: in a thread running a function, that function's
    environment; in any other thread (or in the local stack's own code called from a
    function's thread, `host_code`), the process's (the original `os.environ`)."""

    def __init__(self, process: MutableMapping[str, str]) -> None:
        self.process = process

    def _view(self) -> MutableMapping[str, str]:
        fn: LoadedFunction | None = getattr(_current, "loaded", None)
        return self.process if fn is None else fn.environ

    def __getitem__(self, key: str) -> str:
        return self._view()[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._view()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._view()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._view()

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._view()))

    def __len__(self) -> int:
        return len(self._view())

    def get(self, key: str, default: Any = None) -> Any:  # the hot path (botocore, os.getenv)
        return self._view().get(key, default)

    def copy(self) -> dict[str, str]:
        return dict(self._view())

    def __or__(self, other: Mapping[str, str]) -> dict[str, str]:
        return {**self._view(), **other}

    def __ror__(self, other: Mapping[str, str]) -> dict[str, str]:
        return {**other, **self._view()}

    def __repr__(self) -> str:
        return f"environ({dict(self._view())!r})"


@dataclass
class LoadedFunction:
    """A function, its environment and its private module namespace."""

    decl: FunctionDecl
    environment: dict[str, str]  # its own variables (what `os.environ` shows it over the process's)
    modules: dict[str, ModuleType]
    slots: threading.BoundedSemaphore | None  # reserved concurrency
    environ: _FunctionEnviron | None = None  # `os.environ` as the function sees it

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
        self._import_lock = threading.RLock()  # the import phase (cold start, lazy imports) is exclusive
        self._process_environ: MutableMapping[str, str] | None = None
        self._environ: _ThreadEnviron | None = None
        self._original_import: Callable[..., ModuleType] = builtins.__import__
        self._original_import_module: Callable[..., ModuleType] = importlib.import_module
        self._import_hook = self._import  # one bound method: `stop` compares identities
        self._import_module_hook = self._import_module
        self.functions: dict[str, LoadedFunction] = {}
        self._decls = list(functions)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Install the import finder and hooks, the per-thread `os.environ` and output routing,
        and load (cold-start) every function."""
        sys.meta_path.insert(0, self._finder)
        for name in ("stdout", "stderr"):
            stream = _RoutedStream(getattr(sys, name), self._on_output)
            self._streams.append((name, stream))
            setattr(sys, name, stream)
        self._process_environ = os.environ
        self._environ = _ThreadEnviron(os.environ)
        os.environ = self._environ  # type: ignore[assignment]  # noqa: B003 (replaced, not cleared; os.getenv reads it too)
        self._original_import, self._original_import_module = builtins.__import__, importlib.import_module
        builtins.__import__ = self._import_hook
        importlib.import_module = self._import_module_hook
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
        if builtins.__import__ is self._import_hook:
            builtins.__import__ = self._original_import
        if importlib.import_module is self._import_module_hook:
            importlib.import_module = self._original_import_module
        if self._environ is not None and os.environ is self._environ:
            os.environ = self._process_environ  # type: ignore[assignment]  # noqa: B003
        self._environ = None

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
        assert self._process_environ is not None
        loaded.environ = _FunctionEnviron(env, self._process_environ, hidden=["AWS_PROFILE"])
        saved = getattr(_current, "function", None), getattr(_current, "loaded", None)
        _current.function, _current.loaded = decl, loaded
        try:
            module = self._import_exclusively(loaded, lambda: self._original_import_module(module_name))
        except Exception as exc:
            raise RuntimeError(f"function {decl.logical}: importing its handler module {module_name!r} failed: {exc}") from exc
        finally:
            _current.function, _current.loaded = saved
        if not callable(getattr(module, attr, None)):
            raise RuntimeError(f"function {decl.logical}: handler {decl.handler!r} is not a function of {module_name}")
        return loaded

    # ------------------------------------------------------------------ imports
    def _import_exclusively(self, fn: LoadedFunction, action: Callable[[], ModuleType]) -> ModuleType:
        """Run an import of `fn`'s (its cold start, or a module it imports later for the first
        time) with its packages in `sys.modules` and other functions' packages out of it,
        under the import lock; then move what it imported into its private namespace."""
        with self._import_lock:
            hidden = self._owned
            saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k.partition(".")[0] in hidden}
            sys.modules.update(fn.modules)
            importing = getattr(_current, "importing", False)
            _current.importing = True
            try:
                return action()
            finally:
                _current.importing = importing
                names = fn.decl.top_level_names
                fn.modules.update({k: m for k, m in sys.modules.items() if k.partition(".")[0] in names})
                for k in [k for k in sys.modules if k.partition(".")[0] in hidden]:
                    del sys.modules[k]
                sys.modules.update(saved)

    def _private(self, fn: LoadedFunction, name: str, fromlist: Sequence[str]) -> ModuleType:
        """Module `name` of `fn`'s private namespace (imported now if it was not yet, with what
        `fromlist` names of it)."""
        module = fn.modules.get(name)
        if module is None or any(f != "*" and not hasattr(module, f) and f"{name}.{f}" not in fn.modules for f in fromlist):
            self._import_exclusively(fn, lambda: self._original_import(name, None, None, tuple(fromlist), 0))
            module = fn.modules[name]
        return module

    def _import(
        self, name: str, globals: Mapping[str, Any] | None = None, locals: Any = None, fromlist: Sequence[str] | None = (), level: int = 0
    ) -> ModuleType:
        """`builtins.__import__`: in a thread running a function, a package of a function comes
        from that function's private namespace (see the module docstring)."""
        fn: LoadedFunction | None = getattr(_current, "loaded", None)
        if fn is None or getattr(_current, "importing", False):
            return self._original_import(name, globals, locals, fromlist, level)
        absolute = importlib.util.resolve_name("." * level + name, _package_of(globals)) if level else name
        top = absolute.partition(".")[0]
        if top not in self._owned:
            return self._original_import(name, globals, locals, fromlist, level)
        module = self._private(fn, absolute, fromlist or ())
        return module if fromlist else fn.modules[top]

    def _import_module(self, name: str, package: str | None = None) -> ModuleType:
        """`importlib.import_module`, routed like `_import`."""
        fn: LoadedFunction | None = getattr(_current, "loaded", None)
        if fn is None or getattr(_current, "importing", False):
            return self._original_import_module(name, package)
        absolute = importlib.util.resolve_name(name, package) if name.startswith(".") else name
        if absolute.partition(".")[0] not in self._owned:
            return self._original_import_module(name, package)
        return self._private(fn, absolute, ())

    # ------------------------------------------------------------------ invoke
    def invoke(self, logical: str, event: Any, trigger: str) -> Invocation:
        """Run the handler once with `event` (JSON round-tripped, as Lambda would)."""
        fn = self.functions[logical]
        request_id = str(uuid.uuid4())
        payload = json.loads(json.dumps(event))
        ok, result, error_type, error_message = False, None, None, None
        with fn.slots or contextlib.nullcontext():
            started, t0 = time.time(), time.perf_counter()
            _current.function, _current.loaded, _current.waited = fn.decl, fn, 0.0
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
                _current.function = _current.loaded = None
            duration_ms = (time.perf_counter() - t0) * 1000
            waited_ms, _current.waited = _current.waited * 1000, 0.0
        # Lambda's timeout is on the function's own run time: a reserved-concurrency slot (before t0) and the
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


def _package_of(globals: Mapping[str, Any] | None) -> str:
    """The package a relative import in a module with these globals is relative to."""
    if not globals:
        raise ImportError("attempted relative import with no known parent package")
    package = globals.get("__package__")
    if package is None:
        name = globals.get("__name__", "")
        package = name if "__path__" in globals else name.rpartition(".")[0]
    return package


def _describe(exc: BaseException) -> tuple[str, str]:
    """Lambda's errorType/errorMessage; a result that is not JSON is Runtime.MarshalError."""
    if isinstance(exc, (TypeError, ValueError)) and "JSON serializable" in str(exc):
        return "Runtime.MarshalError", f"Unable to marshal response: {exc}"
    return type(exc).__name__, str(exc)
