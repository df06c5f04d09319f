"""References to things that already exist: the one "create it or use an existing one" idiom.

Every component argument for something the component could create is one field typed
`<Thing>Ref | None`:

- `None`: the component creates it (as a child), and exposes it as a `<Thing>Ref` through its
  `ref` (or `<thing>_ref`) attribute, so it can be handed to the next component;
- a `<Thing>Ref`: the component uses that one and creates none of it.

An argument for something a component never creates (the bus of a service, the Events table
of a projection) is the same Ref type, required. A Ref is plain data (`pulumi.Input` fields):
build it by hand (ARNs from config), take it from a component (`bus.ref`,
`table.ref`), or read it from another stack with `stack="org/project/stack"`: the
component that uses it then reads the stack's outputs through a `pulumi.StackReference`
child named `<component>-stack` (output names: the field names, or `stack_outputs`).

This replaces the four earlier ways (`SharedEventBus.from_stack_reference` and
`existing_bus_*`, the `EventBusLike` protocol, `kms_key_arn`/`existing_vault_name`, and
`jwt=None` vs an issuer); `SharedEventBus.from_arn/from_name/from_stack_reference` remain
as shortcuts that build an `EventBusRef`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

import pulumi

_REF_META = ("stack", "stack_outputs")
#: Identifiers a referenced stack may leave out (read with `get_output`, not `require_output`).
_OPTIONAL_OUTPUTS = frozenset({"stream_arn"})


@dataclass(frozen=True, kw_only=True)
class EventBusRef:
    """An existing EventBridge bus. Give `bus_arn` (the name is read from it), `bus_name`
    (a bus of this account and region: the ARN is built), both, or `stack`."""

    bus_name: pulumi.Input[str] | None = None
    """The bus name."""
    bus_arn: pulumi.Input[str] | None = None
    """The bus ARN."""
    stack: str | None = None
    """A stack (`org/project/stack`) that exports `bus_name` and `bus_arn`."""
    stack_outputs: Mapping[str, str] = field(default_factory=dict)
    """Output names of `stack` when they are not the field names, e.g. `{"bus_name": "shared_bus"}`."""

    @classmethod
    def from_arn(cls, arn: pulumi.Input[str]) -> "EventBusRef":
        """A bus known by ARN (its name is read from the ARN)."""
        return cls(bus_arn=arn)

    @classmethod
    def from_name(cls, bus_name: pulumi.Input[str]) -> "EventBusRef":
        """A bus of this account and region, known by name."""
        return cls(bus_name=bus_name)

    @classmethod
    def from_stack_reference(cls, stack: str, *, name_output: str = "bus_name", arn_output: str = "bus_arn") -> "EventBusRef":
        """The bus another stack owns and exports (e.g. `acme/platform/prod`)."""
        return cls(stack=stack, stack_outputs={"bus_name": name_output, "bus_arn": arn_output})

    @classmethod
    def of(cls, bus: Any) -> "EventBusRef":
        """`bus` as an `EventBusRef`: a Ref is returned as is; anything else with `bus_name` and
        `bus_arn` (a `SharedEventBus`) is read."""
        if isinstance(bus, EventBusRef):
            return bus
        if hasattr(bus, "bus_name") and hasattr(bus, "bus_arn"):
            return cls(bus_name=bus.bus_name, bus_arn=bus.bus_arn)
        raise TypeError(f"bus must be an EventBusRef or a SharedEventBus, not {type(bus).__name__}")

    def validate(self) -> None:
        _check_one_source("bus", self, ("bus_name", "bus_arn"))


@dataclass(frozen=True, kw_only=True)
class KmsKeyRef:
    """An existing customer-managed KMS key. Its policy must let CloudWatch Logs and
    EventBridge use it the way `acme_eventsourcing._kms.key_policy` does."""

    key_arn: pulumi.Input[str] | None = None
    """The key ARN."""
    stack: str | None = None
    """A stack that exports `key_arn`."""
    stack_outputs: Mapping[str, str] = field(default_factory=dict)
    """Output names of `stack` when they are not the field names."""

    def validate(self) -> None:
        _check_one_source("kms key", self, ("key_arn",))


@dataclass(frozen=True, kw_only=True)
class TableRef:
    """An existing DynamoDB table (e.g. a service's Events table, for a projection used alone)."""

    table_name: pulumi.Input[str] | None = None
    """The table name."""
    table_arn: pulumi.Input[str] | None = None
    """The table ARN."""
    stream_arn: pulumi.Input[str] | None = None
    """Its stream ARN (the publisher reads it)."""
    stack: str | None = None
    """A stack that exports `table_name`, `table_arn` (and `stream_arn`)."""
    stack_outputs: Mapping[str, str] = field(default_factory=dict)
    """Output names of `stack` when they are not the field names."""

    def validate(self) -> None:
        if self.stack is None and (self.table_name is None or self.table_arn is None):
            raise ValueError("a table reference needs table_name and table_arn, or stack")


@dataclass(frozen=True, kw_only=True)
class BackupVaultRef:
    """An existing AWS Backup vault."""

    vault_name: pulumi.Input[str] | None = None
    """The vault name."""
    stack: str | None = None
    """A stack that exports `vault_name`."""
    stack_outputs: Mapping[str, str] = field(default_factory=dict)
    """Output names of `stack` when they are not the field names."""

    def validate(self) -> None:
        _check_one_source("backup vault", self, ("vault_name",))


@dataclass(frozen=True, kw_only=True)
class JwtIssuerRef:
    """An existing OIDC issuer (e.g. a Cognito pool another stack owns).

    `identity_claim` is the one claim the API functions take the caller's identity from
    (no fallback to another claim). Name only a claim users cannot change at the issuer:
    `sub`, or an attribute the issuer's owner keeps immutable and out of every client's
    `write_attributes` (the policy rules COG001/COG002 check that in the stack that owns the pool)."""

    issuer: pulumi.Input[str] | None = None
    """The issuer URL (`https://cognito-idp.<region>.amazonaws.com/<pool id>`)."""
    audiences: Sequence[pulumi.Input[str]] = ()
    """The app client ids (token audiences) the API accepts."""
    identity_claim: str = "sub"
    """The claim that identifies the caller."""
    stack: str | None = None
    """A stack that exports `issuer` (audiences are given here)."""
    stack_outputs: Mapping[str, str] = field(default_factory=dict)
    """Output names of `stack` when they are not the field names."""


R = TypeVar("R")


def _check_one_source(what: str, ref: Any, identifiers: Sequence[str]) -> None:
    given = [n for n in identifiers if getattr(ref, n) is not None]
    if ref.stack is not None and given:
        raise ValueError(f"a {what} reference gives stack or {'/'.join(identifiers)}, not both ({given})")
    if ref.stack is None and not given:
        raise ValueError(f"a {what} reference needs {' or '.join(identifiers)}, or stack")
    unknown = set(ref.stack_outputs) - {f.name for f in fields(ref)} - set(_REF_META)
    if unknown:
        raise ValueError(f"stack_outputs names {sorted(unknown)}, which are not fields of the {what} reference")


def resolve(ref: R, *, name: str, parent: pulumi.Resource) -> tuple[R, pulumi.StackReference | None]:
    """`ref` with its identifiers read from its `stack` (a `pulumi.StackReference` child of
    `parent` named `<name>-stack`, returned too); a Ref without `stack` is returned as is."""
    stack = getattr(ref, "stack", None)
    if stack is None:
        return ref, None
    reference = pulumi.StackReference(f"{name}-stack", stack_name=stack, opts=pulumi.ResourceOptions(parent=parent))
    outputs: Mapping[str, str] = getattr(ref, "stack_outputs", {})
    values = {
        f.name: (reference.get_output if f.name in _OPTIONAL_OUTPUTS else reference.require_output)(outputs.get(f.name, f.name))
        for f in fields(ref)  # type: ignore[arg-type]
        if f.name not in _REF_META and getattr(ref, f.name) is None
    }
    return replace(ref, **values, stack=None, stack_outputs={}), reference  # type: ignore[type-var]


def bus_identifiers(
    ref: EventBusRef, *, name: str, parent: pulumi.Resource
) -> tuple[pulumi.Output[str], pulumi.Output[str], pulumi.StackReference | None]:
    """The bus's name and ARN (the one not given is derived: the name from the ARN, the ARN
    from this account, region and partition), and the StackReference read for `stack`."""
    ref, reference = resolve(ref, name=name, parent=parent)
    if ref.bus_name is not None and ref.bus_arn is not None:
        return pulumi.Output.from_input(ref.bus_name), pulumi.Output.from_input(ref.bus_arn), reference
    if ref.bus_arn is not None:
        arn = pulumi.Output.from_input(ref.bus_arn)
        return arn.apply(bus_name_from_arn), arn, reference
    import pulumi_aws as aws

    bus_name = pulumi.Output.from_input(ref.bus_name)
    invoke = pulumi.InvokeOptions(parent=parent)
    arn = pulumi.Output.all(
        aws.get_partition_output(opts=invoke).partition,
        aws.get_region_output(opts=invoke).region,
        aws.get_caller_identity_output(opts=invoke).account_id,
        bus_name,
    ).apply(lambda v: f"arn:{v[0]}:events:{v[1]}:{v[2]}:event-bus/{v[3]}")
    return bus_name, arn, reference  # type: ignore[return-value]


def bus_name_from_arn(arn: str) -> str:
    """`arn:aws:events:<region>:<account>:event-bus/<name>` -> `<name>`."""
    head, sep, bus_name = arn.partition(":event-bus/")
    if not sep or not bus_name or not head.startswith("arn:"):
        raise ValueError(f"not an event bus ARN: {arn!r}")
    return bus_name
