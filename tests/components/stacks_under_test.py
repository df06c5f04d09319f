"""Shared, recorded runs of the real `__main__.py` for the component tests: each stack file
is evaluated once per test session, however many modules look at it (a run costs ~0.4 s)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from acme_eventsourcing.testing import RecordedStack, load_stack_config, run_program

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "__main__.py"
STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml"))
#: A fully qualified stack name, `org/project/stack`, as StackReference takes it.
_STACK_NAME = re.compile(r"^[\w.-]+/[\w.-]+/[\w.-]+$")
PLATFORM_ACCOUNT = "210987654321"


def fake_references(stack_name: str) -> dict[str, dict[str, Any]]:
    """Outputs for every stack the config of `stack_name` names (e.g. `bus_stack:
    acme/platform/prod`): the shared bus that stack exports, in the stack's region."""
    _project, config = load_stack_config(ROOT, stack_name)
    region = config.get("aws:region", "us-east-1")
    bus = {"bus_name": "platform-bus", "bus_arn": f"arn:aws:events:{region}:{PLATFORM_ACCOUNT}:event-bus/platform-bus"}
    return {v: dict(bus) for v in config.values() if isinstance(v, str) and _STACK_NAME.match(v)}


#: The dev stack with the other publisher and a webhook set (a secret), as a user would configure it.
PIPE_WITH_WEBHOOK = (("leave:publisher", "pipe"), ("leave:webhook_url", "https://hooks.example/leave"))
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


def recorded_stack(stack_name: str, overrides: tuple[tuple[str, str], ...] = ()) -> RecordedStack:
    """The real program run once with `Pulumi.<stack_name>.yaml` and these config overrides
    (treat as read-only)."""
    return _recorded(stack_name, tuple(overrides))


@functools.cache  # keyed on both arguments, given or defaulted: `("dev",)` and `("dev", ())` are one run
def _recorded(stack_name: str, overrides: tuple[tuple[str, str], ...]) -> RecordedStack:
    return run_program(MAIN, stack_name, config_overrides=dict(overrides), stack_references=fake_references(stack_name))
