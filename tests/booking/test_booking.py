"""Booking, reference codes, conflicts (also at the same moment), cancel, move, staff, waiting list."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage import appointments as booking
from storage import calendar, people
from storage.db import session_scope
from storage.models_booking import (
    Appointment,
    Reminder,
    ReminderKind,
    WaitlistEntry,
    WaitlistStatus,
)
from tests.booking.conftest import make_person

MON = date(2027, 3, 22)
BOOK_NOW = datetime(2027, 3, 19, 10, 0, tzinfo=UTC)  # the Friday before


def utc(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def slot(engine: Engine, cm: str = "cm-ar", hour: int = 8, day: date = MON) -> calendar.Slot:
    with session_scope(engine) as s:
        found = calendar.find_slot(s, case_manager_id=cm, start=utc(day, hour), now=BOOK_NOW)
    assert found is not None
    return found


def book(engine: Engine, person_id: str, the_slot: calendar.Slot, **kw) -> Appointment:
    kw.setdefault("topic", "kita")
    kw.setdefault("now", BOOK_NOW)
    with session_scope(engine) as s:
        return booking.book(s, person_id=person_id, slot=the_slot, **kw)


def reminders(engine: Engine, appointment_id: int) -> list[Reminder]:
    with session_scope(engine) as s:
        return booking.reminders_of(s, appointment_id)


# --- reference codes -----------------------------------------------------------------------------


def test_reference_codes_are_unguessable_unambiguous_and_unused(
    cal: Engine, person: str, monkeypatch: pytest.MonkeyPatch
):
    with session_scope(cal) as s:
        codes = [booking.new_reference(s) for _ in range(300)]
    for code in codes:
        assert re.fullmatch(r"KL-[34679ACEFGHJKMNPRTWXY]{8}", code), code
    assert not set("01258BDILOQSUVZ") & set(booking.REFERENCE_ALPHABET)
    assert len(booking.REFERENCE_ALPHABET) ** 8 > 10**10  # guessing one is hopeless
    taken = book(cal, person, slot(cal))
    script = iter(taken.reference[3:] + "44444444")
    monkeypatch.setattr(booking.secrets, "choice", lambda alphabet: next(script))
    with session_scope(cal) as s:
        assert booking.new_reference(s) == "KL-44444444"  # the code in use was drawn first, skipped


def test_references_as_people_type_them():
    assert booking.normalize_reference("kl-7f4a") == "KL-7F4A"
    assert booking.normalize_reference(" KL 7F4A ") == "KL-7F4A"
    assert booking.normalize_reference("7f4a") == "KL-7F4A"
    assert booking.normalize_reference("KL-0O1I") is None
    assert booking.normalize_reference("kl-7f4a 9kmn") == "KL-7F4A9KMN"
    assert booking.normalize_reference("hello") is None


# --- booking ---------------------------------------------------------------------------------------


def test_booking_writes_the_appointment_and_two_reminders(cal: Engine, person: str):
    appt = book(cal, person, slot(cal), people_count=4, interpreter_language="ar", language="ar")
    assert appt.id is not None and appt.status == "booked"
    assert (appt.start, appt.end) == (utc(MON, 8), utc(MON, 9))
    assert appt.people_count == 4 and appt.interpreter_language == "ar"
    rows = reminders(cal, appt.id)
    assert [(r.kind, r.offset_minutes, r.due_at, r.status, r.language) for r in rows] == [
        ("reminder", 2880, utc(MON, 8) - timedelta(days=2), "pending", "ar"),
        ("reminder", 120, utc(MON, 6), "pending", "ar"),
    ]
    with session_scope(cal) as s:
        assert [a.reference for a in booking.appointments_of(s, person)] == [appt.reference]


def test_booked_late_gets_only_the_reminders_still_ahead(cal: Engine, person: str):
    sunday = datetime(2027, 3, 21, 12, 0, tzinfo=UTC)
    appt = book(cal, person, slot(cal), now=sunday)
    assert [r.offset_minutes for r in reminders(cal, appt.id or 0)] == [120]


def test_reminder_offsets_are_settings(cal: Engine, person: str):
    cfg = calendar.BookingConfig(reminder_offsets=(timedelta(days=1),))
    appt = book(cal, person, slot(cal), config=cfg)
    assert [r.due_at for r in reminders(cal, appt.id or 0)] == [utc(MON, 8) - timedelta(days=1)]


def test_a_taken_slot_raises_slot_taken_and_a_double_click_is_harmless(
    cal: Engine, person: str, other: str
):
    first = book(cal, person, slot(cal))
    with pytest.raises(booking.SlotTaken):
        book(cal, other, first_slot(first))
    again = book(cal, person, first_slot(first))
    assert again.id == first.id
    with session_scope(cal) as s:
        assert len(s.exec(select(Appointment)).all()) == 1


def first_slot(appt: Appointment) -> calendar.Slot:
    return booking.slot_of(appt)


def test_tampered_or_stale_slots_are_refused(cal: Engine, person: str):
    good = slot(cal)
    fake = calendar.Slot(utc(MON, 8).replace(minute=30), "cm-ar", "office-a", utc(MON, 9))
    with pytest.raises(booking.SlotUnavailable):
        book(cal, person, fake)
    wrong_office = calendar.Slot(good.start, "cm-ar", "office-c", good.end)
    with pytest.raises(booking.SlotUnavailable):
        book(cal, person, wrong_office)
    with pytest.raises(booking.SlotUnavailable):
        book(cal, person, good, now=utc(MON, 7))  # too soon now
    with pytest.raises(ValueError):
        book(cal, person, good, people_count=0)
    with pytest.raises(ValueError):
        book(cal, person, good, people_count=11)


def test_one_person_holds_at_most_three_upcoming_appointments(cal: Engine, person: str):
    for hour in (8, 9, 10):
        book(cal, person, slot(cal, hour=hour))
    with pytest.raises(booking.TooManyAppointments):
        book(cal, person, slot(cal, cm="cm-fa", hour=8))


def test_cancelling_removes_reminders_and_frees_the_slot(cal: Engine, person: str, other: str):
    appt = book(cal, person, slot(cal))
    with session_scope(cal) as s, pytest.raises(booking.AppointmentNotFound):
        booking.cancel(s, person_id=other, reference=appt.reference, now=BOOK_NOW)
    with session_scope(cal) as s:
        cancelled = booking.cancel(s, person_id=person, reference=appt.reference, now=BOOK_NOW)
        assert cancelled.status == "cancelled" and cancelled.cancelled_at == BOOK_NOW
    assert reminders(cal, appt.id or 0) == []
    with session_scope(cal) as s, pytest.raises(booking.NotChangeable):
        booking.cancel(s, person_id=person, reference=appt.reference, now=BOOK_NOW)
    taken_over = book(cal, other, booking.slot_of(appt))  # the partial index lets it be booked again
    assert taken_over.reference != appt.reference


def test_reschedule_moves_atomically_and_rewrites_reminders(cal: Engine, person: str, other: str):
    appt = book(cal, person, slot(cal))
    blocker = book(cal, other, slot(cal, hour=9))
    with session_scope(cal) as s, pytest.raises(booking.SlotTaken):
        booking.reschedule(
            s, person_id=person, reference=appt.reference, slot=booking.slot_of(blocker), now=BOOK_NOW
        )
    with session_scope(cal) as s:
        unchanged = s.get(Appointment, appt.id)
        assert unchanged is not None and unchanged.start == utc(MON, 8)
    assert len(reminders(cal, appt.id or 0)) == 2
    with session_scope(cal) as s, pytest.raises(booking.AppointmentNotFound):
        booking.reschedule(
            s, person_id=other, reference=appt.reference, slot=slot(cal, hour=10), now=BOOK_NOW
        )
    later = datetime(2027, 3, 21, 9, 0, tzinfo=UTC)  # two days before is already past for Monday
    with session_scope(cal) as s:
        moved, freed = booking.reschedule(
            s, person_id=person, reference=appt.reference, slot=slot(cal, hour=10), now=later
        )
        assert moved.reference == appt.reference and moved.start == utc(MON, 10)
        assert moved.reschedule_count == 1 and freed.start == utc(MON, 8)
    assert [(r.offset_minutes, r.due_at) for r in reminders(cal, appt.id or 0)] == [(120, utc(MON, 8))]
    assert book(cal, make_person(cal), freed).start == utc(MON, 8)  # the old slot is free again


def test_two_people_confirming_at_the_same_moment_one_wins(cal: Engine, monkeypatch: pytest.MonkeyPatch):
    """Both pass the availability check before either writes; the database lets exactly one win."""
    contenders = [make_person(cal) for _ in range(2)]
    target = slot(cal)
    barrier = threading.Barrier(2, timeout=20)
    original = booking._validate_slot

    def validate_then_wait(*args, **kwargs):
        result = original(*args, **kwargs)
        barrier.wait()  # both have seen the slot free
        return result

    monkeypatch.setattr(booking, "_validate_slot", validate_then_wait)
    outcomes: dict[str, str] = {}

    def confirm(pid: str) -> None:
        try:
            book(cal, pid, target)
            outcomes[pid] = "booked"
        except booking.SlotTaken:
            outcomes[pid] = "taken"

    threads = [threading.Thread(target=confirm, args=(pid,)) for pid in contenders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["booked", "taken"]
    with session_scope(cal) as s:
        holders = s.exec(select(Appointment).where(Appointment.status == "booked")).all()
        assert len(holders) == 1
        assert len(s.exec(select(Reminder)).all()) == 2  # only the winner's reminders


def test_many_people_racing_for_one_slot(cal: Engine):
    contenders = [make_person(cal) for _ in range(6)]
    target = slot(cal)
    start = threading.Barrier(len(contenders), timeout=20)
    outcomes: list[str] = []

    def confirm(pid: str) -> None:
        start.wait()
        try:
            book(cal, pid, target)
            outcomes.append("booked")
        except booking.SlotTaken:
            outcomes.append("taken")

    threads = [threading.Thread(target=confirm, args=(pid,)) for pid in contenders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["booked"] + ["taken"] * 5


def test_slot_index_is_partial_on_both_databases(cal: Engine, person: str, other: str):
    appt = book(cal, person, slot(cal))
    with cal.connect() as conn:
        if cal.dialect.name == "postgresql":
            ddl = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_appointment_slot'")
            ).scalar_one()
        else:
            ddl = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'uq_appointment_slot'")
            ).scalar_one()
    assert "UNIQUE" in ddl.upper() and "cancelled" in ddl
    with session_scope(cal) as s:  # a raw duplicate insert is refused by the database itself
        dup = Appointment(
            reference="KL-TEST",
            person_id=other,
            case_manager_id="cm-ar",
            office_id="office-a",
            start=appt.start,
            end=appt.end,
            topic="kita",
        )
        s.add(dup)
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            s.flush()
        s.rollback()


# --- staff -------------------------------------------------------------------------------------------


def test_cancel_day_cancels_everyone_tells_them_and_closes_the_day(cal: Engine):
    a = book(cal, make_person(cal, "ar"), slot(cal, hour=8), language="ar")
    b = book(cal, make_person(cal, "en"), slot(cal, hour=9), language="en")
    c = book(cal, make_person(cal), slot(cal, cm="cm-fa", hour=8))  # a colleague: unaffected
    with session_scope(cal) as s:
        affected = booking.cancel_day(s, case_manager_id="cm-ar", day=MON, reason="krank", now=BOOK_NOW)
        assert [x.reference for x in affected] == [a.reference, b.reference]
        assert {x.language for x in affected} == {"ar", "en"}
    for appt in (a, b):
        rows = reminders(cal, appt.id or 0)
        assert [(r.kind, r.due_at, r.language) for r in rows] == [
            (ReminderKind.CANCELLATION, BOOK_NOW, appt.language)
        ]
    assert len(reminders(cal, c.id or 0)) == 2
    with session_scope(cal) as s:
        assert calendar.free_slots(s, case_manager_id="cm-ar", start=MON, days=1, now=BOOK_NOW) == []
        listed = booking.appointments_on(s, office_id="office-a", day=MON)
        assert [x.reference for x in listed] == [c.reference]
        everything = booking.appointments_on(s, office_id="office-a", day=MON, include_cancelled=True)
        assert len(everything) == 3


def test_no_show_only_after_the_start(cal: Engine, person: str):
    appt = book(cal, person, slot(cal))
    with session_scope(cal) as s, pytest.raises(booking.NotChangeable):
        booking.mark_no_show(s, reference=appt.reference, now=BOOK_NOW)
    with session_scope(cal) as s:
        marked = booking.mark_no_show(s, reference=appt.reference.lower(), now=utc(MON, 8))
        assert marked.status == "no_show"
    with session_scope(cal) as s, pytest.raises(booking.AppointmentNotFound):
        booking.mark_no_show(s, reference="KL-XXXX", now=utc(MON, 8))
    assert book(cal, make_person(cal), slot(cal, hour=9)).status == "booked"


# --- waiting list ------------------------------------------------------------------------------------


def test_waiting_list_is_first_come_first_served(cal: Engine, person: str, other: str):
    third = make_person(cal)
    with session_scope(cal) as s:
        first = booking.join_waitlist(
            s, person_id=person, topic="kita", municipality="town-b", now=BOOK_NOW
        )
        same = booking.join_waitlist(
            s, person_id=person, topic="kita", municipality="town-b", now=BOOK_NOW
        )
        assert same.id == first.id
        booking.join_waitlist(
            s, person_id=other, topic="kita", office_id="office-a", now=BOOK_NOW + timedelta(minutes=1)
        )
        booking.join_waitlist(
            s, person_id=third, topic="kita", office_id="office-c", now=BOOK_NOW + timedelta(minutes=2)
        )
        booking.join_waitlist(
            s,
            person_id=third,
            topic="residence",
            municipality="town-a",
            now=BOOK_NOW + timedelta(minutes=3),
        )
    freed = slot(cal)  # at office-a, which serves town-a and town-b
    with session_scope(cal) as s:
        matches = booking.waitlist_matches(s, slot=freed, topic="kita")
        assert [m.person_id for m in matches] == [person, other]
        booking.mark_waitlist_notified(s, [m.id for m in matches if m.id], now=BOOK_NOW)
    with session_scope(cal) as s:
        assert booking.waitlist_matches(s, slot=freed, topic="kita") == []
        assert [m.topic for m in booking.waitlist_matches(s, slot=freed)] == ["residence"]
        kita_only = slot(cal, cm="cm-fa")  # this case manager handles only kita
        assert booking.waitlist_matches(s, slot=kita_only) == []
    book(cal, person, freed, topic="kita")  # booking closes the person's entries for the topic
    with session_scope(cal) as s:
        entry = s.get(WaitlistEntry, first.id)
        assert entry is not None and entry.status == WaitlistStatus.BOOKED
        assert not booking.leave_waitlist(s, person_id=other, entry_id=first.id or 0)


# --- privacy -------------------------------------------------------------------------------------


def test_erasing_a_person_erases_appointments_reminders_and_waiting(cal: Engine, person: str):
    appt = book(cal, person, slot(cal))
    with session_scope(cal) as s:
        booking.join_waitlist(s, person_id=person, topic="kita", now=BOOK_NOW)
        exported = booking.export_of(s, person)
        assert exported["appointments"][0]["reference"] == appt.reference
        assert len(exported["appointments"][0]["reminders"]) == 2
        assert exported["waiting_list"][0]["topic"] == "kita"
    with session_scope(cal) as s:
        assert people.erase_person(session=s, person_id=person)
    with Session(cal) as s:
        assert s.exec(select(Appointment)).all() == []
        assert s.exec(select(Reminder)).all() == []
        assert s.exec(select(WaitlistEntry)).all() == []
