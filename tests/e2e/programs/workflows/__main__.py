"""A program that is not this repository's: plain pulumi_aws state machines and schedules."""

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

table = aws.dynamodb.Table(
    "wf-table", attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")], hash_key="pk", billing_mode="PAY_PER_REQUEST"
)
role = aws.iam.Role(
    "wf-role",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": s}, "Action": "sts:AssumeRole"}
                for s in ("lambda.amazonaws.com", "states.amazonaws.com", "scheduler.amazonaws.com", "events.amazonaws.com")
            ],
        }
    ),
)
code = pulumi.AssetArchive({"app": pulumi.FileArchive(str(Path(__file__).parent / "app"))})
functions = {
    name: aws.lambda_.Function(
        f"wf-{name}",
        runtime="python3.12",
        handler=f"app.handler.{name}",
        role=role.arn,
        code=code,
        timeout=10,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables={"TABLE_NAME": table.name}),
    )
    for name in ("work", "record", "now")
}


def machine(name: str, definition) -> aws.sfn.StateMachine:
    return aws.sfn.StateMachine(name, role_arn=role.arn, definition=pulumi.Output.json_dumps(definition))


# a Map over items; each item a lambda:invoke task with a Retry and a Catch; then a bare-ARN task
batch = machine(
    "wf-batch",
    {
        "StartAt": "Items",
        "States": {
            "Items": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Work",
                    "States": {
                        "Work": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": functions["work"].arn, "Payload.$": "$"},
                            "OutputPath": "$.Payload",
                            "Retry": [{"ErrorEquals": ["FlakyError"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}],
                            "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Failed item"}],
                            "End": True,
                        },
                        "Failed item": {
                            "Type": "Pass",
                            "Parameters": {"id.$": "$.id", "done": False, "error.$": "$.error.Error"},
                            "End": True,
                        },
                    },
                },
                "ResultPath": "$.results",
                "Next": "Record",
            },
            "Record": {
                "Type": "Task",
                "Resource": functions["record"].arn,
                "Parameters": {"kind": "batch", "results.$": "$.results"},
                "End": True,
            },
        },
    },
)
# waits days (Seconds), then until a timestamp given in the input, then asks a function the time
sleeper = machine(
    "wf-sleeper",
    {
        "StartAt": "Three days",
        "States": {
            "Three days": {"Type": "Wait", "Seconds": 3 * 86400, "Next": "Until"},
            "Until": {"Type": "Wait", "TimestampPath": "$.until", "Next": "Now"},
            "Now": {"Type": "Task", "Resource": functions["now"].arn, "End": True},
        },
    },
)
short = machine(
    "wf-short", {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 1, "Next": "Done"}, "Done": {"Type": "Succeed"}}}
)
failing = machine(
    "wf-failing",
    {
        "StartAt": "Bad",
        "States": {"Bad": {"Type": "Task", "Resource": functions["work"].arn, "Parameters": {"id": "doomed", "bad": True}, "End": True}},
    },
)
recorder = machine(
    "wf-recorder", {"StartAt": "Record", "States": {"Record": {"Type": "Task", "Resource": functions["record"].arn, "End": True}}}
)

# a task that waits for its token (the function gets it), then a DynamoDB service integration
callback = machine(
    "wf-callback",
    {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": functions["record"].arn, "Payload": {"kind": "callback", "token.$": "$$.Task.Token"}},
                "Next": "Save",
            },
            "Save": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": table.name, "Item": {"pk": {"S": "callback#done"}, "answer": {"S.$": "$.answer"}}},
                "End": True,
            },
        },
    },
)

# a rule on a bus whose target is a state machine (the standard target, with a role)
bus = aws.cloudwatch.EventBus("wf-bus")
rule = aws.cloudwatch.EventRule("wf-orders", event_bus_name=bus.name, event_pattern=json.dumps({"source": ["test.orders"]}))
aws.cloudwatch.EventTarget("wf-orders-to-recorder", rule=rule.name, event_bus_name=bus.name, arn=recorder.arn, role_arn=role.arn)

dlq = aws.sqs.Queue("wf-schedule-dlq")
inbox = aws.sqs.Queue("wf-inbox")
group = aws.scheduler.ScheduleGroup("wf-group")
window = aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF")
# weekdays 09:00 in Tokyo (00:00 UTC): a state machine target with the scheduled time in its input
aws.scheduler.Schedule(
    "wf-tokyo-morning",
    group_name=group.name,
    schedule_expression="cron(0 9 ? * MON-FRI *)",
    schedule_expression_timezone="Asia/Tokyo",
    flexible_time_window=window,
    target=aws.scheduler.ScheduleTargetArgs(
        arn=recorder.arn,
        role_arn=role.arn,
        input=json.dumps({"kind": "tokyo-morning", "at": "<aws.scheduler.scheduled-time>"}),
        dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=dlq.arn),
    ),
)
aws.scheduler.Schedule(
    "wf-daily-ping",
    schedule_expression="rate(1 day)",
    flexible_time_window=window,
    target=aws.scheduler.ScheduleTargetArgs(arn=functions["record"].arn, role_arn=role.arn, input=json.dumps({"kind": "ping"})),
)
aws.scheduler.Schedule(
    "wf-to-inbox",
    schedule_expression="at(2099-01-01T00:00:00)",
    flexible_time_window=window,
    target=aws.scheduler.ScheduleTargetArgs(arn=inbox.arn, role_arn=role.arn, input="hello <aws.scheduler.schedule-arn>"),
)
aws.scheduler.Schedule(
    "wf-broken",
    schedule_expression="at(2099-01-01T00:00:00)",
    flexible_time_window=window,
    target=aws.scheduler.ScheduleTargetArgs(
        arn="arn:aws:states:us-east-1:123456789012:stateMachine:does-not-exist",
        role_arn=role.arn,
        input=json.dumps({"kind": "broken"}),
        retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(maximum_retry_attempts=0),
        dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=dlq.arn),
    ),
)
pulumi.export("bus", bus.name)
