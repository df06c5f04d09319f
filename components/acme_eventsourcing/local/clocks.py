"""A simulated date for the functions of a local stack (`LocalStack(today=...)`, `--today`).

A handler built with `acme_eventsourcing.runtime.handler.LambdaHandler` has one clock seam,
`handler.use_clock(clock)`; a handler module may instead expose module-level seams read on
every invocation: `clock` (`() -> datetime`, aware UTC) and/or `today` (`() -> date`). After
loading the functions the local stack points them at a fixed day: that date, the real time
of day (UTC). Only an in-process host can do that: AWS never sets them and no environment
variable shifts them. Everything else keeps the real time (token expiry, stream record
ages, retries, the bus's timestamps).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from .functions import LoadedFunction


@dataclass(frozen=True)
class FixedDay:
    """`day` at the real time of day, UTC."""

    day: date

    def now(self) -> datetime:
        return datetime.combine(self.day, datetime.now(UTC).timetz())

    def today(self) -> date:
        return self.day


def set_day(functions: Iterable[LoadedFunction], day: date) -> list[str]:
    """Point the clock seams of the functions' handler modules at `day`; the logical names of
    the functions that have one, sorted."""
    fixed = FixedDay(day)
    seams = {"clock": fixed.now, "today": fixed.today}
    shifted = []
    for fn in functions:
        entry = getattr(fn.module, fn.decl.handler.rpartition(".")[2], None)
        if callable(getattr(entry, "use_clock", None)):
            entry.use_clock(fixed.now)  # type: ignore[union-attr]
            if getattr(entry, "uses_clock", True):  # an app that reads no clock is not shifted
                shifted.append(fn.decl.logical)
            continue
        found = [name for name in seams if callable(getattr(fn.module, name, None))]
        for name in found:
            setattr(fn.module, name, seams[name])
        if found:
            shifted.append(fn.decl.logical)
    return sorted(shifted)
