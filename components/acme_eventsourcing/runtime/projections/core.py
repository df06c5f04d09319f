"""The generic projector: exactly-once effects from at-least-once, unordered delivery.

Each read model keeps, per source stream, a checkpoint (the last version applied). An
event is applied only if it is the checkpoint's next version; duplicates and older
versions are ignored; a gap is filled by loading the missing events from the Events
table. Each event's row changes and its checkpoint move are one atomic commit, with the
checkpoint conditioned on its old version and every row conditioned on the revision the
projection read, so concurrent invocations cannot both apply an event, nor lose a
cross-stream update. A failed condition means: re-read and retry (bounded).

A projection whose rows also derive from other streams (balance: an employee's rows need
their locations' policies) recomputes them when either side changes. When one event
changes many other streams' rows (a location's policy: every member's balance), it asks
for them with `Session.refresh_later`; the targets are stored in a marker row of the
event's stream in the same commit, then recomputed one per transaction. A crash in
between leaves the marker, and the redelivered (now duplicate) event, or any later event
of the stream, finishes the work, so no transaction outgrows DynamoDB's 100 actions. The
checkpoint notes that a marker exists (set by the commit that writes it, cleared by the one
that deletes it), so an event whose stream has none costs no read of the marker row.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from typing import Any, Protocol, cast

from .._frozen import frozen_dataclass
from ..eventstore.ports import StoredEvent
from .ports import (
    CHECKPOINT_PREFIX,
    POINTER_PK,
    STUCK_PK,
    Check,
    Checkpoint,
    CheckpointMove,
    ConflictError,
    EventLoader,
    ReadModelStore,
    Write,
)

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

Key = tuple[str, str]

DEFAULT_MAX_ACTIONS = 100
"""DynamoDB's limit of actions in one TransactWriteItems (stores may say less: `max_actions`)."""
RESERVED_ACTIONS = 3
"""Actions of a commit that are the projector's, not the projection's: the checkpoint move, the
refresh marker and the note that clears it (or the stuck row a successful move clears)."""


class MissingEventsError(RuntimeError):
    """The Events table does not (yet) hold the versions before the delivered one: retry later."""


class Session:
    """A unit of work on a read model: reads are recorded, writes buffered, commit is atomic.

    `get` makes the commit conditional on the row being unchanged (use it for rows other
    streams may write); `query` rows only condition the writes made to them (use it for rows
    owned by the stream being projected). Writes that leave a document as read are dropped.
    """

    def __init__(self, store: ReadModelStore, max_actions: int = DEFAULT_MAX_ACTIONS) -> None:
        self._store = store
        self._max_actions = max_actions
        self._seen: dict[Key, int] = {}
        self._read: dict[Key, dict[str, Any] | None] = {}
        self._docs: dict[Key, dict[str, Any] | None] = {}
        self._checked: set[Key] = set()
        self._written: set[Key] = set()
        self.deferred: set[str] = set()

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """The row's document as this unit of work sees it, or None."""
        key = _guard(pk, sk)
        if key not in self._docs:
            row = self._store.get(pk, sk)
            self._remember(key, None if row is None else row.rev, None if row is None else dict(row.doc))
        self._checked.add(key)
        return copy.deepcopy(self._docs[key])

    def query(self, pk: str, sk_prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        """(sk, document) of the partition's rows starting with `sk_prefix`, by sk, with this unit's writes."""
        for row in self._store.query(pk, sk_prefix):
            key = (row.pk, row.sk)
            if key not in self._docs:
                self._remember(key, row.rev, dict(row.doc))
        return sorted(
            (sk, copy.deepcopy(doc)) for (p, sk), doc in self._docs.items() if p == pk and sk.startswith(sk_prefix) and doc is not None
        )

    def put(self, pk: str, sk: str, doc: Mapping[str, Any]) -> None:
        """Write the whole document of a row."""
        key = _guard(pk, sk)
        self._docs[key] = copy.deepcopy(dict(doc))
        self._written.add(key)

    def delete(self, pk: str, sk: str) -> None:
        """Remove a row."""
        key = _guard(pk, sk)
        self._docs[key] = None
        self._written.add(key)

    def room(self) -> int:
        """How many more rows this unit of work may write (or check) and still commit in one
        transaction, besides what the projector adds (checkpoint, marker, notes); at least 1,
        so a projection that writes within its room always makes progress."""
        writes, checks = self.changes()
        return max(1, self._max_actions - RESERVED_ACTIONS - len(writes) - len(checks))

    def refresh_later(self, target: str) -> None:
        """Have `Refreshing.refresh(session, target)` run after this commit, in its own transaction."""
        self.deferred.add(target)

    def changes(self) -> tuple[list[Write], list[Check]]:
        """The conditional writes and checks this unit of work commits."""
        writes = [
            Write(pk=k[0], sk=k[1], doc=self._docs[k], expected_rev=self._seen.get(k))
            for k in sorted(self._written)
            if k not in self._seen or self._docs[k] != self._read[k]
        ]
        written = {(w.pk, w.sk) for w in writes}
        checks = [Check(pk=k[0], sk=k[1], expected_rev=self._seen[k]) for k in sorted(self._checked - written)]
        return writes, checks

    def _remember(self, key: Key, rev: int | None, doc: dict[str, Any] | None) -> None:
        self._seen[key] = rev or 0
        self._read[key] = doc
        self._docs[key] = copy.deepcopy(doc)


#: The CloudWatch namespace and metric of change notices that could not be put on the bus.
METRICS_NAMESPACE = "acme/eventsourcing"
NOTICE_FAILURES_METRIC = "LiveNoticeFailures"


def notice_failure_metric(projection: str) -> dict[str, Any]:
    """One failed change notice as a CloudWatch embedded-metric-format log line (Lambda's log
    group turns it into the metric `LiveNoticeFailures`, dimension `Projection`)."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["Projection"]],
                    "Metrics": [{"Name": NOTICE_FAILURES_METRIC, "Unit": "Count"}],
                }
            ],
        },
        "Projection": projection,
        NOTICE_FAILURES_METRIC: 1,
    }


def _guard(pk: str, sk: str) -> Key:
    if pk.startswith(CHECKPOINT_PREFIX) or pk in (STUCK_PK, POINTER_PK):
        raise ValueError(f"partition {pk!r} is reserved for the projector (checkpoints, stuck streams, the active-table pointer)")
    return (pk, sk)


class Projection(Protocol):
    """A read model: which event types change it and how."""

    name: str
    event_types: frozenset[str]

    def apply(self, session: Session, event: StoredEvent) -> None:
        """Change the read model for one event (called once per event, in stream order)."""
        ...


class Live(Projection, Protocol):
    """A projection whose changes are told to WebSocket clients (live updates): after each
    commit that changed rows of it, the projector puts a `ReadModelChanged` notice on the bus
    for the topics `topics` names (nothing if it names none)."""

    def topics(self, event: StoredEvent, changed: Sequence[tuple[str, str]]) -> Iterable[str]:
        """Who may see the change: topics (`live_messages`: `employee#<id>`, `location#<id>`, ...)
        for the (`pk`, `sk`) of the rows one commit changed (written or deleted), `event` being
        the event whose handling committed it. Pure: no reads, no clock."""
        ...


class ChangeNotices(Protocol):
    """Where a live projection's notices go (`notices.EventBridgeNotices` puts them on the bus)."""

    def notify(self, view: str, topics: Sequence[str], event: StoredEvent) -> None:
        """Tell that `view` changed for `topics` by `event` (raises if it could not)."""
        ...


class Refreshing(Projection, Protocol):
    """A projection that recomputes rows of other streams after a commit (`Session.refresh_later`)."""

    def refresh(self, session: Session, target: str) -> None:
        """Recompute the rows `target` derives from the current state of every stream it needs."""
        ...


REFRESH_PREFIX = "refresh#"
REFRESH_SK = "refresh"


def _jittered_sleep(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.005 * 2**attempt))


@frozen_dataclass(kw_only=True)
class Projector:
    """Applies bus events to one read model exactly once per (stream, version)."""

    projection: Projection
    store: ReadModelStore
    events: EventLoader
    max_conflicts: int = 10
    backoff: Callable[[int], None] = field(default=_jittered_sleep)
    notices: ChangeNotices | None = None
    """Where change notices go, for a projection with `topics` (`Live`); None = none are sent
    (rebuilds, tests, a projection not declared live). A notice is sent after its commit
    succeeded; one that cannot be sent is logged and counted (`notices`), never retried nor
    raised: the read model is stored, and the projection must not run again for a notice."""

    @property
    def max_actions(self) -> int:
        """Actions one commit of the store may hold (DynamoDB: 100)."""
        return getattr(self.store, "max_actions", DEFAULT_MAX_ACTIONS)

    def handle(self, event: StoredEvent) -> int:
        """Apply `event` and every missing version before it; return how many events this call applied.

        If that fails, the stream is recorded as stuck (`ReadModelStore.mark_stuck`: which
        version, why, since when; and one structured log line) before the error propagates, so
        the event still goes to the retries and the DLQ, but the stream is findable and its
        queries say so. The first call that succeeds on the stream again clears the record."""
        state = self.store.checkpoint_state(event.stream_id)
        progress = [state.version]
        try:
            applied = self._handle(event, state, progress)
        except Exception as exc:
            self._mark_stuck(event, progress[0] + 1, exc)
            raise
        if state.stuck:
            self.store.clear_stuck(event.stream_id)
            logger.info(json.dumps({"projection": self.projection.name, "stream_id": event.stream_id, "stuck": False}))
        return applied

    def _mark_stuck(self, event: StoredEvent, at_version: int, exc: Exception) -> None:
        from datetime import UTC, datetime  # error path only

        record = {
            "projection": self.projection.name,
            "stream_id": event.stream_id,
            "stuck_at_version": at_version,
            "delivered_version": event.version,
            "reason": f"{type(exc).__name__}: {exc}"[:1000],
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        logger.error(json.dumps({**record, "stuck": True}))
        try:
            self.store.mark_stuck(event.stream_id, record)
        except Exception:  # noqa: BLE001 - the original error matters more; the log line remains
            logger.exception("could not record stuck stream %s", event.stream_id)

    def _handle(self, event: StoredEvent, state: Checkpoint, progress: list[int]) -> int:
        pending = {event.version: event}
        applied = conflicts = 0
        checkpoint, refresh_pending = state.version, state.refresh_pending
        while True:
            progress[0] = checkpoint
            if checkpoint >= event.version and checkpoint + 1 not in pending:
                if refresh_pending:  # ours, or left by an invocation that crashed
                    self._refresh(event)
                return applied
            nxt = pending.get(checkpoint + 1)
            if nxt is None:
                pending.update({e.version: e for e in self.events.load(event.stream_id, after_version=checkpoint)})
                nxt = pending.get(checkpoint + 1)
                if nxt is None:
                    raise MissingEventsError(f"{event.stream_id}: version {checkpoint + 1} not in the Events table")
            try:
                refresh_pending |= self._apply(nxt, checkpoint)
            except ConflictError:
                conflicts = self._conflict(conflicts)
                state = self.store.checkpoint_state(event.stream_id)
                checkpoint, refresh_pending = state.version, state.refresh_pending
                continue
            applied += 1
            checkpoint = nxt.version

    @property
    def _refreshing(self) -> bool:
        """Whether the projection can defer refreshes (else no marker row can exist)."""
        return callable(getattr(self.projection, "refresh", None))

    def _apply(self, event: StoredEvent, checkpoint: int) -> bool:
        """Commit one event with its checkpoint move (and its refresh marker, if it deferred
        any, noted in the checkpoint); return whether it deferred."""
        session = Session(self.store, self.max_actions)
        if event.event_type in self.projection.event_types:
            self.projection.apply(session, event)
        if session.deferred and not self._refreshing:
            raise TypeError(f"{self.projection.name} defers refreshes but has no refresh()")
        if session.deferred:
            marker = session.get(REFRESH_PREFIX + event.stream_id, REFRESH_SK) or {"targets": []}
            session.put(REFRESH_PREFIX + event.stream_id, REFRESH_SK, {"targets": sorted(set(marker["targets"]) | session.deferred)})
        writes, checks = session.changes()
        deferred = bool(session.deferred)
        move = CheckpointMove(stream_id=event.stream_id, from_version=checkpoint, to_version=event.version, refresh_pending=deferred)
        self.store.commit(writes, checks, move)
        self._notify(event, writes)
        return deferred

    def _refresh(self, event: StoredEvent) -> None:
        """Recompute the targets in the stream's marker, one transaction each, until none is
        left; the last one also clears the checkpoint's note. (`event`: the one being handled,
        named by the change notices of these commits.)"""
        stream_id = event.stream_id
        conflicts = 0
        while True:
            session = Session(self.store, self.max_actions)
            marker = session.get(REFRESH_PREFIX + stream_id, REFRESH_SK)
            if not marker:
                return
            target, *rest = marker["targets"]
            cast(Refreshing, self.projection).refresh(session, target)
            if session.deferred - {target}:
                raise RuntimeError(f"{self.projection.name}: a refresh may defer only its own target (the rest of its rows)")
            if session.deferred:  # more rows than one transaction holds: the target stays first
                rest = [target, *rest]
            if rest:
                session.put(REFRESH_PREFIX + stream_id, REFRESH_SK, {"targets": rest})
            else:
                session.delete(REFRESH_PREFIX + stream_id, REFRESH_SK)
            writes, checks = session.changes()
            try:
                self.store.commit(writes, checks, None, refresh_done=None if rest else stream_id)
            except ConflictError:
                conflicts = self._conflict(conflicts)
                continue
            self._notify(event, writes)

    def _notify(self, event: StoredEvent, writes: Sequence[Write]) -> None:
        """After a commit: the change notice of a live projection, if the commit changed rows
        it names topics for. A failure is logged (one JSON line) and counted (an embedded
        metric `LiveNoticeFailures`), never raised: the commit stands."""
        topics_of = getattr(self.projection, "topics", None)
        if self.notices is None or not callable(topics_of):
            return
        changed = [(w.pk, w.sk) for w in writes if not w.pk.startswith(REFRESH_PREFIX)]
        if not changed:
            return
        try:
            topics = list(dict.fromkeys(topics_of(event, changed)))
            if topics:
                self.notices.notify(self.projection.name, topics, event)
        except Exception as exc:  # noqa: BLE001 - a lost notice must not undo or repeat a stored change
            logger.error(
                json.dumps(
                    {
                        "projection": self.projection.name,
                        "live_notice": "failed",
                        "stream_id": event.stream_id,
                        "version": event.version,
                        "reason": f"{type(exc).__name__}: {exc}"[:500],
                    }
                )
            )
            print(json.dumps(notice_failure_metric(self.projection.name)), flush=True)

    def _conflict(self, conflicts: int) -> int:
        """Count one more conflict: back off, or give up past `max_conflicts`."""
        conflicts += 1
        if conflicts > self.max_conflicts:
            raise ConflictError(f"{self.projection.name}: still conflicting after {self.max_conflicts} retries")
        self.backoff(conflicts)
        return conflicts


__all__ = [
    "DEFAULT_MAX_ACTIONS",
    "ChangeNotices",
    "Live",
    "MissingEventsError",
    "Projection",
    "Projector",
    "Refreshing",
    "Session",
]
