"""Rebuild one of leave's read models from the Events table into a fresh table.

    python -m leave_projections.rebuild balance --events-table EVENTS --read-model-table NEW_TABLE

The replay is the runtime library's (`acme_eventsourcing.runtime.projections.rebuild`: every
stream, oldest first, through the projector the Lambda runs); this module only knows leave's
projections by name. The target must be empty: build into a new table, then point the
queries at it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from acme_eventsourcing.runtime.projections import DynamoDBReadModelStore, EventsTableReader, Projection, rebuild

from leave_projections.audit import AuditProjection
from leave_projections.balance import BalanceProjection
from leave_projections.calendar import CalendarProjection
from leave_projections.pending import PendingProjection

PROJECTIONS: dict[str, Projection] = {
    p.name: p for p in (BalanceProjection(), PendingProjection(), CalendarProjection(), AuditProjection())
}


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: `python -m leave_projections.rebuild <projection> ...`."""
    parser = argparse.ArgumentParser(prog="python -m leave_projections.rebuild", description=__doc__.splitlines()[0])
    parser.add_argument("projection", choices=sorted(PROJECTIONS))
    parser.add_argument("--events-table", default=os.environ.get("EVENTS_TABLE"), help="the Events table (default: $EVENTS_TABLE)")
    parser.add_argument(
        "--read-model-table",
        default=os.environ.get("READ_MODEL_TABLE"),
        help="the fresh, empty read-model table (default: $READ_MODEL_TABLE)",
    )
    args = parser.parse_args(argv)
    if not args.events_table or not args.read_model_table:
        parser.error("--events-table and --read-model-table are required")
    import boto3

    client = boto3.client("dynamodb")
    report = rebuild(
        EventsTableReader(client, args.events_table),
        PROJECTIONS[args.projection],
        DynamoDBReadModelStore(client, args.read_model_table),
    )
    print(f"{args.projection}: replayed {report.events} events of {report.streams} streams into {args.read_model_table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
