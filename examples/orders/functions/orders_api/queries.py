"""The queries function: reads the `orders` read model only, never the Events table.

- `GET /orders/{order_id}`: the order, for the employee who placed it and the warehouse;
  anyone else gets a 404 (whether an order id exists is not theirs to learn);
- `GET /employees/{employee_id}/orders`: that employee's orders, for them and the warehouse.

Answers say how current they are (`as_of_version`/`as_of`: the stream versions the read
model reflects; `stale`: streams its projector is stuck on): an order placed a moment ago
may be a 404 until its projector has run.
Lambda handler setting: `orders_api.queries.handler`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acme_eventsourcing.runtime import http
from acme_eventsourcing.runtime.handler import Clock, LambdaHandler
from acme_eventsourcing.runtime.projections import ReadModelReader, freshness, reader_from_env
from acme_eventsourcing.runtime.routes import QUERIES, Match, serve, served_by, validate_params
from orders import domain
from orders_views.orders import ORDER_SK, employee_pk, order_pk

from orders_api.api import ROUTES

PROJECTION = "orders"
QUERY_ROUTES = served_by(ROUTES, QUERIES)


class QueriesApp:
    def __init__(self, reader: ReadModelReader) -> None:
        self._reader = reader

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return serve(event, QUERY_ROUTES, self._dispatch)

    def _dispatch(self, event: Mapping[str, Any], found: Match, correlation: str, extra: dict[str, Any]) -> dict[str, Any]:
        who = http.caller(event)  # 401 before anything else
        params = validate_params(found.route, found.params)
        if found.route.handler == "get_order":
            doc = self._reader.get(PROJECTION, order_pk(params["order_id"]), ORDER_SK)
            if doc is None or not _may_read(who, doc["employee_id"]):
                raise http.HttpError(404, "order_not_found", f"no order {params['order_id']}")
            return http.json_response(200, {**doc, **freshness(self._reader, PROJECTION, domain.stream_id(params["order_id"]))})
        employee_id = params["employee_id"]
        if not _may_read(who, employee_id):
            raise http.HttpError(403, "forbidden", "only the employee and the warehouse see an employee's orders")
        items = self._reader.query(PROJECTION, employee_pk(employee_id))
        streams = [domain.stream_id(item["order_id"]) for item in items]
        return http.json_response(200, {"items": items, **freshness(self._reader, PROJECTION, None, streams)})


def _may_read(who: http.Caller, employee_id: str) -> bool:
    return who.id == employee_id or who.has_role(domain.WAREHOUSE_GROUP)


def build(environ: Mapping[str, str], clock: Clock) -> QueriesApp:
    """The app on the read-model table named by `READ_MODEL_TABLE_ORDERS` (set by EventSourcedService)."""
    return QueriesApp(reader_from_env(environ, [PROJECTION]))


handler = LambdaHandler(build, uses_clock=False)
