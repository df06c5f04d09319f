"""The commands function: every `CommandDecl` of `orders_api.api`, and `GET /openapi.json`.

The runtime's `CommandsApp` does the HTTP edge the same way for every command (route,
caller from the verified claims, JSON Schema validation, `Idempotency-Key`, one mapping of
domain errors to statuses); `OrdersService` loads the order's stream, lets the domain
decide and appends the new events with the idempotency record in one transaction,
retrying a lost race. Lambda handler setting: `orders_api.commands.handler`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from acme_eventsourcing.runtime import http
from acme_eventsourcing.runtime.commands import CommandsApp
from acme_eventsourcing.runtime.eventstore import EventStore
from acme_eventsourcing.runtime.handler import Clock, LambdaHandler, require
from acme_eventsourcing.runtime.service import ApplicationService, CommandContext, CommandResult
from orders import domain

from orders_api.api import COMMAND_DECLARATIONS, INFO, OPENAPI_ROUTE, RESPOND, ROUTES


class OrdersService(ApplicationService):
    """Load the order, decide, append at the version loaded; a lost race reruns all three."""

    def handle(self, command: domain.Command, context: CommandContext, now: datetime) -> CommandResult:
        def attempt(number: int, cached: set[str]) -> CommandResult:
            stream = domain.stream_id(command.order_id)
            history = self.load(stream)
            state = domain.fold([(e.event_type, e.data) for e in history])
            events = domain.decide(state, command, today=now.date())
            return self.commit(command, events, {stream: len(history)}, context, now)

        return self.retrying(attempt)


def openapi_document(event: Mapping[str, Any]) -> dict[str, Any]:
    """`GET /openapi.json` (public): the document of every route, `servers` from `API_URL`."""
    from acme_eventsourcing.runtime.openapi import configured_server_url, document

    return http.json_response(200, document(ROUTES, INFO, configured_server_url()))


def make_app(store: EventStore, clock: Clock) -> CommandsApp:
    """The app on `store` (tests give an `InMemoryEventStore` and a fixed clock)."""
    service = OrdersService(store, respond=RESPOND, clock=clock)
    return CommandsApp(COMMAND_DECLARATIONS, service, store, endpoints=[(OPENAPI_ROUTE, openapi_document)])


def build(environ: Mapping[str, str], clock: Clock) -> CommandsApp:
    """The app on the Events table named by `EVENTS_TABLE` (set by EventSourcedService)."""
    import boto3
    from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore

    table = require(environ, "EVENTS_TABLE", "the orders Events table's name")
    return make_app(DynamoDBEventStore(boto3.client("dynamodb"), table), clock)


handler = LambdaHandler(build)
