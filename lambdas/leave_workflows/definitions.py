"""The leave service's state machines, as Amazon States Language (pure data, stdlib only).

`${tasks}` is the placeholder for each workflow's task function name: the Pulumi
`Workflow` component substitutes the functions it creates for the keys of its `functions`.
Every Task state calls its function through the ``lambda:invoke`` integration with the
payload ``{"task": NAME, "input": <the state's input>, "execution": <execution id>}`` and
keeps the function's answer (``$.Payload``). See `leave_workflows.rollover` and
`leave_workflows.reminders` for what each task does.
"""

from __future__ import annotations

from typing import Any

ROLLOVER_FUNCTION = "tasks"
REMINDERS_FUNCTION = "tasks"

ROLLOVER_MAX_CONCURRENCY = 5
"""Batches rolled at once: each is one Lambda call of up to `ROLLOVER_BATCH_SIZE` employees."""

TRANSIENT_ERRORS: list[str] = [
    "RetryableError",  # a lost race or DynamoDB throttling, raised by the task itself
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "States.Timeout",
]
"""Throttling and timeouts: retried with exponential backoff. Anything else is a real failure."""

RETRY: list[dict[str, Any]] = [
    {
        "ErrorEquals": TRANSIENT_ERRORS,
        "IntervalSeconds": 2,
        "MaxAttempts": 4,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "FULL",
    }
]


def task(function: str, name: str, *, timeout_s: int = 60, keep: tuple[str, ...] = (), **state: Any) -> dict[str, Any]:
    """A Task state calling `${function}` with ``{"task": name, "input": $, "execution": <id>}``.

    Its output is the function's answer; with `keep` (and a ``ResultPath`` in `state`), the
    state's input with those fields of the answer at ``ResultPath``."""
    selected: dict[str, Any] = {"ResultSelector": {f"{k}.$": f"$.Payload.{k}" for k in keep}} if keep else {"OutputPath": "$.Payload"}
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": "${" + function + "}",
            "Payload": {"task": name, "input.$": "$", "execution.$": "$$.Execution.Id"},
        },
        **selected,
        "TimeoutSeconds": timeout_s,
        "Retry": RETRY,
        **state,
    }


ROLLOVER: dict[str, Any] = {
    "Comment": (
        "Yearly leave rollover: page through every employee, roll each over (idempotent per employee and year), "
        "then publish RolloverCompleted; fails if any employee failed, and a re-run finishes the job."
    ),
    "StartAt": "Plan",
    "States": {
        "Plan": task(ROLLOVER_FUNCTION, "plan", Next="RollPage"),
        "RollPage": {
            "Type": "Map",
            "ItemsPath": "$.batches",
            "MaxConcurrency": ROLLOVER_MAX_CONCURRENCY,
            "ItemSelector": {"from_year.$": "$.from_year", "employee_ids.$": "$$.Map.Item.Value"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Roll",
                "States": {
                    "Roll": task(
                        ROLLOVER_FUNCTION,
                        "roll",
                        timeout_s=300,
                        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "BatchFailed"}],
                        End=True,
                    ),
                    "BatchFailed": {
                        "Type": "Pass",
                        "Comment": "The whole batch failed after its retries: count every employee of it as failed",
                        "Parameters": {
                            "employees.$": "States.ArrayLength($.employee_ids)",
                            "rolled_over": 0,
                            "failed.$": "$.employee_ids",
                        },
                        "End": True,
                    },
                },
            },
            "ResultPath": "$.results",
            "Next": "NextPage",
        },
        "NextPage": task(ROLLOVER_FUNCTION, "page", Next="MorePages"),
        "MorePages": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.done", "BooleanEquals": False, "Next": "RollPage"}],
            "Default": "AnyFailed",
        },
        "AnyFailed": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.totals.failed", "NumericGreaterThan": 0, "Next": "Incomplete"}],
            "Default": "Complete",
        },
        "Complete": task(ROLLOVER_FUNCTION, "complete", End=True),
        "Incomplete": {
            "Type": "Fail",
            "Error": "RolloverIncomplete",
            "Cause": "Some employees were not rolled over (failed_ids in the execution's history); run the workflow again (idempotent).",
        },
    },
}
"""Plan -> Map(Roll per batch, MaxConcurrency, Retry with backoff, Catch per batch) -> NextPage
-> Choice(more pages?) -> ... -> Complete, or Fail if any employee failed."""


REMINDERS: dict[str, Any] = {
    "Comment": (
        "Approval reminders of one leave request: remind its approver after N working days, escalate to the admins "
        "after M; stopped when the request is decided or cancelled, and each step re-checks that it is still pending."
    ),
    "StartAt": "Schedule",
    "States": {
        "Schedule": task(REMINDERS_FUNCTION, "schedule", Next="StillPendingAtStart"),
        "StillPendingAtStart": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.pending", "BooleanEquals": True, "Next": "WaitToRemind"}],
            "Default": "Decided",
        },
        "WaitToRemind": {"Type": "Wait", "TimestampPath": "$.remind_at", "Next": "Remind"},
        "Remind": task(REMINDERS_FUNCTION, "remind", keep=("pending", "sent"), ResultPath="$.reminder", Next="StillPending"),
        "StillPending": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.reminder.pending", "BooleanEquals": True, "Next": "WaitToEscalate"}],
            "Default": "Decided",
        },
        "WaitToEscalate": {"Type": "Wait", "TimestampPath": "$.escalate_at", "Next": "Escalate"},
        "Escalate": task(REMINDERS_FUNCTION, "escalate", keep=("pending", "sent"), ResultPath="$.escalation", End=True),
        "Decided": {"Type": "Succeed", "Comment": "The request was decided or cancelled: nobody is reminded"},
    },
}
"""Schedule -> Wait(remind_at) -> Remind -> Choice(pending?) -> Wait(escalate_at) -> Escalate."""

DECISION_EVENT_TYPES: tuple[str, ...] = ("LeaveApproved", "LeaveDenied", "LeaveCancelled")
"""The events that end a request's reminders workflow (the execution is stopped)."""
