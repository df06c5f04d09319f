"""Why the domain refuses a command: one base error, one subclass per HTTP status.

Every error has a stable machine-readable `code` (e.g. ``"insufficient_balance"``) and a
human-readable `message`; the HTTP layer answers
``{"error": {"code": e.code, "message": e.message}}`` with status `e.http_status`.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Base of the domain's refusals."""

    http_status: ClassVar[int] = 422
    field: str | None = None
    """The offending input, when one field is to blame (e.g. `body.start`), for the error body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class Forbidden(DomainError):
    """The caller may not do this (e.g. not an admin, not the location's approver)."""

    http_status = 403


class NotFound(DomainError):
    """An id names nothing (unknown location, employee or leave request)."""

    http_status = 404


class InvalidState(DomainError):
    """The target is not in a state that allows this (e.g. the request is already decided)."""

    http_status = 409


class RuleViolated(DomainError):
    """A business rule refuses the command (e.g. not enough days left, overlapping leave)."""

    http_status = 422
