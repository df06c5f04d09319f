"""The access-logged, throttled API Gateway v2 stage both the HTTP API and the live-updates
WebSocket API deploy (policy rules API002 and WSK002 check what it sets)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from .defaults import ChildScope


def logged_stage(
    scope: ChildScope,
    name: str,
    *,
    api_id: pulumi.Input[str],
    stage_name: str,
    log_format: Mapping[str, str],
    log_retention_days: int,
    throttling_burst_limit: int,
    throttling_rate_limit: float,
    depends_on: Sequence[pulumi.Resource],
) -> tuple[aws.cloudwatch.LogGroup, aws.apigatewayv2.Stage]:
    """`<name>-api-access-logs` (KMS, retention) and the auto-deployed stage `<name>-api-stage`
    writing JSON access logs in `log_format` to it, throttled, with detailed metrics."""
    logs = aws.cloudwatch.LogGroup(
        f"{name}-api-access-logs",
        name_prefix=f"/aws/vendedlogs/apigateway/{name}-api-",
        retention_in_days=log_retention_days,
        kms_key_id=scope.kms_key_arn,
        tags=scope.tags,
        opts=scope.opts,
    )
    stage = aws.apigatewayv2.Stage(
        f"{name}-api-stage",
        api_id=api_id,
        name=stage_name,
        auto_deploy=True,
        access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(destination_arn=logs.arn, format=json.dumps(log_format)),
        default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
            throttling_burst_limit=throttling_burst_limit,
            throttling_rate_limit=throttling_rate_limit,
            detailed_metrics_enabled=True,
        ),
        tags=scope.tags,
        opts=scope.child(depends_on=list(depends_on)),
    )
    return logs, stage
