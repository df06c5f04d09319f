"""This repository's project (the leave stack) on the local stack.

The local stack itself ships in the package: `acme_eventsourcing.local` (any program,
`python -m acme_eventsourcing.local plan|up|token --program PATH --stack NAME`). This
package is its thin client for this repository's programs - the platform (`platform/`: the
shared bus, its archive, the alarm topic), then the leave program at the repository root,
which reads the platform's outputs - plus the leave story:

- `python -m local plan`: the program under Pulumi's mock engine; resource tree, counts,
  policy report.
- `python -m local up`: the declared tables, queues, bus, archive and rules of both on moto (server
  mode), the Lambda handlers in this process wired as declared (stream mappings, rule
  targets, HTTP routes with the JWT authorizer).
- `python -m local token`: a JWT the local authorizer accepts.
- `python -m local demo`: the leave story through the local HTTP API, with a report.

From Python (tests): `LocalStack("dev", port=0).start()`. See docs/local.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .project import PLATFORM, PROGRAMS, ROOT, LocalStack, LocalStackError

__all__ = ["PLATFORM", "PROGRAMS", "ROOT", "LocalStack", "LocalStackError"]


def __getattr__(name: str) -> Any:
    """`from local import LocalStack` imports the stack (pulumi, moto, boto3) on first use,
    so `python -m local` starts light and handles Ctrl-C before that import."""
    if name in __all__:
        from . import project

        return getattr(project, name)
    raise AttributeError(f"module 'local' has no attribute {name!r}")
