"""The `orders` projection: one row per order, what `GET /orders/{order_id}` answers.

`view(doc, event_type, data, occurred_at)` is the pure part: the row's next document.
`OrdersProjector` applies bus events to the table exactly once, in stream order, although
EventBridge delivers at least once and in any order: the row keeps the stream version it
reflects; an event at or below it is a duplicate and skipped; one above the next version
means events are missing, and they are loaded from the Events table and applied first. The
write is conditioned on the version read, so two concurrent deliveries cannot both apply.

Row: `pk` = `order#<order_id>`, `sk` = `order`, `version` N, `doc` S (JSON text).
Lambda handler setting: `orders_views.orders.handler`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from acme_eventsourcing.runtime.eventstore.ports import EventStore
from acme_eventsourcing.runtime.handler import Clock, LambdaHandler, require
from orders import domain

MAX_ATTEMPTS = 5


def key(order_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"order#{order_id}"}, "sk": {"S": "order"}}


def view(doc: Mapping[str, Any] | None, event_type: str, data: Mapping[str, Any], occurred_at: str) -> dict[str, Any] | None:
    """The order's row after one of its events (None: no row yet)."""
    if event_type == domain.ORDER_PLACED:
        return {
            "order_id": data["order_id"],
            "employee_id": data["employee_id"],
            "items": data["items"],
            "deliver_on": data["deliver_on"],
            "status": "placed",
            "placed_at": occurred_at,
        }
    if doc is None:
        return None
    if event_type == domain.ORDER_SHIPPED:
        return {**doc, "status": "shipped", "shipped_at": occurred_at, "shipped_by": data["shipped_by"]}
    if event_type == domain.ORDER_CANCELLED:
        return {**doc, "status": "cancelled", "cancelled_at": occurred_at, "reason": data.get("reason", "")}
    return dict(doc)


class OrdersProjector:
    """Applies one bus event (EventBridge target) to the read-model table."""

    def __init__(self, client: Any, table: str, events: EventStore) -> None:
        self._client, self._table, self._events = client, table, events

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        detail = event.get("detail") or {}
        meta, data = detail.get("metadata") or {}, detail.get("data") or {}
        stream, version = str(meta.get("stream_id") or ""), meta.get("version")
        if not stream.startswith("order-") or not isinstance(version, int) or version < 1:
            raise ValueError(f"not an orders event envelope: stream {stream!r}, version {version!r}")
        order_id = stream.removeprefix("order-")
        for _ in range(MAX_ATTEMPTS):
            from botocore.exceptions import ClientError

            item = self._client.get_item(TableName=self._table, Key=key(order_id), ConsistentRead=True).get("Item")
            at = int(item["version"]["N"]) if item else 0
            if version <= at:
                return {"applied": 0, "duplicate": True}
            doc = json.loads(item["doc"]["S"]) if item else None
            if version == at + 1:
                todo = [(str(event.get("detail-type")), data, str(meta.get("occurred_at") or ""))]
            else:  # a gap: the events in between, from the source of truth
                todo = [(e.event_type, e.data, e.occurred_at) for e in self._events.load(stream, after_version=at) if e.version <= version]
                if len(todo) != version - at:
                    raise RuntimeError(f"{stream}: the Events table does not hold versions {at + 1}..{version} yet; retry")
            for event_type, payload, occurred_at in todo:
                doc = view(doc, event_type, payload, occurred_at)
            put: dict[str, Any] = {
                "TableName": self._table,
                "Item": {**key(order_id), "version": {"N": str(version)}, "doc": {"S": json.dumps(doc, separators=(",", ":"))}},
            }
            if item:
                put |= {"ConditionExpression": "version = :at", "ExpressionAttributeValues": {":at": {"N": str(at)}}}
            else:
                put |= {"ConditionExpression": "attribute_not_exists(pk)"}
            try:
                self._client.put_item(**put)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                continue  # another delivery moved the row: read again
            return {"applied": len(todo), "duplicate": False}
        raise RuntimeError(f"{stream}: the row kept moving; EventBridge retries the event")


def build(environ: Mapping[str, str], clock: Clock) -> OrdersProjector:
    import boto3
    from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore

    client = boto3.client("dynamodb")
    events = DynamoDBEventStore(client, require(environ, "EVENTS_TABLE", "the orders Events table's name"))
    return OrdersProjector(client, require(environ, "READ_MODEL_TABLE", "the orders read-model table's name"), events)


handler = LambdaHandler(build)
