"""The whole-stack policy suite: the real `__main__.py`, run under mocks with each
`Pulumi.<stack>.yaml` beside it, declares nothing that breaks a policy rule.

A stack that references the platform stack (dev and prod read the shared bus and the alarm
topic from it) gets the outputs of the platform program's recorded run with its stack file;
the platform program's own stacks are checked in test_platform_program.py.
"""

from __future__ import annotations

import pytest
from acme_eventsourcing.testing import RecordedStack, check_stack
from stacks_under_test import MAIN, PIPE_WITH_WEBHOOK, STACKS, STANDALONE, platform_references, platform_stack, recorded_stack


@pytest.fixture(scope="module", params=STACKS)
def stack(request: pytest.FixtureRequest) -> RecordedStack:
    return recorded_stack(request.param)


def test_dev_and_prod_read_the_platform_stack_of_their_name() -> None:
    for name in ("dev", "prod"):
        assert platform_references(name) == {f"acme/platform/{name}": platform_stack(name).outputs}


def test_the_program_and_its_stack_files_exist() -> None:
    assert MAIN.is_file(), f"{MAIN} is missing"
    assert {"dev", "prod"} <= set(STACKS), f"stack files found: {STACKS}"


def test_every_rule_examined_something(stack: RecordedStack) -> None:
    """Guards against a vacuous pass: each rule found resources of its kind (the Events
    table, its publisher, functions, queues, routes, ...) to check."""
    unchecked = [r.rule.id for r in check_stack(stack).results if not r.checked]
    assert unchecked == [], f"rules that examined nothing: {unchecked}"


def test_stack_has_no_policy_violations(stack: RecordedStack) -> None:
    report = check_stack(stack)
    if not report.ok:
        pytest.fail("\n" + report.render(), pytrace=False)


def test_the_pipe_publisher_config_has_no_policy_violations() -> None:
    """`leave:publisher: pipe` swaps the publisher Lambda for a Pipe and its enrichment
    function; every rule still holds (one role each, alarms, logs, scoped invoke)."""
    stack = recorded_stack("dev", PIPE_WITH_WEBHOOK)
    functions = {f.name for f in stack.of_type("aws:lambda/function:Function")}
    assert "leave-publisher-enrich" in functions and "leave-publisher" not in functions
    report = check_stack(stack)
    assert [r.rule.id for r in report.results if not r.checked] == []
    if not report.ok:
        pytest.fail("\n" + report.render(), pytrace=False)


def test_the_standalone_dev_stack_has_no_policy_violations() -> None:
    """Without `bus_stack` the stack creates its own bus and archive; every rule still holds."""
    stack = recorded_stack("dev", STANDALONE)
    assert len(stack.of_type("aws:cloudwatch/eventArchive:EventArchive")) == 1
    report = check_stack(stack)
    if not report.ok:
        pytest.fail("\n" + report.render(), pytrace=False)
