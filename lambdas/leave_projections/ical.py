"""iCalendar (RFC 5545) rendering of team calendars: pure functions, stdlib only.

Every line ends with CRLF and is folded at 75 octets (UTF-8, never inside a character,
continuation lines start with one space); TEXT values escape backslash, semicolon, comma and
newlines. A leave is an all-day VEVENT: `DTSTART;VALUE=DATE` is its first day and
`DTEND;VALUE=DATE` the day after its last (DTEND is exclusive). The UID is derived from the
request id only, so it stays the same across approvals, re-renders and transfers; SEQUENCE
counts the leave's changes (each event about it after the request), so it only grows.

A leave that is cancelled or denied leaves the calendar (no VEVENT with STATUS:CANCELLED):
members see only pending and approved leaves through the API, so a cancelled entry would tell
subscribers more than that; and a subscribed feed (METHOD:PUBLISH) is replaced whole on each
refresh by Google Calendar, Outlook and Apple Calendar, which drop the events it no longer has.
The header asks subscribers to refresh hourly (REFRESH-INTERVAL, RFC 7986; X-PUBLISHED-TTL for
Outlook).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

PRODID = "-//Acme//Leave Tracking//EN"
UID_DOMAIN = "leave.acme.example"
MAX_OCTETS = 75
REFRESH = "PT1H"
CALENDAR_END = "END:VCALENDAR\r\n"


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One leave on a team calendar."""

    request_id: str
    employee_name: str
    leave_type: str
    start: date
    end: date  # inclusive
    status: str  # "pending" or "approved"
    stamp: str  # ISO-8601 UTC of the leave's latest event, e.g. "2026-01-05T09:00:00Z"
    sequence: int  # how many times the leave changed since it was requested


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): `\\`, `;`, `,` and newlines escaped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """One content line, folded at 75 octets, with its CRLF (RFC 5545 3.1)."""
    parts: list[str] = []
    current, size = "", 0
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > MAX_OCTETS:
            parts.append(current)
            current, size = " ", 1
        current += char
        size += octets
    parts.append(current)
    return "\r\n".join(parts) + "\r\n"


def _date(day: date) -> str:
    return day.strftime("%Y%m%d")


def _stamp(iso: str) -> str:
    """`2026-01-05T09:00:00Z` -> `20260105T090000Z` (DATE-TIME in UTC)."""
    return iso[:19].replace("-", "").replace(":", "") + "Z"


def calendar_begin(name: str) -> str:
    """The VCALENDAR header of a team calendar named `name`."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
        f"REFRESH-INTERVAL;VALUE=DURATION:{REFRESH}",
        f"X-PUBLISHED-TTL:{REFRESH}",
    ]
    return "".join(fold(line) for line in lines)


def vevent(entry: Entry) -> str:
    """The VEVENT of one leave."""
    pending = entry.status == "pending"
    summary = f"{entry.employee_name} - {entry.leave_type}" + (" (pending)" if pending else "")
    lines = [
        "BEGIN:VEVENT",
        f"UID:{entry.request_id}@{UID_DOMAIN}",
        f"DTSTAMP:{_stamp(entry.stamp)}",
        f"DTSTART;VALUE=DATE:{_date(entry.start)}",
        f"DTEND;VALUE=DATE:{_date(entry.end + timedelta(days=1))}",
        f"SUMMARY:{escape_text(summary)}",
        f"CATEGORIES:{escape_text(entry.leave_type)}",
        f"STATUS:{'TENTATIVE' if pending else 'CONFIRMED'}",
        f"SEQUENCE:{entry.sequence}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
    ]
    return "".join(fold(line) for line in lines)


def render(name: str, entries: list[Entry]) -> str:
    """A whole VCALENDAR document."""
    return calendar_begin(name) + "".join(vevent(e) for e in entries) + CALENDAR_END
