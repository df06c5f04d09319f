"""Functions run concurrently in the local stack without giving up their isolation, and
stream pollers wake on writes (issue 8, point 8: speed).

These assert the mechanisms (invocations overlapping, what `sys.modules` and `os.environ`
hold during a run, the pollers' wake counter), not timings: `benchmarks/bench_local.py`
and `benchmarks/bench_local_load.py` measure those."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import types
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from acme_eventsourcing.local.backend import FAKE_CREDENTIALS, MotoServer
from acme_eventsourcing.local.functions import FunctionRuntime, Invocation
from acme_eventsourcing.local.model import FunctionDecl
from acme_eventsourcing.local.streams import Delays, StreamPoller

ROOT = Path(__file__).resolve().parents[2]

#: Two functions that ship a package of the same name, `pkg`, with different contents.
SOURCES = {
    "a": {
        "fn.py": (
            "import os, sys, threading\n"
            "import pkg as LOADED\n"
            "entered, release = threading.Event(), threading.Event()\n\n"
            "def handler(event, context):\n"
            "    mine = os.environ['WHO']\n"
            "    entered.set()\n"
            "    assert release.wait(20), 'never released'\n"
            "    import pkg\n"
            "    from pkg import lazy\n"
            "    leaked = sorted(k for k in sys.modules if k.partition('.')[0] in {'pkg', 'fn'})\n"
            "    return [mine, os.environ['WHO'], pkg.VALUE, lazy.WHO, pkg is LOADED, leaked]\n"
        ),
        "pkg/__init__.py": "VALUE = 'a'\n",
        "pkg/lazy.py": "WHO = 'a-lazy'\n",
    },
    "b": {
        "fn.py": (
            "import os, sys\n\n"
            "def handler(event, context):\n"
            "    import pkg\n"
            "    from pkg import lazy\n"
            "    leaked = sorted(k for k in sys.modules if k.partition('.')[0] in {'pkg', 'fn'})\n"
            "    return [os.getenv('WHO'), pkg.VALUE, lazy.WHO, leaked]\n"
        ),
        "pkg/__init__.py": "VALUE = 'b'\n",
        "pkg/lazy.py": "WHO = 'b-lazy'\n",
    },
}


def _decl(name: str, files: dict[str, Path]) -> FunctionDecl:
    return FunctionDecl(
        logical=name,
        name=f"fn-{name}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:fn-{name}",
        handler="fn.handler",
        files=files,
        environment={"WHO": name},
        timeout_s=30,
        memory_mb=128,
        reserved_concurrency=None,
        retry_attempts=2,
        max_event_age_s=60,
        on_failure=None,
        on_failure_kind=None,
    )


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[FunctionRuntime]:
    decls = []
    for name, sources in SOURCES.items():
        files = {}
        for rel, text in sources.items():
            path = tmp_path / name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            files[rel] = path
        decls.append(_decl(name, files))
    env = {**FAKE_CREDENTIALS, "AWS_REGION": "us-east-1"}
    runtime = FunctionRuntime(decls, lambda_environment=env, on_invocation=lambda i: None, on_error=lambda m: None, on_output=print)
    runtime.start()
    yield runtime
    runtime.stop()


def test_different_functions_run_at_the_same_time_each_with_its_own_modules_and_environment(runtime: FunctionRuntime) -> None:
    """`a` is held inside its handler; `b` runs to completion meanwhile (different functions
    took turns through a gate before), and neither sees the other's package or environment,
    nor leaves anything of its own in `sys.modules`."""
    a = runtime.function("a").module
    outcome: dict[str, Invocation] = {}
    held = threading.Thread(target=lambda: outcome.setdefault("a", runtime.invoke("a", {}, "test")))
    held.start()
    try:
        assert a.entered.wait(10), "a did not start"
        other = threading.Thread(target=lambda: outcome.setdefault("b", runtime.invoke("b", {}, "test")))
        other.start()
        other.join(10)
        assert not other.is_alive(), "b waited for a: different functions do not overlap"
        assert held.is_alive(), "a is still running"
        assert outcome["b"].ok, outcome["b"].error_message
        assert outcome["b"].result == ["b", "b", "b-lazy", []]
        assert "WHO" not in os.environ, "the test's thread sees the process's environment"
        assert not {k for k in sys.modules if k.partition(".")[0] == "pkg"}, "nothing of a function's in sys.modules"
    finally:
        a.release.set()
        held.join(10)
    assert outcome["a"].ok, outcome["a"].error_message
    assert outcome["a"].result == ["a", "a", "a", "a-lazy", True, []]
    # what a imported lazily at run time landed in its private namespace, not in b's
    assert runtime.function("a").modules["pkg.lazy"].WHO == "a-lazy"
    assert runtime.function("b").modules["pkg.lazy"].WHO == "b-lazy"


def test_a_function_s_environment_is_its_own_to_change(runtime: FunctionRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESS_ONLY", "seen")
    monkeypatch.setenv("AWS_PROFILE", "developer")

    def probe(event: Any, context: Any) -> Any:
        os.environ["SET_BY_B"] = "1"
        del os.environ["PROCESS_ONLY"]
        return [os.environ.get("PROCESS_ONLY"), os.environ.get("SET_BY_B"), "AWS_PROFILE" in os.environ, os.environ["WHO"]]

    monkeypatch.setattr(runtime.function("b").module, "handler", probe)
    assert runtime.invoke("b", {}, "test").result == [None, "1", False, "b"]
    assert (os.environ.get("PROCESS_ONLY"), os.environ.get("SET_BY_B")) == ("seen", None), "the process's environment is untouched"
    assert runtime.function("b").environment["SET_BY_B"] == "1", "and the function keeps its change, as a warm sandbox would"
    assert os.getenv("WHO") is None


def test_stop_restores_the_process_s_import_and_environment(tmp_path: Path) -> None:
    import builtins

    before = (builtins.__import__, importlib.import_module, os.environ)
    runtime = FunctionRuntime([], lambda_environment={}, on_invocation=lambda i: None, on_error=lambda m: None, on_output=print)
    runtime.start()
    assert os.environ is not before[2]
    runtime.stop()
    assert (builtins.__import__, importlib.import_module, os.environ) == before
    assert os.environ is before[2]


def test_events_parse_without_their_module_in_sys_modules() -> None:
    """A host running private copies of `leave.events` (the local stack) has none of them in
    `sys.modules` when an event is parsed: the field types come from the globals the
    classes were created in."""
    sys.path.insert(0, str(ROOT / "lambdas"))
    try:
        spec = importlib.util.spec_from_file_location("private_copy_of_events", ROOT / "lambdas" / "leave" / "events.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # as the import system does while the module runs
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("private_copy_of_events", None)
        sys.path.remove(str(ROOT / "lambdas"))
    data = {
        "employee_id": "ana",
        "request_id": "r1",
        "location_id": "madrid",
        "approver_id": None,
        "leave_type": "PTO",
        "start": "2027-01-04",
        "end": "2027-01-05",
        "working_days": 2,
        "note": "",
    }
    event = module.parse_event("LeaveRequested", data)
    assert type(event).__module__ == "private_copy_of_events"
    assert (event.start, event.working_days) == (date(2027, 1, 4), 2)
    assert event.to_data() == data


# ---------------------------------------------------------------------------- stream wake-up


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    server.reset()
    yield server
    server.stop()


def test_a_write_wakes_the_table_s_stream_poller(moto_server: MotoServer) -> None:
    """The poll interval is a minute: the record is delivered because the write woke the poller."""
    from acme_eventsourcing.local.backend import Clients

    clients = Clients(moto_server.url, "us-east-1")
    ddb = clients("dynamodb")
    ddb.create_table(
        TableName="woken",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    stream_arn = ddb.describe_table(TableName="woken")["Table"]["LatestStreamArn"]
    delivered: list[list[dict[str, Any]]] = []
    arrived = threading.Event()

    def deliver(batch: list[dict[str, Any]]) -> Invocation:
        delivered.append(batch)
        arrived.set()
        return Invocation("f", "stream", "req", 0.0, 1.0, True, None, None, None)

    mapping = types.SimpleNamespace(
        logical="woken-mapping",
        starting_position="LATEST",
        batch_size=10,
        filters=(),
        report_batch_item_failures=False,
        retry_attempts=0,
        max_record_age_s=-1,
        bisect_on_error=False,
        on_failure=None,
    )
    stop = threading.Event()
    poller = StreamPoller(
        mapping,
        deliver=deliver,
        target_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        stream_arn=stream_arn,
        streams_client=clients("dynamodbstreams"),
        read_lock=moto_server.dynamodb_lock,
        forget_iterators=moto_server.forget_shard_iterators,
        sqs_client=clients("sqs"),
        failure_queue_url=None,
        stop=stop,
        delays=Delays(poll_s=60.0),
        on_error=print,
        wake=moto_server.in_process.watch("woken"),
    )
    poller.start()
    try:
        assert _wait(lambda: poller.empty_poll_after(0)), "the poller did not read the stream's end"
        ddb.put_item(TableName="woken", Item={"pk": {"S": "one"}})
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "woken", "Item": {"pk": {"S": "two"}}}}])
        assert _wait(lambda: sum(len(b) for b in delivered) == 2), "not delivered without waiting out the poll interval"
        assert poller.wakes >= 1
        assert [r["dynamodb"]["Keys"]["pk"]["S"] for b in delivered for r in b] == ["one", "two"]
    finally:
        stop.set()
        poller.wake.set()  # type: ignore[union-attr]
        poller.join(10)


def test_a_read_does_not_wake_the_poller(moto_server: MotoServer) -> None:
    from acme_eventsourcing.local.backend import Clients

    clients = Clients(moto_server.url, "us-east-1")
    ddb = clients("dynamodb")
    ddb.create_table(
        TableName="read-only",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    wake, other = moto_server.in_process.watch("read-only"), moto_server.in_process.watch("elsewhere")
    ddb.get_item(TableName="read-only", Key={"pk": {"S": "x"}})
    assert not wake.is_set()
    ddb.put_item(TableName="read-only", Item={"pk": {"S": "x"}})
    assert wake.is_set() and not other.is_set()


def test_rule_targets_input_paths_are_parsed_once(moto_server: MotoServer) -> None:
    """moto parses every target's input paths per event; `acme_eventsourcing.local.moto_patches` keeps them."""
    import jsonpath_ng.ext
    from moto.events.utils import EventTemplateParser

    event = {"id": "1", "detail-type": "T", "source": "s", "account": "1", "time": 1767225600, "region": "r", "resources": [], "detail": {}}
    event["ingestion-time"] = "t"
    assert jsonpath_ng.ext.parse("$.detail") is jsonpath_ng.ext.parse("$.detail")
    assert EventTemplateParser.parse(None, {}, event)["detail-type"] == "T"  # type: ignore[arg-type]


def _wait(condition: Any, timeout: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False
