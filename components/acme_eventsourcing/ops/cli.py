"""The command line of the operations: `python -m acme_eventsourcing.ops ... lag|rebuild|redrive`.

A project may wrap `main(argv, prog=..., program=..., code_roots=..., projections=...)` to
set its defaults (this repository's `python -m local ops` does: the program is the
repository, the projections' code is in `lambdas/`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .deployment import Deployment, DeploymentError, ProjectionOps


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "python -m acme_eventsourcing.ops",
    program: str | Path | None = None,
    code_roots: Sequence[str | Path] = (),
    projections: Mapping[str, Any] | None = None,
) -> int:
    """Run one command; the exit status (0 done, 1 something failed or is left, 2 bad usage).
    `projections` maps projection names to their `Projection` objects (default: imported
    from each projector's handler setting, with `code_roots` on `sys.path`)."""
    parser = argparse.ArgumentParser(prog=prog, description="Operations on a stack built with acme_eventsourcing: lag, rebuild, redrive.")
    where = parser.add_argument_group("where the stack is (one of)")
    where.add_argument("--local", action="store_true", help="a running local stack (its state file under .local-stack/)")
    where.add_argument("--outputs", metavar="FILE", help="a file of `pulumi stack output --json`")
    where.add_argument(
        "--stack", help="with --local: the local stack (default dev); else a Pulumi stack (runs `pulumi stack output --json`)"
    )
    parser.add_argument("--program", default=str(program or "."), help="the Pulumi project directory (default %(default)s)")
    parser.add_argument("--region", help="the AWS region (default: boto3's)")
    sub = parser.add_subparsers(dest="command", required=True)
    lag = sub.add_parser("lag", help="how far behind the Events table each projection and subscription is, and what is stuck")
    lag.add_argument("--json", action="store_true", help="print the report as JSON")
    rebuild = sub.add_parser("rebuild", help="rebuild a blue/green projection into its inactive table and switch to it")
    rebuild.add_argument("projection", help="its name (or service/name)")
    rebuild.add_argument("--code-root", action="append", default=[], help="a directory to import the projector's code from")
    rebuild.add_argument(
        "--grace",
        type=float,
        help="seconds a container may still write the old table after the switch (default: pointer cache + projector timeout)",
    )
    rebuild.add_argument("--max-behind", type=int, default=0, help="switch once a catch-up round finds at most this many streams behind")
    rebuild.add_argument("--keep-old", action="store_true", help="do not clear the old table after the switch")
    rebuild.add_argument(
        "--from-backup",
        metavar="BUCKET",
        help="replay the S3 event backup (EventBackup's bucket) instead of the Events table; catch-up still reads the Events table",
    )
    rebuild.add_argument("--backup-prefix", default="events/", help="the backup's key prefix (default %(default)s)")
    redrive = sub.add_parser("redrive", help="drain a projection's or subscription's DLQ from the Events table")
    redrive.add_argument("queue", help="the projection or subscription (name, service/name) or its DLQ URL")
    redrive.add_argument("--dry-run", action="store_true", help="say what would be done; change nothing")
    args = parser.parse_args(argv)
    try:
        deployment = _deployment(args)
        if args.command == "lag":
            return _lag(deployment, args)
        if args.command == "rebuild":
            return _rebuild(deployment, args, [*code_roots, *args.code_root], projections)
        return _redrive(deployment, args)
    except DeploymentError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2


def _deployment(args: argparse.Namespace) -> Deployment:
    if args.local:
        if args.outputs:
            raise DeploymentError("give --local or --outputs, not both")
        return Deployment.from_local(args.program, args.stack or "dev")
    if args.outputs:
        return Deployment.from_outputs_file(args.outputs, region=args.region)
    if args.stack:
        return Deployment.from_stack(args.stack, cwd=args.program, region=args.region)
    raise DeploymentError("where is the stack? give --local, --outputs FILE or --stack NAME")


def _lag(deployment: Deployment, args: argparse.Namespace) -> int:
    from .lag import lag, render

    report = lag(deployment)
    print(json.dumps(report.as_dict(), indent=2, default=str) if args.json else render(report))
    return 0


def resolve_projection(projection: ProjectionOps, code_roots: Sequence[str | Path] = (), known: Mapping[str, Any] | None = None) -> Any:
    """The `Projection` a projector runs: from `known` by name, else the `projection` of the
    handler its handler setting names (`projector_handler(...)` keeps it), imported with
    `code_roots` on `sys.path`."""
    if known and projection.name in known:
        return known[projection.name]
    for root in code_roots:
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    module, _, attribute = projection.handler.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise DeploymentError(
            f"cannot import the projector {projection.handler!r} of {projection.qualified} ({exc}): give --code-root (its code's directory)"
        ) from None
    found = getattr(handler, "projection", None)
    if found is None:
        raise DeploymentError(f"{projection.handler} is not a projector_handler(...): it names no projection to replay")
    return found


def _rebuild(deployment: Deployment, args: argparse.Namespace, code_roots: Sequence[str | Path], known: Mapping[str, Any] | None) -> int:
    from ..runtime.projections.bluegreen import cache_seconds
    from .rebuild import RebuildError, rebuild_blue_green

    target = deployment.projection(args.projection)
    if not target.blue_green:
        raise DeploymentError(
            f"{target.qualified} has one table: declare it blue_green=True (ProjectionSpec) to rebuild it without downtime"
        )
    projection = resolve_projection(target, code_roots, known)
    replay_from = None
    if args.from_backup:
        from ..runtime.backup import S3BackupReader

        replay_from = S3BackupReader(deployment.client("s3"), args.from_backup, args.backup_prefix, sources=[target.source])
    grace = args.grace if args.grace is not None else cache_seconds() + target.timeout_s + 1
    try:
        result = rebuild_blue_green(
            deployment.client("dynamodb"),
            projection,
            home=target.table,
            standby=target.standby_table or "",
            events_table=target.events_table,
            replay_from=replay_from,
            grace_s=grace,
            max_behind=args.max_behind,
            keep_old=args.keep_old,
            name=target.qualified,
            log=lambda line: print(line, flush=True),
        )
    except RebuildError as exc:
        print(f"rebuild stopped: {exc}", file=sys.stderr)
        return 1
    print(
        f"{result.projection}: now reading {result.to_table} (generation {result.generation}); replayed {result.replayed_events} events "
        f"of {result.replayed_streams} streams; {result.seconds:.1f} s in all, the {grace:.0f} s grace included"
    )
    return 0


def _redrive(deployment: Deployment, args: argparse.Namespace) -> int:
    from .redrive import redrive

    report = redrive(deployment, deployment.queue(args.queue), dry_run=args.dry_run, log=lambda line: print(line, flush=True))
    print(report.summary())
    return 1 if report.failed or report.unreadable else 0
