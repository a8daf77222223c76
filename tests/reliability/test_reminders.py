"""#12 a reminder survives the scheduler's downtime; #13 two dispatcher processes on one PostgreSQL.

The app's scheduler (``scheduler.jobs.install_jobs``: the reminder job and every other job), the
dispatcher and the Telegram sender run in real OS processes (``tests/reliability/reminder_worker.py``)
against the fake Bot API server; what Telegram received is counted there, not in the dispatcher.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from cli.main import main as lotse
from storage.db import make_engine
from tests.conftest import _pg_database
from tests.reliability.conftest import FULL, Figure, scale
from tests.reliability.helpers import (
    deliveries,
    due_reminders,
    reminder_rows,
    spawn,
    telegram_people,
    worker_config,
)
from tests.support.fake_telegram import FakeTelegram


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    proc.wait(timeout=30)


def test_12_reminder_survives_scheduler_downtime(
    seeded: Engine, database_url: str, fake: FakeTelegram, tmp_path: Path, figure: Figure
):
    """The scheduler is stopped before the reminders fall due and restarted after: each useful one is
    sent exactly once, each one that is no longer useful is marked ``missed`` with the reason and listed
    for staff (``lotse appointments reminders``); none is silently dropped."""
    if not FULL and database_url.startswith("postgresql"):
        pytest.skip("the quick run checks SQLite; PostgreSQL in make reliability (and #13)")
    n = scale(3, 20)
    before, after = scale((2.0, 3.0), (20.0, 15.0))  # seconds of downtime before / after the due time
    useful = telegram_people(seeded, fake, n)
    too_close = telegram_people(seeded, fake, n)
    config = worker_config(database_url, fake, interval=1.0, per_second=100)
    log = tmp_path / "scheduler.log"
    first = spawn("scheduler", config, log)
    try:
        wait_for(lambda: "scheduler started" in log.read_text(), 60, "the scheduler to start")
        due = datetime.now(UTC) + timedelta(seconds=2 + before)
        ok_ids = due_reminders(seeded, [p for p, _ in useful], due=due, start=due + timedelta(days=1))
        # Appointments 15 min (min_lead) after the due time plus a little: useless once that late.
        late_ids = due_reminders(
            seeded,
            [p for p, _ in too_close],
            due=due,
            start=due + timedelta(minutes=15, seconds=after / 2),
        )
        time.sleep(2.0)  # the running scheduler looks at them (not due yet)
        assert datetime.now(UTC) < due, "the scheduler must be stopped before the due time"
    finally:
        stop(first, signal.SIGTERM)
    down_at = datetime.now(UTC)
    assert deliveries(fake, [c for _, c in useful + too_close]) == {}  # nothing before it was due
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + after)
    second = spawn("scheduler", config, log)
    try:
        ids = ok_ids + late_ids
        wait_for(
            lambda: all(
                r.status in ("sent", "missed") for i, r in reminder_rows(seeded).items() if i in ids
            ),
            scale(90, 180),
            "every reminder sent or missed",
        )
    finally:
        stop(second)
    rows = reminder_rows(seeded)
    got = deliveries(fake, [c for _, c in useful + too_close])
    assert {c: got[c] for _, c in useful} == {c: 1 for _, c in useful}, "each useful one exactly once"
    assert all(got[c] == 0 for _, c in too_close), "a missed reminder is not sent late"
    assert all(rows[i].status == "sent" for i in ok_ids)
    for i in late_ids:
        assert rows[i].status == "missed" and "not sent in time" in (rows[i].reason or ""), rows[i]
    # Staff see every missed one with its reason.
    listed = tmp_path / "listed.txt"
    with listed.open("w") as out, contextlib.redirect_stdout(out):
        assert (
            lotse(["--database-url", database_url, "appointments", "reminders", "--status", "missed"])
            == 0
        )
    text = listed.read_text()
    assert f"{len(late_ids)} reminders with status missed" in text and "not sent in time" in text
    downtime = (datetime.now(UTC) - down_at).total_seconds()
    figure(
        12,
        "reminder survives scheduler downtime",
        f"{n}/{n} useful sent exactly once, {n}/{n} too late marked missed with reason and listed for "
        f"staff, 0 dropped (scheduler down {before:.0f} s before to {after:.0f} s after due; "
        f"{downtime:.0f} s until settled)",
    )


@pytest.fixture
def pg_url(pg_seeded_template: str) -> Iterator[str]:
    yield from _pg_database(pg_seeded_template)


@pytest.mark.postgres
def test_13_two_dispatchers_no_duplicate_no_missed(
    pg_url: str, fake: FakeTelegram, tmp_path: Path, figure: Figure
):
    """Two app processes, each with the app's scheduler and dispatcher, on one PostgreSQL database;
    1,000 reminders (full) fall due at once: each chat gets its reminder exactly once."""
    engine = make_engine(pg_url)
    n = scale(150, 1000)
    persons = telegram_people(engine, fake, n)
    now = datetime.now(UTC)
    start_at = time.time() + 5.0  # both processes import and build first, then start together
    due = now + timedelta(seconds=6)
    ids = due_reminders(engine, [p for p, _ in persons], due=due, start=now + timedelta(days=1))
    config = worker_config(pg_url, fake, interval=1.0, per_second=200, batch=25, start_at=start_at)
    logs = [tmp_path / f"app-{i}.log" for i in range(2)]
    procs = [spawn("scheduler", config, log) for log in logs]
    t0 = time.monotonic()
    try:
        wait_for(
            lambda: (
                all(r.status == "sent" for r in reminder_rows(engine).values())
                or any(p.poll() is not None for p in procs)
            ),
            scale(120, 300),
            "every reminder sent",
        )
        elapsed = time.monotonic() - t0
        time.sleep(2.0)  # a late duplicate would show now
        alive = [p.poll() is None for p in procs]
    finally:
        for p in procs:
            stop(p)
    assert all(alive), [log.read_text()[-2000:] for log in logs]
    rows = reminder_rows(engine)
    got = deliveries(fake, [c for _, c in persons])
    duplicates = sum(v - 1 for v in got.values() if v > 1)
    missed = sum(1 for _, c in persons if got[c] == 0)
    workers = {r.claimed_by for r in rows.values()}
    assert duplicates == 0 and missed == 0, (duplicates, missed)
    assert {rows[i].status for i in ids} == {"sent"}
    assert len(workers) == 2, workers  # both really dispatched
    per_worker = sorted(sum(1 for r in rows.values() if r.claimed_by == w) for w in workers)
    engine.dispose()
    figure(
        13,
        "two dispatcher processes, one PostgreSQL",
        f"{n} reminders: 0 duplicates, 0 missed, split {per_worker[0]}/{per_worker[1]}, "
        f"all sent in {elapsed:.1f} s",
    )
