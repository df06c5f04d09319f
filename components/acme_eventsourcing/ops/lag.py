"""`lag`: how far behind the Events table each projection and subscription is.

A projection keeps a checkpoint per stream in its (active) read-model table: the last
version it applied. Against the Events table (one keys-and-types Scan) that gives, per
projection, the streams and events it has not applied yet (only events of the types its
rule delivers count: the checkpoint moves over the others when the next delivered event
of the stream arrives), the oldest of them (by `occurred_at`), and the streams it is stuck
on, at which version and why (its `stuck` rows).

A subscription keeps a checkpoint per source stream in its checkpoint table
(`runtime.checkpoints`): the highest version it handled. For each source whose Events table
the stack's outputs name (a service of the same stack), the same Scan gives the streams
and events of the types its rule matches after that checkpoint, and the oldest of them;
an event below the checkpoint that failed is not counted there (the checkpoint is "highest
handled") but is in the DLQ. For a source of another stack the head is unknown: the report
lists the subscription's per-stream checkpoints of that source instead. The streams it is
stuck on, at which version and why, come from its DLQ's messages (peeked, not taken: the
error a message carries, in EventBridge's or Lambda's attributes or destination record).
Projections' DLQs are shown too.

Heads come from a full Scan of each Events table (keys, type and time of every event; one
Scan per table, shared by every projection and subscription that reads it). Nothing cheaper
is correct today: the table is append-only (no head item may be updated), DynamoDB has no
"last item of each partition" query, and checkpoints alone miss the streams a reader never
saw. A per-stream head would need the event store to write a stream-registry item.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..runtime.checkpoints import Checkpoint, SubscriptionCheckpoints
from ..runtime.envelopes import MalformedEventError, parse_bus_event
from ..runtime.projections.bluegreen import read_pointer
from ..runtime.projections.dynamodb import DynamoDBReadModelStore
from ..runtime.projections.reader import stale_entry
from .deployment import Deployment, ProjectionOps, SubscriptionOps


@dataclass(frozen=True)
class EventHead:
    """One event as the index knows it: enough to measure lag, not to apply it."""

    version: int
    event_type: str
    occurred_at: str


class EventsIndex:
    """Every event of an Events table by stream (version, type, time): one Scan (paginated),
    idempotency items left out."""

    def __init__(self, streams: Mapping[str, list[EventHead]], table: str = "") -> None:
        self.streams = {s: sorted(events, key=lambda e: e.version) for s, events in streams.items()}
        self.table = table

    @classmethod
    def scan(cls, client: Any, table: str) -> EventsIndex:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "FilterExpression": "#rt = :event",
            "ProjectionExpression": "stream_id, #v, event_type, occurred_at",
            "ExpressionAttributeNames": {"#rt": "record_type", "#v": "version"},
            "ExpressionAttributeValues": {":event": {"S": "event"}},
        }
        streams: dict[str, list[EventHead]] = {}
        while True:
            page = client.scan(**kwargs)
            for item in page.get("Items", []):
                streams.setdefault(item["stream_id"]["S"], []).append(
                    EventHead(int(item["version"]["N"]), item["event_type"]["S"], item["occurred_at"]["S"])
                )
            if "LastEvaluatedKey" not in page:
                return cls(streams, table)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def latest(self) -> dict[str, int]:
        """Each stream's last version."""
        return {s: events[-1].version for s, events in self.streams.items() if events}

    def events(self) -> int:
        return sum(len(e) for e in self.streams.values())

    def unapplied(self, checkpoints: Mapping[str, int], types: Iterable[str] | None = None) -> dict[str, list[EventHead]]:
        """Per stream, its events after the checkpoint (of `types`, if given); streams with none left out."""
        wanted = None if types is None else set(types)
        out: dict[str, list[EventHead]] = {}
        for stream, events in self.streams.items():
            after = [e for e in events if e.version > checkpoints.get(stream, 0) and (wanted is None or e.event_type in wanted)]
            if after:
                out[stream] = after
        return out


@dataclass(frozen=True)
class QueueDepth:
    """A DLQ's messages: waiting, in flight (being handled), and the oldest seen one's age."""

    url: str
    waiting: int
    in_flight: int
    oldest_age_s: float | None = None
    """Age of the oldest message among those peeked (up to 10; None if none was seen)."""


def queue_depth(sqs: Any, url: str, now: datetime | None = None) -> QueueDepth:
    """The DLQ's depth (queue attributes) and the age of the oldest of up to 10 messages
    peeked at (received with visibility timeout 0: they stay available)."""
    now = now or datetime.now(UTC)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])[
        "Attributes"
    ]
    waiting, in_flight = int(attrs.get("ApproximateNumberOfMessages", 0)), int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))
    oldest = None
    if waiting:
        peeked = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["SentTimestamp"])
        sent = [int(m["Attributes"]["SentTimestamp"]) for m in peeked.get("Messages", []) if "SentTimestamp" in m.get("Attributes", {})]
        if sent:
            oldest = max(0.0, now.timestamp() - min(sent) / 1000)
    return QueueDepth(url=url, waiting=waiting, in_flight=in_flight, oldest_age_s=oldest)


@dataclass(frozen=True, kw_only=True)
class ProjectionLag:
    """How far one projection is behind the Events table."""

    projection: str
    table: str
    """The table read (a blue/green projection's active one)."""
    streams: int
    """Streams in the Events table."""
    streams_behind: int
    events_behind: int
    oldest_unapplied: dict[str, Any] | None
    """`stream_id`, `version`, `event_type`, `occurred_at`, `age_s` of the oldest event not applied."""
    stuck: list[dict[str, Any]] = field(default_factory=list)
    """`stream_id`, `stuck_at_version`, `reason`, `since` per stuck stream."""
    dlq: QueueDepth | None = None


#: How many of a subscription's per-stream checkpoints `render` shows for a source of another stack.
HANDLED_SHOWN = 10
#: How many DLQ messages `lag` peeks at to name a subscription's stuck streams.
PEEK_MESSAGES = 50


@dataclass(frozen=True, kw_only=True)
class SourceLag:
    """A subscription against one source: its Events table's heads, or only its checkpoints."""

    source: str
    events_table: str | None
    """None: the source is not a service of this stack, its heads are unknown."""
    streams: int
    """Streams of the source with events of the types the rule matches (known head), or
    streams the subscription handled (unknown head)."""
    streams_behind: int | None = None
    events_behind: int | None = None
    oldest_unhandled: dict[str, Any] | None = None
    """`stream_id`, `version`, `event_type`, `occurred_at`, `age_s` of the oldest event after its checkpoint."""
    handled: list[dict[str, Any]] = field(default_factory=list)
    """Unknown head: per stream, `stream_id`, `version` (the last handled), `event_type`, `handled_at`."""


@dataclass(frozen=True, kw_only=True)
class SubscriptionLag:
    """How far one subscription is behind its sources' Events tables, and what is stuck in its DLQ."""

    subscription: str
    dlq: QueueDepth
    checkpoint_table: str | None = None
    sources: list[SourceLag] = field(default_factory=list)
    stuck: list[dict[str, Any]] = field(default_factory=list)
    """From the DLQ's messages: `source`, `stream_id`, `stuck_at_version` (the lowest waiting),
    `event_type`, `messages` (of that stream), `reason`, `since` (when the first was sent)."""
    note: str = ""

    @property
    def streams_behind(self) -> int:
        return sum(s.streams_behind or 0 for s in self.sources)

    @property
    def events_behind(self) -> int:
        return sum(s.events_behind or 0 for s in self.sources)


def _age(occurred_at: str, now: datetime) -> float | None:
    try:
        return max(0.0, (now - datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))).total_seconds())
    except ValueError:
        return None


def projection_lag(
    client: Any, projection: ProjectionOps, index: EventsIndex, *, sqs: Any = None, now: datetime | None = None
) -> ProjectionLag:
    """The lag of `projection` against `index` (its service's Events table)."""
    now = now or datetime.now(UTC)
    table = read_pointer(client, projection.table).active if projection.blue_green else projection.table
    store = DynamoDBReadModelStore(client, table)
    behind = index.unapplied(store.checkpoints(), projection.detail_types or None)
    oldest = _oldest(behind, now)
    return ProjectionLag(
        projection=projection.qualified,
        table=table,
        streams=len(index.streams),
        streams_behind=len(behind),
        events_behind=sum(len(e) for e in behind.values()),
        oldest_unapplied=oldest,
        stuck=[stale_entry(row.doc) for row in store.stuck()],
        dlq=queue_depth(sqs, projection.dlq_url, now) if sqs is not None else None,
    )


def dlq_reason(message: Mapping[str, Any]) -> str:
    """Why a DLQ message is there, from what it carries: a Lambda destination record's
    `responsePayload` (and `requestContext.condition`), the attributes Lambda sets on a
    function's DLQ message (`ErrorCode`, `ErrorMessage`) or EventBridge on a target's
    (`ERROR_CODE`, `ERROR_MESSAGE`, `RETRY_ATTEMPTS`)."""
    attrs = {k: v.get("StringValue", "") for k, v in (message.get("MessageAttributes") or {}).items()}
    try:
        body = json.loads(message.get("Body") or "")
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("requestPayload"), dict):
        error = body.get("responsePayload") if isinstance(body.get("responsePayload"), dict) else {}
        context = body.get("requestContext") if isinstance(body.get("requestContext"), dict) else {}
        what = f"{error.get('errorType') or 'Error'}: {error.get('errorMessage') or '?'}" if error else "no error recorded"
        tries = f", {context['approximateInvokeCount']} attempts" if context.get("approximateInvokeCount") else ""
        return f"{what} (the function failed: {context.get('condition') or 'failure'}{tries})"
    if attrs.get("ERROR_CODE") or attrs.get("ERROR_MESSAGE"):
        tries = f" after {attrs['RETRY_ATTEMPTS']} retries" if attrs.get("RETRY_ATTEMPTS") not in (None, "", "0") else ""
        return f"{attrs.get('ERROR_CODE') or 'Error'}: {attrs.get('ERROR_MESSAGE') or '?'} (delivery by the rule failed{tries})"
    if attrs.get("ErrorMessage") or attrs.get("ErrorCode"):
        return f"{attrs.get('ErrorMessage') or attrs.get('ErrorCode')} (the function failed)"
    return "no reason recorded in the message"


def peek(sqs: Any, url: str, limit: int = PEEK_MESSAGES) -> list[dict[str, Any]]:
    """Up to `limit` messages of the queue, with their attributes, left in it (received with
    visibility timeout 0; SQS samples its hosts: several receives, until one brings nothing new)."""
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < limit:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["SentTimestamp"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        new = [m for m in batch if m["MessageId"] not in seen]
        if not new:
            break
        seen.update((m["MessageId"], m) for m in new)
    return list(seen.values())[:limit]


def stuck_from_dlq(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per source stream of the messages: the lowest version waiting, why, since when."""
    from .redrive import message_event

    streams: dict[tuple[str, str], dict[str, Any]] = {}
    for message in messages:
        try:
            delivered = parse_bus_event(message_event(message.get("Body") or ""))
        except MalformedEventError as exc:
            delivered, key = None, ("?", f"unreadable message {message.get('MessageId')}: {exc}")
        else:
            key = (delivered.source, delivered.event.stream_id)
        sent = (message.get("Attributes") or {}).get("SentTimestamp")
        since = datetime.fromtimestamp(int(sent) / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if sent else None
        entry = streams.get(key)
        version = delivered.event.version if delivered else None
        if entry is None:
            entry = streams[key] = {"source": key[0], "stream_id": key[1], "stuck_at_version": version, "messages": 0, "since": since}
            entry.update(event_type=delivered.event.event_type if delivered else None, reason=dlq_reason(message))
        entry["messages"] += 1
        if since and (entry["since"] is None or since < entry["since"]):
            entry["since"] = since
        if version is not None and entry["stuck_at_version"] is not None and version < entry["stuck_at_version"]:
            entry.update(stuck_at_version=version, event_type=delivered.event.event_type, reason=dlq_reason(message))  # type: ignore[union-attr]
    return sorted(streams.values(), key=lambda e: (e["source"], e["stream_id"]))


def _oldest(behind: Mapping[str, list[EventHead]], now: datetime) -> dict[str, Any] | None:
    oldest: dict[str, Any] | None = None
    for stream, events in behind.items():
        first = events[0]
        if oldest is None or first.occurred_at < oldest["occurred_at"]:
            oldest = {"stream_id": stream, "version": first.version, "event_type": first.event_type, "occurred_at": first.occurred_at}
    if oldest is not None:
        oldest["age_s"] = _age(oldest["occurred_at"], now)
    return oldest


def subscription_lag(
    client: Any,
    subscription: SubscriptionOps,
    indexes: Mapping[str, EventsIndex | None],
    *,
    sqs: Any,
    now: datetime | None = None,
) -> SubscriptionLag:
    """The lag of `subscription`: per source, against `indexes[source]` (that source's
    Events table; None or absent: not in this stack, the head is unknown), and its DLQ."""
    now = now or datetime.now(UTC)
    dlq = queue_depth(sqs, subscription.dlq_url, now)
    stuck = stuck_from_dlq(peek(sqs, subscription.dlq_url)) if dlq.waiting else []
    if subscription.checkpoint_table is None:
        return SubscriptionLag(
            subscription=subscription.qualified,
            dlq=dlq,
            stuck=stuck,
            note="no checkpoint table in the stack's outputs (deployed before subscriptions had one): only its DLQ shows it is behind",
        )
    by_source: dict[str, dict[str, Checkpoint]] = {}
    for cp in SubscriptionCheckpoints(client, subscription.checkpoint_table).checkpoints():
        by_source.setdefault(cp.source, {})[cp.stream_id] = cp
    wanted = set(subscription.detail_types)
    sources: list[SourceLag] = []
    for source in subscription.sources:
        handled = by_source.get(source, {})
        index = indexes.get(source)
        if index is None:
            sources.append(
                SourceLag(
                    source=source,
                    events_table=None,
                    streams=len(handled),
                    handled=[
                        {"stream_id": c.stream_id, "version": c.version, "event_type": c.event_type, "handled_at": c.handled_at}
                        for c in sorted(handled.values(), key=lambda c: c.handled_at, reverse=True)
                    ],
                )
            )
            continue
        behind = index.unapplied({s: c.version for s, c in handled.items()}, wanted)
        matching = sum(1 for events in index.streams.values() if any(e.event_type in wanted for e in events))
        sources.append(
            SourceLag(
                source=source,
                events_table=index.table,
                streams=matching,
                streams_behind=len(behind),
                events_behind=sum(len(e) for e in behind.values()),
                oldest_unhandled=_oldest(behind, now),
            )
        )
    return SubscriptionLag(
        subscription=subscription.qualified, dlq=dlq, checkpoint_table=subscription.checkpoint_table, sources=sources, stuck=stuck
    )


@dataclass(frozen=True)
class LagReport:
    projections: list[ProjectionLag]
    subscriptions: list[SubscriptionLag]

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def lag(deployment: Deployment, *, now: datetime | None = None) -> LagReport:
    """The lag of every projection and subscription of `deployment` (one Scan per Events
    table read, shared by all its readers)."""
    now = now or datetime.now(UTC)
    ddb, sqs = deployment.client("dynamodb"), deployment.client("sqs")
    indexes: dict[str, EventsIndex] = {}

    def index(table: str) -> EventsIndex:
        if table not in indexes:
            indexes[table] = EventsIndex.scan(ddb, table)
        return indexes[table]

    projections = [projection_lag(ddb, p, index(p.events_table), sqs=sqs, now=now) for p in deployment.projections]
    subscriptions = []
    for s in deployment.subscriptions:
        heads: dict[str, EventsIndex | None] = {}
        if s.checkpoint_table is not None:
            heads = {src: index(deployment.events_tables[src]) if deployment.events_tables.get(src) else None for src in s.sources}
        subscriptions.append(subscription_lag(ddb, s, heads, sqs=sqs, now=now))
    return LagReport(projections=projections, subscriptions=subscriptions)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def render(report: LagReport) -> str:
    """The report as the command prints it."""
    lines = ["projections (behind the Events table: streams, events of the types it reads; oldest unapplied event)"]
    for p in report.projections:
        state = "up to date" if not p.streams_behind else f"{p.streams_behind} of {p.streams} streams, {p.events_behind} events behind"
        lines.append(f"  {p.projection:<28} {state}   table {p.table}")
        if p.oldest_unapplied:
            o = p.oldest_unapplied
            when = f"occurred {o['occurred_at']} ({_duration(o['age_s'])} ago)"
            lines.append(f"    oldest unapplied  {o['stream_id']} v{o['version']} {o['event_type']}, {when}")
        for s in p.stuck:
            lines.append(f"    STUCK  {s['stream_id']} at version {s.get('stuck_at_version')} since {s.get('since')}: {s.get('reason')}")
        if p.dlq is not None and (p.dlq.waiting or p.dlq.in_flight):
            lines.append(f"    DLQ    {_dlq(p.dlq)}")
    lines.append(
        "subscriptions (behind their sources' Events tables: streams, events of the types its rule matches; oldest unhandled event)"
    )
    for s in report.subscriptions:
        known = [x for x in s.sources if x.events_table is not None]
        if s.checkpoint_table is None:
            state = "no checkpoint table"
        elif not known:
            state = "source head unknown"
        elif not s.streams_behind:
            state = "up to date"
        else:
            state = f"{s.streams_behind} of {sum(x.streams for x in known)} streams, {s.events_behind} events behind"
        table = f"   table {s.checkpoint_table}" if s.checkpoint_table else ""
        lines.append(f"  {s.subscription:<28} {state}{table}   DLQ {_dlq(s.dlq)}")
        if s.note:
            lines.append(f"    {s.note}")
        for x in s.sources:
            if x.events_table is None:
                lines.append(
                    f"    {x.source}: not a service of this stack, its Events table's heads are unknown; "
                    f"last handled version of {x.streams} streams:"
                )
                lines.extend(
                    f"      {h['stream_id']} v{h['version']} {h['event_type']}, handled {h['handled_at']}"
                    for h in x.handled[:HANDLED_SHOWN]
                )
                if len(x.handled) > HANDLED_SHOWN:
                    lines.append(f"      ... {len(x.handled) - HANDLED_SHOWN} more (--json lists every one)")
            elif x.oldest_unhandled:
                o = x.oldest_unhandled
                when = f"occurred {o['occurred_at']} ({_duration(o['age_s'])} ago)"
                lines.append(f"    oldest unhandled  {x.source} {o['stream_id']} v{o['version']} {o['event_type']}, {when}")
        for st in s.stuck:
            if st["stuck_at_version"] is None:
                lines.append(f"    UNREADABLE  {st['stream_id']} ({st['messages']} in the DLQ)")
                continue
            lines.append(
                f"    STUCK  {st['source']} {st['stream_id']} at version {st['stuck_at_version']} ({st['event_type']}, "
                f"{st['messages']} in the DLQ) since {st['since']}: {st['reason']}"
            )
    return "\n".join(lines)


def _dlq(q: QueueDepth) -> str:
    if not q.waiting and not q.in_flight:
        return "empty"
    age = f", oldest seen {_duration(q.oldest_age_s)} old" if q.oldest_age_s is not None else ""
    return f"{q.waiting} waiting, {q.in_flight} in flight{age}"
