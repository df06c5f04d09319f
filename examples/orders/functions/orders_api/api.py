"""The orders API: one declaration per command, the query routes, the route table.

Plain data (stdlib and the runtime library's declarations only): the commands function
serves the declarations, the queries function the query routes, the Pulumi program
(`__main__.py`) declares every route of `ROUTES` on the HTTP API, and the OpenAPI document
(`GET /openapi.json`) describes them, so none of them can drift. Adding a command touches
the domain and one `CommandDecl` here.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from acme_eventsourcing.runtime.commands import CommandDecl, Responder
from acme_eventsourcing.runtime.openapi import ApiInfo
from acme_eventsourcing.runtime.routes import COMMANDS, QUERIES, Route
from orders import domain

ORDER_ID = {"type": "string", "pattern": "^[a-f0-9]{32}$"}
EMPLOYEE_ID = {"type": "string", "pattern": "^[A-Za-z0-9_.@-]{1,64}$"}
LINE = {
    "type": "object",
    "properties": {
        "sku": {"type": "string", "pattern": "^[a-z0-9-]{1,40}$"},
        "quantity": {"type": "integer", "minimum": 1, "maximum": domain.MAX_QUANTITY},
    },
    "required": ["sku", "quantity"],
    "additionalProperties": False,
}
PLACE_ORDER_BODY = {
    "title": "PlaceOrder",
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": LINE, "minItems": 1, "maxItems": domain.MAX_LINES},
        "deliver_on": {"type": "string", "format": "date"},
    },
    "required": ["items", "deliver_on"],
    "additionalProperties": False,
}
EMPTY_BODY = {"title": "NoBody", "type": "object", "additionalProperties": False}
CANCEL_BODY = {
    "title": "CancelOrder",
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": 500}},
    "additionalProperties": False,
}
ORDER_REF = {"title": "OrderRef", "type": "object", "properties": {"order_id": ORDER_ID, "status": {"type": "string"}}}
ORDER = {"title": "Order", "type": "object"}
ORDER_LIST = {"title": "OrderList", "type": "object", "properties": {"items": {"type": "array"}}}


def _order_ref(command: Any, events: list[domain.Event]) -> dict[str, Any]:
    return {"order_id": command.order_id, "status": {domain.ORDER_PLACED: "placed"}.get(events[0].event_type, "done")}


PLACE_ORDER = CommandDecl(
    name="place_order",
    method="POST",
    path="/orders",
    body=PLACE_ORDER_BODY,
    response=ORDER_REF,
    status=201,
    summary="Order equipment to your desk",
    who="any employee, for themselves",
    command=domain.PlaceOrder,
    build=lambda params, body, caller: domain.PlaceOrder(
        order_id=uuid.uuid4().hex,
        employee_id=caller.id,
        items=tuple(body["items"]),
        deliver_on=date.fromisoformat(body["deliver_on"]),
    ),
    result=_order_ref,
)
SHIP_ORDER = CommandDecl(
    name="ship_order",
    method="POST",
    path="/orders/{order_id}/ship",
    parameters={"order_id": ORDER_ID},
    body=EMPTY_BODY,
    response=ORDER_REF,
    summary="Ship a placed order",
    who="the warehouse",
    command=domain.ShipOrder,
    build=lambda params, body, caller: domain.ShipOrder(order_id=params["order_id"], by=caller.id, groups=caller.roles),
    result=lambda command, events: {"order_id": command.order_id, "status": "shipped"},
)
CANCEL_ORDER = CommandDecl(
    name="cancel_order",
    method="POST",
    path="/orders/{order_id}/cancel",
    parameters={"order_id": ORDER_ID},
    body=CANCEL_BODY,
    response=ORDER_REF,
    summary="Cancel your order before it ships",
    who="the employee who placed it",
    command=domain.CancelOrder,
    build=lambda params, body, caller: domain.CancelOrder(order_id=params["order_id"], by=caller.id, reason=body.get("reason", "")),
    result=lambda command, events: {"order_id": command.order_id, "status": "cancelled"},
)
COMMAND_DECLARATIONS: tuple[CommandDecl, ...] = (PLACE_ORDER, SHIP_ORDER, CANCEL_ORDER)
RESPOND = Responder(COMMAND_DECLARATIONS)

GET_ORDER = Route(
    method="GET",
    path="/orders/{order_id}",
    handler="get_order",
    function=QUERIES,
    who="the employee who placed it, the warehouse",
    summary="An order, from the read model",
    status=200,
    response=ORDER,
    parameters={"order_id": ORDER_ID},
    errors=(404,),
)
LIST_ORDERS = Route(
    method="GET",
    path="/employees/{employee_id}/orders",
    handler="list_orders",
    function=QUERIES,
    who="the employee, the warehouse",
    summary="An employee's orders, from the read model",
    status=200,
    response=ORDER_LIST,
    parameters={"employee_id": EMPLOYEE_ID},
    errors=(403,),
)
OPENAPI_ROUTE = Route(
    method="GET",
    path="/openapi.json",
    handler="get_openapi",
    function=COMMANDS,
    who="anyone",
    summary="This API's OpenAPI document",
    status=200,
    response={"title": "OpenApiDocument", "type": "object"},
    public=True,
)

ROUTES: tuple[Route, ...] = (*(d.route for d in COMMAND_DECLARATIONS), GET_ORDER, LIST_ORDERS, OPENAPI_ROUTE)
"""The route table: what the Pulumi program declares and the OpenAPI document describes."""
INFO = ApiInfo(title="Orders", description="Equipment orders: placed by employees, shipped by the warehouse.")
