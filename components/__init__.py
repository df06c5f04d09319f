"""Reusable Pulumi components for event-sourced serverless systems on AWS.

    from components import EventSourcedService, SharedEventBus, RetainedTable

See docs/components.md for each component's arguments, defaults and outputs.
"""

from __future__ import annotations

from ._iam import UNSCOPED_ACTIONS, UNSCOPED_SID_PREFIX
from .event_sourced_service import (
    IDENTITY_CLAIM_ENV,
    PIPE_INPUT_TEMPLATE,
    PUBLISHER_FILTER_PATTERN,
    USER_POOL_IDENTITY_CLAIM,
    ApiSpec,
    DeliverySpec,
    EventBusLike,
    EventBusRef,
    EventSourcedService,
    EventSourcedServiceArgs,
    FunctionSpec,
    JwtAuthorizerSpec,
    ProjectionSpec,
    PublisherSpec,
    SubscriptionSpec,
)
from .retained_table import APPEND_ONLY_DENIED_ACTIONS, BackupPlan, GlobalSecondaryIndex, RetainedTable, RetainedTableArgs
from .shared_event_bus import SharedEventBus, SharedEventBusArgs

__all__ = [
    "APPEND_ONLY_DENIED_ACTIONS",
    "IDENTITY_CLAIM_ENV",
    "PIPE_INPUT_TEMPLATE",
    "PUBLISHER_FILTER_PATTERN",
    "UNSCOPED_ACTIONS",
    "UNSCOPED_SID_PREFIX",
    "USER_POOL_IDENTITY_CLAIM",
    "ApiSpec",
    "BackupPlan",
    "DeliverySpec",
    "EventBusLike",
    "EventBusRef",
    "EventSourcedService",
    "EventSourcedServiceArgs",
    "FunctionSpec",
    "GlobalSecondaryIndex",
    "JwtAuthorizerSpec",
    "ProjectionSpec",
    "PublisherSpec",
    "RetainedTable",
    "RetainedTableArgs",
    "SharedEventBus",
    "SharedEventBusArgs",
    "SubscriptionSpec",
]
