"""Rules on DynamoDB tables: the Events table append-only and durable, every table encrypted.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._policy_core import Violation
from ._policy_view import (
    TABLE,
    ArnIndex,
    StackView,
    get,
)
from .harness import RecordedStack

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
        return len(StackView.of(stack).events_tables)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        tables = [(t, t.state.get("arn", "")) for t in view.events_tables]
        by_arn = ArnIndex((arn, t) for t, arn in tables)  # a statement reaches only the tables it names
        out = []
        for doc in view.identity_documents:
            for s in doc.statements:
                actions = [a for a in self.forbidden_actions if s.allow and s.grants_action(a)]
                if not actions:
                    continue
                covered = by_arn.covered_by(s)
                granted = [a for a in actions if covered]
                if granted:
                    names = sorted(t.name for t in covered)
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
        return len(StackView.of(stack).events_tables)

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
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
        return len(StackView.of(stack).of_type(TABLE))

    def check(self, stack: RecordedStack) -> list[Violation]:
        return [
            Violation.of(self.id, t, "server_side_encryption.enabled is not true")
            for t in StackView.of(stack).of_type(TABLE)
            if get(t.inputs, "serverSideEncryption", "enabled") is not True
        ]
