#!/usr/bin/env python3
"""One entry point for a fresh machine: set up the virtualenv, then run something.

    python3 tasks.py demo      # set up, then play the leave story on the local stack
    python3 tasks.py test      # set up, then run the whole test suite
    python3 tasks.py plan      # set up, then the offline preview + policy report (dev)
    python3 tasks.py up        # set up, then serve the local stack on 127.0.0.1
    python3 tasks.py setup     # only set up

Needs nothing but Python 3.11+. The virtualenv lives in `.venv/` in the repo; it is
reinstalled only when requirements.txt changes. Extra arguments go to the command
(e.g. `python3 tasks.py test -k publisher`, `python3 tasks.py up --port 8080`).
"""

from __future__ import annotations

import hashlib
import os
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
    """Create `.venv` and install requirements.txt into it, unless already current."""
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not PY.exists():
        print(f"creating {VENV.relative_to(ROOT)}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("installing requirements.txt (about a minute the first time) ...", flush=True)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"} or argv[0] not in {*COMMANDS, "setup"}:
        print(__doc__)
        return 0 if argv and argv[0] in {"-h", "--help", "help"} else 2
    setup()
    if argv[0] == "setup":
        return 0
    env = {**os.environ, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([str(PY), *COMMANDS[argv[0]], *argv[1:]], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
