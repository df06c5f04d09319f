"""Rules on IAM: wildcards, readable policies, one role per function, no public resource policies.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._policy_core import Violation
from ._policy_iam import is_unscoped_resource
from ._policy_view import (
    FUNCTION,
    MANAGED_POLICY,
    ROLE,
    StackView,
)
from .harness import RecordedStack

#: Actions that AWS does not let a policy scope to a resource (the Service Authorization
#: Reference lists no resource type for them), so `"Resource": "*"` is their only form.
UNSCOPABLE_ACTIONS: frozenset[str] = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
        "dynamodb:ListStreams",
        "cloudwatch:PutMetricData",
        "ec2:DescribeNetworkInterfaces",
        "sts:GetCallerIdentity",
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


#: AWS managed policies accepted without reading them (their documents are not in the
#: stack): narrow, service-maintained policies with nothing to scope.
TRUSTED_MANAGED_POLICIES: frozenset[str] = frozenset(
    {
        "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    }
)


@dataclass(frozen=True)
class NoWildcardActions:
    id: ClassVar[str] = "IAM001"
    title: ClassVar[str] = "Allow statements name their actions in full"
    rationale: ClassVar[str] = (
        "`*`, `svc:*` and `svc:Get*` grant actions nobody reviewed, including ones AWS adds later; "
        "`NotAction` in an Allow grants everything else. Deny statements may use wildcards."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many policy documents the rule examined."""
        view = StackView.of(stack)
        return len(view.identity_documents) + len(view.resource_documents)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for doc in view.identity_documents + view.resource_documents:
            for s in doc.statements:
                if not s.allow:
                    continue
                if s.not_actions is not None:
                    message = f"{doc.where}: {s.label} allows NotAction {list(s.not_actions)}, i.e. every other action"
                    out.append(Violation.of(self.id, doc.source, message))
                wild = [a for a in s.actions if "*" in a or "?" in a]
                if wild:
                    out.append(Violation.of(self.id, doc.source, f"{doc.where}: {s.label} allows wildcard actions {wild}"))
        return out


@dataclass(frozen=True)
class NoWildcardResources:
    unscopable_actions: frozenset[str] = UNSCOPABLE_ACTIONS

    id: ClassVar[str] = "IAM002"
    title: ClassVar[str] = "No `*` resource for actions that can be scoped"
    rationale: ClassVar[str] = (
        "A role should reach only the resources it needs. `*` (or `table/*`, or NotResource) is "
        "allowed only for actions AWS cannot scope to a resource (UNSCOPABLE_ACTIONS)."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many identity policy documents the rule examined."""
        return len(StackView.of(stack).identity_documents)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        allowed = {a.lower() for a in self.unscopable_actions}
        out = []
        for doc in view.identity_documents:
            for s in doc.statements:
                if not s.allow:
                    continue
                if s.not_resources is not None:
                    message = f"{doc.where}: {s.label} allows NotResource {list(s.not_resources)}, i.e. every other resource"
                    out.append(Violation.of(self.id, doc.source, message))
                    continue
                unscoped = [r for r in s.resources if is_unscoped_resource(r)]
                scopable = [a for a in s.actions if a.lower() not in allowed]
                if s.not_actions is not None:
                    scopable.append(f"NotAction {list(s.not_actions)}")
                if unscoped and scopable:
                    message = f"{doc.where}: {s.label} allows {scopable} on {unscoped}; these actions can be scoped to ARNs"
                    out.append(Violation.of(self.id, doc.source, message))
        return out


@dataclass(frozen=True)
class PoliciesReadable:
    trusted_managed_policies: frozenset[str] = TRUSTED_MANAGED_POLICIES

    id: ClassVar[str] = "IAM003"
    title: ClassVar[str] = "Every policy that grants access can be read and checked"
    rationale: ClassVar[str] = (
        "A check is only as good as what it sees: documents must be valid IAM JSON, and attached "
        "managed policies must be declared in the stack or be one of the trusted AWS policies. "
        "AWSLambdaBasicExecutionRole, for one, grants logs writes on `*`; write a scoped policy instead."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many policy documents and attachments the rule examined."""
        view = StackView.of(stack)
        return len(view.identity_documents) + len(view.resource_documents) + len(view.attached_policy_arns())

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = [
            Violation.of(self.id, d.source, f"{d.where} cannot be read: {d.error}")
            for d in view.identity_documents + view.resource_documents
            if d.error
        ]
        declared = {p.state.get("arn") for p in view.of_type(MANAGED_POLICY)}
        for source, arn in view.attached_policy_arns():
            if arn not in declared and arn not in self.trusted_managed_policies:
                message = f"attaches {arn}, which is not declared in this stack and not trusted; its grants cannot be checked"
                out.append(Violation.of(self.id, source, message))
        return out


@dataclass(frozen=True)
class OneRolePerFunction:
    id: ClassVar[str] = "IAM004"
    title: ClassVar[str] = "Each function has its own role, and every role is used"
    rationale: ClassVar[str] = (
        "A shared role gives every function the union of their permissions; an unused role is "
        "standing access nobody needs. Roles must be declared in the stack so they can be checked."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many functions and roles the rule examined."""
        return len(StackView.of(stack).of_type(FUNCTION)) + len(StackView.of(stack).of_type(ROLE))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for fn in view.of_type(FUNCTION):
            if view.function_role(fn) is None:
                out.append(Violation.of(self.id, fn, f"role {fn.inputs.get('role')!r} is not a role declared in this stack"))
        for role in view.of_type(ROLE):
            users = view.role_users[role.urn]
            functions = [u for u in users if u.type == FUNCTION]
            if not users:
                out.append(Violation.of(self.id, role, "no resource uses this role"))
            elif len(functions) > 1:
                out.append(Violation.of(self.id, role, f"shared by functions {sorted(f.name for f in functions)}"))
            elif functions and len(users) > 1:
                others = sorted(f"{u.name} ({u.type})" for u in users if u.type != FUNCTION)
                out.append(Violation.of(self.id, role, f"function {functions[0].name!r} shares it with {others}"))
        return out


@dataclass(frozen=True)
class NoPublicResourcePolicies:
    id: ClassVar[str] = "RES001"
    title: ClassVar[str] = "No resource policy allows `*` principals without a scoping condition"
    rationale: ClassVar[str] = (
        'An Allow to `Principal: "*"` (or any NotPrincipal) opens a queue, bus, table or role to every '
        "AWS account unless a condition narrows it (aws:PrincipalOrgID, aws:SourceArn, "
        "aws:SourceAccount, ...). Deny statements to `*` are how guard rails are written and are fine."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many resource and trust policies the rule examined."""
        return len(StackView.of(stack).resource_documents)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        return [
            Violation.of(
                self.id,
                d.source,
                f"{d.where}: {s.label} allows {list(s.actions or s.not_actions or ())} to any principal "
                "without a condition on the caller's account, organisation or source",
            )
            for d in view.resource_documents
            for s in d.statements
            if s.allow and s.public_principal and not s.principal_scoped_by_condition
        ]
