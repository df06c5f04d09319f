"""The default rule set: least privilege, an append-only event store, no lost failures.

The rules live in one module per concern (`_rules_iam`, `_rules_tables`, `_rules_events`,
`_rules_queues`, `_rules_logs`, `_rules_api`, `_rules_kms`, `_rules_cognito`,
`_rules_observability`, `_rules_websocket`, `_rules_s3`, `_rules_firehose`, `_rules_sfn`, `_rules_scheduler`,
`_rules_api_destinations`), each
reading the stack through the shared `StackView`; this module assembles them into
`DEFAULT_RULES`, in report order, and the whole-system rules of `_rules_system` into
`SYSTEM_RULES`. No rule module imports another.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ._policy_core import Exemption, PolicyReport, Rule, SystemRule, run_rules, run_system_rules
from ._rules_api import (
    PUBLIC_ROUTES,
    PermissionsScopedBySource,
    PublicFunctionsHoldNoSecrets,
    RoutesAuthorized,
    StagesThrottledAndLogged,
)
from ._rules_api_destinations import (
    ConnectionSecretsNotPlain,
    DestinationRolesScoped,
    DestinationsRateLimited,
    DestinationTargetsHandleFailures,
)
from ._rules_cognito import (
    COGNITO_STANDARD_ATTRIBUTES,
    FEDERATED_AUTH_FLOWS,
    IDENTITY_CLAIM_VARIABLE,
    ClientsCannotWriteIdentity,
    FederatedPoolsHaveNoPasswords,
    IdentityAttributesImmutable,
    IdentityMappedFromIdp,
    IdpSecretsEncrypted,
    OAuthCodeFlowOnly,
    RedirectUrlsSecure,
)
from ._rules_events import (
    EventSchemasDescribeTheirEvents,
    MappingsHandleFailures,
    PublisherLimitedToItsSource,
    TargetsHandleFailures,
)
from ._rules_firehose import (
    DeliveryStreamRolesScoped,
    DeliveryStreamsEncrypted,
    DeliveryStreamsKeepFailures,
    DeliveryStreamsLogged,
)
from ._rules_iam import (
    TRUSTED_MANAGED_POLICIES,
    UNSCOPABLE_ACTIONS,
    NoPublicResourcePolicies,
    NoWildcardActions,
    NoWildcardResources,
    OneRolePerFunction,
    PoliciesReadable,
)
from ._rules_kms import (
    CustomerManagedKeys,
    KeysManagedAndRotated,
)
from ._rules_logs import (
    FunctionsHaveLogGroups,
    LogGroupsRetained,
)
from ._rules_observability import (
    DeadLetterQueueAlarms,
    FunctionErrorAlarms,
    FunctionsConfigured,
    StreamIteratorAgeAlarms,
)
from ._rules_queues import (
    QueuesEncrypted,
    QueuesRequireTls,
)
from ._rules_s3 import (
    BucketOwnerEnforced,
    BucketsAccessLogged,
    BucketsBlockPublicAccess,
    BucketsEncrypted,
    BucketsHaveLifecycle,
    BucketsRequireTls,
    BucketsVersioned,
    DataBucketsRetained,
)
from ._rules_scheduler import (
    START_ACTIONS,
    CronSchedulesZoned,
    ScheduleRolesScoped,
    SchedulesHandleFailures,
)
from ._rules_sfn import (
    WORKFLOW_FAILURE_METRICS,
    StateMachineFailureAlarms,
    StateMachineRolesScoped,
    StateMachinesLogged,
    StateMachinesTraced,
)
from ._rules_system import (
    STREAM_RETENTION_SECONDS,
    FailuresCaught,
    StreamConsumersWithinRetention,
    StreamReadersLimited,
)
from ._rules_tables import (
    EVENTS_TABLE_FORBIDDEN_ACTIONS,
    EventsTableAppendOnly,
    EventsTableDurable,
    TablesEncrypted,
)
from ._rules_websocket import (
    CONNECTIONS_TABLE_VARIABLE,
    ConnectAuthorized,
    ConnectionsTablesExpireAndEncrypt,
    ManageConnectionsScoped,
    WebSocketStagesLoggedAndThrottled,
)
from .harness import RecordedStack

#: Every rule with its default parameters, in report order.
DEFAULT_RULES: tuple[Rule, ...] = (
    NoWildcardActions(),
    NoWildcardResources(),
    PoliciesReadable(),
    OneRolePerFunction(),
    NoPublicResourcePolicies(),
    EventsTableAppendOnly(),
    EventsTableDurable(),
    TablesEncrypted(),
    CustomerManagedKeys(),
    KeysManagedAndRotated(),
    PublisherLimitedToItsSource(),
    MappingsHandleFailures(),
    TargetsHandleFailures(),
    EventSchemasDescribeTheirEvents(),
    QueuesEncrypted(),
    QueuesRequireTls(),
    LogGroupsRetained(),
    FunctionsHaveLogGroups(),
    PermissionsScopedBySource(),
    RoutesAuthorized(),
    StagesThrottledAndLogged(),
    ConnectAuthorized(),
    WebSocketStagesLoggedAndThrottled(),
    ManageConnectionsScoped(),
    ConnectionsTablesExpireAndEncrypt(),
    PublicFunctionsHoldNoSecrets(),
    ClientsCannotWriteIdentity(),
    IdentityAttributesImmutable(),
    OAuthCodeFlowOnly(),
    RedirectUrlsSecure(),
    FederatedPoolsHaveNoPasswords(),
    IdentityMappedFromIdp(),
    IdpSecretsEncrypted(),
    FunctionsConfigured(),
    FunctionErrorAlarms(),
    DeadLetterQueueAlarms(),
    StreamIteratorAgeAlarms(),
    BucketsVersioned(),
    BucketsEncrypted(),
    BucketsBlockPublicAccess(),
    BucketsRequireTls(),
    BucketsAccessLogged(),
    BucketsHaveLifecycle(),
    DataBucketsRetained(),
    BucketOwnerEnforced(),
    DeliveryStreamsEncrypted(),
    DeliveryStreamsKeepFailures(),
    DeliveryStreamsLogged(),
    DeliveryStreamRolesScoped(),
    StateMachinesLogged(),
    StateMachinesTraced(),
    StateMachineFailureAlarms(),
    StateMachineRolesScoped(),
    SchedulesHandleFailures(),
    ScheduleRolesScoped(),
    CronSchedulesZoned(),
    DestinationTargetsHandleFailures(),
    DestinationsRateLimited(),
    ConnectionSecretsNotPlain(),
    DestinationRolesScoped(),
)

#: The whole-system rules `check_system` runs by default, in report order.
SYSTEM_RULES: tuple[SystemRule, ...] = (
    StreamReadersLimited(),
    StreamConsumersWithinRetention(),
    FailuresCaught(),
)


def check_stack(stack: RecordedStack, rules: Sequence[Rule] | None = None, exemptions: Iterable[Exemption] = ()) -> PolicyReport:
    """Run `rules` (default: `DEFAULT_RULES`) over `stack` and apply `exemptions`."""
    return run_rules(stack, DEFAULT_RULES if rules is None else rules, exemptions)


def check_system(
    stacks: Sequence[RecordedStack], rules: Sequence[SystemRule] | None = None, exemptions: Iterable[Exemption] = ()
) -> PolicyReport:
    """Run whole-system `rules` (default: `SYSTEM_RULES`) over every program of a system at
    once, e.g. `[platform, service_a, service_b]` recorded with `run_program`, and apply
    `exemptions` (`Exemption(..., program="project/stack")` to name one program's resource).

    Programs match each other's resources by the values they recorded: record the platform
    first and pass its `outputs` as the services' `stack_references`, so that the ARNs a
    service reads are the ones the platform's resources have. The report names each
    violation's program. It does not run the per-stack rules: run `check_stack` on each
    program as well."""
    return run_system_rules(stacks, SYSTEM_RULES if rules is None else rules, exemptions)


__all__ = [
    "check_stack",
    "check_system",
    "DestinationTargetsHandleFailures",
    "DestinationsRateLimited",
    "ConnectionSecretsNotPlain",
    "DestinationRolesScoped",
    "BucketOwnerEnforced",
    "BucketsAccessLogged",
    "BucketsBlockPublicAccess",
    "BucketsEncrypted",
    "BucketsHaveLifecycle",
    "BucketsRequireTls",
    "BucketsVersioned",
    "CronSchedulesZoned",
    "DataBucketsRetained",
    "DeliveryStreamRolesScoped",
    "DeliveryStreamsEncrypted",
    "DeliveryStreamsKeepFailures",
    "DeliveryStreamsLogged",
    "FailuresCaught",
    "START_ACTIONS",
    "STREAM_RETENTION_SECONDS",
    "SYSTEM_RULES",
    "ScheduleRolesScoped",
    "SchedulesHandleFailures",
    "StateMachineFailureAlarms",
    "StateMachineRolesScoped",
    "StateMachinesLogged",
    "StateMachinesTraced",
    "StreamConsumersWithinRetention",
    "StreamReadersLimited",
    "WORKFLOW_FAILURE_METRICS",
    "COGNITO_STANDARD_ATTRIBUTES",
    "ClientsCannotWriteIdentity",
    "CustomerManagedKeys",
    "DEFAULT_RULES",
    "DeadLetterQueueAlarms",
    "EVENTS_TABLE_FORBIDDEN_ACTIONS",
    "EventsTableAppendOnly",
    "EventsTableDurable",
    "FEDERATED_AUTH_FLOWS",
    "FederatedPoolsHaveNoPasswords",
    "FunctionErrorAlarms",
    "FunctionsConfigured",
    "FunctionsHaveLogGroups",
    "IDENTITY_CLAIM_VARIABLE",
    "IdentityAttributesImmutable",
    "IdentityMappedFromIdp",
    "IdpSecretsEncrypted",
    "KeysManagedAndRotated",
    "LogGroupsRetained",
    "MappingsHandleFailures",
    "NoPublicResourcePolicies",
    "NoWildcardActions",
    "NoWildcardResources",
    "OAuthCodeFlowOnly",
    "OneRolePerFunction",
    "PUBLIC_ROUTES",
    "PermissionsScopedBySource",
    "PoliciesReadable",
    "PublisherLimitedToItsSource",
    "QueuesEncrypted",
    "QueuesRequireTls",
    "RedirectUrlsSecure",
    "PublicFunctionsHoldNoSecrets",
    "RoutesAuthorized",
    "StagesThrottledAndLogged",
    "CONNECTIONS_TABLE_VARIABLE",
    "ConnectAuthorized",
    "ConnectionsTablesExpireAndEncrypt",
    "ManageConnectionsScoped",
    "WebSocketStagesLoggedAndThrottled",
    "StreamIteratorAgeAlarms",
    "TRUSTED_MANAGED_POLICIES",
    "TablesEncrypted",
    "EventSchemasDescribeTheirEvents",
    "TargetsHandleFailures",
    "UNSCOPABLE_ACTIONS",
]
