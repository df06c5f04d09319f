"""Calendar subscription feeds on the local stack (the real program, moto, the handlers): a
feed created by a command is fetched by its secret URL with NO header at all, parsed with
`icalendar`, follows a leave's approval and cancellation, and answers 404 once rotated away
or revoked."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import date, timedelta

import icalendar
import pytest
from acme_eventsourcing.local.client import ApiClient

from local import LocalStack


def plain_get(url: str) -> tuple[int, dict[str, str], str]:
    """GET as a calendar application does: no Authorization, no Accept, nothing."""
    request = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode("utf-8")


def vevents(body: str) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}


@pytest.fixture(scope="module")
def porto(api: ApiClient) -> str:
    ana = api.as_user("ana", "admin")
    location = ana.post("/locations", {"name": "Porto"}).json["location_id"]
    for who in ("rui", "ines"):
        assert ana.post(f"/locations/{location}/employees", {"employee_id": who, "name": who.title()}).status == 201
    assert ana.put(f"/locations/{location}/approver", {"employee_id": "ines"}).status == 200
    assert ana.put(f"/locations/{location}/policy", {"leave_type": "PTO", "days_per_year": 20, "max_rollover_days": 5}).status == 200
    return location


def next_monday(weeks: int) -> date:
    today = date.today()
    return today + timedelta(days=7 - today.weekday() + 7 * weeks)


def test_create_fetch_with_no_token_follow_a_leave_then_revoke(api: ApiClient, local_stack: LocalStack, porto: str) -> None:
    rui, ines = api.as_user("rui"), api.as_user("ines")
    start = next_monday(2)
    request_id = rui.post(
        "/employees/rui/leave-requests", {"leave_type": "PTO", "start": start.isoformat(), "end": (start + timedelta(days=2)).isoformat()}
    ).json["request_id"]
    created = rui.post("/calendar-feeds", {"scope": "location", "subject_id": porto})
    assert created.status == 201, created.text
    url = created.json["url"]
    assert url.startswith(local_stack.api_url + "/calendar-feeds/") and url.endswith(".ics")
    local_stack.settle()

    status, headers, body = plain_get(url)
    assert status == 200 and headers["content-type"] == "text/calendar; charset=utf-8"
    uid = f"{request_id}@leave.acme.example"
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "Porto"
    pending = vevents(body)[uid]
    assert (str(pending["STATUS"]), int(pending["SEQUENCE"]), pending.decoded("DTSTART")) == ("TENTATIVE", 0, start)

    assert ines.post(f"/leave-requests/{request_id}/approve").status == 200
    local_stack.settle()
    approved = vevents(plain_get(url)[2])[uid]
    assert (str(approved["STATUS"]), int(approved["SEQUENCE"])) == ("CONFIRMED", 1)

    assert rui.post(f"/leave-requests/{request_id}/cancel").status == 200
    local_stack.settle()
    assert uid not in vevents(plain_get(url)[2])

    assert rui.post(f"/calendar-feeds/{created.json['feed_id']}/revoke").status == 200
    local_stack.settle()
    gone = plain_get(url)
    unknown = plain_get(local_stack.api_url + "/calendar-feeds/" + "x" * 43 + ".ics")
    assert gone[0] == unknown[0] == 404 and gone[2] == unknown[2]


def test_rotating_retires_the_old_url(api: ApiClient, local_stack: LocalStack, porto: str) -> None:
    ines = api.as_user("ines")
    created = ines.post("/calendar-feeds", {"scope": "employee", "subject_id": "ines"}).json
    rotated = ines.post(f"/calendar-feeds/{created['feed_id']}/rotate")
    assert rotated.status == 200 and rotated.json["url"] != created["url"]
    local_stack.settle()
    assert plain_get(created["url"])[0] == 404
    status, _, body = plain_get(rotated.json["url"])
    assert status == 200 and str(icalendar.Calendar.from_ical(body)["X-WR-CALNAME"]) == "Ines: leave"
    listed = ines.get("/calendar-feeds").json["items"]
    assert [(i["feed_id"], i["status"]) for i in listed] == [(created["feed_id"], "active")]
    assert "url" not in listed[0]


def test_a_member_of_another_location_cannot_subscribe_to_this_one(api: ApiClient, porto: str) -> None:
    ana = api.as_user("ana", "admin")
    faro = ana.post("/locations", {"name": "Faro"}).json["location_id"]
    assert ana.post(f"/locations/{faro}/employees", {"employee_id": "joana", "name": "Joana"}).status == 201
    refused = api.as_user("joana").post("/calendar-feeds", {"scope": "location", "subject_id": porto})
    assert (refused.status, refused.error_code) == (403, "forbidden")
    assert api.as_user("joana").post("/calendar-feeds", {"scope": "location", "subject_id": faro}).status == 201


def test_the_feed_route_is_the_only_public_one_under_calendar_feeds(api: ApiClient) -> None:
    anonymous = ApiClient(api.base_url)
    assert anonymous.get("/calendar-feeds").status == 401
    assert anonymous.post("/calendar-feeds", {"scope": "location", "subject_id": "loc_x"}).status == 401
    assert anonymous.get("/calendar-feeds/" + "y" * 43 + ".ics").status == 404
