"""DynamoDB read-model store: one table with keys `pk`/`sk` per projection.

Row item: `pk` S, `sk` S, `rev` N (write counter), `doc` S (JSON text of the document;
JSON text avoids Decimal issues). Checkpoint item: `pk` = `checkpoint#<stream_id>`,
`sk` = `checkpoint`, `version` N, and `refresh_pending` BOOL while the stream has refresh
work noted. A commit is one `TransactWriteItems`: rows as Update (`SET doc ADD rev 1`) or
Delete, rows only read as ConditionCheck, the checkpoint Update conditioned on the old
version, and, when a refresh is done, an Update removing the checkpoint's note.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .ports import (
    CHECKPOINT_PREFIX,
    CHECKPOINT_SK,
    POINTER_PK,
    STUCK_PK,
    Check,
    Checkpoint,
    CheckpointMove,
    ConflictError,
    Row,
    TooManyActionsError,
    Write,
    checkpoint_pk,
)

MAX_ACTIONS = 100
_RETRYABLE = {"ConditionalCheckFailed", "TransactionConflict"}


class DynamoDBReadModelStore:
    """`ReadModelStore` on one DynamoDB table (low-level client, strongly consistent reads)."""

    max_actions = MAX_ACTIONS
    """Actions one commit (one TransactWriteItems) may hold."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, pk: str, sk: str) -> Row | None:
        item = self._client.get_item(TableName=self._table, Key=_key(pk, sk), ConsistentRead=True).get("Item")
        return None if item is None else _row(item)

    def query(self, pk: str, sk_prefix: str = "") -> list[Row]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        if sk_prefix:
            kwargs["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
            kwargs["ExpressionAttributeValues"][":prefix"] = {"S": sk_prefix}
        return [_row(item) for item in self._paginate("query", kwargs)]

    def checkpoint(self, stream_id: str) -> int:
        return self.checkpoint_state(stream_id).version

    def checkpoint_state(self, stream_id: str) -> Checkpoint:
        key = _key(checkpoint_pk(stream_id), CHECKPOINT_SK)
        item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        if item is None:
            return Checkpoint(version=0)
        return Checkpoint(
            version=int(item.get("version", {}).get("N", 0)),  # a stream stuck before its first event has no version yet
            refresh_pending=item.get("refresh_pending", {}).get("BOOL", False),
            stuck=item.get("stuck", {}).get("BOOL", False),
        )

    def mark_stuck(self, stream_id: str, doc: Mapping[str, Any]) -> None:
        note = {
            "Update": {
                "TableName": self._table,
                "Key": _key(checkpoint_pk(stream_id), CHECKPOINT_SK),
                "UpdateExpression": "SET #stuck = :true",
                "ExpressionAttributeNames": {"#stuck": "stuck"},
                "ExpressionAttributeValues": {":true": {"BOOL": True}},
            }
        }
        row = self._write(Write(pk=STUCK_PK, sk=stream_id, doc=doc, expected_rev=None))
        self._client.transact_write_items(TransactItems=[row, note])

    def clear_stuck(self, stream_id: str) -> None:
        note = {
            "Update": {
                "TableName": self._table,
                "Key": _key(checkpoint_pk(stream_id), CHECKPOINT_SK),
                "UpdateExpression": "REMOVE #stuck",
                "ExpressionAttributeNames": {"#stuck": "stuck"},
            }
        }
        row = self._write(Write(pk=STUCK_PK, sk=stream_id, doc=None, expected_rev=None))
        self._client.transact_write_items(TransactItems=[row, note])

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
        actions = [self._write(w) for w in writes] + [self._check(c) for c in checks]
        if checkpoint is not None:
            actions.append(self._move(checkpoint))
        if refresh_done is not None:
            actions.append(self._refreshed(refresh_done))
        if not actions:
            return
        if len(actions) > MAX_ACTIONS:
            raise TooManyActionsError(f"{len(actions)} actions exceed {MAX_ACTIONS}")
        from botocore.exceptions import ClientError  # loaded with the client already; keeps this module's import light

        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            codes = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
            if codes & _RETRYABLE or not codes:
                raise ConflictError(f"transaction cancelled: {sorted(c for c in codes if c)}") from exc
            raise

    def rows(self) -> Iterator[Row]:
        for item in self._paginate("scan", {"TableName": self._table}):
            if not item["pk"]["S"].startswith(CHECKPOINT_PREFIX) and item["pk"]["S"] not in (STUCK_PK, POINTER_PK):
                yield _row(item)

    def checkpoints(self) -> dict[str, int]:
        kwargs = {
            "TableName": self._table,
            "FilterExpression": "begins_with(pk, :cp)",
            "ExpressionAttributeValues": {":cp": {"S": CHECKPOINT_PREFIX}},
        }
        items = self._paginate("scan", kwargs)
        return {item["pk"]["S"][len(CHECKPOINT_PREFIX) :]: int(item["version"]["N"]) for item in items if "version" in item}

    def _paginate(self, operation: str, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        call = getattr(self._client, operation)
        while True:
            page = call(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def _write(self, w: Write) -> dict[str, Any]:
        if w.doc is None:
            op: dict[str, Any] = {"TableName": self._table, "Key": _key(w.pk, w.sk)}
            _condition(op, w.expected_rev)
            return {"Delete": op}
        op = {
            "TableName": self._table,
            "Key": _key(w.pk, w.sk),
            "UpdateExpression": "SET #doc = :doc ADD #rev :one",
            "ExpressionAttributeNames": {"#doc": "doc", "#rev": "rev"},
            "ExpressionAttributeValues": {
                ":doc": {"S": json.dumps(w.doc, sort_keys=True, separators=(",", ":"))},
                ":one": {"N": "1"},
            },
        }
        _condition(op, w.expected_rev)
        return {"Update": op}

    def _check(self, c: Check) -> dict[str, Any]:
        op: dict[str, Any] = {"TableName": self._table, "Key": _key(c.pk, c.sk)}
        _condition(op, c.expected_rev)
        return {"ConditionCheck": op}

    def _move(self, m: CheckpointMove) -> dict[str, Any]:
        op: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(checkpoint_pk(m.stream_id), CHECKPOINT_SK),
            "UpdateExpression": "SET #version = :to",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":to": {"N": str(m.to_version)}},
        }
        if m.refresh_pending:
            op["UpdateExpression"] += ", #pending = :true"
            op["ExpressionAttributeNames"]["#pending"] = "refresh_pending"
            op["ExpressionAttributeValues"][":true"] = {"BOOL": True}
        if m.from_version == 0:  # no version yet (the item may exist: a stream stuck on its first event)
            op["ConditionExpression"] = "attribute_not_exists(#version)"
        else:
            op["ConditionExpression"] = "#version = :from"
            op["ExpressionAttributeValues"][":from"] = {"N": str(m.from_version)}
        return {"Update": op}

    def _refreshed(self, stream_id: str) -> dict[str, Any]:
        """Clear the stream's refresh note (the checkpoint exists: the note was set by a move)."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": _key(checkpoint_pk(stream_id), CHECKPOINT_SK),
                "UpdateExpression": "REMOVE #pending",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": {"#pending": "refresh_pending"},
            }
        }


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _condition(op: dict[str, Any], expected_rev: int | None) -> None:
    """Add the row condition: absent (0), at a revision (n), or none (None)."""
    if expected_rev is None:
        return
    if expected_rev == 0:
        op["ConditionExpression"] = "attribute_not_exists(pk)"
        return
    op["ConditionExpression"] = "#rev = :expected"
    op.setdefault("ExpressionAttributeNames", {})["#rev"] = "rev"
    op.setdefault("ExpressionAttributeValues", {})[":expected"] = {"N": str(expected_rev)}


def _row(item: dict[str, Any]) -> Row:
    return Row(pk=item["pk"]["S"], sk=item["sk"]["S"], doc=json.loads(item["doc"]["S"]), rev=int(item["rev"]["N"]))
