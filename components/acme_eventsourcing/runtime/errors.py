"""Why a domain refuses a command: one base error and four categories, no HTTP in sight.

A domain raises (subclasses of) these from its pure `decide` functions; it never names a
status code. The HTTP edge (`acme_eventsourcing.runtime.commands`) maps each category to
one status, in one place (`commands.ERROR_STATUSES`):

==============  ======  ==================================================================
category        status  use it when
==============  ======  ==================================================================
`Forbidden`     403     the caller may not do this (not an admin, not the owner, ...)
`NotFound`      404     an id names nothing
`Conflict`      409     the target's state does not allow it (already decided, exists)
`Rejected`      422     a business rule refuses it (not enough stock, dates overlap)
`DomainError`   422     (the base, when no category fits)
==============  ======  ==================================================================

Every error has a stable machine-readable `code` (e.g. ``"insufficient_balance"``) and a
human-readable `message`; the client gets ``{"error": {"code", "message"}}``. Set `field`
(a name of the command's input, e.g. ``"start"``) when one input is to blame: the edge
reports it as ``body.<field>``.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of a domain's refusals (answered as 422 unless a category says otherwise)."""

    field: str | None = None
    """The offending input, when one field is to blame (e.g. `start`), for the error body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class Forbidden(DomainError):
    """The caller may not do this (e.g. not an admin, not the location's approver)."""


class NotFound(DomainError):
    """An id names nothing (an unknown order, employee, request...)."""


class Conflict(DomainError):
    """The target is not in a state that allows this (e.g. the request is already decided)."""


class Rejected(DomainError):
    """A business rule refuses the command (e.g. not enough days left, overlapping leave)."""
