"""Subscription: a reaction to events of (usually other) services: rule, DLQ and function."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from . import _reactor
from .defaults import ChildScope, DeliverySpec, FunctionSpec, ServiceDefaults
from .refs import EventBusRef, bus_identifiers

TYPE_TOKEN = "acme:events:Subscription"
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,255}$")


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
    (depth alarm), and the function `<name>-subscriber` (failed asynchronous invocations also
    go to the DLQ; Errors alarm). Its role gets no data access: only its logs, X-Ray, the
    DLQ and the KMS key.

    Outputs: `function_name`, `dlq_url`.
    """

    function_name: pulumi.Output[str]
    """The subscriber function."""
    dlq_url: pulumi.Output[str]
    """Where events the subscriber could not handle go."""

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
            statements=[],
            environment={},
        )
        self.function_name = self.reactor.function.function.name
        self.dlq_url = self.reactor.dlq.queue.url
        self.register_outputs({"function_name": self.function_name, "dlq_url": self.dlq_url})
