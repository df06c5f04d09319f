"""Blue/green read models: two tables per projection and a pointer to the active one.

A projection declared `blue_green=True` has its home table (`READ_MODEL_TABLE`, the one it
always had) and a standby table (`READ_MODEL_STANDBY_TABLE`). Which of the two is active is
one item of the home table, the pointer:

    pk = "active-table", sk = "pointer", table S, generation N, switched_at S, previous S

No item means the home table is active (generation 0), so a projection that never switched
reads and writes exactly as before. The projector (`entry.build_projector`) and the query
side (`reader.DynamoDBReadModelReader`) look the pointer up through `ActiveTables`, a small
cache (`ACTIVE_TABLE_CACHE_SECONDS`, default 5 s): one GetItem per table per container every
few seconds. An operator's rebuild (`acme_eventsourcing.ops`) fills the inactive table from
the Events table while the projector keeps writing the active one, then `switch`es the
pointer (conditioned on its generation, so two rebuilds cannot both switch), waits out the
caches, and catches the new table up once more. Exactly-once per (stream, version) holds in
each table by itself: each has its own checkpoints. Standard library and boto3 only.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .._frozen import frozen_dataclass
from .ports import POINTER_PK, POINTER_SK, ConflictError

#: The variable that sets how long a container trusts the pointer it read (seconds).
CACHE_SECONDS_ENV = "ACTIVE_TABLE_CACHE_SECONDS"
DEFAULT_CACHE_SECONDS = 5.0


@frozen_dataclass(kw_only=True)
class Pointer:
    """Which table of a blue/green projection is active. `generation` counts switches (0:
    never switched, the home table is active); `previous` is the table active before."""

    home: str
    active: str
    generation: int = 0
    switched_at: str = ""
    previous: str = ""


def _key() -> dict[str, Any]:
    return {"pk": {"S": POINTER_PK}, "sk": {"S": POINTER_SK}}


def read_pointer(client: Any, home: str, *, consistent: bool = True) -> Pointer:
    """The pointer kept in the home table `home` (the home table itself when there is none)."""
    item = client.get_item(TableName=home, Key=_key(), ConsistentRead=consistent).get("Item")
    if item is None:
        return Pointer(home=home, active=home)
    return Pointer(
        home=home,
        active=item["table"]["S"],
        generation=int(item["generation"]["N"]),
        switched_at=item.get("switched_at", {}).get("S", ""),
        previous=item.get("previous", {}).get("S", ""),
    )


def switch(client: Any, current: Pointer, to_table: str, *, switched_at: str) -> Pointer:
    """Point the projection at `to_table`, if the pointer is still `current` (its
    generation); else `ConflictError` (another switch came first) and nothing changes."""
    item = {
        **_key(),
        "table": {"S": to_table},
        "generation": {"N": str(current.generation + 1)},
        "switched_at": {"S": switched_at},
        "previous": {"S": current.active},
    }
    kwargs: dict[str, Any] = {"TableName": current.home, "Item": item}
    if current.generation == 0:
        kwargs["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        kwargs["ConditionExpression"] = "generation = :g"
        kwargs["ExpressionAttributeValues"] = {":g": {"N": str(current.generation)}}
    try:
        client.put_item(**kwargs)
    except client.exceptions.ConditionalCheckFailedException as exc:
        raise ConflictError(f"{current.home}: the pointer moved past generation {current.generation} meanwhile") from exc
    return Pointer(home=current.home, active=to_table, generation=current.generation + 1, switched_at=switched_at, previous=current.active)


def cache_seconds(environ: Any = None) -> float:
    """How long a container trusts a pointer it read: `ACTIVE_TABLE_CACHE_SECONDS`, else 5."""
    value = (os.environ if environ is None else environ).get(CACHE_SECONDS_ENV)
    return DEFAULT_CACHE_SECONDS if not value else float(value)


class ActiveTables:
    """The active table of each home table, read at most once per `ttl` seconds (eventually
    consistent GetItem; thread-safe). A home table without a pointer is its own active table."""

    def __init__(self, client: Any, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self.ttl = cache_seconds() if ttl is None else ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def active(self, home: str) -> str:
        """The active table of `home`, from the cache while it is younger than `ttl`."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(home)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        active = read_pointer(self._client, home, consistent=False).active
        with self._lock:
            self._cache[home] = (now, active)
        return active


def clear_table(client: Any, table: str, keep: Iterable[tuple[str, str]] = ((POINTER_PK, POINTER_SK),)) -> int:
    """Delete every item of `table` (a keys-only scan, then BatchWriteItem by 25) except the
    `keep` keys (the pointer); the number deleted."""
    kept = set(keep)
    deleted = 0
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": "pk, sk"}
    while True:
        page = client.scan(**kwargs)
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in page.get("Items", []) if (i["pk"]["S"], i["sk"]["S"]) not in kept]
        for start in range(0, len(keys), 25):
            request = {table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]}
            while request:
                request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        deleted += len(keys)
        if "LastEvaluatedKey" not in page:
            return deleted
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
