"""python -m acme_eventsourcing.local plan|up|token --program PATH --stack NAME (see `cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # before a command started
        print("\ninterrupted", file=sys.stderr, flush=True)
        sys.exit(130)
