"""Reminder rows: claiming due ones, state changes and reaping dead workers' claims (all the SQL).

Claiming uses ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two app processes never claim the
same row; every state change is also a conditional ``UPDATE … WHERE status = <expected>``, which is
what makes the claim safe on SQLite (one writer at a time) too. The rules of what a due reminder becomes
(``verdict``) are the caller's (``services.booking.reminders``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.models_booking import Appointment, Reminder, ReminderKind, ReminderStatus

logger = logging.getLogger(__name__)

# (reminder, its appointment or None, latest due time per appointment) -> (status, reason)
Verdict = Callable[[Reminder, Appointment | None, dict[int, datetime]], tuple[str, str | None]]


def set_status(engine: Engine, reminder_id: int, *, expect: str, worker: str, **values: Any) -> bool:
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


def reap(engine: Engine, *, now: datetime, stale_after: timedelta) -> int:
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


def claim_due(
    engine: Engine,
    *,
    now: datetime,
    batch: int,
    worker: str,
    verdict: Verdict,
) -> tuple[list[tuple[Reminder, Appointment]], list[tuple[Reminder, str, str | None]], int]:
    """Claim up to ``batch`` due reminders in one transaction; settle those ``verdict`` gives up on.

    Returns the claimed reminders with their appointments, the settled ones with their new status and
    reason, and how many due rows were looked at.
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
            return [], [], 0
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
        settled: list[tuple[Reminder, str, str | None]] = []
        for reminder in rows:
            appointment = appointments.get(reminder.appointment_id)
            status, reason = verdict(reminder, appointment, latest_due)
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
                settled.append((reminder, status, reason))
        s.commit()
        s.expunge_all()
    for reminder, _ in claimed:
        reminder.status, reminder.claimed_by, reminder.claimed_at = ReminderStatus.CLAIMED, worker, now
    return claimed, settled, len(rows)


def with_status(
    *, session: Session, statuses: list[str], limit: int = 50
) -> list[tuple[Reminder, Appointment]]:
    """Reminders in these states with their appointments, latest due first (for staff to check)."""
    return list(
        session.exec(
            select(Reminder, Appointment)
            .join(Appointment, col(Appointment.id) == col(Reminder.appointment_id))
            .where(col(Reminder.status).in_(statuses))
            .order_by(col(Reminder.due_at).desc())
            .limit(limit)
        ).all()
    )


# Reminders that did not (certainly) reach the person: case managers see them in the console.
NEEDS_A_LOOK = ("missed", "unknown", "failed")


def needing_a_look(*, session: Session, limit: int = 200) -> list[tuple[Reminder, Appointment]]:
    """Missed, unknown and failed reminders of booked appointments, the soonest appointment first."""
    return list(
        session.exec(
            select(Reminder, Appointment)
            .join(Appointment, col(Appointment.id) == col(Reminder.appointment_id))
            .where(col(Reminder.status).in_(NEEDS_A_LOOK), Appointment.status == "booked")
            .order_by(col(Appointment.start), col(Reminder.id))
            .limit(limit)
        ).all()
    )


def mark_checked(*, session: Session, reminder_id: int) -> tuple[Reminder, Appointment] | None:
    """A case manager dealt with a reminder that needed a look; None if it needs none (any more)."""
    row = session.exec(
        select(Reminder, Appointment)
        .join(Appointment, col(Appointment.id) == col(Reminder.appointment_id))
        .where(Reminder.id == reminder_id, col(Reminder.status).in_(NEEDS_A_LOOK))
    ).first()
    if row is None:
        return None
    reminder, appointment = row
    reminder.status = "checked"
    session.add(reminder)
    return reminder, appointment
