"""The local stack's Firehose: moto's Firehose writing objects with the key layout, delimiter
and compression AWS gives (`acme_eventsourcing.local.firehose`), and the model of a recorded
EventBackup (buckets, delivery stream, the rule target that is a stream)."""

from __future__ import annotations

import gzip
import hashlib
import inspect
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import boto3
import moto
import pulumi
import pytest
from acme_eventsourcing import EventBackup, EventBackupArgs, SharedEventBus
from acme_eventsourcing.local import firehose, moto_patches
from acme_eventsourcing.local.model import build_model
from acme_eventsourcing.testing import record
from moto import mock_aws

PREFIX = "events/source=!{partitionKeyFromQuery:source}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
ERRORS = "errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/"
PARTITIONED = {
    "RoleARN": "arn:aws:iam::123456789012:role/firehose",
    "BucketARN": "arn:aws:s3:::backup",
    "Prefix": PREFIX,
    "ErrorOutputPrefix": ERRORS,
    "CompressionFormat": "GZIP",
    "DynamicPartitioningConfiguration": {"Enabled": True},
    "ProcessingConfiguration": {
        "Enabled": True,
        "Processors": [
            {
                "Type": "MetadataExtraction",
                "Parameters": [
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{source:.source}"},
                ],
            },
            {"Type": "AppendDelimiterToRecord", "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\n"}]},
        ],
    },
}
NOW = datetime(2027, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_moto_s_firehose_s3_delivery_is_the_pinned_one() -> None:
    """`install` replaces this method for partitioned streams (and calls it for the others): a moto
    upgrade that changes it fails here, to be re-read (moto may now partition by itself)."""
    assert moto.__version__ == moto_patches.MOTO_VERSION
    source = inspect.getsource(firehose.MOTO_PUT_S3_RECORDS)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == "66da9e5910cfb06c"


def test_prefix_expressions_are_filled_in_as_aws_does() -> None:
    assert firehose.render(PREFIX, {"source": "acme.leave"}, NOW) == "events/source=acme.leave/year=2027/month=03/day=04/"
    assert firehose.render("t=!{timestamp:yyyy-MM-dd HH:mm:ss}/", {}, NOW) == "t=2027-03-04 05:06:07/"
    assert firehose.render(ERRORS, {}, NOW, error_type="partitioning-failed") == "errors/partitioning-failed/year=2027/"
    with pytest.raises(firehose.PartitioningError, match="no partition key 'source'"):
        firehose.render(PREFIX, {}, NOW)
    with pytest.raises(firehose.UnsupportedDeliveryError, match="partitionKeyFromLambda"):
        firehose.render("!{partitionKeyFromLambda:x}/", {}, NOW)


def test_one_object_per_partition_with_a_newline_after_each_record() -> None:
    delivery = firehose.S3Delivery(PARTITIONED)
    records = [json.dumps({"source": s, "n": n}).encode() for n, s in enumerate(("a.one", "b.two", "a.one"))]
    objects = delivery.objects("backup-stream", "1", [*records, b'{"no": "source"}', b"not json"], NOW)
    by_prefix = {k.rsplit("/", 1)[0]: gzip.decompress(v) for k, v in objects.items()}
    assert by_prefix == {
        "events/source=a.one/year=2027/month=03/day=04": records[0] + b"\n" + records[2] + b"\n",
        "events/source=b.two/year=2027/month=03/day=04": records[1] + b"\n",
        "errors/partitioning-failed/year=2027": b'{"no": "source"}\nnot json\n',
    }
    name = re.compile(r"^backup-stream-1-2027-03-04-05-06-07-[0-9a-f-]{36}\.gz$")
    assert all(name.match(k.rsplit("/", 1)[1]) for k in objects)


def test_a_nested_query_and_uncompressed_objects() -> None:
    config = {**PARTITIONED, "CompressionFormat": "UNCOMPRESSED", "Prefix": "k=!{partitionKeyFromQuery:kind}/"}
    config["ProcessingConfiguration"] = json.loads(
        json.dumps(config["ProcessingConfiguration"]).replace("{source:.source}", "{kind: .detail.kind, src:.source}")
    )
    delivery = firehose.S3Delivery(config)
    (key, body), *_ = delivery.objects("s", "1", [b'{"source": "x", "detail": {"kind": 3}}'], NOW).items()
    assert key.startswith("k=3/s-1-") and not key.endswith(".gz") and body == b'{"source": "x", "detail": {"kind": 3}}\n'


def test_what_is_not_emulated_is_refused_not_approximated() -> None:
    with pytest.raises(firehose.UnsupportedDeliveryError, match="only {key:.path, ...}"):
        firehose.S3Delivery(
            {
                **PARTITIONED,
                "ProcessingConfiguration": json.loads(
                    json.dumps(PARTITIONED["ProcessingConfiguration"]).replace("{source:.source}", ".source | ascii")
                ),
            }
        )
    lambda_processor = {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": []}]}
    with pytest.raises(firehose.UnsupportedDeliveryError, match="Lambda"):
        firehose.S3Delivery({**PARTITIONED, "ProcessingConfiguration": lambda_processor})


def test_a_stream_the_local_firehose_cannot_run_is_named_before_any_record_fails() -> None:
    assert firehose.problem(PARTITIONED) is None
    assert firehose.problem({**PARTITIONED, "Prefix": "p=!{partitionKeyFromLambda:id}/"}) == (
        "prefix expression !{partitionKeyFromLambda:id} is not emulated locally"
    )
    assert "Lambda" in (
        firehose.problem({**PARTITIONED, "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda"}]}}) or ""
    )
    assert firehose.problem({**PARTITIONED, "CompressionFormat": "Snappy"}) == "compression Snappy is not emulated (GZIP or UNCOMPRESSED)"


def test_moto_s_firehose_delivers_into_moto_s_s3_with_the_aws_layout_and_plain_streams_keep_moto_s() -> None:
    with mock_aws():
        firehose.install()
        s3, client = boto3.client("s3", region_name="us-east-1"), boto3.client("firehose", region_name="us-east-1")
        s3.create_bucket(Bucket="backup")
        client.create_delivery_stream(DeliveryStreamName="backup-stream", ExtendedS3DestinationConfiguration=PARTITIONED)
        plain = {"RoleARN": PARTITIONED["RoleARN"], "BucketARN": "arn:aws:s3:::backup", "Prefix": "plain/"}
        client.create_delivery_stream(DeliveryStreamName="plain-stream", ExtendedS3DestinationConfiguration=plain)
        client.put_record_batch(
            DeliveryStreamName="backup-stream", Records=[{"Data": json.dumps({"source": "acme.orders", "n": n}).encode()} for n in range(3)]
        )
        client.put_record(DeliveryStreamName="plain-stream", Record={"Data": b"x"})
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="backup")["Contents"]]
        (partitioned,) = [k for k in keys if k.startswith("events/")]
        assert partitioned.startswith("events/source=acme.orders/year=")
        body = gzip.decompress(s3.get_object(Bucket="backup", Key=partitioned)["Body"].read())
        assert [json.loads(line)["n"] for line in body.splitlines()] == [0, 1, 2]
        (unpartitioned,) = [k for k in keys if k.startswith("plain/")]
        assert re.match(r"^plain/\d{4}/\d\d/\d\d/\d\d/plain-stream-1-", unpartitioned)  # moto's own layout


def test_the_model_of_an_event_backup_has_its_buckets_stream_and_stream_target(tmp_path: Path) -> None:
    def program() -> None:
        bus = SharedEventBus("bus")
        EventBackup("backup", EventBackupArgs(bus=bus.ref, compression="UNCOMPRESSED"), pulumi.ResourceOptions())

    recorded = record(program)
    model = build_model(recorded, code_cache=tmp_path)
    buckets = {b.logical: b for b in model.buckets}
    assert set(buckets) == {"backup-bucket", "backup-access-logs"} and all(b.versioned for b in buckets.values())
    (stream,) = model.delivery_streams
    assert stream.bucket == buckets["backup-bucket"].name
    assert stream.s3_configuration["Prefix"] == PREFIX
    assert stream.s3_configuration["CompressionFormat"] == "UNCOMPRESSED"
    assert firehose.S3Delivery(stream.s3_configuration).emulated
    (target,) = [t for t in model.targets if t.logical == "backup-target"]
    assert target.delivery_stream == stream and target.function is None
    assert target.dead_letter_queue is not None
