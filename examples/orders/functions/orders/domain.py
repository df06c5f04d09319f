"""The orders domain: equipment an employee orders to their desk, shipped by the warehouse.

Pure: no I/O, no clock, no HTTP. An order is one stream, `order-<order_id>`; its state is a
fold of its events (`Order.evolve`), and every command is a function of that state and the
command that returns the events to append, or raises one of the runtime's error
categories (`Forbidden`, `NotFound`, `Conflict`, `Rejected`: the HTTP edge maps each to
one status; the domain names none).

Events (their `data`):

- `OrderPlaced` {order_id, employee_id, items: [{sku, quantity}], deliver_on}
- `OrderShipped` {order_id, employee_id, shipped_by}
- `OrderCancelled` {order_id, employee_id, cancelled_by, reason}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from acme_eventsourcing.runtime.errors import Conflict, Forbidden, NotFound, Rejected

ORDER_PLACED = "OrderPlaced"
ORDER_SHIPPED = "OrderShipped"
ORDER_CANCELLED = "OrderCancelled"
EVENT_TYPES: tuple[str, ...] = (ORDER_PLACED, ORDER_SHIPPED, ORDER_CANCELLED)
"""Every event type this service appends (and its projection reads)."""

WAREHOUSE_GROUP = "warehouse"
"""The group (`cognito:groups`) whose members ship orders."""

MAX_LINES = 20
MAX_QUANTITY = 10

__all__ = ["Conflict", "Forbidden", "NotFound", "Rejected"]  # the refusals, re-exported for callers


def stream_id(order_id: str) -> str:
    return f"order-{order_id}"


@dataclass(frozen=True)
class Event:
    """A decided event: what the application service appends (`stream_id`, `event_type`, `to_data()`)."""

    event_type: str
    data: Mapping[str, Any]

    @property
    def stream_id(self) -> str:
        return stream_id(str(self.data["order_id"]))

    def to_data(self) -> Mapping[str, Any]:
        return self.data


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


# --- commands ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceOrder:
    order_id: str
    employee_id: str
    items: tuple[Mapping[str, Any], ...]
    deliver_on: date


@dataclass(frozen=True)
class ShipOrder:
    order_id: str
    by: str
    groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class CancelOrder:
    order_id: str
    by: str
    reason: str = ""


Command = PlaceOrder | ShipOrder | CancelOrder


def decide(state: Order, command: Command, *, today: date) -> list[Event]:
    """The events `command` appends to its order's stream, given the order's state."""
    if isinstance(command, PlaceOrder):
        return place(state, command, today=today)
    if isinstance(command, ShipOrder):
        return ship(state, command)
    return cancel(state, command)


def place(state: Order, command: PlaceOrder, *, today: date) -> list[Event]:
    """An employee orders items ([{sku, quantity}]) to be delivered on a later day."""
    if state.status != "none":
        raise Conflict("order_exists", f"order {command.order_id} already exists")
    items = command.items
    if not 1 <= len(items) <= MAX_LINES:
        raise Rejected("too_many_lines", f"an order has 1 to {MAX_LINES} lines")
    skus = [str(i["sku"]) for i in items]
    if len(set(skus)) != len(skus):
        raise Rejected("duplicate_sku", "each sku appears once in an order; add to its quantity instead")
    for item in items:
        if not 1 <= int(item["quantity"]) <= MAX_QUANTITY:
            raise Rejected("quantity_out_of_range", f"quantity of {item['sku']} must be 1 to {MAX_QUANTITY}")
    if command.deliver_on <= today:
        error = Rejected("delivery_date_passed", f"deliver_on must be after today ({today.isoformat()})")
        error.field = "deliver_on"
        raise error
    data = {
        "order_id": command.order_id,
        "employee_id": command.employee_id,
        "items": [{"sku": str(i["sku"]), "quantity": int(i["quantity"])} for i in items],
        "deliver_on": command.deliver_on.isoformat(),
    }
    return [Event(ORDER_PLACED, data)]


def ship(state: Order, command: ShipOrder) -> list[Event]:
    """The warehouse ships a placed order."""
    _exists(state, command.order_id)
    if WAREHOUSE_GROUP not in command.groups:
        raise Forbidden("not_warehouse", "only the warehouse ships orders")
    if state.status != "placed":
        raise Conflict("not_open", f"order {command.order_id} is {state.status}, not placed")
    return [Event(ORDER_SHIPPED, {"order_id": command.order_id, "employee_id": state.employee_id, "shipped_by": command.by})]


def cancel(state: Order, command: CancelOrder) -> list[Event]:
    """The employee who placed an order cancels it, until it ships."""
    _exists(state, command.order_id)
    if command.by != state.employee_id:
        raise Forbidden("not_orderer", "only the employee who placed the order may cancel it")
    if state.status != "placed":
        raise Conflict("not_open", f"order {command.order_id} is {state.status}, not placed")
    data = {"order_id": command.order_id, "employee_id": state.employee_id, "cancelled_by": command.by, "reason": command.reason}
    return [Event(ORDER_CANCELLED, data)]


def _exists(state: Order, order_id: str) -> None:
    if state.status == "none":
        raise NotFound("order_not_found", f"no order {order_id}")
