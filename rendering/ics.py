"""An iCalendar (RFC 5545) file for an appointment, written by hand (no dependency).

Times are written in UTC (``DTSTART:20270322T080000Z``), which every calendar shows in the reader's own
time zone and which needs no ``VTIMEZONE`` block. The UID is derived from the reference code, and
``SEQUENCE`` is the number of times the appointment was moved, so a calendar app updates the event it
already has when the person imports the file again after rescheduling (or cancelling, ``cancelled``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from storage.db import utcnow
from storage.models_booking import Appointment, Office

PRODID = "-//KIM Lotse//Termine//DE"
UID_DOMAIN = "kim-lotse"
MEDIA_TYPE = "text/calendar; charset=utf-8"
_MAX_OCTETS = 75


def escape_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and line breaks."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line into lines of at most 75 octets (§3.1), never inside a UTF-8 character."""
    parts: list[str] = []
    current, size, limit = "", 0, _MAX_OCTETS
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            parts.append(current)
            current, size, limit = "", 0, _MAX_OCTETS - 1  # continuation lines start with a space
        current += ch
        size += n
    parts.append(current)
    return "\r\n ".join(parts)


def _stamp(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_file(
    *,
    reference: str,
    start: datetime,
    end: datetime,
    summary: str,
    location: str,
    description: str = "",
    sequence: int = 0,
    cancelled: bool = False,
    alarm_minutes: int | None = None,
    now: datetime | None = None,
) -> bytes:
    """An ``.ics`` file (UTF-8, CRLF) with one event; texts are passed in the person's language."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancelled else 'PUBLISH'}",
        "BEGIN:VEVENT",
        f"UID:{reference.lower()}@{UID_DOMAIN}",
        f"DTSTAMP:{_stamp(now or utcnow())}",
        f"DTSTART:{_stamp(start)}",
        f"DTEND:{_stamp(end)}",
        f"SEQUENCE:{sequence}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        f"SUMMARY:{escape_text(summary)}",
        f"LOCATION:{escape_text(location)}",
    ]
    if description:
        lines.append(f"DESCRIPTION:{escape_text(description)}")
    if alarm_minutes is not None and not cancelled:
        lines += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{escape_text(summary)}",
            f"TRIGGER:-PT{int(alarm_minutes)}M",
            "END:VALARM",
        ]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return ("\r\n".join(fold(line) for line in lines) + "\r\n").encode("utf-8")


def appointment_ics(
    appointment: Appointment,
    office: Office,
    *,
    summary: str,
    description: str = "",
    alarm_minutes: int | None = None,
    now: datetime | None = None,
) -> bytes:
    """The ``.ics`` file of a stored appointment at ``office`` (LOCATION: office name and address)."""
    cancelled = appointment.status == "cancelled"
    return calendar_file(
        reference=appointment.reference,
        start=appointment.start,
        end=appointment.end,
        summary=summary,
        location=f"{office.name}, {office.address}",
        description=description,
        sequence=appointment.reschedule_count + (1 if cancelled else 0),
        cancelled=cancelled,
        alarm_minutes=alarm_minutes,
        now=now,
    )


def ics_filename(reference: str) -> str:
    """A file name for the attachment, e.g. ``Termin-KL-7F3A.ics``."""
    return f"Termin-{reference}.ics"
