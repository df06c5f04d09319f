"""The Lambda entry point of a projection: `handler = projector_handler(MyProjection())`.

The function is a target of the projection's bus rule (the Pulumi component wires it and
sets `READ_MODEL_TABLE`, the projection's own table, and `EVENTS_TABLE`, read for gap
filling). Each invocation gets one bus event; the projector applies it, and any missing
version before it, exactly once; an error propagates, so the bus retries and then the
dead-letter queue keeps the event, and the stream is marked stuck meanwhile (see
`core.Projector.handle`). The app is built on the first call from the environment and kept
for the container's life; tests call `build_projector(projection, environ, client=...)`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from ..envelopes import from_bus
from ..handler import Clock, LambdaHandler, require
from .core import Projection, Projector

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


def build_projector(projection: Projection, environ: Mapping[str, str], client: Any = None) -> Projector:
    """A `Projector` of `projection` on DynamoDB: the read model in `READ_MODEL_TABLE`, gaps
    filled from `EVENTS_TABLE`. `ConfigurationError` names a missing variable. `client`: a
    boto3 DynamoDB client (default: a new one)."""
    read_model = require(environ, "READ_MODEL_TABLE", f"the name of the {projection.name!r} read-model table")
    events = require(environ, "EVENTS_TABLE", "the name of the Events table (read to fill gaps)")
    if client is None:
        import boto3

        client = boto3.client("dynamodb")
    from ..eventstore.dynamodb import DynamoDBEventStore
    from .dynamodb import DynamoDBReadModelStore

    return Projector(projection=projection, store=DynamoDBReadModelStore(client, read_model), events=DynamoDBEventStore(client, events))


class ProjectorApp:
    """What the Lambda runs per invocation: parse the bus event, apply it, log one line."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """`{"applied": n}`: how many events this call applied (0 for a duplicate; more than 1
        when it filled a gap). `MalformedEventError` if the event carries no envelope."""
        stored = from_bus(event)
        applied = self.projector.handle(stored)
        name = self.projector.projection.name
        logger.info(json.dumps({"projection": name, "stream_id": stored.stream_id, "version": stored.version, "applied": applied}))
        return {"applied": applied}


def projector_handler(projection: Projection, *, environ: Mapping[str, str] | None = None) -> LambdaHandler[ProjectorApp]:
    """The Lambda entry point of `projection` (declare it in the projection's module:
    `handler = projector_handler(MyProjection())`, handler setting `my_module.handler`).

    Built on the first invocation from `os.environ` (or `environ`); reads no clock (events
    carry their dates), so a host that simulates a date leaves it alone."""

    def build(env: Mapping[str, str], clock: Clock) -> ProjectorApp:
        return ProjectorApp(build_projector(projection, env))

    return LambdaHandler(build, environ=environ, uses_clock=False)
