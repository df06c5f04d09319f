"""`POST /slack/interactions`: Approve and Deny pressed on a leave request's Slack message.

Slack posts the press here (the app's Interactivity Request URL). The commands function
serves it, in this order, and changes nothing unless every step passes:

1. the signing secret: the Secrets Manager secret named by `SLACK_SIGNING_SECRET_ARN`, read
   once per container; without it the route answers 404 (the stack creates the route only
   when `slack_signing_secret` is configured, so this is a local or misconfigured call);
2. Slack's signature over the raw body and its 5-minute timestamp window
   (`acme_eventsourcing.runtime.slack`): 401 otherwise;
3. the payload: a `block_actions` interaction whose action is `leave_approve` or
   `leave_deny` with a request id as its value: 400 naming the problem otherwise;
4. the Slack user (`team.id`, `user.id`) -> the employee their link names (`leave.slack_link`,
   read from the link's own stream: an unlink counts at once). An unlinked user gets an
   ephemeral answer saying how to link, and nothing changes;
5. the SAME command as `POST /leave-requests/{request_id}/approve` (or `/deny`), run by
   `CommandsApp.execute` with the same declaration, validation and domain authorisation: the
   linked employee must be the request's approver. Slack carries no Cognito groups, so a
   Slack caller has no admin rights: requests only an admin may decide (an approver's own)
   are decided in the app. The idempotency key is `slack.<action_ts>`, scoped to the Slack
   user: Slack's retries of a press (same `action_ts`, `X-Slack-Retry-Num`) get the first
   answer back and decide once.

The answer is a Slack message: the decision replaces the original message (its buttons
become "Approved by @user"); a refusal is an ephemeral note to the presser only. It is both
the HTTP response body and, when the interaction has a `response_url` on Slack's host, posted
there (how Slack updates a message after a button press). A decision that was committed is
never answered as a failure: a press on a request already decided says what it is now.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from acme_eventsourcing.runtime import http
from acme_eventsourcing.runtime.routes import COMMANDS, Route, validate_params

from leave_api import schemas as s

if TYPE_CHECKING:
    from acme_eventsourcing.runtime import slack

# `acme_eventsourcing.runtime.slack` and `.secrets` are imported where a Slack request is
# served, not here: the commands function imports this module for its route and endpoint
# on every cold start, and most cold starts serve a command, not a Slack press.

SIGNING_SECRET = "SLACK_SIGNING_SECRET"
"""The function gets the secret's ARN in `SLACK_SIGNING_SECRET_ARN` (`secrets.env_name`)."""
APPROVE_ACTION = "leave_approve"
DENY_ACTION = "leave_deny"
COMMAND_OF_ACTION = {APPROVE_ACTION: "approve_leave", DENY_ACTION: "deny_leave"}
"""Button `action_id` -> the command declaration it runs (`leave_api.api`)."""
_DONE = {"approve_leave": "Approved", "deny_leave": "Denied"}

SLACK_REPLY: dict[str, Any] = s.result(
    {"text": {"type": "string"}, "replace_original": {"type": "boolean"}, "response_type": {"type": "string"}},
    title="SlackReply",
    description="A Slack message (https://api.slack.com/interactivity/handling#message_responses).",
)

SLACK_INTERACTIONS_ROUTE = Route(
    method="POST",
    path="/slack/interactions",
    handler="slack_interactions",
    function=COMMANDS,
    who="Slack (requests signed with the app's signing secret)",
    summary="Approve or deny a leave request from its Slack message (docs/slack.md)",
    status=200,
    response=SLACK_REPLY,
    errors=(401, 404, 413),
    public=True,
)
"""Public (no JWT: Slack cannot send one); created only when the stack has a signing secret."""


def _signing_secret() -> str:
    """The signing secret from Secrets Manager (`secrets.SecretNotConfigured` when there is none)."""
    from acme_eventsourcing.runtime import secrets

    return secrets.secret_from_env(SIGNING_SECRET)


class SlackInteractions:
    """The endpoint (`handler(event) -> response`). `run(name, caller, params, body, ...)`
    is the commands app's `execute`; `link_of(team_id, user_id)` the linked employee id or
    None; `signing_secret()` the secret (raises `secrets.SecretNotConfigured` when there is
    none); `post(url, message)` sends a reply to `response_url` (default
    `acme_eventsourcing.runtime.slack.post_response`); `clock` gives Unix seconds."""

    def __init__(
        self,
        *,
        run: Callable[..., dict[str, Any]],
        link_of: Callable[[str, str], str | None],
        signing_secret: Callable[[], str] = _signing_secret,
        post: slack.Poster | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._run, self._link_of, self._secret, self._post, self._clock = run, link_of, signing_secret, post, clock

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        from acme_eventsourcing.runtime import secrets, slack

        try:
            secret = self._secret()
        except secrets.SecretNotConfigured as exc:
            raise http.HttpError(
                404, "route_not_found", "Slack interactions are not configured on this stack (slack_signing_secret)"
            ) from exc
        body = slack.verified_body(event, secret, now=self._clock())
        interaction = slack.parse_interaction(body)
        action = interaction.action
        name = COMMAND_OF_ACTION.get(action.action_id)
        if name is None:
            raise http.bad_request(
                f"action_id {action.action_id[:40]!r} is not one of {sorted(COMMAND_OF_ACTION)}",
                code="unknown_action",
                field="payload.actions[0].action_id",
            )
        try:
            params = validate_params(SLACK_DECISION_ROUTES[name], {"request_id": action.value})
        except http.HttpError as exc:
            raise http.bad_request(
                f"the button's value is not a leave request id ({exc.message})", field="payload.actions[0].value"
            ) from exc
        employee_id = self._link_of(interaction.team_id, interaction.user_id)
        if employee_id is None:
            return self._reply(
                interaction,
                ephemeral(
                    "Your Slack account is not linked to an employee, so this button cannot act for you. "
                    f"Link it in the leave app: PUT /slack-links/{interaction.team_id}/{interaction.user_id} "
                    '{"employee_id": "<you>"} (docs/slack.md).'
                ),
            )
        caller = http.Caller(id=employee_id, subject=f"slack.{interaction.team_id}.{interaction.user_id}")
        retry = http.header(event, slack.RETRY_NUM_HEADER)
        log: dict[str, Any] = {"slack_retry": retry} if retry else {}
        try:
            self._run(
                name,
                caller,
                params,
                {},
                idempotency_key=_key(action.action_ts),
                correlation_id=http.correlation_id(event),
                log_fields=log,
            )
        except http.HttpError as refused:
            return self._reply(interaction, refusal(refused, params["request_id"]))
        request_id = params["request_id"]
        return self._reply(interaction, decided(_DONE[name], request_id, interaction.user_id, employee_id))

    def _reply(self, interaction: slack.Interaction, message: dict[str, Any]) -> dict[str, Any]:
        from acme_eventsourcing.runtime import slack

        if interaction.response_url and slack.response_url_allowed(interaction.response_url):
            try:
                (self._post or slack.post_response)(interaction.response_url, message)
            except Exception as exc:  # noqa: BLE001 - the decision stands; Slack shows the HTTP answer's outcome
                http.log({"level": "WARNING", "message": "slack response_url post failed", "error": f"{type(exc).__name__}: {exc}"[:300]})
        return http.json_response(200, message)


def _key(action_ts: str) -> str:
    """The idempotency key of a press: Slack's `action_ts`, the same in each retry."""
    cleaned = "".join(ch for ch in action_ts if ch.isascii() and (ch.isalnum() or ch in "._:-"))[:100]
    return f"slack.{cleaned or 'press'}"


def decided(done: str, request_id: str, slack_user_id: str, employee_id: str) -> dict[str, Any]:
    """The message that replaces the request's message: its buttons are gone."""
    return {"replace_original": True, "text": f"{done} by <@{slack_user_id}> ({employee_id}): leave request {request_id}."}


def ephemeral(text: str) -> dict[str, Any]:
    """A note only the presser sees; the original message stays as it is."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


def refusal(error: http.HttpError, request_id: str) -> dict[str, Any]:
    """Why the press changed nothing, said to the presser. A request that is no longer
    pending (decided meanwhile, perhaps by this very press whose first answer was lost)
    is reported as what it is, not as a failure."""
    if error.status == 409 and error.code != "concurrent_modification":
        return ephemeral(f"Nothing to do: {error.message}.")
    return ephemeral(f"Not done: {error.message} ({error.code}).")


def _decision_routes() -> dict[str, Route]:
    from leave_api.api import BY_KEY  # the declared routes: the same path parameter rules

    return {
        "approve_leave": BY_KEY["POST /leave-requests/{request_id}/approve"],
        "deny_leave": BY_KEY["POST /leave-requests/{request_id}/deny"],
    }


SLACK_DECISION_ROUTES: dict[str, Route] = _decision_routes()
