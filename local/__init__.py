"""The local stack: the real Pulumi program, evaluated offline, run on this machine.

- `python -m local plan`: the program under Pulumi's mock engine; resource tree, counts,
  policy report.
- `python -m local up`: the declared tables, queues, bus, archive and rules on moto (server
  mode), the Lambda handlers in this process wired as declared (stream mappings, rule
  targets, HTTP routes with the JWT authorizer).
- `python -m local token`: a JWT the local authorizer accepts.
- `python -m local demo`: the leave story through the local HTTP API, with a report.

From Python (tests): `LocalStack("dev", port=0).start()`. See docs/local.md.
"""

from __future__ import annotations

from .stack import LocalStack, LocalStackError

__all__ = ["LocalStack", "LocalStackError"]
