"""RetainedTable: a DynamoDB table that survives `pulumi destroy` and mistakes."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

import pulumi
import pulumi_aws as aws

from . import _iam, _kms
from .refs import BackupVaultRef, KmsKeyRef, TableRef, resolve

TYPE_TOKEN = "acme:events:RetainedTable"


class AttributeType(StrEnum):
    """A key attribute's DynamoDB type (the string values are accepted too)."""

    S = "S"
    N = "N"
    B = "B"


class StreamViewType(StrEnum):
    """What a stream record holds (the string values are accepted too)."""

    NEW_IMAGE = "NEW_IMAGE"
    OLD_IMAGE = "OLD_IMAGE"
    NEW_AND_OLD_IMAGES = "NEW_AND_OLD_IMAGES"
    KEYS_ONLY = "KEYS_ONLY"


class ProjectionType(StrEnum):
    """Which attributes a GSI holds (the string values are accepted too)."""

    ALL = "ALL"
    KEYS_ONLY = "KEYS_ONLY"
    INCLUDE = "INCLUDE"


_ATTRIBUTE_TYPES = {"S", "N", "B"}
_STREAM_VIEW_TYPES = {"NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"}
_PROJECTION_TYPES = {"ALL", "KEYS_ONLY", "INCLUDE"}

#: Actions the `append_only` resource policy denies to every principal. BatchWriteItem is
#: authorised as itself (not as PutItem/DeleteItem) and can delete or blindly overwrite an
#: item, so it is denied too; appends use PutItem/TransactWriteItems with a condition.
APPEND_ONLY_DENIED_ACTIONS = (
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
)


@dataclass(frozen=True, kw_only=True)
class GlobalSecondaryIndex:
    """A GSI; key attribute types are declared in `RetainedTableArgs.attributes`."""

    name: str
    hash_key: str
    range_key: str | None = None
    projection_type: ProjectionType = ProjectionType.ALL
    non_key_attributes: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class BackupPlan:
    """An AWS Backup plan for the table: a vault (`vault`: None = a vault of its own, or an
    existing one), a rule, a selection."""

    schedule: str = "cron(0 3 * * ? *)"
    delete_after_days: int = 35
    vault: BackupVaultRef | None = None
    """An existing vault; None = the table gets its own (`backup_vault`)."""


@dataclass(frozen=True, kw_only=True)
class RetainedTableArgs:
    """Arguments of `RetainedTable`; every field except `hash_key` has a safe default."""

    hash_key: str
    hash_key_type: AttributeType = AttributeType.S
    range_key: str | None = None
    range_key_type: AttributeType = AttributeType.S
    #: Types of further attributes used as GSI keys, e.g. {"gsi1pk": "S"}.
    attributes: Mapping[str, AttributeType] = field(default_factory=dict)
    global_secondary_indexes: Sequence[GlobalSecondaryIndex] = ()
    stream_view_type: StreamViewType | None = None
    ttl_attribute: str | None = None
    kms_key: KmsKeyRef | None = None
    """An existing customer-managed KMS key; None = the table gets its own key (child
    `kms_key`: rotated, retained with the table), unless `aws_managed_key`."""
    #: Explicit opt-out: the AWS-managed key `aws/dynamodb` (still KMS, but its policy is AWS's).
    aws_managed_key: bool = False
    #: A DynamoDB resource policy (JSON text). With `append_only` its statements are kept
    #: and the append-only deny is added.
    resource_policy: pulumi.Input[str] | None = None
    #: Deny `APPEND_ONLY_DENIED_ACTIONS` (item updates and deletes) to every principal.
    append_only: bool = False
    backup: BackupPlan | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    #: Explicit opt-out: PITR off.
    point_in_time_recovery: bool = True
    #: Explicit opt-out: no protect, no retain_on_delete, no deletion protection.
    allow_destroy: bool = False

    def validate(self) -> None:
        """Raise ValueError for contradictory or invalid settings (before anything is created)."""
        keys = [self.hash_key] + ([self.range_key] if self.range_key else [])
        if self.range_key == self.hash_key:
            raise ValueError("range_key must differ from hash_key")
        for attr, typ in self._key_types().items():
            if typ not in _ATTRIBUTE_TYPES:
                raise ValueError(f"attribute {attr!r} has type {typ!r}; use one of S, N, B")
        redeclared = set(self.attributes) & set(keys)
        if redeclared:
            raise ValueError(f"table keys {sorted(redeclared)} are typed by hash_key_type/range_key_type, not attributes")
        if self.stream_view_type is not None and _v(self.stream_view_type) not in _STREAM_VIEW_TYPES:
            raise ValueError(f"stream_view_type {self.stream_view_type!r} is not one of {sorted(_STREAM_VIEW_TYPES)}")
        if self.ttl_attribute in keys:
            raise ValueError(f"ttl_attribute {self.ttl_attribute!r} cannot be a table key")
        names = [g.name for g in self.global_secondary_indexes]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate GSI names in {names}")
        used = set(keys)
        for gsi in self.global_secondary_indexes:
            for attr in filter(None, (gsi.hash_key, gsi.range_key)):
                if attr not in self._key_types():
                    raise ValueError(f"GSI {gsi.name!r} key {attr!r} needs its type in attributes")
                used.add(attr)
            if _v(gsi.projection_type) not in _PROJECTION_TYPES:
                raise ValueError(f"GSI {gsi.name!r} projection_type must be one of {sorted(_PROJECTION_TYPES)}")
            if bool(gsi.non_key_attributes) != (gsi.projection_type == "INCLUDE"):
                raise ValueError(f"GSI {gsi.name!r}: non_key_attributes go with projection_type INCLUDE only")
        unused = set(self.attributes) - used
        if unused:
            raise ValueError(f"attributes {sorted(unused)} are not keys of the table or a GSI (DynamoDB rejects them)")
        if self.aws_managed_key and self.kms_key is not None:
            raise ValueError("give kms_key or aws_managed_key=True, not both")
        if self.kms_key is not None:
            self.kms_key.validate()
        if self.backup is not None and self.backup.vault is not None:
            self.backup.vault.validate()
        if self.backup is not None and self.backup.delete_after_days < 1:
            raise ValueError("backup.delete_after_days must be at least 1")

    def _key_types(self) -> dict[str, str]:
        types = {self.hash_key: _v(self.hash_key_type), **{k: _v(t) for k, t in self.attributes.items()}}
        if self.range_key:
            types[self.range_key] = _v(self.range_key_type)
        return types


class RetainedTable(pulumi.ComponentResource):
    """A DynamoDB table that is hard to lose.

    Default settings:
    - billing mode PAY_PER_REQUEST;
    - server-side encryption with a customer-managed KMS key: `kms_key`, or else its own
      key (child `kms_key`: yearly rotation, a policy letting the account administer it and
      IAM decide its users, protected and retained like the table); `aws_managed_key=True`
      is the explicit opt-out to DynamoDB's AWS-managed key (with a warning);
    - point-in-time recovery on (`point_in_time_recovery=False` turns it off, with a warning);
    - `deletion_protection_enabled=True`, and the Pulumi options `protect=True` and
      `retain_on_delete=True` on the table, forced over the component's own options
      (`allow_destroy=True` turns all three off, with a warning);
    - no stream, TTL, GSI, resource policy or backup plan unless asked for;
    - `append_only=True` adds a resource policy denying UpdateItem, DeleteItem,
      BatchWriteItem, PartiQLUpdate and PartiQLDelete to every principal.

    Children: `table`, `kms_key`, `resource_policy`, `backup_vault`, `backup_plan`, `backup_role`,
    `backup_selection` (None when not created); `tags` go to each that takes tags. Outputs:
    `table_name`, `table_arn`, `stream_arn` (None without a stream), `kms_key_arn` (None
    with the AWS-managed key); `ref` is the table as a `TableRef`, for other components.
    """

    table_name: pulumi.Output[str]
    """The table's name."""
    table_arn: pulumi.Output[str]
    """The table's ARN."""
    stream_arn: pulumi.Output[str] | None
    """Its stream's ARN (None without a stream)."""
    kms_key_arn: pulumi.Output[str] | None
    """The key that encrypts it (None with the AWS-managed key)."""

    def __init__(self, name: str, args: RetainedTableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        args.validate()
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        child = pulumi.ResourceOptions(parent=self)
        if args.allow_destroy:
            pulumi.log.warn(f"{name}: allow_destroy=True - the table is neither protected nor retained and can be deleted", resource=self)
        if not args.point_in_time_recovery:
            pulumi.log.warn(f"{name}: point_in_time_recovery=False - no continuous backups", resource=self)

        if args.aws_managed_key:
            pulumi.log.warn(f"{name}: aws_managed_key=True - encrypted with the AWS-managed key, not one you control", resource=self)

        key_types = args._key_types()
        attributes = [aws.dynamodb.TableAttributeArgs(name=n, type=t) for n, t in key_types.items()]
        retained = not args.allow_destroy
        self.kms_key: aws.kms.Key | None = None
        if args.kms_key is None and not args.aws_managed_key:
            self.kms_key = _kms.service_key(
                f"{name}-key", opts=child, description=f"{name} table", log_group_prefixes=(), tags=args.tags, retain=retained
            )
        self.kms_key_arn = (
            self.kms_key.arn
            if self.kms_key is not None
            else (
                None
                if args.kms_key is None
                else pulumi.Output.from_input(resolve(args.kms_key, name=f"{name}-key", parent=self)[0].key_arn)
            )
        )
        self.table = aws.dynamodb.Table(
            name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=args.hash_key,
            range_key=args.range_key,
            attributes=attributes,
            global_secondary_indexes=[
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=g.name,
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=attr, key_type=kind)
                        for attr, kind in ((g.hash_key, "HASH"), (g.range_key, "RANGE"))
                        if attr
                    ],
                    projection_type=_v(g.projection_type),
                    non_key_attributes=list(g.non_key_attributes) or None,
                )
                for g in args.global_secondary_indexes
            ]
            or None,
            stream_enabled=args.stream_view_type is not None,
            stream_view_type=_v(args.stream_view_type),
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=args.ttl_attribute, enabled=True) if args.ttl_attribute else None,
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True, kms_key_arn=self.kms_key_arn),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=args.point_in_time_recovery),
            deletion_protection_enabled=retained,
            tags=dict(args.tags) or None,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=retained, retain_on_delete=retained)),
        )

        self.resource_policy: aws.dynamodb.ResourcePolicy | None = None
        policy = self._policy_document(args)
        if policy is not None:
            self.resource_policy = aws.dynamodb.ResourcePolicy(f"{name}-policy", resource_arn=self.table.arn, policy=policy, opts=child)

        self.backup_vault: aws.backup.Vault | None = None
        self.backup_plan: aws.backup.Plan | None = None
        self.backup_role: aws.iam.Role | None = None
        self.backup_selection: aws.backup.Selection | None = None
        if args.backup is not None:
            self._backup(name, args.backup, child)

        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.stream_arn = self.table.stream_arn if args.stream_view_type else None
        self.ref = TableRef(table_name=self.table_name, table_arn=self.table_arn, stream_arn=self.stream_arn)
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn, "stream_arn": self.stream_arn})

    def _policy_document(self, args: RetainedTableArgs) -> pulumi.Output[str] | None:
        if not args.append_only:
            return pulumi.Output.from_input(args.resource_policy) if args.resource_policy is not None else None
        deny = _iam.statement(
            "DenyChangingOrDeletingItems",
            APPEND_ONLY_DENIED_ACTIONS,
            [self.table.arn],
            effect="Deny",
            principal="*",
        )
        if args.resource_policy is None:
            return _iam.document([deny])

        def merge(user_json: str, resolved_deny: dict[str, Any]) -> str:
            user = json.loads(user_json)
            statements = user.get("Statement", [])
            statements = [statements] if isinstance(statements, dict) else list(statements)
            return json.dumps({**user, "Version": user.get("Version", "2012-10-17"), "Statement": [*statements, resolved_deny]})

        return pulumi.Output.all(pulumi.Output.from_input(args.resource_policy), pulumi.Output.from_input(deny)).apply(
            lambda v: merge(v[0], v[1])
        )

    def _backup(self, name: str, plan: BackupPlan, child: pulumi.ResourceOptions) -> None:
        tags = dict(self.args.tags) or None
        if plan.vault is None:
            self.backup_vault = aws.backup.Vault(f"{name}-vault", kms_key_arn=self.kms_key_arn, tags=tags, opts=child)
            vault_name: pulumi.Input[str] = self.backup_vault.name
        else:
            vault_name = resolve(plan.vault, name=f"{name}-vault", parent=self)[0].vault_name  # type: ignore[assignment]
        self.backup_plan = aws.backup.Plan(
            f"{name}-backup",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name="daily",
                    target_vault_name=vault_name,
                    schedule=plan.schedule,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=plan.delete_after_days),
                )
            ],
            tags=tags,
            opts=child,
        )
        self.backup_role = aws.iam.Role(
            f"{name}-backup-role", assume_role_policy=_iam.assume_role_policy("backup.amazonaws.com"), tags=tags, opts=child
        )
        for suffix, policy in (("backup", "AWSBackupServiceRolePolicyForBackup"), ("restore", "AWSBackupServiceRolePolicyForRestores")):
            aws.iam.RolePolicyAttachment(
                f"{name}-backup-role-{suffix}",
                role=self.backup_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/service-role/{policy}",
                opts=child,
            )
        self.backup_selection = aws.backup.Selection(
            f"{name}-backup-selection",
            plan_id=self.backup_plan.id,
            iam_role_arn=self.backup_role.arn,
            resources=[self.table.arn],
            opts=child,
        )


def _v(member: Any) -> Any:
    """An enum member's value (a plain string given for it is returned as is)."""
    return member.value if isinstance(member, Enum) else member
