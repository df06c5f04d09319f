"""`python -m local plan|up|token` as a user runs them (subprocesses, from the repo root)."""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from acme_eventsourcing.local.client import ApiClient
from acme_eventsourcing.local.program import Program
from acme_eventsourcing.testing import RecordedStack

from local.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def _local(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "local", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def state_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose local stacks keep key, state and journals in tmp_path (not .local-stack/)."""
    return {**os.environ, "LOCAL_STACK_STATE_DIR": str(tmp_path)}


def test_plan_prints_the_tree_the_counts_and_the_policy_report() -> None:
    result = _local("plan")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "acme:events:EventSourcedService" in out and "\n    aws:dynamodb/table:Table" in out  # indented under its parent
    assert re.search(
        r"^\s+10  aws:dynamodb/table:Table$", out, re.M
    )  # Events + 4 read models, each with a standby table; the subscription's checkpoints
    assert "Policy report for stack leave/dev" in out and "0 violations" in out


def test_plan_runs_the_platform_then_leave_and_leave_reads_the_platform_outputs() -> None:
    result = _local("plan", "--stack", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.index("Plan for stack 'prod' of project 'platform'") < out.index("Plan for stack 'prod' of project 'leave'")
    assert "Policy report for stack platform/prod" in out and "Policy report for stack leave/prod" in out
    assert "FAKE" not in out  # acme/platform/prod is the platform program just evaluated
    for name in ("bus_name", "bus_arn", "alarm_topic_arn"):
        assert f"stack reference output: acme/platform/prod -> {name} read from the program 'platform' evaluated before" in out


def test_plan_of_a_stack_that_references_another_labels_the_fake_outputs() -> None:
    result = _local("plan", "--stack", "prod", "--program", ".")  # the leave program alone: no platform to read
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAKE stack reference output: acme/platform/prod -> bus_arn" in result.stdout
    assert "FAKE stack reference output: acme/platform/prod -> alarm_topic_arn" in result.stdout
    assert "of project 'platform'" not in result.stdout


def test_plan_exits_1_on_a_policy_violation(
    dev_program: RecordedStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = copy.deepcopy(dev_program)
    log_group = broken.of_type("aws:cloudwatch/logGroup:LogGroup")[0]
    log_group.inputs.pop("retentionInDays")
    monkeypatch.setattr("acme_eventsourcing.local.program.evaluate", lambda stack, **_: Program(recorded=broken, fake_outputs=()))
    assert main(["plan"]) == 1
    assert "FAIL LOG001" in capsys.readouterr().out


def test_up_serves_the_api_accepts_local_tokens_and_stops_on_ctrl_c(state_env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "up", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=state_env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while not any(line.startswith("serving") for line in seen):
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        url = next(m[1] for line in seen if (m := re.search(r"^\s+API\s+(http://\S+)", line)))
        assert ApiClient(url).get("/openapi.json").status == 200
        token = _local("token", "--sub", "ana", "--groups", "admin", env=state_env).stdout.strip()
        assert ApiClient(url, token=token).post("/locations", {"name": "From the CLI"}).status == 201
        assert ApiClient(url, token=token + "x").post("/locations", {"name": "x"}).status == 401
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    rest = "".join(seen) + "".join(iter(lambda: lines.get(timeout=5), "stopped\n"))
    assert "NOT emulated" in rest and "leave-commands" in rest


# ---------------------------------------------------------------------- tasks.py and signals
def _children(pid: int) -> list[int]:
    """Every descendant process of `pid` (Linux /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    return found


def _start(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    # stdin is not a terminal: the way a service manager or `&` in a script starts it
    process = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put("")  # end of output

    threading.Thread(target=pump, daemon=True).start()
    return process, lines


def _until(lines: queue.Queue[str], prefix: str, timeout: float = 120) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(line.startswith(prefix) for line in seen):
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line, f"the output ended before {prefix!r}:\n" + "".join(seen)
        seen.append(line)
    return seen


def _rest(lines: queue.Queue[str]) -> str:
    return "".join(iter(lambda: lines.get(timeout=30), ""))


def _tasks_would_set_up() -> bool:
    """Whether `tasks.py` would reinstall `.venv` first (its stamp is not tasks.venv_digest())."""
    spec = importlib.util.spec_from_file_location("_tasks", ROOT / "tasks.py")
    assert spec is not None and spec.loader is not None
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    stamp = ROOT / ".venv" / ".requirements.sha256"
    return not stamp.exists() or stamp.read_text().strip() != tasks.venv_digest()


needs_current_venv = pytest.mark.skipif(_tasks_would_set_up(), reason="tasks.py would (re)install .venv first")


def test_tasks_help_lists_every_command() -> None:
    result = subprocess.run([sys.executable, "tasks.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for command in ("demo", "test", "plan", "up", "token", "setup"):
        assert f"python3 tasks.py {command} " in result.stdout


def test_tasks_unknown_command_says_so_and_exits_2() -> None:
    result = subprocess.run([sys.executable, "tasks.py", "upp"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "unknown command 'upp'" in result.stderr and "up, token, ops, setup" in result.stderr


def test_an_unknown_stack_names_the_stacks_there_are() -> None:
    result = _local("plan", "--stack", "nosuch")
    assert result.returncode == 2
    assert "no stack 'nosuch': stacks are dev, prod" in result.stderr and "Traceback" not in result.stdout + result.stderr


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
@needs_current_venv
def test_sigterm_to_tasks_up_stops_the_server_and_every_child_and_the_next_up_replays_the_events(
    state_env: dict[str, str], tmp_path: Path
) -> None:
    process, lines = _start([sys.executable, "tasks.py", "up", "--port", "0"], state_env)
    children: list[int] = []
    try:
        seen = _until(lines, "serving")
        url = next(m[1] for line in seen if (m := re.search(r"^\s+API\s+(http://\S+)", line)))
        token = _local("token", "--sub", "ana", "--groups", "admin", env=state_env).stdout.strip()
        assert ApiClient(url, token=token).post("/locations", {"name": "Before SIGTERM"}).status == 201
        children = _children(process.pid)
        assert children, "tasks.py runs the stack as a child process"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        for pid in children:  # never leave a server behind, even when this test fails
            with contextlib.suppress(OSError):
                if b"local" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
    output = "".join(seen) + _rest(lines)
    assert "SIGTERM: stopping the local stack" in output and "stopped" in output and "Traceback" not in output
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5).close()
    # the clean stop journaled every event (committed just before the signal included)
    journaled = len((tmp_path / "dev" / "events.jsonl").read_text().splitlines()) - 1
    assert journaled >= 2  # LocationCreated and LocationRegistered
    again, again_lines = _start([sys.executable, "-m", "local", "up", "--port", "0"], state_env)
    try:
        seen = _until(again_lines, "serving")
        assert any(line.startswith(f"  events     {journaled} replayed from ") for line in seen), "".join(seen)
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=60) == 0
    finally:
        if again.poll() is None:
            again.kill()


@needs_current_venv
def test_sigint_while_starting_stops_cleanly_without_a_traceback(state_env: dict[str, str]) -> None:
    process, lines = _start([sys.executable, "tasks.py", "up", "--port", "0"], state_env)
    try:
        time.sleep(3)  # the child is importing, evaluating the program or provisioning
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
    output = _rest(lines)
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    # in `up` (the usual case): the stack stops; before `up` took over: one line
    last = output.rstrip().splitlines()[-1]
    assert (code, last) == (0, "stopped") or (code == 130 and last.startswith("interrupted")), output[-2000:]
