"""Holidays, slot derivation rules and the calendar seed (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from lotse.runtime import booking_config
from lotse.settings import BookingSettings, Settings
from rendering import payloads
from storage import appointments as booking
from storage import calendar
from storage.db import session_scope
from storage.models_booking import CaseManager, Municipality, Office, OfficeHours
from storage.seed_calendar import (
    CALENDAR_SEED,
    CASE_MANAGER_ID_MAX,
    MUNICIPALITY_SLUG_MAX,
    load_calendar_seed,
)
from tests.booking.conftest import NOW

MON, TUE, WED = date(2027, 3, 22), date(2027, 3, 23), date(2027, 3, 24)
EARLIER = NOW - timedelta(days=1)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# --- holidays ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),
    ],
)
def test_easter_sunday(year: int, easter: date):
    assert calendar.easter_sunday(year) == easter


def test_nrw_holidays_2027():
    days = calendar.nrw_holidays(2027)
    assert days == {
        date(2027, 1, 1): "Neujahr",
        date(2027, 3, 26): "Karfreitag",
        date(2027, 3, 29): "Ostermontag",
        date(2027, 5, 1): "Tag der Arbeit",
        date(2027, 5, 6): "Christi Himmelfahrt",
        date(2027, 5, 17): "Pfingstmontag",
        date(2027, 5, 27): "Fronleichnam",
        date(2027, 10, 3): "Tag der Deutschen Einheit",
        date(2027, 11, 1): "Allerheiligen",
        date(2027, 12, 25): "1. Weihnachtstag",
        date(2027, 12, 26): "2. Weihnachtstag",
    }
    assert not calendar.is_holiday(date(2027, 1, 6))  # Epiphany is not a holiday in NRW
    assert not calendar.is_holiday(date(2027, 10, 31))  # nor Reformation Day
    assert calendar.is_holiday(date(2026, 6, 4))  # Fronleichnam 2026


# --- slots ---------------------------------------------------------------------------------------


def slots(engine: Engine, **kw) -> list[calendar.Slot]:
    kw.setdefault("start", MON)
    kw.setdefault("days", 1)
    kw.setdefault("now", EARLIER)
    with session_scope(engine) as s:
        return calendar.free_slots(s, **kw)


def test_slots_are_hours_in_office_time_stored_as_utc_except_on_holidays(cal: Engine):
    found = slots(cal, case_manager_id="cm-ar")
    # Monday 09:00-12:00 in Berlin (CET, UTC+1) at office-a: three hours.
    assert [s.start for s in found] == [utc(MON, 8), utc(MON, 9), utc(MON, 10)]
    assert all(s.end - s.start == timedelta(hours=1) for s in found)
    assert all(s.office_id == "office-a" for s in found)
    assert found[0].local_start.hour == 9 and found[0].local_start.tzinfo is not None
    # Summer time (CEST, UTC+2) keeps the local hours.
    after_easter = slots(cal, case_manager_id="cm-ar", start=date(2027, 4, 5))
    assert [s.start.hour for s in after_easter] == [7, 8, 9]
    assert [s.local_start.hour for s in after_easter] == [9, 10, 11]
    # NRW holidays have no slots.
    assert slots(cal, start=date(2027, 3, 26)) == []  # Karfreitag (a Friday at office-c)
    assert slots(cal, start=date(2027, 3, 29)) == []  # Ostermontag
    assert slots(cal, start=date(2027, 3, 25), case_manager_id="cm-ar")  # Thursday before: open


def test_lead_time_and_the_past(cal: Engine):
    at_0730 = utc(MON, 7, 30)  # 08:30 in Berlin; two hours' lead: from 09:30 UTC
    assert [s.start for s in slots(cal, case_manager_id="cm-ar", now=at_0730)] == [utc(MON, 10)]
    assert slots(cal, now=utc(MON, 20)) == []
    short = calendar.BookingConfig(lead_time=timedelta(0))
    assert len(slots(cal, case_manager_id="cm-ar", now=at_0730, config=short)) == 3
    assert len(slots(cal, case_manager_id="cm-ar", now=utc(MON, 8, 1), config=short)) == 2


def test_absences_and_office_closures(cal: Engine):
    with session_scope(cal) as s:
        calendar.add_absence(s, case_manager_id="cm-ar", start_date=MON, end_date=TUE, reason="ill")
    assert slots(cal, case_manager_id="cm-ar", days=2) == []
    assert slots(cal, case_manager_id="cm-ar", start=WED)  # back on Wednesday
    assert slots(cal, case_manager_id="cm-fa")  # the colleague is there
    with session_scope(cal) as s:
        calendar.add_absence(s, office_id="office-a", start_date=MON, end_date=MON, reason="closed")
    assert slots(cal) == []
    with session_scope(cal) as s, pytest.raises(ValueError):
        calendar.add_absence(s, start_date=MON, end_date=MON, reason="?")


def test_booked_slots_are_not_offered_and_cancelled_ones_are(cal: Engine, person: str):
    first = slots(cal, case_manager_id="cm-ar")[0]
    with session_scope(cal) as s:
        appt = booking.book(s, person_id=person, slot=first, topic="kita", now=EARLIER)
    assert first.start not in [s.start for s in slots(cal, case_manager_id="cm-ar")]
    with session_scope(cal) as s:
        booking.cancel(s, person_id=person, reference=appt.reference, now=EARLIER)
    assert first.start in [s.start for s in slots(cal, case_manager_id="cm-ar")]


def test_topic_municipality_and_hours_for_one_municipality(cal: Engine):
    assert {s.case_manager_id for s in slots(cal)} == {"cm-ar", "cm-fa"}
    assert {s.case_manager_id for s in slots(cal, topic="naturalisation")} == {"cm-ar"}
    assert {s.case_manager_id for s in slots(cal, topic="kita")} == {"cm-ar", "cm-fa"}
    assert {s.office_id for s in slots(cal, municipality="town-b")} == {"office-a"}  # served
    assert slots(cal, municipality="town-z") == []
    # cm-fa's Wednesday afternoon is for residents of town-b only.
    wed_a = slots(cal, start=WED, municipality="town-a")
    wed_b = slots(cal, start=WED, municipality="town-b")
    assert {s.case_manager_id for s in wed_a} == {"cm-ar"}
    assert {s.case_manager_id for s in wed_b} == {"cm-ar", "cm-fa"}
    assert [s.office_id for s in slots(cal, start=TUE, office_id="office-c")] == ["office-c"] * 6


def test_language_speakers_come_first_and_choices_are_one_per_office_and_time(cal: Engine):
    found = slots(cal, language="fa")
    at_nine = [s for s in found if s.start == utc(MON, 8)]
    assert [(s.case_manager_id, s.speaks_language) for s in at_nine] == [
        ("cm-fa", True),
        ("cm-ar", False),
    ]
    choices = calendar.choose_slots(found, 10)
    assert [s.start for s in choices] == [utc(MON, 8), utc(MON, 9), utc(MON, 10)]
    assert choices[0].case_manager_id == "cm-fa"
    assert calendar.choose_slots(found, 2, skip=2) == [choices[2]]
    arabic = calendar.choose_slots(slots(cal, language="ar"), 1)
    assert arabic[0].case_manager_id == "cm-ar" and arabic[0].speaks_language


def test_validity_period_of_hours(cal: Engine):
    with session_scope(cal) as s:
        for h in s.exec(select(OfficeHours).where(OfficeHours.case_manager_id == "cm-ar")).all():
            h.valid_from = date(2027, 4, 1)
            s.add(h)
    assert slots(cal, case_manager_id="cm-ar") == []
    assert slots(cal, case_manager_id="cm-ar", start=date(2027, 4, 5))


def test_slot_keys_round_trip_and_are_rechecked(cal: Engine):
    first = slots(cal, case_manager_id="cm-ar")[0]
    assert len(first.key.encode()) <= 60  # fits Telegram's 64-byte callback data with a prefix
    with session_scope(cal) as s:
        assert calendar.slot_from_key(s, first.key, now=EARLIER) == first
        assert calendar.slot_from_key(s, first.key, now=NOW) is None  # too soon by then
        assert calendar.slot_from_key(s, "cm-ar|202703220830", now=EARLIER) is None  # not a slot
        assert calendar.slot_from_key(s, "cm-ar|202703211000", now=EARLIER) is None  # a Sunday
        assert calendar.slot_from_key(s, "nobody|202703220800", now=EARLIER) is None
        assert calendar.slot_from_key(s, "garbage", now=EARLIER) is None
        assert calendar.slot_from_key(s, "cm-ar|2027032208xx", now=EARLIER) is None


def test_config_from_settings():
    settings = Settings(
        booking=BookingSettings(slot_minutes=75, reminder_offsets_minutes=[1440], lead_minutes=0)
    )
    cfg = booking_config(settings)
    assert cfg.slot_length == timedelta(minutes=75)
    assert cfg.reminder_offsets == (timedelta(days=1),)
    assert cfg.lead_time == timedelta(0)
    assert booking_config(Settings(booking=BookingSettings())) == calendar.DEFAULT_CONFIG


# --- the calendar seed -------------------------------------------------------------------------------


def test_rhein_sieg_seed_loads_and_matches_the_seed_document(engine: Engine):
    with session_scope(engine) as s:
        report = load_calendar_seed(s)
    assert report.errors == [] and report.created > 0
    with session_scope(engine) as s:
        offices = {o.id: o for o in s.exec(select(Office)).all()}
        ki = offices["ki-siegburg"]
        assert ki.address == "Kaiser-Wilhelm-Platz 1, 53721 Siegburg" and not ki.needs_review
        assert all(o.needs_review for o in offices.values() if o.id != "ki-siegburg")
        assert "much" in offices["rathaus-neunkirchen-seelscheid"].serves
        hours = s.exec(select(OfficeHours)).all()
        days_per_municipality: dict[str, float] = {}
        for h in hours:
            office = offices[h.office_id]
            mun = h.municipality or office.municipality
            length = (h.end_time.hour * 60 + h.end_time.minute) - (
                h.start_time.hour * 60 + h.start_time.minute
            )
            days_per_municipality[mun] = days_per_municipality.get(mun, 0) + length / 360
        # Seed §2.2: days per week per municipality (Windeck's half day is a 3-hour morning).
        assert days_per_municipality == {
            "alfter": 2,
            "bad-honnef": 3,
            "bornheim": 2,
            "koenigswinter": 2,
            "lohmar": 2,
            "meckenheim": 2,
            "much": 2,
            "niederkassel": 3,
            "neunkirchen-seelscheid": 3,
            "rheinbach": 3,
            "sankt-augustin": 3,
            "swisttal": 3,
            "troisdorf": 5,
            "wachtberg": 2,
            "windeck": 2.5,
        }
        assert sum(days_per_municipality.values()) == 39.5
        # A case manager works whole days in one place: never two offices on one weekday.
        by_day = {(h.case_manager_id, h.weekday) for h in hours}
        assert len(by_day) == len({(h.case_manager_id, h.weekday, h.office_id) for h in hours})
        without = {m.slug for m in s.exec(select(Municipality)).all() if not m.local_cm}
        assert without == {"siegburg", "ruppichteroth", "eitorf", "hennef"}
        assert len(s.exec(select(Municipality)).all()) == 19
        # Siegburg has no local CM, so nobody in Siegburg is offered a slot.
        assert calendar.free_slots(s, municipality="siegburg", start=MON, days=14, now=NOW) == []
        much = calendar.free_slots(s, municipality="much", start=MON, days=7, now=NOW)
        assert {sl.office_id for sl in much} == {"rathaus-neunkirchen-seelscheid"}
        assert {calendar.to_local(sl.start).weekday() for sl in much} == {1, 3}


def test_seed_reload_is_idempotent_and_keeps_staff_edits(engine: Engine, tmp_path: Path):
    with session_scope(engine) as s:
        load_calendar_seed(s)
    with session_scope(engine) as s:
        again = load_calendar_seed(s)
        assert again.created == again.updated == 0 and again.unchanged > 0
        office = s.get(Office, "rathaus-lohmar")
        assert office is not None
        office.address, office.origin = "Neue Adresse 1, 53797 Lohmar", "staff"
        cm = s.get(CaseManager, "cm-troisdorf")
        assert cm is not None
        cm.languages, cm.origin = ["de", "uk"], "staff"
        s.add(
            OfficeHours(
                case_manager_id="cm-swisttal-alfter",
                office_id="rathaus-alfter",
                weekday=5,
                start_time=time(10),
                end_time=time(12),
                origin="staff",
            )
        )
    changed = tmp_path / "offices.yml"
    text = CALENDAR_SEED.read_text(encoding="utf-8")
    text = text.replace("Am Rathaus 7, 53347 Alfter", "Am Rathaus 9, 53347 Alfter")
    text = text.replace("Rathausstraße 4, 53797 Lohmar", "Somewhere else 5, 53797 Lohmar")
    text = text.replace("languages: [de, en, tr, ku]", "languages: [de, tr]")
    text = text.replace(
        "{office: rathaus-alfter, weekdays: [tue, fri]}", "{office: rathaus-alfter, weekdays: [tue]}"
    )
    changed.write_text(text, encoding="utf-8")
    with session_scope(engine) as s:
        report = load_calendar_seed(s, changed)
        assert report.errors == []
        assert report.kept_staff_edits == 2 and report.updated == 2  # Alfter office, Swisttal/Alfter CM
    with session_scope(engine) as s:
        assert s.get(Office, "rathaus-alfter").address.startswith("Am Rathaus 9")  # type: ignore[union-attr]
        assert s.get(Office, "rathaus-lohmar").address.startswith("Neue Adresse")  # type: ignore[union-attr]
        assert s.get(CaseManager, "cm-troisdorf").languages == ["de", "uk"]  # type: ignore[union-attr]
        alfter = s.exec(select(OfficeHours).where(OfficeHours.office_id == "rathaus-alfter")).all()
        assert sorted((h.weekday, h.origin) for h in alfter) == [(1, "seed"), (5, "staff")]


def test_seed_errors_are_reported(engine: Engine, tmp_path: Path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "offices: []\ncase_managers:\n"
        "  - {id: x, name: X, hours: [{office: nowhere, weekdays: [mon]}]}\n"
        "  - {id: y, name: Y, hours: [{office: nowhere, weekdays: [mon]}]}\n",
        encoding="utf-8",
    )
    with session_scope(engine) as s:
        report = load_calendar_seed(s, bad)
    assert len(report.errors) == 2 and "unknown office" in report.errors[0]


def test_seed_refuses_ids_that_would_not_fit_a_button(engine: Engine, tmp_path: Path):
    """A case manager's id goes into every slot button (b:s:<id>|<UTC time>), a town's slug into
    b:p:<slug>: Telegram caps callback data at 64 bytes, so the loader refuses longer ids."""
    fits, too_long = "c" * CASE_MANAGER_ID_MAX, "c" * (CASE_MANAGER_ID_MAX + 1)
    seed = tmp_path / "ids.yml"
    seed.write_text(
        "municipalities:\n"
        "  - {slug: town-a, name: Town A}\n"
        f"  - {{slug: {'m' * (MUNICIPALITY_SLUG_MAX + 1)}, name: Too Long}}\n"
        "offices:\n"
        "  - {id: office-a, name: Rathaus A, address: Markt 1, municipality: town-a}\n"
        "case_managers:\n"
        f"  - {{id: {fits}, name: Fits, hours: [{{office: office-a, weekdays: [mon]}}]}}\n"
        f"  - {{id: {too_long}, name: Too Long, hours: [{{office: office-a, weekdays: [mon]}}]}}\n"
        "  - {id: 'cm|x', name: Pipe, hours: [{office: office-a, weekdays: [mon]}]}\n",
        encoding="utf-8",
    )
    with session_scope(engine) as s:
        report = load_calendar_seed(s, seed)
        assert len(report.errors) == 3, report.errors
        assert "at most 60" in report.errors[0] and "at most 40" in report.errors[1]
        assert "letters, digits" in report.errors[2]
        assert s.get(CaseManager, fits) is not None and s.get(CaseManager, too_long) is None
    start = datetime(2027, 12, 31, 23, 0, tzinfo=UTC)
    key = calendar.Slot(start, fits, "office-a", start + timedelta(hours=1)).key
    assert len(payloads.booking("s", key).encode()) <= payloads.CALLBACK_DATA_MAX_BYTES
