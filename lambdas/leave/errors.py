"""Why the leave domain refuses a command: the runtime library's error categories.

Every error has a stable machine-readable `code` (e.g. ``"insufficient_balance"``) and a
human-readable `message`. The domain names no HTTP status: the commands edge maps each
category to one (`acme_eventsourcing.runtime.commands.ERROR_STATUSES`: `Forbidden` 403,
`NotFound` 404, `InvalidState` (a `Conflict`) 409, `RuleViolated` (a `Rejected`) 422).
"""

from __future__ import annotations

from acme_eventsourcing.runtime.errors import Conflict, DomainError, Forbidden, NotFound, Rejected

__all__ = ["DomainError", "Forbidden", "InvalidState", "NotFound", "RuleViolated"]


class InvalidState(Conflict):
    """The target is not in a state that allows this (e.g. the request is already decided)."""


class RuleViolated(Rejected):
    """A business rule refuses the command (e.g. not enough days left, overlapping leave)."""
