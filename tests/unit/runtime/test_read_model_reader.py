"""The generic read-model reader of query functions, on DynamoDB (moto): rows, checkpoints, freshness."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from acme_eventsourcing.runtime.handler import ConfigurationError
from acme_eventsourcing.runtime.projections import (
    CheckpointMove,
    DynamoDBReadModelReader,
    DynamoDBReadModelStore,
    Write,
    freshness,
    reader_from_env,
    stuck_streams,
    table_variable,
)
from moto import mock_aws

from tests.unit.projections.conftest import create_read_model_table


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_read_model_table(client, "rm-orders")
        yield client


def test_rows_and_checkpoints_of_many_streams_are_read_back(client: Any) -> None:
    store = DynamoDBReadModelStore(client, "rm-orders")
    streams = [f"o{i:03d}" for i in range(150)]  # more than one BatchGetItem
    for i, stream in enumerate(streams):
        store.commit(
            [Write(pk="orders", sk=stream, doc={"n": i}, expected_rev=0)],
            [],
            CheckpointMove(stream_id=stream, from_version=0, to_version=i + 1),
        )
    store.mark_stuck("o007", {"stream_id": "o007", "stuck_at_version": 9, "reason": "KeyError: 'x'", "since": "2027-01-11T09:00:00+00:00"})
    reader = DynamoDBReadModelReader(client, {"orders": "rm-orders"})
    assert reader.get("orders", "orders", "o002") == {"n": 2}
    assert [d["n"] for d in reader.query("orders", "orders", sk_from="o148")] == [148, 149]
    assert len(reader.query("orders", "orders")) == 150
    checkpoints = reader.checkpoints("orders", [*streams, "unseen"])
    assert checkpoints["o149"] == {"version": 150, "stuck": False}
    assert checkpoints["o007"] == {"version": 8, "stuck": True}
    assert checkpoints["unseen"] == {"version": 0, "stuck": False}
    answer = freshness(reader, "orders", "o007", ["o001"])
    assert answer["as_of_version"] == 8 and answer["as_of"] == {"o007": 8, "o001": 2}
    assert answer["stale"] == [
        {"stream_id": "o007", "stuck_at_version": 9, "reason": "KeyError: 'x'", "since": "2027-01-11T09:00:00+00:00"}
    ]
    assert [(s["stream_id"], s["projection"]) for s in stuck_streams(reader, ["orders"])] == [("o007", "orders")]


def test_an_unknown_projection_is_named(client: Any) -> None:
    with pytest.raises(KeyError, match="no read-model table for projection 'billing'"):
        DynamoDBReadModelReader(client, {"orders": "rm-orders"}).get("billing", "p", "s")


def test_the_reader_is_wired_from_one_variable_per_projection(client: Any) -> None:
    assert table_variable("order-totals") == "READ_MODEL_TABLE_ORDER_TOTALS"
    reader = reader_from_env({"READ_MODEL_TABLE_ORDERS": "rm-orders"}, ["orders"], client=client)
    assert reader.query("orders", "nothing") == []
    with pytest.raises(ConfigurationError, match="^READ_MODEL_TABLE_TOTALS is not set"):
        reader_from_env({"READ_MODEL_TABLE_ORDERS": "rm-orders"}, ["orders", "totals"], client=client)
