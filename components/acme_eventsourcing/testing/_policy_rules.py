"""The default rule set: least privilege, an append-only event store, no lost failures.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are the rule's parameters (with the defaults `DEFAULT_RULES` uses), and
`check(stack)` returns one `Violation` per offending resource and reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ._policy_core import Rule, Violation
from ._policy_iam import Statement, action_matches, is_unscoped_resource
from ._policy_view import (
    API,
    AUTHORIZER,
    FUNCTION,
    INTEGRATION,
    KMS_KEY,
    LOG_GROUP,
    MAPPING,
    PERMISSION,
    PIPE,
    QUEUE,
    ROLE,
    ROUTE,
    STAGE,
    TABLE,
    TARGET,
    USER_POOL,
    USER_POOL_CLIENT,
    StackView,
    get,
)
from .harness import RecordedResource, RecordedStack

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

#: Item writes that change or remove what is stored. `BatchWriteItem` is its own IAM
#: action (its delete requests are not authorised as DeleteItem), so it is listed too.
#: Appends go through PutItem (TransactWriteItems puts are authorised as PutItem).
EVENTS_TABLE_FORBIDDEN_ACTIONS: tuple[str, ...] = (
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
)

#: Routes anyone may call (method and path as in the route key).
PUBLIC_ROUTES: frozenset[str] = frozenset({"GET /openapi.json"})

#: The environment variable through which a function names the JWT claim it takes the
#: caller's identity from (`EventSourcedService` sets it on the API functions).
IDENTITY_CLAIM_VARIABLE = "IDENTITY_CLAIM"
#: Cognito's standard user attributes (a user may change them unless they are immutable and
#: no app client may write them); `custom:<name>` attributes come on top.
COGNITO_STANDARD_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "address",
        "birthdate",
        "email",
        "family_name",
        "gender",
        "given_name",
        "locale",
        "middle_name",
        "name",
        "nickname",
        "phone_number",
        "picture",
        "preferred_username",
        "profile",
        "website",
        "zoneinfo",
    }
)

_STREAM_SERVICES = ("dynamodb", "kinesis")
#: How ESM001 names the settings of a mapping and of a pipe: destination, retries, age, bisect.
_MAPPING_SETTINGS = (
    "destination_config.on_failure",
    "maximum_retry_attempts",
    "maximum_record_age_in_seconds",
    "bisect_batch_on_function_error",
)
_PIPE_SETTINGS = (
    "dead_letter_config",
    "maximum_retry_attempts",
    "maximum_record_age_in_seconds",
    "on_partial_batch_item_failure=AUTOMATIC_BISECT",
)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _arn_service(arn: Any) -> str:
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[2] if len(parts) > 2 and parts[0] == "arn" else ""


# -- IAM ------------------------------------------------------------------------------------


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
        view = StackView(stack)
        return len(view.identity_documents) + len(view.resource_documents)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
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
        return len(StackView(stack).identity_documents)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
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
        view = StackView(stack)
        return len(view.identity_documents) + len(view.resource_documents) + len(view.attached_policy_arns())

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        out = [
            Violation.of(self.id, d.source, f"{d.where} cannot be read: {d.error}")
            for d in view.identity_documents + view.resource_documents
            if d.error
        ]
        declared = {p.state.get("arn") for p in view.of_type("aws:iam/policy:Policy")}
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
        return len(stack.of_type(FUNCTION)) + len(stack.of_type(ROLE))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
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
        return len(StackView(stack).resource_documents)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
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


# -- the event store --------------------------------------------------------------------------


@dataclass(frozen=True)
class EventsTableAppendOnly:
    forbidden_actions: tuple[str, ...] = EVENTS_TABLE_FORBIDDEN_ACTIONS

    id: ClassVar[str] = "DDB001"
    title: ClassVar[str] = "The Events table is append-only"
    rationale: ClassVar[str] = (
        "Events are the source of truth: no identity policy may allow changing or deleting items of "
        "an Events table (keys stream_id/version, or tag event-store=true), and the table's resource "
        "policy must deny those actions to every principal, so a later grant cannot undo it."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many Events tables the rule examined."""
        return len(StackView(stack).events_tables)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        tables = [(t, t.state.get("arn", "")) for t in view.events_tables]
        out = []
        for doc in view.identity_documents:
            for s in doc.statements:
                granted = [a for a in self.forbidden_actions if any(s.allows(a, arn) for _t, arn in tables)]
                if granted:
                    names = sorted(t.name for t, arn in tables if any(s.allows(a, arn) for a in granted))
                    message = f"{doc.where}: {s.label} allows {granted} on Events tables {names}"
                    out.append(Violation.of(self.id, doc.source, message))
        for table, arn in tables:
            denied = {
                a
                for d in view.table_policies(table)
                for s in d.statements
                if s.effect == "Deny" and s.everyone and not s.condition
                for a in self.forbidden_actions
                if s.grants_action(a) and s.covers_resource(arn)
            }
            missing = [a for a in self.forbidden_actions if a not in denied]
            if missing:
                message = f"no resource policy denies {missing} to every principal (unconditionally) on this Events table"
                out.append(Violation.of(self.id, table, message))
        return out


@dataclass(frozen=True)
class EventsTableDurable:
    id: ClassVar[str] = "DDB002"
    title: ClassVar[str] = "The Events table is protected, retained, recoverable and encrypted"
    rationale: ClassVar[str] = (
        "Losing the event store loses the system: point-in-time recovery, KMS encryption, "
        "deletion protection, and the Pulumi options protect and retain_on_delete."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many Events tables the rule examined."""
        return len(StackView(stack).events_tables)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        out = []
        for t in view.events_tables:
            missing = [
                what
                for what, ok in (
                    ("point_in_time_recovery.enabled", get(t.inputs, "pointInTimeRecovery", "enabled") is True),
                    ("server_side_encryption.enabled", get(t.inputs, "serverSideEncryption", "enabled") is True),
                    ("deletion_protection_enabled", t.inputs.get("deletionProtectionEnabled") is True),
                    ("option protect", t.options.get("protect") is True),
                    ("option retain_on_delete", t.options.get("retain_on_delete") is True),
                )
                if not ok
            ]
            if missing:
                out.append(Violation.of(self.id, t, f"Events table lacks {missing}"))
        return out


@dataclass(frozen=True)
class TablesEncrypted:
    id: ClassVar[str] = "DDB003"
    title: ClassVar[str] = "Every DynamoDB table is encrypted with KMS"
    rationale: ClassVar[str] = (
        "Read models hold the same personal data as the events. They can be rebuilt by replay, so "
        "PITR and retention are not required of them, but encryption is."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many tables the rule examined."""
        return len(stack.of_type(TABLE))

    def check(self, stack: RecordedStack) -> list[Violation]:
        return [
            Violation.of(self.id, t, "server_side_encryption.enabled is not true")
            for t in stack.of_type(TABLE)
            if get(t.inputs, "serverSideEncryption", "enabled") is not True
        ]


@dataclass(frozen=True)
class PublisherLimitedToItsSource:
    source_variables: tuple[str, ...] = ("EVENT_SOURCE", "SERVICE_SOURCE")

    id: ClassVar[str] = "EVT001"
    title: ClassVar[str] = "The publisher may put events on one bus, with its own source only"
    rationale: ClassVar[str] = (
        "The function (or pipe) reading an Events table's stream speaks for the service: its "
        "events:PutEvents must name exactly one bus ARN and carry a StringEquals events:source "
        "condition equal to the service's source (the function's EVENT_SOURCE variable), so it "
        "cannot impersonate another domain."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many publishers the rule examined."""
        return len(StackView(stack).publishers)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        out = []
        for reader, _table, fn in view.publishers:
            if reader.type == PIPE:
                role = view.find(ROLE, reader.inputs.get("roleArn"))
                source = get(reader.inputs, "targetParameters", "eventbridgeEventBusParameters", "source")
                subject = reader
            elif fn is not None:
                role = view.function_role(fn)
                variables = get(fn.inputs, "environment", "variables") or {}
                source = next((variables[v] for v in self.source_variables if variables.get(v)), None)
                subject = fn
            else:
                out.append(Violation.of(self.id, reader, "the publisher function of this mapping is not declared in this stack"))
                continue
            if role is None:
                out.append(Violation.of(self.id, subject, "the publisher's role is not declared in this stack"))
                continue
            out += self._check_role(view, subject, role, source)
        return out

    def _check_role(self, view: StackView, subject: RecordedResource, role: RecordedResource, source: Any) -> list[Violation]:
        puts = [(d, s) for d, s in view.role_statements(role) if s.allow and s.grants_action("events:PutEvents")]
        if not puts:
            return [Violation.of(self.id, subject, f"role {role.name!r} grants no events:PutEvents; the publisher cannot publish")]
        out = []
        buses: set[str] = set()
        for doc, s in puts:
            where = f"role {role.name!r} {doc.where}: {s.label}"
            wild = [r for r in s.resources if "*" in r or "?" in r]
            if s.not_resources is not None:
                wild.append(f"NotResource {list(s.not_resources)}")
            if wild:
                out.append(Violation.of(self.id, subject, f"{where} allows events:PutEvents on {wild}, not one bus"))
            buses.update(r for r in s.resources if ":event-bus/" in r)
            values = s.condition_values("StringEquals", "events:source")
            if values is None or len(values) != 1:
                message = f"{where} allows events:PutEvents without a single-valued StringEquals events:source condition"
                out.append(Violation.of(self.id, subject, message))
            elif source is not None and values[0] != source:
                message = f"{where} limits events:source to {values[0]!r}, not the service's source {source!r}"
                out.append(Violation.of(self.id, subject, message))
        if len(buses) > 1:
            out.append(Violation.of(self.id, subject, f"role {role.name!r} may put events on {len(buses)} buses {sorted(buses)}, not one"))
        return out


# -- delivery: nothing is lost silently ------------------------------------------------------------


@dataclass(frozen=True)
class MappingsHandleFailures:
    id: ClassVar[str] = "ESM001"
    title: ClassVar[str] = "Every event source mapping (and stream pipe) has an on-failure destination and bounded retries"
    rationale: ClassVar[str] = (
        "A stream mapping retries a failing batch until the records expire (-1 = forever), blocking "
        "its shard: set maximum_retry_attempts >= 0, maximum_record_age_in_seconds (not -1), "
        "bisect_batch_on_function_error and an on-failure destination. An SQS mapping needs a redrive "
        "policy on its source queue instead."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many mappings and stream pipes the rule examined."""
        return len(stack.of_type(MAPPING)) + sum(_arn_service(p.inputs.get("source")) in _STREAM_SERVICES for p in stack.of_type(PIPE))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        out = []
        for m in view.of_type(MAPPING):
            source = m.inputs.get("eventSourceArn")
            if _arn_service(source) == "sqs":
                queue = view.find(QUEUE, source)
                redrive = view.redrive_policy(queue) if queue else None
                if not get(redrive, "deadLetterTargetArn") or not _number(get(redrive, "maxReceiveCount")):
                    message = f"source queue {source!r} has no redrive policy (deadLetterTargetArn and maxReceiveCount) in this stack"
                    out.append(Violation.of(self.id, m, message))
                continue
            problems = self._stream_problems(
                destination=get(m.inputs, "destinationConfig", "onFailure", "destinationArn"),
                retries=m.inputs.get("maximumRetryAttempts"),
                age=m.inputs.get("maximumRecordAgeInSeconds"),
                bisect=m.inputs.get("bisectBatchOnFunctionError") is True,
                names=_MAPPING_SETTINGS,
            )
            if problems:
                out.append(Violation.of(self.id, m, "; ".join(problems)))
        for p in view.of_type(PIPE):
            if _arn_service(p.inputs.get("source")) not in _STREAM_SERVICES:
                continue
            sources = get(p.inputs, "sourceParameters") or {}
            params = sources.get("dynamodbStreamParameters") or sources.get("kinesisStreamParameters") or {}
            problems = self._stream_problems(
                destination=get(params, "deadLetterConfig", "arn"),
                retries=params.get("maximumRetryAttempts"),
                age=params.get("maximumRecordAgeInSeconds"),
                bisect=params.get("onPartialBatchItemFailure") == "AUTOMATIC_BISECT",
                names=_PIPE_SETTINGS,
            )
            if problems:
                out.append(Violation.of(self.id, p, "; ".join(problems)))
        return out

    @staticmethod
    def _stream_problems(*, destination: Any, retries: Any, age: Any, bisect: bool, names: tuple[str, str, str, str]) -> list[str]:
        problems = []
        if not destination:
            problems.append(f"no {names[0]}")
        retries_n, age_n = _number(retries), _number(age)
        if retries_n is None or retries_n < 0:
            problems.append(f"{names[1]} is {retries!r}; set 0..10000 (unset or -1 retries until the record expires)")
        if age_n is None or age_n < 0:
            problems.append(f"{names[2]} is {age!r}; set a bound (unset or -1 keeps records up to their retention)")
        if not bisect:
            problems.append(f"{names[3]} is not set")
        return problems


@dataclass(frozen=True)
class TargetsHandleFailures:
    id: ClassVar[str] = "EVT002"
    title: ClassVar[str] = "Every EventBridge rule target has a DLQ and an explicit retry policy"
    rationale: ClassVar[str] = (
        "EventBridge drops an event after its retries (by default 185 over 24 hours) unless the "
        "target has a dead-letter queue; an explicit retry_policy.maximum_retry_attempts says how "
        "long a broken consumer may be retried."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many rule targets the rule examined."""
        return len(stack.of_type(TARGET))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for t in stack.of_type(TARGET):
            problems = []
            if not get(t.inputs, "deadLetterConfig", "arn"):
                problems.append("no dead_letter_config")
            retries = _number(get(t.inputs, "retryPolicy", "maximumRetryAttempts"))
            if retries is None or retries < 0:
                problems.append("no retry_policy.maximum_retry_attempts")
            if problems:
                out.append(Violation.of(self.id, t, f"target {t.inputs.get('arn')!r}: {'; '.join(problems)}"))
        return out


@dataclass(frozen=True)
class QueuesEncrypted:
    id: ClassVar[str] = "SQS001"
    title: ClassVar[str] = "Every SQS queue is encrypted at rest"
    rationale: ClassVar[str] = "Dead-letter queues hold whole events, personal data included: SQS-managed SSE or a KMS key."

    def checked(self, stack: RecordedStack) -> int:
        """How many queues the rule examined."""
        return len(stack.of_type(QUEUE))

    def check(self, stack: RecordedStack) -> list[Violation]:
        return [
            Violation.of(self.id, q, "neither sqs_managed_sse_enabled nor kms_master_key_id is set")
            for q in stack.of_type(QUEUE)
            if q.inputs.get("sqsManagedSseEnabled") is not True and not q.inputs.get("kmsMasterKeyId")
        ]


def _denies_insecure_transport(s: Statement, queue_arn: str) -> bool:
    values = s.condition_values("Bool", "aws:SecureTransport") or ()
    return (
        s.effect == "Deny"
        and s.everyone
        and any(action_matches(a, "sqs:*") for a in s.actions)
        and s.covers_resource(queue_arn)
        and any(str(v).lower() == "false" for v in values)
    )


@dataclass(frozen=True)
class QueuesRequireTls:
    id: ClassVar[str] = "SQS002"
    title: ClassVar[str] = "Every SQS queue's policy denies requests without TLS"
    rationale: ClassVar[str] = "SQS accepts plain HTTP unless the queue policy denies `sqs:*` to `*` when aws:SecureTransport is false."

    def checked(self, stack: RecordedStack) -> int:
        """How many queues the rule examined."""
        return len(stack.of_type(QUEUE))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        return [
            Violation.of(self.id, q, "no queue policy denies sqs:* to every principal when aws:SecureTransport is false")
            for q in view.of_type(QUEUE)
            if not any(_denies_insecure_transport(s, q.state.get("arn", "")) for d in view.queue_policies(q) for s in d.statements)
        ]


# -- logs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogGroupsRetained:
    id: ClassVar[str] = "LOG001"
    title: ClassVar[str] = "Every log group has a retention period"
    rationale: ClassVar[str] = "Logs kept forever cost money and keep personal data longer than needed."

    def checked(self, stack: RecordedStack) -> int:
        """How many log groups the rule examined."""
        return len(stack.of_type(LOG_GROUP))

    def check(self, stack: RecordedStack) -> list[Violation]:
        return [
            Violation.of(self.id, g, f"retention_in_days is {g.inputs.get('retentionInDays')!r}; set a positive number of days")
            for g in stack.of_type(LOG_GROUP)
            if (_number(g.inputs.get("retentionInDays")) or 0) <= 0
        ]


@dataclass(frozen=True)
class FunctionsHaveLogGroups:
    id: ClassVar[str] = "LOG002"
    title: ClassVar[str] = "Every function logs to a log group declared in the stack"
    rationale: ClassVar[str] = (
        "Without a declared log group Lambda creates one on first write, with no retention and "
        "outside the stack. The group is the function's logging_config.log_group, or /aws/lambda/<name>."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many functions the rule examined."""
        return len(stack.of_type(FUNCTION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        names = {view.physical_name(g) for g in view.of_type(LOG_GROUP)}
        out = []
        for fn in view.of_type(FUNCTION):
            expected = get(fn.inputs, "loggingConfig", "logGroup") or f"/aws/lambda/{view.physical_name(fn)}"
            if expected not in names:
                out.append(Violation.of(self.id, fn, f"logs to {expected!r}, which is not a log group of this stack"))
        return out


# -- invocation and the API ------------------------------------------------------------------------


@dataclass(frozen=True)
class PermissionsScopedBySource:
    id: ClassVar[str] = "LAM001"
    title: ClassVar[str] = "Every Lambda permission names a specific source ARN"
    rationale: ClassVar[str] = (
        "Without source_arn any rule, API or bucket of any account could invoke the function "
        "(confused deputy). Wildcards are allowed only in an API Gateway ARN's stage/method/path, "
        "after the execution ARN of the API that integrates the function."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many Lambda permissions the rule examined."""
        return len(stack.of_type(PERMISSION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        apis = {a.id: a.state.get("executionArn") for a in view.of_type(API) if a.state.get("executionArn")}
        out = []
        for p in view.of_type(PERMISSION):
            problem = self._problem(view, apis, p)
            if problem:
                out.append(Violation.of(self.id, p, problem))
        return out

    @staticmethod
    def _problem(view: StackView, apis: dict[str | None, str], p: RecordedResource) -> str | None:
        principal, source = p.inputs.get("principal"), p.inputs.get("sourceArn")
        if principal == "*" or not principal:
            return f"principal is {principal!r}; name the service or account"
        if not isinstance(source, str) or not source:
            return f"no source_arn for principal {principal!r}"
        parts = source.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            return f"source_arn {source!r} is not an ARN"
        if any("*" in part or "?" in part for part in parts[:5]):
            return f"source_arn {source!r} has a wildcard partition, service, region or account"
        if principal != "apigateway.amazonaws.com":
            return f"source_arn {source!r} has a wildcard" if ("*" in source or "?" in source) else None
        fn = view.find(FUNCTION, p.inputs.get("function"))
        integrated = {
            apis.get(i.inputs.get("apiId"))
            for i in view.of_type(INTEGRATION)
            if fn is not None and fn.state.get("arn", "\0") in str(i.inputs.get("integrationUri", ""))
        } - {None}
        expected = integrated or set(apis.values())
        if not any(source.startswith(f"{e}/") for e in expected):
            return f"source_arn {source!r} does not start with the execution ARN of the API that integrates the function {sorted(expected)}"
        return None


@dataclass(frozen=True)
class RoutesAuthorized:
    public_routes: frozenset[str] = PUBLIC_ROUTES

    id: ClassVar[str] = "API001"
    title: ClassVar[str] = "Every API route is authorised, except the declared public ones"
    rationale: ClassVar[str] = (
        "An HTTP API route without authorization_type JWT, AWS_IAM or CUSTOM (with an authorizer) "
        "is open to the internet. Routes meant to be public are listed by route key in the rule's "
        "public_routes (default: GET /openapi.json). JWT authorizers need an issuer and an audience."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many routes and authorizers the rule examined."""
        return len(stack.of_type(ROUTE)) + len(stack.of_type(AUTHORIZER))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        out = []
        for route in view.of_type(ROUTE):
            key = route.inputs.get("routeKey")
            kind = route.inputs.get("authorizationType") or "NONE"
            if key in self.public_routes:
                continue
            if kind not in ("JWT", "AWS_IAM", "CUSTOM"):
                message = f"route {key!r} has authorization_type {kind!r} and is not a declared public route"
                out.append(Violation.of(self.id, route, message))
            elif kind != "AWS_IAM" and not route.inputs.get("authorizerId"):
                out.append(Violation.of(self.id, route, f"route {key!r} has authorization_type {kind!r} but no authorizer_id"))
        for auth in view.of_type(AUTHORIZER):
            if auth.inputs.get("authorizerType") == "JWT":
                jwt = auth.inputs.get("jwtConfiguration") or {}
                if not jwt.get("issuer") or not jwt.get("audiences"):
                    out.append(Violation.of(self.id, auth, "JWT authorizer needs jwt_configuration.issuer and at least one audience"))
        return out


@dataclass(frozen=True)
class StagesThrottledAndLogged:
    id: ClassVar[str] = "API002"
    title: ClassVar[str] = "Every API stage is throttled and access-logged"
    rationale: ClassVar[str] = (
        "Default route throttling (burst and rate) caps what a caller can cost; access logs are the record of who called what."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many stages the rule examined."""
        return len(stack.of_type(STAGE))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for stage in stack.of_type(STAGE):
            problems = [
                f"default_route_settings.{name} is not a positive number"
                for name, key in (("throttling_burst_limit", "throttlingBurstLimit"), ("throttling_rate_limit", "throttlingRateLimit"))
                if (_number(get(stage.inputs, "defaultRouteSettings", key)) or 0) <= 0
            ]
            if not get(stage.inputs, "accessLogSettings", "destinationArn") or not get(stage.inputs, "accessLogSettings", "format"):
                problems.append("no access_log_settings (destination_arn and format)")
            if problems:
                out.append(Violation.of(self.id, stage, "; ".join(problems)))
        return out


# -- encryption with keys the owner controls ------------------------------------------------------------


def _customer_key(value: Any) -> bool:
    """A KMS key reference that is not an AWS-managed alias (`alias/aws/...`)."""
    return isinstance(value, str) and bool(value) and "alias/aws/" not in value


@dataclass(frozen=True)
class CustomerManagedKeys:
    id: ClassVar[str] = "KMS001"
    title: ClassVar[str] = "Tables, queues, log groups and function environments use a customer-managed key"
    rationale: ClassVar[str] = (
        "With AWS-owned or AWS-managed keys the owner cannot restrict, audit per service, rotate on "
        "demand or revoke access to the data: every table (server_side_encryption.kms_key_arn), queue "
        "(kms_master_key_id, not alias/aws/sqs), log group (kms_key_id) and function with environment "
        "variables (kms_key_arn) names a customer-managed key. Opting out is an Exemption with a reason."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many tables, queues, log groups and functions the rule examined."""
        return sum(len(stack.of_type(t)) for t in (TABLE, QUEUE, LOG_GROUP, FUNCTION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for t in stack.of_type(TABLE):
            if (
                not _customer_key(get(t.inputs, "serverSideEncryption", "kmsKeyArn"))
                or get(t.inputs, "serverSideEncryption", "enabled") is not True
            ):
                out.append(Violation.of(self.id, t, "server_side_encryption names no customer-managed kms_key_arn"))
        for q in stack.of_type(QUEUE):
            if not _customer_key(q.inputs.get("kmsMasterKeyId")):
                out.append(Violation.of(self.id, q, f"kms_master_key_id is {q.inputs.get('kmsMasterKeyId')!r}, not a customer-managed key"))
        for g in stack.of_type(LOG_GROUP):
            if not _customer_key(g.inputs.get("kmsKeyId")):
                out.append(Violation.of(self.id, g, "no kms_key_id: the log group uses CloudWatch Logs' default encryption"))
        for fn in stack.of_type(FUNCTION):
            if (get(fn.inputs, "environment", "variables") or {}) and not _customer_key(fn.inputs.get("kmsKeyArn")):
                out.append(Violation.of(self.id, fn, "has environment variables but no kms_key_arn (Lambda's AWS-managed key)"))
        return out


@dataclass(frozen=True)
class KeysManagedAndRotated:
    id: ClassVar[str] = "KMS002"
    title: ClassVar[str] = "Every KMS key rotates, stays manageable by its account, and outlives the data it protects"
    rationale: ClassVar[str] = (
        "A key must rotate (enable_key_rotation), have an explicit policy whose Allow to the account root "
        "(arn:...:iam::<account>:root) includes kms:PutKeyPolicy and kms:ScheduleKeyDeletion, so the key "
        "can never become unmanageable; a key encrypting a retained table must be protected and retained "
        "too (retain_on_delete), since deleting it makes the table unreadable."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many KMS keys the rule examined."""
        return len(stack.of_type(KMS_KEY))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        policies = {d.source.urn: d for d in view.resource_documents if d.source.type == KMS_KEY}
        out = []
        for key in stack.of_type(KMS_KEY):
            problems = []
            if key.inputs.get("enableKeyRotation") is not True:
                problems.append("enable_key_rotation is not true")
            doc = policies.get(key.urn)
            if doc is None:
                problems.append("no explicit key policy")
            elif not any(
                s.allow
                and _is_account_root(s.principal)
                and s.grants_action("kms:PutKeyPolicy")
                and s.grants_action("kms:ScheduleKeyDeletion")
                for s in doc.statements
            ):
                problems.append("no policy statement lets the account root administer the key (kms:PutKeyPolicy, kms:ScheduleKeyDeletion)")
            arns = {key.state.get("arn"), key.id, key.state.get("keyId")} - {None, ""}
            retained = [
                t.name
                for t in stack.of_type(TABLE)
                if get(t.inputs, "serverSideEncryption", "kmsKeyArn") in arns and t.options.get("retain_on_delete") is True
            ]
            if retained and not (key.options.get("retain_on_delete") is True and key.options.get("protect") is True):
                problems.append(f"encrypts retained tables {sorted(retained)} but is not itself protected and retain_on_delete")
            if problems:
                out.append(Violation.of(self.id, key, "; ".join(problems)))
        return out


def _is_account_root(principal: Any) -> bool:
    aws_principals = principal.get("AWS") if isinstance(principal, dict) else None
    values = aws_principals if isinstance(aws_principals, list) else [aws_principals]
    return any(isinstance(v, str) and (v.endswith(":root") or v.isdigit()) for v in values)


# -- identity ----------------------------------------------------------------------------------------


def _identity_trusting_functions(stack: RecordedStack, variable: str) -> dict[str, str]:
    """Function name -> the claim its environment's `variable` says it trusts for identity."""
    found = {}
    for fn in stack.of_type(FUNCTION):
        claim = (get(fn.inputs, "environment", "variables") or {}).get(variable)
        if isinstance(claim, str) and claim:
            found[fn.name] = claim
    return found


def _trusted_identity_claims(stack: RecordedStack, declared: frozenset[str], variable: str) -> dict[str, list[str]]:
    """Claim -> who trusts it for identity: the rule's `identity_claims`, and every function
    whose environment names one in `variable`."""
    trusted: dict[str, list[str]] = {c: ["the rule's identity_claims"] for c in declared}
    for name, claim in _identity_trusting_functions(stack, variable).items():
        trusted.setdefault(claim, []).append(f"function {name!r}")
    return trusted


def _user_attribute(claim: str) -> str | None:
    """The user pool attribute behind a claim (`custom:x` -> `x`, `email` -> `email`), None
    for claims users can never change (`sub`, `cognito:username`, ...)."""
    if claim.startswith("custom:"):
        return claim.removeprefix("custom:")
    return claim if claim in COGNITO_STANDARD_ATTRIBUTES else None


@dataclass(frozen=True)
class ClientsCannotWriteIdentity:
    identity_claims: frozenset[str] = frozenset()
    identity_variable: str = IDENTITY_CLAIM_VARIABLE

    id: ClassVar[str] = "COG001"
    title: ClassVar[str] = "No user pool client can write an attribute the API trusts for identity"
    rationale: ClassVar[str] = (
        "A signed-in user may change any attribute their app client may write (UpdateUserAttributes "
        "with their own token). Unset or empty write_attributes means every mutable attribute, so it "
        "must be explicit, and must not list a claim any function takes the caller's identity from "
        "(its IDENTITY_CLAIM variable, or the rule's identity_claims): else a user becomes whoever they write."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many user pool clients and identity-trusting functions the rule examined."""
        return len(stack.of_type(USER_POOL_CLIENT)) + len(_identity_trusting_functions(stack, self.identity_variable))

    def check(self, stack: RecordedStack) -> list[Violation]:
        trusted = _trusted_identity_claims(stack, self.identity_claims, self.identity_variable)
        out = []
        for client in stack.of_type(USER_POOL_CLIENT):
            writable = client.inputs.get("writeAttributes")
            if not writable:
                message = "write_attributes is unset or empty, so the client may write every mutable attribute; list them explicitly"
                out.append(Violation.of(self.id, client, message))
                continue
            for claim, users in sorted(trusted.items()):
                attribute = _user_attribute(claim)
                if attribute is not None and claim in writable:
                    message = f"write_attributes lists {claim!r}, which {', '.join(users)} trusts for the caller's identity"
                    out.append(Violation.of(self.id, client, message))
        return out


@dataclass(frozen=True)
class IdentityAttributesImmutable:
    identity_claims: frozenset[str] = frozenset()
    identity_variable: str = IDENTITY_CLAIM_VARIABLE

    id: ClassVar[str] = "COG002"
    title: ClassVar[str] = "An attribute the API trusts for identity is immutable in every user pool"
    rationale: ClassVar[str] = (
        "Immutable attributes are set once, when an administrator creates the user, and never again: "
        "whatever a client, an administrator's slip or a later client may write, the identity stays. "
        "A pool declaring a trusted claim's attribute must declare it mutable=false. (An attribute "
        "mapped from an external IdP must be mutable; see docs/components.md for that trade-off.)"
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many user pools and identity-trusting functions the rule examined."""
        return len(stack.of_type(USER_POOL)) + len(_identity_trusting_functions(stack, self.identity_variable))

    def check(self, stack: RecordedStack) -> list[Violation]:
        trusted = _trusted_identity_claims(stack, self.identity_claims, self.identity_variable)
        out = []
        for pool in stack.of_type(USER_POOL):
            schemas = {str(a.get("name")): a for a in pool.inputs.get("schemas") or [] if isinstance(a, dict)}
            for claim, users in sorted(trusted.items()):
                attribute = _user_attribute(claim)
                if attribute is None:
                    continue
                declared = schemas.get(attribute)
                custom = claim.startswith("custom:")
                if declared is None and custom:
                    continue  # this pool does not have the attribute, so it never issues the claim
                if declared is None or declared.get("mutable") is not False:
                    how = "is not declared in schemas (standard attributes are mutable)" if declared is None else "is mutable"
                    message = f"attribute {attribute!r} {how}, yet {', '.join(users)} trusts {claim!r} for the caller's identity"
                    out.append(Violation.of(self.id, pool, message))
        return out


# -- observability -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionsConfigured:
    id: ClassVar[str] = "OBS001"
    title: ClassVar[str] = "Every function is traced and has an explicit timeout and memory size"
    rationale: ClassVar[str] = (
        "Active X-Ray tracing follows a command through the stream, the bus and the projectors; "
        "defaults of 3 s and 128 MB are accidents, not decisions."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many functions the rule examined."""
        return len(stack.of_type(FUNCTION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for fn in stack.of_type(FUNCTION):
            problems = []
            if get(fn.inputs, "tracingConfig", "mode") != "Active":
                problems.append("tracing_config.mode is not Active")
            if _number(fn.inputs.get("timeout")) is None:
                problems.append("no explicit timeout")
            if _number(fn.inputs.get("memorySize")) is None:
                problems.append("no explicit memory_size")
            if problems:
                out.append(Violation.of(self.id, fn, "; ".join(problems)))
        return out


@dataclass(frozen=True)
class FunctionErrorAlarms:
    id: ClassVar[str] = "OBS002"
    title: ClassVar[str] = "Every function has an alarm on its Errors metric"
    rationale: ClassVar[str] = "A failing function must page someone, not wait to be noticed."

    def checked(self, stack: RecordedStack) -> int:
        """How many functions the rule examined."""
        return len(stack.of_type(FUNCTION))

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        return [
            Violation.of(self.id, fn, f"no alarm on AWS/Lambda Errors with FunctionName={view.physical_name(fn)!r}")
            for fn in view.of_type(FUNCTION)
            if not view.alarms_on("AWS/Lambda", "Errors", "FunctionName", view.physical_name(fn))
        ]


@dataclass(frozen=True)
class DeadLetterQueueAlarms:
    id: ClassVar[str] = "OBS003"
    title: ClassVar[str] = "Every dead-letter queue has an alarm on its depth"
    rationale: ClassVar[str] = (
        "A DLQ nobody watches is a slower way to lose events: alarm on "
        "ApproximateNumberOfMessagesVisible of every queue that receives failures."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many dead-letter queues the rule examined."""
        return len({q.urn for q, _sender in StackView(stack).dead_letter_queues})

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        out = []
        seen: set[str] = set()
        for queue, sender in view.dead_letter_queues:
            name = view.physical_name(queue)
            if queue.urn in seen or view.alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name):
                continue
            seen.add(queue.urn)
            metric = f"AWS/SQS ApproximateNumberOfMessagesVisible with QueueName={name!r}"
            message = f"receives failures of {sender.name!r} but has no alarm on {metric}"
            out.append(Violation.of(self.id, queue, message))
        return out


@dataclass(frozen=True)
class StreamIteratorAgeAlarms:
    id: ClassVar[str] = "OBS004"
    title: ClassVar[str] = "Every stream reader has a lag or failure alarm"
    rationale: ClassVar[str] = (
        "A stuck publisher stops the whole system without a single error. A stream mapping's "
        "function needs an AWS/Lambda IteratorAge alarm (growing age is the signal); a pipe reading "
        "a stream, which has no such metric, needs an AWS/EventBridge/Pipes alarm on its PipeName "
        "(e.g. ExecutionFailed)."
    )

    def checked(self, stack: RecordedStack) -> int:
        """How many stream mappings and stream pipes the rule examined."""
        return len(self._readers(stack))

    @staticmethod
    def _readers(stack: RecordedStack) -> list[RecordedResource]:
        mappings = [m for m in stack.of_type(MAPPING) if _arn_service(m.inputs.get("eventSourceArn")) in _STREAM_SERVICES]
        return mappings + [p for p in stack.of_type(PIPE) if _arn_service(p.inputs.get("source")) in _STREAM_SERVICES]

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView(stack)
        out = []
        for reader in self._readers(stack):
            if reader.type == PIPE:
                name = view.physical_name(reader)
                if not any(ns == "AWS/EventBridge/Pipes" and dims.get("PipeName") == name for _a, ns, _m, dims in view.alarm_metrics):
                    out.append(Violation.of(self.id, reader, f"no alarm on an AWS/EventBridge/Pipes metric with PipeName={name!r}"))
                continue
            fn = view.find(FUNCTION, reader.inputs.get("functionName"))
            name = view.physical_name(fn) if fn else str(reader.inputs.get("functionName"))
            if not view.alarms_on("AWS/Lambda", "IteratorAge", "FunctionName", name):
                out.append(Violation.of(self.id, reader, f"no alarm on AWS/Lambda IteratorAge with FunctionName={name!r}"))
        return out


#: Every rule above with its default parameters, in report order.
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
    FunctionsConfigured(),
    FunctionErrorAlarms(),
    DeadLetterQueueAlarms(),
    StreamIteratorAgeAlarms(),
)
