"""What the policy rules read of a stack, on top of the shared `StackModel`: policy
documents, which documents apply to which role, who uses a role, publishers, dead-letter
queues and alarms; each built once per `check_stack` and indexed, so that no rule's cost
grows with the square of the stack.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar

from ._policy_iam import PolicyParseError, Statement, parse_document, resource_matches
from .harness import RecordedResource
from .stack_model import (  # noqa: F401 - the types the rules use, re-exported for them
    ALARM,
    API,
    AUTHORIZER,
    BUCKET,
    BUCKET_POLICY,
    BUCKET_V2,
    DELIVERY_STREAM,
    EVENT_INVOKE_CONFIG,
    FUNCTION,
    INSTANCE_PROFILE,
    INTEGRATION,
    KMS_KEY,
    LOG_GROUP,
    MANAGED_POLICY,
    MAPPING,
    PERMISSION,
    PIPE,
    POLICY_ATTACHMENT,
    QUEUE,
    QUEUE_POLICY,
    ROLE,
    ROLE_POLICY,
    ROLE_POLICY_ATTACHMENT,
    ROUTE,
    SCHEDULE,
    STAGE,
    STATE_MACHINE,
    TABLE,
    TABLE_POLICY,
    TARGET,
    TOPIC,
    USER_POOL,
    USER_POOL_CLIENT,
    StackModel,
    get,
    strings,
)

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
    (BUCKET_POLICY, "policy"),
    (BUCKET, "policy"),
    (BUCKET_V2, "policy"),
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


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _arn_service(arn: Any) -> str:
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[2] if len(parts) > 2 and parts[0] == "arn" else ""


def _dicts_with(value: Any, key: str) -> list[dict[str, Any]]:
    """Every dict with `key` nested in `value` (lists and dicts), outermost first."""
    if isinstance(value, dict):
        return ([value] if key in value else []) + [d for v in value.values() for d in _dicts_with(v, key)]
    if isinstance(value, list):
        return [d for v in value for d in _dicts_with(v, key)]
    return []


T = TypeVar("T")


class ArnIndex(Generic[T]):
    """Values by ARN, to find the ones a statement's resource element covers without testing
    every ARN: an exact ARN is one lookup, a pattern tests only the ARNs that share its
    literal prefix (`arn:...:table/app-*` those starting `arn:...:table/app-`). Only
    `NotResource` (which IAM002 refuses anyway) tests them all."""

    def __init__(self, items: Iterable[tuple[str, T]]) -> None:
        self._exact: dict[str, list[T]] = {}
        for arn, value in items:
            if isinstance(arn, str) and arn:
                self._exact.setdefault(arn, []).append(value)
        self._sorted = sorted(self._exact)

    def _matching(self, pattern: str) -> list[str]:
        cut = min((i for i in (pattern.find("*"), pattern.find("?")) if i >= 0), default=-1)
        if cut < 0:
            return [pattern] if pattern in self._exact else []
        prefix, found = pattern[:cut], []
        for arn in self._sorted[bisect.bisect_left(self._sorted, prefix) :]:
            if not arn.startswith(prefix):
                break
            if resource_matches(pattern, arn):
                found.append(arn)
        return found

    def covered_by(self, statement: Statement) -> list[T]:
        """The values whose ARN the statement's Resource (or NotResource) covers, once each."""
        if statement.not_resources is not None:
            arns = [arn for arn in self._sorted if statement.covers_resource(arn)]
        else:
            arns = list(dict.fromkeys(arn for pattern in statement.resources for arn in self._matching(pattern)))
        return [v for arn in arns for v in self._exact[arn]]


#: Services whose streams a mapping or pipe reads in order (shard iterators).
STREAM_SERVICES = ("dynamodb", "kinesis")


class StackView(StackModel):
    """The shared stack model plus what the policy rules need, computed once per stack.
    Rules get theirs with `StackView.of(stack)`: during `check_stack` every rule shares one."""

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
            for value in set(strings(r.inputs)):
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

    @cached_property
    def _documents_by_source(self) -> dict[str, list[Document]]:
        out: dict[str, list[Document]] = {}
        for d in self.resource_documents:
            out.setdefault(d.source.urn, []).append(d)
        return out

    def documents_of(self, source: RecordedResource) -> list[Document]:
        """The resource-based documents `source` declares (a policy resource's, or its own)."""
        return self._documents_by_source.get(source.urn, [])

    def table_policies(self, table: RecordedResource) -> list[Document]:
        """The documents of the table's resource policies (`resourceArn` = its ARN)."""
        return [d for p in self.referencing(TABLE_POLICY, "resourceArn", table.state.get("arn")) for d in self.documents_of(p)]

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
        """The queue's own policy and those of its queue policies (`queueUrl` = its URL)."""
        policies = self.referencing(QUEUE_POLICY, "queueUrl", queue.state.get("url"))
        return [d for p in policies for d in self.documents_of(p)] + self.documents_of(queue)

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
        for s in self.of_type(SCHEDULE):
            refs.append((s, get(s.inputs, "target", "deadLetterConfig", "arn")))
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

    @cached_property
    def _alarms_by_dimension(self) -> dict[tuple[str, str | None, str, Any], list[RecordedResource]]:
        """(namespace, metric or None for any, dimension, value) -> alarms."""
        out: dict[tuple[str, str | None, str, Any], list[RecordedResource]] = {}
        for alarm, ns, metric, dims in self.alarm_metrics:
            for dimension, value in dims.items():
                if isinstance(value, str):
                    out.setdefault((ns, metric, dimension, value), []).append(alarm)
                    out.setdefault((ns, None, dimension, value), []).append(alarm)
        return out

    def alarms_on(self, namespace: str, metric: str | None, dimension: str, value: str) -> list[RecordedResource]:
        """Alarms watching `metric` (None: any metric) in `namespace` for the dimension `dimension=value`."""
        return self._alarms_by_dimension.get((namespace, metric, dimension, value), [])

    # -- S3 buckets ----------------------------------------------------------------------------

    @cached_property
    def buckets(self) -> list[RecordedResource]:
        """Every general-purpose bucket: `s3.Bucket` and the older `s3.BucketV2`."""
        return self.of_type(BUCKET) + self.of_type(BUCKET_V2)

    def bucket_of(self, reference: Any) -> RecordedResource | None:
        """The bucket a `bucket` input (its name, the bucket's id) or an ARN points at."""
        return self.find(BUCKET, reference) or self.find(BUCKET_V2, reference)

    def bucket_settings(self, kind: str) -> dict[str, list[RecordedResource]]:
        """Bucket URN -> the separate settings resources of `kind` on it (`"bucketVersioning"`
        reads both `aws:s3/bucketVersioning:BucketVersioning` and its `...V2` alias type).
        Indexed once per kind."""
        cache: dict[str, dict[str, list[RecordedResource]]] = self.__dict__.setdefault("_bucket_settings", {})
        if kind not in cache:
            cache[kind] = self._index_bucket_settings(kind)
        return cache[kind]

    def _index_bucket_settings(self, kind: str) -> dict[str, list[RecordedResource]]:
        name = kind[0].upper() + kind[1:]
        out: dict[str, list[RecordedResource]] = {}
        for type_ in (f"aws:s3/{kind}:{name}", f"aws:s3/{kind}V2:{name}V2"):
            for r in self.of_type(type_):
                bucket = self.bucket_of(r.inputs.get("bucket"))
                if bucket is not None:
                    out.setdefault(bucket.urn, []).append(r)
        return out

    @cached_property
    def access_logging(self) -> dict[str, list[Any]]:
        """Bucket URN -> the target buckets (as referenced) it writes server access logs to:
        `BucketLogging` resources and the inline `logging` (Bucket) / `loggings` (BucketV2)."""
        out: dict[str, list[Any]] = {}
        for urn, settings in self.bucket_settings("bucketLogging").items():
            out.setdefault(urn, []).extend(r.inputs.get("targetBucket") for r in settings)
        for b in self.buckets:
            inline = [b.inputs.get("logging")] + list(b.inputs.get("loggings") or [])
            out.setdefault(b.urn, []).extend(get(i, "targetBucket") for i in inline if get(i, "targetBucket"))
        return {urn: targets for urn, targets in out.items() if targets}

    @cached_property
    def access_log_targets(self) -> set[str]:
        """URNs of the buckets that receive another bucket's server access logs."""
        return {
            t.urn
            for source, targets in self.access_logging.items()
            for ref in targets
            if (t := self.bucket_of(ref)) is not None and t.urn != source
        }

    def holds_data(self, bucket: RecordedResource) -> bool:
        """A bucket holds data unless it is (only) an access-log target."""
        return bucket.urn not in self.access_log_targets

    def bucket_policies(self, bucket: RecordedResource) -> list[Document]:
        """The documents of the bucket's `BucketPolicy` resources and of its inline `policy`."""
        policies = self.bucket_settings("bucketPolicy").get(bucket.urn, [])
        return [d for p in policies for d in self.documents_of(p)] + self.documents_of(bucket)

    def bucket_encryption(self, bucket: RecordedResource) -> list[dict[str, Any]]:
        """The bucket's default encryption settings (each a dict with `sseAlgorithm` and maybe
        `kmsMasterKeyId`): from `BucketServerSideEncryptionConfiguration(V2)` resources and the
        bucket's own (deprecated) inline setting, whichever shape it has."""
        configs: list[Any] = [
            r.inputs.get("rules") for r in self.bucket_settings("bucketServerSideEncryptionConfiguration").get(bucket.urn, [])
        ]
        configs += [bucket.inputs.get("serverSideEncryptionConfiguration"), bucket.inputs.get("serverSideEncryptionConfigurations")]
        return [d for c in configs for d in _dicts_with(c, "sseAlgorithm")]

    # -- roles of services other than Lambda ------------------------------------------------------

    def allow_statements(self, role: RecordedResource) -> list[tuple[Document, Statement]]:
        """The Allow statements of every identity document that applies to `role`."""
        return [(d, s) for d, s in self.role_statements(role) if s.allow]

    def log_group_of_arn(self, arn: Any) -> RecordedResource | None:
        """The log group a log-group ARN (also `<arn>:*`, as Step Functions takes it) names."""
        if not isinstance(arn, str):
            return None
        return self.find(LOG_GROUP, arn) or self.find(LOG_GROUP, arn.removesuffix(":*"))


KINESIS_STREAM = "aws:kinesis/stream:Stream"


def program_of(stack: Any) -> str:
    """`project/stack`, how reports and exemptions name a program."""
    return f"{stack.project}/{stack.stack}"


@dataclass(frozen=True)
class StreamReader:
    """A Lambda event source mapping or a Pipe reading a DynamoDB or Kinesis stream."""

    view: StackView
    reader: RecordedResource
    stream_arn: str
    #: The reader's bounds: (maximum record age, maximum retry attempts), as declared.
    max_age: Any
    retries: Any

    @property
    def program(self) -> str:
        return program_of(self.view.stack)

    @property
    def label(self) -> str:
        return f"{self.reader.name} ({self.program})"


class SystemView:
    """Every program of a system (e.g. a platform stack and service stacks), each through its
    shared `StackView`, with lookups across them. Programs refer to each other's resources by
    the values they exported and read through stack references (ARNs, names), so a value is
    resolved first in the program that holds it, then in the others; values are compared as
    recorded (see docs/policy.md, "Whole-system rules", for what that can and cannot match)."""

    def __init__(self, stacks: Iterable[Any]) -> None:
        self.stacks = tuple(stacks)
        self.views = tuple(StackView.of(s) for s in self.stacks)

    def find(self, type_: str, reference: Any, home: StackView | None = None) -> tuple[StackView, RecordedResource] | None:
        """The resource of `type_` that `reference` names: in `home` if it declares one, else in
        the one other program that does (None if none does, or several do: fake ARNs may collide)."""
        if home is not None and (found := home.find(type_, reference)) is not None:
            return home, found
        hits = [(v, r) for v in self.views if v is not home and (r := v.find(type_, reference)) is not None]
        return hits[0] if len(hits) == 1 else None

    def declares(self, types: Iterable[str], reference: Any, home: StackView | None = None) -> tuple[StackView, RecordedResource] | None:
        """`find` over several types (a destination may be a queue, a topic or a bucket)."""
        for type_ in types:
            if (found := self.find(type_, reference, home)) is not None:
                return found
        return None

    def table_of_stream(self, stream_arn: Any, home: StackView) -> tuple[StackView, RecordedResource] | None:
        """The table (and its program) whose stream ARN is `stream_arn`."""
        if (table := home.table_of_stream(stream_arn)) is not None:
            return home, table
        hits = [(v, t) for v in self.views if v is not home and (t := v.table_of_stream(stream_arn)) is not None]
        return hits[0] if len(hits) == 1 else None

    @cached_property
    def stream_readers(self) -> list[StreamReader]:
        """Every enabled mapping and pipe whose source is a DynamoDB or Kinesis stream, in every program."""
        out = []
        for view in self.views:
            for m in view.of_type(MAPPING):
                arn = m.inputs.get("eventSourceArn")
                if _arn_service(arn) in STREAM_SERVICES and m.inputs.get("enabled") is not False:
                    out.append(StreamReader(view, m, arn, m.inputs.get("maximumRecordAgeInSeconds"), m.inputs.get("maximumRetryAttempts")))
            for p in view.of_type(PIPE):
                arn = p.inputs.get("source")
                if _arn_service(arn) in STREAM_SERVICES and p.inputs.get("desiredState") != "STOPPED":
                    sources = get(p.inputs, "sourceParameters") or {}
                    params = sources.get("dynamodbStreamParameters") or sources.get("kinesisStreamParameters") or {}
                    out.append(StreamReader(view, p, arn, params.get("maximumRecordAgeInSeconds"), params.get("maximumRetryAttempts")))
        return out

    def stream_key(self, reader: StreamReader) -> tuple[str, ...]:
        """What identifies the stream a reader reads across programs: its table (program and
        URN) when a program of the system declares it, else the ARN as recorded."""
        found = self.table_of_stream(reader.stream_arn, reader.view)
        return ("table", program_of(found[0].stack), found[1].urn) if found else ("arn", reader.stream_arn)

    def alarms_on(self, namespace: str, metric: str | None, dimension: str, value: str) -> list[RecordedResource]:
        """`StackView.alarms_on` over every program (an alarm may live in another stack)."""
        return [a for v in self.views for a in v.alarms_on(namespace, metric, dimension, value)]
