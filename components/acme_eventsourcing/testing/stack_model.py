"""One model of a recorded stack: resource types, and every reference resolved to its resource.

Resources reference each other by the values the engine resolved: a function's `role` is the
role's ARN, a role policy's `role` the role's name, an event source mapping's `functionName`
a name or an ARN (qualified or not), an API integration's `integrationUri` the function's
API Gateway invoke ARN, a queue policy's `queueUrl` the queue's URL. `StackModel(stack)`
indexes a `RecordedStack` once, so that each such value leads back to its resource in
constant time, whatever the stack's size:

    model = StackModel(recorded)
    model.of_type(FUNCTION)                         # every function
    model.find(ROLE, fn.inputs["role"])             # the role a function uses (ARN, name, id, URL)
    model.referencing(INTEGRATION, "apiId", api_id)  # the integrations of one API
    model.table_of_stream(mapping.inputs["eventSourceArn"])

Both the policy rules (`acme_eventsourcing.testing.policy`) and the local stack
(`acme_eventsourcing.local`) read stacks through it. It depends on types and references only,
never on which component declared a resource (the parent structure may change; aliases keep
URNs, not parents). `descendants(resource)` is there for callers that do want a subtree.

A model is a snapshot: build a new one after changing the recorded stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from typing import Any, TypeVar

from .harness import RecordedResource, RecordedStack

# -- resource types ----------------------------------------------------------------------------
TABLE = "aws:dynamodb/table:Table"
TABLE_POLICY = "aws:dynamodb/resourcePolicy:ResourcePolicy"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
BUS = "aws:cloudwatch/eventBus:EventBus"
BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
ARCHIVE = "aws:cloudwatch/eventArchive:EventArchive"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
FUNCTION = "aws:lambda/function:Function"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
PERMISSION = "aws:lambda/permission:Permission"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
API = "aws:apigatewayv2/api:Api"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
STAGE = "aws:apigatewayv2/stage:Stage"
PIPE = "aws:pipes/pipe:Pipe"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile"
KMS_KEY = "aws:kms/key:Key"
USER_POOL = "aws:cognito/userPool:UserPool"
USER_POOL_CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
DELIVERY_STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
SCHEDULE = "aws:scheduler/schedule:Schedule"
TOPIC = "aws:sns/topic:Topic"

#: The state and input fields a resource can be referenced by.
REFERENCE_FIELDS: tuple[str, ...] = ("arn", "name", "id", "url", "qualifiedArn")

#: An API Gateway integration URI for a Lambda function: `.../functions/<function ARN>/invocations`.
INVOKE_ARN = re.compile(r"^arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(?P<arn>.+)/invocations$")

_ACTIVE: ContextVar[tuple[StackModel, ...]] = ContextVar("acme_eventsourcing_active_stack_models", default=())
M = TypeVar("M", bound="StackModel")


def get(data: Any, *path: str) -> Any:
    """A nested input (`get(r.inputs, "destinationConfig", "onFailure", "destinationArn")`), None if absent."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def strings(value: Any) -> Iterator[str]:
    """Every string in a nested input value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)


def physical_name(r: RecordedResource) -> str:
    """The name the resource has in AWS (its `name` input or mocked state), else its logical name."""
    return str(r.inputs.get("name") or r.state.get("name") or r.name)


class StackModel:
    """Lookups over one recorded stack, each index built once on first use."""

    def __init__(self, stack: RecordedStack) -> None:
        self.stack = stack
        self._by_input: dict[tuple[str, str], dict[str, list[RecordedResource]]] = {}

    @classmethod
    def of(cls: type[M], stack: RecordedStack) -> M:
        """The model shared while `shared(stack)` is active (e.g. during one `check_stack`, so
        that every rule reuses one set of indexes; `check_system` shares one per program), else a new one."""
        for active in _ACTIVE.get():
            if isinstance(active, cls) and active.stack is stack:
                return active
        return cls(stack)

    @contextmanager
    def shared(self) -> Iterator[StackModel]:
        """Make `of(self.stack)` return this model inside the `with` block (blocks nest: the
        models of enclosing blocks stay shared too)."""
        token = _ACTIVE.set((self, *_ACTIVE.get()))
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    # -- types --------------------------------------------------------------------------------------

    @cached_property
    def _by_type(self) -> dict[str, list[RecordedResource]]:
        out: dict[str, list[RecordedResource]] = {}
        for r in self.stack.resources:
            out.setdefault(r.type, []).append(r)
        return out

    def of_type(self, type_: str) -> list[RecordedResource]:
        """The resources of one type, in declaration order."""
        return self._by_type.get(type_, [])

    def count(self, type_: str) -> int:
        return len(self._by_type.get(type_, ()))

    # -- references ---------------------------------------------------------------------------------

    @cached_property
    def _by_reference(self) -> dict[str, dict[str, RecordedResource]]:
        """Per type: every value a resource can be referenced by (ARN, name, id, URL, qualified ARN)."""
        out: dict[str, dict[str, RecordedResource]] = {}
        for r in self.stack.resources:
            refs = out.setdefault(r.type, {})
            values = (r.state.get("arn"), r.state.get("name"), r.inputs.get("name"), r.id, r.state.get("url"), r.state.get("qualifiedArn"))
            for value in values:
                if isinstance(value, str) and value:
                    refs.setdefault(value, r)
        return out

    def find(self, type_: str, reference: Any) -> RecordedResource | None:
        """The resource of `type_` that `reference` points at: its ARN, name, id or URL; for a
        function also a qualified ARN (`...:function:f:$LATEST`) or an API Gateway invoke ARN."""
        if not isinstance(reference, str) or not reference:
            return None
        refs = self._by_reference.get(type_, {})
        found = refs.get(reference)
        if found is None and type_ == FUNCTION:
            if (invoke := INVOKE_ARN.match(reference)) is not None:
                return self.find(FUNCTION, invoke["arn"])
            if reference.startswith("arn:") and reference.count(":") == 7:
                found = refs.get(reference.rsplit(":", 1)[0])  # a qualified function ARN
        return found

    def referencing(self, type_: str, key: str, value: Any) -> list[RecordedResource]:
        """The resources of `type_` whose (top-level, string) input `key` equals `value`, e.g.
        the routes of an API: `referencing(ROUTE, "apiId", api.id)`. Indexed per (type, key)."""
        index = self._by_input.get((type_, key))
        if index is None:
            index = {}
            for r in self.of_type(type_):
                v = r.inputs.get(key)
                if isinstance(v, str):
                    index.setdefault(v, []).append(r)
            self._by_input[(type_, key)] = index
        return index.get(value, []) if isinstance(value, str) else []

    def resolved(self, type_: str, key: str, target_type: str) -> dict[str, list[RecordedResource]]:
        """URN of a `target_type` resource -> the resources of `type_` whose input `key`
        references it (by any value `find` resolves), e.g. the invoke configs of each
        function: `resolved(EVENT_INVOKE_CONFIG, "functionName", FUNCTION)`."""
        out: dict[str, list[RecordedResource]] = {}
        for r in self.of_type(type_):
            target = self.find(target_type, get(r.inputs, *key.split(".")))
            if target is not None:
                out.setdefault(target.urn, []).append(r)
        return out

    # -- streams ------------------------------------------------------------------------------------

    @cached_property
    def _tables_by_stream(self) -> dict[str, RecordedResource]:
        return {t.state["streamArn"]: t for t in self.of_type(TABLE) if isinstance(t.state.get("streamArn"), str)}

    def table_of_stream(self, stream_arn: Any) -> RecordedResource | None:
        """The table whose stream ARN is `stream_arn`."""
        return self._tables_by_stream.get(stream_arn) if isinstance(stream_arn, str) else None

    # -- the tree (for callers that want a component's subtree) -------------------------------------

    @cached_property
    def _children(self) -> dict[str | None, list[RecordedResource]]:
        out: dict[str | None, list[RecordedResource]] = {}
        for r in self.stack.resources:
            out.setdefault(r.parent_urn, []).append(r)
        return out

    def descendants(self, root: RecordedResource) -> list[RecordedResource]:
        """Every resource below `root`, at any depth (children of child components included)."""
        out, frontier = [], [root.urn]
        while frontier:
            found = [c for urn in frontier for c in self._children.get(urn, [])]
            out += found
            frontier = [c.urn for c in found]
        return out

    physical_name = staticmethod(physical_name)
