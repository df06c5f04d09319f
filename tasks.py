#!/usr/bin/env python3
"""One entry point for a fresh machine: set up the virtualenv, then run something.

    python3 tasks.py demo      # set up, then play the leave story on the local stack
    python3 tasks.py test      # set up, then run the whole test suite, then `example` (what CI runs)
    python3 tasks.py example   # build the wheel, run examples/* against it in a virtualenv of their own
                               # (--fresh: recreate that virtualenv; other arguments go to pytest)
    python3 tasks.py plan      # set up, then the offline preview + policy report (dev: platform, then leave)
    python3 tasks.py up        # set up, then serve the local stack on 127.0.0.1 (until Ctrl-C / SIGTERM)
    python3 tasks.py token     # set up, then print a JWT the local stack accepts (--sub ana --groups admin)
    python3 tasks.py ops lag   # set up, then an operations command (lag, rebuild, redrive) on the running
                               # local stack, or on AWS with --stack NAME / --outputs FILE (docs/operations.md)
    python3 tasks.py setup     # only set up

Needs nothing but Python 3.11+. The virtualenv lives in `.venv/` in the repo; it is
reinstalled only when requirements.txt changes. Extra arguments go to the command
(e.g. `python3 tasks.py test -k publisher`, `python3 tasks.py up --port 8080`;
`python3 tasks.py up --help` lists a command's options); `test` with arguments runs only
the main suite with them. SIGINT, SIGTERM and SIGHUP are passed on to the command, and
this exits with its status.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".requirements.sha256"
EXAMPLES = ROOT / "examples"
EXAMPLE_VENV = ROOT / ".venv-example"
EXAMPLE_PY = EXAMPLE_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
DIST = ROOT / "dist"
#: pytest-xdist workers for `test`: three on two cores (the end-to-end tests mostly wait on
#: their local stacks). `-n N` overrides. Each test file runs whole on one worker
#: (`--dist loadfile`): a module's fixtures (a local stack, a recorded stack) are then built
#: once, not once on every worker that gets one of its tests. (`loadgroup` would group files
#: further, but xdist 3.8 cannot mark groups on pytest 9.2's node ids.)
TEST_WORKERS = os.environ.get("TEST_WORKERS", "3")

COMMANDS = {
    "test": ["-m", "pytest"],
    "demo": ["-m", "local", "demo"],
    "plan": ["-m", "local", "plan"],
    "up": ["-m", "local", "up"],
    "token": ["-m", "local", "token"],
    "ops": ["-m", "local", "ops"],
}


def venv_digest() -> str:
    """What `.venv` was installed from: requirements.txt and pyproject.toml (the package's extras)."""
    return hashlib.sha256(b"".join((ROOT / name).read_bytes() for name in ("requirements.txt", "pyproject.toml"))).hexdigest()


def setup() -> None:
    """Create `.venv` and install requirements.txt into it (which installs this repo's own
    package, `acme_eventsourcing`, editable), unless already current."""
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    wanted = venv_digest()
    if PY.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not PY.exists():
        print(f"creating {VENV.relative_to(ROOT)}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("installing requirements.txt (about a minute the first time) ...", flush=True)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True, cwd=ROOT)  # `-e .` is relative to the cwd
    STAMP.write_text(wanted)


def build_wheel() -> Path:
    """Build the distribution's wheel into dist/ from a copy of what it is made of
    (pyproject.toml and the package's source), so nothing left in the work tree (build/,
    egg-info, caches) can slip into it. Returns the wheel's path."""
    DIST.mkdir(exist_ok=True)
    for old in DIST.glob("acme_eventsourcing-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="acme-wheel-") as tmp:
        source = Path(tmp) / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        shutil.copytree(ROOT / "components" / "acme_eventsourcing", source / "components" / "acme_eventsourcing", ignore=ignore)
        shutil.copy2(ROOT / "pyproject.toml", source / "pyproject.toml")
        pip = [str(PY), "-m", "pip", "wheel", "--disable-pip-version-check", "--quiet", "--no-deps"]
        subprocess.run([*pip, str(source), "-w", str(DIST)], check=True, cwd=tmp)
    [wheel] = DIST.glob("acme_eventsourcing-*.whl")
    return wheel


def example_environment(wheel: Path, projects: list[Path], *, fresh: bool) -> None:
    """`.venv-example/`: a virtualenv of its own holding the built wheel and what the
    examples' requirements.txt name, never this repository's editable install. Recreated
    when the requirements change (or with --fresh); the wheel is reinstalled every time."""
    wanted = hashlib.sha256(
        b"".join([(ROOT / "pyproject.toml").read_bytes(), *((p / "requirements.txt").read_bytes() for p in projects)])
    ).hexdigest()
    stamp = EXAMPLE_VENV / ".requirements.sha256"
    pip = [str(PY), "-m", "pip", "--python", str(EXAMPLE_PY), "install", "--disable-pip-version-check", "--quiet", "--no-compile"]
    if fresh or not EXAMPLE_PY.exists() or not stamp.exists() or stamp.read_text().strip() != wanted:
        print(f"creating {EXAMPLE_VENV.relative_to(ROOT)}/ and installing the wheel with the examples' requirements ...", flush=True)
        venv.EnvBuilder(with_pip=False, clear=True).create(EXAMPLE_VENV)
        requirements = [arg for p in projects for arg in ("-r", str(p / "requirements.txt"))]
        # The wheel's path stands for the `acme-eventsourcing[...]` the requirements name.
        subprocess.run([*pip, str(wheel), *requirements], check=True, cwd=tempfile.gettempdir())
        stamp.write_text(wanted)
    subprocess.run([*pip, "--force-reinstall", "--no-deps", str(wheel)], check=True, cwd=tempfile.gettempdir())


def run_examples(argv: list[str]) -> int:
    """Build the wheel, install it into `.venv-example/`, and run each project in examples/
    from a copy outside this repository: only the installed package is importable there,
    so an example that imports lambdas/, local/ or the components' source fails. `--fresh`
    recreates the virtualenv; other arguments go to pytest."""
    fresh, pytest_args = "--fresh" in argv, [a for a in argv if a != "--fresh"]
    projects = sorted(p for p in EXAMPLES.iterdir() if (p / "Pulumi.yaml").exists())
    started = time.perf_counter()
    wheel = build_wheel()
    print(f"built {wheel.relative_to(ROOT)} ({time.perf_counter() - started:.1f} s)", flush=True)
    example_environment(wheel, projects, fresh=fresh)
    print(f"{EXAMPLE_VENV.relative_to(ROOT)}/ ready ({time.perf_counter() - started:.1f} s)", flush=True)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env.update({"PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"})
    status = 0
    for project in projects:
        with tempfile.TemporaryDirectory(prefix=f"acme-example-{project.name}-") as tmp:
            copy = Path(tmp) / project.name
            shutil.copytree(project, copy, ignore=shutil.ignore_patterns("__pycache__", "venv", ".venv", ".pytest_cache"))
            check = (  # nothing of this repository on sys.path but the example virtualenv's own site-packages
                "import sys, acme_eventsourcing; root, own = sys.argv[1:]; "
                "bad = [p for p in [acme_eventsourcing.__file__, *sys.path] if p.startswith(root) and not p.startswith(own)]; "
                "sys.exit('this repository is importable: ' + repr(bad) if bad else 0)"
            )
            subprocess.run([str(EXAMPLE_PY), "-c", check, f"{ROOT}{os.sep}", f"{EXAMPLE_VENV}{os.sep}"], check=True, cwd=copy, env=env)
            print(f"examples/{project.name}: tests from {copy}, on {wheel.name}", flush=True)
            code = run_forwarding_signals([str(EXAMPLE_PY), "-m", "pytest", "-p", "no:cacheprovider", *pytest_args], env, cwd=copy)
            status = status or code
    print(f"examples: {time.perf_counter() - started:.1f} s", flush=True)
    return status


def main(argv: list[str]) -> int:
    known = [*COMMANDS, "setup", "example"]
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0 if argv else 2
    if argv[0] not in known:
        print(f"unknown command {argv[0]!r}; commands: {', '.join(known)} (python3 tasks.py --help)", file=sys.stderr)
        return 2
    setup()
    if argv[0] == "setup":
        return 0
    if argv[0] == "example":
        return run_examples(argv[1:])
    # Bytecode is written (`__pycache__/` is ignored by git, the wheel and the Lambda zips):
    # without it every pytest worker and every local-stack subprocess compiles the package,
    # the tests and the plugins from source again, several seconds of CPU each.
    env = {**os.environ, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}
    command = [*COMMANDS[argv[0]], *argv[1:]]
    if argv[0] == "test" and "no:xdist" not in argv[1:]:  # pytest-xdist: most of the suite waits on local stacks, not the CPU
        if not any(a.startswith(("-n", "--numprocesses")) for a in argv[1:]):
            command += ["-n", TEST_WORKERS]
        if not any(a.startswith("--dist") for a in argv[1:]):
            command += ["--dist", "loadfile"]
    status = run_forwarding_signals([str(PY), *command], env)
    if argv[0] == "test" and len(argv) == 1 and status == 0:  # the whole suite: the examples from the wheel too
        status = run_examples([])
    return status


def run_forwarding_signals(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> int:
    """Run `command` as a child; SIGINT/SIGTERM/SIGHUP sent to this process go to the child,
    which decides how to stop; return its exit status (128 + n if signal n ended it)."""
    child = subprocess.Popen(command, cwd=cwd, env=env)
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
