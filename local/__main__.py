"""python -m local plan|up|token|demo - the project on this machine, no AWS account needed."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "lambdas"):  # `leave.events` etc. are read by __main__.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="evaluate the program offline: resource tree, counts, policy report (exit 1 on violations)")
    plan.add_argument("--stack", default="dev")
    up = sub.add_parser("up", help="run the stack locally: moto + the handlers in-process + the HTTP API")
    up.add_argument("--stack", default="dev")
    up.add_argument("--port", type=int, default=8080, help="HTTP API port (0 = any free port)")
    up.add_argument("--today", type=_day, help="YYYY-MM-DD: the date the functions see (real time of day, UTC)")
    up.add_argument(
        "--fresh", action="store_true", help="start with no events (the journal .local-stack/<stack>/events.jsonl is set aside)"
    )
    token = sub.add_parser("token", help="print a JWT the local stack accepts")
    token.add_argument("--sub", required=True, help="the caller (employee id), put in the identity claim the API declares")
    token.add_argument("--groups", default="", help="comma-separated groups, e.g. admin,approver")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.add_argument("--stack", default="dev")
    demo = sub.add_parser("demo", help="start the local stack and play the leave story end to end")
    demo.add_argument("--stack", default="dev")
    demo.add_argument("--log", default=str(ROOT / ".local-stack" / "demo.log"), help="where the invocation log goes")
    demo.add_argument("--today", type=_day, help="YYYY-MM-DD: play the story on this date (default: the real one, if the story fits it)")
    args = parser.parse_args(argv)
    if (problem := _unknown_stack(args.stack)) is not None:
        print(problem, file=sys.stderr)
        return 2
    try:
        return {"plan": _plan, "up": _up, "token": _token, "demo": _demo}[args.command](args)
    except KeyboardInterrupt:  # Ctrl-C outside `up`'s own handling: one line, no traceback
        print(f"\ninterrupted: {args.command} stopped", file=sys.stderr, flush=True)
        return 130


def _unknown_stack(name: str) -> str | None:
    """Why `--stack name` cannot be run (no `Pulumi.<name>.yaml`), or None."""
    if (ROOT / f"Pulumi.{name}.yaml").is_file():
        return None
    known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml"))
    return f"no stack {name!r}: stacks are {', '.join(known) or 'none'} (the Pulumi.<name>.yaml files in {ROOT})"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _plan(args: argparse.Namespace) -> int:
    from .plan import render
    from .program import evaluate

    text, report = render(evaluate(args.stack))
    print(text)
    return 0 if report.ok else 1


def _up(args: argparse.Namespace) -> int:
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            print(f"\n{signal.Signals(signum).name}: stopping the local stack ...", flush=True)
        stopping.set()

    # before anything slow: a signal during start-up stops the stack once it is up
    for signum in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None:
            signal.signal(signum, on_signal)
    from .stack import LocalStack, LocalStackError

    stack = LocalStack(
        args.stack, port=args.port, log=lambda line: print(line, flush=True), today=args.today, persist=True, fresh=args.fresh
    )
    try:
        stack.start()
    except OSError as exc:
        print(f"cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}; choose another --port (0 = any free port)", file=sys.stderr)
        return 2
    except LocalStackError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    try:
        if not stopping.is_set():
            print("serving; Ctrl-C or SIGTERM stops", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        stack.stop()
    print("stopped", flush=True)
    return 0


def _token(args: argparse.Namespace) -> int:
    from .stack import STATE_DIR
    from .tokens import DEFAULT_IDENTITY_CLAIM, LOCAL_AUDIENCE, LOCAL_ISSUER, Issuer, load_key

    state_file = STATE_DIR / f"{args.stack}.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        issuer, audiences = state["issuer"], tuple(state["audiences"])
        claim = state.get("identity_claim") or DEFAULT_IDENTITY_CLAIM
    else:
        declared = _declared_authorizer(args.stack)
        issuer, audiences, claim = declared or (LOCAL_ISSUER, (LOCAL_AUDIENCE,), DEFAULT_IDENTITY_CLAIM)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    print(Issuer(load_key(STATE_DIR), issuer, audiences).token(args.sub, groups, args.ttl, identity_claim=claim))
    return 0


def _declared_authorizer(stack: str) -> tuple[str, tuple[str, ...], str] | None:
    """Issuer and audiences of the stack's first JWT route, and the identity claim its API
    functions declare (evaluates the program)."""
    from .model import T_AUTHORIZER, T_FUNCTION
    from .program import evaluate
    from .tokens import IDENTITY_CLAIM_ENV, identity_claim

    recorded = evaluate(stack).recorded
    environments = [(f.inputs.get("environment") or {}).get("variables") or {} for f in recorded.of_type(T_FUNCTION)]
    claim = identity_claim(env for env in environments if IDENTITY_CLAIM_ENV in env)
    for authorizer in recorded.of_type(T_AUTHORIZER):
        jwt = authorizer.inputs.get("jwtConfiguration") or {}
        if jwt.get("issuer"):
            return jwt["issuer"], tuple(jwt.get("audiences") or ()), claim
    return None


def _demo(args: argparse.Namespace) -> int:
    from .demo import run

    return run(stack=args.stack, log_path=Path(args.log), today=args.today)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # before a command started
        print("\ninterrupted", file=sys.stderr, flush=True)
        sys.exit(130)
