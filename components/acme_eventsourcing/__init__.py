"""Event-sourced serverless services on AWS, with Pulumi and Python.

    from acme_eventsourcing import EventSourcedService, SharedEventBus, RetainedTable

- the Pulumi components (this module's names, from `event_sourced_service`, `retained_table`,
  `shared_event_bus`): imported on first use, so `import acme_eventsourcing.runtime` in a
  Lambda function never loads pulumi;
- `acme_eventsourcing.runtime`: the code that runs in Lambda (stdlib and boto3 only);
- `acme_eventsourcing.testing`: the mocks harness and the policy rules.

See docs/components.md for each component's arguments, defaults and outputs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, for type checkers; at run time __getattr__ imports them
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

#: Where each public name lives (the module is imported when the name is first used).
_HOMES: dict[str, str] = {
    "APPEND_ONLY_DENIED_ACTIONS": "retained_table",
    "IDENTITY_CLAIM_ENV": "event_sourced_service",
    "PIPE_INPUT_TEMPLATE": "event_sourced_service",
    "PUBLISHER_FILTER_PATTERN": "event_sourced_service",
    "UNSCOPED_ACTIONS": "_iam",
    "UNSCOPED_SID_PREFIX": "_iam",
    "USER_POOL_IDENTITY_CLAIM": "event_sourced_service",
    "ApiSpec": "event_sourced_service",
    "BackupPlan": "retained_table",
    "DeliverySpec": "event_sourced_service",
    "EventBusLike": "event_sourced_service",
    "EventBusRef": "event_sourced_service",
    "EventSourcedService": "event_sourced_service",
    "EventSourcedServiceArgs": "event_sourced_service",
    "FunctionSpec": "event_sourced_service",
    "GlobalSecondaryIndex": "retained_table",
    "JwtAuthorizerSpec": "event_sourced_service",
    "ProjectionSpec": "event_sourced_service",
    "PublisherSpec": "event_sourced_service",
    "RetainedTable": "retained_table",
    "RetainedTableArgs": "retained_table",
    "SharedEventBus": "shared_event_bus",
    "SharedEventBusArgs": "shared_event_bus",
    "SubscriptionSpec": "event_sourced_service",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
