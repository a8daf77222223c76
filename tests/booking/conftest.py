"""Fixtures of the booking tests: a small test calendar, people, and an injectable clock."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from storage import people
from storage.db import session_scope
from storage.models_booking import Appointment, Reminder
from storage.seed_calendar import load_calendar_seed

# Monday 22 March 2027, 07:00 UTC (08:00 in Berlin, CET). Easter Sunday is 28 March 2027, so Friday the
# 26th (Karfreitag) and Monday the 29th (Ostermontag) are holidays; summer time starts on the 28th.
NOW = datetime(2027, 3, 22, 7, 0, tzinfo=UTC)

TEST_CALENDAR = """
municipalities:
  - {slug: town-a, name: Town A, local_cm: true}
  - {slug: town-b, name: Town B, local_cm: true}
  - {slug: town-z, name: Town Z, local_cm: false, note: "no local CM"}
offices:
  - id: office-a
    name: Rathaus A
    address: "Markt 1, 50000 Town A"
    municipality: town-a
    serves: [town-b]
  - {id: office-c, name: Rathaus C, address: "Platz 2, 50001 Town C", municipality: town-c}
case_managers:
  - id: cm-ar
    name: CM Arabic
    languages: [de, ar]
    hours:
      - {office: office-a, weekdays: [mon, wed], from: "09:00", to: "12:00"}
      - {office: office-c, weekdays: [tue, thu, fri]}
  - id: cm-fa
    name: CM Farsi
    languages: [de, fa]
    topics: [kita]
    hours:
      - {office: office-a, weekdays: [mon], from: "09:00", to: "11:00"}
      - {office: office-a, weekdays: [wed], from: "13:00", to: "15:00", municipality: town-b}
"""


class FakeClock:
    """Wall clock and monotonic clock that only move when someone sleeps (nothing waits for real)."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start
        self.mono = 1000.0
        self.sleeps: list[float] = []

    def utc(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.now += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def calendar_path(tmp_path: Path) -> Path:
    path = tmp_path / "calendar.yml"
    path.write_text(TEST_CALENDAR, encoding="utf-8")
    return path


@pytest.fixture
def cal(engine: Engine, calendar_path: Path) -> Engine:
    """A migrated database (SQLite and PostgreSQL) with the small test calendar."""
    with session_scope(engine) as s:
        report = load_calendar_seed(s, calendar_path)
    assert not report.errors, report.errors
    return engine


_ids = itertools.count(1)
_refs = itertools.count(1)


def make_person(engine: Engine, language: str = "de") -> str:
    with session_scope(engine) as s:
        person = people.record_consent(
            session=s,
            channel="telegram",
            external_id=f"chat-{next(_ids)}",
            given=True,
            version="v1",
            language=language,
        )
        return person.id


@pytest.fixture
def person(cal: Engine) -> str:
    return make_person(cal, "ar")


@pytest.fixture
def other(cal: Engine) -> str:
    return make_person(cal, "en")


def insert_due(
    engine: Engine,
    person_ids: list[str],
    *,
    due: datetime,
    start: datetime,
    per_person: int = 1,
    case_manager_id: str = "cm-ar",
    office_id: str = "office-a",
) -> list[int]:
    """Appointments (bypassing the calendar) with one reminder each, due at ``due``; the reminder ids."""
    ids: list[int] = []
    with session_scope(engine) as s:
        for pid in person_ids:
            for _ in range(per_person):
                n = next(_refs)
                a = Appointment(
                    reference=f"T-{n:06d}",
                    person_id=pid,
                    case_manager_id=case_manager_id,
                    office_id=office_id,
                    start=start + timedelta(seconds=n),
                    end=start + timedelta(seconds=n + 3600),
                    topic="kita",
                )
                s.add(a)
                s.flush()
                assert a.id is not None
                r = Reminder(appointment_id=a.id, offset_minutes=120, due_at=due, language="de")
                s.add(r)
                s.flush()
                assert r.id is not None
                ids.append(r.id)
    return ids
