"""Subscription: a reaction to events of (usually other) services: rule, DLQ and function."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from . import _iam, _reactor
from .defaults import ChildScope, DeliverySpec, FunctionSpec, ServiceDefaults
from .refs import EventBusRef, KmsKeyRef, bus_identifiers
from .retained_table import RetainedTable, RetainedTableArgs

TYPE_TOKEN = "acme:events:Subscription"
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,255}$")
#: The actions the subscriber has on its checkpoint table (nothing else, no other table).
CHECKPOINT_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")


@dataclass(frozen=True, kw_only=True)
class SubscriptionArgs:
    """Arguments of `Subscription`."""

    source: str
    """The subscribing service's own `source` (the function gets it as SERVICE_SOURCE)."""
    bus: EventBusRef
    """The bus the events are on."""
    function: FunctionSpec
    """The subscriber."""
    sources: Sequence[str]
    """The sources of the events it reacts to."""
    detail_types: Sequence[str]
    """The event types it reacts to."""
    delivery: DeliverySpec = field(default_factory=DeliverySpec)
    """Retries of delivery and of the function."""
    defaults: ServiceDefaults = field(default_factory=ServiceDefaults)
    """Log retention, alarm actions, tags, KMS key, runtime."""

    def validate(self, what: str = "subscription") -> None:
        if not _SOURCE.match(self.source):
            raise ValueError(f"{what}: source {self.source!r} is not an event source")
        self.bus.validate()
        self.function.validate(what)
        _reactor.check_detail_types(what, self.detail_types)
        if isinstance(self.sources, str) or not self.sources or any(not _SOURCE.match(x) for x in self.sources):
            raise ValueError(f"{what}: sources must be non-empty event sources")
        self.delivery.validate()
        self.defaults.validate()


class Subscription(pulumi.ComponentResource):
    """A reaction to events on the bus: a rule `<name>-rule` for `sources` and
    `detail_types`, a target with 10 retries / 1 day maximum age and a DLQ `<name>-dlq`
    (depth alarm), the function `<name>-subscriber` (failed asynchronous invocations also
    go to the DLQ; Errors alarm), and its checkpoint table `<name>-checkpoints`.

    The checkpoint table is a `pk`/`sk` `RetainedTable` (KMS with the subscription's key,
    PITR, protected and retained) with TTL on `expires_at`: the subscriber runtime
    (`runtime.subscriber`, `runtime.checkpoints`) records there, per source stream, the
    highest version it handled (what `python -m acme_eventsourcing.ops lag` compares with
    the source's Events table) and a marker per handled event (expiring after the DLQ's
    retention) by which it skips a redelivered event in any container. The function gets
    its name as CHECKPOINT_TABLE and GetItem/UpdateItem on it; no other data access (only
    its logs, X-Ray, the DLQ and the KMS key).

    Outputs: `function_name`, `dlq_url`, `checkpoint_table_name`.
    """

    function_name: pulumi.Output[str]
    """The subscriber function."""
    dlq_url: pulumi.Output[str]
    """Where events the subscriber could not handle go."""
    checkpoint_table_name: pulumi.Output[str]
    """The table of its per-stream checkpoints and handled-event markers."""

    def __init__(
        self,
        name: str,
        args: SubscriptionArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        former_parent: pulumi.Resource | None = None,
        label: str | None = None,
    ) -> None:
        """`former_parent`: the component that declared these resources before (they get an
        alias to it, so an existing stack keeps them); None for a new subscription. `label`:
        the subscription's short name in descriptions (default: `name`)."""
        args.validate(f"subscription {label or name!r}")
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        bus_name, bus_arn, _ = bus_identifiers(args.bus, name=f"{name}-bus", parent=self)
        scope = ChildScope(
            self,
            name,
            args.defaults,
            former_parent=former_parent,
            key_description=f"{args.source}: subscription {label or name}",
            log_group_prefixes=[f"/aws/lambda/{name}-"],
            rule_arn_patterns=[_reactor.rule_arn_pattern(bus_arn, name)],  # type: ignore[arg-type]
        )
        self.kms_key = scope.kms_key
        # a new resource, parented to the subscription (no alias: it never existed elsewhere)
        self.checkpoint_table = RetainedTable(
            f"{name}-checkpoints",
            RetainedTableArgs(
                hash_key="pk",
                range_key="sk",
                ttl_attribute="expires_at",
                kms_key=None if scope.kms_key_arn is None else KmsKeyRef(key_arn=scope.kms_key_arn),
                aws_managed_key=args.defaults.aws_managed_keys,
                tags=args.defaults.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.reactor = _reactor.build(
            scope,
            name,
            part="subscriber",
            label=label or name,
            source=args.source,
            bus_name=bus_name,
            spec=args.function,
            delivery=args.delivery,
            pattern={"source": list(args.sources), "detail-type": list(args.detail_types)},
            statements=[_iam.statement("RecordCheckpoints", list(CHECKPOINT_ACTIONS), [self.checkpoint_table.table_arn])],
            environment={"CHECKPOINT_TABLE": self.checkpoint_table.table_name},
        )
        self.function_name = self.reactor.function.function.name
        self.dlq_url = self.reactor.dlq.queue.url
        self.checkpoint_table_name = self.checkpoint_table.table_name
        self.register_outputs(
            {"function_name": self.function_name, "dlq_url": self.dlq_url, "checkpoint_table_name": self.checkpoint_table_name}
        )
