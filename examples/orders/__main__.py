"""The orders stack: one EventSourcedService, written from the acme-eventsourcing docs alone.

- the shared bus: created here (dev), or the platform's, read from `bus_stack` (prod);
- the `orders` service (source `acme.orders`): Events table, publisher, the commands and
  queries functions behind an HTTP API with a JWT authorizer, the `orders` projection, and
  a subscription to the leave service's `LeaveApproved` events on the same bus.

Routes and event types come from the functions' own pure-data modules, so the API's
routes and the projection's rule cannot drift from what the code serves and appends.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi
from acme_eventsourcing import (
    ApiSpec,
    EventBusRef,
    EventSourcedService,
    EventSourcedServiceArgs,
    FunctionSpec,
    ProjectionSpec,
    ServiceDefaults,
    SharedEventBus,
    SharedEventBusArgs,
    SubscriptionSpec,
)

FUNCTIONS = Path(__file__).resolve().parent / "functions"
sys.path.insert(0, str(FUNCTIONS))  # the routes and event types below are plain data in the functions' code

from acme_eventsourcing.runtime.routes import COMMANDS, QUERIES, keys  # noqa: E402 - the route table's vocabulary
from orders import domain  # noqa: E402
from orders_api.api import ROUTES  # noqa: E402
from orders_leave.courier import LEAVE_APPROVED, LEAVE_SOURCE  # noqa: E402

config = pulumi.Config()
defaults = ServiceDefaults(  # shared by every resource of the service: logs, alarms, tags, its KMS key
    log_retention_days=config.get_int("log_retention_days") or 30,
    alarm_actions=tuple(config.get_object("alarm_actions") or ()),
    tags={"team": "orders", "stack": pulumi.get_stack()},
)


def function(handler: str, *packages: str, **kwargs: object) -> FunctionSpec:
    return FunctionSpec(handler=handler, code_root=str(FUNCTIONS), packages=packages, **kwargs)  # type: ignore[arg-type]


bus_stack = config.get("bus_stack")  # the platform's bus, read from its stack; else a bus of our own
bus = EventBusRef.from_stack_reference(bus_stack) if bus_stack else SharedEventBus("bus", SharedEventBusArgs(tags=defaults.tags)).ref

orders = EventSourcedService(
    "orders",
    EventSourcedServiceArgs(
        source="acme.orders",
        bus=bus,
        api=ApiSpec(
            commands=function("orders_api.commands.handler", "orders", "orders_api"),
            queries=function("orders_api.queries.handler", "orders", "orders_api", "orders_views"),
            command_routes=keys(ROUTES, COMMANDS),
            query_routes=keys(ROUTES, QUERIES),
            public_routes=tuple(r.key for r in ROUTES if r.public),  # GET /openapi.json
        ),
        projections=[
            ProjectionSpec(
                name="orders",
                function=function("orders_views.orders.handler", "orders", "orders_views", timeout_s=30),
                detail_types=domain.EVENT_TYPES,
            )
        ],
        subscriptions=[
            SubscriptionSpec(
                name="leave",
                function=function(
                    "orders_leave.courier.handler",
                    "orders_leave",
                    timeout_s=30,
                    environment={"COURIER_URL": config.get_secret("courier_url") or ""},
                ),
                sources=(LEAVE_SOURCE,),
                detail_types=(LEAVE_APPROVED,),
            )
        ],
        defaults=defaults,
    ),
)

pulumi.export("api_url", orders.api_url)
pulumi.export("bus_name", orders.bus_name)
pulumi.export("events_table_name", orders.events_table_name)
pulumi.export("read_model_table_names", orders.read_model_table_names)
pulumi.export("user_pool_id", orders.user_pool_id)
pulumi.export("user_pool_client_id", orders.user_pool_client_id)
pulumi.export("function_names", orders.function_names)
