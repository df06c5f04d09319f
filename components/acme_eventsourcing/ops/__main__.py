"""`python -m acme_eventsourcing.ops`: see `acme_eventsourcing.ops.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
