"""Live updates: which topics a change of leave's read models is for (`acme_eventsourcing.runtime.live_messages`).

A projection's `topics(event, changed)` gets the (`pk`, `sk`) of the rows one commit changed and
names who may see that change, mirroring who may read it through the HTTP API
(`leave_api.queries`, `leave_api.live`):

- `employee#<id>`: the employee's balance (`balance#<id>` rows) and own requests (`pending`'s
  `employee#<id>` row);
- `approvers#<location>`: the location's pending list (`pending#<location>` rows, its approver,
  the `approver#<id>` rows naming it);
- `location#<location>`: the location's calendar (`calendar#<location>` rows, its members).

Rows a query never shows (checkpoints, folded histories, heads) name no topic. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def _id(pk: str, prefix: str) -> str | None:
    return pk[len(prefix) :] if pk.startswith(prefix) and len(pk) > len(prefix) else None


def _unique(topics: Iterable[str | None]) -> list[str]:
    return sorted({t for t in topics if t})


def employees_of(changed: Sequence[tuple[str, str]], prefix: str) -> list[str]:
    """`employee#<id>` for each changed row whose pk is `<prefix><id>`."""
    return _unique(f"employee#{i}" if (i := _id(pk, prefix)) else None for pk, _sk in changed)


def pending_topics(changed: Sequence[tuple[str, str]]) -> list[str]:
    """Topics of the pending read model's changed rows."""

    def topic(pk: str, sk: str) -> str | None:
        if location := _id(pk, "pending#"):
            return f"approvers#{location}"
        if _id(pk, "approver#"):
            return f"approvers#{sk}"  # the row of an approver's location: that location's list changed hands
        if (location := _id(pk, "location#")) and sk == "state":
            return f"approvers#{location}"
        if (employee := _id(pk, "employee#")) and sk == "state":
            return f"employee#{employee}"
        return None

    return _unique(topic(pk, sk) for pk, sk in changed)


def calendar_topics(changed: Sequence[tuple[str, str]]) -> list[str]:
    """Topics of the calendar read model's changed rows."""

    def topic(pk: str, sk: str) -> str | None:
        if location := _id(pk, "calendar#"):
            return f"location#{location}"
        if (location := _id(pk, "location#")) and sk == "state":
            return f"location#{location}"
        return None

    return _unique(topic(pk, sk) for pk, sk in changed)
