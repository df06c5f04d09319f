"""The demo's Slack approval: a request decided by pressing Approve in Slack, signed like Slack signs.

After the story (whose notification counts it must not change), on the same local stack:
an admin opens a small team (Sara asks, Tom approves), Tom links his Slack user, Sara
requests a day off, and Slack's press of the message's Approve button (`action_id`
`leave_approve`, `value` the request id, as the outbound message carries them) is posted to
`POST /slack/interactions`, signed with the stack's signing secret the way Slack signs
(`v0=HMAC-SHA256(secret, "v0:<timestamp>:<raw body>")`). The checks: the answer replaces
the message with "Approved by ...", the Events table holds the `LeaveApproved` with Tom as
the actor, a stale (replayed) copy is refused with 401 and changes nothing, and Slack's
retry of the press (`X-Slack-Retry-Num: 1`) answers the same without a second decision.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, TextIO
from urllib.parse import urlencode

from acme_eventsourcing.local.client import ApiClient, Response
from acme_eventsourcing.runtime import slack

CONFIG_KEY = "leave:slack_signing_secret"
TEAM, TOM_SLACK = "T0DEMO", "U0TOM"


def signing_secret() -> str:
    """A fresh signing secret for this run (the stack's `slack_signing_secret`; nothing to leak)."""
    return secrets.token_hex(16)


def config_overrides(secret: str) -> Mapping[str, str]:
    """What the demo sets on the stack so it has a Slack interactions route."""
    return {CONFIG_KEY: secret}


def press(request_id: str, *, action_ts: str) -> bytes:
    """The form body Slack posts when Tom presses Approve on the request's message."""
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "acme-demo"},
        "user": {"id": TOM_SLACK, "username": "tom", "team_id": TEAM},
        "actions": [{"type": "button", "action_id": "leave_approve", "block_id": "decide", "value": request_id, "action_ts": action_ts}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def post(api_url: str, body: bytes, headers: Mapping[str, str]) -> Response:
    return ApiClient(api_url).request(
        "POST", "/slack/interactions", raw=body, headers={"Content-Type": "application/x-www-form-urlencoded", **headers}
    )


def first_monday_of_june(after: date) -> date:
    day = date(after.year + 1, 6, 1)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def run(out: TextIO, local: Any, secret: str, today: date) -> bool:
    """The step on a started local stack whose program had `config_overrides(secret)`; True if every check passed."""
    from acme_eventsourcing.runtime.eventstore.dynamodb import DynamoDBEventStore

    p = lambda line="": print(line, file=out)  # noqa: E731
    api = ApiClient(local.api_url, lambda sub, groups: local.token(sub, groups))
    ana, tom, sara = api.as_user("ana", "admin"), api.as_user("tom"), api.as_user("sara")
    p("\nSlack approval (POST /slack/interactions, signed like Slack signs)")
    location = ana.post("/locations", {"name": "Porto"}).json["location_id"]
    for employee_id, name in (("sara", "Sara"), ("tom", "Tom")):
        ana.post(f"/locations/{location}/employees", {"employee_id": employee_id, "name": name})
    ana.put(f"/locations/{location}/approver", {"employee_id": "tom"})
    ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 22, "max_rollover_days": 5})
    linked = tom.put(f"/slack-links/{TEAM}/{TOM_SLACK}", {"employee_id": "tom"})
    p(f"  tom links his Slack user: PUT /slack-links/{TEAM}/{TOM_SLACK} -> {linked.status}")
    day = first_monday_of_june(today).isoformat()
    requested = sara.post("/employees/sara/leave-requests", {"leave_type": "PTO", "start": day, "end": day})
    request_id = str((requested.json or {}).get("request_id"))
    p(f"  sara requests {day}: {request_id}")

    body = press(request_id, action_ts=f"{time.time():.6f}")
    headers = slack.signed_headers(secret, body, int(time.time()))
    started = time.perf_counter()
    answer = post(local.api_url, body, headers)
    took = (time.perf_counter() - started) * 1000
    p(f"  Slack posts tom's Approve press -> {answer.status} in {took:.0f} ms: {(answer.json or {}).get('text')}")
    assert local.recorded is not None
    store = DynamoDBEventStore(local.clients("dynamodb"), str(local.recorded.outputs["events_table_name"]))

    def decisions() -> list[Any]:
        return [e for e in store.load("employee#sara") if e.event_type in {"LeaveApproved", "LeaveDenied"}]

    decided = decisions()
    stale = post(local.api_url, body, slack.signed_headers(secret, body, int(time.time()) - 600))
    p(f"  the same press signed 10 minutes ago (a replay) -> {stale.status} {(stale.json or {}).get('error', {}).get('code')}")
    retried = post(local.api_url, body, {**headers, slack.RETRY_NUM_HEADER: "1", "X-Slack-Retry-Reason": "http_timeout"})
    p(f"  Slack retries the press (X-Slack-Retry-Num: 1) -> {retried.status}: {(retried.json or {}).get('text')}")
    after = decisions()
    checks = {
        "slack: the signed press approved the request (LeaveApproved by tom in the Events table)": answer.status == 200
        and [(e.event_type, e.data.get("request_id"), e.metadata.get("actor")) for e in decided] == [("LeaveApproved", request_id, "tom")],
        "slack: the answer replaces the message's buttons with 'Approved by'": str((answer.json or {}).get("text", "")).startswith(
            "Approved by"
        )
        and (answer.json or {}).get("replace_original") is True,
        "slack: a stale signature is refused (401) and changes nothing": stale.status == 401 and len(after) == len(decided),
        "slack: Slack's retry answers the same and decides once": retried.json == answer.json and len(after) == 1,
    }
    for name, passed in checks.items():
        p(f"[{'ok' if passed else 'FAILED'}] {name}")
    return all(checks.values())
