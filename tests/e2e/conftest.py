"""End-to-end fixtures: one local stack per test module, on the real program and handlers.

The programs (the platform, then leave) are evaluated once per session (`dev_program`); each module starts its own
`LocalStack` on a deep copy (moto's state is per process, so modules take turns) with
short retry delays, and tears it down at the end of the module."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator

import pytest
from acme_eventsourcing.local.client import ApiClient
from acme_eventsourcing.local.program import evaluate_programs, merge
from acme_eventsourcing.local.streams import Delays
from acme_eventsourcing.testing import RecordedStack

from local import PROGRAMS, LocalStack

#: Retries wait 20 ms, doubling to 200 ms (AWS waits minutes): failure paths finish fast.
FAST = Delays(poll_s=0.03, first_retry_s=0.02, max_retry_s=0.2)

log = logging.getLogger("local-stack")


@pytest.fixture(scope="session")
def dev_program() -> RecordedStack:
    """The dev stacks of the platform and of `__main__.py` as they declare them (evaluated
    under the Pulumi mocks, the leave program reading the platform's outputs), as one stack."""
    return merge(evaluate_programs("dev", programs=PROGRAMS))


def start_stack(recorded: RecordedStack, **kwargs: object) -> LocalStack:
    """A local stack on a copy of `recorded`, logging to the `local-stack` logger."""
    options: dict[str, object] = {"port": 0, "log": log.info, "delays": FAST, **kwargs}
    return LocalStack(recorded_stack=copy.deepcopy(recorded), **options).start()  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def stack_factory() -> Callable[..., LocalStack]:
    """`stack_factory(recorded, **options)` starts a local stack on a (modified) recorded stack."""
    return start_stack


@pytest.fixture(scope="module")
def local_stack(dev_program: RecordedStack) -> Iterator[LocalStack]:
    stack = start_stack(dev_program)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def api(local_stack: LocalStack) -> ApiClient:
    """The local API; `api.as_user("ana", "admin")` calls as Ana with a local token."""
    return ApiClient(local_stack.api_url, lambda sub, groups: local_stack.token(sub, groups))
