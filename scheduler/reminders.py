"""The reminder dispatcher: claims due reminder rows and sends them, exactly once, within flood limits.

The rows in ``reminder`` are the truth; APScheduler only wakes ``dispatch_due``
(``install_reminder_job``), so a restart or a missed wake-up loses nothing. A row's life::

    pending ──claim──► claimed ──► sending ──► sent
       │                  │           ├──► unknown  (send timed out / worker died mid-send: never resent)
       │                  │           ├──► failed   (refused by Telegram, or attempts used up)
       │                  │           └──► pending  (429 too often, or a retryable error: next run)
       │                  └──► pending  (worker died before sending: safe to retry)
       └──► missed (fell due while nobody sent it and is no longer useful; ``reason`` says why)
       └──► cancelled (its appointment was cancelled)

Claiming uses ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two app processes never claim the
same row; every state change is also a conditional ``UPDATE … WHERE status = <expected>``, which is
what makes the claim safe on SQLite (one writer at a time) too.

The sender is injected: an async callable ``(reminder, appointment) -> None`` that delivers the text in
the person's language and raises ``RateLimited``, ``SendTimeout`` or ``SendFailed``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from scheduler.sending import RateLimiter
from storage.db import utcnow
from storage.models_booking import (
    Appointment,
    AppointmentStatus,
    Reminder,
    ReminderKind,
    ReminderStatus,
)

logger = logging.getLogger(__name__)

JOB_ID = "reminders"


class SendFailed(Exception):
    """The message was refused (e.g. the person blocked the bot); ``retryable`` for transient errors."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class RateLimited(Exception):
    """Telegram answered 429: nothing was sent; wait ``retry_after`` seconds before any send.

    Accepts seconds or a ``timedelta`` (what PTB's ``RetryAfter.retry_after`` gives).
    """

    def __init__(self, retry_after: float | timedelta) -> None:
        seconds = (
            retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)
        )
        super().__init__(f"retry after {seconds} s")
        self.retry_after = seconds


class SendTimeout(Exception):
    """The send timed out: it may or may not have been delivered, so it is never retried blindly."""


Sender = Callable[[Reminder, Appointment], Awaitable[None]]


@dataclass(frozen=True)
class ReminderConfig:
    """Dispatcher settings (``dispatch_due`` keyword arguments)."""

    batch: int = 100
    max_lateness: timedelta = timedelta(hours=12)  # a reminder later than this is missed
    min_lead: timedelta = timedelta(minutes=15)  # no reminder closer than this to the appointment
    stale_after: timedelta = timedelta(minutes=10)  # a claim this old belongs to a dead worker
    max_attempts: int = 3
    max_rate_limit_retries: int = 5
    concurrency: int = 8

    def as_kwargs(self) -> dict[str, Any]:
        """The fields as ``dispatch_due`` keyword arguments."""
        return {
            "batch": self.batch,
            "max_lateness": self.max_lateness,
            "min_lead": self.min_lead,
            "stale_after": self.stale_after,
            "max_attempts": self.max_attempts,
            "max_rate_limit_retries": self.max_rate_limit_retries,
            "concurrency": self.concurrency,
        }


def reminder_config_from(settings: object) -> ReminderConfig:
    """A ``ReminderConfig`` from settings attributes, each optional (defaults otherwise).

    Reads ``reminder_batch``, ``reminder_max_lateness_minutes`` and ``reminder_min_lead_minutes``.
    """
    d = ReminderConfig()
    lateness = getattr(settings, "reminder_max_lateness_minutes", None)
    lead = getattr(settings, "reminder_min_lead_minutes", None)
    return ReminderConfig(
        batch=int(getattr(settings, "reminder_batch", None) or d.batch),
        max_lateness=timedelta(minutes=int(lateness)) if lateness is not None else d.max_lateness,
        min_lead=timedelta(minutes=int(lead)) if lead is not None else d.min_lead,
    )


@dataclass
class DispatchReport:
    """What one ``dispatch_due`` run did."""

    claimed: int = 0
    sent: int = 0
    missed: int = 0
    cancelled: int = 0
    unknown: int = 0
    failed: int = 0
    requeued: int = 0
    rate_limited: int = 0  # 429 answers (each waited out and retried)
    skipped: int = 0  # claimed, then cancelled or moved before its turn
    reaped: int = 0  # stale claims of dead workers put back (or marked unknown)
    reasons: list[str] = field(default_factory=list)


def default_worker_id() -> str:
    """``host:pid``, recorded on claimed rows so staff can see which process sent what."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


# --- database steps (synchronous; run in a thread) ---------------------------------------------


def _set_status(engine: Engine, reminder_id: int, *, expect: str, worker: str, **values: Any) -> bool:
    with Session(engine) as s:
        result = s.exec(
            update(Reminder)
            .where(
                col(Reminder.id) == reminder_id,
                col(Reminder.status) == expect,
                col(Reminder.claimed_by) == worker,
            )
            .values(**values)
        )
        s.commit()
        return int(result.rowcount or 0) == 1


def _reap(engine: Engine, *, now: datetime, stale_after: timedelta) -> int:
    """Put back claims of workers that died before sending; mark those that died mid-send unknown."""
    cutoff = now - stale_after
    with Session(engine) as s:
        back = s.exec(
            update(Reminder)
            .where(col(Reminder.status) == ReminderStatus.CLAIMED, col(Reminder.claimed_at) < cutoff)
            .values(status=ReminderStatus.PENDING, claimed_by=None, claimed_at=None)
        )
        lost = s.exec(
            update(Reminder)
            .where(col(Reminder.status) == ReminderStatus.SENDING, col(Reminder.claimed_at) < cutoff)
            .values(
                status=ReminderStatus.UNKNOWN,
                reason="the sending process stopped during the send; delivery unknown (not resent)",
            )
        )
        s.commit()
    n_back, n_lost = int(back.rowcount or 0), int(lost.rowcount or 0)
    if n_back or n_lost:
        logger.warning("reminders: %d stale claims put back, %d unknown after a crash", n_back, n_lost)
    return n_back + n_lost


def _verdict(
    reminder: Reminder,
    appointment: Appointment | None,
    *,
    now: datetime,
    latest_due: dict[int, datetime],
    max_lateness: timedelta,
    min_lead: timedelta,
) -> tuple[str, str | None]:
    """The status a due pending reminder moves to (``claimed`` to send it) and why."""
    if appointment is None:
        return ReminderStatus.CANCELLED, "appointment gone"
    if reminder.kind == ReminderKind.CANCELLATION:
        if now >= appointment.start:
            return ReminderStatus.MISSED, (
                "cancellation notice not sent before the appointment time "
                f"{appointment.start:%Y-%m-%d %H:%M} UTC (due {reminder.due_at:%Y-%m-%d %H:%M} UTC)"
            )
        return ReminderStatus.CLAIMED, None
    if appointment.status != AppointmentStatus.BOOKED:
        return ReminderStatus.CANCELLED, f"appointment {appointment.status}"
    if now > appointment.start - min_lead:
        return ReminderStatus.MISSED, (
            f"not sent in time: due {reminder.due_at:%Y-%m-%d %H:%M} UTC, the appointment begins "
            f"{appointment.start:%Y-%m-%d %H:%M} UTC, dispatcher ran {now:%Y-%m-%d %H:%M} UTC"
        )
    late = now - reminder.due_at
    if late > max_lateness:
        return ReminderStatus.MISSED, (
            f"{late.total_seconds() / 3600:.1f} h late (due {reminder.due_at:%Y-%m-%d %H:%M} UTC), "
            f"more than the {max_lateness.total_seconds() / 3600:.1f} h allowed"
        )
    assert appointment.id is not None
    if latest_due.get(appointment.id, reminder.due_at) > reminder.due_at:
        return ReminderStatus.MISSED, "superseded by a later reminder that is also due"
    return ReminderStatus.CLAIMED, None


def _claim(
    engine: Engine,
    *,
    now: datetime,
    batch: int,
    worker: str,
    max_lateness: timedelta,
    min_lead: timedelta,
    report: DispatchReport,
) -> tuple[list[tuple[Reminder, Appointment]], int]:
    """Claim up to ``batch`` due reminders in one transaction; settle those no longer useful.

    Returns the claimed reminders with their appointments, and how many due rows were looked at.
    """
    with Session(engine, expire_on_commit=False) as s:
        rows = s.exec(
            select(Reminder)
            .where(
                Reminder.status == ReminderStatus.PENDING,
                Reminder.due_at <= now,
                or_(col(Reminder.next_attempt_at).is_(None), col(Reminder.next_attempt_at) <= now),
            )
            .order_by(col(Reminder.due_at), col(Reminder.id))
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return [], 0
        appointment_ids = sorted({r.appointment_id for r in rows})
        appointments = {
            a.id: a
            for a in s.exec(select(Appointment).where(col(Appointment.id).in_(appointment_ids))).all()
        }
        latest_due: dict[int, datetime] = {
            int(aid): due
            for aid, due in s.exec(
                select(Reminder.appointment_id, func.max(Reminder.due_at))
                .where(
                    col(Reminder.appointment_id).in_(appointment_ids),
                    Reminder.kind == ReminderKind.REMINDER,
                    col(Reminder.status).in_(
                        [ReminderStatus.PENDING, ReminderStatus.CLAIMED, ReminderStatus.SENDING]
                    ),
                    Reminder.due_at <= now,
                )
                .group_by(col(Reminder.appointment_id))
            ).all()
        }
        claimed: list[tuple[Reminder, Appointment]] = []
        for reminder in rows:
            appointment = appointments.get(reminder.appointment_id)
            status, reason = _verdict(
                reminder,
                appointment,
                now=now,
                latest_due=latest_due,
                max_lateness=max_lateness,
                min_lead=min_lead,
            )
            values: dict[str, Any] = {"status": status, "reason": reason}
            if status == ReminderStatus.CLAIMED:
                values |= {"claimed_by": worker, "claimed_at": now}
            result = s.exec(
                update(Reminder)
                .where(col(Reminder.id) == reminder.id, col(Reminder.status) == ReminderStatus.PENDING)
                .values(**values)
            )
            if int(result.rowcount or 0) != 1:
                continue  # another worker got it between our read and write (SQLite)
            if status == ReminderStatus.CLAIMED:
                assert appointment is not None
                claimed.append((reminder, appointment))
            else:
                if status == ReminderStatus.MISSED:
                    report.missed += 1
                    logger.warning("reminder %s missed: %s", reminder.id, reason)
                else:
                    report.cancelled += 1
                report.reasons.append(f"{reminder.id}: {status}: {reason}")
        s.commit()
        s.expunge_all()
    for reminder, _ in claimed:
        reminder.status, reminder.claimed_by, reminder.claimed_at = ReminderStatus.CLAIMED, worker, now
    report.claimed += len(claimed)
    return claimed, len(rows)


# --- the dispatcher ------------------------------------------------------------------------------------


async def dispatch_due(
    engine: Engine,
    sender: Sender,
    *,
    now: datetime | None = None,
    batch: int = 100,
    max_lateness: timedelta = ReminderConfig.max_lateness,
    min_lead: timedelta = ReminderConfig.min_lead,
    stale_after: timedelta = ReminderConfig.stale_after,
    max_attempts: int = ReminderConfig.max_attempts,
    max_rate_limit_retries: int = ReminderConfig.max_rate_limit_retries,
    concurrency: int = ReminderConfig.concurrency,
    limiter: RateLimiter | None = None,
    worker_id: str | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> DispatchReport:
    """Send every reminder due at ``now`` (default: ``clock()``) that is still useful; returns counts.

    Safe to run in several processes at once: each row is sent by at most one of them. Reminders that
    fell due while nothing ran are sent if still useful (``max_lateness``, at least ``min_lead`` before
    the appointment), else marked ``missed`` with the reason. Sends to one chat are sequential; the
    ``limiter`` (Telegram's limits by default) paces all of them and is paused by a 429. ``clock`` gives
    the timestamps recorded (inject both it and the limiter's clock in tests: nothing sleeps for real).
    """
    now = now if now is not None else clock()
    worker = worker_id or default_worker_id()
    limiter = limiter if limiter is not None else RateLimiter()
    report = DispatchReport()
    report.reaped = await asyncio.to_thread(_reap, engine, now=now, stale_after=stale_after)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def deliver(reminder: Reminder, appointment: Appointment) -> None:
        assert reminder.id is not None
        rid = reminder.id
        for _ in range(max_rate_limit_retries + 1):
            # Mark first, then pace: the limiter must be the last thing before the request.
            if not await asyncio.to_thread(
                _set_status,
                engine,
                rid,
                expect=ReminderStatus.CLAIMED,
                worker=worker,
                status=ReminderStatus.SENDING,
                claimed_at=clock(),
                attempts=Reminder.attempts + 1,
            ):
                report.skipped += 1  # cancelled or moved after the claim
                return
            reminder.attempts += 1
            try:
                async with limiter.sending(appointment.person_id), gate:
                    await sender(reminder, appointment)
            except RateLimited as exc:
                report.rate_limited += 1
                limiter.pause(exc.retry_after + 0.1)
                await asyncio.to_thread(
                    _set_status,
                    engine,
                    rid,
                    expect=ReminderStatus.SENDING,
                    worker=worker,
                    status=ReminderStatus.CLAIMED,
                    attempts=Reminder.attempts - 1,
                )
                reminder.attempts -= 1
                continue
            except SendTimeout:
                await _finish(rid, ReminderStatus.UNKNOWN, "send timed out; may have been delivered")
                report.unknown += 1
                return
            except SendFailed as exc:
                if exc.retryable and reminder.attempts < max_attempts:
                    retry_at = now + timedelta(minutes=2**reminder.attempts)
                    await _finish(
                        rid, ReminderStatus.PENDING, exc.reason[:300], next_attempt_at=retry_at
                    )
                    report.requeued += 1
                else:
                    await _finish(rid, ReminderStatus.FAILED, exc.reason[:300])
                    report.failed += 1
                return
            except Exception as exc:  # the sender broke mid-send: outcome unknown, do not resend
                logger.exception("reminder %s: sender raised", rid)
                await _finish(rid, ReminderStatus.UNKNOWN, f"sender error {type(exc).__name__}")
                report.unknown += 1
                return
            await _finish(rid, ReminderStatus.SENT, None, sent_at=clock())
            report.sent += 1
            return
        # Flood control answered every try: nothing was sent, so it is safe to try again later.
        if await asyncio.to_thread(
            _set_status,
            engine,
            rid,
            expect=ReminderStatus.CLAIMED,
            worker=worker,
            status=ReminderStatus.PENDING,
            reason="rate limited",
            next_attempt_at=now + timedelta(minutes=1),
        ):
            report.requeued += 1

    async def _finish(rid: int, status: str, reason: str | None, **values: Any) -> None:
        await asyncio.to_thread(
            _set_status,
            engine,
            rid,
            expect=ReminderStatus.SENDING,
            worker=worker,
            status=status,
            reason=reason,
            **values,
        )

    queues: dict[str, deque[tuple[Reminder, Appointment]]] = {}
    workers: dict[str, asyncio.Task[None]] = {}
    outstanding = 0

    async def chat_worker(chat: str) -> None:
        nonlocal outstanding
        queue = queues[chat]
        try:
            while queue:
                reminder, appointment = queue.popleft()
                try:
                    await deliver(reminder, appointment)
                except Exception:  # a database error: the row stays claimed and is reaped later
                    logger.exception("reminder %s: delivery bookkeeping failed", reminder.id)
                finally:
                    outstanding -= 1
        finally:
            del queues[chat]
            del workers[chat]

    low_water = max(1, batch // 2)
    exhausted = False
    try:
        while True:
            if not exhausted and outstanding < low_water:
                items, looked_at = await asyncio.to_thread(
                    _claim,
                    engine,
                    now=now,
                    batch=batch,
                    worker=worker,
                    max_lateness=max_lateness,
                    min_lead=min_lead,
                    report=report,
                )
                exhausted = looked_at == 0
                for reminder, appointment in items:
                    chat = appointment.person_id
                    queues.setdefault(chat, deque()).append((reminder, appointment))
                    outstanding += 1
                    if chat not in workers:
                        workers[chat] = asyncio.create_task(chat_worker(chat))
            if not workers:
                if exhausted:
                    break
                continue
            await asyncio.wait(list(workers.values()), timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if workers:  # cancelled from outside: let the sends in flight finish their bookkeeping
            await asyncio.gather(*workers.values(), return_exceptions=True)
    if report.claimed or report.missed or report.reaped:
        logger.info(
            "reminders: %d sent, %d missed, %d unknown, %d failed, %d requeued, %d rate limited",
            report.sent,
            report.missed,
            report.unknown,
            report.failed,
            report.requeued,
            report.rate_limited,
        )
    return report


# --- wiring ----------------------------------------------------------------------------------


def install_reminder_job(
    scheduler: Any,
    engine: Engine,
    sender: Sender,
    *,
    interval_seconds: float = 30.0,
    config: ReminderConfig | None = None,
    limiter: RateLimiter | None = None,
) -> RateLimiter:
    """Add the ``reminders`` interval job to the app's APScheduler; returns the limiter it shares.

    The job only wakes the dispatcher: whatever it misses (downtime, a skipped run) is still in the rows.
    Pass the same ``limiter`` to every sender of bulk messages in this process.
    """
    from scheduler.setup import add_interval_job

    cfg = config or ReminderConfig()
    shared = limiter or RateLimiter()

    async def run() -> None:
        await dispatch_due(engine, sender, limiter=shared, **cfg.as_kwargs())

    add_interval_job(scheduler, JOB_ID, run, interval_seconds)
    return shared


def wake_reminder_job(scheduler: Any) -> None:
    """Run the reminder job now (e.g. after staff cancelled a day), instead of at its next interval."""
    job = scheduler.get_job(JOB_ID)
    if job is not None:
        job.modify(next_run_time=utcnow())
