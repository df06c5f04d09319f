"""RetainedTable: safe defaults, each override, forced protection, contradictory args."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from acme_eventsourcing import (
    APPEND_ONLY_DENIED_ACTIONS,
    BackupPlan,
    BackupVaultRef,
    GlobalSecondaryIndex,
    KmsKeyRef,
    RetainedTable,
    RetainedTableArgs,
)
from acme_eventsourcing.testing import RecordedStack, record

TABLE = "aws:dynamodb/table:Table"
POLICY = "aws:dynamodb/resourcePolicy:ResourcePolicy"
KEY = "aws:kms/key:Key"


def _record(args: RetainedTableArgs, opts: pulumi.ResourceOptions | None = None) -> RecordedStack:
    def program() -> None:
        table = RetainedTable("orders", args, opts)
        pulumi.export("table_name", table.table_name)
        pulumi.export("table_arn", table.table_arn)
        pulumi.export("stream_arn", table.stream_arn)

    return record(program)


@pytest.fixture(scope="module")
def defaults() -> RecordedStack:
    return _record(RetainedTableArgs(hash_key="pk"))


@pytest.fixture(scope="module")
def overridden() -> RecordedStack:
    return _record(
        RetainedTableArgs(
            hash_key="stream_id",
            range_key="version",
            range_key_type="N",
            attributes={"gsi1pk": "S", "gsi1sk": "N"},
            global_secondary_indexes=[
                GlobalSecondaryIndex(name="by-gsi1", hash_key="gsi1pk", range_key="gsi1sk", projection_type="KEYS_ONLY")
            ],
            stream_view_type="NEW_IMAGE",
            ttl_attribute="expires_at",
            kms_key=KmsKeyRef(key_arn="arn:aws:kms:us-east-1:123456789012:key/abc"),
            tags={"team": "leave"},
            append_only=True,
            resource_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Sid": "Mine", "Effect": "Deny", "Principal": "*", "Action": "dynamodb:Scan", "Resource": "*"}],
                }
            ),
            backup=BackupPlan(schedule="cron(0 1 * * ? *)", delete_after_days=7),
        ),
        opts=pulumi.ResourceOptions(protect=False),
    )


def test_defaults_are_on_demand_encrypted_recoverable_and_protected(defaults: RecordedStack) -> None:
    table = defaults.one(TABLE, "orders")
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    key = defaults.one(KEY, "orders-key")
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key.state["arn"]}
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["deletionProtectionEnabled"] is True
    assert table.inputs["hashKey"] == "pk" and "rangeKey" not in table.inputs
    assert table.inputs["attributes"] == [{"name": "pk", "type": "S"}]
    assert table.inputs["streamEnabled"] is False
    assert table.options["protect"] is True and table.options["retain_on_delete"] is True


def test_the_default_key_is_the_tables_own_rotated_retained_and_manageable_by_the_account(defaults: RecordedStack) -> None:
    key = defaults.one(KEY, "orders-key")
    assert key.parent_urn == defaults.one("acme:events:RetainedTable", "orders").urn
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    assert key.options["protect"] is True and key.options["retain_on_delete"] is True
    (admin,) = json.loads(key.inputs["policy"])["Statement"]
    assert admin["Sid"] == "AccountAdministersKey" and admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert "kms:PutKeyPolicy" in admin["Action"] and not any("*" in a for a in admin["Action"])


def test_aws_managed_key_is_an_explicit_opt_out_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warnings.append(msg))
    stack = _record(RetainedTableArgs(hash_key="pk", aws_managed_key=True))
    assert stack.one(TABLE, "orders").inputs["serverSideEncryption"] == {"enabled": True}
    assert stack.of_type(KEY) == [] and any("aws_managed_key" in w for w in warnings)


def test_a_destroyable_table_has_a_destroyable_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulumi.log, "warn", lambda *a, **k: None)
    key = _record(RetainedTableArgs(hash_key="pk", allow_destroy=True)).one(KEY, "orders-key")
    assert key.options["protect"] is False and key.options["retain_on_delete"] is False


def test_defaults_create_only_the_table_and_its_key_and_export_its_name_and_arn(defaults: RecordedStack) -> None:
    assert [r.type for r in defaults.resources if r.custom] == [KEY, TABLE]
    table = defaults.one(TABLE, "orders")
    assert table.parent_urn == defaults.one("acme:events:RetainedTable", "orders").urn
    assert defaults.outputs == {"table_name": table.state["name"], "table_arn": table.state["arn"], "stream_arn": None}


def test_protection_is_forced_even_when_the_component_is_not_protected(overridden: RecordedStack) -> None:
    table = overridden.one(TABLE, "orders")
    assert overridden.one("acme:events:RetainedTable", "orders").options["protect"] is False
    assert table.options["protect"] is True and table.options["retain_on_delete"] is True


def test_overrides_set_keys_indexes_stream_ttl_key_and_tags(overridden: RecordedStack) -> None:
    table = overridden.one(TABLE, "orders")
    assert table.inputs["rangeKey"] == "version"
    assert sorted(table.inputs["attributes"], key=lambda a: a["name"]) == [
        {"name": "gsi1pk", "type": "S"},
        {"name": "gsi1sk", "type": "N"},
        {"name": "stream_id", "type": "S"},
        {"name": "version", "type": "N"},
    ]
    assert table.inputs["globalSecondaryIndexes"] == [
        {
            "name": "by-gsi1",
            "keySchemas": [{"attributeName": "gsi1pk", "keyType": "HASH"}, {"attributeName": "gsi1sk", "keyType": "RANGE"}],
            "projectionType": "KEYS_ONLY",
        }
    ]
    assert table.inputs["streamEnabled"] is True and table.inputs["streamViewType"] == "NEW_IMAGE"
    assert table.inputs["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/abc"}
    assert table.inputs["tags"] == {"team": "leave"}
    assert overridden.outputs["stream_arn"] == table.state["streamArn"]


def test_append_only_denies_item_changes_to_everyone_and_keeps_the_callers_statements(overridden: RecordedStack) -> None:
    table = overridden.one(TABLE, "orders")
    policy = overridden.one(POLICY, "orders-policy")
    assert policy.inputs["resourceArn"] == table.state["arn"]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert statements[0]["Sid"] == "Mine"
    assert statements[1] == {
        "Sid": "DenyChangingOrDeletingItems",
        "Effect": "Deny",
        "Principal": "*",
        "Action": list(APPEND_ONLY_DENIED_ACTIONS),
        "Resource": [table.state["arn"]],
    }
    assert set(APPEND_ONLY_DENIED_ACTIONS) == {
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:PartiQLUpdate",
        "dynamodb:PartiQLDelete",
    }


def test_backup_plan_selects_the_table_with_its_own_role(overridden: RecordedStack) -> None:
    table = overridden.one(TABLE, "orders")
    vault = overridden.one("aws:backup/vault:Vault", "orders-vault")
    plan = overridden.one("aws:backup/plan:Plan", "orders-backup")
    assert plan.inputs["rules"] == [
        {"ruleName": "daily", "targetVaultName": vault.state["name"], "schedule": "cron(0 1 * * ? *)", "lifecycle": {"deleteAfter": 7}}
    ]
    selection = overridden.one("aws:backup/selection:Selection", "orders-backup-selection")
    role = overridden.one("aws:iam/role:Role", "orders-backup-role")
    assert selection.inputs["resources"] == [table.state["arn"]]
    assert selection.inputs["iamRoleArn"] == role.state["arn"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "backup.amazonaws.com"}
    attached = sorted(
        a.inputs["policyArn"].rsplit("/", 1)[1] for a in overridden.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    )
    assert attached == ["AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"]


def test_backup_into_an_existing_vault_creates_no_vault() -> None:
    stack = _record(RetainedTableArgs(hash_key="pk", backup=BackupPlan(vault=BackupVaultRef(vault_name="central"))))
    assert not stack.of_type("aws:backup/vault:Vault")
    assert stack.one("aws:backup/plan:Plan", "orders-backup").inputs["rules"][0]["targetVaultName"] == "central"


def test_a_caller_policy_alone_is_passed_through() -> None:
    doc = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "dynamodb:Scan", "Resource": "*"}]}
    )
    stack = _record(RetainedTableArgs(hash_key="pk", resource_policy=doc))
    assert stack.one(POLICY, "orders-policy").inputs["policy"] == doc


def test_explicit_opt_outs_drop_protection_and_pitr_with_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warnings.append(msg))
    stack = _record(RetainedTableArgs(hash_key="pk", allow_destroy=True, point_in_time_recovery=False))
    table = stack.one(TABLE, "orders")
    assert table.options["protect"] is False and table.options["retain_on_delete"] is False
    assert table.inputs["deletionProtectionEnabled"] is False
    assert table.inputs["pointInTimeRecovery"] == {"enabled": False}
    assert any("allow_destroy" in w for w in warnings) and any("point_in_time_recovery" in w for w in warnings)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hash_key": "pk", "range_key": "pk"}, "range_key must differ"),
        ({"hash_key": "pk", "hash_key_type": "X"}, "use one of S, N, B"),
        ({"hash_key": "pk", "attributes": {"pk": "N"}}, "typed by hash_key_type"),
        ({"hash_key": "pk", "attributes": {"other": "S"}}, "not keys of the table or a GSI"),
        ({"hash_key": "pk", "stream_view_type": "EVERYTHING"}, "stream_view_type"),
        ({"hash_key": "pk", "ttl_attribute": "pk"}, "cannot be a table key"),
        ({"hash_key": "pk", "global_secondary_indexes": [GlobalSecondaryIndex(name="g", hash_key="gpk")]}, "needs its type"),
        (
            {
                "hash_key": "pk",
                "attributes": {"g": "S"},
                "global_secondary_indexes": [GlobalSecondaryIndex(name="i", hash_key="g"), GlobalSecondaryIndex(name="i", hash_key="g")],
            },
            "duplicate GSI names",
        ),
        (
            {
                "hash_key": "pk",
                "attributes": {"g": "S"},
                "global_secondary_indexes": [GlobalSecondaryIndex(name="i", hash_key="g", non_key_attributes=("x",))],
            },
            "INCLUDE only",
        ),
        ({"hash_key": "pk", "backup": BackupPlan(delete_after_days=0)}, "delete_after_days"),
        ({"hash_key": "pk", "kms_key": KmsKeyRef(key_arn="arn:aws:kms:us-east-1:123456789012:key/k"), "aws_managed_key": True}, "not both"),
    ],
)
def test_contradictory_arguments_raise_before_anything_is_created(kwargs: dict[str, Any], message: str) -> None:
    # No mocks are set: constructing would fail on the missing engine if validation came later.
    with pytest.raises(ValueError, match=message):
        RetainedTable("bad", RetainedTableArgs(**kwargs))
