"""Lambda entry points built by a factory, on first use, from the function's environment.

A handler module declares its entry point as data plus a factory, never as module globals
that a host overwrites:

    def build(environ: Mapping[str, str], clock: Clock) -> App:
        table = require(environ, "EVENTS_TABLE", "the Events table's name")
        return CommandsApp(DynamoDBEventStore(boto3.client("dynamodb"), table), clock=clock)

    handler = LambdaHandler(build)        # Lambda's handler setting: "my_service.commands.handler"

Lambda calls `handler(event, context)`; the first call builds the app from `os.environ` and
keeps it for the container's life (a cold start pays for clients once). Tests call
`build(environ, clock)` directly with their own environment and clock, or
`LambdaHandler(build, environ=..., clock=...)`.

The clock is the one seam a host may set: `handler.use_clock(clock)` (the local stack's
simulated date). It takes effect at once, for an app already built too, because the app
is given a clock that reads the handler's current one. AWS never sets it, and nothing in
the environment can shift it. An app that reads no clock (a projector dates nothing) is
built with `uses_clock=False`, so such a host does not count it among the shifted ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware (UTC)."""

App = TypeVar("App", bound=Callable[..., Any])


def utc_now() -> datetime:
    return datetime.now(UTC)


class ConfigurationError(RuntimeError):
    """The function's environment lacks a variable its factory needs (a deployment mistake,
    never the caller's: it surfaces as the function's error, not as a 4xx)."""


def require(environ: Mapping[str, str], name: str, what: str) -> str:
    """`environ[name]`, or a `ConfigurationError` that says what the variable should hold."""
    value = environ.get(name)
    if not value:
        raise ConfigurationError(f"{name} is not set: it should hold {what}")
    return value


class LambdaHandler(Generic[App]):
    """A Lambda entry point that builds its app with `build(environ, clock)` on the first call.

    `app(event)` or `app(event, context)` is what the built object must accept; the handler
    passes `context` only if the app takes two arguments."""

    def __init__(
        self,
        build: Callable[[Mapping[str, str], Clock], App],
        *,
        environ: Mapping[str, str] | None = None,
        clock: Clock = utc_now,
        uses_clock: bool = True,
    ) -> None:
        self.build = build
        self.uses_clock = uses_clock
        """Whether the app reads the clock it is given (a host that simulates a date says which apps it shifted)."""
        self._environ = environ
        self._clock = clock
        self._app: App | None = None
        self._with_context = True

    def use_clock(self, clock: Clock) -> None:
        """Read the time from `clock` from now on (the built app too)."""
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    @property
    def app(self) -> App:
        """The app, built now if it was not yet."""
        if self._app is None:
            app = self.build(os.environ if self._environ is None else self._environ, self.now)
            self._with_context = _accepts_two_arguments(app)
            self._app = app
        return self._app

    def __call__(self, event: Any, context: Any = None) -> Any:
        app = self.app
        return app(event, context) if self._with_context else app(event)


def _accepts_two_arguments(app: Callable[..., Any]) -> bool:
    import inspect

    try:
        inspect.signature(app).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): assume Lambda's (event, context)
        return True
    return True
