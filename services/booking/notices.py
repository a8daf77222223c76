"""Appointment messages that leave the app on their own: reminders, office cancellations, waiting-list
notices, and the ``.ics`` file that goes with a booking."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import Engine

from rendering import payloads
from rendering.booking_views import reminder_message
from rendering.ics import appointment_ics, ics_filename
from rendering.messages import OutMessage
from rendering.responses import ResponseBuilder
from services.audit import SYSTEM, Audit
from services.booking.reminders import Sender
from services.outbound import SendFailed, request_starting
from services.outbox import PULL_CHANNELS, Attachment, ChannelSender, Outbox
from storage import calendar, people
from storage.appointments import claim_waitlist_notice, get_by_reference, waiting_with_free_slots
from storage.db import session_scope, utcnow
from storage.models import Person
from storage.models_booking import Appointment, Reminder
from storage.vocabulary import MASTER_LANGUAGE

logger = logging.getLogger(__name__)

ICS_RESPONSES = frozenset({"booking_done", "appointment_moved"})


class CalendarFiles:
    """The ``.ics`` file of a person's appointment, and the files that follow a message."""

    def __init__(self, engine: Engine, responses: ResponseBuilder, audit: Audit | None = None) -> None:
        self.engine = engine
        self.responses = responses
        self.audit = audit

    def calendar_file(self, reference: str, person_id: str, language: str) -> bytes | None:
        """The .ics file of a person's own appointment (None if it is not theirs)."""
        with session_scope(self.engine) as s:
            appt = get_by_reference(s, reference)
            if appt is not None and appt.person_id != person_id and self.audit is not None:
                # Someone else's: the same 404 as for no appointment at all, and an audit row.
                self.audit.record(
                    SYSTEM,
                    "access.denied",
                    person=person_id,
                    target=f"appointment:{appt.reference}",
                    details={"attempt": "calendar_file"},
                    session=s,
                )
                logger.warning("access denied: %s asked for someone else's .ics", person_id[:8])
            if appt is None or appt.person_id != person_id:
                return None
            office = calendar.get_office(s, appt.office_id)
            if office is None:
                return None
            summary = self.responses.renderer.text("topic_case_management", language)
            return appointment_ics(appt, office, summary=f"KIM {summary} ({appt.reference})")

    def attachments(self, person_id: str, message: OutMessage) -> list[Attachment]:
        """The files that follow a message: a booked or moved appointment's calendar file."""
        reference = message.meta.get("reference")
        if not message.meta.get("ics") or message.meta.get("response") not in ICS_RESPONSES:
            return []
        language = str(message.meta.get("language") or MASTER_LANGUAGE)
        body = self.calendar_file(str(reference), person_id, language)
        return [Attachment(ics_filename(str(reference)), body)] if body else []


class Notices:
    """Builds and sends what the booking side tells people without being asked."""

    def __init__(self, engine: Engine, responses: ResponseBuilder, outbox: Outbox) -> None:
        self.engine = engine
        self.responses = responses
        self.outbox = outbox

    # --- reminders ---------------------------------------------------------------------------------

    def reminder_sender(self, senders: dict[str, ChannelSender]) -> Sender:
        """The dispatcher's sender: push channels through their one sender, pull channels via the outbox.

        Raises ``SendFailed`` (retryable) for a person on a channel that has no sender in this process
        (Telegram without a token): the reminder waits, it is never marked sent. Whether a channel is
        pulled is what it is (``PULL_CHANNELS``), not whether this process has a sender for it.
        """

        async def send(reminder: Reminder, appointment: Appointment) -> None:
            person = await asyncio.to_thread(self._person, appointment.person_id)
            if person is None:
                raise SendFailed("person erased")
            language = reminder.language or person.language or MASTER_LANGUAGE
            msg = await asyncio.to_thread(
                reminder_message, self.responses, reminder, appointment, language
            )
            sender = senders.get(person.channel)
            if sender is not None:
                if not getattr(sender, "announces_requests", False):
                    await request_starting()  # a sender that cannot say when its request leaves
                await sender.send(person.external_id, msg)
                await asyncio.to_thread(self._record, person, msg, sent=True)
            elif person.channel in PULL_CHANNELS:
                await request_starting()
                await asyncio.to_thread(self._record, person, msg, sent=False)
            else:
                raise SendFailed(f"no {person.channel} sender configured", retryable=True)
            logger.info("reminder %s (%s) sent to %s", reminder.id, reminder.kind, person.id[:8])

        send.announces_requests = True  # type: ignore[attr-defined]
        return send

    def _person(self, person_id: str) -> Person | None:
        with session_scope(self.engine) as s:
            return people.get_person(session=s, person_id=person_id)

    def _record(self, person: Person, msg: OutMessage, *, sent: bool) -> None:
        with session_scope(self.engine) as s:
            if sent:
                self.outbox.record_sent(session=s, person=person, messages=[msg])
            else:
                self.outbox.enqueue(session=s, person=person, messages=[msg])

    # --- the waiting list ------------------------------------------------------------------------

    async def notify_waitlist(self) -> int:
        """Tell people on the waiting list that a time is free (first come, first served), once each."""
        now = utcnow()

        def due() -> list[tuple[int, Person]]:
            with session_scope(self.engine) as s:
                found = []
                for entry in waiting_with_free_slots(s, now=now):
                    person = people.get_person(session=s, person_id=entry.person_id)
                    if person is not None and entry.id is not None:
                        found.append((entry.id, person))
                return found

        told = 0
        for entry_id, person in await asyncio.to_thread(due):
            lang = person.language or MASTER_LANGUAGE
            msg = self.responses.message(
                "waitlist_slot_free",
                lang,
                office="",
                buttons=self.responses.yes_no(
                    lang, payloads.intent("book_appointment"), payloads.intent("deny")
                ),
            )

            def enqueue(eid: int = entry_id, p: Person = person, m: OutMessage = msg) -> bool:
                # The claim and the message in one transaction: another process that found the same
                # entry gets False and sends nothing.
                with session_scope(self.engine) as s:
                    if not claim_waitlist_notice(s, eid, now=now):
                        return False
                    self.outbox.enqueue(session=s, person=p, messages=[m])
                    return True

            told += int(await asyncio.to_thread(enqueue))
        if told:
            await self.outbox.deliver()
        return told
