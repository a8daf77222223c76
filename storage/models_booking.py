"""Tables of the calendar, appointments, reminders and the waiting list (issue 5).

Free slots are never stored: ``storage.calendar`` derives them from the office hours, holidays, absences
and booked appointments. Personal rows (appointments, waiting-list entries) cascade when a person is
erased; reminders cascade with their appointment. Migration: ``0003_booking``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _fk_person(**kw: Any) -> Any:
    # Erasure of a person cascades to everything that belongs to them.
    return Field(
        sa_column=Column(String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True, **kw)
    )


def _fk(target: str, *, nullable: bool = False, ondelete: str | None = None, index: bool = True) -> Any:
    return Field(
        sa_column=Column(
            String(64), ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index
        )
    )


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"  # by the person or by staff (a freed slot)
    NO_SHOW = "no_show"  # staff marked that nobody came
    ATTENDED = "attended"


class ReminderKind(StrEnum):
    REMINDER = "reminder"  # "your appointment is in 2 days / 2 hours"
    CANCELLATION = "cancellation"  # staff cancelled the appointment (absence): tell the person


class ReminderStatus(StrEnum):
    PENDING = "pending"  # waiting for its due time
    CLAIMED = "claimed"  # taken by a dispatcher, not yet handed to the sender
    SENDING = "sending"  # handed to the sender; outcome not yet recorded
    SENT = "sent"
    MISSED = "missed"  # fell due while nobody could send it and is no longer useful (see reason)
    UNKNOWN = "unknown"  # the send timed out or the worker died mid-send: staff check, never resent
    FAILED = "failed"  # Telegram refused it (blocked bot, bad chat) or attempts ran out
    CANCELLED = "cancelled"  # its appointment was no longer booked when it fell due
    CHECKED = "checked"  # missed / unknown / failed, and a case manager has dealt with it


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    NOTIFIED = "notified"  # told that a slot freed up
    BOOKED = "booked"  # the person booked an appointment for the topic
    WITHDRAWN = "withdrawn"


# Statuses whose appointment occupies its slot; a cancelled appointment frees it.
SLOT_HOLDING = "status <> 'cancelled'"


# --- calendar (staff data, no personal data of clients) ---------------------------------------------


class Municipality(SQLModel, table=True):
    """One of the Kreis's municipalities and whether local case management is offered there."""

    slug: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=120)
    local_cm: bool = True
    note: str | None = Field(default=None, sa_type=Text)  # for staff only, never shown to people
    # Without local case management: who serves the town (a name and address, shown to people in any
    # language), and the office whose case managers take its residents, if one does.
    contact: str | None = Field(default=None, max_length=300)
    served_by_office: str | None = Field(default=None, max_length=64)
    origin: str = Field(default="seed", max_length=8)
    seed_hash: str | None = Field(default=None, max_length=64)
    updated_at: datetime = _ts()


class Office(SQLModel, table=True):
    """A place where case managers meet people: a town hall, accommodation, a parish, the KI."""

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    address: str = Field(max_length=300)
    municipality: str = Field(max_length=64, index=True)  # where the office is
    serves: list[str] = Field(default_factory=list, sa_type=JSON)  # further municipalities it serves
    accessibility: str | None = Field(default=None, sa_type=Text)
    needs_review: bool = False
    active: bool = True
    origin: str = Field(default="seed", max_length=8)
    seed_hash: str | None = Field(default=None, max_length=64)
    updated_at: datetime = _ts()


class CaseManager(SQLModel, table=True):
    """A case manager (or a post): the languages spoken and, optionally, the topics handled."""

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    languages: list[str] = Field(default_factory=list, sa_type=JSON)
    topics: list[str] = Field(default_factory=list, sa_type=JSON)  # empty: every topic
    needs_review: bool = False
    active: bool = True
    origin: str = Field(default="seed", max_length=8)
    seed_hash: str | None = Field(default=None, max_length=64)
    updated_at: datetime = _ts()


class OfficeHours(SQLModel, table=True):
    """A case manager's weekly presence at an office: weekday (0 = Monday) and local hours."""

    id: int | None = Field(default=None, primary_key=True)
    case_manager_id: str = _fk("casemanager.id", ondelete="CASCADE")
    office_id: str = _fk("office.id", ondelete="CASCADE")
    weekday: int = Field(ge=0, le=6)
    start_time: time  # Europe/Berlin wall-clock time
    end_time: time
    # Only for residents of this municipality (Much's days at the Rathaus Neunkirchen-Seelscheid);
    # None: for every municipality the office serves.
    municipality: str | None = Field(default=None, max_length=64)
    valid_from: date | None = None
    valid_until: date | None = None
    needs_review: bool = False
    origin: str = Field(default="seed", max_length=8)
    updated_at: datetime = _ts()

    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="ck_officehours_weekday"),
        CheckConstraint("start_time < end_time", name="ck_officehours_times"),
    )


class Absence(SQLModel, table=True):
    """A case manager away, or an office closed, on the days ``start_date`` … ``end_date``."""

    id: int | None = Field(default=None, primary_key=True)
    case_manager_id: str | None = _fk("casemanager.id", nullable=True, ondelete="CASCADE")
    office_id: str | None = _fk("office.id", nullable=True, ondelete="CASCADE")
    start_date: date = Field(index=True)
    end_date: date = Field(index=True)
    reason: str = Field(default="", max_length=200)
    created_at: datetime = _ts()
    created_by: str = Field(default="staff", max_length=64)

    __table_args__ = (
        CheckConstraint("start_date <= end_date", name="ck_absence_dates"),
        CheckConstraint(
            "case_manager_id IS NOT NULL OR office_id IS NOT NULL", name="ck_absence_target"
        ),
    )


# --- appointments, reminders, waiting list (personal) ----------------------------------------------


class Appointment(SQLModel, table=True):
    """A booked hour with a case manager. ``reference`` is what the person and staff quote."""

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=12, unique=True)
    person_id: str = _fk_person(nullable=False)
    case_manager_id: str = _fk("casemanager.id")
    office_id: str = _fk("office.id")
    start: datetime = Field(sa_type=UTCDateTime)
    end: datetime = Field(sa_type=UTCDateTime)
    topic: str = Field(max_length=32)
    people_count: int = 1
    interpreter_language: str | None = Field(default=None, max_length=8)
    language: str | None = Field(default=None, max_length=8)  # the person's language when booked
    status: str = Field(default=AppointmentStatus.BOOKED, max_length=16, index=True)
    reschedule_count: int = 0
    cancel_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    __table_args__ = (
        # Two people can never hold the same slot: at most one slot-holding appointment per case
        # manager and start time. A partial unique index, on SQLite and PostgreSQL alike.
        Index(
            "uq_appointment_slot",
            "case_manager_id",
            "start",
            unique=True,
            sqlite_where=text(SLOT_HOLDING),
            postgresql_where=text(SLOT_HOLDING),
        ),
        Index("ix_appointment_office_start", "office_id", "start"),
        CheckConstraint("people_count >= 1", name="ck_appointment_people"),
    )


class Reminder(SQLModel, table=True):
    """A message about an appointment, due at ``due_at``: the rows, not the scheduler, are the truth."""

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("appointment.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    kind: str = Field(default=ReminderKind.REMINDER, max_length=16)
    offset_minutes: int | None = None  # minutes before the appointment (reminders only)
    due_at: datetime = Field(sa_type=UTCDateTime)
    language: str | None = Field(default=None, max_length=8)
    status: str = Field(default=ReminderStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=300)  # why missed / unknown / failed
    created_at: datetime = _ts()

    __table_args__ = (Index("ix_reminder_status_due", "status", "due_at"),)


class WaitlistEntry(SQLModel, table=True):
    """A person who wants to be told when a slot for ``topic`` frees up (at an office or in a town)."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: str = _fk_person(nullable=False)
    topic: str = Field(max_length=32)
    office_id: str | None = _fk("office.id", nullable=True, ondelete="SET NULL", index=False)
    municipality: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=8)
    status: str = Field(default=WaitlistStatus.WAITING, max_length=16, index=True)
    created_at: datetime = _ts()
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
