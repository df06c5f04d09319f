"""This repository's project on the local stack: the platform program, then the leave program.

`LocalStack` here is the packaged `acme_eventsourcing.local.LocalStack` with this project's
defaults: the programs are `platform/` (the shared bus, its archive, the alarm topic) and
then the repository root's `__main__.py`, which reads the platform's real outputs through
its `bus_stack` reference, each with its `Pulumi.<stack>.yaml`; state lives in
`.local-stack/`, and the start-up banner's hints name `python -m local` and a leave route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acme_eventsourcing.local.stack import LocalStack as _LocalStack
from acme_eventsourcing.local.stack import LocalStackError

ROOT = Path(__file__).resolve().parent.parent
#: The platform program: what the services share (`platform/Pulumi.yaml`).
PLATFORM = ROOT / "platform"
#: The programs of the local stack, in the order they run: the platform, then the services.
PROGRAMS = (PLATFORM, ROOT)
TOKEN_COMMAND = "-m local token --sub ana --groups admin"
TRY_PATH = "/approvers/ana/pending"

__all__ = ["PLATFORM", "PROGRAMS", "ROOT", "LocalStack", "LocalStackError"]


class LocalStack(_LocalStack):
    """The leave project's local stack: `LocalStack("dev", port=0)` runs the platform and the
    leave program; every option of `acme_eventsourcing.local.LocalStack` applies (`program=`
    runs one program alone, `recorded_stack=` a recorded one)."""

    def __init__(self, stack: str = "dev", **options: Any) -> None:
        if "program" not in options and "recorded_stack" not in options:
            options.setdefault("programs", PROGRAMS)
        options.setdefault("token_command", TOKEN_COMMAND)
        options.setdefault("try_path", TRY_PATH)
        super().__init__(stack, **options)
