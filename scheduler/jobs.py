"""The app's background jobs: each wakes a service; the database rows are the truth.

A restart or a missed run loses nothing: every job looks at rows (kept messages, reminders, the
outbox, the waiting list) and does what is due.
"""

from __future__ import annotations

import asyncio
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from lotse.runtime import Runtime
from scheduler.setup import add_interval_job
from services.booking.reminders import dispatch_due
from storage.db import utcnow

REMINDERS_JOB = "reminders"
FRESHNESS_JOB = "content-freshness"
RETENTION_SECONDS = 6 * 3600
WAITLIST_SECONDS = 300
ESCALATION_SECONDS = 600
CLOSED_LOOP_JOB = "content-closed-loop"
CLOSED_LOOP_SECONDS = 180
# Content freshness (the daily check of review dates, and versions prepared ahead): every 15 minutes,
# so a version "valid from" a day is live within minutes of midnight and a restart never skips a day
# (each run is idempotent: an entry is marked once, a version activated once).
FRESHNESS_SECONDS = 900


def install_jobs(scheduler: AsyncIOScheduler, runtime: Runtime) -> None:
    """Every job of the app process, with explicit ids (a restart never duplicates one)."""
    settings = runtime.settings
    add_interval_job(
        scheduler,
        "retry-pending",
        runtime.conversation.retry_pending,
        settings.conversation.retry_interval_seconds,
    )
    sender = runtime.notices.reminder_sender(runtime.senders)
    cfg = runtime.reminder_config

    async def reminders() -> Any:
        return await dispatch_due(runtime.engine, sender, **cfg.as_kwargs())

    add_interval_job(scheduler, REMINDERS_JOB, reminders, settings.reminders.interval_seconds)
    add_interval_job(
        scheduler,
        "retention",
        lambda: asyncio.to_thread(runtime.privacy.purge_expired),
        RETENTION_SECONDS,
    )
    add_interval_job(scheduler, "waitlist", runtime.notices.notify_waitlist, WAITLIST_SECONDS)
    add_interval_job(
        scheduler,
        "handoff-escalation",
        lambda: asyncio.to_thread(runtime.handoff.escalate_due),
        ESCALATION_SECONDS,
    )
    # Unanswered questions grouped, and the people who asked told when their answer is published.
    add_interval_job(scheduler, CLOSED_LOOP_JOB, runtime.closed_loop.run, CLOSED_LOOP_SECONDS)
    add_interval_job(
        scheduler,
        FRESHNESS_JOB,
        lambda: asyncio.to_thread(runtime.entries.freshness),
        FRESHNESS_SECONDS,
    )
    if runtime.outbox.push_channels:
        add_interval_job(
            scheduler, "outbox", runtime.outbox.deliver, settings.telegram.outbox_interval_seconds
        )


def wake_reminder_job(scheduler: AsyncIOScheduler) -> None:
    """Run the reminder job now (e.g. after staff cancelled a day), instead of at its next interval."""
    job = scheduler.get_job(REMINDERS_JOB)
    if job is not None:
        job.modify(next_run_time=utcnow())
