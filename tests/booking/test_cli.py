"""The staff command line: ``lotse appointments …`` and ``lotse calendar …``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from cli.main import main
from storage import appointments as booking
from storage import calendar
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.seed_calendar import load_calendar_seed
from tests.booking.conftest import make_person


@dataclass
class FakeSettings:
    database_url: str


@pytest.fixture
def cli_db(tmp_path) -> tuple[FakeSettings, Engine]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        load_calendar_seed(s)
    return FakeSettings(url), engine


def lotse(settings: FakeSettings, *argv: str) -> int:
    """``lotse --database-url URL …``, exactly as the command line runs it."""
    return main(["--database-url", settings.database_url, *argv])


def test_offices_holidays_and_slots(cli_db, capsys):
    settings, _ = cli_db
    assert lotse(settings, "calendar", "offices") == 0
    out = capsys.readouterr().out
    assert "ki-siegburg\tKommunales Integrationszentrum" in out
    assert "Kaiser-Wilhelm-Platz 1, 53721 Siegburg" in out
    assert "(also for: much)" in out and "[needs review]" in out
    assert "Fr 09:00-12:00\tcm-windeck-wachtberg" in out
    assert "no local CM: Siegburg" in out
    assert lotse(settings, "calendar", "holidays", "--year", "2027") == 0
    assert "2027-03-26\tFr\tKarfreitag" in capsys.readouterr().out
    assert lotse(settings, "calendar", "slots", "--municipality", "much", "--days", "14") == 0
    assert "rathaus-neunkirchen-seelscheid" in capsys.readouterr().out


def test_list_no_show_cancel_day_and_reminders(cli_db, capsys):
    settings, engine = cli_db
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        slots = calendar.free_slots(
            s, case_manager_id="cm-troisdorf", start=now.date() + timedelta(days=1), days=7, now=now
        )
    day = calendar.to_local(slots[0].start).date()
    refs = []
    for sl in [x for x in slots if calendar.to_local(x.start).date() == day][:2]:
        with session_scope(engine) as s:
            refs.append(
                booking.book(
                    s, person_id=make_person(engine, "uk"), slot=sl, topic="kita", now=now, language="uk"
                ).reference
            )
    assert (
        lotse(settings, "appointments", "list", "--office", "rathaus-troisdorf", "--day", str(day)) == 0
    )
    out = capsys.readouterr().out
    assert all(ref in out for ref in refs) and "2 appointments" in out and "lang:uk" in out
    assert lotse(settings, "appointments", "no-show", refs[0]) == 1  # not begun yet
    assert "NotChangeable" in capsys.readouterr().err
    assert (
        lotse(
            settings,
            "appointments",
            "cancel-day",
            "--case-manager",
            "cm-troisdorf",
            "--day",
            str(day),
            "--reason",
            "krank",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert all(ref in out for ref in refs) and "2 appointments cancelled" in out
    assert "will be told in their language" in out
    assert (
        lotse(settings, "appointments", "list", "--office", "rathaus-troisdorf", "--day", str(day)) == 0
    )
    assert "0 appointments" in capsys.readouterr().out
    assert lotse(settings, "appointments", "reminders", "--status", "pending") == 0
    out = capsys.readouterr().out
    assert out.count("cancellation") == 2
    assert lotse(settings, "appointments", "reminders", "--status", "bogus") == 1
    assert lotse(settings, "appointments", "list", "--office", "nowhere", "--day", str(day)) == 1
    assert (
        lotse(settings, "calendar", "absence", "--office", "rathaus-troisdorf", "--from", str(day)) == 0
    )
    assert (
        lotse(settings, "appointments", "cancel-day", "--case-manager", "nobody", "--day", str(day)) == 1
    )
