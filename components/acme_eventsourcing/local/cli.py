"""The local stack's command line: `plan`, `up`, `token` and `schedule` for a Pulumi project, or
for several run as one system (`--program platform --program service`: in order, each later
one reading the real outputs of the earlier ones it references).

`python -m acme_eventsourcing.local` runs `main()`; a project may wrap it to add commands of
its own or different defaults (`main(argv, prog=..., program=..., make_stack=..., extend=...)`),
as this repository's `python -m local` does to add its `demo`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

Command = Callable[[argparse.Namespace], int]
#: Adds a project's own sub-commands: gets the sub-parsers, returns {name: what runs it}.
Extend = Callable[[Any], Mapping[str, Command]]

DESCRIPTION = "A Pulumi program built with acme_eventsourcing, on this machine: no AWS account, no Pulumi CLI."


def main(
    argv: list[str] | None = None,
    *,
    prog: str = "python -m acme_eventsourcing.local",
    program: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    make_stack: Callable[..., Any] | None = None,
    extend: Extend | None = None,
    description: str = DESCRIPTION,
) -> int:
    """Run one command; the exit status. `program` is the default of `--program` (else the
    working directory): one project directory, or several run in order; `make_stack(stack,
    programs=[...], **options)` makes the `LocalStack` of `up` (default: `LocalStack`). A
    command sees `args.programs`, the projects, and `args.program`, the last of them (the one
    whose `.local-stack/` keeps the state)."""
    defaults = [str(program)] if isinstance(program, (str, os.PathLike)) else [str(p) for p in program or ["."]]
    default_program = " --program ".join(defaults)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--stack", default="dev", help="the stack: its config is Pulumi.<stack>.yaml (default dev)")
        command.add_argument(
            "--program",
            action="append",
            help="a Pulumi project directory, with Pulumi.yaml; repeat it to run several in order, e.g. the platform, "
            f"then a service reading its outputs (default --program {default_program})",
        )
        return command

    add("plan", "evaluate the program offline: resource tree, counts, policy report (exit 1 on violations)")
    up = add("up", "run the stack locally: moto + the handlers in-process + the HTTP API")
    up.add_argument("--port", type=int, default=8080, help="HTTP API port (0 = any free port)")
    up.add_argument("--today", type=day, help="YYYY-MM-DD: the date the functions see (real time of day, UTC)")
    up.add_argument(
        "--fresh", action="store_true", help="start with no events (the journal .local-stack/<stack>/events.jsonl is set aside)"
    )
    token = add("token", "print a JWT the local stack accepts")
    token.add_argument("--sub", required=True, help="the caller, put in the identity claim the API declares")
    token.add_argument("--groups", default="", help="comma-separated groups (cognito:groups), e.g. admin,approver")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    schedule = add("schedule", "list the schedules of the running local stack (`up`), or fire one now as Scheduler would")
    schedule.add_argument("action", choices=("list", "fire"))
    schedule.add_argument("name", nargs="?", help="fire: the schedule's name (or its declared name, without the physical suffix)")
    schedule.add_argument("--group", help="the schedule group (default: whichever group has the schedule)")
    received = add(
        "received",
        "list what the built-in receiver took for API destinations outside this machine (e.g. the Slack messages)",
    )
    received.add_argument("--destination", help="only this destination (its logical name, or a suffix of it)")
    received.add_argument("--json", action="store_true", help="one JSON object per request (headers and body included)")
    commands: dict[str, Command] = {
        "plan": _plan,
        "up": lambda args: _up(args, make_stack),
        "token": _token,
        "schedule": _schedule,
        "received": _received,
    }
    if extend is not None:
        commands.update(extend(sub))
    args = parser.parse_args(argv)
    given = getattr(args, "program", None)  # a list (--program repeated), or one value from a project's own command
    args.programs = given if isinstance(given, list) else [given] if given else defaults
    args.program = args.programs[-1]
    for directory in args.programs:
        if (problem := unknown_stack(directory, args.stack)) is not None:
            print(problem, file=sys.stderr)
            return 2
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:  # Ctrl-C outside `up`'s own handling: one line, no traceback
        print(f"\ninterrupted: {args.command} stopped", file=sys.stderr, flush=True)
        return 130


def unknown_stack(program: str | os.PathLike[str], name: str) -> str | None:
    """Why `--program program --stack name` cannot be run (no Pulumi.yaml, no
    `Pulumi.<name>.yaml`), or None."""
    root = Path(program).resolve()
    if not (root / "Pulumi.yaml").is_file():
        return f"no Pulumi project at {root}: it has no Pulumi.yaml (give --program the project directory)"
    if (root / f"Pulumi.{name}.yaml").is_file():
        return None
    known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml"))
    return f"no stack {name!r}: stacks are {', '.join(known) or 'none'} (the Pulumi.<name>.yaml files in {root})"


def day(text: str) -> date:
    """An argparse type: a YYYY-MM-DD date."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _plan(args: argparse.Namespace) -> int:
    from . import program
    from .plan import render

    ok = True
    for evaluated in program.evaluate_programs(args.stack, programs=args.programs):
        text, report = render(evaluated)
        print(text)
        ok = ok and report.ok
    return 0 if ok else 1


def _up(args: argparse.Namespace, make_stack: Callable[..., Any] | None) -> int:
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

    options: dict[str, Any] = {
        "port": args.port,
        "log": lambda line: print(line, flush=True),
        "today": args.today,
        "persist": True,
        "fresh": args.fresh,
    }
    options["programs"] = args.programs
    stack = (make_stack or LocalStack)(args.stack, **options)
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
    from .statedir import state_dir_for
    from .tokens import DEFAULT_IDENTITY_CLAIM, LOCAL_AUDIENCE, LOCAL_ISSUER, Issuer, load_key

    state_dir = state_dir_for(Path(args.program).resolve())
    state_file = state_dir / f"{args.stack}.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        issuer, audiences = state["issuer"], tuple(state["audiences"])
        claim = state.get("identity_claim") or DEFAULT_IDENTITY_CLAIM
    else:
        declared = _declared_authorizer(args.program, args.stack)
        issuer, audiences, claim = declared or (LOCAL_ISSUER, (LOCAL_AUDIENCE,), DEFAULT_IDENTITY_CLAIM)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    print(Issuer(load_key(state_dir), issuer, audiences).token(args.sub, groups, args.ttl, identity_claim=claim))
    return 0


def _schedule(args: argparse.Namespace) -> int:
    """`schedule list` / `schedule fire NAME`: through the running stack's moto server (its
    state file names it). Firing starts the target as Scheduler would, at the real time now:
    a state machine's execution and a function run in the stack's process."""
    from datetime import UTC, datetime

    import boto3

    from . import schedules
    from .statedir import state_dir_for

    state_file = state_dir_for(Path(args.program).resolve()) / f"{args.stack}.json"
    if not state_file.exists():
        print(f"no local stack {args.stack!r} is running for {args.program} (start it with `up`; looked for {state_file})", file=sys.stderr)
        return 2
    state = json.loads(state_file.read_text())
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=state.get("region") or "us-east-1"
    )
    made: dict[str, Any] = {}

    def clients(service: str) -> Any:  # boto3 on the stack's moto server (no moto import here: the command starts fast)
        if service not in made:
            made[service] = session.client(service, endpoint_url=state["moto_url"])  # type: ignore[call-overload]
        return made[service]

    scheduler = clients("scheduler")
    groups = [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"] if args.group in {None, g["Name"]}]
    found = [
        scheduler.get_schedule(Name=s["Name"], GroupName=g) for g in groups for s in scheduler.list_schedules(GroupName=g)["Schedules"]
    ]
    if args.action == "list":
        for s in found:
            print(
                f"{s['GroupName']}/{s['Name']}  {s['ScheduleExpression']} {s.get('ScheduleExpressionTimezone') or 'UTC'}  "
                f"{s.get('State', 'ENABLED')}  -> {s['Target']['Arn']}"
            )
        return 0
    if not args.name:
        print("schedule fire needs the schedule's NAME (schedule list shows them)", file=sys.stderr)
        return 2
    matching = [s for s in found if s["Name"] == args.name] or [s for s in found if s["Name"].rsplit("-", 1)[0] == args.name]
    if len(matching) != 1:
        known = ", ".join(f"{s['GroupName']}/{s['Name']}" for s in found) or "none"
        problem = "no schedule" if not matching else f"{len(matching)} schedules match"
        print(f"{problem} {args.name!r}" + (f" in group {args.group!r}" if args.group else "") + f"; schedules: {known}", file=sys.stderr)
        return 2
    schedule = matching[0]
    fired = schedules.fire(schedule, datetime.now(UTC), clients)
    print(f"fired {schedule['GroupName']}/{schedule['Name']} at {fired.scheduled_time.isoformat(timespec='seconds')} -> {fired.result}")
    return 0 if fired.ok else 1


def _received(args: argparse.Namespace) -> int:
    """`received`: the requests the receiver of the stack's API destinations recorded
    (`<state dir>/<stack>.received.jsonl`, kept after the stack stops, credentials masked)."""
    from .api_destinations import describe_request, read_received
    from .statedir import state_dir_for

    path = state_dir_for(Path(args.program).resolve()) / f"{args.stack}.received.jsonl"
    if not path.exists():
        print(f"nothing received: no {path} (a local stack with an API destination writes it while `up` runs)", file=sys.stderr)
        return 2
    for request in read_received(path):
        if args.destination and not request["destination"].endswith(args.destination):
            continue
        print(json.dumps(request) if args.json else describe_request(request))
    return 0


def _declared_authorizer(program: str, stack: str) -> tuple[str, tuple[str, ...], str] | None:
    """Issuer and audiences of the stack's first JWT route, and the identity claim its API
    functions declare (evaluates the program)."""
    from acme_eventsourcing.testing.stack_model import AUTHORIZER, FUNCTION

    from . import program as programs
    from .tokens import IDENTITY_CLAIM_ENV, identity_claim

    recorded = programs.evaluate(stack, program=program).recorded
    environments = [(f.inputs.get("environment") or {}).get("variables") or {} for f in recorded.of_type(FUNCTION)]
    claim = identity_claim(env for env in environments if IDENTITY_CLAIM_ENV in env)
    for authorizer in recorded.of_type(AUTHORIZER):
        jwt = authorizer.inputs.get("jwtConfiguration") or {}
        if jwt.get("issuer"):
            return jwt["issuer"], tuple(jwt.get("audiences") or ()), claim
    return None
