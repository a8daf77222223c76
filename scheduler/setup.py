"""The scheduler of the app process.

The database rows are the truth (pending messages now, reminders later); the scheduler only wakes the
jobs that look at them. So a restart loses nothing, and APScheduler's default misfire grace of 1 s, which
silently drops runs, is replaced by a generous one with coalescing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

logger = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}


def build_scheduler() -> AsyncIOScheduler:
    return AsyncIOScheduler(job_defaults=JOB_DEFAULTS, timezone="UTC")


def add_interval_job(
    scheduler: AsyncIOScheduler, job_id: str, func: Callable[[], Awaitable[object]], seconds: float
) -> None:
    """Add (or replace) an interval job with an explicit id, so a restart never duplicates it."""

    async def run() -> None:
        try:
            await func()
        except Exception:  # a job must never kill the scheduler; log and try next time
            logger.exception("job %s failed", job_id)

    scheduler.add_job(run, "interval", seconds=seconds, id=job_id, replace_existing=True)
