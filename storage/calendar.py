"""The calendar: offices, office hours, NRW public holidays, absences, and free slots derived from them.

Slots are never stored ahead. A free slot is an hour (``BookingConfig.slot_minutes``) inside a case
manager's weekly office hours (Europe/Berlin wall-clock time) on a day that is not an NRW public holiday,
not a day the case manager is absent or the office closed, that does not overlap a booked appointment of
that case manager, and that starts at least ``lead_time`` after now. All datetimes passed in and out are
timezone-aware; stored ones are UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, col, or_, select

from storage.models_booking import (
    Absence,
    Appointment,
    AppointmentStatus,
    CaseManager,
    Municipality,
    Office,
    OfficeHours,
)
from storage.vocabulary import BERLIN, MAX_PEOPLE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BookingConfig:
    """Booking rules (the composition root builds them from ``Settings.booking``)."""

    slot_minutes: int = 60  # the average CM appointment is 63 minutes (seed document §2.3)
    lead_time: timedelta = timedelta(hours=2)  # earliest bookable slot after now
    reminder_offsets: tuple[timedelta, ...] = (timedelta(days=2), timedelta(hours=2))
    max_people: int = MAX_PEOPLE
    max_active_per_person: int = 3  # booked future appointments one person may hold
    reference_prefix: str = "KL"

    @property
    def slot_length(self) -> timedelta:
        """The length of one slot."""
        return timedelta(minutes=self.slot_minutes)


DEFAULT_CONFIG = BookingConfig()


# --- time helpers -----------------------------------------------------------------------------------


def to_local(dt: datetime) -> datetime:
    """A stored (UTC) datetime as Europe/Berlin wall-clock time."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.astimezone(BERLIN)


def local_datetime(day: date, at: time) -> datetime:
    """The UTC instant of a Europe/Berlin wall-clock time on ``day``."""
    return datetime.combine(day, at, tzinfo=BERLIN).astimezone(UTC)


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants at which the Europe/Berlin ``day`` starts and ends (end exclusive)."""
    return local_datetime(day, time(0)), local_datetime(day + timedelta(days=1), time(0))


# --- NRW public holidays ----------------------------------------------------------------------------


def easter_sunday(year: int) -> date:
    """Easter Sunday of ``year`` (Gregorian calendar; anonymous Gauss/Meeus/Butcher algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


def nrw_holidays(year: int) -> dict[date, str]:
    """The statutory public holidays of North Rhine-Westphalia in ``year``, by date (German names)."""
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1): "Neujahr",
        easter - timedelta(days=2): "Karfreitag",
        easter + timedelta(days=1): "Ostermontag",
        date(year, 5, 1): "Tag der Arbeit",
        easter + timedelta(days=39): "Christi Himmelfahrt",
        easter + timedelta(days=50): "Pfingstmontag",
        easter + timedelta(days=60): "Fronleichnam",
        date(year, 10, 3): "Tag der Deutschen Einheit",
        date(year, 11, 1): "Allerheiligen",
        date(year, 12, 25): "1. Weihnachtstag",
        date(year, 12, 26): "2. Weihnachtstag",
    }
    return dict(sorted(days.items()))


def is_holiday(day: date) -> bool:
    """Whether ``day`` is a public holiday in NRW."""
    return day in nrw_holidays(day.year)


def is_working_day(day: date) -> bool:
    """Monday to Friday and no NRW public holiday."""
    return day.weekday() < 5 and not is_holiday(day)


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` moved on by ``days`` working days in Berlin, at the same local time (a promise of "two
    working days" made on a Friday afternoon is due on Tuesday afternoon)."""
    local = to_local(start)
    day, counted = local.date(), 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return local_datetime(day, local.time().replace(tzinfo=None)).astimezone(UTC)


# --- slots ------------------------------------------------------------------------------------------

KEY_FORMAT = "%Y%m%d%H%M"


@dataclass(frozen=True, order=True)
class Slot:
    """A free hour with one case manager at one office. ``start``/``end`` are UTC."""

    start: datetime
    case_manager_id: str
    office_id: str
    end: datetime = field(compare=False)
    speaks_language: bool = field(default=False, compare=False)  # the CM speaks the asked language

    @property
    def key(self) -> str:
        """A compact id for a button payload: ``<case manager>|<UTC start>`` (≤ 53 characters: the
        seed loader keeps case manager ids to 40, so ``b:s:<key>`` fits Telegram's 64 bytes)."""
        return f"{self.case_manager_id}|{self.start.astimezone(UTC):{KEY_FORMAT}}"

    @property
    def local_start(self) -> datetime:
        """The start as Europe/Berlin wall-clock time (for texts)."""
        return to_local(self.start)

    @property
    def local_end(self) -> datetime:
        """The end as Europe/Berlin wall-clock time (for texts)."""
        return to_local(self.end)


def parse_slot_key(key: str) -> tuple[str, datetime] | None:
    """``(case_manager_id, start)`` from ``Slot.key``, or None if malformed (re-derive, never trust)."""
    cm, sep, stamp = key.partition("|")
    if not sep or not cm or len(stamp) != len("202701010900"):
        return None
    try:
        start = datetime.strptime(stamp, KEY_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return cm, start


def _serves(office: Office, municipality: str) -> bool:
    return office.municipality == municipality or municipality in (office.serves or [])


def _hours_apply(hours: OfficeHours, day: date, municipality: str | None) -> bool:
    if hours.weekday != day.weekday():
        return False
    if hours.valid_from is not None and day < hours.valid_from:
        return False
    if hours.valid_until is not None and day > hours.valid_until:
        return False
    return municipality is None or hours.municipality in (None, municipality)


def _absent(absences: Iterable[Absence], day: date, cm_id: str, office_id: str) -> bool:
    return any(
        a.start_date <= day <= a.end_date and (a.case_manager_id == cm_id or a.office_id == office_id)
        for a in absences
    )


def free_slots(
    session: Session,
    *,
    start: date,
    days: int,
    now: datetime,
    topic: str | None = None,
    office_id: str | None = None,
    municipality: str | None = None,
    language: str | None = None,
    case_manager_id: str | None = None,
    config: BookingConfig = DEFAULT_CONFIG,
    exclude_appointment_id: int | None = None,
) -> list[Slot]:
    """Free slots on the ``days`` local days from ``start``, earliest first.

    Filters: ``topic`` (case managers handling it), ``office_id``, ``municipality`` (offices serving
    it, and office hours meant for its residents), ``case_manager_id``. With ``language``, a slot whose
    case manager speaks it has ``speaks_language`` set and comes first among slots at the same time.
    ``exclude_appointment_id`` ignores one appointment (the one being moved).
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime given as now")
    if days <= 0:
        return []
    last = start + timedelta(days=days - 1)
    earliest = now + config.lead_time

    office_q = select(Office).where(col(Office.active).is_(True))
    if office_id is not None:
        office_q = office_q.where(Office.id == office_id)
    offices = {
        o.id: o for o in session.exec(office_q).all() if municipality is None or _serves(o, municipality)
    }
    cm_q = select(CaseManager).where(col(CaseManager.active).is_(True))
    if case_manager_id is not None:
        cm_q = cm_q.where(CaseManager.id == case_manager_id)
    managers = {
        m.id: m for m in session.exec(cm_q).all() if topic is None or not m.topics or topic in m.topics
    }
    if not offices or not managers:
        return []
    hours = session.exec(
        select(OfficeHours).where(
            col(OfficeHours.office_id).in_(list(offices)),
            col(OfficeHours.case_manager_id).in_(list(managers)),
        )
    ).all()
    if not hours:
        return []
    cm_ids = sorted({h.case_manager_id for h in hours})
    absences = session.exec(
        select(Absence).where(
            Absence.start_date <= last,
            Absence.end_date >= start,
            or_(
                col(Absence.case_manager_id).in_(cm_ids),
                col(Absence.office_id).in_(sorted({h.office_id for h in hours})),
            ),
        )
    ).all()
    range_start, _ = local_day_bounds(start)
    _, range_end = local_day_bounds(last)
    booked_q = select(Appointment.case_manager_id, Appointment.start, Appointment.end).where(
        col(Appointment.case_manager_id).in_(cm_ids),
        Appointment.status != AppointmentStatus.CANCELLED,
        Appointment.end > range_start,
        Appointment.start < range_end,
    )
    if exclude_appointment_id is not None:
        booked_q = booked_q.where(Appointment.id != exclude_appointment_id)
    booked: dict[str, list[tuple[datetime, datetime]]] = {}
    for cm, b_start, b_end in session.exec(booked_q).all():
        booked.setdefault(cm, []).append((b_start, b_end))

    length = config.slot_length
    slots: list[Slot] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        if is_holiday(day):
            continue
        for h in hours:
            if not _hours_apply(h, day, municipality):
                continue
            if _absent(absences, day, h.case_manager_id, h.office_id):
                continue
            speaks = language is not None and language in (managers[h.case_manager_id].languages or [])
            slot_start = local_datetime(day, h.start_time)
            day_end = local_datetime(day, h.end_time)
            while slot_start + length <= day_end:
                slot_end = slot_start + length
                taken = any(
                    b_start < slot_end and slot_start < b_end
                    for b_start, b_end in booked.get(h.case_manager_id, ())
                )
                if slot_start >= earliest and not taken:
                    slots.append(Slot(slot_start, h.case_manager_id, h.office_id, slot_end, speaks))
                slot_start = slot_end
    unique = {(s.case_manager_id, s.start): s for s in slots}  # overlapping hours rows: once
    return sorted(unique.values(), key=lambda s: (s.start, not s.speaks_language, s.office_id))


def find_slot(
    session: Session,
    *,
    case_manager_id: str,
    start: datetime,
    now: datetime,
    office_id: str | None = None,
    config: BookingConfig = DEFAULT_CONFIG,
    exclude_appointment_id: int | None = None,
) -> Slot | None:
    """The free slot of a case manager starting at ``start``, re-derived from the rules, or None."""
    day = to_local(start).date()
    for slot in free_slots(
        session,
        start=day,
        days=1,
        now=now,
        office_id=office_id,
        case_manager_id=case_manager_id,
        config=config,
        exclude_appointment_id=exclude_appointment_id,
    ):
        if slot.start == start.astimezone(UTC):
            return slot
    return None


def slot_from_key(
    session: Session, key: str, *, now: datetime, config: BookingConfig = DEFAULT_CONFIG
) -> Slot | None:
    """The free slot a button payload (``Slot.key``) names, re-checked against the calendar, or None."""
    parsed = parse_slot_key(key)
    if parsed is None:
        return None
    cm, start = parsed
    return find_slot(session, case_manager_id=cm, start=start, now=now, config=config)


def choose_slots(slots: Sequence[Slot], n: int, *, skip: int = 0) -> list[Slot]:
    """Up to ``n`` slots to offer as buttons, one per office and time, after the first ``skip``.

    When two case managers are free at the same office and time, the one speaking the person's language
    is offered. ``skip`` pages through the choices ("later").
    """
    seen: set[tuple[str, datetime]] = set()
    distinct: list[Slot] = []
    for slot in slots:  # already ordered: start, then language speakers first
        k = (slot.office_id, slot.start)
        if k not in seen:
            seen.add(k)
            distinct.append(slot)
    return distinct[skip : skip + n]


# --- calendar data ------------------------------------------------------------------------------------


def municipalities(session: Session) -> list[Municipality]:
    """All municipalities, by name."""
    return list(session.exec(select(Municipality).order_by(col(Municipality.name))).all())


def offices(session: Session, *, municipality: str | None = None) -> list[Office]:
    """Active offices (those serving ``municipality`` if given), by name."""
    rows = session.exec(
        select(Office).where(col(Office.active).is_(True)).order_by(col(Office.name))
    ).all()
    return [o for o in rows if municipality is None or _serves(o, municipality)]


def case_managers(session: Session) -> list[CaseManager]:
    """Every case-manager post (active or not)."""
    return list(session.exec(select(CaseManager)).all())


def get_municipality(session: Session, slug: str) -> Municipality | None:
    """One municipality by slug."""
    return session.get(Municipality, slug)


def get_office(session: Session, office_id: str) -> Office | None:
    """One office by id."""
    return session.get(Office, office_id)


def office_hours(session: Session, *, office_id: str | None = None) -> list[OfficeHours]:
    """Weekly office hours (of one office), by office, weekday and time."""
    q = select(OfficeHours)
    if office_id is not None:
        q = q.where(OfficeHours.office_id == office_id)
    return list(
        session.exec(
            q.order_by(col(OfficeHours.office_id), col(OfficeHours.weekday), col(OfficeHours.start_time))
        ).all()
    )


def add_absence(
    session: Session,
    *,
    start_date: date,
    end_date: date,
    reason: str,
    case_manager_id: str | None = None,
    office_id: str | None = None,
    by: str = "staff",
) -> Absence:
    """Record that a case manager is away (or an office closed) on ``start_date`` … ``end_date``."""
    if (case_manager_id is None) == (office_id is None):
        raise ValueError("give exactly one of case_manager_id and office_id")
    if end_date < start_date:
        raise ValueError("end_date before start_date")
    absence = Absence(
        case_manager_id=case_manager_id,
        office_id=office_id,
        start_date=start_date,
        end_date=end_date,
        reason=reason[:200],
        created_by=by[:64],
    )
    session.add(absence)
    session.flush()
    logger.info("absence %s: %s %s … %s", absence.id, case_manager_id or office_id, start_date, end_date)
    return absence
