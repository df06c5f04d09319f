"""Where a deployed stack's parts are: read from its outputs (`operations`), for the commands.

    deployment = Deployment.from_outputs(json.load(open("outputs.json")))   # pulumi stack output --json
    deployment = Deployment.from_stack("prod")                               # runs that command
    deployment = Deployment.from_local(".", "dev")                           # a running local stack

A stack exports `operations`: `{service: EventSourcedService.operations}` (see
`acme_eventsourcing.EventSourcedService`): each service's `source`, Events table,
projections (tables, function, handler, DLQ, detail types) and subscriptions (function,
handler, DLQ, checkpoint table, sources, detail types). A local
stack writes its outputs, with moto's URLs, into its state file (`.local-stack/<stack>.json`),
and its moto endpoint, which every client of the commands then talks to.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class DeploymentError(RuntimeError):
    """The stack's outputs do not say what a command needs (the message says what)."""


@dataclass(frozen=True, kw_only=True)
class ProjectionOps:
    """A projection as the operations commands see it."""

    service: str
    name: str
    source: str
    events_table: str
    table: str
    standby_table: str | None
    function: str
    handler: str
    timeout_s: int
    dlq_url: str
    detail_types: tuple[str, ...]

    @property
    def qualified(self) -> str:
        return f"{self.service}/{self.name}"

    @property
    def blue_green(self) -> bool:
        return bool(self.standby_table)


@dataclass(frozen=True, kw_only=True)
class SubscriptionOps:
    """A subscription as the operations commands see it."""

    service: str
    name: str
    function: str
    handler: str
    timeout_s: int
    dlq_url: str
    sources: tuple[str, ...]
    detail_types: tuple[str, ...]
    checkpoint_table: str | None = None
    """Its checkpoint table (None: a stack from before subscriptions had one)."""

    @property
    def qualified(self) -> str:
        return f"{self.service}/{self.name}"


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """The projections, subscriptions and Events tables of a stack, and how to reach AWS
    (`endpoint_url`: a local stack's moto; None = AWS, with boto3's usual credentials)."""

    projections: tuple[ProjectionOps, ...]
    subscriptions: tuple[SubscriptionOps, ...]
    events_tables: Mapping[str, str]
    """Source -> its service's Events table."""
    endpoint_url: str | None = None
    region: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any], *, endpoint_url: str | None = None, region: str | None = None) -> Deployment:
        """From a stack's outputs (`pulumi stack output --json`); `DeploymentError` without `operations`."""
        services = outputs.get("operations")
        if not isinstance(services, Mapping) or not services:
            raise DeploymentError(
                "the stack's outputs have no 'operations' (export each service's: "
                'pulumi.export("operations", {"<service>": service.operations}))'
            )
        projections: list[ProjectionOps] = []
        subscriptions: list[SubscriptionOps] = []
        events_tables: dict[str, str] = {}
        for service, ops in sorted(services.items()):
            source, events_table = ops.get("source"), ops.get("events_table")
            if events_table:
                events_tables[source] = events_table
            for name, p in sorted((ops.get("projections") or {}).items()):
                projections.append(
                    ProjectionOps(
                        service=service,
                        name=name,
                        source=source,
                        events_table=events_table,
                        table=p["table"],
                        standby_table=p.get("standby_table") or None,
                        function=p["function"],
                        handler=p.get("handler", ""),
                        timeout_s=int(p.get("timeout_s") or 0),
                        dlq_url=p["dlq_url"],
                        detail_types=tuple(p.get("detail_types") or ()),
                    )
                )
            for name, s in sorted((ops.get("subscriptions") or {}).items()):
                subscriptions.append(
                    SubscriptionOps(
                        service=service,
                        name=name,
                        function=s["function"],
                        handler=s.get("handler", ""),
                        timeout_s=int(s.get("timeout_s") or 0),
                        dlq_url=s["dlq_url"],
                        sources=tuple(s.get("sources") or ()),
                        detail_types=tuple(s.get("detail_types") or ()),
                        checkpoint_table=s.get("checkpoint_table") or None,
                    )
                )
        return cls(
            projections=tuple(projections),
            subscriptions=tuple(subscriptions),
            events_tables=events_tables,
            endpoint_url=endpoint_url,
            region=region,
        )

    @classmethod
    def from_outputs_file(cls, path: str | Path, **options: Any) -> Deployment:
        """From a file holding `pulumi stack output --json`."""
        try:
            outputs = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise DeploymentError(f"cannot read the stack outputs in {path}: {exc}") from None
        return cls.from_outputs(outputs, **options)

    @classmethod
    def from_stack(cls, stack: str, *, cwd: str | Path | None = None, **options: Any) -> Deployment:
        """From `pulumi stack output --json --stack <stack>` (the Pulumi CLI, logged in)."""
        try:
            done = subprocess.run(
                ["pulumi", "stack", "output", "--json", "--stack", stack], cwd=cwd, capture_output=True, text=True, check=False
            )
        except FileNotFoundError:
            raise DeploymentError("the pulumi CLI is not installed: give --outputs FILE (pulumi stack output --json) instead") from None
        if done.returncode != 0:
            raise DeploymentError(f"pulumi stack output --stack {stack} failed: {done.stderr.strip()}")
        return cls.from_outputs(json.loads(done.stdout), **options)

    @classmethod
    def from_local(cls, program: str | Path = ".", stack: str = "dev", *, state_dir: Path | None = None) -> Deployment:
        """From the state file of a running local stack of the project at `program`."""
        # where `acme_eventsourcing.local.stack.state_dir_for` puts it (not imported: that loads moto and pulumi)
        state_dir = state_dir or Path(os.environ.get("LOCAL_STACK_STATE_DIR") or Path(program).resolve() / ".local-stack")
        state_file = state_dir / f"{stack}.json"
        if not state_file.exists():
            raise DeploymentError(f"no local stack {stack!r} is running (no {state_file}): start one with `up`")
        state = json.loads(state_file.read_text())
        if "outputs" not in state:
            raise DeploymentError(f"{state_file} has no outputs: restart the local stack with this version")
        return cls.from_outputs(state["outputs"], endpoint_url=state["moto_url"], region=state.get("region") or "us-east-1")

    # ------------------------------------------------------------------ clients and look-ups
    def client(self, service: str) -> Any:
        """A boto3 client of `service` (dynamodb, sqs, lambda) on this deployment."""
        if service not in self._clients:
            import boto3

            kwargs: dict[str, Any] = {}
            if self.region:
                kwargs["region_name"] = self.region
            if self.endpoint_url:
                kwargs.update(endpoint_url=self.endpoint_url, aws_access_key_id="testing", aws_secret_access_key="testing")
            self._clients[service] = boto3.session.Session().client(service, **kwargs)
        return self._clients[service]

    def projection(self, name: str) -> ProjectionOps:
        """The projection called `name` (or `service/name`); `DeploymentError` naming the known ones."""
        return _pick("projection", name, self.projections)

    def subscription(self, name: str) -> SubscriptionOps:
        return _pick("subscription", name, self.subscriptions)

    def queue(self, name: str) -> ProjectionOps | SubscriptionOps:
        """The projection or subscription whose DLQ `name` names (its name, `service/name`, or the queue URL)."""
        reactors: list[ProjectionOps | SubscriptionOps] = [*self.projections, *self.subscriptions]
        by_url = [r for r in reactors if r.dlq_url == name]
        if by_url:
            return by_url[0]
        return _pick("projection or subscription", name, reactors)


def _pick(what: str, name: str, items: Any) -> Any:
    found = [i for i in items if name in (i.name, i.qualified)]
    if len(found) == 1:
        return found[0]
    known = ", ".join(i.qualified for i in items) or "none"
    if found:
        raise DeploymentError(f"{what} {name!r} is ambiguous: say which ({', '.join(i.qualified for i in found)})")
    raise DeploymentError(f"no {what} {name!r} in this stack (known: {known})")
