"""`python -m local plan|up|token` as a user runs them (subprocesses, from the repo root)."""

from __future__ import annotations

import copy
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from components.testing import RecordedStack
from local.__main__ import main
from local.client import ApiClient
from local.program import Program

ROOT = Path(__file__).resolve().parents[2]


def _local(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "local", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_plan_prints_the_tree_the_counts_and_the_policy_report() -> None:
    result = _local("plan")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "acme:events:EventSourcedService" in out and "\n    aws:dynamodb/table:Table" in out  # indented under its parent
    assert re.search(r"^\s+5  aws:dynamodb/table:Table$", out, re.M)
    assert "Policy report for stack leave/dev" in out and "0 violations" in out


def test_plan_of_a_stack_that_references_another_labels_the_fake_outputs() -> None:
    result = _local("plan", "--stack", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAKE stack reference output: acme/platform/prod -> bus_arn" in result.stdout


def test_plan_exits_1_on_a_policy_violation(
    dev_program: RecordedStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = copy.deepcopy(dev_program)
    log_group = broken.of_type("aws:cloudwatch/logGroup:LogGroup")[0]
    log_group.inputs.pop("retentionInDays")
    monkeypatch.setattr("local.program.evaluate", lambda stack: Program(recorded=broken, fake_outputs=()))
    assert main(["plan"]) == 1
    assert "FAIL LOG001" in capsys.readouterr().out


def test_up_serves_the_api_accepts_local_tokens_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "up", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
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
        token = _local("token", "--sub", "ana", "--groups", "admin").stdout.strip()
        assert ApiClient(url, token=token).post("/locations", {"name": "From the CLI"}).status == 201
        assert ApiClient(url, token=token + "x").post("/locations", {"name": "x"}).status == 401
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    rest = "".join(seen) + "".join(iter(lambda: lines.get(timeout=5), "stopped\n"))
    assert "NOT emulated" in rest and "leave-commands" in rest
