"""Appointment messages that leave the app on their own: reminders, office cancellations, .ics files."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlmodel import select
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut

from bot.booking_views import _appointment_message
from bot.ics import appointment_ics
from bot.responses import Button, OutMessage
from bot.services import Services
from scheduler.reminders import RateLimited, SendFailed, SendTimeout
from storage import calendar, people
from storage.appointments import get_by_reference, mark_waitlist_notified
from storage.db import session_scope, utcnow
from storage.models import Person
from storage.models_booking import (
    Appointment,
    Reminder,
    ReminderKind,
    WaitlistEntry,
    WaitlistStatus,
)
from storage.seed import TOPICS

logger = logging.getLogger(__name__)


def reminder_message(
    services: Services, reminder: Reminder, appointment: Appointment, language: str
) -> OutMessage:
    b = services.responses
    if reminder.kind == ReminderKind.CANCELLATION:
        msg = _appointment_message(b, "staff_cancelled", language, appointment.reference, None)
        msg.buttons = [
            Button(b.renderer.text("button_yes", language), "i:book_appointment"),
            Button(b.renderer.text("button_no", language), "i:deny"),
        ]
        return msg
    return _appointment_message(b, "reminder", language, appointment.reference, None)


def ics_for(services: Services, reference: str, person_id: str, language: str) -> bytes | None:
    """The .ics file of a person's own appointment (None if it is not theirs)."""
    with session_scope(services.engine) as s:
        appt = get_by_reference(s, reference)
        if appt is None or appt.person_id != person_id:
            return None
        office = calendar.get_office(s, appt.office_id)
        if office is None:
            return None
        summary = services.renderer.text("topic_case_management", language)
        return appointment_ics(appt, office, summary=f"KIM {summary} ({appt.reference})")


def make_reminder_sender(services: Services) -> Callable[[Reminder, Appointment], Awaitable[None]]:
    """The dispatcher's sender: Telegram directly (errors mapped for retry rules), web via the outbox."""

    async def send(reminder: Reminder, appointment: Appointment) -> None:
        def load() -> Person | None:
            with session_scope(services.engine) as s:
                return people.get_person(session=s, person_id=appointment.person_id)

        person = await asyncio.to_thread(load)
        if person is None:
            raise SendFailed("person erased")
        language = reminder.language or person.language or "de"
        msg = await asyncio.to_thread(reminder_message, services, reminder, appointment, language)
        bot = services.telegram_bot
        if person.channel == "telegram" and bot is not None:
            from bot.telegram import keyboard

            try:
                await bot.send_message(
                    chat_id=int(person.external_id), text=msg.text, reply_markup=keyboard(msg)
                )
            except RetryAfter as exc:
                raise RateLimited(
                    float(
                        exc.retry_after
                        if isinstance(exc.retry_after, int | float)
                        else exc.retry_after.total_seconds()
                    )
                ) from exc
            except TimedOut as exc:  # it may have arrived: never resend blindly
                raise SendTimeout(str(exc)) from exc
            except NetworkError as exc:  # the request did not get through: safe to try again
                raise SendFailed(str(exc), retryable=True) from exc
            except TelegramError as exc:  # e.g. Forbidden: the person blocked the bot
                raise SendFailed(str(exc)) from exc
            await asyncio.to_thread(services.conversation._store_out, person, "telegram", [msg], True)
        else:
            await asyncio.to_thread(
                services.conversation._store_out, person, person.channel, [msg], False
            )
        logger.info("reminder %s (%s) sent to %s", reminder.id, reminder.kind, person.id[:8])

    return send


def waiting_with_free_slots(
    services: Services, *, now: datetime, days: int = 28
) -> list[tuple[int, str]]:
    """Waiting-list entries for which the calendar now has a free time: (entry id, person id)."""
    found = []
    with session_scope(services.engine) as s:
        for entry in s.exec(select(WaitlistEntry).where(WaitlistEntry.status == WaitlistStatus.WAITING)):
            slots = calendar.free_slots(
                s,
                start=now.date(),
                days=days,
                now=now,
                municipality=entry.municipality,
                office_id=entry.office_id,
                topic=entry.topic if entry.topic in TOPICS else None,
            )
            if slots and entry.id is not None:
                found.append((entry.id, entry.person_id))
    return found


async def notify_waitlist(services: Services, *, now: datetime | None = None) -> int:
    """Tell people on the waiting list that a time is free (first come, first served), once each."""
    now = now or utcnow()
    due = await asyncio.to_thread(waiting_with_free_slots, services, now=now)
    told = 0
    for entry_id, person_id in due:

        def load(pid: str = person_id) -> Person | None:
            with session_scope(services.engine) as s:
                return people.get_person(session=s, person_id=pid)

        person = await asyncio.to_thread(load)
        if person is None:
            continue
        lang = person.language or "de"
        msg = services.responses.message(
            "waitlist_slot_free",
            lang,
            office="",
            buttons=services.responses.yes_no(lang, "i:book_appointment", "i:deny"),
        )
        await services.conversation.deliver(person, [msg])

        def mark(eid: int = entry_id) -> None:
            with session_scope(services.engine) as s:
                mark_waitlist_notified(s, [eid], now=now)

        await asyncio.to_thread(mark)
        told += 1
    return told
