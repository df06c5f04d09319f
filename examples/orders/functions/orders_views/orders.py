"""The `orders` projection: what `GET /orders/{order_id}` and `GET /employees/{employee_id}/orders` answer.

Rows (`pk`, `sk`) -> JSON document:

- `order#<order_id>`, `order`: the whole order (`view`);
- `employee#<employee_id>`, `order#<order_id>`: the order's summary in its employee's list.

Only `apply` is this service's code; the runtime (`acme_eventsourcing.runtime.projections`)
applies each event exactly once and in stream order, fills gaps from the Events table, and
commits the rows with the stream's checkpoint in one transaction.
Lambda handler setting: `orders_views.orders.handler`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acme_eventsourcing.runtime.projections import Session, StoredEvent, projector_handler
from orders import domain

ORDER_SK = "order"


def order_pk(order_id: str) -> str:
    return f"order#{order_id}"


def employee_pk(employee_id: str) -> str:
    return f"employee#{employee_id}"


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


@dataclass(frozen=True)
class OrdersProjection:
    name: str = "orders"
    event_types: frozenset[str] = frozenset(domain.EVENT_TYPES)

    def apply(self, session: Session, event: StoredEvent) -> None:
        order_id = str(event.data["order_id"])
        doc = view(session.get(order_pk(order_id), ORDER_SK), event.event_type, event.data, event.occurred_at)
        if doc is None:
            return
        session.put(order_pk(order_id), ORDER_SK, doc)
        summary = {k: doc[k] for k in ("order_id", "status", "deliver_on", "placed_at")}
        session.put(employee_pk(doc["employee_id"]), f"order#{order_id}", summary)


handler = projector_handler(OrdersProjection())
