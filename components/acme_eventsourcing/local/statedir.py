"""Where a project's local stacks keep their state: light to import (the CLI's commands that
talk to a running stack need it without importing the stack, moto or pulumi)."""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable that moves the state directory (key, state files, journals), e.g. for tests.
STATE_DIR_ENV = "LOCAL_STACK_STATE_DIR"


def state_dir_for(program: str | os.PathLike[str] | None) -> Path:
    """Where the local stacks of a project keep their signing key, state file and event
    journals: `$LOCAL_STACK_STATE_DIR`, else `<project>/.local-stack` (the working
    directory's when no project is given)."""
    return Path(os.environ.get(STATE_DIR_ENV) or Path(program or Path.cwd()) / ".local-stack")
