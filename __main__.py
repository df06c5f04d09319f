"""The leave stack: composition root only - read config, build components, export.

- one `SharedEventBus`: with `bus_stack` (dev and prod) wrapped from the platform stack that
  owns it (`platform/`), whose alarm topic (`alarm_topic_arn`) every alarm also notifies;
  without it, created here with its archive (a stack on its own);
- the `leave` service (`acme.leave`): Events table, publisher, commands/queries API, the
  balance, pending, calendar and audit projections (blue/green: each has a standby table, so
  `ops rebuild` replaces a read model without downtime), and two Step Functions workflows: the
  yearly `rollover` (a schedule at 01:00 on 1 January in `rollover_timezone`) and the approval
  `reminders` (one execution per leave request, stopped by its decision or cancellation); live
  updates (a WebSocket API, `live_url`) of the balance, pending and calendar read models;
- the leave events in an EventBridge Schema Registry (`event_schema_registry`, on unless set
  to false), their schemas from the same definitions as `GET /asyncapi.json`;
- Slack approvals: with `slack_signing_secret` set, the public `POST /slack/interactions`
  (Approve/Deny pressed in Slack, verified by the secret, kept in Secrets Manager);
- the `notifications` context (`acme.notifications`): leave events on the same bus
  (choreography) sent to Slack through an EventBridge API destination, no Lambda in the path
  (`slack_bot_token`, `slack_channel`; unset = no notifications, nothing created; docs/slack.md).

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
    ApiKeyAuth,
    ApiSpec,
    BackupPlan,
    ConnectionAuth,
    EventBusRef,
    EventSourcedService,
    EventSourcedServiceArgs,
    EventStart,
    EventStop,
    FunctionSpec,
    HttpDestinationSpec,
    JwtIssuerRef,
    LiveUpdatesSpec,
    MessageSpec,
    ProjectionSpec,
    PublisherSpec,
    ScheduleSpec,
    ServiceDefaults,
    SharedEventBus,
    SharedEventBusArgs,
    WorkflowSpec,
    sso_from_config,
)

LAMBDAS = Path(__file__).resolve().parent / "lambdas"
if str(LAMBDAS) not in sys.path:
    sys.path.insert(0, str(LAMBDAS))

from acme_eventsourcing.runtime.asyncapi import registry_schemas  # noqa: E402 - stdlib: the Schema Registry's schemas
from acme_eventsourcing.runtime.routes import COMMANDS, QUERIES, keys  # noqa: E402 - the route table's vocabulary
from leave import events  # noqa: E402 - pure data (stdlib only), found through LAMBDAS
from leave_api import asyncapi  # noqa: E402 - pure data: the AsyncAPI document of the events
from leave_api.api import ROUTES  # noqa: E402 - pure data, declared for this program
from leave_api.slack import SIGNING_SECRET, SLACK_INTERACTIONS_ROUTE  # noqa: E402 - pure data
from leave_workflows import definitions  # noqa: E402 - pure data: the state machines
from notifications import slack  # noqa: E402 - pure data: the Slack messages

SOURCE = "acme.leave"
PROJECTIONS = {
    "balance": events.BALANCE_EVENT_TYPES,
    "pending": events.PENDING_EVENT_TYPES,
    "calendar": events.CALENDAR_EVENT_TYPES,
    "audit": events.AUDIT_EVENT_TYPES,
}
#: The projections whose changes are pushed to WebSocket clients (docs/live-updates.md).
LIVE_PROJECTIONS = ("balance", "pending", "calendar")

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
                live=name in LIVE_PROJECTIONS,
            )
            for name, detail_types in PROJECTIONS.items()
        ],
        workflows=workflows(),
        # live updates: the $connect authorizer computes a caller's topics from these read models
        live=LiveUpdatesSpec(authorizer=function("leave_api.live.handler", "leave_api", timeout_s=10), read_models=LIVE_PROJECTIONS),
        publisher=PublisherSpec(kind=config.get("publisher") or "lambda"),  # type: ignore[arg-type]
        defaults=defaults,
        events_table_backup=BackupPlan() if config.get_bool("events_table_backup") else None,
        # the events on the bus in the EventBridge Schema Registry, from the AsyncAPI document's definitions
        event_schemas=registry_schemas(asyncapi.document()) if config.get_bool("event_schema_registry") is not False else {},
    ),
)


def slack_destination() -> HttpDestinationSpec | None:
    """Leave events to a Slack channel: chat.postMessage with the bot token (docs/slack.md);
    None (nothing created) while `slack_bot_token` is unset."""
    token = config.get_secret("slack_bot_token")
    if token is None:
        return None
    channel = config.require("slack_channel")
    return HttpDestinationSpec(
        name="slack",
        endpoint=config.get("slack_api_url") or slack.CHAT_POST_MESSAGE,
        auth=ConnectionAuth(api_key=ApiKeyAuth(header="Authorization", value=token.apply(lambda t: f"Bearer {t}"))),
        messages=[
            MessageSpec(
                name=m.name,
                sources=(SOURCE,),
                detail_types=(m.event_type,),
                input_paths=m.input_paths,
                input_template=m.template(channel),
            )
            for m in slack.MESSAGES
        ],
        # Slack allows about one message per second per channel (then 429, which EventBridge retries)
        invocation_rate_limit_per_second=config.get_int("slack_rate_limit_per_second") or 1,
        maximum_retry_attempts=10,
        maximum_event_age_in_seconds=3600,
        header_parameters={"Idempotency-Key": "$.detail.metadata.event_id"},
    )


slack_spec = slack_destination()
notifications = (
    EventSourcedService(
        "notifications",
        EventSourcedServiceArgs(source="acme.notifications", bus=bus.ref, destinations=[slack_spec], defaults=defaults),
    )
    if slack_spec is not None
    else None
)

pulumi.export("api_url", leave.api_url)
pulumi.export("live_url", leave.live_url)  # wss://.../live: clients add ?token=<JWT>
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
pulumi.export("function_names", leave.function_names)
pulumi.export("state_machine_arns", leave.state_machine_arns)
pulumi.export("schema_registry_name", leave.schema_registry_name)
notification_dlqs = {f"notifications-{k}": v for k, v in notifications.dlq_urls.items()} if notifications else {}
pulumi.export("dlq_urls", {**leave.dlq_urls, **notification_dlqs})
# what `python -m acme_eventsourcing.ops` (lag, rebuild, redrive) reads: docs/operations.md
pulumi.export("operations", {"leave": leave.operations, **({"notifications": notifications.operations} if notifications else {})})
