"""Event backup figures: rebuild time per 1000 events from the S3 backup, and bytes per event.

Run from the repo root: `.venv/bin/python benchmarks/bench_backup.py [--events 1000 10000]`.
The events are orders (examples/orders: OrderPlaced then OrderShipped, two per stream) as
the bus carries them. They are written to moto's S3 the way the EventBackup stream writes
them (`acme_eventsourcing.local.firehose.S3Delivery`: partitioned keys, JSON lines, GZIP),
in objects of 500 records (a Firehose buffer). Then `S3BackupReader` reads them back and
`rebuild` replays them into an in-memory read model with the orders projection. Printed:
objects, compressed and raw bytes per event, read time and rebuild time per 1000 events.
moto's S3 answers in-process, so the read time is our listing, download, decompression and
parsing, not S3's latency; the replay time is the projection code itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "components"), str(ROOT / "examples" / "orders" / "functions")]
os.environ.update({"AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "AWS_DEFAULT_REGION": "us-east-1"})
os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(var, None)

import boto3  # noqa: E402
from acme_eventsourcing import EventBackupArgs, EventBusRef  # noqa: E402
from acme_eventsourcing.local.firehose import S3Delivery  # noqa: E402
from acme_eventsourcing.runtime.backup import S3BackupReader  # noqa: E402
from acme_eventsourcing.runtime.eventstore.ports import StoredEvent  # noqa: E402
from acme_eventsourcing.runtime.projections import InMemoryReadModelStore, rebuild  # noqa: E402
from moto import mock_aws  # noqa: E402
from orders_views.orders import OrdersProjection  # noqa: E402

BUCKET = "backup"
PER_OBJECT = 500


def bus_events(count: int) -> list[bytes]:
    """`count` order events (two per order) as EventBridge would hand them to Firehose."""
    out = []
    for n in range(count // 2):
        order_id = f"o{n:07d}"
        employee = f"e{n % 97}"
        placed = {
            "order_id": order_id,
            "employee_id": employee,
            "items": [{"sku": "monitor-27", "quantity": 2}],
            "deliver_on": "2027-03-05",
        }
        shipped = {"order_id": order_id, "employee_id": employee, "shipped_by": "wes"}
        for version, (kind, data) in enumerate((("OrderPlaced", placed), ("OrderShipped", shipped)), 1):
            event = StoredEvent(
                stream_id=f"order-{order_id}",
                version=version,
                event_type=kind,
                data=data,
                event_id=str(uuid.uuid4()),
                occurred_at="2027-03-01T10:00:00.000Z",
                metadata={"actor": "ana"},
            )
            record = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": kind,
                "source": "acme.orders",
                "account": "123456789012",
                "time": event.occurred_at,
                "region": "us-east-1",
                "resources": [],
                "detail": event.envelope(),
            }
            out.append(json.dumps(record).encode())
    return out


def destination() -> dict[str, object]:
    """The ExtendedS3 configuration the component declares (defaults), as the local stack passes it to moto."""
    args = EventBackupArgs(bus=EventBusRef.from_name("bus"))
    return {
        "BucketARN": f"arn:aws:s3:::{BUCKET}",
        "Prefix": args.object_prefix(),
        "ErrorOutputPrefix": args.error_output_prefix(),
        "CompressionFormat": args.compression,
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


def measure(count: int) -> None:
    records = bus_events(count)
    delivery = S3Delivery(destination())
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        stored = objects = 0
        for start in range(0, len(records), PER_OBJECT):
            now = datetime(2027, 3, 1 + (start // PER_OBJECT) % 28, 10, tzinfo=UTC)
            for key, body in delivery.objects("backup-stream", "1", records[start : start + PER_OBJECT], now).items():
                s3.put_object(Bucket=BUCKET, Key=key, Body=body)
                stored += len(body)
                objects += 1
        raw = sum(len(r) + 1 for r in records)
        t0 = time.perf_counter()
        reader = S3BackupReader(s3, BUCKET, sources=["acme.orders"])
        streams = list(reader.stream_ids())
        t1 = time.perf_counter()
        report = rebuild(reader, OrdersProjection(), InMemoryReadModelStore())
        t2 = time.perf_counter()
    assert report.events == len(records) and len(streams) == count // 2 and reader.duplicates == 0
    per_k = 1000 / len(records)
    print(
        f"{len(records):>6} events, {objects:>3} objects: {stored / len(records):6.1f} B/event gzip ({raw / len(records):6.1f} raw); "
        f"read {1000 * (t1 - t0) * per_k:7.1f} ms / 1000 events, replay {1000 * (t2 - t1) * per_k:7.1f} ms / 1000 events, "
        f"total {(t2 - t0) * per_k:5.2f} s / 1000 events"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1000, 10000])
    for count in parser.parse_args().events:
        measure(count)


if __name__ == "__main__":
    main()
