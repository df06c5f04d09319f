"""`lag`: how far behind the Events table each projection and subscription is.

A projection keeps a checkpoint per stream in its (active) read-model table: the last
version it applied. Against the Events table (one keys-and-types Scan) that gives, per
projection, the streams and events it has not applied yet (only events of the types its
rule delivers count: the checkpoint moves over the others when the next delivered event
of the stream arrives), the oldest of them (by `occurred_at`), and the streams it is stuck
on, at which version and why (its `stuck` rows). A subscription records nothing durable
(it remembers handled event ids per container only), so what can be measured is its DLQ:
how many events are waiting there, and how old the oldest one seen is. Projections' DLQs
are shown too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..runtime.projections.bluegreen import read_pointer
from ..runtime.projections.dynamodb import DynamoDBReadModelStore
from ..runtime.projections.reader import stale_entry
from .deployment import Deployment, ProjectionOps


@dataclass(frozen=True)
class EventHead:
    """One event as the index knows it: enough to measure lag, not to apply it."""

    version: int
    event_type: str
    occurred_at: str


class EventsIndex:
    """Every event of an Events table by stream (version, type, time): one Scan (paginated),
    idempotency items left out."""

    def __init__(self, streams: Mapping[str, list[EventHead]]) -> None:
        self.streams = {s: sorted(events, key=lambda e: e.version) for s, events in streams.items()}

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
                return cls(streams)
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


@dataclass(frozen=True, kw_only=True)
class SubscriptionLag:
    """What can be measured of a subscription: its DLQ."""

    subscription: str
    dlq: QueueDepth
    note: str = "a subscription records no checkpoint: its DLQ is what shows it is behind"


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
    oldest: dict[str, Any] | None = None
    for stream, events in behind.items():
        first = events[0]
        if oldest is None or first.occurred_at < oldest["occurred_at"]:
            oldest = {"stream_id": stream, "version": first.version, "event_type": first.event_type, "occurred_at": first.occurred_at}
    if oldest is not None:
        oldest["age_s"] = _age(oldest["occurred_at"], now)
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


@dataclass(frozen=True)
class LagReport:
    projections: list[ProjectionLag]
    subscriptions: list[SubscriptionLag]

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def lag(deployment: Deployment, *, now: datetime | None = None) -> LagReport:
    """The lag of every projection and subscription of `deployment` (one Scan per Events table)."""
    now = now or datetime.now(UTC)
    ddb, sqs = deployment.client("dynamodb"), deployment.client("sqs")
    indexes: dict[str, EventsIndex] = {}
    projections = []
    for p in deployment.projections:
        if p.events_table not in indexes:
            indexes[p.events_table] = EventsIndex.scan(ddb, p.events_table)
        projections.append(projection_lag(ddb, p, indexes[p.events_table], sqs=sqs, now=now))
    subscriptions = [SubscriptionLag(subscription=s.qualified, dlq=queue_depth(sqs, s.dlq_url, now)) for s in deployment.subscriptions]
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
    lines.append("subscriptions (no checkpoint is recorded: the DLQ is what shows events not handled)")
    for s in report.subscriptions:
        lines.append(f"  {s.subscription:<28} DLQ {_dlq(s.dlq)}")
    return "\n".join(lines)


def _dlq(q: QueueDepth) -> str:
    if not q.waiting and not q.in_flight:
        return "empty"
    age = f", oldest seen {_duration(q.oldest_age_s)} old" if q.oldest_age_s is not None else ""
    return f"{q.waiting} waiting, {q.in_flight} in flight{age}"
