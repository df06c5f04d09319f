"""An index over a RecordedStack: who references whom, which documents apply to which role.

Resources reference each other by the values the engine resolved (a function's `role` is
the role's ARN, a role policy's `role` is the role's name, an event source mapping's
`functionName` is a name or an ARN), so the index maps every such value back to its
resource.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ._policy_iam import PolicyParseError, Statement, parse_document
from .harness import RecordedResource, RecordedStack

FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile"
TABLE = "aws:dynamodb/table:Table"
TABLE_POLICY = "aws:dynamodb/resourcePolicy:ResourcePolicy"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
PIPE = "aws:pipes/pipe:Pipe"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
PERMISSION = "aws:lambda/permission:Permission"
API = "aws:apigatewayv2/api:Api"
ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigatewayv2/stage:Stage"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
USER_POOL = "aws:cognito/userPool:UserPool"
KMS_KEY = "aws:kms/key:Key"
USER_POOL_CLIENT = "aws:cognito/userPoolClient:UserPoolClient"

#: Identity policies: (type, input holding the document). Role inline policies are read
#: from `inlinePolicies` separately.
IDENTITY_POLICY_INPUTS: tuple[tuple[str, str], ...] = (
    (ROLE_POLICY, "policy"),
    (MANAGED_POLICY, "policy"),
    ("aws:iam/userPolicy:UserPolicy", "policy"),
    ("aws:iam/groupPolicy:GroupPolicy", "policy"),
)

#: Resource-based policies and trust policies: (type, input holding the document).
RESOURCE_POLICY_INPUTS: tuple[tuple[str, str], ...] = (
    (QUEUE_POLICY, "policy"),
    (QUEUE, "policy"),
    ("aws:cloudwatch/eventBusPolicy:EventBusPolicy", "policy"),
    (TABLE_POLICY, "policy"),
    ("aws:sns/topicPolicy:TopicPolicy", "policy"),
    ("aws:sns/topic:Topic", "policy"),
    ("aws:kms/key:Key", "policy"),
    ("aws:s3/bucketPolicy:BucketPolicy", "policy"),
    ("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "policyDocument"),
    ("aws:secretsmanager/secretPolicy:SecretPolicy", "policy"),
    ("aws:ecr/repositoryPolicy:RepositoryPolicy", "policy"),
    ("aws:apigateway/restApiPolicy:RestApiPolicy", "policy"),
    (ROLE, "assumeRolePolicy"),
)

#: How an Events table is recognised besides its keys: this tag with value "true".
EVENT_STORE_TAG = "event-store"


@dataclass(frozen=True)
class Document:
    """A policy document as declared: where it is, what it says (or why it cannot be read)."""

    source: RecordedResource
    where: str
    statements: tuple[Statement, ...]
    error: str | None = None


def _document(source: RecordedResource, where: str, text: Any) -> Document:
    try:
        return Document(source, where, parse_document(text))
    except PolicyParseError as exc:
        return Document(source, where, (), str(exc))


def get(data: Any, *path: str) -> Any:
    """A nested input (`get(r.inputs, "destinationConfig", "onFailure", "destinationArn")`)."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


class StackView:
    """Lookups over one recorded stack, computed once."""

    def __init__(self, stack: RecordedStack) -> None:
        self.stack = stack

    def of_type(self, type_: str) -> list[RecordedResource]:
        return self.stack.of_type(type_)

    @cached_property
    def _by_reference(self) -> dict[str, dict[str, RecordedResource]]:
        """Per type: every value a resource can be referenced by (ARN, name, id, URL)."""
        out: dict[str, dict[str, RecordedResource]] = {}
        for r in self.stack.resources:
            refs = out.setdefault(r.type, {})
            values = (r.state.get("arn"), r.state.get("name"), r.inputs.get("name"), r.id, r.state.get("url"), r.state.get("qualifiedArn"))
            for value in values:
                if isinstance(value, str) and value:
                    refs.setdefault(value, r)
        return out

    def find(self, type_: str, reference: Any) -> RecordedResource | None:
        """The resource of `type_` that `reference` (an ARN, name, id or URL) points at."""
        if not isinstance(reference, str) or not reference:
            return None
        refs = self._by_reference.get(type_, {})
        found = refs.get(reference)
        if found is None and type_ == FUNCTION and reference.startswith("arn:") and reference.count(":") == 7:
            found = refs.get(reference.rsplit(":", 1)[0])  # a qualified function ARN
        return found

    # -- names ---------------------------------------------------------------------------

    @staticmethod
    def physical_name(r: RecordedResource) -> str:
        return str(r.inputs.get("name") or r.state.get("name") or r.name)

    # -- IAM -----------------------------------------------------------------------------

    @cached_property
    def identity_documents(self) -> list[Document]:
        """Every identity policy document declared in the stack."""
        docs: list[Document] = []
        for role in self.of_type(ROLE):
            for i, inline in enumerate(role.inputs.get("inlinePolicies") or []):
                if isinstance(inline, dict) and inline.get("policy"):
                    docs.append(_document(role, f"inline policy {inline.get('name') or i!r}", inline["policy"]))
        for type_, key in IDENTITY_POLICY_INPUTS:
            for r in self.of_type(type_):
                docs.append(_document(r, key, r.inputs.get(key)))
        return docs

    @cached_property
    def resource_documents(self) -> list[Document]:
        """Every resource-based (and trust) policy document declared in the stack."""
        return [_document(r, key, r.inputs[key]) for type_, key in RESOURCE_POLICY_INPUTS for r in self.of_type(type_) if r.inputs.get(key)]

    @cached_property
    def _role_documents(self) -> dict[str, list[Document]]:
        by_role: dict[str, list[Document]] = {}
        managed = {d.source.state.get("arn"): d for d in self.identity_documents if d.source.type == MANAGED_POLICY}

        def add(role_ref: Any, doc: Document | None) -> None:
            role = self.find(ROLE, role_ref)
            if role is not None and doc is not None:
                by_role.setdefault(role.urn, []).append(doc)

        for doc in self.identity_documents:
            if doc.source.type == ROLE:
                add(doc.source.state.get("arn"), doc)
            elif doc.source.type == ROLE_POLICY:
                add(doc.source.inputs.get("role"), doc)
        for att in self.of_type(ROLE_POLICY_ATTACHMENT):
            add(att.inputs.get("role"), managed.get(att.inputs.get("policyArn")))
        for att in self.of_type(POLICY_ATTACHMENT):
            for role_ref in att.inputs.get("roles") or []:
                add(role_ref, managed.get(att.inputs.get("policyArn")))
        for role in self.of_type(ROLE):
            for arn in role.inputs.get("managedPolicyArns") or []:
                add(role.state.get("arn"), managed.get(arn))
        return by_role

    def role_documents(self, role: RecordedResource) -> list[Document]:
        """The identity documents that apply to `role` (inline, role policies, attached)."""
        return self._role_documents.get(role.urn, [])

    def role_statements(self, role: RecordedResource) -> list[tuple[Document, Statement]]:
        return [(d, s) for d in self.role_documents(role) for s in d.statements]

    def attached_policy_arns(self) -> list[tuple[RecordedResource, str]]:
        """(declaring resource, policy ARN) for every managed-policy attachment."""
        out: list[tuple[RecordedResource, str]] = []
        for att in self.of_type(ROLE_POLICY_ATTACHMENT) + self.of_type(POLICY_ATTACHMENT):
            if att.inputs.get("policyArn"):
                out.append((att, att.inputs["policyArn"]))
        for role in self.of_type(ROLE):
            out.extend((role, arn) for arn in role.inputs.get("managedPolicyArns") or [])
        return out

    def function_role(self, fn: RecordedResource) -> RecordedResource | None:
        return self.find(ROLE, fn.inputs.get("role"))

    @cached_property
    def role_users(self) -> dict[str, list[RecordedResource]]:
        """Role URN -> the resources that assume it: non-IAM resources whose inputs name the
        role's ARN (a function's `role`, a pipe's `roleArn`, ...) and instance profiles."""
        arns = {r.state.get("arn"): r for r in self.of_type(ROLE) if r.state.get("arn")}
        users: dict[str, list[RecordedResource]] = {r.urn: [] for r in self.of_type(ROLE)}
        for r in self.stack.resources:
            if r.type == INSTANCE_PROFILE:
                role = self.find(ROLE, r.inputs.get("role"))
                if role is not None:
                    users[role.urn].append(r)
            if r.type.startswith("aws:iam/") or not r.custom:
                continue
            for value in set(_strings(r.inputs)):
                if value in arns:
                    users[arns[value].urn].append(r)
        return users

    # -- tables and streams ---------------------------------------------------------------

    @staticmethod
    def is_events_table(table: RecordedResource) -> bool:
        """Keys `stream_id` (hash) and `version` (range), or tagged `event-store=true`."""
        tags = table.inputs.get("tags") or {}
        if str(tags.get(EVENT_STORE_TAG, "")).lower() == "true":
            return True
        return table.inputs.get("hashKey") == "stream_id" and table.inputs.get("rangeKey") == "version"

    @cached_property
    def events_tables(self) -> list[RecordedResource]:
        return [t for t in self.of_type(TABLE) if self.is_events_table(t)]

    def table_of_stream(self, stream_arn: Any) -> RecordedResource | None:
        if not isinstance(stream_arn, str):
            return None
        return next((t for t in self.of_type(TABLE) if t.state.get("streamArn") == stream_arn), None)

    def table_policies(self, table: RecordedResource) -> list[Document]:
        arn = table.state.get("arn")
        return [d for d in self.resource_documents if d.source.type == TABLE_POLICY and d.source.inputs.get("resourceArn") == arn]

    @cached_property
    def publishers(self) -> list[tuple[RecordedResource, RecordedResource, RecordedResource | None]]:
        """(mapping or pipe, Events table, function or None for a pipe) for every reader of
        an Events table's stream."""
        out = []
        for m in self.of_type(MAPPING):
            table = self.table_of_stream(m.inputs.get("eventSourceArn"))
            if table is not None and self.is_events_table(table):
                out.append((m, table, self.find(FUNCTION, m.inputs.get("functionName"))))
        for p in self.of_type(PIPE):
            table = self.table_of_stream(p.inputs.get("source"))
            if table is not None and self.is_events_table(table):
                out.append((p, table, None))
        return out

    # -- queues -----------------------------------------------------------------------------

    def queue_policies(self, queue: RecordedResource) -> list[Document]:
        url = queue.state.get("url")
        return [
            d
            for d in self.resource_documents
            if (d.source.type == QUEUE_POLICY and d.source.inputs.get("queueUrl") == url) or d.source is queue
        ]

    @staticmethod
    def redrive_policy(queue: RecordedResource) -> dict[str, Any] | None:
        """A queue's redrive policy (JSON text in the input) as a dict, None if absent or unreadable."""
        redrive = queue.inputs.get("redrivePolicy")
        if isinstance(redrive, str):
            try:
                redrive = json.loads(redrive)
            except json.JSONDecodeError:
                return None
        return redrive if isinstance(redrive, dict) else None

    @cached_property
    def dead_letter_queues(self) -> list[tuple[RecordedResource, RecordedResource]]:
        """(queue, the resource that sends failures to it), once per queue and sender."""
        refs: list[tuple[RecordedResource, Any]] = []
        for m in self.of_type(MAPPING):
            refs.append((m, get(m.inputs, "destinationConfig", "onFailure", "destinationArn")))
        for t in self.of_type(TARGET):
            refs.append((t, get(t.inputs, "deadLetterConfig", "arn")))
        for p in self.of_type(PIPE):
            for params in (get(p.inputs, "sourceParameters") or {}).values():
                refs.append((p, get(params, "deadLetterConfig", "arn")))
        for f in self.of_type(FUNCTION):
            refs.append((f, get(f.inputs, "deadLetterConfig", "targetArn")))
        for c in self.of_type(EVENT_INVOKE_CONFIG):
            refs.append((c, get(c.inputs, "destinationConfig", "onFailure", "destination")))
        for q in self.of_type(QUEUE):
            refs.append((q, get(self.redrive_policy(q), "deadLetterTargetArn")))
        out: list[tuple[RecordedResource, RecordedResource]] = []
        seen: set[tuple[str, str]] = set()
        for sender, arn in refs:
            queue = self.find(QUEUE, arn)
            if queue is not None and (queue.urn, sender.urn) not in seen:
                seen.add((queue.urn, sender.urn))
                out.append((queue, sender))
        return out

    # -- alarms -----------------------------------------------------------------------------

    @cached_property
    def alarm_metrics(self) -> list[tuple[RecordedResource, str, str, dict[str, Any]]]:
        """(alarm, namespace, metric name, dimensions), including metric-math alarms."""
        out = []
        for a in self.of_type(ALARM):
            if a.inputs.get("metricName"):
                out.append((a, a.inputs.get("namespace", ""), a.inputs["metricName"], a.inputs.get("dimensions") or {}))
            for q in a.inputs.get("metricQueries") or []:
                metric = get(q, "metric") or {}
                if metric.get("metricName"):
                    out.append((a, metric.get("namespace", ""), metric["metricName"], metric.get("dimensions") or {}))
        return out

    def alarms_on(self, namespace: str, metric: str, dimension: str, value: str) -> list[RecordedResource]:
        """Alarms watching `metric` in `namespace` for the dimension `dimension=value`."""
        return [a for a, ns, m, dims in self.alarm_metrics if ns == namespace and m == metric and dims.get(dimension) == value]
