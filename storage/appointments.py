"""Booking, cancelling and moving appointments, staff actions, reminders rows and the waiting list.

Every function works inside the caller's session (one unit of work, ``storage.db.session_scope``);
it flushes but never commits. Person-facing functions take the ``person_id`` of whoever is asking and
only ever touch that person's appointments: an unknown reference and someone else's reference raise the
same ``AppointmentNotFound`` (no information leaks from tampered button payloads).

Two people can never hold the same slot: the partial unique index ``uq_appointment_slot`` on
(case manager, start) of slot-holding appointments decides, on SQLite and PostgreSQL, even when both
confirm at the same moment; the loser gets ``SlotTaken``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, col, select

from storage.calendar import (
    DEFAULT_CONFIG,
    BookingConfig,
    Slot,
    add_absence,
    find_slot,
    free_slots,
    local_day_bounds,
    to_local,
)
from storage.db import utcnow
from storage.models_booking import (
    SLOT_HOLDING,
    Appointment,
    AppointmentStatus,
    Reminder,
    ReminderKind,
    ReminderStatus,
    WaitlistEntry,
    WaitlistStatus,
)

logger = logging.getLogger(__name__)

# No 0/O/D/Q, 1/I/L, 2/Z, 5/S, 8/B, U/V: nothing two people could read differently over the phone.
REFERENCE_ALPHABET = "34679ACEFGHJKMNPRTWXY"
# 21^8 ≈ 3.8 · 10^10 codes: guessing someone's appointment is hopeless (and it is checked to be theirs
# anyway); still short enough to read out. Codes issued before had four characters and stay valid.
_REFERENCE_LENGTH = 8


class BookingError(Exception):
    """Base class of the booking errors the chat side turns into messages."""


class SlotUnavailable(BookingError):
    """The slot is not (or no longer) bookable: outside office hours, a holiday, absent, past."""


class SlotTaken(SlotUnavailable):
    """Someone else booked the slot first."""


class AppointmentNotFound(BookingError):
    """No such appointment for this person (also when it belongs to someone else)."""


class NotChangeable(BookingError):
    """The appointment is cancelled, over, or otherwise cannot be changed this way."""


class TooManyAppointments(BookingError):
    """The person already holds ``max_active_per_person`` upcoming appointments."""


class Rescheduled(NamedTuple):
    """The moved appointment and the slot it freed (offer it to the waiting list)."""

    appointment: Appointment
    freed: Slot


# --- reference codes ---------------------------------------------------------------------------------


def new_reference(session: Session, *, prefix: str = DEFAULT_CONFIG.reference_prefix) -> str:
    """A fresh, unused reference code such as ``KL-7F3A9KMN``."""
    length = _REFERENCE_LENGTH
    for _ in range(20):
        code = f"{prefix}-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(length))
        if session.exec(select(Appointment.id).where(Appointment.reference == code)).first() is None:
            return code
    raise RuntimeError("no free reference code found")  # pragma: no cover - 21^6 codes


def normalize_reference(text: str, *, prefix: str = DEFAULT_CONFIG.reference_prefix) -> str | None:
    """A reference as typed ("kl 7f3a", "7F3A", "KL-7F3A") in canonical form, or None if not one."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    if raw.startswith(prefix):
        raw = raw[len(prefix) :]
    if not 4 <= len(raw) <= 8 or any(ch not in REFERENCE_ALPHABET for ch in raw):
        return None
    return f"{prefix}-{raw}"


# --- reminders rows ------------------------------------------------------------------------------------


def _write_reminders(
    session: Session, appointment: Appointment, *, now: datetime, config: BookingConfig
) -> list[Reminder]:
    """One pending reminder per configured offset that still lies in the future."""
    assert appointment.id is not None
    rows = []
    for offset in sorted(config.reminder_offsets, reverse=True):
        due = appointment.start - offset
        if due <= now:
            continue  # booked too late for this one: the confirmation tells the person already
        rows.append(
            Reminder(
                appointment_id=appointment.id,
                kind=ReminderKind.REMINDER,
                offset_minutes=int(offset.total_seconds() // 60),
                due_at=due,
                language=appointment.language,
            )
        )
    session.add_all(rows)
    return rows


def _drop_open_reminders(session: Session, appointment_id: int) -> int:
    """Delete the reminders of an appointment that nobody has started sending."""
    result = session.exec(
        delete(Reminder).where(
            col(Reminder.appointment_id) == appointment_id,
            col(Reminder.status).in_([ReminderStatus.PENDING, ReminderStatus.CLAIMED]),
        )
    )
    return int(result.rowcount or 0)


def reminders_of(session: Session, appointment_id: int) -> list[Reminder]:
    """All reminder rows of an appointment, by due time."""
    return list(
        session.exec(
            select(Reminder)
            .where(Reminder.appointment_id == appointment_id)
            .order_by(col(Reminder.due_at), col(Reminder.id))
        ).all()
    )


# --- booking -------------------------------------------------------------------------------------------


def _slot_holder(session: Session, slot: Slot) -> Appointment | None:
    return session.exec(
        select(Appointment).where(
            Appointment.case_manager_id == slot.case_manager_id,
            Appointment.start == slot.start,
            Appointment.status != AppointmentStatus.CANCELLED,
        )
    ).first()


def _validate_slot(
    session: Session,
    slot: Slot,
    *,
    now: datetime,
    config: BookingConfig,
    exclude_appointment_id: int | None = None,
) -> Slot:
    """The slot re-derived from the calendar (never trust a payload), or SlotTaken/SlotUnavailable."""
    fresh = find_slot(
        session,
        case_manager_id=slot.case_manager_id,
        start=slot.start,
        now=now,
        office_id=slot.office_id,
        config=config,
        exclude_appointment_id=exclude_appointment_id,
    )
    if fresh is not None:
        return fresh
    if _slot_holder(session, slot) is not None:
        raise SlotTaken(slot.key)
    raise SlotUnavailable(slot.key)


def _insert_unless_taken(session: Session, appointment: Appointment) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING on the slot index: the new id, or None if the slot is held.

    The database decides a race (PostgreSQL waits for the other transaction, SQLite has one writer),
    and nothing is aborted, so the caller's unit of work stays usable after ``SlotTaken``.
    """
    table = Appointment.__table__  # type: ignore[attr-defined]
    values = appointment.model_dump(exclude={"id"})
    conflict: dict[str, Any] = {
        "index_elements": ["case_manager_id", "start"],
        "index_where": text(SLOT_HOLDING),
    }
    stmt: Insert = (
        pg_insert(table).values(**values).on_conflict_do_nothing(**conflict)
        if session.get_bind().dialect.name == "postgresql"
        else sqlite_insert(table).values(**values).on_conflict_do_nothing(**conflict)
    )
    session.flush()
    new_id = session.exec(stmt.returning(table.c.id)).scalar_one_or_none()
    return int(new_id) if new_id is not None else None


def _savepoint_on_postgres(session: Session) -> AbstractContextManager[object]:
    # PostgreSQL aborts the whole transaction on a unique violation unless a savepoint catches it.
    # (SQLite aborts only the statement, and pysqlite's savepoints would commit early.)
    if session.get_bind().dialect.name == "postgresql":
        return session.begin_nested()
    return nullcontext()


def book(
    session: Session,
    *,
    person_id: str,
    slot: Slot,
    topic: str,
    people_count: int = 1,
    interpreter_language: str | None = None,
    language: str | None = None,
    now: datetime,
    config: BookingConfig = DEFAULT_CONFIG,
) -> Appointment:
    """Book ``slot`` for a person; writes its reminders and closes their waiting-list entries for it.

    Raises ``SlotTaken`` when someone else holds the slot (also when both confirm at the same moment),
    ``SlotUnavailable`` when the calendar no longer offers it, ``TooManyAppointments``, or
    ``ValueError`` for a bad ``people_count``/``topic``. Pressing "confirm" twice returns the
    person's existing appointment for that slot instead of failing.
    """
    if not 1 <= people_count <= config.max_people:
        raise ValueError(f"people_count must be 1 … {config.max_people}")
    if not topic or len(topic) > 32:
        raise ValueError("topic must be 1 … 32 characters")
    holder = _slot_holder(session, slot)
    if (
        holder is not None
        and holder.person_id == person_id
        and holder.status == AppointmentStatus.BOOKED
    ):
        return holder  # a double click on "confirm"
    fresh = _validate_slot(session, slot, now=now, config=config)
    upcoming = session.exec(
        select(Appointment.id).where(
            Appointment.person_id == person_id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.start > now,
        )
    ).all()
    if len(upcoming) >= config.max_active_per_person:
        raise TooManyAppointments(str(len(upcoming)))
    candidate = Appointment(
        reference=new_reference(session, prefix=config.reference_prefix),
        person_id=person_id,
        case_manager_id=fresh.case_manager_id,
        office_id=fresh.office_id,
        start=fresh.start,
        end=fresh.end,
        topic=topic,
        people_count=people_count,
        interpreter_language=interpreter_language,
        language=language,
        created_at=now,
        updated_at=now,
    )
    new_id = _insert_unless_taken(session, candidate)
    if new_id is None:
        logger.info("slot %s taken by a concurrent booking", slot.key)
        raise SlotTaken(slot.key)
    appointment = session.get(Appointment, new_id)
    assert appointment is not None
    _write_reminders(session, appointment, now=now, config=config)
    _close_waitlist(session, person_id=person_id, topic=topic, status=WaitlistStatus.BOOKED)
    session.flush()
    logger.info(
        "booked %s: %s at %s, %s", appointment.reference, fresh.case_manager_id, fresh.start, topic
    )
    return appointment


def appointments_of(
    session: Session, person_id: str, *, upcoming_from: datetime | None = None
) -> list[Appointment]:
    """A person's booked appointments (only those ending after ``upcoming_from`` if given), by time."""
    q = select(Appointment).where(
        Appointment.person_id == person_id, Appointment.status == AppointmentStatus.BOOKED
    )
    if upcoming_from is not None:
        q = q.where(Appointment.end > upcoming_from)
    return list(session.exec(q.order_by(col(Appointment.start))).all())


def own_appointment(session: Session, *, person_id: str, reference: str) -> Appointment:
    """The person's appointment with this reference; ``AppointmentNotFound`` if it is not theirs."""
    ref = normalize_reference(reference) or reference
    appointment = session.exec(select(Appointment).where(Appointment.reference == ref)).first()
    if appointment is None or appointment.person_id != person_id:
        raise AppointmentNotFound(reference)
    return appointment


def get_by_reference(session: Session, reference: str) -> Appointment | None:
    """Any appointment by reference (staff only: no ownership check)."""
    ref = normalize_reference(reference) or reference
    return session.exec(select(Appointment).where(Appointment.reference == ref)).first()


def slot_of(appointment: Appointment) -> Slot:
    """The slot an appointment holds (or held)."""
    return Slot(appointment.start, appointment.case_manager_id, appointment.office_id, appointment.end)


def _cancel(session: Session, appointment: Appointment, *, now: datetime, reason: str) -> None:
    assert appointment.id is not None
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancel_reason = reason[:200]
    appointment.cancelled_at = now
    appointment.updated_at = now
    session.add(appointment)
    _drop_open_reminders(session, appointment.id)


def cancel(
    session: Session, *, person_id: str, reference: str, now: datetime, reason: str = "person"
) -> Appointment:
    """The person cancels their upcoming appointment; its open reminders are removed.

    Returns the cancelled appointment (``slot_of`` it is free again: offer it to ``waitlist_matches``).
    Raises ``AppointmentNotFound`` or ``NotChangeable`` (already cancelled, or already begun).
    """
    appointment = own_appointment(session, person_id=person_id, reference=reference)
    if appointment.status != AppointmentStatus.BOOKED or appointment.start <= now:
        raise NotChangeable(appointment.reference)
    _cancel(session, appointment, now=now, reason=reason)
    session.flush()
    logger.info("cancelled %s (%s)", appointment.reference, reason)
    return appointment


def reschedule(
    session: Session,
    *,
    person_id: str,
    reference: str,
    slot: Slot,
    now: datetime,
    config: BookingConfig = DEFAULT_CONFIG,
) -> Rescheduled:
    """Move the person's appointment to ``slot``, atomically; reminders are rewritten.

    The appointment keeps its reference; one UPDATE claims the new slot and frees the old one, so the
    person never holds neither: if the new slot is taken (``SlotTaken``/``SlotUnavailable``) the old
    appointment stays exactly as it was.
    """
    appointment = own_appointment(session, person_id=person_id, reference=reference)
    if appointment.status != AppointmentStatus.BOOKED or appointment.start <= now:
        raise NotChangeable(appointment.reference)
    assert appointment.id is not None
    freed = slot_of(appointment)
    if (slot.case_manager_id, slot.start) == (freed.case_manager_id, freed.start):
        return Rescheduled(appointment, freed)  # nothing to move
    fresh = _validate_slot(session, slot, now=now, config=config, exclude_appointment_id=appointment.id)
    table = Appointment.__table__  # type: ignore[attr-defined]
    other = table.alias("other")
    holder_exists = (
        select(other.c.id)
        .where(
            other.c.case_manager_id == fresh.case_manager_id,
            other.c.start == fresh.start,
            other.c.status != AppointmentStatus.CANCELLED,
            other.c.id != appointment.id,
        )
        .exists()
    )
    move = (
        update(table)
        .where(table.c.id == appointment.id, table.c.status == AppointmentStatus.BOOKED, ~holder_exists)
        .values(
            case_manager_id=fresh.case_manager_id,
            office_id=fresh.office_id,
            start=fresh.start,
            end=fresh.end,
            reschedule_count=table.c.reschedule_count + 1,
            updated_at=now,
        )
    )
    session.flush()
    try:
        with _savepoint_on_postgres(session):
            moved = session.exec(move).rowcount
    except IntegrityError as exc:  # a concurrent booking of the new slot, not yet committed
        raise SlotTaken(slot.key) from exc
    if moved != 1:
        raise SlotTaken(slot.key)
    session.refresh(appointment)
    _drop_open_reminders(session, appointment.id)
    _write_reminders(session, appointment, now=now, config=config)
    session.flush()
    logger.info("moved %s from %s to %s", appointment.reference, freed.start, fresh.start)
    return Rescheduled(appointment, freed)


# --- staff ---------------------------------------------------------------------------------------------


def appointments_on(
    session: Session, *, office_id: str, day: date, include_cancelled: bool = False
) -> list[Appointment]:
    """The appointments at an office on a (Europe/Berlin) day, by time."""
    day_start, day_end = local_day_bounds(day)
    q = select(Appointment).where(
        Appointment.office_id == office_id, Appointment.start >= day_start, Appointment.start < day_end
    )
    if not include_cancelled:
        q = q.where(Appointment.status != AppointmentStatus.CANCELLED)
    return list(session.exec(q.order_by(col(Appointment.start))).all())


def mark_no_show(session: Session, *, reference: str, now: datetime) -> Appointment:
    """Staff: nobody came. Only for a booked appointment that has begun; ``AppointmentNotFound`` else."""
    appointment = get_by_reference(session, reference)
    if appointment is None:
        raise AppointmentNotFound(reference)
    if appointment.status != AppointmentStatus.BOOKED or appointment.start > now:
        raise NotChangeable(appointment.reference)
    appointment.status = AppointmentStatus.NO_SHOW
    appointment.updated_at = now
    session.add(appointment)
    session.flush()
    logger.info("no-show %s", appointment.reference)
    return appointment


def cancel_by_staff(
    session: Session, *, reference: str, now: datetime, reason: str, notify: bool = True
) -> Appointment:
    """Staff cancel one appointment; with ``notify`` a cancellation notice row is queued for it."""
    appointment = get_by_reference(session, reference)
    if appointment is None:
        raise AppointmentNotFound(reference)
    if appointment.status != AppointmentStatus.BOOKED or appointment.start <= now:
        raise NotChangeable(appointment.reference)
    _cancel(session, appointment, now=now, reason=reason)
    if notify:
        _queue_cancellation_notice(session, appointment, now=now)
    session.flush()
    return appointment


def _queue_cancellation_notice(session: Session, appointment: Appointment, *, now: datetime) -> None:
    assert appointment.id is not None
    session.add(
        Reminder(
            appointment_id=appointment.id,
            kind=ReminderKind.CANCELLATION,
            due_at=now,
            language=appointment.language,
        )
    )


def cancel_day(
    session: Session,
    *,
    day: date,
    reason: str,
    now: datetime,
    case_manager_id: str | None = None,
    office_id: str | None = None,
    notify: bool = True,
    by: str = "staff",
) -> list[Appointment]:
    """Staff cancel a case manager's (or an office's) day: an absence plus every booked appointment.

    The absence keeps the day's slots from being offered again. Returns the cancelled appointments so
    the caller can tell people and offer new slots. With ``notify`` (default) each gets a queued
    ``cancellation`` row that the reminder dispatcher delivers (from any process, exactly once); pass
    ``notify=False`` if the caller sends the notices itself.
    """
    add_absence(
        session,
        start_date=day,
        end_date=day,
        reason=reason,
        case_manager_id=case_manager_id,
        office_id=office_id,
        by=by,
    )
    day_start, day_end = local_day_bounds(day)
    q = select(Appointment).where(
        Appointment.status == AppointmentStatus.BOOKED,
        Appointment.start >= max(day_start, now),
        Appointment.start < day_end,
    )
    if case_manager_id is not None:
        q = q.where(Appointment.case_manager_id == case_manager_id)
    else:
        q = q.where(Appointment.office_id == office_id)
    affected = list(session.exec(q.order_by(col(Appointment.start))).all())
    for appointment in affected:
        _cancel(session, appointment, now=now, reason=reason)
        if notify:
            _queue_cancellation_notice(session, appointment, now=now)
    session.flush()
    logger.info(
        "cancelled day %s of %s: %d appointments", day, case_manager_id or office_id, len(affected)
    )
    return affected


# --- waiting list -----------------------------------------------------------------------------------


def join_waitlist(
    session: Session,
    *,
    person_id: str,
    topic: str,
    now: datetime,
    municipality: str | None = None,
    office_id: str | None = None,
    language: str | None = None,
) -> WaitlistEntry:
    """Put a person on the waiting list for a topic (at an office or in a municipality); idempotent."""
    existing = session.exec(
        select(WaitlistEntry).where(
            WaitlistEntry.person_id == person_id,
            WaitlistEntry.topic == topic,
            WaitlistEntry.status == WaitlistStatus.WAITING,
            WaitlistEntry.office_id == office_id,
            WaitlistEntry.municipality == municipality,
        )
    ).first()
    if existing is not None:
        return existing
    entry = WaitlistEntry(
        person_id=person_id,
        topic=topic,
        office_id=office_id,
        municipality=municipality,
        language=language,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


def waitlist_of(session: Session, person_id: str) -> list[WaitlistEntry]:
    """A person's open waiting-list entries."""
    return list(
        session.exec(
            select(WaitlistEntry).where(
                WaitlistEntry.person_id == person_id,
                col(WaitlistEntry.status).in_([WaitlistStatus.WAITING, WaitlistStatus.NOTIFIED]),
            )
        ).all()
    )


def leave_waitlist(session: Session, *, person_id: str, entry_id: int) -> bool:
    """The person withdraws one of their waiting-list entries; False if it is not theirs or closed."""
    entry = session.get(WaitlistEntry, entry_id)
    if entry is None or entry.person_id != person_id or entry.status == WaitlistStatus.WITHDRAWN:
        return False
    entry.status = WaitlistStatus.WITHDRAWN
    session.add(entry)
    return True


def _close_waitlist(session: Session, *, person_id: str, topic: str, status: str) -> None:
    for entry in waitlist_of(session, person_id):
        if entry.topic == topic:
            entry.status = status
            session.add(entry)


def _entry_filter(entry: WaitlistEntry) -> dict[str, Any]:
    """What the calendar is asked for this waiting person: the one matching rule of the waiting list."""
    return {"topic": entry.topic, "office_id": entry.office_id, "municipality": entry.municipality}


def slot_suits(session: Session, entry: WaitlistEntry, slot: Slot, *, now: datetime) -> bool:
    """Whether the calendar would offer ``slot`` to this waiting person (office or town, topic)."""
    day = to_local(slot.start).date()
    return any(
        s.start == slot.start
        for s in free_slots(
            session,
            start=day,
            days=1,
            now=now,
            case_manager_id=slot.case_manager_id,
            **_entry_filter(entry),
        )
    )


def waitlist_matches(
    session: Session,
    *,
    slot: Slot,
    topic: str | None = None,
    limit: int = 5,
    now: datetime | None = None,
) -> list[WaitlistEntry]:
    """Waiting people a freed ``slot`` suits, first come first served (not yet notified).

    An entry matches when the calendar would offer it the slot (``slot_suits``: its office or a
    municipality the office serves, a case manager who handles its topic) and, if ``topic`` is given,
    has that topic. Tell them (the first to book gets it), then call ``mark_waitlist_notified``.
    """
    q = select(WaitlistEntry).where(WaitlistEntry.status == WaitlistStatus.WAITING)
    if topic is not None:
        q = q.where(WaitlistEntry.topic == topic)
    at = now or utcnow()
    matches = [
        e
        for e in session.exec(q.order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id))).all()
        if slot_suits(session, e, slot, now=at)
    ]
    return matches[:limit]


def waiting_with_free_slots(session: Session, *, now: datetime, days: int = 28) -> list[WaitlistEntry]:
    """Waiting people for whom the calendar now has a free time (same rule as ``waitlist_matches``)."""
    waiting = session.exec(
        select(WaitlistEntry)
        .where(WaitlistEntry.status == WaitlistStatus.WAITING)
        .order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id))
    ).all()
    return [
        e
        for e in waiting
        if free_slots(session, start=to_local(now).date(), days=days, now=now, **_entry_filter(e))
    ]


def claim_waitlist_notice(session: Session, entry_id: int, *, now: datetime) -> bool:
    """Mark one waiting entry as notified, only if it still waits: True for exactly one process."""
    result = session.exec(
        update(WaitlistEntry)
        .where(col(WaitlistEntry.id) == entry_id, col(WaitlistEntry.status) == WaitlistStatus.WAITING)
        .values(status=WaitlistStatus.NOTIFIED, notified_at=now)
    )
    return int(result.rowcount or 0) == 1


def mark_waitlist_notified(session: Session, entry_ids: Sequence[int], *, now: datetime) -> None:
    """Record that these waiting people were told about a free slot (they are not told twice)."""
    for entry_id in entry_ids:
        entry = session.get(WaitlistEntry, entry_id)
        if entry is not None and entry.status == WaitlistStatus.WAITING:
            entry.status = WaitlistStatus.NOTIFIED
            entry.notified_at = now
            session.add(entry)


# --- privacy -------------------------------------------------------------------------------------------


def export_of(session: Session, person_id: str) -> dict[str, Any]:
    """A person's appointments and waiting-list entries for ``/mydata`` (JSON-ready)."""
    appointments = session.exec(
        select(Appointment).where(Appointment.person_id == person_id).order_by(col(Appointment.start))
    ).all()
    entries = session.exec(select(WaitlistEntry).where(WaitlistEntry.person_id == person_id)).all()
    return {
        "appointments": [
            {
                "reference": a.reference,
                "office": a.office_id,
                "start": a.start.isoformat(),
                "topic": a.topic,
                "people": a.people_count,
                "interpreter": a.interpreter_language,
                "status": a.status,
                "reminders": [
                    {"due": r.due_at.isoformat(), "kind": r.kind, "status": r.status}
                    for r in reminders_of(session, a.id or 0)
                ],
            }
            for a in appointments
        ],
        "waiting_list": [
            {
                "topic": e.topic,
                "municipality": e.municipality,
                "status": e.status,
                "since": e.created_at.isoformat(),
            }
            for e in entries
        ],
    }
