"""The append rules every adapter of the event store applies, and the stored JSON form.

Shared by `memory.InMemoryEventStore` and `dynamodb.DynamoDBEventStore`, so both refuse
the same appends with the same messages (the contract suite runs against both).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..items import IDEMPOTENCY_PREFIX, check_event, encode_json
from .ports import Append, IdempotencyRecord

__all__ = ["IDEMPOTENCY_PREFIX", "MAX_TRANSACTION_ITEMS", "check_append", "encode_json", "transaction_items"]

MAX_TRANSACTION_ITEMS = 100
"""DynamoDB's limit of actions in one `TransactWriteItems` call."""


def transaction_items(appends: Sequence[Append], idempotency: IdempotencyRecord | None) -> int:
    """Number of transaction actions an append needs: one per event, one for the
    idempotency record, one version check per stream that is not new, and one more
    check per read guard (its next version must still be free)."""
    return (
        sum(len(a.events) for a in appends)
        + sum(1 for a in appends if a.expected_version > 0)
        + sum(1 for a in appends if not a.events)
        + (1 if idempotency is not None else 0)
    )


def check_append(appends: Sequence[Append], idempotency: IdempotencyRecord | None) -> None:
    """Reject an append that no adapter may write, with a `ValueError` that says why.

    Every adapter calls this before writing anything. Versions are assigned by the store
    (`expected_version + 1`, `+ 2`, ...), so they are contiguous by construction. Every
    event must make an item of the item contract (`acme_eventsourcing.runtime.items`:
    event type and id non-empty, `occurred_at` an ISO-8601 date-time with its offset),
    else `items.ItemContractError` (a `ValueError`) names the attribute.
    """
    seen: set[str] = set()
    for a in appends:
        if not a.stream_id or a.stream_id.startswith(IDEMPOTENCY_PREFIX):
            raise ValueError(f"invalid stream id {a.stream_id!r}: empty or reserved ({IDEMPOTENCY_PREFIX!r} prefix)")
        if a.stream_id in seen:
            raise ValueError(f"stream {a.stream_id!r} appears twice in one append; merge its events into one Append")
        seen.add(a.stream_id)
        if isinstance(a.expected_version, bool) or not isinstance(a.expected_version, int) or a.expected_version < 0:
            raise ValueError(f"expected_version of {a.stream_id!r} must be an int >= 0, got {a.expected_version!r}")
        for event in a.events:
            check_event(a.stream_id, event)
    if appends and idempotency is None and not any(a.events for a in appends):
        raise ValueError("append of read guards only writes nothing: add an event or an idempotency record")
    if idempotency is not None and not idempotency.key:
        raise ValueError("idempotency record has an empty key")
    items = transaction_items(appends, idempotency)
    if items > MAX_TRANSACTION_ITEMS:
        raise ValueError(
            f"append needs {items} transaction items (events + version checks + idempotency record), "
            f"more than the {MAX_TRANSACTION_ITEMS} DynamoDB allows in one transaction"
        )
