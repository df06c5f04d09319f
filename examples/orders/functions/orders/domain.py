"""The orders domain: equipment an employee orders to their desk, shipped by the warehouse.

Pure: no I/O, no clock, no AWS. An order is one stream, `order-<order_id>`; its state is a
fold of its events (`Order.evolve`), and every command is a function of that state, the
caller and the command's values that returns the events to append, or raises an
`OrderError` that says why not.

Events (their `data`):

- `OrderPlaced` {order_id, employee_id, items: [{sku, quantity}], deliver_on}
- `OrderShipped` {order_id, employee_id, shipped_by}
- `OrderCancelled` {order_id, employee_id, cancelled_by, reason}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, ClassVar

ORDER_PLACED = "OrderPlaced"
ORDER_SHIPPED = "OrderShipped"
ORDER_CANCELLED = "OrderCancelled"
EVENT_TYPES: tuple[str, ...] = (ORDER_PLACED, ORDER_SHIPPED, ORDER_CANCELLED)
"""Every event type this service appends (and its projection reads)."""

WAREHOUSE_GROUP = "warehouse"
"""The group (`cognito:groups`) whose members ship orders."""

MAX_LINES = 20
MAX_QUANTITY = 10


def stream_id(order_id: str) -> str:
    return f"order-{order_id}"


class OrderError(Exception):
    """Why the domain refuses a command: a stable `code` and a message for people.

    Subclasses say what kind of refusal it is; the API maps each kind to one HTTP status."""

    kind: ClassVar[str] = "rule"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(OrderError):
    kind = "not_found"


class Forbidden(OrderError):
    kind = "forbidden"


class InvalidState(OrderError):
    kind = "invalid_state"


class RuleViolated(OrderError):
    kind = "rule"


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Order:
    """An order as its events left it (`status` "none" before `OrderPlaced`)."""

    order_id: str = ""
    employee_id: str = ""
    status: str = "none"  # none | placed | shipped | cancelled
    lines: tuple[Line, ...] = ()
    deliver_on: str = ""

    def evolve(self, event_type: str, data: Mapping[str, Any]) -> Order:
        if event_type == ORDER_PLACED:
            lines = tuple(Line(str(i["sku"]), int(i["quantity"])) for i in data["items"])
            return Order(str(data["order_id"]), str(data["employee_id"]), "placed", lines, str(data["deliver_on"]))
        if event_type == ORDER_SHIPPED:
            return replace(self, status="shipped")
        if event_type == ORDER_CANCELLED:
            return replace(self, status="cancelled")
        return self  # an event type this version does not know changes nothing


def fold(events: Sequence[tuple[str, Mapping[str, Any]]]) -> Order:
    """The state after `events` ((event_type, data) pairs, oldest first)."""
    order = Order()
    for event_type, data in events:
        order = order.evolve(event_type, data)
    return order


Decision = list[tuple[str, dict[str, Any]]]
"""The events a command decides to append: (event_type, data), in order."""


def place(state: Order, *, order_id: str, employee_id: str, items: Sequence[Mapping[str, Any]], deliver_on: date, today: date) -> Decision:
    """An employee orders `items` ([{sku, quantity}]) to be delivered on `deliver_on`."""
    if state.status != "none":
        raise InvalidState("order_exists", f"order {order_id} already exists")
    if not 1 <= len(items) <= MAX_LINES:
        raise RuleViolated("too_many_lines", f"an order has 1 to {MAX_LINES} lines")
    skus = [str(i["sku"]) for i in items]
    if len(set(skus)) != len(skus):
        raise RuleViolated("duplicate_sku", "each sku appears once in an order; add to its quantity instead")
    for item in items:
        if not 1 <= int(item["quantity"]) <= MAX_QUANTITY:
            raise RuleViolated("quantity_out_of_range", f"quantity of {item['sku']} must be 1 to {MAX_QUANTITY}")
    if deliver_on <= today:
        raise RuleViolated("delivery_date_passed", f"deliver_on must be after today ({today.isoformat()})")
    data = {
        "order_id": order_id,
        "employee_id": employee_id,
        "items": [{"sku": str(i["sku"]), "quantity": int(i["quantity"])} for i in items],
        "deliver_on": deliver_on.isoformat(),
    }
    return [(ORDER_PLACED, data)]


def ship(state: Order, *, order_id: str, caller: str, groups: frozenset[str]) -> Decision:
    """The warehouse ships a placed order."""
    _exists(state, order_id)
    if WAREHOUSE_GROUP not in groups:
        raise Forbidden("not_warehouse", "only the warehouse ships orders")
    if state.status != "placed":
        raise InvalidState("not_open", f"order {order_id} is {state.status}, not placed")
    return [(ORDER_SHIPPED, {"order_id": order_id, "employee_id": state.employee_id, "shipped_by": caller})]


def cancel(state: Order, *, order_id: str, caller: str, reason: str = "") -> Decision:
    """The employee who placed an order cancels it, until it ships."""
    _exists(state, order_id)
    if caller != state.employee_id:
        raise Forbidden("not_orderer", "only the employee who placed the order may cancel it")
    if state.status != "placed":
        raise InvalidState("not_open", f"order {order_id} is {state.status}, not placed")
    return [(ORDER_CANCELLED, {"order_id": order_id, "employee_id": state.employee_id, "cancelled_by": caller, "reason": reason})]


def _exists(state: Order, order_id: str) -> None:
    if state.status == "none":
        raise NotFound("order_not_found", f"no order {order_id}")
