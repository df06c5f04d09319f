"""IAM documents as data: built with `pulumi.Output.json_dumps` so tests read the real thing.

The only statements with `"Resource": "*"` are built by `unscoped_statement`, for actions
that AWS does not let a policy scope to a resource (X-Ray writes and sampling, DynamoDB
ListStreams, CloudWatch Logs' log delivery for state machines). They carry a Sid starting
with `UNSCOPED_SID_PREFIX` and may hold only `UNSCOPED_ACTIONS`, so a policy check can allow
exactly those and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

UNSCOPED_SID_PREFIX = "Unscoped"
UNSCOPED_ACTIONS: frozenset[str] = frozenset(
    {
        "xray:PutTraceSegments",  # X-Ray has no resource-level permissions
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",  # Step Functions' tracing samples
        "xray:GetSamplingTargets",
        "dynamodb:ListStreams",  # ListStreams has no resource type (the CDK's grantStreamRead does the same)
        # CloudWatch Logs' vended log delivery (a state machine's execution logs): no resource type
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)

Statement = Mapping[str, Any]


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    *,
    effect: str = "Allow",
    condition: Mapping[str, Any] | None = None,
    principal: Any = None,
) -> dict[str, Any]:
    """One policy statement; `resources` are exact ARNs (Outputs are fine)."""
    if not resources:
        raise ValueError(f"statement {sid!r} needs at least one resource")
    stmt: dict[str, Any] = {"Sid": sid, "Effect": effect}
    if principal is not None:
        stmt["Principal"] = principal
    stmt["Action"] = list(actions)
    stmt["Resource"] = list(resources)
    if condition:
        stmt["Condition"] = dict(condition)
    return stmt


def unscoped_statement(sid: str, actions: Sequence[str]) -> dict[str, Any]:
    """A statement on `"*"` for actions that cannot be scoped to a resource (see module doc)."""
    extra = set(actions) - UNSCOPED_ACTIONS
    if extra:
        raise ValueError(f"actions {sorted(extra)} can be scoped to a resource; do not grant them on '*'")
    return {"Sid": f"{UNSCOPED_SID_PREFIX}{sid}", "Effect": "Allow", "Action": list(actions), "Resource": "*"}


def document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """A policy document (JSON text) from statements that may contain Outputs."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service principal (e.g. `lambda.amazonaws.com`) assume a role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def deny_insecure_transport(resource: pulumi.Input[str], service_prefix: str) -> dict[str, Any]:
    """Deny every request to a resource that does not use TLS."""
    return statement(
        "DenyInsecureTransport",
        [f"{service_prefix}:*"],
        [resource],
        effect="Deny",
        principal="*",
        condition={"Bool": {"aws:SecureTransport": "false"}},
    )
