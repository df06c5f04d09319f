#!/usr/bin/env python3
"""One entry point for a fresh machine: set up the virtualenv, then run something.

    python3 tasks.py demo      # set up, then play the leave story on the local stack
    python3 tasks.py test      # set up, then run the whole test suite
    python3 tasks.py plan      # set up, then the offline preview + policy report (dev)
    python3 tasks.py up        # set up, then serve the local stack on 127.0.0.1 (until Ctrl-C / SIGTERM)
    python3 tasks.py token     # set up, then print a JWT the local stack accepts (--sub ana --groups admin)
    python3 tasks.py setup     # only set up

Needs nothing but Python 3.11+. The virtualenv lives in `.venv/` in the repo; it is
reinstalled only when requirements.txt changes. Extra arguments go to the command
(e.g. `python3 tasks.py test -k publisher`, `python3 tasks.py up --port 8080`;
`python3 tasks.py up --help` lists a command's options). SIGINT, SIGTERM and SIGHUP are
passed on to the command, and this exits with its status.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".requirements.sha256"

COMMANDS = {
    "test": ["-m", "pytest"],
    "demo": ["-m", "local", "demo"],
    "plan": ["-m", "local", "plan"],
    "up": ["-m", "local", "up"],
    "token": ["-m", "local", "token"],
}


def setup() -> None:
    """Create `.venv` and install requirements.txt into it (which installs this repo's own
    package, `acme_eventsourcing`, editable), unless already current."""
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256(b"".join((ROOT / name).read_bytes() for name in ("requirements.txt", "pyproject.toml"))).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not PY.exists():
        print(f"creating {VENV.relative_to(ROOT)}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("installing requirements.txt (about a minute the first time) ...", flush=True)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True, cwd=ROOT)  # `-e .` is relative to the cwd
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    known = [*COMMANDS, "setup"]
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0 if argv else 2
    if argv[0] not in known:
        print(f"unknown command {argv[0]!r}; commands: {', '.join(known)} (python3 tasks.py --help)", file=sys.stderr)
        return 2
    setup()
    if argv[0] == "setup":
        return 0
    env = {**os.environ, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "PYTHONDONTWRITEBYTECODE": "1"}
    return run_forwarding_signals([str(PY), *COMMANDS[argv[0]], *argv[1:]], env)


def run_forwarding_signals(command: list[str], env: dict[str, str]) -> int:
    """Run `command` as a child; SIGINT/SIGTERM/SIGHUP sent to this process go to the child,
    which decides how to stop; return its exit status (128 + n if signal n ended it)."""
    child = subprocess.Popen(command, cwd=ROOT, env=env)
    forwarded = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None and not (signum == signal.SIGINT and _terminal_sent_it()):
            child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in forwarded}
    try:
        while True:
            try:
                code = child.wait()
                break
            except KeyboardInterrupt:  # only if SIGINT arrived before the handler was set
                forward(signal.SIGINT, None)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 128 - code if code < 0 else code


def _terminal_sent_it() -> bool:
    """Whether we are the terminal's foreground process group: then Ctrl-C's SIGINT went
    to the child as well (same group), and forwarding it would make it a second Ctrl-C."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (AttributeError, OSError, ValueError):  # no terminal (background, pipe) or no job control
        return False


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # e.g. Ctrl-C while setting up
        print("interrupted", file=sys.stderr)
        sys.exit(130)
