"""Every resource of the dev and prod stacks keeps its identity (its URN, or an alias to it).

`fixtures/urns-<stack>.txt` lists the URNs the stacks had before `EventSourcedService` was
split into child components (recorded by running this file: `python
tests/components/test_urn_identity.py`; do that again only for a change of identity that is
meant, e.g. a new resource). A resource whose URN changed because it moved under a new
parent must carry `aliases` naming its old URN; the engine derives its children's old URNs
from that alias, and so does `known_urns`, or `pulumi up` would delete and recreate them
(for a retained table: orphan it and fail on the name).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from acme_eventsourcing.testing import RecordedResource, RecordedStack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stacks_under_test import PIPE_WITH_SLACK, STANDALONE, recorded_stack  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: fixture name -> the recorded run it describes.
VARIANTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "dev": ("dev", ()),
    "prod": ("prod", ()),
    "dev-pipe": ("dev", PIPE_WITH_SLACK),
}
#: URNs a stack gave up on purpose: the dev stack's bus and archive moved to the platform's
#: dev stack (`leave:bus_stack: acme/platform/dev`, README "Standing up prod"); the dev stack
#: without `bus_stack` still owns them under these URNs (`test_the_standalone_dev_stack_keeps_its_bus`).
DEV_BUS = frozenset(
    {
        "urn:pulumi:dev::leave::acme:events:SharedEventBus$aws:cloudwatch/eventBus:EventBus::shared-bus",
        "urn:pulumi:dev::leave::acme:events:SharedEventBus$aws:cloudwatch/eventArchive:EventArchive::shared-bus-archive",
    }
)


def _notifications_webhook(variant: str) -> frozenset[str]:
    """The notifications webhook Lambda (subscription `leave`: rule, target, function, DLQ, ...)
    was replaced by a Slack API destination (issue 11): its resources are gone on purpose. With
    Slack off (dev, prod: no `slack_bot_token`) the notifications service creates nothing at all."""
    slack_on = dict(VARIANTS[variant][1]).get("leave:slack_bot_token") is not None
    return frozenset(
        urn
        for urn in (FIXTURES / f"urns-{variant}.txt").read_text().split()
        if "::notifications-leave" in urn or (not slack_on and urn.rsplit("::", 1)[-1].startswith("notifications"))
    )


GIVEN_UP: dict[str, frozenset[str]] = {
    "dev": DEV_BUS | _notifications_webhook("dev"),
    "dev-pipe": DEV_BUS | _notifications_webhook("dev-pipe"),
    "prod": _notifications_webhook("prod"),
}


def _fixture(variant: str) -> Path:
    return FIXTURES / f"urns-{variant}.txt"


def _child_urn(parent_urn: str, type_: str, name: str) -> str:
    prefix, parent_type, _parent_name = parent_urn.rsplit("::", 2)
    return f"{prefix}::{parent_type}${type_}::{name}"


def known_urns(stack: RecordedStack) -> dict[str, str]:
    """Every URN a resource of `stack` answers to -> its current URN: its own, its `aliases`,
    and the URNs it had under each old URN of its parent (the engine derives those)."""
    by_urn = {r.urn: r for r in stack.resources}
    names: dict[str, set[str]] = {}

    def of(r: RecordedResource) -> set[str]:
        if r.urn not in names:
            own = {r.urn, *r.options.get("aliases", ())}
            parent = by_urn.get(r.parent_urn or "")
            if parent is not None:
                own |= {_child_urn(old, r.type, r.name) for old in of(parent) - {parent.urn}}
            names[r.urn] = own
        return names[r.urn]

    return {old: r.urn for r in stack.resources for old in of(r)}


def test_a_child_urn_inherits_the_parent_chain() -> None:
    parent = "urn:pulumi:dev::leave::acme:events:EventSourcedService::leave"
    assert _child_urn(parent, "aws:sqs/queue:Queue", "q") == "urn:pulumi:dev::leave::acme:events:EventSourcedService$aws:sqs/queue:Queue::q"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_resource_keeps_its_urn_or_aliases_it(variant: str) -> None:
    stack_name, overrides = VARIANTS[variant]
    old = _fixture(variant).read_text().split()
    assert len(old) > 50, "the fixture lists the whole stack"
    stack = recorded_stack(stack_name, overrides)
    known = known_urns(stack)
    lost = [urn for urn in old if urn not in known and urn not in GIVEN_UP.get(variant, ())]
    assert not lost, f"{len(lost)} resources lost their identity (give them aliases): {lost[:5]}"
    assert GIVEN_UP.get(variant, frozenset()) <= set(old), "a URN given up is one the stack had"
    # one old resource -> one new one: two resources claiming it would fight over its state
    claimed: dict[str, list[str]] = {}
    for r in stack.resources:
        for alias in r.options.get("aliases", ()):
            claimed.setdefault(alias, []).append(r.urn)
    assert not {a: c for a, c in claimed.items() if len(c) > 1}


def test_the_standalone_dev_stack_keeps_its_bus() -> None:
    """Without `bus_stack`, the dev stack is the one it was: every URN of the dev fixture, the bus and archive included."""
    known = known_urns(recorded_stack("dev", STANDALONE))
    assert set(known) >= DEV_BUS
    assert [urn for urn in _fixture("dev").read_text().split() if urn not in known and urn not in _notifications_webhook("dev")] == []


if __name__ == "__main__":
    FIXTURES.mkdir(exist_ok=True)
    for variant, (stack_name, overrides) in VARIANTS.items():
        urns = sorted(r.urn for r in recorded_stack(stack_name, overrides).resources)
        _fixture(variant).write_text("\n".join(urns) + "\n")
        print(f"{_fixture(variant).relative_to(Path.cwd())}: {len(urns)} URNs")
