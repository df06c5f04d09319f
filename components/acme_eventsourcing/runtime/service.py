"""The application service of a command side: load, decide, append with read guards, retry.

A service subclasses `ApplicationService` and implements `handle(command, context, now)`:
load the streams the decision needs (`load`), run the pure domain decision, and `commit`
the new events (grouped by stream, at the versions the decision saw; every other stream it
read goes in as a read guard) together with the request's idempotency record, in ONE
transaction. Run that inside `retrying` and a lost race (`ConcurrencyError`) reruns the
whole load-decide-append, up to `max_attempts` times, then propagates (the edge answers
409). `IdempotencyKeyUsed` and the domain's `DomainError`s propagate unchanged: the edge
then looks up the stored first response.

    class OrderService(ApplicationService):
        def handle(self, command, context, now):
            def attempt(number, cached):
                stream = f"order#{command.order_id}"
                history = self.load(stream)
                events = orders.decide(fold(history), command, today=now.date())
                return self.commit(command, events, {stream: len(history)}, context, now)
            return self.retrying(attempt)

The service never names an HTTP status: `respond(command, outcome)` (given by the edge,
usually `commands.Responder(declarations)`) turns a decision into the response the
idempotency record keeps. A committed effect is never reported as a failure: once the
transaction is written, `commit` only builds the response it already stored.

Domain events are any objects with `stream_id`, `event_type` and `to_data()` (a JSON
object); each becomes a `NewEvent` dated `now` with metadata `actor`, `idempotency_key`,
`correlation_id` and `causation_id`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from ._frozen import frozen_dataclass
from .eventstore.ports import Append, ConcurrencyError, EventStore, IdempotencyRecord, NewEvent, StoredEvent, new_event_id
from .items import timestamp

DEFAULT_MAX_ATTEMPTS = 3

_T = TypeVar("_T")


@frozen_dataclass(kw_only=True)
class CommandContext:
    """What the edge knows about a request besides the command itself."""

    caller: str
    """The acting caller's id (``actor`` in each event's metadata)."""
    correlation_id: str
    idempotency_key: str | None = None
    """Scoped key (``<caller subject>#<Idempotency-Key>``), or None without the header."""
    request_hash: str | None = None
    """sha256 of method, path and canonical body; required with `idempotency_key`."""
    causation_id: str | None = None
    """What caused the command (defaults to `correlation_id`, the request itself)."""


@frozen_dataclass(kw_only=True)
class CommandResult:
    """The response of a command, as its declaration defines it: status and JSON body."""

    status: int
    body: Mapping[str, Any]
    secret: Mapping[str, Any] = field(default_factory=dict)
    """Fields answered to THIS request only, e.g. a capability URL made of a secret token: they
    are added to `body` in the answer but never stored in the idempotency record, so a replay
    of the request answers `body` alone (the secret is not kept anywhere in clear)."""

    def as_response(self) -> dict[str, Any]:
        """The form stored in the idempotency record (without `secret`)."""
        return {"status": self.status, "body": dict(self.body)}

    @property
    def answer(self) -> dict[str, Any]:
        """The body the caller gets: `body` with the `secret` fields."""
        return {**self.body, **self.secret}


class DomainEvent(Protocol):
    """What the service needs of a domain event to store it."""

    @property
    def stream_id(self) -> str: ...

    @property
    def event_type(self) -> str: ...

    def to_data(self) -> Mapping[str, Any]: ...


Respond = Callable[[Any, Any], CommandResult]
"""`respond(command, outcome) -> CommandResult`: the response of a decided command."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class ApplicationService:
    """Base of a service's application service (see the module's docstring).

    `clock` gives the current time (aware, or naive UTC): it dates events. `new_id` gives
    unique hex strings for event ids. `max_attempts` bounds the reruns after lost races.
    `respond` turns a decided command into its response (its declaration's status and body).
    """

    def __init__(
        self,
        store: EventStore,
        *,
        respond: Respond,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = new_event_id,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self._store = store
        self._respond = respond
        self._clock = clock
        self._new_id = new_id
        self._max_attempts = max_attempts

    def execute(self, command: Any, context: CommandContext) -> CommandResult:
        """Decide and append `command`; raises the domain's `DomainError`, `ConcurrencyError`
        (after the retries) or `IdempotencyKeyUsed`."""
        if (context.idempotency_key is None) != (context.request_hash is None):
            raise ValueError("idempotency_key and request_hash go together")
        return self.handle(command, context, self._clock())

    def handle(self, command: Any, context: CommandContext, now: datetime) -> CommandResult:
        """Override: load, decide and `commit` the command, usually inside `retrying`."""
        raise NotImplementedError(f"{type(self).__name__} must implement handle(command, context, now)")

    # --- for subclasses ------------------------------------------------------------------

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """The stream's events (every page)."""
        return self._store.load(stream_id, after_version)

    def forget(self, stream_ids: Iterable[str]) -> None:
        """Drop any cached state of these streams (called when they moved on); no-op here."""

    def retrying(self, attempt_once: Callable[[int, set[str]], _T]) -> _T:
        """Run `attempt_once(attempt, cached)` until it succeeds.

        `cached` starts empty on each attempt; the attempt adds the streams whose state it
        took from a cache rather than a load. A `ConcurrencyError` is a lost race (counted
        against `max_attempts`) unless a stream that moved on had its state from the cache:
        then the entry was stale, it is `forget`-ten, and the next try reads it afresh (one
        such extra try per command)."""
        attempt = refreshes = 0
        while True:
            cached: set[str] = set()
            try:
                return attempt_once(attempt, cached)
            except ConcurrencyError as exc:
                moved = exc.stream_ids or cached  # the store could not tell: suspect every cached state
                self.forget(moved)
                if moved & cached and not refreshes:
                    refreshes += 1
                    continue
                attempt += 1
                if attempt == self._max_attempts:
                    raise

    def commit(
        self, command: Any, outcome: Sequence[DomainEvent], versions: Mapping[str, int], context: CommandContext, now: datetime
    ) -> CommandResult:
        """Append the decided events with the request's idempotency record; its response."""
        result = self._respond(command, outcome)
        self.append(outcome, versions, result, context, now)
        return result

    def respond(self, command: Any, outcome: Any) -> CommandResult:
        """The response of `command` given what was decided (see `Respond`)."""
        return self._respond(command, outcome)

    def append(
        self,
        events: Sequence[DomainEvent],
        versions: Mapping[str, int],
        result: CommandResult | None,
        context: CommandContext,
        now: datetime,
    ) -> None:
        """Append `events` (grouped by stream, at the loaded versions) with the idempotency
        record of `result`, if the request has a key; no call at all if there is nothing to write.

        Every other stream in `versions` was read to decide and goes in as a read guard, so
        the append fails with `ConcurrencyError`, and the command is retried, if it changed
        meanwhile."""
        occurred_at = timestamp(now)
        metadata = {
            "actor": context.caller,
            "idempotency_key": context.idempotency_key,
            "correlation_id": context.correlation_id,
            "causation_id": context.causation_id or context.correlation_id,
        }
        by_stream: dict[str, list[NewEvent]] = {}
        for event in events:
            by_stream.setdefault(event.stream_id, []).append(
                NewEvent(
                    event_type=event.event_type, data=event.to_data(), event_id=self._new_id(), occurred_at=occurred_at, metadata=metadata
                )
            )
        unknown = sorted(set(by_stream) - set(versions))
        if unknown:
            raise ValueError(f"events for streams with no expected version: {unknown}")
        record = None
        if result is not None and context.idempotency_key is not None:
            record = IdempotencyRecord(
                key=context.idempotency_key, request_hash=context.request_hash or "", response=result.as_response(), created_at=occurred_at
            )
        if not by_stream and record is None:
            return
        appends = [Append(stream_id=s, expected_version=v, events=by_stream.get(s, [])) for s, v in versions.items()]
        self._store.append(appends, idempotency=record)
