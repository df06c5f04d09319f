"""The audit read model: every envelope of every stream, oldest first.

Table layout (keys `pk`/`sk`): `audit#<stream_id>` / `<version:010>`: the envelope of
DESIGN.md section 2, with `metadata.event_type` added (on the bus it is the detail-type) and
metadata without a value (e.g. no `idempotency_key`) left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from acme_eventsourcing.runtime.eventstore.ports import StoredEvent
from acme_eventsourcing.runtime.projections import Session, projector_handler
from leave.events import AUDIT_EVENT_TYPES


def audit_pk(stream_id: str) -> str:
    return f"audit#{stream_id}"


@dataclass(frozen=True)
class AuditProjection:
    """Envelopes per stream; see the module docstring."""

    name: str = "audit"
    event_types: frozenset[str] = frozenset(AUDIT_EVENT_TYPES)

    def apply(self, session: Session, event: StoredEvent) -> None:
        envelope = event.envelope()
        metadata = {k: v for k, v in envelope["metadata"].items() if v is not None}
        envelope["metadata"] = {**metadata, "event_type": event.event_type}
        session.put(audit_pk(event.stream_id), f"{event.version:010d}", envelope)


handler = projector_handler(AuditProjection())
