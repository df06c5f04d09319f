"""Read the S3 event backup (`EventBackup`) back: for a rebuild, an audit, or a restore.

    reader = S3BackupReader(boto3.client("s3"), bucket_name, sources=["acme.orders"])
    report = rebuild(reader, OrdersProjection(), DynamoDBReadModelStore(client, new_table))

The backup holds every event of the bus as Kinesis Data Firehose wrote it: objects under
`<prefix>source=<source>/year=YYYY/month=MM/day=DD/` (the day the event reached Firehose,
UTC), each object GZIP-compressed or not, holding JSON lines, one EventBridge event per
line (`{"source": ..., "detail-type": ..., "detail": <envelope>, ...}`, the envelope
`runtime.envelopes` describes).

`S3BackupReader` implements the `EventsReader` protocol of `runtime.projections.rebuild`
(`stream_ids`, `load`), so a read model can be rebuilt from the backup instead of the
Events table; `bus_events()` iterates every event in the order the objects were written.

What the reader does about what Firehose and EventBridge do:
- duplicates (both are at-least-once; an archive replay puts an event on the bus again):
  an event seen again at the same stream and version with the same `event_id` is skipped;
  a different `event_id` at the same stream and version raises `BackupConflictError` (the
  backup holds two histories: no rebuild should pick one silently);
- order: a stream's events are returned in version order, whatever object they are in;
- events that carry no event envelope (other publishers on the bus, AWS events) are not
  events of a stream: they are counted in `skipped`, not returned;
- a line that is not JSON raises `BackupFormatError` naming the object and line.

`stream_ids()` and `load()` read the whole selection (the objects of `sources`, or of the
whole prefix) once, and keep its events in memory. Standard library and boto3 only.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from typing import Any

from .envelopes import BusEvent, MalformedEventError, parse_bus_event
from .eventstore.ports import StoredEvent

_GZIP_MAGIC = b"\x1f\x8b"


class BackupFormatError(ValueError):
    """A backup object holds something that is not JSON lines (the message names the object and line)."""


class BackupConflictError(ValueError):
    """The backup holds two different events at one stream and version."""


class S3BackupReader:
    """Events of an `EventBackup` bucket; an `EventsReader` for `rebuild`.

    `client`: a boto3 S3 client. `bucket`: the backup bucket (`EventBackup.bucket_name`).
    `prefix`: the component's `prefix` (default `events/`). `sources`: read only these
    sources' partitions (empty = every source in the backup)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "events/", *, sources: Sequence[str] = ()) -> None:
        if isinstance(sources, str):
            raise TypeError("sources must be a sequence of sources, not one string")
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._sources = tuple(sources)
        self._streams: dict[str, dict[int, StoredEvent]] | None = None
        self.skipped = 0
        """Events read that carry no event envelope (counted, not returned)."""
        self.duplicates = 0
        """Events read again at a stream and version already read (same event id), skipped."""

    # ---------------------------------------------------------------- the objects
    def object_keys(self) -> list[str]:
        """The backup objects of the selection, oldest day first (within a day, by key: Firehose
        names objects `<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<id>`, so by time)."""
        prefixes = [f"{self._prefix}source={s}/" for s in self._sources] or [self._prefix]
        keys = [key for p in prefixes for key in self._list(p)]
        return sorted(keys, key=_chronological)

    def _list(self, prefix: str) -> Iterator[str]:
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        while True:
            page = self._client.list_objects_v2(**kwargs)
            for obj in page.get("Contents", []):
                yield obj["Key"]
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def records(self, key: str) -> Iterator[dict[str, Any]]:
        """The JSON records (EventBridge events) of one object, in order."""
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        if body[:2] == _GZIP_MAGIC:
            body = gzip.decompress(body)
        for number, line in enumerate(body.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise BackupFormatError(f"s3://{self._bucket}/{key} line {number} is not JSON: {exc}") from None
            if not isinstance(record, dict):
                raise BackupFormatError(f"s3://{self._bucket}/{key} line {number} is not a JSON object")
            yield record

    def bus_events(self) -> Iterator[BusEvent]:
        """Every event with an envelope, in the order the backup holds them (duplicates
        included; events without an envelope are counted in `skipped`)."""
        for key in self.object_keys():
            for record in self.records(key):
                try:
                    yield parse_bus_event(record)
                except MalformedEventError:
                    self.skipped += 1

    # ---------------------------------------------------------------- EventsReader
    def stream_ids(self) -> Iterator[str]:
        """Each stream id in the backup, once (in the order first seen)."""
        return iter(list(self._index()))

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """The stream's events with version > `after_version`, oldest first (duplicates removed)."""
        events = self._index().get(stream_id, {})
        return [events[v] for v in sorted(events) if v > after_version]

    def _index(self) -> dict[str, dict[int, StoredEvent]]:
        if self._streams is None:
            streams: dict[str, dict[int, StoredEvent]] = {}
            self.skipped = self.duplicates = 0
            for bus_event in self.bus_events():
                event = bus_event.event
                versions = streams.setdefault(event.stream_id, {})
                known = versions.get(event.version)
                if known is None:
                    versions[event.version] = event
                elif known.event_id == event.event_id:
                    self.duplicates += 1
                else:
                    raise BackupConflictError(
                        f"stream {event.stream_id!r} version {event.version} is in the backup twice, "
                        f"as events {known.event_id!r} and {event.event_id!r}"
                    )
            self._streams = streams
        return self._streams


def _chronological(key: str) -> tuple[str, str]:
    """(the key after its `source=...` part, the key): days in order across sources."""
    head, sep, rest = key.partition("source=")
    return (rest.partition("/")[2], key) if sep else (key, key)
