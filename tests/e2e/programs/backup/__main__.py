"""The orders example's service (its functions, from examples/orders) on a bus of its own,
and an EventBackup of that bus: what the end-to-end backup test runs on the local stack."""

import sys
from pathlib import Path

import pulumi
from acme_eventsourcing import (
    ApiSpec,
    EventBackup,
    EventBackupArgs,
    EventSourcedService,
    EventSourcedServiceArgs,
    FunctionSpec,
    ProjectionSpec,
    ServiceDefaults,
    SharedEventBus,
    SharedEventBusArgs,
)

FUNCTIONS = Path(__file__).resolve().parents[4] / "examples" / "orders" / "functions"
sys.path.insert(0, str(FUNCTIONS))

from acme_eventsourcing.runtime.routes import COMMANDS, QUERIES, keys  # noqa: E402
from orders import domain  # noqa: E402
from orders_api.api import ROUTES  # noqa: E402

TAGS = {"team": "orders", "stack": pulumi.get_stack()}


def function(handler: str, *packages: str) -> FunctionSpec:
    return FunctionSpec(handler=handler, code_root=str(FUNCTIONS), packages=packages, timeout_s=20)


bus = SharedEventBus("bus", SharedEventBusArgs(tags=TAGS))
orders = EventSourcedService(
    "orders",
    EventSourcedServiceArgs(
        source="acme.orders",
        bus=bus.ref,
        api=ApiSpec(
            commands=function("orders_api.commands.handler", "orders", "orders_api"),
            queries=function("orders_api.queries.handler", "orders", "orders_api", "orders_views"),
            command_routes=keys(ROUTES, COMMANDS),
            query_routes=keys(ROUTES, QUERIES),
            public_routes=tuple(r.key for r in ROUTES if r.public),
        ),
        projections=[
            ProjectionSpec(
                name="orders", function=function("orders_views.orders.handler", "orders", "orders_views"), detail_types=domain.EVENT_TYPES
            )
        ],
        defaults=ServiceDefaults(tags=TAGS),
    ),
)
backup = EventBackup("backup", EventBackupArgs(bus=bus.ref, tags=TAGS, allow_destroy=True))

pulumi.export("bucket_name", backup.bucket_name)
pulumi.export("delivery_stream_name", backup.delivery_stream_name)
pulumi.export("read_model_table_names", orders.read_model_table_names)
pulumi.export("events_table_name", orders.events_table_name)
