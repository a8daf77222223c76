"""The .ics calendar file (RFC 5545)."""

from __future__ import annotations

from datetime import UTC, datetime

from rendering.ics import appointment_ics, calendar_file, escape_text, fold, ics_filename
from storage.models_booking import Appointment, Office

START = datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
END = datetime(2027, 3, 22, 9, 0, tzinfo=UTC)
NOW = datetime(2027, 3, 19, 10, 0, tzinfo=UTC)


def unfold(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def test_event_fields():
    data = calendar_file(
        reference="KL-7F4A",
        start=START,
        end=END,
        summary="Termin Fallmanagement",
        location="Rathaus A, Markt 1, 50000 Town A",
        description="Bitte bringen Sie mit: Pass; Meldebescheinigung",
        now=NOW,
        alarm_minutes=60,
    )
    lines = unfold(data)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    for expected in (
        "VERSION:2.0",
        "METHOD:PUBLISH",
        "UID:kl-7f4a@kim-lotse",
        "DTSTAMP:20270319T100000Z",
        "DTSTART:20270322T080000Z",
        "DTEND:20270322T090000Z",
        "SEQUENCE:0",
        "STATUS:CONFIRMED",
        "SUMMARY:Termin Fallmanagement",
        "LOCATION:Rathaus A\\, Markt 1\\, 50000 Town A",
        "DESCRIPTION:Bitte bringen Sie mit: Pass\\; Meldebescheinigung",
        "TRIGGER:-PT60M",
    ):
        assert expected in lines, expected
    assert lines.count("BEGIN:VEVENT") == 1


def test_long_arabic_text_is_folded_at_75_octets_without_breaking_characters():
    description = "يرجى إحضار جواز السفر وشهادة التسجيل وجميع الرسائل من مركز العمل\nسطر ثان" * 3
    data = calendar_file(
        reference="KL-7F4A",
        start=START,
        end=END,
        summary="موعد",
        location="مكتب",
        description=description,
        now=NOW,
    )
    for raw in data.split(b"\r\n"):
        assert len(raw) <= 75
        raw.decode("utf-8")  # every physical line is valid UTF-8 on its own
    assert f"DESCRIPTION:{escape_text(description)}" in unfold(data)
    assert fold("x" * 75) == "x" * 75 and fold("x" * 76) == "x" * 75 + "\r\n x"


def test_escaping():
    assert escape_text("a\\b;c,d\ne\r\nf") == "a\\\\b\\;c\\,d\\ne\\nf"


def test_from_a_stored_appointment_and_cancelled():
    office = Office(id="o", name="Rathaus A", address="Markt 1, 50000 Town A", municipality="a")
    appt = Appointment(
        reference="KL-7F4A",
        person_id="p",
        case_manager_id="cm",
        office_id="o",
        start=START,
        end=END,
        topic="kita",
        reschedule_count=2,
    )
    lines = unfold(appointment_ics(appt, office, summary="Termin", now=NOW))
    assert "SEQUENCE:2" in lines and "LOCATION:Rathaus A\\, Markt 1\\, 50000 Town A" in lines
    appt.status = "cancelled"
    lines = unfold(appointment_ics(appt, office, summary="Termin", now=NOW, alarm_minutes=30))
    assert {"METHOD:CANCEL", "STATUS:CANCELLED", "SEQUENCE:3"} <= set(lines)
    assert "BEGIN:VALARM" not in lines
    assert ics_filename("KL-7F4A") == "Termin-KL-7F4A.ics"
