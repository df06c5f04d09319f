"""The orders API's routes: plain data, read by the Pulumi program and served by the handlers.

Keys are API Gateway route keys ("METHOD /path/{param}"), so the routes the stack declares
and the routes the functions serve cannot drift.
"""

from __future__ import annotations

COMMAND_ROUTES: tuple[str, ...] = (
    "POST /orders",
    "POST /orders/{order_id}/ship",
    "POST /orders/{order_id}/cancel",
)
QUERY_ROUTES: tuple[str, ...] = ("GET /orders/{order_id}", "GET /employees/{employee_id}/orders")
