"""Operations on a deployed (or local) stack: `lag`, `rebuild`, `redrive`. boto3 only.

    python -m acme_eventsourcing.ops --local lag                      # a running local stack
    python -m acme_eventsourcing.ops --outputs outputs.json lag       # pulumi stack output --json > outputs.json
    python -m acme_eventsourcing.ops --stack prod rebuild balance --code-root lambdas
    python -m acme_eventsourcing.ops --stack prod redrive balance --dry-run

- `lag` (`lag.lag`): per projection, the streams and events it has not applied yet, the
  oldest of them, and the streams it is stuck on (version, reason, since); per
  subscription, the same against its sources' Events tables from its checkpoint table
  (a source of another stack: its per-stream checkpoints, the head unknown), and the
  streams stuck in its DLQ with the reason each message carries.
- `rebuild PROJECTION` (`rebuild.rebuild_blue_green`): a blue/green projection's inactive
  table is rebuilt from the Events table (or any `EventsReader`) while the projector goes
  on, caught up, switched to, caught up again; the old table is cleared.
- `redrive QUEUE` (`redrive.redrive`): a DLQ drained by re-reading the Events table for each
  message's stream, never by re-sending the stale message.

Where the stack is comes from its outputs (`Deployment`): the `operations` a stack exports
(`EventSourcedService.operations`). See docs/operations.md.
"""

from __future__ import annotations

from .deployment import Deployment, DeploymentError, ProjectionOps, SubscriptionOps
from .lag import EventsIndex, LagReport, lag
from .rebuild import RebuildError, RebuildResult, rebuild_blue_green
from .redrive import RedriveReport, redrive

__all__ = [
    "Deployment",
    "DeploymentError",
    "EventsIndex",
    "LagReport",
    "ProjectionOps",
    "RebuildError",
    "RebuildResult",
    "RedriveReport",
    "SubscriptionOps",
    "lag",
    "rebuild_blue_green",
    "redrive",
]
