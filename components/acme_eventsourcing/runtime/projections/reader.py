"""Reading read models from a query function: rows, and how current an answer is.

A query function reads the tables its projections write (rows `pk`/`sk` with the document
as JSON text in `doc`) and should say how current its answer is, from the projector's own
rows of the same table: each stream's checkpoint (`checkpoint#<stream_id>`: the last
version applied, and whether the projector is stuck on it) and the `stuck` partition (one
row per stream it could not apply: why, since when). `freshness` turns those into the three
fields an answer carries:

- `as_of_version`: the version of the answer's subject stream the read model reflects;
- `as_of`: every stream the answer shows, with that version;
- `stale`: the streams among those the projector is stuck on (`stream_id`,
  `stuck_at_version`, `reason`, `since`): the answer may miss their later events.

    reader = reader_from_env(os.environ, ["orders"])       # READ_MODEL_TABLE_ORDERS
    rows = reader.query("orders", f"customer#{customer_id}")
    body = {"items": rows, **freshness(reader, "orders", f"customer#{customer_id}")}

Reads are eventually consistent (a query may trail the projector by a moment; the
checkpoints it reports are read the same way, so `as_of` never claims more than it shows).
Checkpoints are read in `BatchGetItem`s of 100 keys, not one `GetItem` per stream. A
blue/green projection's rows are read from its active table: the reader looks the pointer
up in the home table it is given (`bluegreen.ActiveTables`: at most one GetItem per table
every `ACTIVE_TABLE_CACHE_SECONDS`); a table without a pointer is read as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from ..handler import ConfigurationError
from .bluegreen import ActiveTables
from .ports import CHECKPOINT_SK, STUCK_PK, ReadModelStore, checkpoint_pk

#: BatchGetItem's most keys per request.
BATCH_GET_LIMIT = 100
#: What an answer says of a stuck stream (fields of the projector's `stuck` row).
STALE_FIELDS = ("stream_id", "stuck_at_version", "reason", "since")


class ReadModelReader(Protocol):
    """Read access to the read-model tables of a service, by projection name."""

    def get(self, projection: str, pk: str, sk: str) -> dict[str, Any] | None:
        """The document of one row, or None."""
        ...

    def query(self, projection: str, pk: str, sk_from: str = "") -> list[dict[str, Any]]:
        """The documents of a partition's rows with sk >= `sk_from`, by sk (paginates)."""
        ...

    def checkpoints(self, projection: str, stream_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each stream's checkpoint in the projection: `{"version": int, "stuck": bool}`
        (version 0 and not stuck if the projection has not seen the stream)."""
        ...


class DynamoDBReadModelReader:
    """`ReadModelReader` on DynamoDB read-model tables (low-level client, eventually consistent).

    `tables` maps each projection name to its (home) table name; `active_tables` is the
    cached pointer lookup of blue/green projections (default: a new `ActiveTables`)."""

    def __init__(self, client: Any, tables: Mapping[str, str], active_tables: ActiveTables | None = None) -> None:
        self._client = client
        self._tables = dict(tables)
        self._active = active_tables or ActiveTables(client)

    def _table(self, projection: str) -> str:
        try:
            home = self._tables[projection]
        except KeyError:
            raise KeyError(f"no read-model table for projection {projection!r} (known: {', '.join(sorted(self._tables))})") from None
        return self._active.active(home)

    def get(self, projection: str, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table(projection), Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
        return None if item is None else json.loads(item["doc"]["S"])

    def checkpoints(self, projection: str, stream_ids: list[str]) -> dict[str, dict[str, Any]]:
        """One BatchGetItem per 100 streams (a list shows many), not a GetItem each; keys
        DynamoDB leaves unprocessed are asked again."""
        table = self._table(projection)
        found: dict[str, dict[str, Any]] = {s: {"version": 0, "stuck": False} for s in stream_ids}
        prefix = checkpoint_pk("")
        for start in range(0, len(stream_ids), BATCH_GET_LIMIT):
            keys = [{"pk": {"S": checkpoint_pk(s)}, "sk": {"S": CHECKPOINT_SK}} for s in stream_ids[start : start + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {table: {"Keys": keys, "ProjectionExpression": "pk, version, stuck"}}
            while request:
                page = self._client.batch_get_item(RequestItems=request)
                for item in page.get("Responses", {}).get(table, []):
                    found[item["pk"]["S"].removeprefix(prefix)] = {
                        "version": int(item.get("version", {}).get("N", 0)),
                        "stuck": item.get("stuck", {}).get("BOOL", False),
                    }
                request = page.get("UnprocessedKeys") or {}
        return found

    def query(self, projection: str, pk: str, sk_from: str = "") -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table(projection),
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        if sk_from:  # DynamoDB refuses an empty string in a key condition
            kwargs["KeyConditionExpression"] += " AND sk >= :from"
            kwargs["ExpressionAttributeValues"][":from"] = {"S": sk_from}
        docs: list[dict[str, Any]] = []
        while True:
            page = self._client.query(**kwargs)
            docs.extend(json.loads(item["doc"]["S"]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return docs
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class StoreReadModelReader:
    """`ReadModelReader` over `ReadModelStore`s (e.g. `InMemoryReadModelStore`s in tests):
    `stores` maps each projection name to its store."""

    def __init__(self, stores: Mapping[str, ReadModelStore]) -> None:
        self._stores = dict(stores)

    def get(self, projection: str, pk: str, sk: str) -> dict[str, Any] | None:
        row = self._stores[projection].get(pk, sk)
        return None if row is None else dict(row.doc)

    def query(self, projection: str, pk: str, sk_from: str = "") -> list[dict[str, Any]]:
        return [dict(r.doc) for r in self._stores[projection].query(pk) if r.sk >= sk_from]

    def checkpoints(self, projection: str, stream_ids: list[str]) -> dict[str, dict[str, Any]]:
        states = {s: self._stores[projection].checkpoint_state(s) for s in stream_ids}
        return {s: {"version": state.version, "stuck": state.stuck} for s, state in states.items()}


def stale_entry(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What an answer says of a stuck stream: the `STALE_FIELDS` of its `stuck` row."""
    return {name: doc[name] for name in STALE_FIELDS if name in doc}


def freshness(reader: ReadModelReader, projection: str, subject: str | None, others: Sequence[str] = ()) -> dict[str, Any]:
    """How current an answer of `projection` showing `subject`'s stream (and `others`) is:
    `as_of_version` (only with a `subject`), `as_of` and `stale` (see the module docstring).
    One batch of checkpoint reads, plus one read per stuck stream."""
    streams = list(dict.fromkeys([*([subject] if subject else []), *others]))
    checkpoints = reader.checkpoints(projection, streams) if streams else {}
    body: dict[str, Any] = {}
    if subject is not None:
        body["as_of_version"] = checkpoints[subject]["version"]
    body["as_of"] = {stream: c["version"] for stream, c in checkpoints.items()}
    stuck = [reader.get(projection, STUCK_PK, stream) for stream, c in checkpoints.items() if c["stuck"]]
    body["stale"] = [stale_entry(doc) for doc in stuck if doc is not None]
    return body


def stuck_streams(reader: ReadModelReader, projections: Iterable[str]) -> list[dict[str, Any]]:
    """Every stream a projector is stuck on, with its projection (one Query per projection):
    what an operator's "stuck streams" query lists."""
    return [{**stale_entry(doc), "projection": projection} for projection in projections for doc in reader.query(projection, STUCK_PK)]


def table_variable(projection: str) -> str:
    """The environment variable naming a projection's table for a query function:
    `READ_MODEL_TABLE_<PROJECTION>` (upper case, `-` as `_`)."""
    return "READ_MODEL_TABLE_" + projection.upper().replace("-", "_")


def reader_from_env(environ: Mapping[str, str], projections: Iterable[str], client: Any = None) -> DynamoDBReadModelReader:
    """A `DynamoDBReadModelReader` on the tables named by `READ_MODEL_TABLE_<PROJECTION>`;
    `ConfigurationError` naming every variable missing. `client`: a boto3 DynamoDB client
    (default: a new one)."""
    projections = list(projections)
    missing = [table_variable(p) for p in projections if not environ.get(table_variable(p))]
    if missing:
        raise ConfigurationError(f"{', '.join(missing)} not set: they should hold the names of the read-model tables this function reads")
    tables = {p: environ[table_variable(p)] for p in projections}
    if client is None:
        import boto3

        client = boto3.client("dynamodb")
    return DynamoDBReadModelReader(client, tables)
