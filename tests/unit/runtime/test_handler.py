"""`LambdaHandler`: an entry point built by a factory from the environment, with one clock seam."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from acme_eventsourcing.runtime.handler import Clock, ConfigurationError, LambdaHandler, require

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T1 = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)


def test_the_app_is_built_once_from_the_environment_on_the_first_call() -> None:
    built: list[Mapping[str, str]] = []

    def build(environ: Mapping[str, str], clock: Clock) -> Any:
        built.append(environ)
        return lambda event, context: (environ["TABLE"], event, clock())

    handler = LambdaHandler(build, environ={"TABLE": "t"}, clock=lambda: T0)
    assert built == []  # importing the module builds nothing
    assert handler({"n": 1}, None) == ("t", {"n": 1}, T0)
    assert handler({"n": 2}, None) == ("t", {"n": 2}, T0)
    assert len(built) == 1


def test_use_clock_reaches_an_app_already_built() -> None:
    handler = LambdaHandler(lambda environ, clock: lambda event: clock(), environ={}, clock=lambda: T0)
    assert handler({}) == T0
    handler.use_clock(lambda: T1)
    assert handler({}) == T1


def test_an_app_of_one_argument_is_called_without_the_context() -> None:
    handler = LambdaHandler(lambda environ, clock: lambda event: event["x"], environ={})
    assert handler({"x": 3}, object()) == 3


def test_a_missing_variable_names_itself_and_what_it_should_hold() -> None:
    handler = LambdaHandler(lambda environ, clock: require(environ, "EVENTS_TABLE", "the Events table's name"), environ={})
    with pytest.raises(ConfigurationError, match="EVENTS_TABLE is not set: it should hold the Events table's name"):
        handler({})
