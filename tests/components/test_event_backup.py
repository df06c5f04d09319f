"""EventBackup: rule -> Firehose -> a retained, versioned, encrypted, access-logged S3 bucket,
each property read from the recorded resources; tags everywhere; zero policy violations."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest
from acme_eventsourcing import BackupLifecycle, EventBackup, EventBackupArgs, EventBusRef, KmsKeyRef, SharedEventBus, SharedEventBusArgs
from acme_eventsourcing.local.filters import Pattern
from acme_eventsourcing.testing import RecordedResource, RecordedStack, check_stack, record

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_tags import takes_tags  # noqa: E402

BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
QUEUE = "aws:sqs/queue:Queue"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARMS_TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"
TAGS = {"team": "platform", "stack": "test"}
#: What stays in the account when the component or the stack is removed.
RETAINED_TYPES = {BUCKET, VERSIONING, ENCRYPTION, PUBLIC_ACCESS, OWNERSHIP, BUCKET_POLICY, LIFECYCLE, LOGGING, KEY}


def _record(args: EventBackupArgs | None = None, **fields: Any) -> RecordedStack:
    def program() -> None:
        bus = SharedEventBus("bus", SharedEventBusArgs(tags=TAGS))
        backup = EventBackup(
            "backup", args or EventBackupArgs(bus=bus.ref, alarm_actions=(ALARMS_TOPIC,), tags=TAGS, **fields), pulumi.ResourceOptions()
        )
        for output in ("bucket_name", "bucket_arn", "delivery_stream_name", "delivery_stream_arn", "rule_name"):
            pulumi.export(output, getattr(backup, output))

    return record(program)


@pytest.fixture(scope="module")
def stack() -> RecordedStack:
    return _record()


def _statements(document: str) -> list[dict[str, Any]]:
    return json.loads(document)["Statement"]


def _sid(document: str, sid: str) -> dict[str, Any]:
    return next(s for s in _statements(document) if s.get("Sid") == sid)


def _of_bucket(stack: RecordedStack, type_: str, bucket: RecordedResource) -> RecordedResource:
    found = [r for r in stack.of_type(type_) if r.inputs.get("bucket") == bucket.id]
    assert len(found) == 1, (type_, bucket.name, found)
    return found[0]


def test_outputs_name_the_bucket_stream_and_rule(stack):
    bucket, stream, rule = stack.one(BUCKET, "backup-bucket"), stack.one(STREAM, "backup-stream"), stack.one(RULE, "backup-rule")
    assert stack.outputs == {
        "bucket_name": bucket.state["bucket"],
        "bucket_arn": bucket.state["arn"],
        "delivery_stream_name": stream.state["name"],
        "delivery_stream_arn": stream.state["arn"],
        "rule_name": rule.state["name"],
    }


def test_the_rule_matches_every_event_on_the_bus_whatever_its_source_or_account(stack):
    rule = stack.one(RULE, "backup-rule")
    assert rule.inputs["eventBusName"] == stack.one("aws:cloudwatch/eventBus:EventBus", "bus").state["name"]
    pattern = Pattern.parse(rule.inputs["eventPattern"])
    for source, account in (("acme.leave", "123456789012"), ("acme.orders", "210987654321"), ("aws.s3", "999999999999"), ("x", "1")):
        assert pattern.matches({"source": source, "account": account, "detail-type": "Anything", "detail": {}})


def test_sources_narrow_the_rule(stack):
    narrowed = _record(sources=("acme.leave",))
    pattern = Pattern.parse(narrowed.one(RULE, "backup-rule").inputs["eventPattern"])
    assert pattern.matches({"source": "acme.leave", "detail-type": "X", "detail": {}})
    assert not pattern.matches({"source": "acme.orders", "detail-type": "X", "detail": {}})


def test_the_target_is_the_stream_through_a_role_that_may_only_put_records_on_it(stack):
    target, stream = stack.one(TARGET, "backup-target"), stack.one(STREAM, "backup-stream")
    role = stack.one(ROLE, "backup-events-role")
    assert target.inputs["arn"] == stream.state["arn"]
    assert target.inputs["roleArn"] == role.state["arn"]
    assert target.inputs["rule"] == stack.one(RULE, "backup-rule").state["name"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    policy = stack.one(ROLE_POLICY, "backup-events-policy")
    assert policy.inputs["role"] == role.id
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in _statements(policy.inputs["policy"])] == [
        ("Allow", ["firehose:PutRecord", "firehose:PutRecordBatch"], [stream.state["arn"]])
    ]


def test_the_target_retries_then_dead_letters_to_an_encrypted_queue_the_rule_alone_may_send_to(stack):
    target, dlq = stack.one(TARGET, "backup-target"), stack.one(QUEUE, "backup-dlq")
    assert target.inputs["retryPolicy"] == {"maximumRetryAttempts": 185, "maximumEventAgeInSeconds": 86400}
    assert target.inputs["deadLetterConfig"] == {"arn": dlq.state["arn"]}
    assert dlq.inputs["kmsMasterKeyId"] == stack.one(KEY, "backup-key").state["arn"]
    send = _sid(stack.one("aws:sqs/queuePolicy:QueuePolicy", "backup-dlq-policy").inputs["policy"], "AllowRuleDeadLetters")
    assert send["Principal"] == {"Service": "events.amazonaws.com"}
    assert send["Condition"] == {"ArnEquals": {"aws:SourceArn": stack.one(RULE, "backup-rule").state["arn"]}}
    key_policy = json.loads(stack.one(KEY, "backup-key").inputs["policy"])
    events = next(s for s in key_policy["Statement"] if s["Sid"] == "EventBridgeSendsToDeadLetterQueues")
    assert events["Condition"]["ArnLike"]["aws:SourceArn"] == [stack.one(RULE, "backup-rule").state["arn"].rsplit("/", 1)[0] + "/backup-*"]


def test_the_stream_delivers_encrypted_partitioned_json_lines_to_the_bucket(stack):
    stream, bucket, key = stack.one(STREAM, "backup-stream"), stack.one(BUCKET, "backup-bucket"), stack.one(KEY, "backup-key")
    i = stream.inputs
    assert i["destination"] == "extended_s3"
    assert i["serverSideEncryption"] == {"enabled": True, "keyType": "CUSTOMER_MANAGED_CMK", "keyArn": key.state["arn"]}
    s3 = i["extendedS3Configuration"]
    assert s3["bucketArn"] == bucket.state["arn"]
    assert s3["roleArn"] == stack.one(ROLE, "backup-delivery-role").state["arn"]
    assert s3["kmsKeyArn"] == key.state["arn"]
    assert s3["prefix"] == "events/source=!{partitionKeyFromQuery:source}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    assert (
        s3["errorOutputPrefix"] == "errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    )
    assert (s3["bufferingInterval"], s3["bufferingSize"], s3["compressionFormat"], s3["customTimeZone"]) == (300, 64, "GZIP", "UTC")
    assert s3["dynamicPartitioningConfiguration"] == {"enabled": True, "retryDuration": 300}
    processors = {
        p["type"]: {x["parameterName"]: x["parameterValue"] for x in p["parameters"]} for p in s3["processingConfiguration"]["processors"]
    }
    assert s3["processingConfiguration"]["enabled"] is True
    assert processors == {
        "MetadataExtraction": {"JsonParsingEngine": "JQ-1.6", "MetadataExtractionQuery": "{source:.source}"},
        "AppendDelimiterToRecord": {"Delimiter": "\\n"},
    }
    logs = stack.one(LOG_GROUP, "backup-delivery-logs")
    assert s3["cloudwatchLoggingOptions"] == {"enabled": True, "logGroupName": logs.state["name"], "logStreamName": "S3Delivery"}
    assert logs.inputs["kmsKeyId"] == key.state["arn"] and logs.inputs["retentionInDays"] == 30
    assert logs.inputs["namePrefix"] == "/aws/kinesisfirehose/backup-"


def test_the_delivery_role_may_only_write_the_backup_prefixes_and_use_the_key_for_that_bucket(stack):
    role, bucket = stack.one(ROLE, "backup-delivery-role"), stack.one(BUCKET, "backup-bucket")
    arn, key = bucket.state["arn"], stack.one(KEY, "backup-key").state["arn"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "firehose.amazonaws.com"}
    policy = stack.one(ROLE_POLICY, "backup-delivery-policy").inputs["policy"]
    statements = {s["Sid"]: s for s in _statements(policy)}
    assert set(statements) == {"WriteBackupObjects", "LocateBucketAndUploads", "EncryptBackupObjects", "LogDeliveryErrors"}
    assert statements["WriteBackupObjects"]["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert statements["WriteBackupObjects"]["Resource"] == [f"{arn}/events/*", f"{arn}/errors/*"]
    assert statements["LocateBucketAndUploads"]["Resource"] == [arn]
    assert not any(a in ("s3:GetObject", "s3:DeleteObject", "s3:ListBucket") for s in statements.values() for a in s["Action"])
    kms = statements["EncryptBackupObjects"]
    assert (kms["Action"], kms["Resource"]) == (["kms:GenerateDataKey", "kms:Decrypt"], [key])
    assert kms["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    assert kms["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"] == [arn, f"{arn}/events/*", f"{arn}/errors/*"]
    logs = stack.one(LOG_GROUP, "backup-delivery-logs").state["arn"]
    assert statements["LogDeliveryErrors"]["Resource"] == [f"{logs}:log-stream:S3Delivery"]


def test_the_bucket_is_versioned_kms_encrypted_private_owner_enforced_and_tls_only(stack):
    bucket, key = stack.one(BUCKET, "backup-bucket"), stack.one(KEY, "backup-key")
    assert bucket.inputs["forceDestroy"] is False
    assert _of_bucket(stack, VERSIONING, bucket).inputs["versioningConfiguration"] == {"status": "Enabled"}
    assert _of_bucket(stack, ENCRYPTION, bucket).inputs["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.state["arn"]}, "bucketKeyEnabled": True}
    ]
    block = _of_bucket(stack, PUBLIC_ACCESS, bucket).inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert _of_bucket(stack, OWNERSHIP, bucket).inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    deny = _sid(_of_bucket(stack, BUCKET_POLICY, bucket).inputs["policy"], "DenyInsecureTransport")
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", ["s3:*"])
    assert deny["Resource"] == [bucket.state["arn"], f"{bucket.state['arn']}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_bucket_moves_to_colder_storage_and_expires_old_versions(stack):
    rule = _of_bucket(stack, LIFECYCLE, stack.one(BUCKET, "backup-bucket")).inputs["rules"][0]
    assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}
    assert [(t["days"], t["storageClass"]) for t in rule["transitions"]] == [(30, "STANDARD_IA"), (90, "GLACIER_IR")]
    assert "expiration" not in rule  # the backup is kept for ever by default
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_the_lifecycle_is_configurable():
    lifecycle = BackupLifecycle(deep_archive_after_days=365, expire_after_days=3650, noncurrent_versions_expire_after_days=30)
    stack = _record(lifecycle=lifecycle)
    rule = _of_bucket(stack, LIFECYCLE, stack.one(BUCKET, "backup-bucket")).inputs["rules"][0]
    assert [(t["days"], t["storageClass"]) for t in rule["transitions"]] == [(30, "STANDARD_IA"), (90, "GLACIER_IR"), (365, "DEEP_ARCHIVE")]
    assert rule["expiration"] == {"days": 3650}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}


def test_access_is_logged_to_a_separate_private_encrypted_bucket_with_its_own_lifecycle(stack):
    bucket, logs = stack.one(BUCKET, "backup-bucket"), stack.one(BUCKET, "backup-access-logs")
    logging = _of_bucket(stack, LOGGING, bucket).inputs
    assert (logging["targetBucket"], logging["targetPrefix"]) == (logs.id, "s3-access/")
    assert _of_bucket(stack, ENCRYPTION, logs).inputs["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    block = _of_bucket(stack, PUBLIC_ACCESS, logs).inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert _of_bucket(stack, OWNERSHIP, logs).inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    policy = _of_bucket(stack, BUCKET_POLICY, logs).inputs["policy"]
    assert _sid(policy, "DenyInsecureTransport")["Resource"] == [logs.state["arn"], f"{logs.state['arn']}/*"]
    allow = _sid(policy, "AllowServerAccessLogsOfTheBackupBucket")
    assert (allow["Principal"], allow["Action"], allow["Resource"]) == (
        {"Service": "logging.s3.amazonaws.com"},
        ["s3:PutObject"],
        [f"{logs.state['arn']}/s3-access/*"],
    )
    assert allow["Condition"] == {"ArnLike": {"aws:SourceArn": bucket.state["arn"]}, "StringEquals": {"aws:SourceAccount": "123456789012"}}
    rule = _of_bucket(stack, LIFECYCLE, logs).inputs["rules"][0]
    assert rule["expiration"] == {"days": 365} and rule["status"] == "Enabled"


def test_buckets_their_settings_and_the_key_are_protected_and_retained(stack):
    retained = [r for r in stack.resources if r.type in RETAINED_TYPES]
    settings = ("versioning", "encryption", "public-access-block", "ownership", "policy", "lifecycle")
    expected = {"backup-key", "backup-bucket-logging"} | {
        f"backup-{b}{s}" for b in ("bucket", "access-logs") for s in ("", *(f"-{x}" for x in settings))
    }
    assert {r.name for r in retained} == expected
    for r in retained:
        assert r.options["protect"] is True and r.options["retain_on_delete"] is True, r.name
    others = [r for r in stack.resources if r.custom and r.type not in RETAINED_TYPES and r.name.startswith("backup")]
    assert others and not any(r.options["protect"] for r in others)  # the stream, rule, roles: re-creatable


def test_allow_destroy_lets_a_test_stack_remove_everything():
    stack = _record(allow_destroy=True)
    for r in stack.resources:
        if r.type in RETAINED_TYPES:
            assert r.options["protect"] is False and r.options["retain_on_delete"] is False, r.name
    assert stack.one(BUCKET, "backup-bucket").inputs["forceDestroy"] is True


def test_alarms_cover_delivery_freshness_target_failures_and_the_dlq(stack):
    stream, rule = stack.one(STREAM, "backup-stream"), stack.one(RULE, "backup-rule")
    alarms = {a.name: a.inputs for a in stack.of_type(ALARM) if a.name.startswith("backup")}
    assert set(alarms) == {"backup-delivery-failing", "backup-freshness", "backup-failed-invocations", "backup-dlq-depth"}
    for a in alarms.values():
        assert a["alarmActions"] == [ALARMS_TOPIC] and a["okActions"] == [ALARMS_TOPIC]
    failing = alarms["backup-delivery-failing"]
    assert (failing["namespace"], failing["metricName"], failing["comparisonOperator"], failing["threshold"]) == (
        "AWS/Firehose",
        "DeliveryToS3.Success",
        "LessThanThreshold",
        1,
    )
    assert failing["dimensions"] == {"DeliveryStreamName": stream.state["name"]}
    fresh = alarms["backup-freshness"]
    assert (fresh["metricName"], fresh["statistic"], fresh["threshold"]) == ("DeliveryToS3.DataFreshness", "Maximum", 900)
    failed = alarms["backup-failed-invocations"]
    assert (failed["namespace"], failed["metricName"], failed["threshold"]) == ("AWS/Events", "FailedInvocations", 0)
    assert failed["dimensions"] == {"EventBusName": rule.inputs["eventBusName"], "RuleName": rule.state["name"]}


def test_every_resource_that_takes_tags_carries_them(stack):
    checked = [r for r in stack.resources if r.custom and not r.type.startswith("pulumi:") and takes_tags(r.type)]
    assert len(checked) > 10
    assert {BUCKET, STREAM, RULE, ROLE, QUEUE, ALARM, KEY, LOG_GROUP} <= {r.type for r in checked}
    assert [r.name for r in checked if r.inputs.get("tags") != TAGS] == []


def test_the_policy_rules_find_no_violation(stack):
    report = check_stack(stack)
    assert [str(v) for result in report.results for v in result.violations] == []
    assert sum(r.checked for r in report.results) > 10


def test_an_existing_key_is_used_everywhere_and_none_is_created():
    key = "arn:aws:kms:us-east-1:123456789012:key/platform"
    stack = _record(kms_key=KmsKeyRef(key_arn=key))
    assert not [r for r in stack.of_type(KEY) if r.name.startswith("backup")]
    s3 = stack.one(STREAM, "backup-stream").inputs["extendedS3Configuration"]
    assert s3["kmsKeyArn"] == key
    assert stack.one(QUEUE, "backup-dlq").inputs["kmsMasterKeyId"] == key
    assert stack.one(LOG_GROUP, "backup-delivery-logs").inputs["kmsKeyId"] == key
    encryption = _of_bucket(stack, ENCRYPTION, stack.one(BUCKET, "backup-bucket")).inputs["rules"][0]
    assert encryption["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == key


def test_a_bus_read_from_another_stack():
    def program() -> None:
        EventBackup("backup", EventBackupArgs(bus=EventBusRef.from_stack_reference("acme/platform/prod"), tags=TAGS))

    arn = "arn:aws:events:us-east-1:123456789012:event-bus/platform-bus"
    stack = record(program, stack_references={"acme/platform/prod": {"bus_name": "platform-bus", "bus_arn": arn}})
    assert stack.one(RULE, "backup-rule").inputs["eventBusName"] == "platform-bus"
    assert stack.one(TARGET, "backup-target").inputs["eventBusName"] == "platform-bus"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"prefix": "events"}, "ending with '/'"),
        ({"prefix": "/events/"}, "ending with '/'"),
        ({"error_prefix": "events/errors/"}, "must not contain one another"),
        ({"buffering_size_mb": 5}, "buffering_size_mb"),
        ({"buffering_interval_s": 30}, "buffering_interval_s"),
        ({"compression": "ZIP"}, "compression"),
        ({"retry_attempts": 200}, "retry_attempts"),
        ({"freshness_alarm_s": 300}, "freshness_alarm_s"),
        ({"log_retention_days": 2}, "log_retention_days"),
        ({"sources": "acme.leave"}, "not one string"),
        ({"lifecycle": BackupLifecycle(infrequent_access_after_days=10)}, "at least 30"),
        ({"lifecycle": BackupLifecycle(glacier_instant_retrieval_after_days=40)}, "30 days after"),
        ({"lifecycle": BackupLifecycle(expire_after_days=60)}, "after the last transition"),
    ],
)
def test_invalid_arguments_are_refused_before_anything_is_created(fields, message):
    args = EventBackupArgs(bus=EventBusRef.from_name("bus"), **fields)
    with pytest.raises(ValueError, match=message):
        args.validate()
