"""Workflow: a Step Functions state machine with its task functions, schedules and bus triggers,
alone and as part of an EventSourcedService (under the mocks harness)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from acme_eventsourcing import (
    SCHEDULED_TIME,
    ApiSpec,
    EventBusRef,
    EventSourcedService,
    EventSourcedServiceArgs,
    EventStart,
    EventStop,
    FunctionSpec,
    KmsKeyRef,
    LogLevel,
    ProjectionSpec,
    ScheduleSpec,
    ServiceDefaults,
    TableRef,
    Workflow,
    WorkflowArgs,
    WorkflowSpec,
)
from acme_eventsourcing.testing import RecordedStack, record
from acme_eventsourcing.workflow import (
    LOG_DELIVERY_ACTIONS,
    TRIGGER_HANDLER,
    XRAY_ACTIONS,
    validate_expression,
    validate_timezone,
)

BUS = EventBusRef(bus_name="platform", bus_arn="arn:aws:events:us-east-1:111122223333:event-bus/platform")
EVENTS = TableRef(table_name="leave-events", table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/leave-events")
BALANCES = TableRef(table_name="leave-balances", table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/leave-balances")
TAGS = {"team": "leave"}
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"
EXISTING_KEY = "arn:aws:kms:us-east-1:123456789012:key/existing"

SM = "aws:sfn/stateMachine:StateMachine"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SCHEDULE = "aws:scheduler/schedule:Schedule"
QUEUE = "aws:sqs/queue:Queue"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

#: A rollover-like definition: plan (Lambda invoke integration), a Map over pages running
#: `roll` (the plain Lambda ARN form), then `finish`.
DEFINITION: dict[str, Any] = {
    "Comment": "yearly rollover",
    "StartAt": "Plan",
    "States": {
        "Plan": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${plan}", "Payload.$": "$"},
            "ResultSelector": {"pages.$": "$.Payload.pages"},
            "Next": "Roll",
        },
        "Roll": {
            "Type": "Map",
            "ItemsPath": "$.pages",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "RollPage",
                "States": {"RollPage": {"Type": "Task", "Resource": "${roll}", "End": True}},
            },
            "Next": "Finish",
        },
        "Finish": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${finish}", "Payload.$": "$"},
            "End": True,
        },
    },
}


@pytest.fixture(scope="module")
def code_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lambdas")
    (root / "flow").mkdir()
    (root / "flow" / "__init__.py").write_text("")
    (root / "flow" / "tasks.py").write_text("def plan(event, context):\n    return {}\n")
    return root


def fn(code_root: Path, handler: str = "flow.tasks.plan", **kw: Any) -> FunctionSpec:
    return FunctionSpec(handler=handler, code_root=str(code_root), packages=("flow",), **kw)


def functions(code_root: Path) -> dict[str, FunctionSpec]:
    return {"plan": fn(code_root, timeout_s=60), "roll": fn(code_root, memory_mb=512), "finish": fn(code_root)}


def args(code_root: Path, **overrides: Any) -> WorkflowArgs:
    values: dict[str, Any] = {
        "source": "acme.leave",
        "definition": DEFINITION,
        "functions": functions(code_root),
        "defaults": ServiceDefaults(tags=TAGS, alarm_actions=(TOPIC,), log_retention_days=14),
    }
    values.update(overrides)
    return WorkflowArgs(**values)


def _policy(stack: RecordedStack, name: str) -> dict[str, Any]:
    doc = json.loads(stack.one(ROLE_POLICY, name).inputs["policy"])
    return {s["Sid"]: s for s in doc["Statement"]}


def _trust(stack: RecordedStack, name: str) -> str:
    return json.loads(stack.one(ROLE, name).inputs["assumeRolePolicy"])["Statement"][0]["Principal"]["Service"]


@pytest.fixture(scope="module")
def full(code_root: Path) -> RecordedStack:
    """A workflow with everything: tables, a schedule, starts and stops."""
    return record(
        lambda: Workflow(
            "leave-reminders",
            args(
                code_root,
                bus=BUS,
                events_table=EVENTS,
                read_models={"balances": BALANCES},
                schedules=[
                    ScheduleSpec(name="yearly", input={"scheduled_time": SCHEDULED_TIME, "kind": "rollover"}),
                    ScheduleSpec(
                        name="nightly",
                        expression="cron(30 2 ? * MON-FRI *)",
                        timezone="America/New_York",
                        enabled=False,
                        flexible_window_minutes=15,
                        maximum_retry_attempts=3,
                        maximum_event_age_in_seconds=3600,
                    ),
                ],
                starts=[EventStart(sources=("acme.leave",), detail_types=("LeaveRequested",), name_from="detail.data.request_id")],
                stops=[
                    EventStop(
                        sources=("acme.leave",),
                        detail_types=("LeaveApproved", "LeaveRejected", "LeaveCancelled"),
                        name_from="detail.data.request_id",
                    )
                ],
                timeout_s=30 * 24 * 3600,
                include_execution_data=True,
                log_level=LogLevel.ERROR,
            ),
        )
    )


# ------------------------------------------------------------------------------ state machine
def test_the_state_machine_runs_the_definition_with_the_task_functions_arns(full: RecordedStack) -> None:
    sm = full.one(SM, "leave-reminders")
    arns = {k: full.one(FUNCTION, f"leave-reminders-{k}").state["arn"] for k in ("plan", "roll", "finish")}
    definition = json.loads(sm.inputs["definition"])
    assert definition["States"]["Plan"]["Parameters"]["FunctionName"] == arns["plan"]
    assert definition["States"]["Roll"]["ItemProcessor"]["States"]["RollPage"]["Resource"] == arns["roll"]
    assert definition["States"]["Finish"]["Parameters"]["FunctionName"] == arns["finish"]
    assert "${" not in sm.inputs["definition"]
    # everything else is the definition as given, plus the timeout
    assert definition["States"]["Plan"]["ResultSelector"] == DEFINITION["States"]["Plan"]["ResultSelector"]
    assert definition["TimeoutSeconds"] == 30 * 24 * 3600 and definition["Comment"] == "yearly rollover"
    assert sm.inputs["type"] == "STANDARD"
    assert sm.inputs["tracingConfiguration"] == {"enabled": True}
    assert sm.inputs["tags"] == TAGS


def test_the_state_machine_logs_to_its_own_encrypted_log_group(full: RecordedStack) -> None:
    sm = full.one(SM, "leave-reminders")
    logs = full.one(LOG_GROUP, "leave-reminders-logs")
    key = full.one("aws:kms/key:Key", "leave-reminders-key")
    assert logs.inputs["namePrefix"] == "/aws/vendedlogs/states/leave-reminders-"
    assert logs.inputs["kmsKeyId"] == key.state["arn"] and logs.inputs["retentionInDays"] == 14 and logs.inputs["tags"] == TAGS
    assert sm.inputs["loggingConfiguration"] == {"level": "ERROR", "includeExecutionData": True, "logDestination": f"{logs.state['arn']}:*"}
    # the key lets CloudWatch Logs encrypt the state machine's log group
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert (
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/leave-reminders-*"
        in (statements["CloudWatchLogsEncryptsOwnLogGroups"]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    )


def test_the_defaults_log_everything_without_execution_data(code_root: Path) -> None:
    stack = record(lambda: Workflow("flow", args(code_root)))
    sm = stack.one(SM, "flow")
    assert sm.inputs["loggingConfiguration"]["level"] == "ALL"
    assert sm.inputs["loggingConfiguration"]["includeExecutionData"] is False
    assert "TimeoutSeconds" not in json.loads(sm.inputs["definition"])
    # no schedules, no triggers: none of their resources
    assert stack.of_type(SCHEDULE) == [] and stack.of_type(RULE) == [] and stack.of_type(QUEUE) == []
    assert {f.name for f in stack.of_type(FUNCTION)} == {"flow-plan", "flow-roll", "flow-finish"}


def test_the_state_machine_role_may_invoke_exactly_its_task_functions(full: RecordedStack) -> None:
    assert _trust(full, "leave-reminders-role") == "states.amazonaws.com"
    sm = full.one(SM, "leave-reminders")
    assert sm.inputs["roleArn"] == full.one(ROLE, "leave-reminders-role").state["arn"]
    policy = _policy(full, "leave-reminders-policy")
    assert set(policy) == {"InvokeTaskFunctions", "UnscopedDeliverExecutionLogs", "UnscopedXRayTraces"}
    arns = [full.one(FUNCTION, f"leave-reminders-{k}").state["arn"] for k in ("plan", "roll", "finish")]
    assert policy["InvokeTaskFunctions"]["Action"] == ["lambda:InvokeFunction"]
    assert sorted(policy["InvokeTaskFunctions"]["Resource"]) == sorted([*arns, *(f"{a}:*" for a in arns)])
    assert full.one(FUNCTION, "leave-reminders-trigger").state["arn"] not in json.dumps(policy)
    assert policy["UnscopedDeliverExecutionLogs"]["Action"] == list(LOG_DELIVERY_ACTIONS)
    assert policy["UnscopedXRayTraces"]["Action"] == list(XRAY_ACTIONS)
    assert policy["UnscopedDeliverExecutionLogs"]["Resource"] == "*" == policy["UnscopedXRayTraces"]["Resource"]


def test_alarms_on_failed_timed_out_and_throttled_executions(full: RecordedStack) -> None:
    arn = full.one(SM, "leave-reminders").state["arn"]
    alarms = {a.name: a for a in full.of_type(ALARM) if a.inputs["namespace"] == "AWS/States"}
    assert {n: a.inputs["metricName"] for n, a in alarms.items()} == {
        "leave-reminders-failed": "ExecutionsFailed",
        "leave-reminders-timed-out": "ExecutionsTimedOut",
        "leave-reminders-throttled": "ExecutionThrottled",
    }
    for alarm in alarms.values():
        assert alarm.inputs["dimensions"] == {"StateMachineArn": arn}
        assert alarm.inputs["threshold"] == 0 and alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm.inputs["alarmActions"] == [TOPIC] == alarm.inputs["okActions"]
        assert alarm.inputs["tags"] == TAGS


def test_task_functions_get_the_commands_data_access_and_environment(full: RecordedStack) -> None:
    for key, memory, timeout in (("plan", 256, 60), ("roll", 512, 10), ("finish", 256, 10)):
        f = full.one(FUNCTION, f"leave-reminders-{key}")
        assert (f.inputs["memorySize"], f.inputs["timeout"]) == (memory, timeout)
        assert f.inputs["environment"]["variables"] == {
            "SERVICE_SOURCE": "acme.leave",
            "EVENTS_TABLE": "leave-events",
            "READ_MODEL_TABLE_BALANCES": "leave-balances",
        }
        assert f.inputs["tracingConfig"] == {"mode": "Active"} and f.inputs["tags"] == TAGS
        policy = _policy(full, f"leave-reminders-{key}-policy")
        assert policy["AppendToEventStore"]["Action"] == [
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:ConditionCheckItem",
        ]
        assert policy["AppendToEventStore"]["Resource"] == [EVENTS.table_arn]
        assert policy["ReadReadModels"]["Resource"] == [BALANCES.table_arn]
        assert set(policy["ReadReadModels"]["Action"]) == {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
        assert not any(a in json.dumps(policy) for a in ("UpdateItem", "DeleteItem", "states:"))
        errors = full.one(ALARM, f"leave-reminders-{key}-errors")
        assert errors.inputs["dimensions"] == {"FunctionName": f.state["name"]}


def test_a_task_function_without_tables_gets_no_data_access(code_root: Path) -> None:
    stack = record(lambda: Workflow("flow", args(code_root)))
    policy = _policy(stack, "flow-plan-policy")
    assert "AppendToEventStore" not in policy and "ReadReadModels" not in policy
    assert stack.one(FUNCTION, "flow-plan").inputs["environment"]["variables"] == {"SERVICE_SOURCE": "acme.leave"}


# ------------------------------------------------------------------------------ schedules
def test_a_schedule_starts_the_state_machine_with_its_input_retries_and_dlq(full: RecordedStack) -> None:
    sm_arn = full.one(SM, "leave-reminders").state["arn"]
    group = full.one("aws:scheduler/scheduleGroup:ScheduleGroup", "leave-reminders-schedules")
    assert group.inputs["tags"] == TAGS
    schedule = full.one(SCHEDULE, "leave-reminders-schedule-yearly")
    dlq = full.one(QUEUE, "leave-reminders-schedule-yearly-dlq")
    role = full.one(ROLE, "leave-reminders-schedule-yearly-role")
    key = full.one("aws:kms/key:Key", "leave-reminders-key").state["arn"]
    assert schedule.inputs["groupName"] == group.state["name"]
    assert schedule.inputs["scheduleExpression"] == "cron(0 1 1 1 ? *)"
    assert schedule.inputs["scheduleExpressionTimezone"] == "Europe/London"
    assert schedule.inputs["state"] == "ENABLED"
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule.inputs["kmsKeyArn"] == key
    target = schedule.inputs["target"]
    assert target["arn"] == sm_arn and target["roleArn"] == role.state["arn"]
    assert json.loads(target["input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>", "kind": "rollover"}
    assert target["retryPolicy"] == {"maximumRetryAttempts": 10, "maximumEventAgeInSeconds": 86400}
    assert target["deadLetterConfig"] == {"arn": dlq.state["arn"]}
    assert dlq.inputs["kmsMasterKeyId"] == key and dlq.inputs["tags"] == TAGS
    depth = full.one(ALARM, "leave-reminders-schedule-yearly-dlq-depth")
    assert depth.inputs["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert depth.inputs["dimensions"] == {"QueueName": dlq.state["name"]} and depth.inputs["alarmActions"] == [TOPIC]


def test_a_schedules_role_may_only_start_this_state_machine(full: RecordedStack) -> None:
    assert _trust(full, "leave-reminders-schedule-yearly-role") == "scheduler.amazonaws.com"
    policy = _policy(full, "leave-reminders-schedule-yearly-policy")
    assert set(policy) == {"StartThisWorkflow", "SendFailedFiringsToQueue", "UseServiceKey"}
    assert policy["StartThisWorkflow"]["Action"] == ["states:StartExecution"]
    assert policy["StartThisWorkflow"]["Resource"] == [full.one(SM, "leave-reminders").state["arn"]]
    assert policy["SendFailedFiringsToQueue"]["Resource"] == [full.one(QUEUE, "leave-reminders-schedule-yearly-dlq").state["arn"]]
    assert policy["UseServiceKey"]["Resource"] == [full.one("aws:kms/key:Key", "leave-reminders-key").state["arn"]]
    # each schedule has its own role and queue
    other = _policy(full, "leave-reminders-schedule-nightly-policy")
    assert other["SendFailedFiringsToQueue"]["Resource"] == [full.one(QUEUE, "leave-reminders-schedule-nightly-dlq").state["arn"]]


def test_a_schedule_takes_its_own_expression_zone_window_state_and_retries(full: RecordedStack) -> None:
    schedule = full.one(SCHEDULE, "leave-reminders-schedule-nightly")
    assert schedule.inputs["scheduleExpression"] == "cron(30 2 ? * MON-FRI *)"
    assert schedule.inputs["scheduleExpressionTimezone"] == "America/New_York"
    assert schedule.inputs["state"] == "DISABLED"
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "FLEXIBLE", "maximumWindowInMinutes": 15}
    assert schedule.inputs["target"]["retryPolicy"] == {"maximumRetryAttempts": 3, "maximumEventAgeInSeconds": 3600}
    assert json.loads(schedule.inputs["target"]["input"]) == {"scheduled_time": SCHEDULED_TIME}


# ------------------------------------------------------------------------------ bus triggers
def test_start_and_stop_rules_send_bus_events_to_the_trigger_with_retries_and_a_dlq(full: RecordedStack) -> None:
    trigger = full.one(FUNCTION, "leave-reminders-trigger")
    dlq = full.one(QUEUE, "leave-reminders-trigger-dlq")
    start, stop = full.one(RULE, "leave-reminders-start-0"), full.one(RULE, "leave-reminders-stop-0")
    assert json.loads(start.inputs["eventPattern"]) == {"source": ["acme.leave"], "detail-type": ["LeaveRequested"]}
    assert json.loads(stop.inputs["eventPattern"]) == {
        "source": ["acme.leave"],
        "detail-type": ["LeaveApproved", "LeaveRejected", "LeaveCancelled"],
    }
    for rule, key in ((start, "start-0"), (stop, "stop-0")):
        assert rule.inputs["eventBusName"] == "platform" and rule.inputs["tags"] == TAGS
        target = full.one(TARGET, f"leave-reminders-{key}-target")
        assert target.inputs["arn"] == trigger.state["arn"] and target.inputs["rule"] == rule.state["name"]
        assert target.inputs["retryPolicy"] == {"maximumRetryAttempts": 10, "maximumEventAgeInSeconds": 86400}
        assert target.inputs["deadLetterConfig"] == {"arn": dlq.state["arn"]}
        permission = full.one("aws:lambda/permission:Permission", f"leave-reminders-{key}-invoke")
        assert permission.inputs["sourceArn"] == rule.state["arn"] and permission.inputs["principal"] == "events.amazonaws.com"
    queue_policy = json.loads(full.one("aws:sqs/queuePolicy:QueuePolicy", "leave-reminders-trigger-dlq-policy").inputs["policy"])
    sender = next(s for s in queue_policy["Statement"] if s["Sid"] == "AllowRuleDeadLetters")
    assert sender["Condition"] == {"ArnEquals": {"aws:SourceArn": [start.state["arn"], stop.state["arn"]]}}
    assert full.one(ALARM, "leave-reminders-trigger-dlq-depth").inputs["dimensions"] == {"QueueName": dlq.state["name"]}
    async_config = full.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "leave-reminders-trigger-async")
    assert async_config.inputs["destinationConfig"]["onFailure"]["destination"] == dlq.state["arn"]
    # the key lets EventBridge put failed deliveries in the encrypted DLQ
    key = full.one("aws:kms/key:Key", "leave-reminders-key")
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["EventBridgeSendsToDeadLetterQueues"]["Condition"]["ArnLike"]["aws:SourceArn"] == [
        "arn:aws:events:us-east-1:111122223333:rule/platform/leave-reminders-*"
    ]


def test_the_trigger_runs_the_library_code_and_knows_its_triggers(full: RecordedStack) -> None:
    trigger = full.one(FUNCTION, "leave-reminders-trigger")
    assert trigger.inputs["handler"] == TRIGGER_HANDLER
    variables = trigger.inputs["environment"]["variables"]
    assert variables["STATE_MACHINE_ARN"] == full.one(SM, "leave-reminders").state["arn"]
    assert json.loads(variables["WORKFLOW_TRIGGERS"]) == [
        {"action": "start", "sources": ["acme.leave"], "detail_types": ["LeaveRequested"], "name_from": "detail.data.request_id"},
        {
            "action": "stop",
            "sources": ["acme.leave"],
            "detail_types": ["LeaveApproved", "LeaveRejected", "LeaveCancelled"],
            "name_from": "detail.data.request_id",
        },
    ]


def test_the_triggers_zip_holds_only_its_module_of_the_library(full: RecordedStack) -> None:
    assets = set(full.one(FUNCTION, "leave-reminders-trigger").inputs["code"]["assets"])
    assert assets == {"acme_eventsourcing/__init__.py", "acme_eventsourcing/runtime/__init__.py", "acme_eventsourcing/runtime/workflows.py"}


def test_the_triggers_role_may_only_start_and_stop_this_workflows_executions(full: RecordedStack) -> None:
    sm_arn = full.one(SM, "leave-reminders").state["arn"]
    policy = _policy(full, "leave-reminders-trigger-policy")
    assert set(policy) == {
        "WriteOwnLogs",
        "UnscopedXRayTraces",
        "StartThisWorkflow",
        "StopThisWorkflowsExecutions",
        "SendFailedEventsToQueue",
        "UseServiceKey",
    }
    assert policy["StartThisWorkflow"] == {
        "Sid": "StartThisWorkflow",
        "Effect": "Allow",
        "Action": ["states:StartExecution"],
        "Resource": [sm_arn],
    }
    executions = sm_arn.replace(":stateMachine:", ":execution:") + ":*"
    assert policy["StopThisWorkflowsExecutions"]["Action"] == ["states:StopExecution", "states:DescribeExecution"]
    assert policy["StopThisWorkflowsExecutions"]["Resource"] == [executions]
    assert "dynamodb:" not in json.dumps(policy)


def test_starts_alone_grant_no_stop(code_root: Path) -> None:
    stack = record(
        lambda: Workflow("flow", args(code_root, bus=BUS, starts=[EventStart(sources=("acme.leave",), detail_types=("LeaveRequested",))]))
    )
    policy = _policy(stack, "flow-trigger-policy")
    assert "StartThisWorkflow" in policy and "StopThisWorkflowsExecutions" not in policy
    (item,) = json.loads(stack.one(FUNCTION, "flow-trigger").inputs["environment"]["variables"]["WORKFLOW_TRIGGERS"])
    assert item["name_from"] == "detail.metadata.stream_id"


def test_every_resource_that_takes_tags_is_tagged(full: RecordedStack) -> None:
    untagged_types = {SCHEDULE}  # EventBridge Scheduler schedules take no tags (their group does)
    taggable = [r for r in full.resources if r.custom and "tags" in r.inputs]
    assert len(taggable) > 20
    assert all(r.inputs["tags"] == TAGS for r in taggable), [r.name for r in taggable if r.inputs["tags"] != TAGS]
    for r in full.resources:
        if r.custom and r.type in {SM, ROLE, QUEUE, RULE, LOG_GROUP, FUNCTION, ALARM, "aws:scheduler/scheduleGroup:ScheduleGroup"}:
            assert r.inputs.get("tags") == TAGS, r.name
        assert r.type not in untagged_types or "tags" not in r.inputs


def test_an_existing_key_is_used_and_none_created(code_root: Path) -> None:
    stack = record(
        lambda: Workflow(
            "flow",
            args(
                code_root,
                schedules=[ScheduleSpec(name="daily", expression="rate(1 day)")],
                defaults=ServiceDefaults(kms_key=KmsKeyRef(key_arn=EXISTING_KEY)),
            ),
        )
    )
    assert stack.of_type("aws:kms/key:Key") == []
    assert stack.one(LOG_GROUP, "flow-logs").inputs["kmsKeyId"] == EXISTING_KEY
    assert stack.one(QUEUE, "flow-schedule-daily-dlq").inputs["kmsMasterKeyId"] == EXISTING_KEY
    assert stack.one(SCHEDULE, "flow-schedule-daily").inputs["kmsKeyArn"] == EXISTING_KEY


def test_the_workflows_resources_are_its_children(full: RecordedStack) -> None:
    component = full.one("acme:events:Workflow", "leave-reminders")
    assert component.parent_urn is not None
    workflow_children = {r.name for r in full.children(component)}
    assert {"leave-reminders", "leave-reminders-role", "leave-reminders-logs", "leave-reminders-schedules"} <= workflow_children


def test_the_component_exposes_its_outputs(code_root: Path) -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        w = Workflow(
            "flow",
            args(
                code_root, bus=BUS, schedules=[ScheduleSpec(name="yearly")], stops=[EventStop(sources=("acme.leave",), detail_types=("X",))]
            ),
        )
        import pulumi

        pulumi.Output.all(
            w.state_machine_arn,
            w.state_machine_name,
            pulumi.Output.from_input(w.function_names),
            pulumi.Output.from_input(w.dlq_urls),
            w.schedule_group_name,
        ).apply(lambda v: seen.update(arn=v[0], name=v[1], functions=v[2], dlqs=v[3], group=v[4]))

    stack = record(program)
    assert seen["arn"] == stack.one(SM, "flow").state["arn"] and seen["name"] == stack.one(SM, "flow").state["name"]
    assert seen["functions"] == {k: stack.one(FUNCTION, f"flow-{k}").state["name"] for k in ("plan", "roll", "finish", "trigger")}
    assert seen["dlqs"] == {
        "schedule-yearly": stack.one(QUEUE, "flow-schedule-yearly-dlq").state["url"],
        "trigger": stack.one(QUEUE, "flow-trigger-dlq").state["url"],
    }
    assert seen["group"] == stack.one("aws:scheduler/scheduleGroup:ScheduleGroup", "flow-schedules").state["name"]


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"functions": {"plan": None}}, "not in functions"),  # replaced below: a definition naming a missing function
        ({}, "are not used by any state"),
        (
            {"definition": {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:${plan}", "End": True}}}},
            "must be a whole value",
        ),
        ({"definition": {"StartAt": "B", "States": {"A": {"Type": "Pass", "End": True}}}}, "StartAt 'B' is not one of its States"),
        ({"definition": {"StartAt": "A"}}, "needs States"),
        ({"source": "Acme Leave"}, "is not an event source"),
        ({"timeout_s": 0}, "timeout_s must be within"),
        ({"timeout_s": 400 * 24 * 3600}, "timeout_s must be within"),
        ({"log_level": "OFF"}, "log_level must be ALL, ERROR or FATAL"),
        ({"starts": [EventStart(sources=("acme.leave",), detail_types=("A",))]}, "need the bus"),
        ({"bus": BUS, "starts": [EventStart(sources=("acme.leave",), detail_types=())]}, "detail_types must not be empty"),
        ({"bus": BUS, "starts": [EventStart(sources="acme.leave", detail_types=("A",))]}, "sources must be non-empty event sources"),
        ({"bus": BUS, "stops": [EventStop(sources=("acme.leave",), detail_types=("A",), name_from="detail..id")]}, "must be a dotted path"),
        (
            {
                "bus": BUS,
                "starts": [EventStart(sources=("acme.leave",), detail_types=("A",))],
                "stops": [EventStop(sources=("acme.leave",), detail_types=("A",))],
            },
            "both starts and stops",
        ),
        ({"schedules": [ScheduleSpec(name="a"), ScheduleSpec(name="a")]}, "schedule names must be unique"),
        ({"schedules": [ScheduleSpec(name="Yearly")]}, "schedule name 'Yearly'"),
        ({"schedules": [ScheduleSpec(name="y", timezone="Europe/Londres")]}, "'Europe/Londres' is not an IANA time zone"),
        ({"schedules": [ScheduleSpec(name="y", expression="cron(0 1 1 1 1 *)")]}, "exactly one of day-of-month and day-of-week"),
        ({"schedules": [ScheduleSpec(name="y", flexible_window_minutes=0)]}, "flexible_window_minutes"),
        ({"schedules": [ScheduleSpec(name="y", maximum_retry_attempts=186)]}, "maximum_retry_attempts"),
        ({"schedules": [ScheduleSpec(name="y", maximum_event_age_in_seconds=30)]}, "maximum_event_age_in_seconds"),
        ({"schedules": [ScheduleSpec(name="y", input={"t": "<aws.scheduler.fired-at>"})]}, "unknown Scheduler context attributes"),
        ({"schedules": [ScheduleSpec(name="y", input={"t": {1, 2}})]}, "input is not JSON"),
    ],
)
def test_bad_input_is_refused_before_anything_is_created(code_root: Path, change: dict[str, Any], message: str) -> None:
    base = args(code_root)
    if "functions" in change:  # the definition names `finish`, which this set lacks
        change = {"functions": {"plan": fn(code_root), "roll": fn(code_root)}}
        message = "names function 'finish', which is not in functions ['plan', 'roll']"
    elif not change:  # a function no state uses
        change = {"functions": {**functions(code_root), "spare": fn(code_root)}}
        message = "functions ['spare'] are not used by any state"
    bad = WorkflowArgs(**{**base.__dict__, **change})
    with pytest.raises(ValueError, match=_escaped(message)):
        bad.validate()
    with pytest.raises(ValueError, match=_escaped(message)):
        record(lambda: Workflow("flow", bad))


@pytest.mark.parametrize("key", ["trigger", "schedule-x", "Plan", "role"])
def test_function_keys_that_would_clash_are_refused(code_root: Path, key: str) -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": f"${{{key}}}", "End": True}}}
    with pytest.raises(ValueError, match=f"function key {key!r}"):
        args(code_root, definition=definition, functions={key: fn(code_root)}).validate()


def test_a_bad_function_spec_names_its_key(code_root: Path) -> None:
    bad = {**functions(code_root), "roll": fn(code_root, timeout_s=0)}
    with pytest.raises(ValueError, match="function 'roll': timeout_s"):
        args(code_root, functions=bad).validate()


def test_timeout_s_must_agree_with_the_definitions_own(code_root: Path) -> None:
    with pytest.raises(ValueError, match="contradicts the definition's TimeoutSeconds 60"):
        args(code_root, definition={**DEFINITION, "TimeoutSeconds": 60}, timeout_s=120).validate()
    args(code_root, definition={**DEFINITION, "TimeoutSeconds": 60}, timeout_s=60).validate()


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 1 1 1 ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0 9 ? * MON-FRI *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 9 ? * 6L 2027-2030)",
        "cron(0 9 L * ? *)",
        "cron(0 9 15W JAN,JUL ? *)",
        "cron(5,35 14 * * ? *)",
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 day)",
        "rate(12 hours)",
        "at(2027-01-01T01:00:00)",
    ],
)
def test_valid_expressions(expression: str) -> None:
    validate_expression(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 1 1 1 ?)", "has 6 fields"),
        ("cron(60 1 1 1 ? *)", "minutes field '60'"),
        ("cron(0 24 1 1 ? *)", "hours field '24'"),
        ("cron(0 1 32 1 ? *)", "day-of-month field '32'"),
        ("cron(0 1 1 13 ? *)", "month field '13'"),
        ("cron(0 1 1 FOO ? *)", "month field 'FOO'"),
        ("cron(0 1 ? * 8 *)", "day-of-week field '8'"),
        ("cron(0 1 ? * MON#6 *)", "day-of-week field 'MON#6'"),
        ("cron(0 1 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 1 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0/0 1 1 1 ? *)", "minutes field '0/0'"),
        ("cron(0 1 1 1 ? 1969)", "year field '1969'"),
        ("rate(1 minutes)", "say 'rate(1 minute)'"),
        ("rate(5 day)", "'rate(N days)'"),
        ("rate(0 minutes)", "at least 1"),
        ("rate(5 weeks)", "must be 'cron(...)'"),
        ("at(2027-02-30T01:00:00)", "is not a date and time"),
        ("at(2027-01-01 01:00)", "must be 'cron(...)'"),
        ("every day", "must be 'cron(...)'"),
    ],
)
def test_invalid_expressions_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=_escaped(message)):
        validate_expression(expression)


@pytest.mark.parametrize("zone", ["Europe/London", "UTC", "America/Argentina/Buenos_Aires", "Asia/Kolkata"])
def test_iana_time_zones_are_accepted(zone: str) -> None:
    validate_timezone(zone)


@pytest.mark.parametrize("zone", ["GMT+1", "Europe/Londres", "", "../etc/passwd", "BST"])
def test_other_time_zone_names_are_refused(zone: str) -> None:
    with pytest.raises(ValueError, match="is not an IANA time zone name"):
        validate_timezone(zone)


def _escaped(message: str) -> str:
    import re

    return re.escape(message)


# ------------------------------------------------------------------------------ in a service
@pytest.fixture(scope="module")
def service(code_root: Path) -> RecordedStack:
    api = ApiSpec(
        commands=fn(code_root),
        queries=fn(code_root),
        command_routes=("POST /requests",),
        query_routes=("GET /requests",),
    )
    return record(
        lambda: EventSourcedService(
            "leave",
            EventSourcedServiceArgs(
                source="acme.leave",
                bus=BUS,
                api=api,
                projections=[ProjectionSpec(name="balances", function=fn(code_root), detail_types=("LeaveApproved",))],
                workflows=[
                    WorkflowSpec(
                        name="rollover", definition=DEFINITION, functions=functions(code_root), schedules=[ScheduleSpec(name="yearly")]
                    ),
                    WorkflowSpec(
                        name="reminders",
                        definition={"StartAt": "Remind", "States": {"Remind": {"Type": "Task", "Resource": "${remind}", "End": True}}},
                        functions={"remind": fn(code_root)},
                        starts=[EventStart(sources=("acme.leave",), detail_types=("LeaveRequested",))],
                        stops=[EventStop(sources=("acme.leave",), detail_types=("LeaveApproved",))],
                    ),
                ],
                defaults=ServiceDefaults(tags=TAGS, alarm_actions=(TOPIC,)),
            ),
        )
    )


def test_a_services_workflow_tasks_get_the_commands_functions_grants_and_environment(service: RecordedStack) -> None:
    events = service.one("aws:dynamodb/table:Table", "leave-events")
    balances = service.one("aws:dynamodb/table:Table", "leave-balances")
    commands = service.one(FUNCTION, "leave-commands")
    key = service.one("aws:kms/key:Key", "leave-key").state["arn"]
    command_grant = _policy(service, "leave-commands-policy")["AppendToEventStore"]
    for name in ("leave-rollover-plan", "leave-rollover-roll", "leave-rollover-finish", "leave-reminders-remind"):
        policy = _policy(service, f"{name}-policy")
        assert policy["AppendToEventStore"] == command_grant and command_grant["Resource"] == [events.state["arn"]]
        assert policy["ReadReadModels"]["Resource"] == [balances.state["arn"]]
        assert policy["UseServiceKey"]["Resource"] == [key]
        variables = service.one(FUNCTION, name).inputs["environment"]["variables"]
        for var in ("SERVICE_SOURCE", "EVENTS_TABLE", "IDENTITY_CLAIM"):
            assert variables[var] == commands.inputs["environment"]["variables"][var]
        assert variables["READ_MODEL_TABLE_BALANCES"] == balances.state["name"]
    # the service's one key: no workflow creates its own
    assert [k.name for k in service.of_type("aws:kms/key:Key")] == ["leave-key"]


def test_a_services_workflows_are_its_children_on_its_bus_with_its_key(service: RecordedStack) -> None:
    svc = service.one("acme:events:EventSourcedService", "leave")
    for name in ("leave-rollover", "leave-reminders"):
        component = service.one("acme:events:Workflow", name)
        assert component.parent_urn == svc.urn
        assert not component.options.get("aliases")
    assert service.one(RULE, "leave-reminders-start-0").inputs["eventBusName"] == "platform"
    key = service.one("aws:kms/key:Key", "leave-key")
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert (
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/leave-*"
        in (statements["CloudWatchLogsEncryptsOwnLogGroups"]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    )
    assert service.one(LOG_GROUP, "leave-rollover-logs").inputs["kmsKeyId"] == key.state["arn"]


def test_a_service_exports_its_state_machines_functions_and_queues(code_root: Path) -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        import pulumi

        svc = EventSourcedService(
            "leave",
            EventSourcedServiceArgs(
                source="acme.leave",
                bus=BUS,
                api=ApiSpec(commands=fn(code_root), queries=fn(code_root), command_routes=("POST /r",), query_routes=("GET /r",)),
                workflows=[
                    WorkflowSpec(
                        name="reminders",
                        definition={"StartAt": "Remind", "States": {"Remind": {"Type": "Task", "Resource": "${remind}", "End": True}}},
                        functions={"remind": fn(code_root)},
                        schedules=[ScheduleSpec(name="daily", expression="rate(1 day)")],
                        stops=[EventStop(sources=("acme.leave",), detail_types=("LeaveApproved",))],
                    )
                ],
            ),
        )
        assert set(svc.workflows) == {"reminders"} and isinstance(svc.workflows["reminders"], Workflow)
        pulumi.Output.all(
            pulumi.Output.from_input(svc.state_machine_arns),
            pulumi.Output.from_input(svc.state_machine_names),
            pulumi.Output.from_input(svc.function_names),
            pulumi.Output.from_input(svc.dlq_urls),
        ).apply(lambda v: seen.update(arns=v[0], names=v[1], functions=v[2], dlqs=v[3]))

    stack = record(program)
    sm = stack.one(SM, "leave-reminders")
    assert seen["arns"] == {"reminders": sm.state["arn"]} and seen["names"] == {"reminders": sm.state["name"]}
    assert seen["functions"]["reminders-remind"] == stack.one(FUNCTION, "leave-reminders-remind").state["name"]
    assert seen["functions"]["reminders-trigger"] == stack.one(FUNCTION, "leave-reminders-trigger").state["name"]
    assert seen["dlqs"]["reminders-trigger"] == stack.one(QUEUE, "leave-reminders-trigger-dlq").state["url"]
    assert seen["dlqs"]["reminders-schedule-daily"] == stack.one(QUEUE, "leave-reminders-schedule-daily-dlq").state["url"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"api": None, "subscriptions": ()}, "workflows' tasks use the Events table"),
        ({"projections": [ProjectionSpec(name="reminders", function=None, detail_types=("A",))]}, "names must be unique"),  # type: ignore[arg-type]
        ({"workflows": [WorkflowSpec(name="Bad", definition=DEFINITION, functions={})]}, "name 'Bad' must match"),
    ],
)
def test_a_service_refuses_bad_workflows(code_root: Path, change: dict[str, Any], message: str) -> None:
    base = EventSourcedServiceArgs(
        source="acme.leave",
        bus=BUS,
        api=ApiSpec(commands=fn(code_root), queries=fn(code_root), command_routes=("POST /r",), query_routes=("GET /r",)),
        workflows=[WorkflowSpec(name="reminders", definition=DEFINITION, functions=functions(code_root))],
    )
    with pytest.raises(ValueError, match=message):
        EventSourcedServiceArgs(**{**base.__dict__, **change}).validate()


def test_a_services_workflow_errors_name_the_workflow(code_root: Path) -> None:
    bad = EventSourcedServiceArgs(
        source="acme.leave",
        bus=BUS,
        api=ApiSpec(commands=fn(code_root), queries=fn(code_root), command_routes=("POST /r",), query_routes=("GET /r",)),
        workflows=[WorkflowSpec(name="rollover", definition=DEFINITION, functions={"plan": fn(code_root)})],
    )
    with pytest.raises(ValueError, match="workflow 'rollover': .* names function 'roll'"):
        bad.validate()


def _key_statements(stack: RecordedStack) -> dict[str, Any]:
    (key,) = stack.of_type("aws:kms/key:Key")
    return {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}


@pytest.mark.parametrize("with_triggers", [True, False])
def test_a_services_key_admits_workflow_dead_letters_and_logs_only_when_it_has_them(code_root: Path, with_triggers: bool) -> None:
    api = ApiSpec(commands=fn(code_root), queries=fn(code_root), command_routes=("POST /r",), query_routes=("GET /r",))
    triggers: dict[str, Any] = {"starts": [EventStart(sources=("acme.leave",), detail_types=("LeaveRequested",))]} if with_triggers else {}
    remind = WorkflowSpec(
        name="reminders",
        definition={"StartAt": "Remind", "States": {"Remind": {"Type": "Task", "Resource": "${remind}", "End": True}}},
        functions={"remind": fn(code_root)},
        **triggers,
    )
    with_workflow = record(
        lambda: EventSourcedService("leave", EventSourcedServiceArgs(source="acme.leave", bus=BUS, api=api, workflows=[remind]))
    )
    statements = _key_statements(with_workflow)
    assert ("EventBridgeSendsToDeadLetterQueues" in statements) is with_triggers
    if with_triggers:
        assert statements["EventBridgeSendsToDeadLetterQueues"]["Condition"]["ArnLike"]["aws:SourceArn"] == [
            "arn:aws:events:us-east-1:111122223333:rule/platform/leave-*"
        ]
    assert STATES_LOGS in statements["CloudWatchLogsEncryptsOwnLogGroups"]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]


#: The log groups of a service's state machines, as its key policy names them.
STATES_LOGS = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/leave-*"


def test_a_service_without_workflows_keeps_the_key_policy_it_had(code_root: Path) -> None:
    """(Recorded once here, not in each case above: the same stack whatever the triggers.)"""
    api = ApiSpec(commands=fn(code_root), queries=fn(code_root), command_routes=("POST /r",), query_routes=("GET /r",))
    plain = _key_statements(record(lambda: EventSourcedService("leave", EventSourcedServiceArgs(source="acme.leave", bus=BUS, api=api))))
    assert "EventBridgeSendsToDeadLetterQueues" not in plain
    assert STATES_LOGS not in plain["CloudWatchLogsEncryptsOwnLogGroups"]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]


def test_a_workflow_reads_its_bus_and_tables_from_other_stacks(code_root: Path) -> None:
    refs = {
        "acme/platform/prod": {"bus_name": "platform-bus", "bus_arn": "arn:aws:events:us-east-1:210987654321:event-bus/platform-bus"},
        "acme/leave/prod": {"table_name": "leave-events-1", "table_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/leave-events-1"},
    }
    stack = record(
        lambda: Workflow(
            "audit-flow",
            args(
                code_root,
                bus=EventBusRef(stack="acme/platform/prod"),
                events_table=TableRef(stack="acme/leave/prod"),
                stops=[EventStop(sources=("acme.leave",), detail_types=("LeaveCancelled",))],
            ),
        ),
        stack_references=refs,
    )
    component = stack.one("acme:events:Workflow", "audit-flow")
    assert stack.one("pulumi:pulumi:StackReference", "audit-flow-bus-stack").parent_urn == component.urn
    assert stack.one(RULE, "audit-flow-stop-0").inputs["eventBusName"] == "platform-bus"
    assert _policy(stack, "audit-flow-plan-policy")["AppendToEventStore"]["Resource"] == [refs["acme/leave/prod"]["table_arn"]]
    assert stack.one(FUNCTION, "audit-flow-plan").inputs["environment"]["variables"]["EVENTS_TABLE"] == "leave-events-1"
