"""The leave stack: composition root only - read config, build components, export.

- one `SharedEventBus`: with `bus_stack` (dev and prod) wrapped from the platform stack that
  owns it (`platform/`), whose alarm topic (`alarm_topic_arn`) every alarm also notifies;
  without it, created here with its archive (a stack on its own);
- the `leave` service (`acme.leave`): Events table, publisher, commands/queries API, the
  balance, pending, calendar and audit projections (blue/green: each has a standby table, so
  `ops rebuild` replaces a read model without downtime), and two Step Functions workflows: the
  yearly `rollover` (a schedule at 01:00 on 1 January in `rollover_timezone`) and the approval
  `reminders` (one execution per leave request, stopped by its decision or cancellation);
- Slack approvals: with `slack_signing_secret` set, the public `POST /slack/interactions`
  (Approve/Deny pressed in Slack, verified by the secret, kept in Secrets Manager);
- the `notifications` context (`acme.notifications`), which only subscribes to leave events
  on the same bus (choreography) and posts them to `webhook_url`.

Routes and event types come from the Lambda code's own pure-data modules (`leave_api.api`,
the route table of the command declarations and queries; `leave.events`), so the API
Gateway routes and the rules cannot drift from what the handlers serve and the domain emits.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi
from acme_eventsourcing import (
    SCHEDULED_TIME,
    ApiSpec,
    BackupPlan,
    EventBusRef,
    EventSourcedService,
    EventSourcedServiceArgs,
    EventStart,
    EventStop,
    FunctionSpec,
    JwtIssuerRef,
    ProjectionSpec,
    PublisherSpec,
    ScheduleSpec,
    ServiceDefaults,
    SharedEventBus,
    SharedEventBusArgs,
    SubscriptionSpec,
    WorkflowSpec,
    sso_from_config,
)

LAMBDAS = Path(__file__).resolve().parent / "lambdas"
if str(LAMBDAS) not in sys.path:
    sys.path.insert(0, str(LAMBDAS))

from acme_eventsourcing.runtime.routes import COMMANDS, QUERIES, keys  # noqa: E402 - the route table's vocabulary
from leave import events  # noqa: E402 - pure data (stdlib only), found through LAMBDAS
from leave_api.api import ROUTES  # noqa: E402 - pure data, declared for this program
from leave_api.slack import SIGNING_SECRET, SLACK_INTERACTIONS_ROUTE  # noqa: E402 - pure data
from leave_workflows import definitions  # noqa: E402 - pure data: the state machines

SOURCE = "acme.leave"
PROJECTIONS = {
    "balance": events.BALANCE_EVENT_TYPES,
    "pending": events.PENDING_EVENT_TYPES,
    "calendar": events.CALENDAR_EVENT_TYPES,
    "audit": events.AUDIT_EVENT_TYPES,
}

config = pulumi.Config()


def function(handler: str, *packages: str, **kwargs: object) -> FunctionSpec:
    return FunctionSpec(handler=handler, code_root=str(LAMBDAS), packages=packages, **kwargs)  # type: ignore[arg-type]


def shared_bus() -> SharedEventBus:
    bus_stack = config.get("bus_stack")
    if bus_stack:  # the platform stack's bus, read from its outputs: nothing is created
        return SharedEventBus("shared-bus", SharedEventBusArgs(existing=EventBusRef(stack=bus_stack)))
    return SharedEventBus("shared-bus", SharedEventBusArgs(archive_retention_days=config.get_int("bus_archive_retention_days"), tags=tags))


def alarm_actions(bus: SharedEventBus) -> tuple[pulumi.Input[str], ...]:
    """The platform's alarm topic (read from the stack `bus_stack` names, through the one
    StackReference the bus reads), then every topic of `alarm_actions`."""
    configured = tuple(config.get_object("alarm_actions") or ())
    if bus.stack_reference is None:  # this stack owns its bus: no platform, only what is configured
        return configured
    return (bus.stack_reference.require_output("alarm_topic_arn"), *configured)


def slack_signing_secret() -> pulumi.Output[str] | None:
    """The Slack app's signing secret (`pulumi config set --secret slack_signing_secret ...`), or
    None: then `POST /slack/interactions` is not created at all (docs/slack.md)."""
    return config.get_secret("slack_signing_secret") or None


def jwt() -> JwtIssuerRef | None:
    issuer = config.get("jwt_issuer")
    if not issuer:
        return None  # the service creates a Cognito user pool
    return JwtIssuerRef(
        issuer=issuer, audiences=config.require_object("jwt_audiences"), identity_claim=config.get("jwt_identity_claim") or "sub"
    )


#: On every resource of the stack that takes tags: which project and stack owns it.
tags = {"project": pulumi.get_project(), "stack": pulumi.get_stack()}
bus = shared_bus()
#: What every component of both services shares.
defaults = ServiceDefaults(
    log_retention_days=config.get_int("log_retention_days") or 30,
    alarm_actions=alarm_actions(bus),
    tags=tags,
)


def workflows() -> list[WorkflowSpec]:
    """The yearly rollover and the approval reminders (`leave_workflows`)."""
    tasks = ("leave", "leave_api", "leave_workflows")
    reminders_env = {
        "REMIND_AFTER_WORKING_DAYS": str(config.get_int("remind_after_working_days") or 2),
        "ESCALATE_AFTER_WORKING_DAYS": str(config.get_int("escalate_after_working_days") or 5),
    }
    decided = definitions.DECISION_EVENT_TYPES
    return [
        WorkflowSpec(
            name="rollover",
            definition=definitions.ROLLOVER,
            functions={definitions.ROLLOVER_FUNCTION: function("leave_workflows.rollover.handler", *tasks, memory_mb=512, timeout_s=300)},
            schedules=[
                ScheduleSpec(
                    name="yearly",
                    expression="cron(0 1 1 1 ? *)",
                    timezone=config.get("rollover_timezone") or "Europe/London",
                    input={"scheduled_time": SCHEDULED_TIME},
                    description="Roll every employee's leave over into the new year",
                )
            ],
            timeout_s=6 * 3600,
        ),
        WorkflowSpec(
            name="reminders",
            definition=definitions.REMINDERS,
            functions={
                definitions.REMINDERS_FUNCTION: function(
                    "leave_workflows.reminders.handler", *tasks, timeout_s=30, environment=reminders_env
                )
            },
            starts=[EventStart(sources=(SOURCE,), detail_types=("LeaveRequested",), name_from="detail.data.request_id")],
            stops=[EventStop(sources=(SOURCE,), detail_types=decided, name_from="detail.data.request_id")],
            timeout_s=90 * 24 * 3600,
        ),
    ]


slack_secret = slack_signing_secret()
#: The routes the API serves: the leave API, plus Slack's interactivity endpoint when configured.
api_routes = (*ROUTES, SLACK_INTERACTIONS_ROUTE) if slack_secret is not None else ROUTES

leave = EventSourcedService(
    "leave",
    EventSourcedServiceArgs(
        source=SOURCE,
        bus=bus.ref,
        api=ApiSpec(
            commands=function(
                "leave_api.commands.handler",
                "leave",
                "leave_api",
                memory_mb=512,
                timeout_s=10,
                # in Secrets Manager, the function gets its ARN (SLACK_SIGNING_SECRET_ARN)
                secrets={SIGNING_SECRET: slack_secret} if slack_secret is not None else {},
            ),
            queries=function("leave_api.queries.handler", "leave_api", memory_mb=512, timeout_s=10),
            command_routes=keys(api_routes, COMMANDS),
            query_routes=keys(api_routes, QUERIES),
            public_routes=tuple(r.key for r in api_routes if r.public),
            jwt=jwt(),
            throttling_burst_limit=config.get_int("throttling_burst_limit") or 100,
            throttling_rate_limit=float(config.get_int("throttling_rate_limit") or 50),
            cors_allowed_origins=tuple(config.get_object("cors_allowed_origins") or ()),
            sso=sso_from_config(config),  # the sso_* keys (docs/sso.md); None = no SSO
        ),
        projections=[
            ProjectionSpec(
                name=name,
                # a new location policy makes balance recompute every member: give it room
                function=function(
                    f"leave_projections.{name}.handler",
                    "leave",
                    "leave_projections",
                    timeout_s=120 if name == "balance" else 30,
                ),
                detail_types=detail_types,
                # a standby table and an active-table pointer: `ops rebuild` without downtime
                blue_green=True,
            )
            for name, detail_types in PROJECTIONS.items()
        ],
        workflows=workflows(),
        publisher=PublisherSpec(kind=config.get("publisher") or "lambda"),  # type: ignore[arg-type]
        defaults=defaults,
        events_table_backup=BackupPlan() if config.get_bool("events_table_backup") else None,
    ),
)

notifications = EventSourcedService(
    "notifications",
    EventSourcedServiceArgs(
        source="acme.notifications",
        bus=bus.ref,
        subscriptions=[
            SubscriptionSpec(
                name="leave",
                function=function(
                    "notifications.handler.handler",
                    "notifications",
                    timeout_s=30,
                    # Secret-friendly: `pulumi config set --secret webhook_url ...`; empty = off.
                    environment={"WEBHOOK_URL": config.get_secret("webhook_url") or ""},
                ),
                sources=(SOURCE,),
                detail_types=events.NOTIFICATION_EVENT_TYPES,
            )
        ],
        defaults=defaults,
    ),
)

pulumi.export("api_url", leave.api_url)
pulumi.export("bus_name", bus.bus_name)
pulumi.export("bus_arn", bus.bus_arn)
pulumi.export("events_table_name", leave.events_table_name)
pulumi.export("read_model_table_names", leave.read_model_table_names)
pulumi.export("jwt_issuer", leave.jwt_issuer)
pulumi.export("user_pool_id", leave.user_pool_id)
pulumi.export("user_pool_client_id", leave.user_pool_client_id)
if leave.api is not None and leave.api.sso_domain is not None:  # register sso_redirect_uri at the IdP
    pulumi.export("sso_domain", leave.api.sso_domain)
    pulumi.export("sso_redirect_uri", leave.api.sso_redirect_uri)
pulumi.export("function_names", {**leave.function_names, **{f"notifications-{k}": v for k, v in notifications.function_names.items()}})
pulumi.export("state_machine_arns", leave.state_machine_arns)
pulumi.export("dlq_urls", {**leave.dlq_urls, **{f"notifications-{k}": v for k, v in notifications.dlq_urls.items()}})
# what `python -m acme_eventsourcing.ops` (lag, rebuild, redrive) reads: docs/operations.md
pulumi.export("operations", {"leave": leave.operations, "notifications": notifications.operations})
