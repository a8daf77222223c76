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

A row becomes ``sending`` only when its request is about to leave the process: the app's Telegram send
path announces that after pacing and flood control (``services.outbound.announcing``), so a worker
killed while its sends wait leaves them ``claimed`` (put back and sent by the next run) and only the
requests really in flight become ``unknown``.

The claim and every state change are in ``storage.reminders`` (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, conditional updates everywhere), so two app processes never send the same row.

The sender is injected: an async callable ``(reminder, appointment) -> None`` that delivers the text in
the person's language through the one send path and raises ``RateLimited``, ``SendTimeout`` or
``SendFailed`` (``services.outbound``). In the app the send path paces itself (Telegram's limits, one
rate limiter for every message); tests pass a ``limiter`` with a fake clock instead.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from services.outbound import RateLimited, SendAborted, SendFailed, SendTimeout, announcing
from services.pacing import RateLimiter
from storage import reminders as reminder_rows
from storage.db import utcnow
from storage.models_booking import (
    Appointment,
    AppointmentStatus,
    Reminder,
    ReminderKind,
    ReminderStatus,
)

logger = logging.getLogger(__name__)

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


def verdict(
    reminder: Reminder,
    appointment: Appointment | None,
    latest_due: dict[int, datetime],
    *,
    now: datetime,
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
    ``limiter``, if given, paces all of them and is paused by a 429 (without one, the sender paces
    itself: the app's send path has the one Telegram rate limiter). ``clock`` gives the timestamps
    recorded (inject both it and the limiter's clock in tests: nothing sleeps for real).
    """
    now = now if now is not None else clock()
    worker = worker_id or default_worker_id()
    report = DispatchReport()
    report.reaped = await asyncio.to_thread(reminder_rows.reap, engine, now=now, stale_after=stale_after)
    gate = asyncio.Semaphore(max(1, concurrency))

    lazy = bool(getattr(sender, "announces_requests", False))

    async def deliver(reminder: Reminder, appointment: Appointment) -> None:
        assert reminder.id is not None
        rid = reminder.id
        for _ in range(max_rate_limit_retries + 1):
            # A row is ``sending`` only while its request may really be on the way: a sender that
            # announces its request (``services.outbound.announcing``: the Telegram send path, after
            # pacing and flood control) marks it then, so a crash while it waits leaves it ``claimed``
            # (safe to send again). Any other sender: mark first, then pace (the limiter is the last
            # thing before the request).
            marked = False

            async def mark() -> None:
                nonlocal marked
                if marked:
                    return
                if not await asyncio.to_thread(
                    reminder_rows.set_status,
                    engine,
                    rid,
                    expect=ReminderStatus.CLAIMED,
                    worker=worker,
                    status=ReminderStatus.SENDING,
                    claimed_at=clock(),
                    attempts=Reminder.attempts + 1,
                ):
                    raise SendAborted("cancelled or moved after the claim")
                marked = True
                reminder.attempts += 1

            try:
                async with gate:
                    if not lazy:
                        await mark()
                    with announcing(mark):
                        if limiter is None:
                            await sender(reminder, appointment)
                        else:
                            async with limiter.sending(appointment.person_id):
                                await sender(reminder, appointment)
                    await mark()  # nothing was announced: nothing left the process
            except SendAborted:
                report.skipped += 1  # cancelled or moved after the claim
                if marked:  # withdrawn after the mark (a sender's own check): nothing was sent
                    await _finish(rid, ReminderStatus.PENDING, None)
                return
            except RateLimited as exc:
                report.rate_limited += 1
                if limiter is not None:
                    limiter.pause(exc.retry_after + 0.1)
                if marked:
                    await asyncio.to_thread(
                        reminder_rows.set_status,
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
                await _finish(
                    rid, ReminderStatus.UNKNOWN, "send timed out; may have been delivered", at(marked)
                )
                report.unknown += 1
                return
            except SendFailed as exc:
                counted: dict[str, Any] = {}
                if not marked:  # refused before any request (no sender, person gone): an attempt too
                    counted["attempts"] = Reminder.attempts + 1
                    reminder.attempts += 1
                if exc.retryable and reminder.attempts < max_attempts:
                    retry_at = now + timedelta(minutes=2**reminder.attempts)
                    await _finish(
                        rid,
                        ReminderStatus.PENDING,
                        exc.reason[:300],
                        at(marked),
                        next_attempt_at=retry_at,
                        **counted,
                    )
                    report.requeued += 1
                else:
                    await _finish(rid, ReminderStatus.FAILED, exc.reason[:300], at(marked), **counted)
                    report.failed += 1
                return
            except Exception as exc:  # the sender broke mid-send: outcome unknown, do not resend
                logger.exception("reminder %s: sender raised", rid)
                await _finish(
                    rid, ReminderStatus.UNKNOWN, f"sender error {type(exc).__name__}", at(marked)
                )
                report.unknown += 1
                return
            await _finish(rid, ReminderStatus.SENT, None, sent_at=clock())
            report.sent += 1
            return
        # Flood control answered every try: nothing was sent, so it is safe to try again later.
        if await asyncio.to_thread(
            reminder_rows.set_status,
            engine,
            rid,
            expect=ReminderStatus.CLAIMED,
            worker=worker,
            status=ReminderStatus.PENDING,
            reason="rate limited",
            next_attempt_at=now + timedelta(minutes=1),
        ):
            report.requeued += 1

    def at(marked: bool) -> str:
        """The state a row is in while its send is being decided."""
        return ReminderStatus.SENDING if marked else ReminderStatus.CLAIMED

    async def _finish(
        rid: int,
        status: str,
        reason: str | None,
        expect: str = ReminderStatus.SENDING,
        **values: Any,
    ) -> None:
        await asyncio.to_thread(
            reminder_rows.set_status,
            engine,
            rid,
            expect=expect,
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
                items, settled, looked_at = await asyncio.to_thread(
                    reminder_rows.claim_due,
                    engine,
                    now=now,
                    batch=batch,
                    worker=worker,
                    verdict=functools.partial(
                        verdict, now=now, max_lateness=max_lateness, min_lead=min_lead
                    ),
                )
                report.claimed += len(items)
                for reminder, status, reason in settled:
                    if status == ReminderStatus.MISSED:
                        report.missed += 1
                        logger.warning("reminder %s missed: %s", reminder.id, reason)
                    else:
                        report.cancelled += 1
                    report.reasons.append(f"{reminder.id}: {status}: {reason}")
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
