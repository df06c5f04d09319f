"""The default rule set: least privilege, an append-only event store, no lost failures.

The rules live in one module per concern (`_rules_iam`, `_rules_tables`, `_rules_events`,
`_rules_queues`, `_rules_logs`, `_rules_api`, `_rules_kms`, `_rules_cognito`,
`_rules_observability`), each reading the stack through the shared `StackView`; this module
assembles them into `DEFAULT_RULES`, in report order. No rule module imports another.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ._policy_core import Exemption, PolicyReport, Rule, run_rules
from ._rules_api import (
    PUBLIC_ROUTES,
    PermissionsScopedBySource,
    RoutesAuthorized,
    StagesThrottledAndLogged,
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
    MappingsHandleFailures,
    PublisherLimitedToItsSource,
    TargetsHandleFailures,
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
from ._rules_tables import (
    EVENTS_TABLE_FORBIDDEN_ACTIONS,
    EventsTableAppendOnly,
    EventsTableDurable,
    TablesEncrypted,
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
    QueuesEncrypted(),
    QueuesRequireTls(),
    LogGroupsRetained(),
    FunctionsHaveLogGroups(),
    PermissionsScopedBySource(),
    RoutesAuthorized(),
    StagesThrottledAndLogged(),
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
)


def check_stack(stack: RecordedStack, rules: Sequence[Rule] | None = None, exemptions: Iterable[Exemption] = ()) -> PolicyReport:
    """Run `rules` (default: `DEFAULT_RULES`) over `stack` and apply `exemptions`."""
    return run_rules(stack, DEFAULT_RULES if rules is None else rules, exemptions)


__all__ = [
    "check_stack",
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
    "RoutesAuthorized",
    "StagesThrottledAndLogged",
    "StreamIteratorAgeAlarms",
    "TRUSTED_MANAGED_POLICIES",
    "TablesEncrypted",
    "TargetsHandleFailures",
    "UNSCOPABLE_ACTIONS",
]
