"""Tags reach every resource that takes tags: alarms, queues, keys, tables, backups included."""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from pathlib import Path

import pytest
from acme_eventsourcing.testing import RecordedStack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stacks_under_test import PIPE_WITH_SLACK, platform_stack, recorded_stack  # noqa: E402


@functools.cache
def takes_tags(type_token: str) -> bool:
    """Whether the pulumi_aws resource of `type_token` (`aws:dynamodb/table:Table`) has a `tags` input."""
    _, module, name = type_token.split(":")
    package = module.split("/")[0]
    try:
        mod = importlib.import_module(f"pulumi_aws.{package}")
    except ImportError:
        mod = importlib.import_module(f"pulumi_aws.{package}_")  # lambda_
    cls = getattr(mod, name)
    assert cls.pulumi_type == type_token
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_takes_tags_reads_the_provider_signature() -> None:
    assert takes_tags("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert takes_tags("aws:lambda/function:Function")
    assert not takes_tags("aws:iam/rolePolicy:RolePolicy")


def _tagged(stack: RecordedStack) -> tuple[dict[str, str], list[str], int]:
    tags = {"project": stack.project, "stack": stack.stack}  # what __main__.py tags its resources with
    missing, checked = [], 0
    for r in stack.resources:
        if not r.custom or r.type.startswith("pulumi:") or not takes_tags(r.type):
            continue
        checked += 1
        if r.inputs.get("tags") != tags:
            missing.append(f"{r.type} {r.name}: {r.inputs.get('tags')}")
    return tags, missing, checked


@pytest.mark.parametrize(
    ("stack_name", "overrides"), [("dev", ()), ("prod", ()), ("dev", PIPE_WITH_SLACK)], ids=["dev", "prod", "dev-pipe"]
)
def test_every_resource_that_takes_tags_carries_the_stack_tags(stack_name: str, overrides: tuple[tuple[str, str], ...]) -> None:
    tags, missing, checked = _tagged(recorded_stack(stack_name, overrides))
    assert checked > 50
    assert not missing, missing


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_every_platform_resource_that_takes_tags_carries_the_stack_tags(stack_name: str) -> None:
    """The platform program too: the bus, the backup (buckets, stream, queue, alarms, key) and the alarm topic with its key."""
    tags, missing, checked = _tagged(platform_stack(stack_name))
    assert tags == {"project": "platform", "stack": stack_name}
    assert checked > 15
    assert not missing, missing
