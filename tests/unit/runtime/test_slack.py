"""Slack request verification (`acme_eventsourcing.runtime.slack`): the signature over the raw
body, the timestamp window, the interaction payload, where replies may go; and the secret
loader (`acme_eventsourcing.runtime.secrets`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from acme_eventsourcing.runtime import secrets, slack
from acme_eventsourcing.runtime.http import HttpError
from hypothesis import given, settings
from hypothesis import strategies as st

SECRET = "a-local-signing-secret-0123456789"
NOW = 1_760_000_000
BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"


def event(body: bytes, headers: dict[str, str], *, b64: bool = False) -> dict[str, Any]:
    text = base64.b64encode(body).decode() if b64 else body.decode("utf-8", "surrogateescape")
    return {"headers": {k.lower(): v for k, v in headers.items()}, "body": text, "isBase64Encoded": b64}


def signed(body: bytes = BODY, *, at: int = NOW, secret: str = SECRET) -> dict[str, str]:
    return slack.signed_headers(secret, body, at)


def refused(body: bytes, headers: dict[str, str], *, now: float = NOW, b64: bool = False) -> HttpError:
    with pytest.raises(HttpError) as caught:
        slack.verified_body(event(body, headers, b64=b64), SECRET, now=now)
    return caught.value


# --- the signature -----------------------------------------------------------------------


def test_the_signature_is_slacks_documented_hmac() -> None:
    # Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack)
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert slack.signature("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body) == expected
    slack.verify("8f742231b10e8888abcd99yyyzzz85a5", timestamp="1531420618", sent=expected, body=body, now=1531420618 + 60)


def test_a_valid_request_gives_its_raw_body() -> None:
    assert slack.verified_body(event(BODY, signed()), SECRET, now=NOW) == BODY


def test_a_base64_body_is_verified_over_the_decoded_bytes() -> None:
    body = b"payload=%7B%7D&x=\xc3\xa9"
    assert slack.verified_body(event(body, signed(body), b64=True), SECRET, now=NOW) == body


def test_a_base64_body_signed_over_its_encoding_is_refused() -> None:
    body = b"payload=%7B%7D"
    wrong = signed(base64.b64encode(body))  # signed what API Gateway passed, not what Slack sent
    assert refused(body, wrong, b64=True).status == 401


def test_invalid_base64_is_a_400_not_a_500() -> None:
    with pytest.raises(HttpError) as caught:
        slack.verified_body({"headers": signed(), "body": "!!not base64!!", "isBase64Encoded": True}, SECRET, now=NOW)
    assert (caught.value.status, caught.value.code) == (400, "malformed_body")


def test_a_tampered_body_is_refused() -> None:
    error = refused(BODY + b"x", signed())
    assert (error.status, error.code) == (401, "invalid_slack_signature")
    assert "does not match" in error.message


def test_a_tampered_signature_is_refused() -> None:
    headers = signed()
    sig = headers[slack.SIGNATURE_HEADER]
    headers[slack.SIGNATURE_HEADER] = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    assert refused(BODY, headers).status == 401


def test_another_secret_is_refused() -> None:
    assert refused(BODY, signed(secret=SECRET + "x")).status == 401


def test_a_signature_of_another_timestamp_is_refused() -> None:
    headers = signed(at=NOW - 1)
    headers[slack.TIMESTAMP_HEADER] = str(NOW)
    assert refused(BODY, headers).status == 401


@pytest.mark.parametrize("age", [301, 3600, -301, -86400])
def test_a_stale_or_future_timestamp_is_refused_even_when_correctly_signed(age: int) -> None:
    error = refused(BODY, signed(at=NOW - age))
    assert error.status == 401
    assert "300 s" in error.message


@pytest.mark.parametrize("age", [0, 299, 300, -300])
def test_the_window_is_five_minutes_either_way(age: int) -> None:
    slack.verified_body(event(BODY, signed(at=NOW - age)), SECRET, now=NOW)


@pytest.mark.parametrize("missing", [slack.SIGNATURE_HEADER, slack.TIMESTAMP_HEADER])
def test_missing_headers_are_refused_and_named(missing: str) -> None:
    headers = signed()
    del headers[missing]
    error = refused(BODY, headers)
    assert error.status == 401
    assert missing in error.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (slack.TIMESTAMP_HEADER, "17e9"),
        (slack.TIMESTAMP_HEADER, "-5"),
        (slack.TIMESTAMP_HEADER, "１７６"),  # non-ASCII digits
        (slack.SIGNATURE_HEADER, "v1=" + "0" * 64),
        (slack.SIGNATURE_HEADER, "v0=" + "G" * 64),
        (slack.SIGNATURE_HEADER, "v0=é" + "0" * 63),
        (slack.SIGNATURE_HEADER, ""),
    ],
)
def test_malformed_headers_are_refused(name: str, value: str) -> None:
    headers = signed()
    headers[name] = value
    assert refused(BODY, headers).status == 401


def test_the_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(slack.hmac, "compare_digest", spy)
    slack.verified_body(event(BODY, signed()), SECRET, now=NOW)
    assert len(seen) == 1


def test_an_empty_secret_is_a_configuration_error_not_an_open_door() -> None:
    with pytest.raises(ValueError, match="empty"):
        slack.verify("", timestamp=str(NOW), sent=slack.signature("", str(NOW), BODY), body=BODY, now=NOW)


# --- property: every mutation is refused, never a 500 -----------------------------------


MUTATION = st.one_of(
    st.tuples(st.just("body"), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("signature"), st.text(max_size=80)),
    st.tuples(st.just("timestamp"), st.text(max_size=20)),
    st.tuples(st.just("shift"), st.integers(-(10**9), 10**9).filter(lambda n: n != 0)),
    st.tuples(st.just("flip"), st.integers(0, 66)),
)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=256), mutation=MUTATION)
def test_any_mutation_of_body_signature_or_timestamp_is_refused(body: bytes, mutation: tuple[str, Any]) -> None:
    headers = signed(body)
    kind, value = mutation
    sent_body = body
    if kind == "body":
        sent_body = body + value
    elif kind == "signature":
        if value == headers[slack.SIGNATURE_HEADER]:
            return
        headers[slack.SIGNATURE_HEADER] = value
    elif kind == "timestamp":
        if value.strip() == str(NOW):
            return
        headers[slack.TIMESTAMP_HEADER] = value
    elif kind == "shift":  # re-signed for another time: only the window can refuse it
        headers = signed(body, at=NOW + value)
        if abs(value) <= slack.DEFAULT_TOLERANCE_S:
            return
    else:  # flip one character of the signature
        sig = headers[slack.SIGNATURE_HEADER]
        i = value % len(sig)
        headers[slack.SIGNATURE_HEADER] = sig[:i] + ("a" if sig[i] != "a" else "b") + sig[i + 1 :]
    with pytest.raises(HttpError) as caught:
        slack.verified_body(event(sent_body, headers, b64=True), SECRET, now=NOW)
    assert caught.value.status == 401


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=512))
def test_any_signed_body_parses_to_an_interaction_or_a_400(body: bytes) -> None:
    verified = slack.verified_body(event(body, signed(body), b64=True), SECRET, now=NOW)
    try:
        slack.parse_interaction(verified)
    except HttpError as exc:
        assert exc.status == 400


# --- the interaction payload -----------------------------------------------------------


def interaction(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0TEAM", "domain": "acme"},
        "user": {"id": "U0MIKE", "username": "mike", "team_id": "T0TEAM"},
        "response_url": "https://hooks.slack.com/actions/T0TEAM/1/abc",
        "actions": [{"action_id": "leave_approve", "block_id": "b", "value": "john~3", "action_ts": "1760000000.000100", "type": "button"}],
    }
    payload.update(overrides)
    return payload


def form(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_a_block_actions_payload_is_parsed() -> None:
    parsed = slack.parse_interaction(form(interaction()))
    assert (parsed.team_id, parsed.user_id, parsed.user_name) == ("T0TEAM", "U0MIKE", "mike")
    assert parsed.action == slack.Action(action_id="leave_approve", value="john~3", action_ts="1760000000.000100", block_id="b")
    assert parsed.response_url == "https://hooks.slack.com/actions/T0TEAM/1/abc"


def test_the_team_may_come_from_the_user_when_team_is_null() -> None:
    assert slack.parse_interaction(form(interaction(team=None))).team_id == "T0TEAM"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"\xff\xfe", "body"),
        (b"no-equals-sign", "body"),
        (b"other=1", "body.payload"),
        (form(interaction()) + b"&" + form(interaction()), "body.payload"),
        (b"payload=%7Bnot json", "body.payload"),
        (form([1, 2]), "body.payload"),
        (form(interaction(type="view_submission")), "payload.type"),
        (form(interaction(user="U0MIKE")), "payload.user"),
        (form(interaction(user={"id": "mike"})), "payload.user.id"),
        (form(interaction(team={"id": 5}, user={"id": "U0MIKE"})), "payload.team.id"),
        (form(interaction(actions=[])), "payload.actions"),
        (form(interaction(actions=["x"])), "payload.actions[0]"),
        (form(interaction(actions=[{"action_id": "leave_approve", "value": "john~3"}])), "payload.actions[0].action_ts"),
    ],
)
def test_malformed_payloads_are_400s_naming_the_field(body: bytes, field: str) -> None:
    with pytest.raises(HttpError) as caught:
        slack.parse_interaction(body)
    assert caught.value.status == 400
    assert caught.value.field == field


# --- replies go to Slack only ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.slack.com/actions/x",
        "https://evil.example/actions",
        "https://hooks.slack.com.evil.example/x",
        "file:///etc/passwd",
        "",
    ],
)
def test_a_reply_is_posted_only_to_slacks_https_host(url: str) -> None:
    assert not slack.response_url_allowed(url)
    with pytest.raises(ValueError, match="response_url"):
        slack.post_response(url, {"text": "x"})


def test_slacks_own_response_urls_are_allowed() -> None:
    assert slack.response_url_allowed("https://hooks.slack.com/actions/T0/1/abc")


# --- the secret, read once ----------------------------------------------------------------


def test_a_secret_is_fetched_once_per_container(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets.forget()
    calls: list[str] = []

    def fetch(arn: str) -> str:
        calls.append(arn)
        return "s3cr3t"

    environ = {"SLACK_SIGNING_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x"}
    assert secrets.secret_from_env("SLACK_SIGNING_SECRET", environ, fetch=fetch) == "s3cr3t"
    assert secrets.secret_from_env("SLACK_SIGNING_SECRET", environ, fetch=fetch) == "s3cr3t"
    assert calls == ["arn:aws:secretsmanager:us-east-1:1:secret:x"]
    secrets.forget()


def test_an_unset_secret_says_which_variable() -> None:
    with pytest.raises(secrets.SecretNotConfigured, match="SLACK_SIGNING_SECRET_ARN"):
        secrets.secret_from_env("SLACK_SIGNING_SECRET", {})


def test_hmac_is_sha256() -> None:
    digest = hmac.new(SECRET.encode(), f"v0:{NOW}:".encode() + BODY, hashlib.sha256).hexdigest()
    assert signed()[slack.SIGNATURE_HEADER] == f"v0={digest}"
