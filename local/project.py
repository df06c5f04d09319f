"""This repository's project on the local stack: the leave program at the repository root.

`LocalStack` here is the packaged `acme_eventsourcing.local.LocalStack` with this project's
defaults: the program is the repository root's `__main__.py` and its `Pulumi.<stack>.yaml`,
state lives in `.local-stack/`, and the start-up banner's hints name `python -m local`
and a leave route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acme_eventsourcing.local.stack import LocalStack as _LocalStack
from acme_eventsourcing.local.stack import LocalStackError

ROOT = Path(__file__).resolve().parent.parent
TOKEN_COMMAND = "-m local token --sub ana --groups admin"
TRY_PATH = "/approvers/ana/pending"

__all__ = ["ROOT", "LocalStack", "LocalStackError"]


class LocalStack(_LocalStack):
    """The leave project's local stack: `LocalStack("dev", port=0)`; every option of
    `acme_eventsourcing.local.LocalStack` applies."""

    def __init__(self, stack: str = "dev", **options: Any) -> None:
        options.setdefault("program", ROOT)
        options.setdefault("token_command", TOKEN_COMMAND)
        options.setdefault("try_path", TRY_PATH)
        super().__init__(stack, **options)
