"""The queries function: `GET /orders/{order_id}`, from the `orders` read model only.

The employee who placed the order and the warehouse may read it; anyone else gets a 404
(not a 403: whether an order id exists is not theirs to learn). Eventually consistent: an
order placed a moment ago may be 404 until its projector has run.
Lambda handler setting: `orders_api.queries.handler`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from acme_eventsourcing.runtime.handler import Clock, LambdaHandler, require
from orders import domain

from orders_api import http


class QueriesApp:
    def __init__(self, client: Any, table: str, *, identity_claim: str = "sub") -> None:
        self._client, self._table, self._claim = client, table, identity_claim

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            who = http.caller(event, self._claim)
            if event.get("routeKey") != "GET /orders/{order_id}":
                raise http.HttpError(404, "no_route", f"no route {event.get('routeKey')!r}")
            order_id = str((event.get("pathParameters") or {}).get("order_id") or "")
            key = {"pk": {"S": f"order#{order_id}"}, "sk": {"S": "order"}}
            item = self._client.get_item(TableName=self._table, Key=key).get("Item")
            doc = json.loads(item["doc"]["S"]) if item else None
            if not doc or (doc["employee_id"] != who.employee_id and domain.WAREHOUSE_GROUP not in who.groups):
                raise http.HttpError(404, "order_not_found", f"no order {order_id}")
            return http.response(200, doc)
        except http.HttpError as exc:
            return http.error(exc)


def build(environ: Mapping[str, str], clock: Clock) -> QueriesApp:
    import boto3

    table = require(environ, "READ_MODEL_TABLE_ORDERS", "the orders read-model table's name")
    return QueriesApp(boto3.client("dynamodb"), table, identity_claim=environ.get("IDENTITY_CLAIM") or "sub")


handler = LambdaHandler(build)
