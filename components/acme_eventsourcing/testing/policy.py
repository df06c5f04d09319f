"""Policy rules for stacks built with our components (and any Pulumi AWS stack).

Record a program with `record` or `run_program`, then check it::

    from acme_eventsourcing.testing import run_program
    from acme_eventsourcing.testing.policy import Exemption, check_stack

    report = check_stack(run_program("__main__.py", "dev"),
                         exemptions=[Exemption("IAM002", "legacy-role", "vendor agent; ticket OPS-12")])
    assert report.ok, report.render()

`DEFAULT_RULES` is the rule set (docs/policy.md has the table). Select rules by filtering
it, change a rule's parameters with `replace_rules(DEFAULT_RULES, RoutesAuthorized(
public_routes=...))`, or add your own: any object with `id`, `title`, `rationale` and
`check(stack) -> list[Violation]` is a rule.
"""

from __future__ import annotations

from ._policy_core import UNUSED_EXEMPTION, Exemption, PolicyReport, Rule, RuleResult, Violation, replace_rules, run_rules
from ._policy_iam import Statement, action_matches, parse_document, resource_matches
from ._policy_rules import (
    COGNITO_STANDARD_ATTRIBUTES,
    DEFAULT_RULES,
    EVENTS_TABLE_FORBIDDEN_ACTIONS,
    FEDERATED_AUTH_FLOWS,
    IDENTITY_CLAIM_VARIABLE,
    PUBLIC_ROUTES,
    TRUSTED_MANAGED_POLICIES,
    UNSCOPABLE_ACTIONS,
    ClientsCannotWriteIdentity,
    CustomerManagedKeys,
    DeadLetterQueueAlarms,
    EventsTableAppendOnly,
    EventsTableDurable,
    FederatedPoolsHaveNoPasswords,
    FunctionErrorAlarms,
    FunctionsConfigured,
    FunctionsHaveLogGroups,
    IdentityAttributesImmutable,
    IdentityMappedFromIdp,
    IdpSecretsEncrypted,
    KeysManagedAndRotated,
    LogGroupsRetained,
    MappingsHandleFailures,
    NoPublicResourcePolicies,
    NoWildcardActions,
    NoWildcardResources,
    OAuthCodeFlowOnly,
    OneRolePerFunction,
    PermissionsScopedBySource,
    PoliciesReadable,
    PublisherLimitedToItsSource,
    QueuesEncrypted,
    QueuesRequireTls,
    RedirectUrlsSecure,
    RoutesAuthorized,
    StagesThrottledAndLogged,
    StreamIteratorAgeAlarms,
    TablesEncrypted,
    TargetsHandleFailures,
    check_stack,
)
from ._policy_view import EVENT_STORE_TAG, StackView

__all__ = [
    "COGNITO_STANDARD_ATTRIBUTES",
    "DEFAULT_RULES",
    "EVENTS_TABLE_FORBIDDEN_ACTIONS",
    "EVENT_STORE_TAG",
    "FEDERATED_AUTH_FLOWS",
    "IDENTITY_CLAIM_VARIABLE",
    "PUBLIC_ROUTES",
    "TRUSTED_MANAGED_POLICIES",
    "UNSCOPABLE_ACTIONS",
    "UNUSED_EXEMPTION",
    "ClientsCannotWriteIdentity",
    "CustomerManagedKeys",
    "DeadLetterQueueAlarms",
    "EventsTableAppendOnly",
    "EventsTableDurable",
    "Exemption",
    "FederatedPoolsHaveNoPasswords",
    "FunctionErrorAlarms",
    "FunctionsConfigured",
    "FunctionsHaveLogGroups",
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
    "PermissionsScopedBySource",
    "PoliciesReadable",
    "PolicyReport",
    "PublisherLimitedToItsSource",
    "QueuesEncrypted",
    "QueuesRequireTls",
    "RedirectUrlsSecure",
    "RoutesAuthorized",
    "Rule",
    "RuleResult",
    "StackView",
    "StagesThrottledAndLogged",
    "Statement",
    "StreamIteratorAgeAlarms",
    "TablesEncrypted",
    "TargetsHandleFailures",
    "Violation",
    "action_matches",
    "check_stack",
    "run_rules",
    "parse_document",
    "replace_rules",
    "resource_matches",
]
