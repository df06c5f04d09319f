"""EventBackup: every event on a bus, through a rule and Kinesis Data Firehose, into a retained S3 bucket.

The cold copy of the event history that survives the loss of the bus archive (or of the
account's EventBridge configuration): newline-delimited JSON objects, one EventBridge event
per line, partitioned by source and arrival date. `acme_eventsourcing.runtime.backup`
reads them back (`S3BackupReader`, an `EventsReader` for `rebuild`).
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from . import _iam, _kms, _lambda, _queues
from ._reactor import rule_arn_pattern
from .refs import EventBusRef, KmsKeyRef, bus_identifiers, resolve

TYPE_TOKEN = "acme:events:EventBackup"

#: The pattern that matches every event on a bus (every event has a `source`), whatever the
#: account that put it, but the live-updates change notices (source `<service>.live`,
#: `runtime.live_messages`): they say a read model changed, a hint for connected clients that
#: no replay or restore needs.
EVERY_EVENT_PATTERN: Mapping[str, Any] = {"source": [{"anything-but": {"suffix": ".live"}}]}
#: The JQ query of the Firehose metadata extraction: the partition key `source`.
PARTITION_QUERY = "{source:.source}"
#: The date part of every object key (Firehose's `!{timestamp:...}`: the record's arrival at Firehose, UTC).
DATE_PARTITIONS = "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
#: Where Firehose writes the objects of each source (under `prefix`).
SOURCE_PARTITION = "source=!{partitionKeyFromQuery:source}/"
#: Firehose's minimum buffer size with dynamic partitioning.
MIN_PARTITIONED_BUFFER_MB = 64
_PREFIX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_/.")
#: The log stream Firehose writes its S3 delivery errors to.
DELIVERY_LOG_STREAM = "S3Delivery"


@dataclass(frozen=True, kw_only=True)
class BackupLifecycle:
    """When backup objects move to colder storage and what expires (days after creation)."""

    infrequent_access_after_days: int = 30
    """Objects move to STANDARD_IA (S3's minimum for this transition is 30)."""
    glacier_instant_retrieval_after_days: int = 90
    """Objects move to GLACIER_IR (still readable in milliseconds: a restore needs no thaw)."""
    deep_archive_after_days: int | None = None
    """Objects move to DEEP_ARCHIVE (hours to restore); None = never."""
    expire_after_days: int | None = None
    """Current objects are deleted (the backup is then incomplete!); None = kept for ever."""
    noncurrent_versions_expire_after_days: int = 90
    """Overwritten or deleted object versions are kept this long, then deleted."""

    def validate(self) -> None:
        ia, gir, deep = self.infrequent_access_after_days, self.glacier_instant_retrieval_after_days, self.deep_archive_after_days
        if ia < 30:
            raise ValueError("lifecycle.infrequent_access_after_days must be at least 30 (an S3 minimum)")
        if gir < ia + 30:
            raise ValueError("lifecycle.glacier_instant_retrieval_after_days must be at least 30 days after infrequent_access_after_days")
        if deep is not None and deep < gir + 90:
            raise ValueError("lifecycle.deep_archive_after_days must be at least 90 days after glacier_instant_retrieval_after_days")
        last = deep if deep is not None else gir
        if self.expire_after_days is not None and self.expire_after_days <= last:
            raise ValueError("lifecycle.expire_after_days must come after the last transition")
        if self.noncurrent_versions_expire_after_days < 1:
            raise ValueError("lifecycle.noncurrent_versions_expire_after_days must be at least 1")


@dataclass(frozen=True, kw_only=True)
class EventBackupArgs:
    """Arguments of `EventBackup`; every field except `bus` has a safe default."""

    bus: EventBusRef
    """The bus whose events are backed up."""
    sources: Sequence[str] = ()
    """Back up only events of these sources; empty (the default) = every event on the bus."""
    prefix: str = "events/"
    """The key prefix of backup objects (ends with `/`); objects go under
    `<prefix>source=<source>/year=YYYY/month=MM/day=DD/`."""
    error_prefix: str = "errors/"
    """The key prefix of records Firehose could not deliver or partition."""
    kms_key: KmsKeyRef | None = None
    """An existing customer-managed key for the bucket, stream, DLQ and log group; None = the
    backup gets its own (`kms_key` child: rotated, retained with the bucket). Its policy must
    let EventBridge use it for the DLQ and CloudWatch Logs for the log group (`_kms.key_policy`)."""
    lifecycle: BackupLifecycle = field(default_factory=BackupLifecycle)
    """Transitions to colder storage and expiries of the backup bucket."""
    access_log_retention_days: int = 365
    """Days the access-log bucket keeps S3 server access logs of the backup bucket."""
    buffering_interval_s: int = 300
    """Seconds Firehose buffers before writing an object (60..900)."""
    buffering_size_mb: int = 64
    """Megabytes Firehose buffers before writing an object (64..128 with dynamic partitioning)."""
    compression: str = "GZIP"
    """`GZIP` or `UNCOMPRESSED` (the reader takes either)."""
    retry_attempts: int = 185
    """Retries of rule -> Firehose delivery (0..185) before the event goes to the DLQ."""
    maximum_event_age_s: int = 86400
    """Seconds an event is retried for (60..86400)."""
    freshness_alarm_s: int = 900
    """Alarm when the oldest record in Firehose is older than this (seconds; above the buffering interval)."""
    log_retention_days: int = 30
    """Days the delivery error log group keeps its events."""
    alarm_actions: Sequence[pulumi.Input[str]] = ()
    """SNS topic ARNs notified by every alarm (and when it recovers)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every resource that takes tags."""
    allow_destroy: bool = False
    """Explicit opt-out (test stacks): the buckets, their settings and the key are neither
    protected nor retained, and the buckets are emptied when destroyed."""

    def validate(self) -> None:
        """Raise ValueError for invalid settings (before anything is created)."""
        self.bus.validate()
        if self.kms_key is not None:
            self.kms_key.validate()
        if isinstance(self.sources, str):
            raise ValueError("sources must be a sequence of sources, not one string")
        for what, prefix in (("prefix", self.prefix), ("error_prefix", self.error_prefix)):
            if not prefix or not prefix.endswith("/") or prefix.startswith("/") or set(prefix) - _PREFIX_CHARS:
                raise ValueError(f"{what} {prefix!r} must be a key prefix of [a-z0-9-_./] ending with '/'")
        if self.prefix.startswith(self.error_prefix) or self.error_prefix.startswith(self.prefix):
            raise ValueError("prefix and error_prefix must not contain one another (a reader of the backup would read errors)")
        self.lifecycle.validate()
        if self.access_log_retention_days < 1:
            raise ValueError("access_log_retention_days must be at least 1")
        if not 60 <= self.buffering_interval_s <= 900:
            raise ValueError("buffering_interval_s must be within 60..900")
        if not MIN_PARTITIONED_BUFFER_MB <= self.buffering_size_mb <= 128:
            raise ValueError(f"buffering_size_mb must be within {MIN_PARTITIONED_BUFFER_MB}..128 (dynamic partitioning)")
        if self.compression not in ("GZIP", "UNCOMPRESSED"):
            raise ValueError("compression must be GZIP or UNCOMPRESSED")
        if not 0 <= self.retry_attempts <= 185:
            raise ValueError("retry_attempts must be within 0..185")
        if not 60 <= self.maximum_event_age_s <= 86400:
            raise ValueError("maximum_event_age_s must be within 60..86400")
        if self.freshness_alarm_s <= self.buffering_interval_s:
            raise ValueError("freshness_alarm_s must exceed buffering_interval_s (records wait that long by design)")
        if self.log_retention_days not in _lambda.LOG_RETENTION_DAYS:
            raise ValueError(f"log_retention_days {self.log_retention_days} is not a CloudWatch Logs retention value")

    def event_pattern(self) -> Mapping[str, Any]:
        """The rule's pattern: every event, or those of `sources`."""
        return {"source": list(self.sources)} if self.sources else EVERY_EVENT_PATTERN

    def object_prefix(self) -> str:
        """The Firehose prefix of backup objects (dynamic partitioning by source, then date)."""
        return f"{self.prefix}{SOURCE_PARTITION}{DATE_PARTITIONS}"

    def error_output_prefix(self) -> str:
        """The Firehose prefix of failed records (by error type, then date)."""
        return f"{self.error_prefix}!{{firehose:error-output-type}}/{DATE_PARTITIONS}"


class EventBackup(pulumi.ComponentResource):
    """Every event on `bus`, backed up to S3 through a rule and Kinesis Data Firehose.

    Creates (children, named `<name>-...`):
    - `rule`: an EventBridge rule on the bus matching every event but the live-updates notices
      (`{"source": [{"anything-but": {"suffix": ".live"}}]}`), whatever its source or account;
      `sources` narrows it) with one `target`: the delivery
      stream, through `events_role` (may only `firehose:PutRecord`/`PutRecordBatch` on that
      stream), 185 retries over a day, then the encrypted DLQ `dlq` (depth alarm);
    - `delivery_stream`: Kinesis Data Firehose to `extended_s3`: server-side encrypted with
      the key; dynamic partitioning with a JQ metadata extraction of `.source`; each record
      followed by a newline (`AppendDelimiterToRecord`: objects are JSON lines, one
      EventBridge event per line); GZIP objects under
      `events/source=<source>/year=YYYY/month=MM/day=DD/`; failed records under
      `errors/<error type>/...`; delivery errors logged to `log_group` (encrypted, retained
      30 days); its `delivery_role` may only put objects under those two prefixes of the
      bucket (plus the bucket-level calls multipart uploads need) and use the key for S3 in
      this region and this bucket only;
    - `bucket`: versioned, SSE-KMS with the key (S3 Bucket Key on), every public access
      blocked, `BucketOwnerEnforced` ownership (no ACLs), a policy denying requests without
      TLS, a lifecycle to STANDARD_IA (30 days) and GLACIER_IR (90 days) (DEEP_ARCHIVE and
      expiry optional, noncurrent versions expire after 90 days, incomplete multipart
      uploads after 7), server access logs to `log_bucket`;
    - `log_bucket`: the access-log bucket: SSE-S3 (S3 server access logging cannot deliver
      to a bucket whose default encryption is SSE-KMS), versioned, public access blocked,
      owner-enforced, TLS-only, writable by the S3 logging service for this bucket only,
      logs expire after a year;
    - `kms_key` (unless `kms_key` is given): rotated, retained;
    - alarms to `alarm_actions`: S3 delivery failing (`DeliveryToS3.Success` below 1), data
      freshness (`DeliveryToS3.DataFreshness` above `freshness_alarm_s`), the rule's target
      failing (`FailedInvocations`), and the DLQ's depth.

    The buckets, their settings (versioning, encryption, public access block, ownership,
    policy, lifecycle, logging) and the key are `protect`ed and `retain_on_delete`: removing
    the component or the stack leaves the backup, with its protections, in the account
    (`allow_destroy=True` opts out, for test stacks). Every resource that takes tags gets `tags`.

    Outputs: `bucket_name`, `bucket_arn`, `delivery_stream_name`, `delivery_stream_arn`, `rule_name`.
    """

    bucket_name: pulumi.Output[str]
    """The backup bucket."""
    bucket_arn: pulumi.Output[str]
    """The backup bucket's ARN."""
    delivery_stream_name: pulumi.Output[str]
    """The Firehose delivery stream."""
    delivery_stream_arn: pulumi.Output[str]
    """The Firehose delivery stream's ARN."""
    rule_name: pulumi.Output[str]
    """The rule that sends every event to the stream."""

    def __init__(self, name: str, args: EventBackupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        args.validate()
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.args = args
        tags = dict(args.tags) or None
        child = pulumi.ResourceOptions(parent=self)
        retained = not args.allow_destroy
        keep = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=retained, retain_on_delete=retained))
        if args.allow_destroy:
            pulumi.log.warn(f"{name}: allow_destroy=True - the event backup is neither protected nor retained", resource=self)
        bus_name, bus_arn, _ = bus_identifiers(args.bus, name=f"{name}-bus", parent=self)
        invoke = pulumi.InvokeOptions(parent=self)
        region = aws.get_region_output(opts=invoke).region
        account = aws.get_caller_identity_output(opts=invoke).account_id
        log_group_prefix = f"/aws/kinesisfirehose/{name}-"

        # -- the key
        self.kms_key: aws.kms.Key | None = None
        if args.kms_key is None:
            self.kms_key = _kms.service_key(
                f"{name}-key",
                opts=child,
                description=f"{name}: event backup (bucket, delivery stream, DLQ, logs)",
                log_group_prefixes=[log_group_prefix],
                rule_arn_patterns=[rule_arn_pattern(bus_arn, name)],
                tags=args.tags,
                retain=retained,
            )
            self.kms_key_arn: pulumi.Output[str] = self.kms_key.arn
        else:
            self.kms_key_arn = pulumi.Output.from_input(resolve(args.kms_key, name=f"{name}-key", parent=self)[0].key_arn)  # type: ignore[arg-type]

        # -- the access-log bucket, then the backup bucket
        self.log_bucket = aws.s3.Bucket(f"{name}-access-logs", force_destroy=args.allow_destroy, tags=tags, opts=keep)
        self.log_bucket_versioning = self._harden(f"{name}-access-logs", self.log_bucket, keep, sse=self._sse_s3())
        self.bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=args.allow_destroy, tags=tags, opts=keep)
        self.bucket_versioning = self._harden(f"{name}-bucket", self.bucket, keep, sse=self._sse_kms())
        log_prefix = "s3-access/"
        self.log_bucket_policy = aws.s3.BucketPolicy(
            f"{name}-access-logs-policy",
            bucket=self.log_bucket.id,
            policy=_iam.document(
                [
                    *_tls_only(self.log_bucket.arn),
                    _iam.statement(
                        "AllowServerAccessLogsOfTheBackupBucket",
                        ["s3:PutObject"],
                        [self.log_bucket.arn.apply(lambda arn: f"{arn}/{log_prefix}*")],
                        principal={"Service": "logging.s3.amazonaws.com"},
                        condition={"ArnLike": {"aws:SourceArn": self.bucket.arn}, "StringEquals": {"aws:SourceAccount": account}},
                    ),
                ]
            ),
            opts=keep,
        )
        self.bucket_policy = aws.s3.BucketPolicy(
            f"{name}-bucket-policy", bucket=self.bucket.id, policy=_iam.document(_tls_only(self.bucket.arn)), opts=keep
        )
        self.bucket_logging = aws.s3.BucketLogging(
            f"{name}-bucket-logging",
            bucket=self.bucket.id,
            target_bucket=self.log_bucket.id,
            target_prefix=log_prefix,
            opts=pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(depends_on=[self.log_bucket_policy])),
        )
        lc = args.lifecycle
        transitions = [
            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=lc.infrequent_access_after_days, storage_class="STANDARD_IA"),
            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=lc.glacier_instant_retrieval_after_days, storage_class="GLACIER_IR"),
        ]
        if lc.deep_archive_after_days is not None:
            transitions.append(
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=lc.deep_archive_after_days, storage_class="DEEP_ARCHIVE")
            )
        self.bucket_lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-bucket-lifecycle",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="colder-storage",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    transitions=transitions,
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=lc.expire_after_days)
                    if lc.expire_after_days is not None
                    else None,
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=lc.noncurrent_versions_expire_after_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(depends_on=[self.bucket_versioning])),
        )
        self.log_bucket_lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs-lifecycle",
            bucket=self.log_bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.access_log_retention_days),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=30
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(depends_on=[self.log_bucket_versioning])),
        )

        # -- the delivery stream, its log group and its role
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-delivery-logs",
            name_prefix=log_group_prefix,
            retention_in_days=args.log_retention_days,
            kms_key_id=self.kms_key_arn,
            tags=tags,
            opts=child,
        )
        self.log_stream = aws.cloudwatch.LogStream(
            f"{name}-delivery-log-stream", name=DELIVERY_LOG_STREAM, log_group_name=self.log_group.name, opts=child
        )
        self.delivery_role = aws.iam.Role(
            f"{name}-delivery-role", assume_role_policy=_iam.assume_role_policy("firehose.amazonaws.com"), tags=tags, opts=child
        )
        objects = [self.bucket.arn.apply(lambda arn, p=prefix: f"{arn}/{p}*") for prefix in (args.prefix, args.error_prefix)]
        delivery_policy = aws.iam.RolePolicy(
            f"{name}-delivery-policy",
            role=self.delivery_role.id,
            policy=_iam.document(
                [
                    _iam.statement("WriteBackupObjects", ["s3:PutObject", "s3:AbortMultipartUpload"], objects),
                    _iam.statement("LocateBucketAndUploads", ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"], [self.bucket.arn]),
                    _iam.statement(
                        "EncryptBackupObjects",
                        ["kms:GenerateDataKey", "kms:Decrypt"],
                        [self.kms_key_arn],
                        condition={
                            "StringEquals": {"kms:ViaService": region.apply(lambda r: f"s3.{r}.amazonaws.com")},
                            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [self.bucket.arn, *objects]},
                        },
                    ),
                    _iam.statement(
                        "LogDeliveryErrors",
                        ["logs:PutLogEvents"],
                        [pulumi.Output.concat(self.log_group.arn, ":log-stream:", DELIVERY_LOG_STREAM)],
                    ),
                ]
            ),
            opts=child,
        )
        self.delivery_stream = aws.kinesis.FirehoseDeliveryStream(
            f"{name}-stream",
            destination="extended_s3",
            server_side_encryption=aws.kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs(
                enabled=True, key_type="CUSTOMER_MANAGED_CMK", key_arn=self.kms_key_arn
            ),
            extended_s3_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs(
                bucket_arn=self.bucket.arn,
                role_arn=self.delivery_role.arn,
                prefix=args.object_prefix(),
                error_output_prefix=args.error_output_prefix(),
                custom_time_zone="UTC",
                buffering_interval=args.buffering_interval_s,
                buffering_size=args.buffering_size_mb,
                compression_format=args.compression,
                kms_key_arn=self.kms_key_arn,
                dynamic_partitioning_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationDynamicPartitioningConfigurationArgs(
                    enabled=True, retry_duration=300
                ),
                processing_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationArgs(
                    enabled=True,
                    processors=[
                        _processor("MetadataExtraction", JsonParsingEngine="JQ-1.6", MetadataExtractionQuery=PARTITION_QUERY),
                        _processor("AppendDelimiterToRecord", Delimiter="\\n"),
                    ],
                ),
                cloudwatch_logging_options=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationCloudwatchLoggingOptionsArgs(
                    enabled=True, log_group_name=self.log_group.name, log_stream_name=self.log_stream.name
                ),
                s3_backup_mode="Disabled",
            ),
            tags=tags,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[delivery_policy, self.bucket_policy])),
        )

        # -- the rule, its role, its DLQ and its target
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            event_bus_name=bus_name,
            event_pattern=json.dumps(args.event_pattern()),
            description=f"{name}: every event {'of ' + ', '.join(args.sources) if args.sources else 'on the bus'} to the S3 backup",
            tags=tags,
            opts=child,
        )
        self.events_role = aws.iam.Role(
            f"{name}-events-role", assume_role_policy=_iam.assume_role_policy("events.amazonaws.com"), tags=tags, opts=child
        )
        events_policy = aws.iam.RolePolicy(
            f"{name}-events-policy",
            role=self.events_role.id,
            policy=_iam.document(
                [
                    _iam.statement(
                        "PutEventsIntoTheBackupStream", ["firehose:PutRecord", "firehose:PutRecordBatch"], [self.delivery_stream.arn]
                    )
                ]
            ),
            opts=child,
        )
        rule = self.rule
        self.dlq = _queues.dead_letter_queue(
            f"{name}-dlq",
            opts=child,
            alarm_actions=args.alarm_actions,
            senders=_queues.rule_senders(rule.arn),
            tags=args.tags,
            kms_key_arn=self.kms_key_arn,
        )
        self.target = aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=self.rule.name,
            event_bus_name=bus_name,
            arn=self.delivery_stream.arn,
            role_arn=self.events_role.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=args.retry_attempts, maximum_event_age_in_seconds=args.maximum_event_age_s
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=self.dlq.queue.arn),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[events_policy, self.dlq.policy])),
        )

        # -- alarms
        stream_dims = {"DeliveryStreamName": self.delivery_stream.name}
        self.delivery_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-delivery-failing",
            alarm_description=f"{name}: Firehose fails to deliver events to the S3 backup",
            namespace="AWS/Firehose",
            metric_name="DeliveryToS3.Success",
            dimensions=stream_dims,
            statistic="Minimum",
            period=300,
            evaluation_periods=1,
            comparison_operator="LessThanThreshold",
            threshold=1,
            treat_missing_data="notBreaching",
            alarm_actions=list(args.alarm_actions),
            ok_actions=list(args.alarm_actions),
            tags=tags,
            opts=child,
        )
        self.freshness_alarm = _lambda.metric_alarm(
            f"{name}-freshness",
            opts=child,
            description=f"{name}: events wait longer than {args.freshness_alarm_s} s in Firehose before reaching S3",
            namespace="AWS/Firehose",
            metric_name="DeliveryToS3.DataFreshness",
            dimensions=stream_dims,
            statistic="Maximum",
            threshold=args.freshness_alarm_s,
            period_s=300,
            alarm_actions=args.alarm_actions,
            tags=args.tags,
        )
        self.failed_invocations_alarm = _lambda.metric_alarm(
            f"{name}-failed-invocations",
            opts=child,
            description=f"{name}: the rule cannot put events into the backup stream (they are retried, then go to the DLQ)",
            namespace="AWS/Events",
            metric_name="FailedInvocations",
            dimensions={"EventBusName": bus_name, "RuleName": self.rule.name},
            statistic="Sum",
            threshold=0,
            alarm_actions=args.alarm_actions,
            tags=args.tags,
        )

        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.delivery_stream_name = self.delivery_stream.name
        self.delivery_stream_arn = self.delivery_stream.arn
        self.rule_name = self.rule.name
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "delivery_stream_name": self.delivery_stream_name,
                "delivery_stream_arn": self.delivery_stream_arn,
                "rule_name": self.rule_name,
            }
        )

    def _sse_kms(self) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgs:
        return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=self.kms_key_arn
            ),
            bucket_key_enabled=True,
        )

    @staticmethod
    def _sse_s3() -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgs:
        return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"
            ),
        )

    def _harden(
        self, name: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions, *, sse: aws.s3.BucketServerSideEncryptionConfigurationRuleArgs
    ) -> aws.s3.BucketVersioning:
        """Versioning (returned), default encryption, every public access blocked, owner-enforced objects."""
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=opts,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(f"{name}-encryption", bucket=bucket.id, rules=[sse], opts=opts)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=opts,
        )
        return versioning


def _tls_only(bucket_arn: pulumi.Output[str]) -> list[dict[str, Any]]:
    """Deny every request to the bucket and its objects that does not use TLS."""
    deny = _iam.deny_insecure_transport(bucket_arn, "s3")
    deny["Resource"] = [bucket_arn, bucket_arn.apply(lambda arn: f"{arn}/*")]
    return [deny]


def _processor(
    kind: str, **parameters: str
) -> aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationProcessorArgs:
    return aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationProcessorArgs(
        type=kind,
        parameters=[
            aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationProcessorParameterArgs(
                parameter_name=k, parameter_value=v
            )
            for k, v in parameters.items()
        ],
    )
