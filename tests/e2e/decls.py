"""Declarations the local-stack unit-style tests build by hand (no program evaluated)."""

from __future__ import annotations

from acme_eventsourcing.local.model import FunctionDecl


def function_decl(name: str, timeout_s: int = 3) -> FunctionDecl:
    """A function declaration with Lambda's defaults and no code (tests give the handler)."""
    return FunctionDecl(
        logical=name,
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        handler="m.handler",
        files={},
        environment={},
        timeout_s=timeout_s,
        memory_mb=128,
        reserved_concurrency=None,
        retry_attempts=2,
        max_event_age_s=60,
        on_failure=None,
        on_failure_kind=None,
    )
