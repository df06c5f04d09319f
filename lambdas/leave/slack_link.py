"""Which employee a Slack user acts as: the ``slack-link#<team_id>:<slack_user_id>`` stream.

A Slack user pressing Approve or Deny on a leave request's Slack message decides it as the
employee their link names, with exactly that employee's rights (the domain's approver rule,
`employee.decide`). The stream is keyed by the Slack identity itself, so finding a Slack
user's employee is one strongly consistent read of one stream: an unlink takes effect at
once, with no read model in between that could lag behind it.

Rules: an employee links a Slack user to themself, or an admin links one to anybody; a Slack
user is linked to at most one employee at a time (linking them elsewhere is refused until
the link is removed); the linked employee or an admin unlinks. Linking again to the same
employee, or unlinking what is not linked, changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from leave.commands import Caller, LinkSlackUser, UnlinkSlackUser
from leave.errors import Forbidden, InvalidState, NotFound
from leave.events import Event, SlackUserLinked, SlackUserUnlinked
from leave.record import Record


class SlackLinkState(Record):
    """The link of one Slack user; `employee_id` None when not linked."""

    team_id: str
    slack_user_id: str
    version: int = 0
    employee_id: str | None = None


def fold(team_id: str, slack_user_id: str, events: Sequence[Event]) -> SlackLinkState:
    """The link after `events` (the whole stream)."""
    employee_id: str | None = None
    for event in events:
        if isinstance(event, SlackUserLinked):
            employee_id = event.employee_id
        elif isinstance(event, SlackUserUnlinked):
            employee_id = None
    return SlackLinkState(team_id=team_id, slack_user_id=slack_user_id, version=len(events), employee_id=employee_id)


def _self_or_admin(caller: Caller, employee_id: str, what: str) -> None:
    if not caller.is_admin and caller.sub != employee_id:
        raise Forbidden("not_yourself", f"only {employee_id} themself or an admin may {what}")


def decide(state: SlackLinkState, command: LinkSlackUser | UnlinkSlackUser, *, employee_exists: bool = True) -> list[Event]:
    """The events of `command` on the Slack user's link (see the module's rules)."""
    if isinstance(command, LinkSlackUser):
        _self_or_admin(command.caller, command.employee_id, "link a Slack user to them")
        if not employee_exists:
            raise NotFound("employee_not_found", f"no employee {command.employee_id}")
        if state.employee_id == command.employee_id:
            return []
        if state.employee_id is not None:
            raise InvalidState(
                "slack_user_already_linked",
                f"Slack user {state.slack_user_id} of {state.team_id} is linked to another employee; unlink it first",
            )
        return [SlackUserLinked(team_id=state.team_id, slack_user_id=state.slack_user_id, employee_id=command.employee_id)]
    if not command.caller.is_admin and state.employee_id != command.caller.sub:
        # the same answer whether the Slack user is linked to somebody else or to nobody
        raise NotFound("slack_link_not_found", f"Slack user {state.slack_user_id} of {state.team_id} is not linked to you")
    if state.employee_id is None:
        return []
    return [SlackUserUnlinked(team_id=state.team_id, slack_user_id=state.slack_user_id, employee_id=state.employee_id)]
