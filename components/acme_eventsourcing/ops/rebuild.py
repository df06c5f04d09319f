"""`rebuild PROJECTION`: a blue/green rebuild, without downtime.

A blue/green projection (`ProjectionSpec(blue_green=True)`) has two tables and a pointer in
its home table naming the active one (`acme_eventsourcing.runtime.projections.bluegreen`);
the projector and the queries read the pointer through a cache of a few seconds. The
rebuild:

1. reads the pointer: the inactive table is the target; if the last switch is more recent
   than `grace_s`, waits until it is not (a container may still have written there);
2. clears the target, then replays every stream of `replay` (the Events table, or any
   `EventsReader`, e.g. an S3 backup) into it through the same `Projector` the Lambda runs;
   meanwhile the projector keeps writing the active table;
3. catches the target up from the Events table, round after round, until a round finds at
   most `max_behind` streams behind (default 0; under steady writes a few streams are
   always being written: each round applies what its Scan found, from the target's
   checkpoint, gaps filled as the Lambda would);
4. refuses to switch if the target has stuck streams (the active table stays; the report
   names them); else switches the pointer (conditioned on its generation: a concurrent
   rebuild loses with a conflict);
5. waits `grace_s` (the pointer cache plus the projector's timeout: every invocation that
   could still write the old table has ended), then catches the new table up once more:
   an event applied to the old table only, just before the switch, lands in the new one;
6. clears the old table (unless `keep_old`), ready for the next rebuild.

Exactly once per (stream, version) holds in each table by itself (its own checkpoints,
every commit conditioned on the checkpoint it moves), so the projector and the rebuild can
both write the new table after the switch without doubling an event. Queries read the old
table until their cache sees the switch, then the new one, which has caught up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..runtime.eventstore.dynamodb import DynamoDBEventStore
from ..runtime.eventstore.ports import StoredEvent
from ..runtime.projections.bluegreen import cache_seconds, clear_table, read_pointer, switch
from ..runtime.projections.core import Projection, Projector
from ..runtime.projections.dynamodb import DynamoDBReadModelStore
from ..runtime.projections.ports import EventLoader
from ..runtime.projections.rebuild import EventsReader, EventsTableReader
from .lag import EventsIndex

Log = Callable[[str], None]


class RebuildError(RuntimeError):
    """The rebuild stopped before switching (the message says why); queries still read the old table."""


@dataclass(kw_only=True)
class RebuildResult:
    """What a blue/green rebuild did."""

    projection: str
    from_table: str
    to_table: str
    cleared_target: int = 0
    replayed_streams: int = 0
    replayed_events: int = 0
    catch_up_rounds: list[int] = field(default_factory=list)
    """Streams applied in each catch-up round before the switch (the last is 0)."""
    generation: int = 0
    """The pointer's generation after the switch."""
    after_switch: int = 0
    """Streams the catch-up after the switch applied (events the old table got meanwhile)."""
    cleared_old: int | None = None
    seconds: float = 0.0


class _Preloaded:
    """An `EventLoader` answering from events already read for the stream being replayed
    (so a replay reads each stream once), else from `fallback`."""

    def __init__(self, fallback: EventLoader) -> None:
        self.fallback = fallback
        self.stream_id = ""
        self.events: list[StoredEvent] = []

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        if stream_id == self.stream_id:
            return [e for e in self.events if e.version > after_version]
        return self.fallback.load(stream_id, after_version)


def replay(events: EventsReader, projector: Projector, loader: _Preloaded) -> tuple[int, int, list[tuple[str, str]]]:
    """Apply every stream of `events` through `projector` (whose loader is `loader`):
    (streams, events, failures as (stream, reason)); a failing stream is marked stuck by the
    projector and the replay goes on."""
    streams = count = 0
    failures: list[tuple[str, str]] = []
    for stream_id in events.stream_ids():
        loaded = events.load(stream_id)
        if not loaded:
            continue
        streams += 1
        loader.stream_id, loader.events = stream_id, loaded
        try:
            projector.handle(loaded[-1])
        except Exception as exc:  # noqa: BLE001 - recorded as stuck by the projector; reported
            failures.append((stream_id, f"{type(exc).__name__}: {exc}"))
        count += len(loaded)
    loader.stream_id, loader.events = "", []
    return streams, count, failures


def catch_up(client: Any, events_table: str, projector: Projector) -> tuple[int, list[tuple[str, str]]]:
    """One round: apply to the projector's table every stream of the Events table it is
    behind on (from its checkpoint, gaps filled); (streams applied, failures)."""
    store = projector.store
    checkpoints = store.checkpoints()
    index = EventsIndex.scan(client, events_table)
    behind = [s for s, latest in index.latest().items() if checkpoints.get(s, 0) < latest]
    failures: list[tuple[str, str]] = []
    truth = DynamoDBEventStore(client, events_table)
    for stream_id in behind:
        events = truth.load(stream_id, checkpoints.get(stream_id, 0))
        if not events:
            continue
        try:
            projector.handle(events[-1])
        except Exception as exc:  # noqa: BLE001 - the stream is marked stuck; reported
            failures.append((stream_id, f"{type(exc).__name__}: {exc}"))
    return len(behind), failures


def rebuild_blue_green(
    client: Any,
    projection: Projection,
    *,
    home: str,
    standby: str,
    events_table: str,
    replay_from: EventsReader | None = None,
    grace_s: float | None = None,
    max_rounds: int = 20,
    max_behind: int = 0,
    keep_old: bool = False,
    log: Log = print,
    sleep: Callable[[float], None] = time.sleep,
    name: str | None = None,
) -> RebuildResult:
    """Rebuild `projection` into the inactive one of its tables `home`/`standby` and switch
    to it (see the module docstring). `replay_from`: what the first pass replays (default:
    the Events table); catch-up always reads the Events table. `grace_s`: how long a
    container may still write the old table after a switch (default: the pointer cache,
    `cache_seconds()`, plus one second; give the cache plus the projector's timeout on AWS).
    `RebuildError` if it cannot catch up in `max_rounds` or a stream fails (nothing switched)."""
    t0 = time.perf_counter()
    label = name or projection.name
    grace = cache_seconds() + 1 if grace_s is None else grace_s
    pointer = read_pointer(client, home)
    if pointer.active not in (home, standby):
        raise RebuildError(f"the pointer in {home} names {pointer.active!r}, neither {home} nor {standby}")
    target = standby if pointer.active == home else home
    result = RebuildResult(projection=label, from_table=pointer.active, to_table=target)
    if pointer.switched_at:
        since = (datetime.now(UTC) - datetime.fromisoformat(pointer.switched_at)).total_seconds()
        if since < grace:
            log(f"{label}: the last switch was {since:.1f} s ago; waiting {grace - since:.1f} s for containers to leave {target}")
            sleep(grace - since)
    result.cleared_target = clear_table(client, target)
    log(f"{label}: active table {pointer.active}; rebuilding into {target} (cleared {result.cleared_target} items)")

    truth = EventsTableReader(client, events_table)
    source = replay_from or truth
    loader = _Preloaded(source)
    store = DynamoDBReadModelStore(client, target)
    result.replayed_streams, result.replayed_events, failures = replay(
        source, Projector(projection=projection, store=store, events=loader), loader
    )
    log(f"{label}: replayed {result.replayed_events} events of {result.replayed_streams} streams into {target}")
    projector = Projector(projection=projection, store=store, events=DynamoDBEventStore(client, events_table))
    for _ in range(max_rounds):
        applied, failures = catch_up(client, events_table, projector)
        result.catch_up_rounds.append(applied)
        log(f"{label}: catch-up round {len(result.catch_up_rounds)}: {applied} streams were behind")
        if failures or applied <= max_behind:
            break
    else:
        raise RebuildError(f"{label}: still behind after {max_rounds} catch-up rounds (writes outpace the rebuild); nothing switched")
    stuck = [row.doc for row in store.stuck()]
    if failures or stuck:
        detail = "; ".join(f"{d['stream_id']} at v{d.get('stuck_at_version')}: {d.get('reason')}" for d in stuck) or str(failures)
        raise RebuildError(f"{label}: {len(stuck) or len(failures)} stream(s) fail in {target}, nothing switched: {detail}")

    switched_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    after = switch(client, pointer, target, switched_at=switched_at)
    result.generation = after.generation
    log(f"{label}: switched to {target} (generation {after.generation}); waiting {grace:.1f} s for every container to see it")
    sleep(grace)
    # one round: every event appended before it is in the new table (the projector, past
    # its cache, applies later ones there itself)
    result.after_switch, failures = catch_up(client, events_table, projector)
    if failures:
        raise RebuildError(f"{label}: switched to {target}, but streams fail there: {failures}")
    log(f"{label}: after the switch, {result.after_switch} streams caught up from what {pointer.active} got meanwhile")
    if not keep_old:
        result.cleared_old = clear_table(client, pointer.active)
        log(f"{label}: cleared {result.cleared_old} items of {pointer.active} (the next rebuild's target)")
    result.seconds = time.perf_counter() - t0
    return result
