"""Shared, recorded runs of the real programs for the component tests: the leave program
(`__main__.py`) and the platform program (`platform/__main__.py`), each stack file evaluated
once per test session, however many modules look at it (a run costs ~0.4 s).

A leave stack that references the platform (`leave:bus_stack: acme/platform/<stack>`) is
given the outputs of the recorded run of the platform program with the same stack file: the
output names the service reads are the ones the platform exports, as on the local stack.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from acme_eventsourcing.testing import RecordedStack, load_stack_config, run_program

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "__main__.py"
PLATFORM_MAIN = ROOT / "platform" / "__main__.py"
STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml"))
PLATFORM_STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in PLATFORM_MAIN.parent.glob("Pulumi.*.yaml"))
#: A fully qualified stack name, `org/project/stack`, as StackReference takes it.
_STACK_NAME = re.compile(r"^[\w.-]+/(?P<project>[\w.-]+)/(?P<stack>[\w.-]+)$")


def platform_references(stack_name: str, overrides: tuple[tuple[str, Any], ...] = ()) -> dict[str, dict[str, Any]]:
    """Outputs for every stack the config of the leave stack `stack_name` names (e.g.
    `bus_stack: acme/platform/prod`): the exports of the recorded platform program with that
    stack's file. A stack of another project is an error (the test would have to fake it)."""
    _project, config = load_stack_config(ROOT, stack_name)
    config.update(overrides)
    out: dict[str, dict[str, Any]] = {}
    for value in config.values():
        match = _STACK_NAME.match(value) if isinstance(value, str) else None
        if match is None:
            continue
        if match["project"] != "platform":
            raise LookupError(f"{stack_name}: references {value}, a stack of no program in this repository")
        out[value] = dict(platform_stack(match["stack"]).outputs)
    return out


#: The dev stack with the other publisher and Slack notifications on (the bot token a secret), as a user would configure it.
PIPE_WITH_SLACK = (("leave:publisher", "pipe"), ("leave:slack_bot_token", "xoxb-test-token"))
#: The dev stack with single sign-on through Google Workspace (OIDC), as docs/sso.md configures it.
SSO_GOOGLE = (
    ("leave:sso_provider", "AcmeGoogle"),
    ("leave:sso_oidc_issuer", "https://accounts.google.com"),
    ("leave:sso_client_id", "1234-leave.apps.googleusercontent.com"),
    ("leave:sso_client_secret", "GOCSPX-not-a-real-secret"),
    ("leave:sso_domain_prefix", "acme-leave"),
    ("leave:sso_callback_urls", '["https://leave.acme.example/callback", "http://localhost:3000/callback"]'),
    ("leave:sso_logout_urls", '["https://leave.acme.example/"]'),
    ("leave:sso_attribute_mapping", '["email=email", "email_verified=email_verified", "name=name"]'),
)
#: The dev stack on its own: no platform stack, so it creates its bus and archive (30 days).
STANDALONE = (("leave:bus_stack", None), ("leave:bus_archive_retention_days", 30))


def recorded_stack(stack_name: str, overrides: tuple[tuple[str, Any], ...] = ()) -> RecordedStack:
    """The real leave program run once with `Pulumi.<stack_name>.yaml` and these config
    overrides (None unsets a key; treat the result as read-only)."""
    return _recorded(stack_name, tuple(overrides))


@functools.cache
def platform_stack(stack_name: str) -> RecordedStack:
    """The real platform program run once with `platform/Pulumi.<stack_name>.yaml` (read-only)."""
    return run_program(PLATFORM_MAIN, stack_name)


@functools.cache  # keyed on both arguments, given or defaulted: `("dev",)` and `("dev", ())` are one run
def _recorded(stack_name: str, overrides: tuple[tuple[str, Any], ...]) -> RecordedStack:
    return run_program(MAIN, stack_name, config_overrides=dict(overrides), stack_references=platform_references(stack_name, overrides))
