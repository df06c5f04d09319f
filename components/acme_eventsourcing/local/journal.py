"""The Events table(s) on disk, so that stopping and starting `up` keeps the events.

The event store is the source of truth; everything else (read models, what the bus
delivered) follows from it. So the local stack keeps exactly the tables the program
declares as an `EventSourcedService`'s event store (found by structure, `event_stores`:
the service's table whose stream its own publisher reads), and nothing else:

- Writing: a journal poller reads each event store's stream (every INSERT, also the
  idempotency records that live in the same table; MODIFY/REMOVE too, should a program
  write them) and appends one JSON line per record to `.local-stack/<stack>/events.jsonl`,
  flushed and fsync'd once per batch it reads. It runs until the stack stops and catches
  up before that, so a clean stop (Ctrl-C, SIGTERM) loses nothing; a crash (kill -9, power
  loss) loses at most what was committed in the last fraction of a second.
- Replaying: on start the journal's items are written into the fresh tables on moto (25
  per BatchWriteItem), so the tables' streams carry them to the real publisher and from
  the bus to the projections: the read models are rebuilt the way a real rebuild would
  rebuild them. Like a targeted replay (EventBridge replays to chosen rules; a projection's
  rebuild goes straight into its read model), only the projections get
  the replayed events: other rule targets (subscriptions, e.g. the notifications webhook)
  are detached until the publisher has sent the replayed records, and do not hear them
  a second time. The HTTP API opens after that.
- The first line is a header: format, project, stack and each table's logical name and
  keys. A journal for another format, project, stack or key layout is refused (start with
  `--fresh`, which moves it to `events.jsonl.previous`). A last line cut off by a crash is
  skipped and cut from the file (the start-up banner says so); a bad line elsewhere is
  refused with its line number.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from acme_eventsourcing.event_sourced_service import TYPE_TOKEN as SERVICE_TYPE
from acme_eventsourcing.testing import RecordedStack
from acme_eventsourcing.testing.stack_model import StackModel

from .filters import Pattern
from .functions import Invocation
from .model import T_MAPPING, T_PIPE, T_TABLE, T_TARGET, LocalModel, TableDecl

try:
    import fcntl
except ImportError:  # Windows: no advisory lock (one `up` per stack is then up to you)
    fcntl = None  # type: ignore[assignment]

FORMAT = "local-stack-journal/1"
BATCH_WRITE_LIMIT = 25


class JournalError(RuntimeError):
    """The journal cannot be used (the message says why and what to do)."""


# ---------------------------------------------------------------------- what is kept
def event_stores(stack: RecordedStack, model: LocalModel, stack_model: StackModel | None = None) -> dict[str, tuple[str, ...]]:
    """Event store table (logical name) -> the logical names of the rule targets that are
    its service's projections. An event store is a table an `EventSourcedService` declares
    whose stream its own publisher (a stream mapping or Pipe of the same service) reads; a
    projection is a target of the service whose function is given one of the service's
    other tables (its read model) in its environment."""
    tables = {t.logical: t for t in model.tables}
    recorded = stack_model or StackModel.of(stack)
    out: dict[str, tuple[str, ...]] = {}
    for service in recorded.of_type(SERVICE_TYPE):
        below = recorded.descendants(service)  # child components' resources included, at any depth
        streams_read = {r.inputs.get("eventSourceArn") for r in below if r.type == T_MAPPING}
        streams_read |= {r.inputs.get("source") for r in below if r.type == T_PIPE}
        own = [tables[r.name] for r in below if r.type == T_TABLE and r.name in tables]
        stores = [t for t in own if t.declared_stream_arn and t.declared_stream_arn in streams_read]
        read_models = {t.name for t in own} - {t.name for t in stores}
        target_names = {r.name for r in below if r.type == T_TARGET}
        projections = tuple(
            t.logical
            for t in model.targets
            if t.logical in target_names and t.function is not None and read_models & set(t.function.environment.values())
        )
        for store in stores:
            out[store.logical] = projections
    return out


# ---------------------------------------------------------------------- the file
@dataclass
class Loaded:
    """What a journal held: items per line, and what start-up should report."""

    records: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (table logical, "put"/"delete", image)
    torn_bytes: int = 0  # length of a cut-off last line that was dropped


class Journal:
    """`.local-stack/<stack>/events.jsonl`: a header line, then one line per stream record."""

    def __init__(self, path: Path, *, project: str, stack: str, tables: Sequence[TableDecl]) -> None:
        self.path = path
        self.header = {
            "format": FORMAT,
            "project": project,
            "stack": stack,
            "tables": {t.logical: {"hash": t.hash_key, "range": t.range_key} for t in tables},
        }
        self._file: BinaryIO | None = None
        self._lock = threading.Lock()
        self.written = 0

    def set_aside(self) -> Path | None:
        """`--fresh`: move an existing journal to `events.jsonl.previous` (replacing an older one)."""
        if not self.path.exists():
            return None
        previous = self.path.with_name(self.path.name + ".previous")
        os.replace(self.path, previous)
        return previous

    def open(self) -> Loaded:
        """Lock the journal for this process, read what it holds, cut a torn last line, and
        keep it open for appending (a new journal gets its header)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+b")  # noqa: SIM115 - kept open until close()
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise JournalError(f"{self.path} is in use by another local stack of this stack; stop that one first") from None
            file.seek(0)
            loaded = self._read(file.read())
            if loaded.torn_bytes:
                file.truncate(file.seek(0, os.SEEK_END) - loaded.torn_bytes)
            if file.seek(0, os.SEEK_END) == 0:
                file.write(json.dumps(self.header, separators=(",", ":")).encode() + b"\n")
                _sync(file)
        except BaseException:
            file.close()
            raise
        self._file = file
        return loaded

    def _read(self, data: bytes) -> Loaded:
        loaded = Loaded()
        if not data:
            return loaded
        lines = data.split(b"\n")
        if lines[-1]:  # no newline at the end: the last write was cut off
            loaded.torn_bytes = len(lines[-1])
        lines = lines[:-1]
        if not lines:
            return loaded
        try:
            header = json.loads(lines[0])
        except ValueError:
            header = None
        self._check_header(header)
        for number, line in enumerate(lines[1:], start=2):
            try:
                entry = json.loads(line)
                table = entry["table"]
                op = "put" if "put" in entry else "delete"
                image = entry[op]
                if table not in self.header["tables"] or not isinstance(image, dict):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise JournalError(
                    f"{self.path} line {number} is not a journal record; repair or remove the file (or start with --fresh)"
                ) from None
            loaded.records.append((table, op, image))
        return loaded

    def _check_header(self, header: Any) -> None:
        where = f"{self.path}"
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            found = header.get("format") if isinstance(header, dict) else "no header"
            raise JournalError(f"{where} is not a {FORMAT} journal ({found}); move it away or start with --fresh")
        for key in ("project", "stack"):
            if header.get(key) != self.header[key]:
                raise JournalError(
                    f"{where} was written for {key} {header.get(key)!r}, this is {self.header[key]!r}; move it away or start with --fresh"
                )
        ours: Mapping[str, Any] = self.header["tables"]
        for table, keys in (header.get("tables") or {}).items():
            if ours.get(table) != keys:
                now = f"keys {ours[table]}" if table in ours else "no such event store"
                raise JournalError(
                    f"{where} holds events of table {table!r} with keys {keys}; the program now declares {now}. "
                    "Move the journal away or start with --fresh"
                )

    def append(self, table: str, records: Iterable[Mapping[str, Any]]) -> int:
        """Append stream records (Lambda's format) of `table`; flush and fsync once."""
        lines = []
        for record in records:
            data = record.get("dynamodb") or {}
            if record.get("eventName") == "REMOVE":
                lines.append({"table": table, "delete": data.get("Keys")})
            elif data.get("NewImage") is not None:
                lines.append({"table": table, "put": data["NewImage"]})
        if not lines:
            return 0
        blob = b"".join(json.dumps(line, separators=(",", ":")).encode() + b"\n" for line in lines)
        with self._lock:
            if self._file is None:
                raise JournalError(f"{self.path} is closed")
            self._file.write(blob)
            _sync(self._file)
            self.written += len(lines)
        return len(lines)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                with contextlib.suppress(OSError):
                    _sync(self._file)
                self._file.close()  # releases the lock
                self._file = None


def _sync(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())


# ---------------------------------------------------------------------- replay
def replay(ddb: Any, tables: Mapping[str, TableDecl], records: Sequence[tuple[str, str, dict[str, Any]]]) -> int:
    """Write the journal's records, in order, into the tables (`tables`: logical -> declaration),
    25 per BatchWriteItem (a batch never names one key twice: it is flushed first)."""
    batch: list[tuple[str, dict[str, Any]]] = []
    keys_in_batch: set[tuple[str, str]] = set()

    def flush() -> None:
        requests: dict[str, list[dict[str, Any]]] = {}
        for table, request in batch:
            requests.setdefault(table, []).append(request)
        while requests:
            requests = dict(ddb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {})
        batch.clear()
        keys_in_batch.clear()

    for logical, op, image in records:
        decl = tables[logical]
        key = (decl.name, json.dumps([image.get(decl.hash_key), image.get(decl.range_key) if decl.range_key else None], sort_keys=True))
        if len(batch) == BATCH_WRITE_LIMIT or key in keys_in_batch:
            flush()
        item = _typed(image)
        batch.append((decl.name, {"PutRequest": {"Item": item}} if op == "put" else {"DeleteRequest": {"Key": item}}))
        keys_in_batch.add(key)
    if batch:
        flush()
    return len(records)


def _typed(value: Any) -> Any:
    """A stream image (binary attributes base64, as Lambda delivers them) as boto3 takes it."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((kind, inner),) = value.items()
            if kind == "B" and isinstance(inner, str):
                return {"B": base64.b64decode(inner)}
            if kind == "BS" and isinstance(inner, list):
                return {"BS": [base64.b64decode(v) for v in inner]}
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return value


def stream_end(streams: Any, stream_arn: str) -> int:
    """The highest sequence number in the stream now (0: empty). Call it while nothing writes."""
    last = 0
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        position: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": stream_arn, "ShardId": shard["ShardId"]}
            if position is None:
                kwargs["ShardIteratorType"] = "TRIM_HORIZON"
            else:
                kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=position)
            records = streams.get_records(ShardIterator=streams.get_shard_iterator(**kwargs)["ShardIterator"], Limit=1000)["Records"]
            if not records:
                break
            position = records[-1]["dynamodb"]["SequenceNumber"]
            last = max(last, int(position))
    return last


# ---------------------------------------------------------------------- the writer's stream source
@dataclass(frozen=True)
class JournalSource:
    """The journal poller's view of an event store's stream (a `StreamSource`): every
    record, in order, retried until written (a full disk stalls it, never skips)."""

    table: TableDecl
    logical: str = ""
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = 1000
    filters: tuple[Pattern, ...] = ()
    report_batch_item_failures: bool = False
    retry_attempts: int = -1
    max_record_age_s: int = -1
    bisect_on_error: bool = False
    on_failure: str | None = None


def journal_writer(journal: Journal, table: TableDecl, replayed_through: int) -> Callable[[list[dict[str, Any]]], Invocation]:
    """The poller's `deliver`: append the batch, skipping the records replay wrote."""

    def deliver(batch: list[dict[str, Any]]) -> Invocation:
        started, t0 = time.time(), time.perf_counter()
        fresh = [r for r in batch if int(r["dynamodb"]["SequenceNumber"]) > replayed_through]
        ok, error_type, error_message = True, None, None
        try:
            journal.append(table.logical, fresh)
        except (OSError, JournalError) as exc:  # e.g. a full disk: the poller retries the batch
            ok, error_type, error_message = False, type(exc).__name__, str(exc)
        return Invocation(
            function=f"journal:{table.logical}",
            trigger=f"stream {len(batch)} record(s)",
            request_id="-",
            started=started,
            duration_ms=(time.perf_counter() - t0) * 1000,
            ok=ok,
            result=None,
            error_type=error_type,
            error_message=error_message,
        )

    return deliver


def caught_up(positions: Mapping[str, str | None], through: int) -> bool:
    """Whether a poller at `positions` has consumed every record up to sequence `through`."""
    done = [int(p) for p in positions.values() if p is not None]
    return through == 0 or (bool(done) and max(done) >= through)
