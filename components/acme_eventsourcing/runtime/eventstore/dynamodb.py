"""DynamoDB event store: the Events table adapter of the `EventStore` port.

Items follow the Events-table item contract (`acme_eventsourcing.runtime.items`, field by
field): keys `stream_id` (S) and `version` (N); event items carry `record_type="event"`,
`event_type`, `event_id`, `occurred_at` and `data` / `metadata` as JSON text; the
idempotency record of a request is the item `(idempotency#<key>, 0)` with
`record_type="idempotency"`, `request_hash`, `response` (JSON text) and `created_at`.
This adapter writes and reads them only through that module.

An append is one `TransactWriteItems` call: one `Put` per event and for the idempotency
record, each conditioned on `attribute_not_exists(stream_id)` (the slot is free), plus,
for a stream that is not new, a `ConditionCheck` that version `expected_version` exists,
so a caller that expects a version the stream never reached cannot leave a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from ..items import IDEMPOTENCY_PREFIX, event_item, idempotency_item, read_event_item, read_idempotency_item
from .ports import (
    Append,
    ConcurrencyError,
    IdempotencyKeyUsed,
    IdempotencyRecord,
    StoredEvent,
)
from .rules import check_append

_SLOT_FREE = "attribute_not_exists(stream_id)"
_VERSION_EXISTS = "attribute_exists(stream_id)"
_CONFLICT_CODES = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


def _key(stream_id: str, version: int) -> dict[str, dict[str, str]]:
    return {"stream_id": {"S": stream_id}, "version": {"N": str(version)}}


class DynamoDBEventStore:
    """An `EventStore` on the Events table.

    `client` is a boto3 DynamoDB *client* (not a resource). `page_size`, if given, is
    the `Limit` of each `Query` page; by default a page holds up to 1 MB, so loading a
    stream of ordinary events takes exactly one `Query` call.
    """

    def __init__(self, client: Any, table_name: str, *, page_size: int | None = None) -> None:
        if page_size is not None and page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size!r}")
        self._client = client
        self._table = table_name
        self._page_size = page_size

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """All events of the stream with version > `after_version`, oldest first.

        One strongly consistent `Query` per page, following `LastEvaluatedKey`.
        """
        if after_version < 0:
            raise ValueError(f"after_version must be >= 0, got {after_version!r}")
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#stream = :stream AND #version > :after",
            "ExpressionAttributeNames": {"#stream": "stream_id", "#version": "version"},
            "ExpressionAttributeValues": {":stream": {"S": stream_id}, ":after": {"N": str(after_version)}},
            "ConsistentRead": True,
        }
        if self._page_size is not None:
            params["Limit"] = self._page_size
        events: list[StoredEvent] = []
        while True:
            page = self._client.query(**params)
            events.extend(read_event_item(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return events
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def append(self, appends: Sequence[Append], idempotency: IdempotencyRecord | None = None) -> list[StoredEvent]:
        """Append atomically to one or more streams (one `TransactWriteItems` call),
        with the idempotency record if given."""
        check_append(appends, idempotency)
        items: list[dict[str, Any]] = []
        owners: list[str] = []  # per transaction item: the stream id of its key
        if idempotency is not None:
            item = idempotency_item(idempotency)
            items.append(self._put(item))
            owners.append(item["stream_id"]["S"])
        stored: list[StoredEvent] = []
        for a in appends:
            if a.expected_version > 0:
                items.append(
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": _key(a.stream_id, a.expected_version),
                            "ConditionExpression": _VERSION_EXISTS,
                        }
                    }
                )
                owners.append(a.stream_id)
            if not a.events:  # a read guard: the stream must not have moved on
                items.append(
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": _key(a.stream_id, a.expected_version + 1),
                            "ConditionExpression": _SLOT_FREE,
                        }
                    }
                )
                owners.append(a.stream_id)
            for version, event in enumerate(a.events, start=a.expected_version + 1):
                item = event_item(a.stream_id, version, event)
                items.append(self._put(item))
                owners.append(a.stream_id)
                stored.append(read_event_item(item))
        if not items:
            return []
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            _raise_conflict(exc, owners, appends, idempotency)
            raise
        return stored

    def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        """The stored record for a scoped idempotency key, or None (strongly consistent read)."""
        response = self._client.get_item(TableName=self._table, Key=_key(IDEMPOTENCY_PREFIX + key, 0), ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else read_idempotency_item(item)

    def _put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": _SLOT_FREE}}


def _raise_conflict(
    exc: ClientError,
    owners: Sequence[str],
    appends: Sequence[Append],
    idempotency: IdempotencyRecord | None,
) -> None:
    """Translate a cancelled transaction into the port's errors; return if it is another failure.

    `CancellationReasons` has one entry per transaction item, in order, and `owners[i]`
    is the stream id of item `i`. A taken idempotency slot wins over any stream
    conflict (the caller must answer with the stored response); a taken or concurrently
    written stream slot, or a concurrent write of the same idempotency key, is a
    `ConcurrencyError`. Anything else (throttling, validation) is left to the caller.
    """
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return
    codes = [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])]
    failed = {owner for owner, code in zip(owners, codes, strict=False) if code in _CONFLICT_CODES}
    taken = {owner for owner, code in zip(owners, codes, strict=False) if code == "ConditionalCheckFailed"}
    if idempotency is not None and IDEMPOTENCY_PREFIX + idempotency.key in taken:
        raise IdempotencyKeyUsed(f"idempotency key {idempotency.key!r} is already stored; nothing was appended") from exc
    if failed:
        expected = {a.stream_id: a.expected_version for a in appends}
        slots = "; ".join(repr(owner) + (f" after version {expected[owner]}" if owner in expected else "") for owner in sorted(failed))
        raise ConcurrencyError(
            f"another writer got there first ({slots}); nothing was appended; reload and retry", stream_ids=frozenset(failed)
        ) from exc
