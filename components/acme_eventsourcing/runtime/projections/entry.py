"""The Lambda entry point of a projection: `handler = projector_handler(MyProjection())`.

The function is a target of the projection's bus rule (the Pulumi component wires it and
sets `READ_MODEL_TABLE`, the projection's own table, and `EVENTS_TABLE`, read for gap
filling). Each invocation gets one bus event; the projector applies it, and any missing
version before it, exactly once; an error propagates, so the bus retries and then the
dead-letter queue keeps the event, and the stream is marked stuck meanwhile (see
`core.Projector.handle`). The app is built on the first call from the environment and kept
for the container's life; tests call `build_projector(projection, environ, client=...)`.

A live projection (one with `topics`, `core.Live`, whose function has `LIVE_EVENT_BUS`) puts a
`ReadModelChanged` notice on the bus after each commit that changed its rows (`notices`).

A blue/green projection (`READ_MODEL_STANDBY_TABLE` set too) applies each event to whichever
of its two tables the pointer in the home table names (`bluegreen`: looked up at most every
`ACTIVE_TABLE_CACHE_SECONDS`), each table with its own checkpoints.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
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
    from .notices import notices_from_env

    notices = notices_from_env(environ) if callable(getattr(projection, "topics", None)) else None
    return Projector(
        projection=projection, store=DynamoDBReadModelStore(client, read_model), events=DynamoDBEventStore(client, events), notices=notices
    )


def build_projectors(projection: Projection, environ: Mapping[str, str], client: Any = None) -> Callable[[], Projector]:
    """What gives the `Projector` of the table an event goes to: the one of `build_projector`,
    or, with `READ_MODEL_STANDBY_TABLE` set (a blue/green projection), the one of the table
    the pointer in `READ_MODEL_TABLE` names at the time of the call (cached lookup)."""
    if client is None:
        import boto3

        client = boto3.client("dynamodb")
    home = build_projector(projection, environ, client)
    standby = environ.get("READ_MODEL_STANDBY_TABLE")
    if not standby:
        return lambda: home
    from .bluegreen import ActiveTables, cache_seconds
    from .dynamodb import DynamoDBReadModelStore

    active = ActiveTables(client, cache_seconds(environ))
    home_table = environ["READ_MODEL_TABLE"]
    projectors = {
        home_table: home,
        standby: Projector(projection=projection, store=DynamoDBReadModelStore(client, standby), events=home.events, notices=home.notices),
    }

    def current() -> Projector:
        table = active.active(home_table)
        if table not in projectors:
            raise RuntimeError(f"the pointer in {home_table} names {table!r}, neither of this projection's tables")
        return projectors[table]

    return current


class ProjectorApp:
    """What the Lambda runs per invocation: parse the bus event, apply it, log one line.

    `projector` is the `Projector`, or what gives the one to use per call (blue/green)."""

    def __init__(self, projector: Projector | Callable[[], Projector]) -> None:
        self._select = projector if callable(projector) and not isinstance(projector, Projector) else (lambda: projector)

    @property
    def projector(self) -> Projector:
        """The projector this call uses (a blue/green projection's: its active table's)."""
        return self._select()  # type: ignore[return-value]

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """`{"applied": n}`: how many events this call applied (0 for a duplicate; more than 1
        when it filled a gap). `MalformedEventError` if the event carries no envelope."""
        stored = from_bus(event)
        projector = self.projector
        applied = projector.handle(stored)
        name = projector.projection.name
        logger.info(json.dumps({"projection": name, "stream_id": stored.stream_id, "version": stored.version, "applied": applied}))
        return {"applied": applied}


def projector_handler(projection: Projection, *, environ: Mapping[str, str] | None = None) -> LambdaHandler[ProjectorApp]:
    """The Lambda entry point of `projection` (declare it in the projection's module:
    `handler = projector_handler(MyProjection())`, handler setting `my_module.handler`).

    Built on the first invocation from `os.environ` (or `environ`); reads no clock (events
    carry their dates), so a host that simulates a date leaves it alone."""

    def build(env: Mapping[str, str], clock: Clock) -> ProjectorApp:
        return ProjectorApp(build_projectors(projection, env))

    handler = LambdaHandler(build, environ=environ, uses_clock=False)
    handler.projection = projection  # type: ignore[attr-defined] - what an operator's rebuild replays (`acme_eventsourcing.ops`)
    return handler
