"""SharedEventBus: a custom EventBridge bus with an archive, or a reference to one owned elsewhere."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from . import _iam
from .refs import EventBusRef, bus_identifiers

TYPE_TOKEN = "acme:events:SharedEventBus"

DEFAULT_ARCHIVE_RETENTION_DAYS = 365
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
#: Log types delivered for each bus log level (a level includes the ones below it).
_LOG_TYPES = {"ERROR": ("ERROR_LOGS",), "INFO": ("ERROR_LOGS", "INFO_LOGS"), "TRACE": ("ERROR_LOGS", "INFO_LOGS", "TRACE_LOGS")}
DEFAULT_LOG_RETENTION_DAYS = 30


@dataclass(frozen=True, kw_only=True)
class SharedEventBusArgs:
    """Arguments of `SharedEventBus`: either settings for a new bus, or `existing`, the bus
    owned elsewhere (see `acme_eventsourcing.refs` for the create-or-use idiom)."""

    # -- creating a bus --
    #: Days the archive keeps events; None = 365; 0 = indefinitely.
    archive_retention_days: int | None = None
    #: Accounts allowed to put events on the bus (bus policy, principal = account root).
    allowed_account_ids: Sequence[str] = ()
    #: An AWS Organization whose accounts may put events (principal "*" conditioned on
    #: aws:PrincipalOrgID). A bare "*" principal is never granted.
    allowed_organization_id: str | None = None
    #: Bus logging (EventBridge bus log_config: ERROR, INFO or TRACE) delivered to a log
    #: group; None = off.
    log_level: str | None = None
    #: Retention of the bus log group; None = 30 days.
    log_retention_days: int | None = None
    description: str | None = None
    #: A customer-managed KMS key (ARN) for the bus's events and its log group; None = the
    #: AWS-owned key (see the class doc for why that is the default of a shared bus).
    kms_key_identifier: pulumi.Input[str] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # -- wrapping an existing bus (creates nothing) --
    existing: EventBusRef | None = None
    """The bus owned elsewhere (by ARN, by name, or exported by another stack); None = create one."""

    @property
    def wraps_existing(self) -> bool:
        return self.existing is not None

    def validate(self) -> None:
        """Raise ValueError for contradictory settings (before anything is created)."""
        if self.existing is not None:
            self.existing.validate()
            creating = [
                n
                for n, v in (
                    ("archive_retention_days", self.archive_retention_days),
                    ("allowed_account_ids", self.allowed_account_ids or None),
                    ("allowed_organization_id", self.allowed_organization_id),
                    ("log_level", self.log_level),
                    ("log_retention_days", self.log_retention_days),
                    ("description", self.description),
                    ("kms_key_identifier", self.kms_key_identifier),
                    ("tags", self.tags or None),
                )
                if v is not None
            ]
            if creating:
                raise ValueError(f"existing wraps a bus this stack does not own; drop {creating}")
            return
        if self.archive_retention_days is not None and self.archive_retention_days < 0:
            raise ValueError("archive_retention_days must be >= 0 (0 keeps events indefinitely)")
        for account in self.allowed_account_ids:
            if not _ACCOUNT_ID.match(account):
                raise ValueError(
                    f"allowed_account_ids: {account!r} is not a 12-digit account id "
                    "(a '*' principal is never granted; use allowed_organization_id)"
                )
        if self.allowed_organization_id is not None and not _ORG_ID.match(self.allowed_organization_id):
            raise ValueError(f"allowed_organization_id {self.allowed_organization_id!r} is not an organization id (o-...)")
        if self.log_level is not None and self.log_level not in _LOG_TYPES:
            raise ValueError(f"log_level must be one of {sorted(_LOG_TYPES)} or None")
        if self.log_retention_days is not None and self.log_level is None:
            raise ValueError("log_retention_days needs log_level (bus logging is off)")
        if self.log_retention_days is not None and self.log_retention_days < 1:
            raise ValueError("log_retention_days must be at least 1")


#: The default arguments: a new bus with every default setting.
_NEW_BUS = SharedEventBusArgs()


class SharedEventBus(pulumi.ComponentResource):
    """The bus that bounded contexts publish to and subscribe from.

    Default settings (when it creates the bus):
    - a custom `aws.cloudwatch.EventBus` encrypted with the AWS-owned key unless
      `kms_key_identifier` names a customer-managed key (ARN), which then encrypts the bus log
      group too. The AWS-owned key is the default here (unlike `EventSourcedService`, whose own
      key encrypts its data) because a shared bus is written and read by other stacks and
      accounts: with a customer key every publisher, rule target and archive replay needs that
      key's policy to allow it, which the platform team that owns the key must decide;
    - an `aws.cloudwatch.EventArchive` of every event on it, kept 365 days
      (`archive_retention_days`, 0 = indefinitely), for replay;
    - no bus policy: only this account can put events. `allowed_account_ids` /
      `allowed_organization_id` add an `aws.cloudwatch.EventBusPolicy` granting
      `events:PutEvents` on this bus only; a `*` principal is only ever granted with an
      `aws:PrincipalOrgID` condition;
    - bus logging off; `log_level` turns on the bus `log_config` and delivers its logs
      (CloudWatch Logs delivery source/destination/delivery) to a log group kept 30 days
      (`log_retention_days`), writable only by `delivery.logs.amazonaws.com` for those sources.

    When it wraps an existing bus (`existing`, an `EventBusRef`; or the shortcuts
    `from_arn`, `from_name`, `from_stack_reference`) it creates no cloud resource at all (a
    stack is only read, through the child StackReference `<name>-stack`), and any creation
    setting is a ValueError.

    Children: `bus`, `archive`, `policy`, `log_group` (None when not created), and
    `stack_reference` (the StackReference read for `existing.stack`, else None: read the
    referenced stack's other outputs through it, e.g. the platform's alarm topic, rather than
    declaring a second reference to the same stack); `tags` go to each that takes
    tags. Outputs: `bus_name`, `bus_arn`; `ref` is the bus as an
    `EventBusRef`, for `EventSourcedService` and the child components.
    """

    bus_name: pulumi.Output[str]
    """The bus name."""
    bus_arn: pulumi.Output[str]
    """The bus ARN."""

    def __init__(self, name: str, args: SharedEventBusArgs = _NEW_BUS, opts: pulumi.ResourceOptions | None = None) -> None:
        args = args or SharedEventBusArgs()
        args.validate()
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        self.bus: aws.cloudwatch.EventBus | None = None
        self.archive: aws.cloudwatch.EventArchive | None = None
        self.policy: aws.cloudwatch.EventBusPolicy | None = None
        self.log_group: aws.cloudwatch.LogGroup | None = None
        self.stack_reference: pulumi.StackReference | None = None
        if args.existing is not None:
            self.bus_name, self.bus_arn, self.stack_reference = bus_identifiers(args.existing, name=name, parent=self)
        else:
            self._create(name, args)
        self.ref = EventBusRef(bus_name=self.bus_name, bus_arn=self.bus_arn)
        self.register_outputs({"bus_name": self.bus_name, "bus_arn": self.bus_arn})

    @classmethod
    def from_stack_reference(
        cls,
        name: str,
        stack: str,
        *,
        name_output: str = "bus_name",
        arn_output: str = "bus_arn",
        opts: pulumi.ResourceOptions | None = None,
    ) -> "SharedEventBus":
        """Wrap the bus another stack owns and exports (e.g. `acme/platform/prod`)."""
        return cls(
            name, SharedEventBusArgs(existing=EventBusRef.from_stack_reference(stack, name_output=name_output, arn_output=arn_output)), opts
        )

    @classmethod
    def from_arn(cls, name: str, arn: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> "SharedEventBus":
        """Wrap an existing bus by ARN."""
        return cls(name, SharedEventBusArgs(existing=EventBusRef.from_arn(arn)), opts)

    @classmethod
    def from_name(cls, name: str, bus_name: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> "SharedEventBus":
        """Wrap an existing bus of this account and region by name."""
        return cls(name, SharedEventBusArgs(existing=EventBusRef.from_name(bus_name)), opts)

    def _create(self, name: str, args: SharedEventBusArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        self.bus = aws.cloudwatch.EventBus(
            name,
            description=args.description,
            kms_key_identifier=args.kms_key_identifier,
            log_config=aws.cloudwatch.EventBusLogConfigArgs(level=args.log_level, include_detail="FULL") if args.log_level else None,
            tags=dict(args.tags) or None,
            opts=child,
        )
        retention = DEFAULT_ARCHIVE_RETENTION_DAYS if args.archive_retention_days is None else args.archive_retention_days
        self.archive = aws.cloudwatch.EventArchive(
            f"{name}-archive",
            event_source_arn=self.bus.arn,
            retention_days=retention,
            description=f"Every event on {name}, for replay",
            opts=child,
        )
        statements = []
        if args.allowed_account_ids:
            statements.append(
                _iam.statement(
                    "AllowPutEventsFromAccounts",
                    ["events:PutEvents"],
                    [self.bus.arn],
                    principal={"AWS": [f"arn:aws:iam::{a}:root" for a in args.allowed_account_ids]},
                )
            )
        if args.allowed_organization_id:
            statements.append(
                _iam.statement(
                    "AllowPutEventsFromOrganization",
                    ["events:PutEvents"],
                    [self.bus.arn],
                    principal="*",
                    condition={"StringEquals": {"aws:PrincipalOrgID": args.allowed_organization_id}},
                )
            )
        if statements:
            self.policy = aws.cloudwatch.EventBusPolicy(
                f"{name}-policy", event_bus_name=self.bus.name, policy=_iam.document(statements), opts=child
            )
        if args.log_level:
            self._logging(name, args.log_level, args.log_retention_days or DEFAULT_LOG_RETENTION_DAYS, child)
        self.bus_name: pulumi.Output[str] = self.bus.name
        self.bus_arn: pulumi.Output[str] = self.bus.arn

    def _logging(self, name: str, level: str, retention_days: int, child: pulumi.ResourceOptions) -> None:
        assert self.bus is not None
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name_prefix=f"/aws/vendedlogs/events/{name}-",
            retention_in_days=retention_days,
            kms_key_id=self.args.kms_key_identifier,
            tags=dict(self.args.tags) or None,
            opts=child,
        )
        sources = {
            f"{name}-{log_type.lower().replace('_', '-')}": aws.cloudwatch.LogDeliverySource(
                f"{name}-{log_type.lower().replace('_', '-')}",
                name=self.bus.name.apply(lambda bus, t=log_type: f"EventBusSource-{bus}-{t}"),
                log_type=log_type,
                resource_arn=self.bus.arn,
                tags=dict(self.args.tags) or None,
                opts=child,
            )
            for log_type in _LOG_TYPES[level]
        }
        policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-logs-policy",
            policy_name=self.bus.name.apply(lambda bus: f"EventBusLogs-{bus}"),
            policy_document=_iam.document(
                [
                    _iam.statement(
                        "AllowLogDeliveryFromBusSources",
                        ["logs:CreateLogStream", "logs:PutLogEvents"],
                        [self.log_group.arn.apply(lambda arn: f"{arn}:*")],
                        principal={"Service": "delivery.logs.amazonaws.com"},
                        condition={"ArnLike": {"aws:SourceArn": [s.arn for s in sources.values()]}},
                    )
                ]
            ),
            opts=child,
        )
        destination = aws.cloudwatch.LogDeliveryDestination(
            f"{name}-logs-destination",
            name=self.bus.name.apply(lambda bus: f"EventBusLogs-{bus}"),
            delivery_destination_configuration=aws.cloudwatch.LogDeliveryDestinationDeliveryDestinationConfigurationArgs(
                destination_resource_arn=self.log_group.arn
            ),
            tags=dict(self.args.tags) or None,
            opts=child,
        )
        for source_name, source in sources.items():
            aws.cloudwatch.LogDelivery(
                f"{source_name}-delivery",
                delivery_source_name=source.name,
                delivery_destination_arn=destination.arn,
                tags=dict(self.args.tags) or None,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[policy])),
            )
