"""The real `__main__.py` under mocks, with each stack file: what the leave stack is made of."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from acme_eventsourcing.testing import RecordedStack
from leave import events
from leave_api.api import ROUTES
from stacks_under_test import PIPE_WITH_SLACK, STANDALONE, platform_stack, recorded_stack

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "__main__.py"
FUNCTION = "aws:lambda/function:Function"
RULE = "aws:cloudwatch/eventRule:EventRule"

#: What a leave stack holds whichever stack file it runs with.
SERVICE_COUNTS = {
    "aws:lambda/function:Function": 7,  # publisher, commands, queries, 4 projectors
    "aws:iam/rolePolicy:RolePolicy": 7,
    "aws:cloudwatch/logGroup:LogGroup": 8,  # one per function + API access logs
    "aws:dynamodb/table:Table": 9,  # Events + 4 read models, each blue/green (a standby table)
    "aws:sqs/queue:Queue": 5,  # publisher on-failure + 4 rule DLQs
    "aws:cloudwatch/eventRule:EventRule": 4,
    "aws:cloudwatch/eventTarget:EventTarget": 4,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 13,  # 7 Errors + 5 DLQ depth + 1 IteratorAge
    "aws:lambda/eventSourceMapping:EventSourceMapping": 1,
    "aws:lambda/permission:Permission": 6,  # 2 API + 4 rules
    "aws:apigatewayv2/route:Route": len(ROUTES),
    "aws:apigatewayv2/stage:Stage": 1,
}
#: What Slack notifications add (`slack_bot_token` set): no function, one rule per message kind.
SLACK_COUNTS = {
    "aws:cloudwatch/eventConnection:EventConnection": 1,
    "aws:cloudwatch/eventApiDestination:EventApiDestination": 1,
    "aws:cloudwatch/eventRule:EventRule": 6,  # requested, approved, denied, cancelled, reminded, escalated
    "aws:cloudwatch/eventTarget:EventTarget": 6,
    "aws:iam/role:Role": 1,  # the role EventBridge assumes to invoke the destination
    "aws:iam/rolePolicy:RolePolicy": 1,
    "aws:sqs/queue:Queue": 1,  # the targets' DLQ
    "aws:cloudwatch/metricAlarm:MetricAlarm": 1,  # its depth
    "aws:kms/key:Key": 1,  # the notifications service's key (the DLQ's)
    "aws:lambda/function:Function": 0,
}
#: What the leave service's two workflows (rollover, reminders) add to it.
WORKFLOW_COUNTS = {
    "aws:sfn/stateMachine:StateMachine": 2,
    "aws:lambda/function:Function": 3,  # a task function per workflow + the reminders' start/stop trigger
    "aws:iam/rolePolicy:RolePolicy": 6,  # those 3 functions, 2 state machines, the schedule's role
    "aws:cloudwatch/logGroup:LogGroup": 5,  # 3 functions + 2 state machines
    "aws:sqs/queue:Queue": 2,  # the schedule's DLQ, the trigger's DLQ
    "aws:cloudwatch/eventRule:EventRule": 2,  # start on LeaveRequested, stop on a decision
    "aws:cloudwatch/eventTarget:EventTarget": 2,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 11,  # 3 Errors, 2 x (failed, timed out, throttled), 2 DLQ depth
    "aws:lambda/permission:Permission": 2,
    "aws:scheduler/schedule:Schedule": 1,
    "aws:scheduler/scheduleGroup:ScheduleGroup": 1,
}
#: What the leave service's live updates (`LiveUpdates`) add to it.
LIVE_COUNTS = {
    "aws:lambda/function:Function": 4,  # authorizer, connect ($connect, $default), disconnect, notifier
    "aws:iam/rolePolicy:RolePolicy": 4,
    "aws:cloudwatch/logGroup:LogGroup": 5,  # 4 functions + the WebSocket API's access logs
    "aws:dynamodb/table:Table": 1,  # the connections table
    "aws:sqs/queue:Queue": 1,  # the notifier rule's DLQ
    "aws:cloudwatch/eventRule:EventRule": 1,  # <source>.live ReadModelChanged
    "aws:cloudwatch/eventTarget:EventTarget": 1,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 6,  # 4 Errors, DLQ depth, notifier throttles
    "aws:lambda/permission:Permission": 5,  # authorizer, 3 routes, the rule
    "aws:apigatewayv2/route:Route": 3,  # $connect, $disconnect, $default
    "aws:apigatewayv2/stage:Stage": 1,
}
STACK_COUNTS = {
    k: SERVICE_COUNTS.get(k, 0) + WORKFLOW_COUNTS.get(k, 0) + LIVE_COUNTS.get(k, 0)
    for k in {*SERVICE_COUNTS, *WORKFLOW_COUNTS, *LIVE_COUNTS}
}


@pytest.fixture(scope="module")
def dev() -> RecordedStack:
    return recorded_stack("dev")


@pytest.fixture(scope="module")
def slack_on() -> RecordedStack:
    return recorded_stack("dev", PIPE_WITH_SLACK)


@pytest.fixture(scope="module")
def prod() -> RecordedStack:
    return recorded_stack("prod")


def test_dev_references_the_platform_dev_stack_and_owns_its_user_pool(dev: RecordedStack) -> None:
    counts = dev.counts()
    assert {k: counts.get(k, 0) for k in STACK_COUNTS} == STACK_COUNTS
    assert "aws:cloudwatch/eventBus:EventBus" not in counts and "aws:cloudwatch/eventArchive:EventArchive" not in counts
    assert dev.one("pulumi:pulumi:StackReference", "shared-bus-stack").id == "acme/platform/dev"
    assert counts["pulumi:pulumi:StackReference"] == 1  # the bus and the alarm topic are read through one reference
    assert counts["aws:cognito/userPool:UserPool"] == 1
    assert counts["aws:iam/role:Role"] == 7 + 6 + 4 and "aws:backup/plan:Plan" not in counts  # functions + the workflows' 6 + live's 4
    platform = platform_stack("dev")
    assert {r.inputs["eventBusName"] for r in dev.of_type(RULE)} == {platform.outputs["bus_name"]}
    alarms = dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert {tuple(a.inputs["alarmActions"]) for a in alarms} == {(platform.outputs["alarm_topic_arn"],)}


def test_without_bus_stack_dev_creates_its_own_bus_and_archive() -> None:
    alone = recorded_stack("dev", STANDALONE)
    counts = alone.counts()
    assert {k: counts.get(k, 0) for k in STACK_COUNTS} == STACK_COUNTS
    assert counts["aws:cloudwatch/eventBus:EventBus"] == 1
    assert alone.one("aws:cloudwatch/eventArchive:EventArchive", "shared-bus-archive").inputs["retentionDays"] == 30
    assert "pulumi:pulumi:StackReference" not in counts
    bus = alone.one("aws:cloudwatch/eventBus:EventBus", "shared-bus")
    assert {r.inputs["eventBusName"] for r in alone.of_type(RULE)} == {bus.state["name"]}
    assert alone.outputs["bus_arn"] == bus.state["arn"]
    alarms = alone.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarms and all("alarmActions" not in a.inputs or a.inputs["alarmActions"] == [] for a in alarms)


def test_prod_references_the_platform_bus_and_the_company_issuer(prod: RecordedStack) -> None:
    counts = prod.counts()
    assert {k: counts.get(k, 0) for k in STACK_COUNTS} == STACK_COUNTS
    assert "aws:cloudwatch/eventBus:EventBus" not in counts and "aws:cloudwatch/eventArchive:EventArchive" not in counts
    assert "aws:cognito/userPool:UserPool" not in counts
    assert counts["pulumi:pulumi:StackReference"] == 1
    assert counts["aws:iam/role:Role"] == 7 + 6 + 4 + 1  # functions, the workflows' 6, live's 4, the Events table's backup role
    selection = prod.one("aws:backup/selection:Selection", "leave-events-backup-selection")
    assert selection.inputs["resources"] == [prod.one("aws:dynamodb/table:Table", "leave-events").state["arn"]]
    platform = platform_stack("prod")
    assert prod.one("pulumi:pulumi:StackReference", "shared-bus-stack").id == "acme/platform/prod"
    assert {r.inputs["eventBusName"] for r in prod.of_type(RULE)} == {platform.outputs["bus_name"]}
    assert prod.outputs["bus_arn"] == platform.outputs["bus_arn"]
    jwt = prod.one("aws:apigatewayv2/authorizer:Authorizer", "leave-api-jwt").inputs["jwtConfiguration"]
    assert jwt == {
        "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AcmeStaff",
        "audiences": ["4f2k9qexampleleaveapiclient"],
    }
    alarms = prod.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    # the platform's alarm topic first, then the configured ones
    oncall = "arn:aws:sns:eu-west-1:222233334444:leave-oncall"
    assert {tuple(a.inputs["alarmActions"]) for a in alarms} == {(platform.outputs["alarm_topic_arn"], oncall)}
    assert {g.inputs["retentionInDays"] for g in prod.of_type("aws:cloudwatch/logGroup:LogGroup")} == {365}


def test_stack_outputs_name_the_api_tables_and_bus(dev: RecordedStack) -> None:
    out = dev.outputs
    assert out["api_url"] == dev.one("aws:apigatewayv2/api:Api", "leave-api").state["apiEndpoint"]
    assert out["bus_arn"] == platform_stack("dev").outputs["bus_arn"]
    assert out["events_table_name"] == dev.one("aws:dynamodb/table:Table", "leave-events").state["name"]
    assert out["read_model_table_names"] == {
        n: dev.one("aws:dynamodb/table:Table", f"leave-{n}").state["name"] for n in ("balance", "pending", "calendar", "audit")
    }
    assert out["user_pool_id"] == dev.one("aws:cognito/userPool:UserPool", "leave-users").id


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_live_updates_push_balance_pending_and_calendar_with_the_apis_issuer(
    stack_name: str, dev: RecordedStack, prod: RecordedStack
) -> None:
    stack = {"dev": dev, "prod": prod}[stack_name]
    ws = stack.one("aws:apigatewayv2/api:Api", "leave-live-api")
    assert ws.inputs["protocolType"] == "WEBSOCKET"
    assert stack.outputs["live_url"] == ws.state["apiEndpoint"] + "/live"
    for projection in ("balance", "pending", "calendar", "audit"):
        env = stack.one(FUNCTION, f"leave-{projection}-projector").inputs["environment"]["variables"]
        assert ("LIVE_EVENT_BUS" in env) == (projection != "audit"), projection
    authorizer = stack.one(FUNCTION, "leave-live-authorizer")
    assert authorizer.inputs["handler"] == "leave_api.live.handler"
    env = authorizer.inputs["environment"]["variables"]
    assert {k for k in env if k.startswith("READ_MODEL_TABLE_")} == {f"READ_MODEL_TABLE_{n}" for n in ("BALANCE", "PENDING", "CALENDAR")}
    api_jwt = stack.one("aws:apigatewayv2/authorizer:Authorizer", "leave-api-jwt").inputs["jwtConfiguration"]
    assert env["JWT_ISSUER"] == api_jwt["issuer"] and env["JWT_AUDIENCES"].split(",") == api_jwt["audiences"]
    commands = stack.one(FUNCTION, "leave-commands").inputs["environment"]["variables"]
    assert env["IDENTITY_CLAIM"] == commands["IDENTITY_CLAIM"]


def test_every_api_route_is_declared_and_only_the_documents_and_the_calendar_feed_are_public(dev: RecordedStack) -> None:
    http_api = dev.one("aws:apigatewayv2/api:Api", "leave-api").id
    routes = {r.inputs["routeKey"]: r.inputs for r in dev.of_type("aws:apigatewayv2/route:Route") if r.inputs["apiId"] == http_api}
    assert set(routes) == {r.key for r in ROUTES}
    feed = "GET /calendar-feeds/{feed_file}"
    assert {k for k, r in routes.items() if r["authorizationType"] == "NONE"} == {"GET /openapi.json", "GET /asyncapi.json", feed}
    # the feed is only that one path under /calendar-feeds without a JWT: the feed commands and the list need one
    assert all(r["authorizationType"] == "JWT" and r["authorizerId"] for k, r in routes.items() if "calendar-feeds" in k and k != feed)
    assert routes[feed]["target"] == f"integrations/{dev.one('aws:apigatewayv2/integration:Integration', 'leave-api-queries').id}"
    commands = dev.one("aws:apigatewayv2/integration:Integration", "leave-api-commands").id
    assert routes["GET /openapi.json"]["target"] == f"integrations/{commands}"
    assert routes["GET /asyncapi.json"]["target"] == f"integrations/{commands}"
    assert routes["POST /leave-requests/{request_id}/approve"]["target"] == f"integrations/{commands}"
    queries = dev.one("aws:apigatewayv2/integration:Integration", "leave-api-queries").id
    assert routes["GET /employees/{employee_id}/balance"]["target"] == f"integrations/{queries}"


def test_projections_subscribe_to_the_domain_event_types(dev: RecordedStack) -> None:
    expected = {
        "leave-balance-rule": events.BALANCE_EVENT_TYPES,
        "leave-pending-rule": events.PENDING_EVENT_TYPES,
        "leave-calendar-rule": events.CALENDAR_EVENT_TYPES,
        "leave-audit-rule": events.AUDIT_EVENT_TYPES,
    }
    for name, detail_types in expected.items():
        assert json.loads(dev.one(RULE, name).inputs["eventPattern"]) == {"source": ["acme.leave"], "detail-type": list(detail_types)}


def test_slack_gets_one_rule_per_notified_event_type_and_no_function(slack_on: RecordedStack, dev: RecordedStack) -> None:
    """Each notified event type has its own rule and message (cancellations included), whose
    target is the Slack API destination: no Lambda in the path."""
    assert set(events.NOTIFICATION_EVENT_TYPES) == {
        "LeaveRequested",
        "LeaveApproved",
        "LeaveDenied",
        "LeaveCancelled",
        "ApprovalReminderSent",
        "ApprovalEscalated",
    }
    rules = [r for r in slack_on.of_type(RULE) if r.name.startswith("notifications-slack-")]
    patterns = [json.loads(r.inputs["eventPattern"]) for r in rules]
    assert sorted(t for p in patterns for t in p["detail-type"]) == sorted(events.NOTIFICATION_EVENT_TYPES)
    assert all(p["source"] == ["acme.leave"] and len(p["detail-type"]) == 1 for p in patterns)
    destination = slack_on.one("aws:cloudwatch/eventApiDestination:EventApiDestination", "notifications-slack-destination")
    assert destination.inputs["invocationEndpoint"] == "https://slack.com/api/chat.postMessage"
    assert destination.inputs["httpMethod"] == "POST" and destination.inputs["invocationRateLimitPerSecond"] == 1
    targets = [t for t in slack_on.of_type("aws:cloudwatch/eventTarget:EventTarget") if t.name.startswith("notifications-slack-")]
    assert len(targets) == 6 and {t.inputs["arn"] for t in targets} == {destination.state["arn"]}
    counts, without = slack_on.counts(), recorded_stack("dev", PIPE_WITH_SLACK[:1]).counts()  # the same stack, Slack off
    assert {k: counts.get(k, 0) - without.get(k, 0) for k in SLACK_COUNTS} == SLACK_COUNTS
    # off (the dev stack file sets no token): nothing of the notifications context is created
    assert not [r for r in dev.resources if r.name.startswith("notifications")]
    assert "notifications" not in dev.outputs["operations"]


def test_each_function_ships_only_its_declared_packages(dev: RecordedStack) -> None:
    def shipped(name: str) -> set[str]:
        return {path.split("/")[0] for path in dev.one(FUNCTION, name).inputs["code"]["assets"]}

    assert shipped("leave-commands") == {"leave", "acme_eventsourcing", "leave_api"}
    assert shipped("leave-queries") == {"leave_api", "acme_eventsourcing"}  # reads read models: no domain (nor event store, test_packaging)
    for projection in ("balance", "pending", "calendar", "audit"):
        assert shipped(f"leave-{projection}-projector") == {"leave", "acme_eventsourcing", "leave_projections"}
        assert dev.one(FUNCTION, f"leave-{projection}-projector").inputs["handler"] == f"leave_projections.{projection}.handler"
    assert shipped("leave-publisher") == {"acme_eventsourcing"}
    assert shipped("leave-live-authorizer") == {"leave_api", "acme_eventsourcing"}  # reads read models: no domain
    for part in ("connect", "disconnect", "notifier"):
        assert shipped(f"leave-live-{part}") == {"acme_eventsourcing"}


def test_notifications_is_a_separate_context_without_an_event_store(slack_on: RecordedStack) -> None:
    service = slack_on.one("acme:events:EventSourcedService", "notifications")
    descendants = [r for r in slack_on.resources if r.name.startswith("notifications")]
    assert service in descendants
    assert not {"aws:dynamodb/table:Table", FUNCTION} & {c.type for c in descendants}


def test_config_picks_the_pipe_publisher_and_passes_the_slack_token_as_a_secret(slack_on: RecordedStack) -> None:
    assert "aws:lambda/eventSourceMapping:EventSourceMapping" not in slack_on.counts()
    assert len(slack_on.of_type("aws:pipes/pipe:Pipe")) == 1
    connection = slack_on.one("aws:cloudwatch/eventConnection:EventConnection", "notifications-slack-connection")
    assert connection.inputs["authorizationType"] == "API_KEY"
    assert connection.inputs["authParameters"]["apiKey"] == {"key": "Authorization", "value": "Bearer xoxb-test-token"}
    assert connection.is_secret("authParameters", "apiKey", "value"), "the bot token must reach the connection as a secret"
    assert "xoxb-test-token" not in json.dumps(slack_on.outputs)


def test_the_stack_exports_what_the_operations_commands_need(dev: RecordedStack) -> None:
    """`python -m acme_eventsourcing.ops` reads `operations`: per service, its Events table,
    and per projection and subscription its tables, function, handler and DLQ."""
    leave = dev.outputs["operations"]["leave"]
    assert leave["source"] == "acme.leave" and leave["events_table"] == dev.outputs["events_table_name"]
    tables = {r.name: r.state["name"] for r in dev.of_type("aws:dynamodb/table:Table")}
    balance = leave["projections"]["balance"]
    assert (balance["table"], balance["standby_table"]) == (tables["leave-balance"], tables["leave-balance-standby"])
    assert (balance["handler"], balance["timeout_s"]) == ("leave_projections.balance.handler", 120)
    assert balance["function"] == dev.outputs["function_names"]["balance-projector"]
    assert balance["dlq_url"] == dev.outputs["dlq_urls"]["balance"]
    assert set(leave["projections"]) == {"balance", "pending", "calendar", "audit"} and leave["subscriptions"] == {}


def test_the_notifications_operations_name_the_slack_dlq(slack_on: RecordedStack) -> None:
    notifications = slack_on.outputs["operations"]["notifications"]
    slack = notifications["destinations"]["slack"]
    assert slack["dlq_url"] == slack_on.outputs["dlq_urls"]["notifications-slack"]
    assert set(slack["rules"]) == {"requested", "approved", "denied", "cancelled", "reminded", "escalated"}
    assert notifications["events_table"] is None and notifications["projections"] == {} and notifications["subscriptions"] == {}
