"""Rules on Kinesis Data Firehose delivery streams: encrypted, delivered to S3 with an error prefix, logged, least privilege.

Each rule is a frozen dataclass: `id`, `title` and `rationale` are class constants, the
fields are its parameters (with the defaults `DEFAULT_RULES` uses), and `check(stack)`
returns one `Violation` per offending resource and reason (see `_policy_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ._policy_core import Violation
from ._policy_view import DELIVERY_STREAM, LOG_GROUP, ROLE, StackView, get, strings
from .harness import RecordedResource, RecordedStack

#: The destination configuration a stream's `destination` value reads its settings from.
_DESTINATION_CONFIGS = {
    "extended_s3": "extendedS3Configuration",
    "http_endpoint": "httpEndpointConfiguration",
    "redshift": "redshiftConfiguration",
    "opensearch": "opensearchConfiguration",
    "opensearchserverless": "opensearchserverlessConfiguration",
    "elasticsearch": "elasticsearchConfiguration",
    "splunk": "splunkConfiguration",
    "snowflake": "snowflakeConfiguration",
    "iceberg": "icebergConfiguration",
}


def _customer_key(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "alias/aws/" not in value


def _destination(stream: RecordedResource) -> dict[str, Any]:
    key = _DESTINATION_CONFIGS.get(str(stream.inputs.get("destination")), "")
    config = stream.inputs.get(key)
    return config if isinstance(config, dict) else {}


def _source_stream(stream: RecordedResource) -> Any:
    """The Kinesis stream or MSK cluster the delivery stream reads, None for DirectPut."""
    return get(stream.inputs, "kinesisSourceConfiguration", "kinesisStreamArn") or get(
        stream.inputs, "mskSourceConfiguration", "mskClusterArn"
    )


class _StreamRule:
    resource_types: ClassVar[tuple[str, ...]] = (DELIVERY_STREAM,)

    def checked(self, stack: RecordedStack) -> int:
        """How many delivery streams the rule examined."""
        return len(StackView.of(stack).of_type(DELIVERY_STREAM))


@dataclass(frozen=True)
class DeliveryStreamsEncrypted(_StreamRule):
    id: ClassVar[str] = "FHS001"
    title: ClassVar[str] = "Every DirectPut delivery stream encrypts at rest with a customer-managed key"
    rationale: ClassVar[str] = (
        "A DirectPut stream (EventBridge, PutRecord) buffers whole events in Firehose for up to the "
        "buffering interval: server_side_encryption enabled, key_type CUSTOMER_MANAGED_CMK with a key_arn, "
        "as for tables and queues. A stream reading a Kinesis stream or MSK cluster takes no such setting "
        "(AWS rejects it); its data is encrypted by its source, so the rule passes it."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for s in StackView.of(stack).of_type(DELIVERY_STREAM):
            if _source_stream(s):
                continue
            sse = s.inputs.get("serverSideEncryption") or {}
            problems = []
            if sse.get("enabled") is not True:
                problems.append("server_side_encryption.enabled is not true")
            elif sse.get("keyType") != "CUSTOMER_MANAGED_CMK" or not _customer_key(sse.get("keyArn")):
                problems.append(f"key_type is {sse.get('keyType', 'AWS_OWNED_CMK')!r}; use CUSTOMER_MANAGED_CMK with a key_arn")
            if problems:
                out.append(Violation.of(self.id, s, "DirectPut stream: " + "; ".join(problems)))
        return out


@dataclass(frozen=True)
class DeliveryStreamsKeepFailures(_StreamRule):
    id: ClassVar[str] = "FHS002"
    title: ClassVar[str] = "Every delivery stream delivers to S3 (extended_s3) with an error output prefix"
    rationale: ClassVar[str] = (
        "Records Firehose cannot deliver or transform are written under error_output_prefix; without "
        "one they land among the good objects (or, for other destinations, only in a backup), and a "
        "reader of the backup cannot tell them apart. The backup's destination is S3: destination "
        "extended_s3 with a bucket_arn and a non-empty error_output_prefix."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        out = []
        for s in StackView.of(stack).of_type(DELIVERY_STREAM):
            config = s.inputs.get("extendedS3Configuration") or {}
            problems = []
            if s.inputs.get("destination") != "extended_s3" or not config.get("bucketArn"):
                problems.append(f"destination is {s.inputs.get('destination')!r}, not extended_s3 with a bucket_arn")
            if not str(config.get("errorOutputPrefix") or "").strip():
                problems.append("no extended_s3_configuration.error_output_prefix")
            if problems:
                out.append(Violation.of(self.id, s, "; ".join(problems)))
        return out


@dataclass(frozen=True)
class DeliveryStreamsLogged(_StreamRule):
    id: ClassVar[str] = "FHS003"
    title: ClassVar[str] = "Every delivery stream logs delivery errors to a log group of the stack"
    rationale: ClassVar[str] = (
        "A failing delivery (a denied PutObject, a disabled key) is visible only in the stream's "
        "CloudWatch error logs: cloudwatch_logging_options enabled, with a log_group_name naming a log "
        "group declared in the stack (so LOG001/KMS001 apply to it) and a log_stream_name."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for s in view.of_type(DELIVERY_STREAM):
            options = _destination(s).get("cloudwatchLoggingOptions") or {}
            group = options.get("logGroupName")
            if options.get("enabled") is not True:
                out.append(Violation.of(self.id, s, "cloudwatch_logging_options.enabled is not true"))
            elif not options.get("logStreamName") or view.find(LOG_GROUP, group) is None:
                message = f"logs to group {group!r} stream {options.get('logStreamName')!r}; name a log group of this stack and a stream"
                out.append(Violation.of(self.id, s, message))
        return out


@dataclass(frozen=True)
class DeliveryStreamRolesScoped(_StreamRule):
    id: ClassVar[str] = "FHS004"
    title: ClassVar[str] = "A delivery stream's role reaches only its own bucket, keys, log group and source"
    rationale: ClassVar[str] = (
        "The role Firehose assumes (extended_s3_configuration.role_arn) writes the backup: it must be "
        "declared in the stack, allow no wildcard action, and name no resource but the stream's bucket "
        "(`<bucket arn>` and objects under `<bucket arn>/`), the KMS keys of the stream, its destination "
        "and its bucket, its log group (`<arn>`, `<arn>:*`, `<arn>:log-stream:...`), its source stream "
        "and the Lambda processors it invokes."
    )

    def check(self, stack: RecordedStack) -> list[Violation]:
        view = StackView.of(stack)
        out = []
        for s in view.of_type(DELIVERY_STREAM):
            config = _destination(s)
            role = view.find(ROLE, config.get("roleArn"))
            if role is None:
                out.append(Violation.of(self.id, s, f"role {config.get('roleArn')!r} is not a role declared in this stack"))
                continue
            problems = []
            allowed = self._allowed(view, s, config)
            for doc, st in view.allow_statements(role):
                where = f"role {role.name!r} {doc.where}: {st.label}"
                wild = [a for a in st.actions if "*" in a or "?" in a] + (
                    [f"NotAction {list(st.not_actions)}"] if st.not_actions is not None else []
                )
                if wild:
                    problems.append(f"{where} allows wildcard actions {wild}")
                extra = [r for r in st.resources if not self._covered(r, allowed)]
                if st.not_resources is not None:
                    extra.append(f"NotResource {list(st.not_resources)}")
                if extra:
                    problems.append(f"{where} names {extra}, beyond the stream's bucket, keys, log group and source")
            if problems:
                out.append(Violation.of(self.id, s, "; ".join(problems)))
        return out

    @staticmethod
    def _allowed(view: StackView, stream: RecordedResource, config: dict[str, Any]) -> tuple[set[str], set[str]]:
        """(exact ARNs, prefixes) the role may name."""
        exact: set[str] = set()
        prefixes: set[str] = set()
        bucket_arn = config.get("bucketArn")
        if isinstance(bucket_arn, str) and bucket_arn:
            exact.add(bucket_arn)
            prefixes.add(f"{bucket_arn}/")
            bucket = view.bucket_of(bucket_arn)
            if bucket is not None:
                exact.update(str(k) for e in view.bucket_encryption(bucket) if (k := e.get("kmsMasterKeyId")))
        exact.update(
            str(k) for k in (get(stream.inputs, "serverSideEncryption", "keyArn"), config.get("kmsKeyArn"), _source_stream(stream)) if k
        )
        group = view.find(LOG_GROUP, get(config, "cloudwatchLoggingOptions", "logGroupName"))
        if group is not None and group.state.get("arn"):
            arn = group.state["arn"]
            exact.update({arn, f"{arn}:*"})
            prefixes.add(f"{arn}:log-stream:")
        exact.update(v for v in strings(config.get("processingConfiguration")) if v.startswith("arn:") and ":lambda:" in v)
        return exact, prefixes

    @staticmethod
    def _covered(resource: str, allowed: tuple[set[str], set[str]]) -> bool:
        exact, prefixes = allowed
        return resource in exact or any(resource.startswith(p) and len(resource) > len(p) for p in prefixes)
