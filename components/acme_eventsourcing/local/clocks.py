"""The local stack's clock, and a simulated date for its functions (`LocalStack(today=...)`, `--today`).

`LocalClock` is the one clock the stack's Wait states, schedules and (once simulated) the
functions' clock seams read: the real time plus an offset, which `advance` only ever grows
(`LocalStack.advance_clock`). Unsimulated, it IS the real time: a Wait of 2 s waits 2 s.

A handler built with `acme_eventsourcing.runtime.handler.LambdaHandler` has one clock seam,
`handler.use_clock(clock)`; a handler module may instead expose module-level seams read on
every invocation: `clock` (`() -> datetime`, aware UTC) and/or `today` (`() -> date`). When
the clock is simulated (`today=` given: that date at the real time of day, UTC; or the
first `advance_clock`) the local stack points them at the stack clock. Only an in-process
host can do that: AWS never sets them and no environment variable shifts them. Everything
else keeps the real time (token expiry, stream record ages, retries, the bus's timestamps,
moto's execution start dates).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

from .functions import LoadedFunction


class LocalClock:
    """The stack-wide (maybe simulated) time: the real time, or a given day at the real time
    of day, plus how far `advance` has moved it (it only moves forward).

    `now()` is aware UTC. With `today`, the date stays that day however long the stack runs
    (a run across midnight UTC is not split), until advanced. `advance(to=..., by=...)`
    calls every listener with (before, after) so waits wake. Thread-safe."""

    def __init__(self, today: date | None = None) -> None:
        self._day = today  # None: the real date
        self._advanced = timedelta(0)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[datetime, datetime], None]] = []

    @property
    def simulated(self) -> bool:
        """Whether this clock is not the real time."""
        return self._day is not None or self._advanced != timedelta(0)

    def now(self) -> datetime:
        real = datetime.now(UTC)
        base = real if self._day is None else datetime.combine(self._day, real.timetz())
        return base + self._advanced

    def today(self) -> date:
        return self.now().date()

    def listen(self, listener: Callable[[datetime, datetime], None]) -> None:
        """Call `listener(before, after)` after each advance."""
        self._listeners.append(listener)

    def advance(self, *, to: datetime | None = None, by: timedelta | None = None) -> tuple[datetime, datetime]:
        """Move the clock to `to` (aware; naive means UTC) or `by` ahead; (before, after)."""
        if (to is None) == (by is None):
            raise ValueError("advance the clock either to= a datetime or by= a timedelta")
        with self._lock:
            before = self.now()
            if to is not None:
                target = to if to.tzinfo is not None else to.replace(tzinfo=UTC)
                if target < before:
                    raise ValueError(f"the clock only moves forward: it is {before.isoformat()}, not back to {target.isoformat()}")
                self._advanced += target - before
            else:
                assert by is not None
                if by < timedelta(0):
                    raise ValueError(f"the clock only moves forward: by={by}")
                self._advanced += by
            after = self.now()
        for listener in list(self._listeners):
            listener(before, after)
        return before, after


def set_clock(functions: Iterable[LoadedFunction], clock: LocalClock) -> list[str]:
    """Point the clock seams of the functions' handler modules at `clock`; the logical
    names of the functions that have one, sorted."""
    return _set_seams(functions, clock.now, clock.today)


def _set_seams(functions: Iterable[LoadedFunction], now: Callable[[], datetime], today: Callable[[], date]) -> list[str]:
    seams = {"clock": now, "today": today}
    shifted = []
    for fn in functions:
        entry = getattr(fn.module, fn.decl.handler.rpartition(".")[2], None)
        if callable(getattr(entry, "use_clock", None)):
            entry.use_clock(now)  # type: ignore[union-attr]
            if getattr(entry, "uses_clock", True):  # an app that reads no clock is not shifted
                shifted.append(fn.decl.logical)
            continue
        found = [name for name in seams if callable(getattr(fn.module, name, None))]
        for name in found:
            setattr(fn.module, name, seams[name])
        if found:
            shifted.append(fn.decl.logical)
    return sorted(shifted)
