"""The `$connect` authorizer of leave's live updates: which topics a caller may hear.

A connection hears exactly what its caller may read through the HTTP API (`queries`), checked
with the same read-model facts:

- `employee#<id>`: their own balance and requests (an employee of the balance read model);
- `location#<id>`: the calendar of the location they are a current member of;
- `approvers#<id>`: the pending requests of each location they approve.

Topics are computed when the connection opens; a transfer or a new approver is heard after
reconnecting. An admin reads every calendar and balance through the HTTP API, but no topic
tells them every change (nobody's view is "everything"); they hear what their own identity
gives them, like anyone. The JWT is checked by `acme_eventsourcing.runtime.live` as strictly
as the HTTP API's authorizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acme_eventsourcing.runtime import live
from acme_eventsourcing.runtime.projections import ReadModelReader, reader_from_env

from leave_api.queries import approved_locations, is_member

#: The read models the authorizer reads (its function may read nothing else).
READ_MODELS = ("balance", "pending", "calendar")


def employee_topic(employee_id: str) -> str:
    return f"employee#{employee_id}"


def location_topic(location_id: str) -> str:
    return f"location#{location_id}"


def approvers_topic(location_id: str) -> str:
    return f"approvers#{location_id}"


class LeaveTopics:
    """`(identity, claims) -> topics` on the read models."""

    def __init__(self, reader: ReadModelReader) -> None:
        self._reader = reader

    def __call__(self, identity: str, claims: Mapping[str, Any]) -> list[str]:
        topics: list[str] = []
        head = self._reader.get("balance", f"employee#{identity}", "head")
        if head is not None:
            topics.append(employee_topic(identity))
            location = head.get("location_id")
            state = self._reader.get("calendar", f"location#{location}", "state") if location else None
            if state is not None and is_member(state, identity):
                topics.append(location_topic(location))
        topics.extend(approvers_topic(location) for location in approved_locations(self._reader, identity))
        return topics


handler = live.authorizer_handler(build_topics=lambda environ: LeaveTopics(reader_from_env(environ, READ_MODELS)))
"""The Lambda entry point (`leave_api.live.handler`)."""
