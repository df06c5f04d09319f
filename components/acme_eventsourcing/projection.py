"""Projection: a read model kept from a service's events (rule, DLQ, projector, RetainedTable)."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from . import _iam, _reactor
from .defaults import ChildScope, DeliverySpec, FunctionSpec, ServiceDefaults
from .refs import EventBusRef, KmsKeyRef, TableRef, bus_identifiers, resolve
from .retained_table import RetainedTable, RetainedTableArgs
from .runtime.live_messages import live_source

TYPE_TOKEN = "acme:events:Projection"
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,255}$")
_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")


@dataclass(frozen=True, kw_only=True)
class ProjectionArgs:
    """Arguments of `Projection`."""

    source: str
    """The service whose events it projects (the rule matches this `source`)."""
    bus: EventBusRef
    """The bus those events are on."""
    events_table: TableRef
    """The service's Events table: the projector reads it to fill gaps and rebuild."""
    function: FunctionSpec
    """The projector."""
    detail_types: Sequence[str]
    """The event types it handles."""
    delivery: DeliverySpec = field(default_factory=DeliverySpec)
    """Retries of delivery and of the function."""
    defaults: ServiceDefaults = field(default_factory=ServiceDefaults)
    """Log retention, alarm actions, tags, KMS key, runtime."""
    blue_green: bool = False
    """A second, standby table `<name>-standby` and a pointer to the active one (an item of
    the home table), so `python -m acme_eventsourcing.ops rebuild` can rebuild the read model
    without downtime. Off by default: it adds a table (empty between rebuilds) per
    projection and a pointer lookup every few seconds per container."""
    live: bool = False
    """Live updates: after each commit that changed its rows, the projector puts a
    `ReadModelChanged` notice (source `<source>.live`) on the bus for the topics the runtime
    projection's `topics(event, changed)` names (`runtime.projections.Live`); a `LiveUpdates`
    notifier tells the connected clients. The projector gets `LIVE_EVENT_BUS` and may put
    events on the bus with that source only."""

    def validate(self, what: str = "projection") -> None:
        if not _SOURCE.match(self.source):
            raise ValueError(f"{what}: source {self.source!r} is not an event source")
        self.bus.validate()
        self.events_table.validate()
        self.function.validate(what)
        _reactor.check_detail_types(what, self.detail_types)
        self.delivery.validate()
        self.defaults.validate()


class Projection(pulumi.ComponentResource):
    """A read model: a `pk`/`sk` `RetainedTable` named `name`, a rule `<name>-rule` on the
    bus for `source` and `detail_types`, a target with 10 retries / 1 day maximum age and
    a DLQ `<name>-dlq` (depth alarm), and the projector function `<name>-projector`
    (failed asynchronous invocations also go to the DLQ; Errors alarm). The projector may
    maintain its own table and read the Events table (GetItem, Query), nothing else; it gets
    READ_MODEL_TABLE and EVENTS_TABLE in its environment.

    With `blue_green`, a second `RetainedTable` `<name>-standby` (same keys and protection)
    that the projector may maintain too (READ_MODEL_STANDBY_TABLE); which of the two is
    active is the pointer item in the home table (`runtime.projections.bluegreen`), read by
    the projector and the queries; the home table keeps its name and URN.

    With `live`, the projector also gets `LIVE_EVENT_BUS` and `events:PutEvents` on the bus
    for the source `<source>.live` only (its change notices, docs/live-updates.md).

    Outputs: `table_name`, `table_arn`, `standby_table_name` (None without `blue_green`),
    `function_name`, `dlq_url`; `table.ref` hands the read model to an `HttpApi`
    (`standby_table.ref` too, for the queries' read permission).
    """

    table_name: pulumi.Output[str]
    """The read-model table."""
    table_arn: pulumi.Output[str]
    """Its ARN."""
    standby_table_name: pulumi.Output[str] | None
    """The standby table of a blue/green projection (None otherwise)."""
    function_name: pulumi.Output[str]
    """The projector function."""
    dlq_url: pulumi.Output[str]
    """Where events the projector could not handle go."""

    def __init__(
        self,
        name: str,
        args: ProjectionArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        former_parent: pulumi.Resource | None = None,
        label: str | None = None,
    ) -> None:
        """`former_parent`: the component that declared these resources before (they get an
        alias to it, so an existing stack keeps them); None for a new projection. `label`:
        the projection's short name in descriptions (default: `name`)."""
        args.validate(f"projection {label or name!r}")
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        bus_name, bus_arn, _ = bus_identifiers(args.bus, name=f"{name}-bus", parent=self)
        events, _ = resolve(args.events_table, name=f"{name}-events", parent=self)
        scope = ChildScope(
            self,
            name,
            args.defaults,
            former_parent=former_parent,
            key_description=f"{args.source}: projection {label or name}",
            log_group_prefixes=[f"/aws/lambda/{name}-"],
            rule_arn_patterns=[_reactor.rule_arn_pattern(bus_arn, name)],  # type: ignore[arg-type]
        )
        self.kms_key = scope.kms_key
        table_args = RetainedTableArgs(
            hash_key="pk",
            range_key="sk",
            kms_key=None if scope.kms_key_arn is None else KmsKeyRef(key_arn=scope.kms_key_arn),
            aws_managed_key=args.defaults.aws_managed_keys,
            tags=args.defaults.tags,
        )
        self.table = RetainedTable(name, table_args, opts=scope.opts)
        self.standby_table: RetainedTable | None = None
        tables: list[RetainedTable] = [self.table]
        environment: dict[str, Any] = {"READ_MODEL_TABLE": self.table.table_name, "EVENTS_TABLE": events.table_name}
        if args.blue_green:
            # a new resource, parented like the table (no alias: it never existed elsewhere)
            self.standby_table = RetainedTable(f"{name}-standby", table_args, opts=pulumi.ResourceOptions(parent=self))
            tables.append(self.standby_table)
            environment["READ_MODEL_STANDBY_TABLE"] = self.standby_table.table_name
        statements = [
            _iam_statement_maintain([t.table_arn for t in tables]),
            _iam_statement_read_events(events.table_arn),  # type: ignore[arg-type]
        ]
        if args.live:
            environment["LIVE_EVENT_BUS"] = bus_name
            statements.append(_iam_statement_put_notices(bus_arn, args.source))  # type: ignore[arg-type]
        self.reactor = _reactor.build(
            scope,
            name,
            part="projector",
            label=label or name,
            source=args.source,
            bus_name=bus_name,
            spec=args.function,
            delivery=args.delivery,
            pattern={"source": [args.source], "detail-type": list(args.detail_types)},
            statements=statements,
            environment=environment,
        )
        self.table_name = self.table.table_name
        self.table_arn = self.table.table_arn
        self.standby_table_name = self.standby_table.table_name if self.standby_table else None
        self.function_name = self.reactor.function.function.name
        self.dlq_url = self.reactor.dlq.queue.url
        self.register_outputs(
            {
                "table_name": self.table_name,
                "table_arn": self.table_arn,
                "standby_table_name": self.standby_table_name,
                "function_name": self.function_name,
                "dlq_url": self.dlq_url,
            }
        )


def _iam_statement_maintain(table_arns: list[pulumi.Output[str]]) -> dict[str, Any]:
    return _iam.statement(
        "MaintainOwnReadModel",
        [
            *_READ_ACTIONS,
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:BatchWriteItem",
        ],
        table_arns,
    )


def _iam_statement_read_events(table_arn: pulumi.Input[str]) -> dict[str, Any]:
    return _iam.statement("ReadEventStore", ["dynamodb:GetItem", "dynamodb:Query"], [table_arn])


def _iam_statement_put_notices(bus_arn: pulumi.Input[str], source: str) -> dict[str, Any]:
    return _iam.statement(
        "PutChangeNoticesOnly",
        ["events:PutEvents"],
        [bus_arn],
        condition={"StringEquals": {"events:source": [live_source(source)]}},
    )
