"""python -m local plan|up|token|demo|ops - the project on this machine, no AWS account needed.

`plan`, `up` and `token` are the packaged local stack's commands (`acme_eventsourcing.local`)
with `--program` defaulting to this repository's two programs, run in order: `platform/`,
then the root (the leave program, reading the platform's outputs); `demo` plays the leave story;
`ops` is `python -m acme_eventsourcing.ops` (lag, rebuild, redrive) with the projections' code
in `lambdas/`, on the running local stack unless `--stack NAME` or `--outputs FILE` says AWS.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "lambdas"):  # `leave.events` etc. are read by __main__.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ops"]:
        return ops(argv[1:])
    from acme_eventsourcing.local.cli import main as local_main

    return local_main(
        argv, prog="python -m local", program=(ROOT / "platform", ROOT), make_stack=_make_stack, extend=_demo_command, description=__doc__
    )


def ops(argv: list[str]) -> int:
    """`python -m local ops ...`: the operations commands on leave (`--local` by default)."""
    from acme_eventsourcing.ops.cli import main as ops_main

    if not {"--local", "--outputs", "--stack", "-h", "--help"} & {a.split("=")[0] for a in argv}:
        argv = ["--local", *argv]
    return ops_main(argv, prog="python -m local ops", program=ROOT, code_roots=[ROOT / "lambdas"])


def _make_stack(stack: str, **options: Any) -> Any:
    from .project import LocalStack

    return LocalStack(stack, **options)  # the platform, then the leave program


def _demo_command(sub: Any) -> Mapping[str, Any]:
    from acme_eventsourcing.local.cli import day

    demo = sub.add_parser("demo", help="start the local stack and play the leave story end to end")
    demo.add_argument("--stack", default="dev")
    demo.add_argument("--program", default=str(ROOT), help=argparse.SUPPRESS)
    demo.add_argument("--log", default=str(ROOT / ".local-stack" / "demo.log"), help="where the invocation log goes")
    demo.add_argument("--today", type=day, help="YYYY-MM-DD: play the story on this date (default: the real one, if the story fits it)")
    return {"demo": _demo}


def _demo(args: argparse.Namespace) -> int:
    from .demo import run

    return run(stack=args.stack, log_path=Path(args.log), today=args.today)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # before a command started
        print("\ninterrupted", file=sys.stderr, flush=True)
        sys.exit(130)
