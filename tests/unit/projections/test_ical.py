"""iCalendar rendering (RFC 5545): CRLF lines folded at 75 octets, escaped text, all-day events."""

from __future__ import annotations

from datetime import date

from leave_projections import ical

ENTRY = ical.Entry(
    request_id="john~2",
    employee_name="John Smith",
    leave_type="PTO",
    start=date(2025, 3, 3),
    end=date(2025, 3, 7),
    status="approved",
    stamp="2025-02-03T09:00:00Z",
    sequence=1,
)


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def test_every_line_ends_with_crlf_and_has_at_most_75_octets():
    text = ical.render("Lisbon " + "é" * 100, [ENTRY])
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode("utf-8")) <= 75 for line in text.split("\r\n"))


def test_folding_never_splits_a_character_and_unfolds_to_the_original():
    line = "SUMMARY:" + "€" * 40
    folded = ical.fold(line)
    assert folded.count("\r\n ") >= 1
    assert all(len(part.encode("utf-8")) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "").removesuffix("\r\n") == line


def test_a_line_of_exactly_75_octets_is_not_folded():
    assert ical.fold("X" * 75) == "X" * 75 + "\r\n"
    assert ical.fold("X" * 76) == "X" * 75 + "\r\n X\r\n"


def test_text_values_escape_backslash_semicolon_comma_and_newlines():
    assert ical.escape_text("a\\b;c,d\r\ne\nf") == "a\\\\b\\;c\\,d\\ne\\nf"
    assert "X-WR-CALNAME:Lisbon\\, PT\\; HQ" in unfold(ical.calendar_begin("Lisbon, PT; HQ"))


def test_an_approved_leave_is_a_confirmed_all_day_event_with_an_exclusive_end():
    lines = unfold(ical.vevent(ENTRY))
    assert lines[0] == "BEGIN:VEVENT" and lines[-1] == "END:VEVENT"
    assert "DTSTART;VALUE=DATE:20250303" in lines
    assert "DTEND;VALUE=DATE:20250308" in lines
    assert "DTSTAMP:20250203T090000Z" in lines
    assert "STATUS:CONFIRMED" in lines
    assert "SEQUENCE:1" in lines
    assert "SUMMARY:John Smith - PTO" in lines


def test_a_pending_leave_is_tentative_and_says_so():
    lines = unfold(ical.vevent(ical.Entry(**{**ENTRY.__dict__, "status": "pending", "sequence": 0})))
    assert "STATUS:TENTATIVE" in lines
    assert "SUMMARY:John Smith - PTO (pending)" in lines


def test_the_uid_depends_on_the_request_only():
    moved = ical.Entry(**{**ENTRY.__dict__, "status": "pending", "stamp": "2026-01-01T00:00:00Z", "sequence": 0})
    uid = [line for line in unfold(ical.vevent(ENTRY)) if line.startswith("UID:")]
    assert uid == ["UID:john~2@leave.acme.example"]
    assert uid[0] in unfold(ical.vevent(moved))


def test_a_calendar_has_the_required_properties_and_one_event_per_entry():
    lines = unfold(ical.render("Lisbon", [ENTRY, ical.Entry(**{**ENTRY.__dict__, "request_id": "john~9"})]))
    assert lines[:3] == ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{ical.PRODID}"]
    assert lines[-1] == "END:VCALENDAR"
    assert lines.count("BEGIN:VEVENT") == 2
