"""Event-sourced serverless services on AWS, with Pulumi and Python.

    from acme_eventsourcing import EventSourcedService, SharedEventBus, RetainedTable

- the Pulumi components (this module's names): `EventSourcedService` and the child
  components it is made of, each usable alone (`EventPublisher`, `HttpApi`, `Projection`,
  `Subscription`, `LiveUpdates`, `ApiDestination`), `RetainedTable`, `SharedEventBus`, `AlarmTopic`, `Workflow` (Step Functions
  started by schedules and bus events), `EventBackup` (every bus event to S3); the `ServiceDefaults` they share and
  the `...Ref` types of the create-or-use idiom (`refs`). Imported on first use, so
  `import acme_eventsourcing.runtime` in a Lambda function never loads pulumi;
- `acme_eventsourcing.runtime`: the code that runs in Lambda (stdlib and boto3 only);
- `acme_eventsourcing.testing`: the mocks harness and the policy rules.

See docs/components.md for each component's arguments, defaults and outputs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, for type checkers; at run time __getattr__ imports them
    from ._iam import (
        UNSCOPED_ACTIONS,
        UNSCOPED_SID_PREFIX,
    )
    from .alarm_topic import (
        AlarmTopic,
        AlarmTopicArgs,
    )
    from .api_destination import (
        ApiDestination,
        ApiDestinationArgs,
        ApiKeyAuth,
        BasicAuth,
        ConnectionAuth,
        HttpDestinationSpec,
        MessageSpec,
        OAuthClientCredentialsAuth,
    )
    from .defaults import (
        DeliverySpec,
        FunctionSpec,
        ServiceDefaults,
    )
    from .event_backup import (
        BackupLifecycle,
        EventBackup,
        EventBackupArgs,
    )
    from .event_publisher import (
        PIPE_INPUT_TEMPLATE,
        PUBLISHER_FILTER_PATTERN,
        EventPublisher,
        EventPublisherArgs,
        PublisherKind,
        PublisherSpec,
        StartingPosition,
    )
    from .event_sourced_service import (
        EventSourcedService,
        EventSourcedServiceArgs,
        ProjectionSpec,
        SubscriptionSpec,
        WorkflowSpec,
    )
    from .http_api import (
        IDENTITY_CLAIM_ENV,
        USER_POOL_IDENTITY_CLAIM,
        ApiSpec,
        HttpApi,
        HttpApiArgs,
        JwtAuthorizerSpec,
    )
    from .live_updates import (
        LiveUpdates,
        LiveUpdatesArgs,
        LiveUpdatesSpec,
    )
    from .projection import (
        Projection,
        ProjectionArgs,
    )
    from .refs import (
        BackupVaultRef,
        EventBusRef,
        JwtIssuerRef,
        KmsKeyRef,
        TableRef,
    )
    from .retained_table import (
        APPEND_ONLY_DENIED_ACTIONS,
        AttributeType,
        BackupPlan,
        GlobalSecondaryIndex,
        ProjectionType,
        RetainedTable,
        RetainedTableArgs,
        StreamViewType,
    )
    from .shared_event_bus import (
        SharedEventBus,
        SharedEventBusArgs,
    )
    from .sso import (
        SSO_IDENTITY_CLAIM,
        SsoKind,
        SsoSpec,
        sso_from_config,
    )
    from .subscription import (
        Subscription,
        SubscriptionArgs,
    )
    from .workflow import (
        SCHEDULED_TIME,
        EventStart,
        EventStop,
        LogLevel,
        ScheduleSpec,
        Workflow,
        WorkflowArgs,
    )

#: Where each public name lives (the module is imported when the name is first used).
_HOMES: dict[str, str] = {
    "APPEND_ONLY_DENIED_ACTIONS": "retained_table",
    "IDENTITY_CLAIM_ENV": "http_api",
    "PIPE_INPUT_TEMPLATE": "event_publisher",
    "PUBLISHER_FILTER_PATTERN": "event_publisher",
    "SCHEDULED_TIME": "workflow",
    "SSO_IDENTITY_CLAIM": "sso",
    "UNSCOPED_ACTIONS": "_iam",
    "UNSCOPED_SID_PREFIX": "_iam",
    "USER_POOL_IDENTITY_CLAIM": "http_api",
    "AlarmTopic": "alarm_topic",
    "ApiDestination": "api_destination",
    "ApiDestinationArgs": "api_destination",
    "ApiKeyAuth": "api_destination",
    "BasicAuth": "api_destination",
    "ConnectionAuth": "api_destination",
    "HttpDestinationSpec": "api_destination",
    "MessageSpec": "api_destination",
    "OAuthClientCredentialsAuth": "api_destination",
    "AlarmTopicArgs": "alarm_topic",
    "ApiSpec": "http_api",
    "AttributeType": "retained_table",
    "BackupLifecycle": "event_backup",
    "BackupPlan": "retained_table",
    "BackupVaultRef": "refs",
    "DeliverySpec": "defaults",
    "EventBackup": "event_backup",
    "EventBackupArgs": "event_backup",
    "EventBusRef": "refs",
    "EventPublisher": "event_publisher",
    "EventPublisherArgs": "event_publisher",
    "EventSourcedService": "event_sourced_service",
    "EventSourcedServiceArgs": "event_sourced_service",
    "EventStart": "workflow",
    "EventStop": "workflow",
    "FunctionSpec": "defaults",
    "GlobalSecondaryIndex": "retained_table",
    "HttpApi": "http_api",
    "HttpApiArgs": "http_api",
    "JwtAuthorizerSpec": "http_api",
    "JwtIssuerRef": "refs",
    "KmsKeyRef": "refs",
    "LogLevel": "workflow",
    "LiveUpdates": "live_updates",
    "LiveUpdatesArgs": "live_updates",
    "LiveUpdatesSpec": "live_updates",
    "Projection": "projection",
    "ProjectionArgs": "projection",
    "ProjectionSpec": "event_sourced_service",
    "ProjectionType": "retained_table",
    "PublisherKind": "event_publisher",
    "PublisherSpec": "event_publisher",
    "RetainedTable": "retained_table",
    "RetainedTableArgs": "retained_table",
    "ScheduleSpec": "workflow",
    "ServiceDefaults": "defaults",
    "SharedEventBus": "shared_event_bus",
    "SharedEventBusArgs": "shared_event_bus",
    "SsoKind": "sso",
    "SsoSpec": "sso",
    "StartingPosition": "event_publisher",
    "StreamViewType": "retained_table",
    "Subscription": "subscription",
    "SubscriptionArgs": "subscription",
    "SubscriptionSpec": "event_sourced_service",
    "TableRef": "refs",
    "Workflow": "workflow",
    "WorkflowArgs": "workflow",
    "WorkflowSpec": "event_sourced_service",
    "sso_from_config": "sso",
}

__all__ = [
    "ApiDestination",
    "ApiDestinationArgs",
    "ApiKeyAuth",
    "BasicAuth",
    "ConnectionAuth",
    "HttpDestinationSpec",
    "MessageSpec",
    "OAuthClientCredentialsAuth",
    "APPEND_ONLY_DENIED_ACTIONS",
    "IDENTITY_CLAIM_ENV",
    "PIPE_INPUT_TEMPLATE",
    "PUBLISHER_FILTER_PATTERN",
    "SCHEDULED_TIME",
    "SSO_IDENTITY_CLAIM",
    "UNSCOPED_ACTIONS",
    "UNSCOPED_SID_PREFIX",
    "USER_POOL_IDENTITY_CLAIM",
    "AlarmTopic",
    "AlarmTopicArgs",
    "ApiSpec",
    "AttributeType",
    "BackupLifecycle",
    "BackupPlan",
    "BackupVaultRef",
    "DeliverySpec",
    "EventBackup",
    "EventBackupArgs",
    "EventBusRef",
    "EventPublisher",
    "EventPublisherArgs",
    "EventSourcedService",
    "EventSourcedServiceArgs",
    "EventStart",
    "EventStop",
    "FunctionSpec",
    "GlobalSecondaryIndex",
    "HttpApi",
    "HttpApiArgs",
    "JwtAuthorizerSpec",
    "JwtIssuerRef",
    "KmsKeyRef",
    "LogLevel",
    "LiveUpdates",
    "LiveUpdatesArgs",
    "LiveUpdatesSpec",
    "Projection",
    "ProjectionArgs",
    "ProjectionSpec",
    "ProjectionType",
    "PublisherKind",
    "PublisherSpec",
    "RetainedTable",
    "RetainedTableArgs",
    "ScheduleSpec",
    "ServiceDefaults",
    "SharedEventBus",
    "SharedEventBusArgs",
    "SsoKind",
    "SsoSpec",
    "StartingPosition",
    "StreamViewType",
    "Subscription",
    "SubscriptionArgs",
    "SubscriptionSpec",
    "TableRef",
    "Workflow",
    "WorkflowArgs",
    "WorkflowSpec",
    "sso_from_config",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
