"""The whole-stack policy suite: the real `__main__.py`, run under mocks with each
`Pulumi.<stack>.yaml` beside it, declares nothing that breaks a policy rule.

A stack that references the platform stack (dev and prod read the shared bus and the alarm
topic from it) gets the outputs of the platform program's recorded run with its stack file;
the platform program's own stacks are checked in test_platform_program.py.
"""

from __future__ import annotations

import pytest
from acme_eventsourcing.testing import RecordedStack, check_stack, check_system
from stacks_under_test import MAIN, PIPE_WITH_SLACK, SSO_GOOGLE, STACKS, STANDALONE, platform_references, platform_stack, recorded_stack


@pytest.fixture(scope="module", params=STACKS)
def stack(request: pytest.FixtureRequest) -> RecordedStack:
    return recorded_stack(request.param)


def test_dev_and_prod_read_the_platform_stack_of_their_name() -> None:
    for name in ("dev", "prod"):
        assert platform_references(name) == {f"acme/platform/{name}": platform_stack(name).outputs}


def test_the_program_and_its_stack_files_exist() -> None:
    assert MAIN.is_file(), f"{MAIN} is missing"
    assert {"dev", "prod"} <= set(STACKS), f"stack files found: {STACKS}"


#: Rules about resources only some configurations declare: an app client (prod trusts an
#: existing issuer), an identity provider (single sign-on). Such a rule may examine nothing
#: only in a stack without any resource of its kind; `SSO_GOOGLE` has them all.
ONLY_WITH = {
    "COG003": "aws:cognito/userPoolClient:UserPoolClient",
    "COG004": "aws:cognito/userPoolClient:UserPoolClient",
    "COG005": "aws:cognito/identityProvider:IdentityProvider",
    "COG006": "aws:cognito/identityProvider:IdentityProvider",
    "COG007": "aws:cognito/identityProvider:IdentityProvider",
}


def _unchecked(stack: RecordedStack, sso: bool = False) -> list[str]:
    """The rules that examined nothing, though the stack has resources of their kind
    (`sso`: the SSO rules must have examined something whatever the stack)."""
    results = check_stack(stack).results
    return [
        r.rule.id
        for r in results
        if not r.checked
        and not (r.rule.id in ONLY_WITH and not sso and not stack.of_type(ONLY_WITH[r.rule.id]))
        and not _absent(stack, getattr(r.rule, "resource_types", ()))
    ]


def test_every_rule_examined_something(stack: RecordedStack) -> None:
    """Guards against a vacuous pass: each rule found resources of its kind (the Events
    table, its publisher, functions, queues, routes, ...) to check. Only a rule for a kind
    of resource the stack does not declare at all (`resource_types`: buckets, delivery
    streams, state machines, schedules; `ONLY_WITH`: the SSO resources) may examine nothing."""
    unchecked = _unchecked(stack)
    assert unchecked == [], f"rules that examined nothing: {unchecked}"


def _absent(stack: RecordedStack, types: tuple[str, ...]) -> bool:
    return bool(types) and not any(stack.of_type(t) for t in types)


def test_the_system_of_each_stack_file_has_no_violations(stack: RecordedStack) -> None:
    """The whole-system rules over the program alone (its stream, consumers and failure
    paths are all its own), each rule having something to examine."""
    report = check_system([stack])
    assert [r.rule.id for r in report.results if not r.checked] == []
    if not report.ok:
        pytest.fail("\n" + report.render(), pytrace=False)


def test_the_sso_config_has_no_policy_violations_and_every_rule_examined_something() -> None:
    """`leave:sso_*` federates the pool with an IdP: the IdP, the hosted UI domain and the
    code-flow client pass every rule, and the rules that need them (`ONLY_WITH`) saw them."""
    stack = recorded_stack("dev", SSO_GOOGLE)
    report = check_stack(stack)
    assert _unchecked(stack, sso=True) == []
    if not report.ok:
        pytest.fail("\n" + report.render(), pytrace=False)


def test_stack_has_no_policy_violations(stack: RecordedStack) -> None:
    report = check_stack(stack)
    if not report.ok:
        pytest.fail("\n" + report.render(), pytrace=False)


def test_the_pipe_publisher_config_has_no_policy_violations() -> None:
    """`leave:publisher: pipe` swaps the publisher Lambda for a Pipe and its enrichment
    function; every rule still holds (one role each, alarms, logs, scoped invoke)."""
    stack = recorded_stack("dev", PIPE_WITH_SLACK)
    functions = {f.name for f in stack.of_type("aws:lambda/function:Function")}
    assert "leave-publisher-enrich" in functions and "leave-publisher" not in functions
    report = check_stack(stack)
    assert _unchecked(stack) == []
    system = check_system([stack])  # the pipe is the stream's reader now: bounds and DLQ
    if not report.ok or not system.ok:
        pytest.fail("\n" + report.render() + "\n" + system.render(), pytrace=False)


def test_the_standalone_dev_stack_has_no_policy_violations() -> None:
    """Without `bus_stack` the stack creates its own bus and archive; every rule still holds."""
    stack = recorded_stack("dev", STANDALONE)
    assert len(stack.of_type("aws:cloudwatch/eventArchive:EventArchive")) == 1
    report = check_stack(stack)
    if not report.ok:
        pytest.fail("\n" + report.render(), pytrace=False)
