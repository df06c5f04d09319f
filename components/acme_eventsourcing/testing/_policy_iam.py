"""IAM policy documents as data: parse the JSON a stack declares and ask what it grants.

Matching follows IAM: action names are case-insensitive, `*` and `?` are wildcards in
actions and resources, `NotAction`/`NotResource` invert the match. Conditions are kept as
written; the rules that care about them read them directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

#: Condition keys that narrow a `*` principal to an account, organisation, source or network.
PRINCIPAL_SCOPING_KEYS: frozenset[str] = frozenset(
    {
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:sourcevpc",
        "aws:sourcevpce",
    }
)


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
        # CloudWatch Logs' log delivery (vended logs: Step Functions, Pipes, API Gateway logging)
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


class PolicyParseError(ValueError):
    """A policy document that is not IAM JSON."""


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


@lru_cache(maxsize=4096)
def _glob(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if case_insensitive else re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """Whether an IAM action pattern (`dynamodb:*`, `dynamodb:Get*`) covers `action`."""
    return _glob(pattern, True).fullmatch(action) is not None


def resource_matches(pattern: str, arn: str) -> bool:
    """Whether an IAM resource pattern covers `arn` (case-sensitive, `*`/`?` wildcards)."""
    return _glob(pattern, False).fullmatch(arn) is not None


def is_unscoped_resource(resource: str) -> bool:
    """`*`, or an ARN naming every resource of a type (`table/*`) or any account. An S3
    ARN's resource part starts with the bucket name, so `arn:aws:s3:::backup/*` (the
    objects of one bucket) is scoped, `arn:aws:s3:::*` or `arn:aws:s3:::back*/x` is not."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return False
    if "*" in parts[4]:
        return True
    if parts[2] == "s3":
        return any(c in parts[5].split("/", 1)[0] for c in "*?")
    return re.fullmatch(r"\*|[A-Za-z0-9_.-]+[/:]\*", parts[5]) is not None


def _is_star(value: Any) -> bool:
    return any(v == "*" for v in _as_tuple(value))


@dataclass(frozen=True)
class Statement:
    """One statement of a policy document, normalised to tuples."""

    effect: str
    sid: str = ""
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    principal: Any = None
    not_principal: Any = None
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def allow(self) -> bool:
        return self.effect == "Allow"

    @property
    def label(self) -> str:
        """How a message names this statement."""
        return f"statement {self.sid!r}" if self.sid else "a statement without Sid"

    def grants_action(self, action: str) -> bool:
        """Whether the statement's action element covers `action`."""
        if self.not_actions is not None:
            return not any(action_matches(p, action) for p in self.not_actions)
        return any(action_matches(p, action) for p in self.actions)

    def covers_resource(self, arn: str) -> bool:
        """Whether the statement's resource element covers `arn`."""
        if self.not_resources is not None:
            return not any(resource_matches(p, arn) for p in self.not_resources)
        return any(resource_matches(p, arn) for p in self.resources)

    def allows(self, action: str, arn: str) -> bool:
        return self.allow and self.grants_action(action) and self.covers_resource(arn)

    @property
    def everyone(self) -> bool:
        """`Principal: "*"` or `{"AWS": "*"}`: every principal of every account."""
        if self.not_principal is not None:
            return False
        if isinstance(self.principal, Mapping):
            return _is_star(self.principal.get("AWS"))
        return _is_star(self.principal)

    @property
    def public_principal(self) -> bool:
        """Everyone, or everyone but some (`NotPrincipal`)."""
        return self.everyone or self.not_principal is not None

    def condition_values(self, operator: str, key: str) -> tuple[Any, ...] | None:
        """Values of `key` under `operator` (both case-insensitive), None if absent."""
        for op, entries in self.condition.items():
            if op.lower() != operator.lower() or not isinstance(entries, Mapping):
                continue
            for k, v in entries.items():
                if k.lower() == key.lower():
                    return _as_tuple(v)
        return None

    def condition_keys(self) -> set[str]:
        """Every condition key (lower case), whatever its operator."""
        return {k.lower() for entries in self.condition.values() if isinstance(entries, Mapping) for k in entries}

    @property
    def principal_scoped_by_condition(self) -> bool:
        return bool(self.condition_keys() & PRINCIPAL_SCOPING_KEYS)


def _statement(raw: Any) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyParseError(f"a statement must be an object, got {type(raw).__name__}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyParseError(f"statement Effect must be Allow or Deny, got {effect!r}")
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyParseError("a statement needs exactly one of Action and NotAction")
    condition = raw.get("Condition") or {}
    if not isinstance(condition, Mapping):
        raise PolicyParseError("Condition must be an object")
    return Statement(
        effect=effect,
        sid=str(raw.get("Sid", "")),
        actions=tuple(str(a) for a in _as_tuple(raw.get("Action"))),
        not_actions=tuple(str(a) for a in _as_tuple(raw["NotAction"])) if "NotAction" in raw else None,
        resources=tuple(str(r) for r in _as_tuple(raw.get("Resource"))),
        not_resources=tuple(str(r) for r in _as_tuple(raw["NotResource"])) if "NotResource" in raw else None,
        principal=raw.get("Principal"),
        not_principal=raw.get("NotPrincipal"),
        condition=condition,
    )


def parse_document(document: Any) -> tuple[Statement, ...]:
    """The statements of a policy given as JSON text (as resources take it) or a dict."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise PolicyParseError(f"not JSON: {exc}") from exc
    if not isinstance(document, Mapping) or "Statement" not in document:
        raise PolicyParseError("a policy document is an object with a Statement")
    return tuple(_statement(s) for s in _as_tuple(document["Statement"]))
