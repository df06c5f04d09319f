"""In-memory read-model store: the reference implementation of `ReadModelStore` (thread-safe).

Documents are stored as JSON text, as in DynamoDB, so a document that would not survive the
real table (a tuple, a date, a set) fails or changes here too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .ports import STUCK_PK, Check, Checkpoint, CheckpointMove, ConflictError, Row, TooManyActionsError, Write

MAX_ACTIONS = 100


class InMemoryReadModelStore:
    """Rows and checkpoints in dicts; a commit checks every condition, then applies all."""

    def __init__(self, max_actions: int = MAX_ACTIONS) -> None:
        self._rows: dict[tuple[str, str], tuple[int, str]] = {}
        self._checkpoints: dict[str, int] = {}
        self._refresh_pending: set[str] = set()
        self._stuck: set[str] = set()
        self._lock = threading.Lock()
        self._max_actions = max_actions

    @property
    def max_actions(self) -> int:
        """Actions one commit may hold (as DynamoDB's 100, or fewer for tests)."""
        return self._max_actions

    def get(self, pk: str, sk: str) -> Row | None:
        with self._lock:
            found = self._rows.get((pk, sk))
            return None if found is None else _row(pk, sk, *found)

    def query(self, pk: str, sk_prefix: str = "") -> list[Row]:
        with self._lock:
            return [_row(p, s, rev, doc) for (p, s), (rev, doc) in sorted(self._rows.items()) if p == pk and s.startswith(sk_prefix)]

    def checkpoint(self, stream_id: str) -> int:
        return self.checkpoint_state(stream_id).version

    def checkpoint_state(self, stream_id: str) -> Checkpoint:
        with self._lock:
            return Checkpoint(
                version=self._checkpoints.get(stream_id, 0),
                refresh_pending=stream_id in self._refresh_pending,
                stuck=stream_id in self._stuck,
            )

    def mark_stuck(self, stream_id: str, doc: Mapping[str, Any]) -> None:
        with self._lock:
            self._rows[(STUCK_PK, stream_id)] = (self._rev(STUCK_PK, stream_id) + 1, json.dumps(dict(doc), sort_keys=True))
            self._stuck.add(stream_id)

    def clear_stuck(self, stream_id: str) -> None:
        with self._lock:
            self._rows.pop((STUCK_PK, stream_id), None)
            self._stuck.discard(stream_id)

    def stuck(self) -> list[Row]:
        return self.query(STUCK_PK)

    def commit(
        self,
        writes: Sequence[Write],
        checks: Sequence[Check],
        checkpoint: CheckpointMove | None,
        *,
        refresh_done: str | None = None,
    ) -> None:
        if len(writes) + len(checks) + (checkpoint is not None) > self._max_actions:
            raise TooManyActionsError(f"{len(writes)} writes and {len(checks)} checks exceed {self._max_actions}")
        with self._lock:
            if checkpoint is not None and self._checkpoints.get(checkpoint.stream_id, 0) != checkpoint.from_version:
                raise ConflictError(f"checkpoint of {checkpoint.stream_id} moved")
            for cond in [*writes, *checks]:
                if cond.expected_rev is not None and self._rev(cond.pk, cond.sk) != cond.expected_rev:
                    raise ConflictError(f"row {cond.pk}/{cond.sk} changed")
            for w in writes:
                if w.doc is None:
                    self._rows.pop((w.pk, w.sk), None)
                else:
                    self._rows[(w.pk, w.sk)] = (self._rev(w.pk, w.sk) + 1, json.dumps(w.doc, sort_keys=True))
            if checkpoint is not None:
                self._checkpoints[checkpoint.stream_id] = checkpoint.to_version
                if checkpoint.refresh_pending:
                    self._refresh_pending.add(checkpoint.stream_id)
            if refresh_done is not None:
                self._refresh_pending.discard(refresh_done)

    def rows(self) -> Iterator[Row]:
        with self._lock:
            items = sorted((k, v) for k, v in self._rows.items() if k[0] != STUCK_PK)
        return iter([_row(p, s, rev, doc) for (p, s), (rev, doc) in items])

    def checkpoints(self) -> dict[str, int]:
        with self._lock:
            return dict(self._checkpoints)

    def _rev(self, pk: str, sk: str) -> int:
        found = self._rows.get((pk, sk))
        return 0 if found is None else found[0]


def _row(pk: str, sk: str, rev: int, doc: str) -> Row:
    return Row(pk=pk, sk=sk, doc=json.loads(doc), rev=rev)
