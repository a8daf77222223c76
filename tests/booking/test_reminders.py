"""Reminder rows and the dispatcher: due, late but useful, missed with a reason, timeouts, 429, crashes,
and two real processes dispatching against one database. Clocks are injected: nothing sleeps."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lotse.runtime import build, reminder_config
from lotse.settings import ReminderSettings, Settings
from scheduler.jobs import REMINDERS_JOB, install_jobs, wake_reminder_job
from scheduler.setup import JOB_DEFAULTS
from services.booking import reminders as rem
from services.pacing import RateLimiter
from storage import appointments as booking
from storage.db import session_scope
from storage.models_booking import Appointment, Reminder
from tests.booking.conftest import FakeClock, insert_due, make_person

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2027, 3, 22, 8, 0, tzinfo=UTC)  # the appointments (09:00 in Berlin)
DUE = START - timedelta(hours=2)


class Recorder:
    """A sender that records what it was asked to send and fails as scripted."""

    def __init__(self, clock: FakeClock, script: list[Exception] | None = None) -> None:
        self.clock = clock
        self.script = list(script or [])
        self.sent: list[tuple[int, str, float]] = []
        self.calls: list[float] = []

    async def __call__(self, reminder: Reminder, appointment: Appointment) -> None:
        self.calls.append(self.clock.monotonic())
        if self.script:
            raise self.script.pop(0)
        assert reminder.id is not None
        self.sent.append((reminder.id, reminder.kind, self.clock.monotonic()))


def limiter(clock: FakeClock) -> RateLimiter:
    return RateLimiter(clock=clock.monotonic, sleep=clock.sleep)


async def dispatch(engine: Engine, sender: Recorder, clock: FakeClock, now: datetime, **kw):
    kw.setdefault("limiter", limiter(clock))
    return await rem.dispatch_due(engine, sender, now=now, clock=clock.utc, worker_id="w1", **kw)


def statuses(engine: Engine) -> dict[int, tuple[str, str | None]]:
    with Session(engine) as s:
        return {r.id: (r.status, r.reason) for r in s.exec(select(Reminder)).all() if r.id}


async def test_due_reminders_are_sent_once_and_not_before(cal: Engine, person: str, clock: FakeClock):
    [rid] = insert_due(cal, [person], due=DUE, start=START)
    sender = Recorder(clock)
    early = await dispatch(cal, sender, clock, DUE - timedelta(seconds=1))
    assert early.sent == 0 and sender.sent == []
    report = await dispatch(cal, sender, clock, DUE)
    assert report.sent == 1 and [s[0] for s in sender.sent] == [rid]
    again = await dispatch(cal, sender, clock, DUE + timedelta(minutes=1))
    assert again.sent == 0 and len(sender.sent) == 1
    with Session(cal) as s:
        row = s.get(Reminder, rid)
        assert row is not None and row.status == "sent" and row.attempts == 1
        assert row.sent_at == clock.utc() and row.claimed_by == "w1"


async def test_a_reminder_due_during_downtime_is_still_sent_while_useful(
    cal: Engine, person: str, clock: FakeClock
):
    """Scheduler stopped 10 min before the due time and restarted 5 min after: sent exactly once."""
    [rid] = insert_due(cal, [person], due=DUE, start=START)
    sender = Recorder(clock)
    report = await dispatch(cal, sender, clock, DUE + timedelta(minutes=5))
    assert report.sent == 1 and report.missed == 0
    assert statuses(cal)[rid][0] == "sent"


async def test_too_late_is_missed_with_a_reason_never_dropped(cal: Engine, clock: FakeClock):
    a, b = make_person(cal), make_person(cal)
    [too_close] = insert_due(cal, [a], due=DUE, start=START)
    [too_late] = insert_due(cal, [b], due=DUE - timedelta(hours=20), start=START + timedelta(days=1))
    sender = Recorder(clock)
    report = await dispatch(
        cal, sender, clock, START - timedelta(minutes=10), max_lateness=timedelta(hours=12)
    )
    assert report.missed == 2 and report.sent == 0 and sender.sent == []
    rows = statuses(cal)
    assert rows[too_close][0] == "missed" and "not sent in time" in (rows[too_close][1] or "")
    assert rows[too_late][0] == "missed" and "late" in (rows[too_late][1] or "")
    assert any(str(too_close) in r for r in report.reasons)


async def test_only_the_latest_of_several_due_reminders_is_sent(
    cal: Engine, person: str, clock: FakeClock
):
    from tests.booking.test_booking import BOOK_NOW, book, slot

    appt = book(cal, person, slot(cal))
    two_days, two_hours = booking.reminders_of(Session(cal), appt.id or 0)
    sender = Recorder(clock)
    report = await dispatch(
        cal, sender, clock, two_hours.due_at + timedelta(minutes=1), max_lateness=timedelta(days=3)
    )
    assert report.sent == 1 and report.missed == 1
    assert [s[0] for s in sender.sent] == [two_hours.id]
    assert statuses(cal)[two_days.id or 0] == (
        "missed",
        "superseded by a later reminder that is also due",
    )
    assert two_days.due_at > BOOK_NOW


async def test_a_timeout_is_unknown_and_never_resent(cal: Engine, person: str, clock: FakeClock):
    [rid] = insert_due(cal, [person], due=DUE, start=START)
    sender = Recorder(clock, [rem.SendTimeout()])
    report = await dispatch(cal, sender, clock, DUE)
    assert report.unknown == 1 and report.sent == 0
    await dispatch(cal, sender, clock, DUE + timedelta(minutes=5))
    assert len(sender.calls) == 1
    assert statuses(cal)[rid][0] == "unknown"


async def test_429_waits_retry_after_then_delivers_exactly_once(
    cal: Engine, person: str, clock: FakeClock
):
    [rid] = insert_due(cal, [person], due=DUE, start=START)
    five = timedelta(seconds=5)  # PTB's RetryAfter.retry_after is a timedelta
    sender = Recorder(clock, [rem.RateLimited(5), rem.RateLimited(five), rem.RateLimited(5.0)])
    report = await dispatch(cal, sender, clock, DUE)
    assert report.rate_limited == 3 and report.sent == 1
    assert [s[0] for s in sender.sent] == [rid]
    gaps = [b - a for a, b in zip(sender.calls, sender.calls[1:], strict=False)]
    assert len(gaps) == 3 and all(g >= 5.1 - 1e-9 for g in gaps), gaps
    with Session(cal) as s:
        row = s.get(Reminder, rid)
        assert row is not None and row.status == "sent" and row.attempts == 1


async def test_429_without_end_is_requeued_for_later_not_lost(
    cal: Engine, person: str, clock: FakeClock
):
    [rid] = insert_due(cal, [person], due=DUE, start=START)
    sender = Recorder(clock, [rem.RateLimited(1)] * 3)
    report = await dispatch(cal, sender, clock, DUE, max_rate_limit_retries=2)
    assert report.requeued == 1 and report.sent == 0
    assert statuses(cal)[rid] == ("pending", "rate limited")
    later = await dispatch(cal, sender, clock, clock.utc() + timedelta(minutes=2))
    assert later.sent == 1


async def test_refused_and_retryable_failures(cal: Engine, clock: FakeClock):
    a, b = make_person(cal), make_person(cal)
    [blocked] = insert_due(cal, [a], due=DUE, start=START)
    sender = Recorder(clock, [rem.SendFailed("Forbidden: bot was blocked by the user")])
    report = await dispatch(cal, sender, clock, DUE)
    assert report.failed == 1 and statuses(cal)[blocked] == (
        "failed",
        "Forbidden: bot was blocked by the user",
    )
    [flaky] = insert_due(cal, [b], due=DUE, start=START + timedelta(hours=1))
    sender = Recorder(clock, [rem.SendFailed("network down", retryable=True)])
    report = await dispatch(cal, sender, clock, DUE)
    assert report.requeued == 1 and statuses(cal)[flaky][0] == "pending"
    assert (await dispatch(cal, sender, clock, DUE + timedelta(seconds=30))).sent == 0  # backing off
    assert (await dispatch(cal, sender, clock, DUE + timedelta(minutes=3))).sent == 1


async def test_a_cancelled_appointment_is_not_reminded(cal: Engine, person: str, clock: FakeClock):
    from tests.booking.test_booking import BOOK_NOW, book, slot

    first = book(cal, person, slot(cal, hour=8))
    second = book(cal, person, slot(cal, hour=9))
    sender_calls: list[int] = []

    async def sender(reminder: Reminder, appointment: Appointment) -> None:
        sender_calls.append(reminder.appointment_id)
        with session_scope(cal) as s:  # the person cancels the other one meanwhile
            booking.cancel(s, person_id=person, reference=second.reference, now=BOOK_NOW)

    # Both 2-hour reminders are due; they go to the same chat one after the other.
    report = await rem.dispatch_due(
        cal,
        sender,
        now=datetime(2027, 3, 22, 7, 5, tzinfo=UTC),
        clock=clock.utc,
        limiter=limiter(clock),
    )
    assert sender_calls == [first.id]
    assert report.sent == 1 and report.skipped == 1


async def test_cancellation_notices_are_delivered_by_the_dispatcher(cal: Engine, clock: FakeClock):
    from tests.booking.test_booking import BOOK_NOW, MON, book, slot

    a = book(cal, make_person(cal, "ar"), slot(cal, hour=8), language="ar")
    with session_scope(cal) as s:
        booking.cancel_day(s, case_manager_id="cm-ar", day=MON, reason="krank", now=BOOK_NOW)
    sender = Recorder(clock)
    report = await dispatch(cal, sender, clock, BOOK_NOW + timedelta(seconds=5))
    assert report.sent == 1 and [s[1] for s in sender.sent] == ["cancellation"]
    with Session(cal) as s:
        [row] = s.exec(select(Reminder).where(Reminder.appointment_id == a.id)).all()
        assert row.status == "sent" and row.language == "ar"


async def test_claims_of_a_dead_worker_are_recovered(cal: Engine, clock: FakeClock):
    a, b = make_person(cal), make_person(cal)
    [never_sent] = insert_due(cal, [a], due=DUE, start=START)
    [mid_send] = insert_due(cal, [b], due=DUE, start=START + timedelta(hours=1))
    with session_scope(cal) as s:
        for rid, status in ((never_sent, "claimed"), (mid_send, "sending")):
            row = s.get(Reminder, rid)
            assert row is not None
            row.status, row.claimed_by, row.claimed_at = status, "dead:1", DUE
            s.add(row)
    sender = Recorder(clock)
    report = await dispatch(cal, sender, clock, DUE + timedelta(minutes=11))
    assert report.reaped == 2 and report.sent == 1
    assert [s[0] for s in sender.sent] == [never_sent]  # never handed to a sender: safe to send
    assert statuses(cal)[mid_send][0] == "unknown"  # maybe sent: not sent twice


async def test_sends_respect_the_per_chat_limit(cal: Engine, clock: FakeClock):
    chatty = make_person(cal)
    insert_due(cal, [chatty], due=DUE, start=START, per_person=5)
    sender = Recorder(clock)
    report = await dispatch(cal, sender, clock, DUE)
    assert report.sent == 5
    times = [t for _, _, t in sender.sent]
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times[1:]))  # burst of 2


async def test_the_job_only_wakes_the_dispatcher_with_a_generous_misfire_grace(
    cal: Engine, database_url: str
):
    scheduler = AsyncIOScheduler(job_defaults=JOB_DEFAULTS, timezone="UTC")
    runtime = build(Settings(database_url=database_url))
    install_jobs(scheduler, runtime)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job(REMINDERS_JOB)
        assert job is not None
        assert job.misfire_grace_time == 3600 and job.coalesce and job.max_instances == 1
        count = len(scheduler.get_jobs())
        install_jobs(scheduler, runtime)  # a restart replaces, never duplicates
        assert len(scheduler.get_jobs()) == count
        wake_reminder_job(scheduler)
        assert scheduler.get_job(REMINDERS_JOB).next_run_time <= datetime.now(UTC)
    finally:
        scheduler.shutdown(wait=False)
        await runtime.close()


def test_two_processes_send_each_reminder_exactly_once(
    database_url: str, engine: Engine, tmp_path: Path
):
    """Two real OS processes, each with its own engine, dispatch the same 200 due reminders."""
    from storage.seed_calendar import load_calendar_seed
    from tests.booking.conftest import TEST_CALENDAR

    calendar_file = tmp_path / "calendar.yml"
    calendar_file.write_text(TEST_CALENDAR, encoding="utf-8")
    with session_scope(engine) as s:
        load_calendar_seed(s, calendar_file)
    persons = [make_person(engine) for _ in range(50)]
    now = datetime.now(UTC)
    ids = insert_due(
        engine, persons, due=now - timedelta(minutes=1), start=now + timedelta(days=1), per_person=4
    )
    assert len(ids) == 200
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start_at = time.time() + 2.0
    outs = [tmp_path / f"sent-{i}.txt" for i in range(2)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.booking.dispatch_worker",
                database_url,
                str(out),
                str(start_at),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    per_process = [[int(x) for x in out.read_text().split()] if out.exists() else [] for out in outs]
    counts = Counter(rid for sent in per_process for rid in sent)
    assert sorted(counts) == sorted(ids)  # none missed
    assert max(counts.values()) == 1  # none twice
    print("per process:", [len(x) for x in per_process])
    assert all(per_process), [len(x) for x in per_process]  # both really took part
    assert {st for st, _ in statuses(engine).values()} == {"sent"}
    with Session(engine) as s:
        workers = {r.claimed_by for r in s.exec(select(Reminder)).all()}
    assert len(workers) == 2


def test_reminder_config_from_settings():
    settings = Settings(reminders=ReminderSettings(max_lateness_minutes=60, min_lead_minutes=0))
    cfg = reminder_config(settings)
    assert cfg.max_lateness == timedelta(hours=1) and cfg.min_lead == timedelta(0)
    assert reminder_config(Settings(reminders=ReminderSettings())) == rem.ReminderConfig()
    assert cfg.as_kwargs()["batch"] == 100
