"""The event backup end to end on the local stack: commands through the API -> Events table ->
publisher -> bus -> the backup rule -> moto's Firehose -> moto's S3, under the partitioned
prefix AWS would write; then `S3BackupReader` replays the objects into a rebuild that equals
the live read model.

`tests/e2e/programs/backup` is the orders example's service (its functions from
examples/orders) plus an `EventBackup` of its bus."""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from acme_eventsourcing.local import LocalStack
from acme_eventsourcing.runtime.backup import S3BackupReader
from acme_eventsourcing.runtime.projections import DynamoDBReadModelStore, InMemoryReadModelStore, rebuild
from acme_eventsourcing.testing import check_stack

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = Path(__file__).resolve().parent / "programs" / "backup"
sys.path.insert(0, str(ROOT / "examples" / "orders" / "functions"))

from orders_views.orders import OrdersProjection  # noqa: E402


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return []


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> Iterator[LocalStack]:
    with LocalStack.from_program(PROGRAM, "dev", port=0, log=lines.append, state_dir=tmp_path_factory.mktemp("backup")) as local:
        yield local


@pytest.fixture(scope="module")
def played(stack: LocalStack) -> dict[str, Any]:
    """Three orders: one shipped, one cancelled, one placed; everything settled."""
    ana, wes = stack.client("ana"), stack.client("wes", "warehouse")
    ids = []
    for sku in ("monitor-27", "chair", "desk"):
        placed = ana.post("/orders", {"items": [{"sku": sku, "quantity": 1}], "deliver_on": "2099-03-05"})
        assert placed.status == 201, placed.text
        ids.append(placed.json["order_id"])
    assert wes.post(f"/orders/{ids[0]}/ship").status == 200
    assert ana.post(f"/orders/{ids[1]}/cancel", {"reason": "changed my mind"}).status == 200
    stack.settle()
    return {"order_ids": ids, "day": datetime.now(UTC)}


def _output(stack: LocalStack, name: str) -> Any:
    assert stack.recorded is not None
    return stack.recorded.outputs[name]


def test_every_event_lands_once_in_s3_under_the_partitioned_prefix_as_json_lines(stack, played):
    s3, bucket, stream = stack.clients("s3"), _output(stack, "bucket_name"), _output(stack, "delivery_stream_name")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    day = played["day"]
    layout = re.compile(
        rf"^events/source=acme\.orders/year={day:%Y}/month={day:%m}/day={day:%d}/"
        rf"{re.escape(stream)}-1-\d{{4}}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{{36}}\.gz$"
    )
    assert keys and all(layout.match(k) for k in keys), keys
    events = []
    for key in keys:
        body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert body.endswith(b"\n")  # AppendDelimiterToRecord: one event per line
        events += [json.loads(line) for line in body.splitlines()]
    stored = stack.clients("dynamodb").scan(
        TableName=_output(stack, "events_table_name"),
        FilterExpression="record_type = :e",
        ExpressionAttributeValues={":e": {"S": "event"}},
    )["Items"]
    assert len(stored) == 3 + 1 + 1  # three placed, one shipped, one cancelled
    assert sorted((e["detail"]["metadata"]["stream_id"], e["detail"]["metadata"]["version"]) for e in events) == sorted(
        (i["stream_id"]["S"], int(i["version"]["N"])) for i in stored
    )
    assert {e["source"] for e in events} == {"acme.orders"}
    assert {e["detail-type"] for e in events} == {"OrderPlaced", "OrderShipped", "OrderCancelled"}


def test_a_rebuild_from_the_backup_equals_the_live_read_model(stack, played):
    reader = S3BackupReader(stack.clients("s3"), _output(stack, "bucket_name"), sources=["acme.orders"])
    rebuilt = InMemoryReadModelStore()
    report = rebuild(reader, OrdersProjection(), rebuilt)
    (table,) = _output(stack, "read_model_table_names").values()
    live = DynamoDBReadModelStore(stack.clients("dynamodb"), table)
    assert {(r.pk, r.sk): r.doc for r in rebuilt.rows()} == {(r.pk, r.sk): r.doc for r in live.rows()}
    assert rebuilt.checkpoints() == live.checkpoints()
    assert (report.streams, report.events, reader.duplicates, reader.skipped) == (3, 5, 0, 0)
    statuses = {r.doc["order_id"]: r.doc["status"] for r in rebuilt.rows() if r.sk == "order"}
    assert statuses == dict(zip(played["order_ids"], ("shipped", "cancelled", "placed"), strict=True))


def test_the_program_with_a_service_and_its_backup_passes_the_policy_rules(stack):
    assert stack.recorded is not None
    report = check_stack(stack.recorded)
    assert [str(v) for result in report.results for v in result.violations] == []


def test_the_banner_lists_the_buckets_and_says_how_delivery_differs(stack, played, lines):
    banner = "\n".join(lines)
    bucket = _output(stack, "bucket_name")
    assert (
        f"bucket     s3://{bucket}  (backup-bucket, versioned; written by delivery stream {_output(stack, 'delivery_stream_name')})"
        in banner
    )
    assert "bucket     s3://backup-access-logs-" in banner
    assert "delivery streams: no buffering" in banner
    assert stack.clients("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
