"""The projector runtime: read models fed exactly once from at-least-once, unordered bus events.

What a team writes is a `Projection`: a `name`, the `event_types` it reads, and
`apply(session, event)`, which reads and writes rows of its read model through the
`Session` (rows are (`pk`, `sk`) -> JSON document). Everything else is the runtime's:

- `Projector` applies a stream's events in version order, exactly once per read model: a
  per-stream checkpoint moves in the same transaction as the rows; a duplicate or older
  version is skipped; a gap (version n+2 arrives before n+1) is filled by loading the
  missing events from the Events table; a failed condition (another invocation got there
  first) re-reads and retries; a stream it cannot apply is recorded as stuck.
- `projector_handler(projection)` is the Lambda entry point (wired from `READ_MODEL_TABLE`
  and `EVENTS_TABLE`, plus `READ_MODEL_STANDBY_TABLE` for a blue/green projection, whose
  active table a pointer names: `bluegreen`); `rebuild` replays the Events table into a
  fresh read model (`acme_eventsourcing.ops` rebuilds a blue/green one without downtime).
- `InMemoryReadModelStore` and `DynamoDBReadModelStore` implement `ReadModelStore`.
- `DynamoDBReadModelReader` and `freshness` serve query functions: rows plus how current
  an answer is (`as_of_version`, `as_of`, `stale`).

    from acme_eventsourcing.runtime.projections import Session, StoredEvent, projector_handler

    @dataclass(frozen=True)
    class OrderTotals:
        name: str = "order-totals"
        event_types: frozenset[str] = frozenset({"OrderPlaced"})

        def apply(self, session: Session, event: StoredEvent) -> None:
            pk = f"customer#{event.data['customer_id']}"
            doc = session.get(pk, "totals") or {"orders": 0}
            session.put(pk, "totals", {"orders": doc["orders"] + 1})

    handler = projector_handler(OrderTotals())

Rules a projection keeps: `apply` is deterministic from the event and the rows it reads
(it may run again after a conflict, on fresh rows); it reads rows other streams write
with `session.get` (the commit is conditioned on them) and writes at most `session.room()`
rows per event (a transaction holds 100 actions; defer the rest with
`session.refresh_later(target)` and a `refresh(session, target)` method). The partitions
`checkpoint#...` and `stuck` are the projector's. Standard library and boto3 only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, for type checkers; at run time __getattr__ imports each from its module
    from ..envelopes import BusEvent, MalformedEventError, from_bus, parse_bus_event
    from ..eventstore.ports import StoredEvent
    from ..handler import ConfigurationError
    from .bluegreen import ActiveTables, Pointer, clear_table, read_pointer, switch
    from .core import DEFAULT_MAX_ACTIONS, ChangeNotices, Live, MissingEventsError, Projection, Projector, Refreshing, Session
    from .dynamodb import DynamoDBReadModelStore
    from .entry import ProjectorApp, build_projector, build_projectors, projector_handler
    from .memory import InMemoryReadModelStore
    from .notices import EventBridgeNotices, notices_from_env
    from .ports import (
        CHECKPOINT_PREFIX,
        POINTER_PK,
        STUCK_PK,
        Check,
        Checkpoint,
        CheckpointMove,
        ConflictError,
        EventLoader,
        ReadModelError,
        ReadModelStore,
        Row,
        TooManyActionsError,
        Write,
        checkpoint_pk,
    )
    from .reader import (
        DynamoDBReadModelReader,
        ReadModelReader,
        StoreReadModelReader,
        freshness,
        reader_from_env,
        stale_entry,
        stuck_streams,
        table_variable,
    )
    from .rebuild import EventsReader, EventsTableReader, RebuildReport, StreamsReader, rebuild

#: Where each public name lives: its module is imported when the name is first used, so a
#: function that needs the reader (queries) loads neither the stores nor rebuild, and its
#: zip holds only what it imports.
_HOMES: dict[str, str] = {
    "CHECKPOINT_PREFIX": ".ports",
    "POINTER_PK": ".ports",
    "ActiveTables": ".bluegreen",
    "Pointer": ".bluegreen",
    "clear_table": ".bluegreen",
    "read_pointer": ".bluegreen",
    "switch": ".bluegreen",
    "build_projectors": ".entry",
    "DEFAULT_MAX_ACTIONS": ".core",
    "STUCK_PK": ".ports",
    "BusEvent": "..envelopes",
    "ChangeNotices": ".core",
    "Check": ".ports",
    "Checkpoint": ".ports",
    "CheckpointMove": ".ports",
    "ConfigurationError": "..handler",
    "ConflictError": ".ports",
    "DynamoDBReadModelReader": ".reader",
    "DynamoDBReadModelStore": ".dynamodb",
    "EventLoader": ".ports",
    "EventsReader": ".rebuild",
    "EventsTableReader": ".rebuild",
    "EventBridgeNotices": ".notices",
    "InMemoryReadModelStore": ".memory",
    "Live": ".core",
    "MalformedEventError": "..envelopes",
    "MissingEventsError": ".core",
    "Projection": ".core",
    "Projector": ".core",
    "ProjectorApp": ".entry",
    "ReadModelError": ".ports",
    "ReadModelReader": ".reader",
    "ReadModelStore": ".ports",
    "RebuildReport": ".rebuild",
    "Refreshing": ".core",
    "Row": ".ports",
    "Session": ".core",
    "StoreReadModelReader": ".reader",
    "StoredEvent": "..eventstore.ports",
    "StreamsReader": ".rebuild",
    "TooManyActionsError": ".ports",
    "Write": ".ports",
    "build_projector": ".entry",
    "checkpoint_pk": ".ports",
    "freshness": ".reader",
    "from_bus": "..envelopes",
    "parse_bus_event": "..envelopes",
    "notices_from_env": ".notices",
    "projector_handler": ".entry",
    "reader_from_env": ".reader",
    "rebuild": ".rebuild",
    "stale_entry": ".reader",
    "stuck_streams": ".reader",
    "table_variable": ".reader",
}

__all__ = [
    "CHECKPOINT_PREFIX",
    "POINTER_PK",
    "ActiveTables",
    "Pointer",
    "clear_table",
    "read_pointer",
    "switch",
    "build_projectors",
    "DEFAULT_MAX_ACTIONS",
    "STUCK_PK",
    "BusEvent",
    "ChangeNotices",
    "Check",
    "Checkpoint",
    "CheckpointMove",
    "ConfigurationError",
    "ConflictError",
    "DynamoDBReadModelReader",
    "DynamoDBReadModelStore",
    "EventLoader",
    "EventsReader",
    "EventsTableReader",
    "EventBridgeNotices",
    "InMemoryReadModelStore",
    "Live",
    "MalformedEventError",
    "MissingEventsError",
    "Projection",
    "Projector",
    "ProjectorApp",
    "ReadModelError",
    "ReadModelReader",
    "ReadModelStore",
    "RebuildReport",
    "Refreshing",
    "Row",
    "Session",
    "StoreReadModelReader",
    "StoredEvent",
    "StreamsReader",
    "TooManyActionsError",
    "Write",
    "build_projector",
    "checkpoint_pk",
    "freshness",
    "from_bus",
    "parse_bus_event",
    "notices_from_env",
    "projector_handler",
    "reader_from_env",
    "rebuild",
    "stale_entry",
    "stuck_streams",
    "table_variable",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(home, __name__)
    # every public name of that module at once: importing `.rebuild` just set this package's
    # attribute `rebuild` to the submodule, which must not shadow the function of that name
    globals().update({n: getattr(module, n) for n, h in _HOMES.items() if h == home})
    return globals()[name]


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
