"""Shared pieces of the reliability tests: Telegram people, due reminders, real worker processes."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage import people
from storage.appointments import new_reference
from storage.db import session_scope
from storage.models_booking import Appointment, CaseManager, OfficeHours, Reminder
from tests.support.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
_chats = itertools.count(7_000_001)


def telegram_people(
    engine: Engine, fake: FakeTelegram, n: int, language: str = "de"
) -> list[tuple[str, int]]:
    """``n`` people who started the bot on Telegram and consented: (person id, chat id)."""
    out: list[tuple[str, int]] = []
    with session_scope(engine) as s:
        for _ in range(n):
            chat = next(_chats)
            fake.open_chat(chat)
            person = people.record_consent(
                session=s,
                channel="telegram",
                external_id=str(chat),
                given=True,
                version="v1",
                language=language,
            )
            out.append((person.id, chat))
    return out


def seeded_case_manager(engine: Engine) -> tuple[str, str]:
    """A case manager and one of their offices from the seed calendar."""
    with Session(engine) as s:
        hours = s.exec(select(OfficeHours)).first()
        assert hours is not None, "the seed calendar has no office hours"
        assert s.get(CaseManager, hours.case_manager_id) is not None
        return hours.case_manager_id, hours.office_id


def due_reminders(engine: Engine, person_ids: list[str], *, due: datetime, start: datetime) -> list[int]:
    """One appointment at about ``start`` with one reminder due at ``due`` per person; the reminder ids.

    Bypasses the calendar (like ``tests.booking.conftest.insert_due``) but with real references, so the
    reminder renders and its buttons encode as the app's do."""
    cm, office = seeded_case_manager(engine)
    ids: list[int] = []
    with session_scope(engine) as s:
        for n, pid in enumerate(person_ids):
            a = Appointment(
                reference=new_reference(s),
                person_id=pid,
                case_manager_id=cm,
                office_id=office,
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


def reminder_rows(engine: Engine) -> dict[int, Reminder]:
    with Session(engine) as s:
        return {r.id: r for r in s.exec(select(Reminder)).all() if r.id is not None}


def worker_config(database_url: str, fake: FakeTelegram, **extra: Any) -> dict[str, Any]:
    return {
        "database_url": database_url,
        "token": fake.token,
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
        **extra,
    }


def spawn(mode: str, config: dict[str, Any], log: Path) -> subprocess.Popen[bytes]:
    """A worker process (``tests.reliability.reminder_worker``); its stdout and stderr go to ``log``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.reminder_worker", mode, json.dumps(config)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def deliveries(fake: FakeTelegram, chats: list[int]) -> Counter[int]:
    """How many messages each of these chats got from the bot."""
    wanted = set(chats)
    return Counter(int(p["chat_id"]) for p in fake.sent() if int(p["chat_id"]) in wanted)
