"""Lambda entry point of every command route of API.md (and `GET /openapi.json`, `GET /asyncapi.json`).

Wiring only: the runtime library's `CommandsApp` serves the command declarations of
`leave_api.api` with `LeaveService` (the application service) on the event store; see
`acme_eventsourcing.runtime.commands` for what every request goes through.

`handler` is a `LambdaHandler`: its first call builds the app from the environment
(`EVENTS_TABLE`, a DynamoDB store) and keeps it for the container's life. The local stack
may point its clock at a simulated day with `handler.use_clock(...)`; AWS never does, and
nothing in the environment can shift it. Tests build their own app with
`make_app(store, clock=..., new_id=...)` or `build(environ, clock)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acme_eventsourcing.runtime import http
from acme_eventsourcing.runtime.commands import CommandsApp
from acme_eventsourcing.runtime.eventstore.ports import EventStore
from acme_eventsourcing.runtime.handler import Clock, LambdaHandler, require

from leave_api.api import ASYNCAPI_ROUTE, COMMAND_DECLARATIONS, OPENAPI_ROUTE
from leave_api.service import LeaveService
from leave_api.slack import SLACK_INTERACTIONS_ROUTE, SlackInteractions


def openapi_document(event: Mapping[str, Any]) -> dict[str, Any]:
    """`GET /openapi.json` (public)."""
    from acme_eventsourcing.runtime.openapi import configured_server_url  # only this route needs them

    from leave_api.openapi import document

    return http.json_response(200, document(configured_server_url()))


def asyncapi_document(event: Mapping[str, Any]) -> dict[str, Any]:
    """`GET /asyncapi.json` (public): `servers` from `AWS_REGION` and `WEBSOCKET_URL`, never from the request."""
    from acme_eventsourcing.runtime.asyncapi import configured_region, configured_websocket_url  # only this route needs them

    from leave_api.asyncapi import document

    return http.json_response(200, document(websocket_url=configured_websocket_url(), region=configured_region()))


ENDPOINTS = ((OPENAPI_ROUTE, openapi_document), (ASYNCAPI_ROUTE, asyncapi_document))
"""The routes the commands function serves besides the commands: both public documents."""


def make_app(store: EventStore, *, slack: Mapping[str, Any] | None = None, **service_options: Any) -> CommandsApp:
    """A commands app on `store` (`clock=`, `new_id=`, ... go to `LeaveService`), serving
    `POST /slack/interactions` too; `slack` overrides that endpoint's `signing_secret`,
    `post` and `clock` (`leave_api.slack.SlackInteractions`: tests, the local stack)."""
    service = LeaveService(store, **service_options)

    def link_of(team_id: str, user_id: str) -> str | None:
        return service.slack_link(team_id, user_id).employee_id

    interactions = SlackInteractions(run=lambda *a, **k: app.execute(*a, **k), link_of=link_of, **(slack or {}))
    app = CommandsApp(
        COMMAND_DECLARATIONS,
        service,
        store,
        endpoints=[*ENDPOINTS, (SLACK_INTERACTIONS_ROUTE, interactions)],
    )
    return app


def build(environ: Mapping[str, str], clock: Clock) -> CommandsApp:
    """The app of the deployed function: a DynamoDB store on `EVENTS_TABLE`, dated by `clock`."""
    import boto3  # deferred: importing this module must not need AWS
    from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore

    table = require(environ, "EVENTS_TABLE", "the Events table's name")
    return make_app(DynamoDBEventStore(boto3.client("dynamodb"), table), clock=clock)


handler = LambdaHandler(build)
"""The Lambda entry point (`leave_api.commands.handler`)."""
