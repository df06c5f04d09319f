"""Kinesis Data Firehose on the local stack: moto's Firehose, writing S3 objects the way AWS does.

moto's Firehose (5.2.5) delivers every `PutRecord(Batch)` to its S3 at once, as one object
under `<Prefix>YYYY/MM/DD/HH/`, with the prefix taken literally: it does not evaluate
dynamic partitioning (`!{partitionKeyFromQuery:...}`), `!{timestamp:...}` expressions or
processors, so an `EventBackup` stream would leave one object under a key holding the
literal `!{...}` text, its records run together. `install()` replaces moto's
`FirehoseBackend.put_s3_records` for streams that use dynamic partitioning, processors or
expressions in their prefix (other streams keep moto's behaviour):

- each record's partition keys come from the `MetadataExtraction` processor's JQ query
  (the `{key:.path, ...}` form; `.a.b` paths), evaluated on the record's JSON;
- the prefix's `!{partitionKeyFromQuery:KEY}`, `!{timestamp:FORMAT}` (yyyy, MM, dd, HH, mm,
  ss; the arrival time, UTC) and `!{firehose:random-string}` are filled in; a record whose
  keys cannot be extracted goes under the error output prefix with
  `!{firehose:error-output-type}` = `partitioning-failed`, as AWS does;
- `AppendDelimiterToRecord` appends its delimiter (default a newline) to each record;
- records are grouped by their prefix, one object per prefix per batch, named
  `<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>` (`.gz` after GZIP compression, or the
  declared `FileExtension`), as AWS names them.

Not emulated (see `model.DELIVERY_STREAM_NOTES`): buffering (objects are written at once),
Lambda processors, encryption, error logging.

`FirehoseTarget` delivers an EventBridge rule's matched events to a stream, since moto's
EventBridge does not deliver to Firehose targets (its `Rule.send_to_targets` knows log
groups, archives, SQS queues, buses and API destinations).
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from moto.core.utils import utcnow
from moto.firehose.models import FirehoseBackend
from moto.s3.models import s3_backends

#: moto's own method (the version pin test compares its source).
MOTO_PUT_S3_RECORDS = FirehoseBackend.put_s3_records

_lock = threading.Lock()
_installed = False
_EXPRESSION = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")
_JQ_OBJECT = re.compile(r"^\{(.*)\}$", re.DOTALL)
_JQ_FIELD = re.compile(r"^\s*\"?([A-Za-z_][\w-]*)\"?\s*:\s*(\.[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\s*$")
#: Java DateTimeFormatter letters Firehose prefixes use, and their strftime equivalents.
_TIME_FORMAT = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))


class PartitioningError(ValueError):
    """A record's partition keys cannot be extracted (it goes to the error prefix)."""


class UnsupportedDeliveryError(ValueError):
    """The stream's configuration uses something the local Firehose does not emulate."""


def install() -> None:
    """Replace moto's `FirehoseBackend.put_s3_records` (once per process)."""
    global _installed
    with _lock:
        if not _installed:
            FirehoseBackend.put_s3_records = _put_s3_records  # type: ignore[method-assign]
            _installed = True


def _put_s3_records(
    self: FirehoseBackend, delivery_stream_name: str, version_id: str, s3_destination: dict[str, Any], records: list[dict[str, bytes]]
) -> list[dict[str, str]]:
    delivery = S3Delivery(s3_destination)
    if not delivery.emulated:
        return MOTO_PUT_S3_RECORDS(self, delivery_stream_name, version_id, s3_destination, records)
    s3 = s3_backends[self.account_id][self.partition]
    for key, body in delivery.objects(delivery_stream_name, version_id, [r["Data"] for r in records], utcnow()).items():
        s3.put_object(delivery.bucket, key, body)
    return [{"RecordId": str(uuid.uuid4())} for _ in records]


class S3Delivery:
    """What AWS makes of records put on an extended S3 stream (see the module docstring)."""

    def __init__(self, destination: Mapping[str, Any]) -> None:
        self.bucket = str(destination["BucketARN"]).split(":")[-1]
        self.prefix = destination.get("Prefix") or ""
        self.error_prefix = destination.get("ErrorOutputPrefix") or ""
        self.compression = destination.get("CompressionFormat") or "UNCOMPRESSED"
        if self.compression not in ("UNCOMPRESSED", "GZIP"):
            raise UnsupportedDeliveryError(f"compression {self.compression} is not emulated (GZIP or UNCOMPRESSED)")
        extension = destination.get("FileExtension")
        self.extension = extension if extension is not None else (".gz" if self.compression == "GZIP" else "")
        processing = destination.get("ProcessingConfiguration") or {}
        processors = processing.get("Processors") or [] if processing.get("Enabled") else []
        params = {p["Type"]: {x["ParameterName"]: x["ParameterValue"] for x in p.get("Parameters") or ()} for p in processors}
        unsupported = set(params) - {"MetadataExtraction", "AppendDelimiterToRecord"}
        if unsupported:
            raise UnsupportedDeliveryError(f"processors {sorted(unsupported)} are not emulated locally")
        self.query = _jq_fields(params["MetadataExtraction"]["MetadataExtractionQuery"]) if "MetadataExtraction" in params else {}
        delimiter = params.get("AppendDelimiterToRecord")
        self.delimiter = codecs.decode(delimiter.get("Delimiter", "\\n"), "unicode_escape").encode() if delimiter is not None else b""
        partitioned = bool((destination.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
        self.emulated = partitioned or bool(processors) or bool(_EXPRESSION.search(self.prefix))

    def partition_keys(self, data: bytes) -> dict[str, str]:
        """The record's partition keys, from the MetadataExtraction query."""
        if not self.query:
            return {}
        try:
            record = json.loads(data)
        except ValueError:
            raise PartitioningError("the record is not JSON") from None
        keys = {}
        for name, path in self.query.items():
            value: Any = record
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            if value is None or isinstance(value, dict | list):
                raise PartitioningError(f"{'.'.join(('', *path))} is {value!r} in the record")
            keys[name] = value if isinstance(value, str) else json.dumps(value)
        return keys

    def key_prefix(self, data: bytes, now: datetime) -> str:
        """The prefix the record is written under (the error prefix when it cannot be partitioned)."""
        try:
            return render(self.prefix, self.partition_keys(data), now)
        except PartitioningError:
            return render(self.error_prefix, {}, now, error_type="partitioning-failed")

    def objects(self, stream: str, version: str, records: Sequence[bytes], now: datetime) -> dict[str, bytes]:
        """Object key -> body for one batch of records."""
        grouped: dict[str, list[bytes]] = {}
        for data in records:
            grouped.setdefault(self.key_prefix(data, now), []).append(data + self.delimiter)
        out = {}
        for prefix, chunks in grouped.items():
            body = b"".join(chunks)
            name = f"{prefix}{stream}-{version}-{now.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4()}{self.extension}"
            out[name] = gzip.compress(body) if self.compression == "GZIP" else body
        return out


def problem(destination: Mapping[str, Any]) -> str | None:
    """Why records put on a stream with this ExtendedS3 configuration would fail locally (None: they will not)."""
    try:
        delivery = S3Delivery(destination)
        if delivery.emulated:
            now = utcnow()
            render(delivery.prefix, dict.fromkeys(delivery.query, "x"), now)
            render(delivery.error_prefix, {}, now, error_type="processing-failed")
    except (UnsupportedDeliveryError, PartitioningError) as exc:
        return str(exc)
    return None


def render(template: str, keys: Mapping[str, str], now: datetime, *, error_type: str | None = None) -> str:
    """A Firehose prefix with its `!{namespace:value}` expressions filled in."""

    def one(match: re.Match[str]) -> str:
        namespace, value = match.groups()
        if namespace == "partitionKeyFromQuery":
            if value not in keys:
                raise PartitioningError(f"no partition key {value!r}")
            return keys[value]
        if namespace == "timestamp":
            for java, strftime in _TIME_FORMAT:
                value = value.replace(java, strftime)
            return now.strftime(value)
        if namespace == "firehose" and value == "random-string":
            return uuid.uuid4().hex[:11]
        if namespace == "firehose" and value == "error-output-type" and error_type:
            return error_type
        raise UnsupportedDeliveryError(f"prefix expression !{{{namespace}:{value}}} is not emulated locally")

    return _EXPRESSION.sub(one, template)


def _jq_fields(query: str) -> dict[str, tuple[str, ...]]:
    """`{source:.source, kind:.detail.kind}` -> {"source": ("source",), "kind": ("detail", "kind")}."""
    body = _JQ_OBJECT.match(query.strip())
    fields = [_JQ_FIELD.match(part) for part in body.group(1).split(",")] if body else [None]
    if not all(fields):
        raise UnsupportedDeliveryError(f"MetadataExtractionQuery {query!r}: only {{key:.path, ...}} is emulated locally")
    return {m.group(1): tuple(m.group(2).lstrip(".").split(".")) for m in fields if m}


class FirehoseTarget:
    """An EventBridge rule target that is a delivery stream: each matched event is put on the
    stream (`PutRecord`, the event's JSON as the record, as EventBridge sends it)."""

    def __init__(self, stream_name: str, firehose_client: Any) -> None:
        self.stream_name = stream_name
        self.firehose = firehose_client

    def deliver(self, event: Mapping[str, Any]) -> None:
        self.firehose.put_record(DeliveryStreamName=self.stream_name, Record={"Data": json.dumps(event).encode()})
