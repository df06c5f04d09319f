"""Ports of the read-model storage: what the projector core needs, not how it is stored.

A read model is a set of rows keyed by (`pk`, `sk`), each holding a JSON document and a
revision counter, plus one checkpoint per source stream (the last version applied).
Adapters (`memory.InMemoryReadModelStore`, `dynamodb.DynamoDBReadModelStore`) implement
`ReadModelStore` and pass one contract test suite. The partitions `checkpoint#<stream_id>`
`stuck` and `active-table` (the blue/green pointer) are the projector's own (`Session` refuses to write them): queries read them to
say how current an answer is (`acme_eventsourcing.runtime.projections.reader`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .._frozen import frozen_dataclass

if TYPE_CHECKING:  # an annotation only: the read side (queries) ships no event store
    from ..eventstore.ports import StoredEvent

CHECKPOINT_PREFIX = "checkpoint#"
CHECKPOINT_SK = "checkpoint"
STUCK_PK = "stuck"
"""The partition of stuck streams: one row per stream the projector could not apply (sk = the
stream id; see `ReadModelStore.mark_stuck`), so an admin lists them with one Query."""
POINTER_PK = "active-table"
POINTER_SK = "pointer"
"""The item of a blue/green projection's home table naming its active table (`bluegreen`)."""


def checkpoint_pk(stream_id: str) -> str:
    """The partition key of a stream's checkpoint row."""
    return f"{CHECKPOINT_PREFIX}{stream_id}"


@frozen_dataclass(kw_only=True)
class Row:
    """One stored read-model row; `rev` counts its writes (1 after the first)."""

    pk: str
    sk: str
    doc: Mapping[str, Any]
    rev: int


@frozen_dataclass(kw_only=True)
class Write:
    """Put `doc` at (pk, sk), or delete the row when `doc` is None.

    `expected_rev`: None = unconditional; 0 = the row must not exist; n = it must be at rev n.
    """

    pk: str
    sk: str
    doc: Mapping[str, Any] | None
    expected_rev: int | None


@frozen_dataclass(kw_only=True)
class Check:
    """A row read but not written: the commit fails unless it is still at `expected_rev` (0 = absent)."""

    pk: str
    sk: str
    expected_rev: int


@frozen_dataclass(kw_only=True)
class CheckpointMove:
    """Move a stream's checkpoint from `from_version` (0 = none yet) to `to_version`.

    `refresh_pending`: the same commit leaves refresh work for the stream (a marker row),
    so the checkpoint notes it; a move without it leaves the note as it was."""

    stream_id: str
    from_version: int
    to_version: int
    refresh_pending: bool = False


@frozen_dataclass(kw_only=True)
class Checkpoint:
    """A stream's checkpoint: the last version applied, and whether refresh work is noted."""

    version: int
    refresh_pending: bool = False
    stuck: bool = False
    """The stream has a row in the `stuck` partition (the projector failed on it)."""


class ReadModelError(Exception):
    """Base of the read-model store's errors."""


class ConflictError(ReadModelError):
    """A condition failed (checkpoint moved or a row changed): re-read and retry."""


class TooManyActionsError(ReadModelError):
    """A commit needs more actions than one transaction can hold."""


class ReadModelStore(Protocol):
    """Rows plus per-stream checkpoints, committed together atomically."""

    def get(self, pk: str, sk: str) -> Row | None:
        """The row at (pk, sk), strongly consistent, or None."""
        ...

    def query(self, pk: str, sk_prefix: str = "") -> list[Row]:
        """Rows of one partition whose sk starts with `sk_prefix`, by sk (paginates)."""
        ...

    def checkpoint(self, stream_id: str) -> int:
        """The last version of `stream_id` applied, 0 if none."""
        ...

    def checkpoint_state(self, stream_id: str) -> Checkpoint:
        """The stream's checkpoint with its refresh note, in one read (version 0 if none)."""
        ...

    def commit(
        self,
        writes: Sequence[Write],
        checks: Sequence[Check],
        checkpoint: CheckpointMove | None,
        *,
        refresh_done: str | None = None,
    ) -> None:
        """Apply all writes and the checkpoint move atomically if every condition holds,
        else nothing and raise `ConflictError`. `refresh_done` names a stream whose refresh
        work this commit finishes (it deletes the marker row): its note is cleared."""
        ...

    def mark_stuck(self, stream_id: str, doc: Mapping[str, Any]) -> None:
        """Record that the projector cannot apply the stream (`doc`: `stream_id`,
        `stuck_at_version`, `reason`, `since`, ...): the `stuck` row and the checkpoint's note,
        in one transaction, unconditionally."""
        ...

    def clear_stuck(self, stream_id: str) -> None:
        """Remove the stream's `stuck` row and note (it projects again)."""
        ...

    def stuck(self) -> list[Row]:
        """The `stuck` rows, by stream id (one Query)."""
        ...

    def rows(self) -> Iterator[Row]:
        """Every row except checkpoints and stuck rows (for rebuild checks and tests)."""
        ...

    def checkpoints(self) -> dict[str, int]:
        """Every stream's checkpoint."""
        ...


class EventLoader(Protocol):
    """The part of `acme_eventsourcing.runtime.eventstore.EventStore` a projector needs to fill gaps."""

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """All events of the stream with version > `after_version`, oldest first."""
        ...
