"""Booking a case-management appointment in the chat: a Rasa form, and managing appointments.

The form asks: topic → place → free slot → number of people → interpreter → confirmation. Buttons fill
the slots (``/choose_booking{"booking_slot": …}``); typed answers are understood where that is easy
(a number, a town, a language). Slots are re-derived from the calendar at every step: a button for a
time someone else took in the meantime is refused, never booked twice.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlmodel import Session

from actions.base import ServiceAction
from actions.constants import TOPIC_INTENTS
from actions.services import get_services
from lotse.runtime import Runtime
from services.audit import SYSTEM
from storage import appointments, calendar
from storage.db import session_scope, utcnow
from storage.vocabulary import TOPICS
from translations.languages import LANGUAGES

logger = logging.getLogger(__name__)

FORM_SLOTS = (
    "booking_topic",
    "booking_place",
    "booking_slot",
    "booking_people",
    "booking_interpreter",
    "booking_confirm",
)
SLOTS_SHOWN = 4
DAYS_AHEAD = 28
_NUMBER_WORDS = {
    1: (
        "eins",
        "ein",
        "allein",
        "one",
        "alone",
        "only me",
        "un",
        "une",
        "bir",
        "واحد",
        "یک",
        "один",
        "одна",
        "одна людина",
    ),
    2: ("zwei", "zu zweit", "two", "deux", "iki", "اثنين", "اثنان", "دو", "два", "две", "двоє"),
    3: ("drei", "zu dritt", "three", "trois", "üç", "ثلاثة", "سه", "три", "троє"),
    4: ("vier", "zu viert", "four", "quatre", "dört", "أربعة", "چهار", "четыре", "чотири"),
    5: ("fünf", "five", "cinq", "beş", "خمسة", "پنج", "пять", "п'ять"),
}


def clear_booking() -> list[EventType]:
    return [SlotSet(s, None) for s in (*FORM_SLOTS, "booking_page", "reschedule_reference")]


def _text(tracker: Tracker) -> str:
    text = str(tracker.latest_message.get("text") or "")
    return "" if text.startswith("/") else text.strip().lower()


class ValidateBookingForm(FormValidationAction):
    """Checks every answer against the calendar; typed answers are mapped where unambiguous."""

    def __init__(self, services: Runtime | None = None) -> None:
        super().__init__()
        self._services = services

    @property
    def services(self) -> Runtime:
        if self._services is None:
            self._services = get_services()
        return self._services

    def name(self) -> str:
        return "validate_booking_form"

    # --- typed answers ----------------------------------------------------------------------

    async def extract_booking_topic(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A typed matter ("Einbürgerung", "kita") is the topic the classifier recognised."""
        if tracker.get_slot("requested_slot") != "booking_topic" or not _text(tracker):
            return {}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        topic = TOPIC_INTENTS.get(str(intent))
        return {"booking_topic": topic} if topic else {}

    async def extract_booking_people(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "booking_people" or not _text(tracker):
            return {}
        text = _text(tracker)
        digits = re.findall(r"\d+", text)
        if digits:
            return {"booking_people": digits[0]}
        for n, words in _NUMBER_WORDS.items():
            if any(re.search(rf"(^|\W){re.escape(w)}($|\W)", text) for w in words):
                return {"booking_people": str(n)}
        return {}

    async def extract_booking_place(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "booking_place":
            return {}
        entity = next(tracker.get_latest_entity_values("municipality"), None)
        if entity:
            return {"booking_place": str(entity)}
        text = _text(tracker)
        if not text:
            return {}
        with session_scope(self.services.engine) as s:
            for m in calendar.municipalities(s):
                if m.name.lower() in text or m.slug in text:
                    return {"booking_place": m.slug}
        return {}

    async def extract_booking_interpreter(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "booking_interpreter":
            return {}
        text = _text(tracker)
        if not text:
            return {}
        for code, lang in LANGUAGES.items():
            if lang.endonym.lower() in text or lang.english.lower() in text:
                return {"booking_interpreter": code}
        return {}

    # --- validation ---------------------------------------------------------------------------

    async def validate_booking_topic(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in (*TOPICS, "other"):
            return {"booking_topic": value}
        dispatcher.utter_message(response="booking_invalid")
        return {"booking_topic": None}

    async def validate_booking_place(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        with session_scope(self.services.engine) as s:
            known = {m.slug for m in calendar.municipalities(s)}
        if str(value) in known:
            return {"booking_place": str(value), "booking_page": 0.0}
        dispatcher.utter_message(response="booking_invalid")
        return {"booking_place": None}

    async def validate_booking_slot(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == "later":
            page = int(tracker.get_slot("booking_page") or 0) + 1
            return {"booking_slot": None, "booking_page": float(page)}
        with session_scope(self.services.engine) as s:
            slot = calendar.slot_from_key(s, str(value), now=utcnow())
        if slot is None:
            dispatcher.utter_message(response="booking_slot_taken")
            return {"booking_slot": None}
        return {"booking_slot": str(value), "booking_office": slot.office_id}

    async def validate_booking_people(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if str(value).isdigit() and 1 <= int(value) <= self.services.booking_config.max_people:
            return {"booking_people": str(int(value))}
        dispatcher.utter_message(response="booking_invalid")
        return {"booking_people": None}

    async def validate_booking_interpreter(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == "none" or value in LANGUAGES:
            return {"booking_interpreter": value}
        dispatcher.utter_message(response="booking_invalid")
        return {"booking_interpreter": None}

    async def validate_booking_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"booking_confirm": "yes" if value == "yes" else None}


class ActionAskBookingSlot(ServiceAction):
    """Offer the next free times as buttons, or the waiting list when there are none."""

    def name(self) -> str:
        return "action_ask_booking_slot"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        now = utcnow()
        page = int(tracker.get_slot("booking_page") or 0)
        topic = tracker.get_slot("booking_topic")
        place = tracker.get_slot("booking_place")
        with session_scope(self.services.engine) as s:
            town = calendar.get_municipality(s, str(place)) if place else None
        if town is not None and not town.local_cm and not town.served_by_office:
            # No case management for this town: say who serves it (never a waiting list for an
            # office that does not exist), and offer a person or another town.
            dispatcher.utter_message(
                response="booking_town_not_covered", town=town.name, contact=town.contact or ""
            )
            return [ActiveLoop(None), SlotSet("requested_slot", None), *clear_booking()]
        with session_scope(self.services.engine) as s:
            free = calendar.free_slots(
                s,
                start=now.date(),
                days=DAYS_AHEAD,
                now=now,
                topic=topic if topic in TOPICS else None,
                municipality=tracker.get_slot("booking_place"),
                language=self.language(tracker),
            )
        shown = calendar.choose_slots(free, SLOTS_SHOWN, skip=page * SLOTS_SHOWN)
        if not shown and page > 0:
            shown = calendar.choose_slots(free, SLOTS_SHOWN)  # "later" past the end: start again
        if not shown:
            dispatcher.utter_message(response="booking_no_slots")
            return []
        office_id = shown[0].office_id
        dispatcher.utter_message(
            response="utter_ask_booking_slot", office_id=office_id, slot_keys=[x.key for x in shown]
        )
        return []


class ActionAskBookingConfirm(Action):
    def name(self) -> str:
        return "action_ask_booking_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(
            response="utter_ask_booking_confirm",
            topic=tracker.get_slot("booking_topic"),
            slot_key=tracker.get_slot("booking_slot"),
            office_id=tracker.get_slot("booking_office"),
            people=tracker.get_slot("booking_people"),
            interpreter=tracker.get_slot("booking_interpreter"),
        )
        return []


class ActionBookAppointment(ServiceAction):
    """The form is complete: book (or move) the appointment."""

    def name(self) -> str:
        return "action_book_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        now = utcnow()
        interpreter = tracker.get_slot("booking_interpreter")
        moving = tracker.get_slot("reschedule_reference")
        with session_scope(self.services.engine) as s:
            slot = calendar.slot_from_key(s, str(tracker.get_slot("booking_slot")), now=now)
            try:
                if slot is None:
                    raise appointments.SlotTaken(str(tracker.get_slot("booking_slot")))
                if moving:
                    moved = appointments.reschedule(
                        s, person_id=tracker.sender_id, reference=str(moving), slot=slot, now=now
                    )
                    reference, response = moved.appointment.reference, "appointment_moved"
                else:
                    appt = appointments.book(
                        s,
                        person_id=tracker.sender_id,
                        slot=slot,
                        topic=str(tracker.get_slot("booking_topic") or "other"),
                        people_count=int(tracker.get_slot("booking_people") or 1),
                        interpreter_language=None if interpreter in (None, "none") else str(interpreter),
                        language=self.language(tracker),
                        now=now,
                    )
                    reference, response = appt.reference, "booking_done"
            except appointments.SlotUnavailable:
                dispatcher.utter_message(response="booking_slot_taken")
                return [
                    SlotSet("booking_slot", None),
                    SlotSet("booking_confirm", None),
                    FollowupAction("booking_form"),
                ]
            except appointments.BookingError as exc:
                logger.warning("booking refused: %s", type(exc).__name__)
                dispatcher.utter_message(response="booking_invalid")
                return clear_booking()
        dispatcher.utter_message(response=response, reference=reference)
        return clear_booking()


class ActionStopBooking(Action):
    def name(self) -> str:
        return "action_stop_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="booking_stopped")
        return [ActiveLoop(None), SlotSet("requested_slot", None), *clear_booking()]


class ActionJoinWaitlist(ServiceAction):
    def name(self) -> str:
        return "action_join_waitlist"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        with session_scope(self.services.engine) as s:
            appointments.join_waitlist(
                s,
                person_id=tracker.sender_id,
                topic=str(tracker.get_slot("booking_topic") or "other"),
                municipality=tracker.get_slot("booking_place"),
                now=utcnow(),
            )
        dispatcher.utter_message(response="waitlist_joined")
        return [ActiveLoop(None), SlotSet("requested_slot", None), *clear_booking()]


class ActionMyAppointments(ServiceAction):
    def name(self) -> str:
        return "action_my_appointments"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        with session_scope(self.services.engine) as s:
            refs = [
                a.reference
                for a in appointments.appointments_of(s, tracker.sender_id, upcoming_from=utcnow())
            ]
        if refs:
            dispatcher.utter_message(response="my_appointments_list", references=refs)
        else:
            dispatcher.utter_message(response="my_appointments_none")
        return []


def _reference(tracker: Tracker) -> str | None:
    ref = next(tracker.get_latest_entity_values("reference"), None)
    return appointments.normalize_reference(str(ref)) if ref else None


def _refuse_if_not_theirs(
    services: Runtime, session: Session, person_id: str, reference: str, attempt: str
) -> None:
    """A reference to someone else's appointment: an audit row (the person who tried, the
    reference; nothing else). The person gets the same answer as for a reference that does not
    exist, so nothing tells them it does."""
    other = appointments.get_by_reference(session, reference)
    if other is None or other.person_id == person_id:
        return
    services.audit.record(
        SYSTEM,
        "access.denied",
        person=person_id,
        target=f"appointment:{other.reference}",
        details={"attempt": attempt},
        session=session,
    )
    logger.warning("access denied: %s named someone else's appointment (%s)", person_id[:8], attempt)


class ActionCancelAppointment(ServiceAction):
    """Cancel one's own appointment (by button, by reference, or the only upcoming one)."""

    def name(self) -> str:
        return "action_cancel_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        now = utcnow()
        with session_scope(self.services.engine) as s:
            upcoming = [
                a.reference
                for a in appointments.appointments_of(s, tracker.sender_id, upcoming_from=now)
            ]
            ref = _reference(tracker) or (upcoming[0] if len(upcoming) == 1 else None)
            if ref is None:
                dispatcher.utter_message(
                    response="my_appointments_list" if upcoming else "my_appointments_none",
                    references=upcoming,
                )
                return []
            try:
                appointments.cancel(s, person_id=tracker.sender_id, reference=ref, now=now)
            except appointments.BookingError as exc:
                if isinstance(exc, appointments.AppointmentNotFound):
                    _refuse_if_not_theirs(self.services, s, tracker.sender_id, ref, "cancel")
                dispatcher.utter_message(response="appointment_not_found")
                if upcoming:
                    dispatcher.utter_message(response="my_appointments_list", references=upcoming)
                return []
        dispatcher.utter_message(response="appointment_cancelled", reference=ref)
        return []


class ActionStartReschedule(ServiceAction):
    """Move one's own appointment: the booking form runs again with topic and place filled in."""

    def name(self) -> str:
        return "action_start_reschedule"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        now = utcnow()
        with session_scope(self.services.engine) as s:
            upcoming = appointments.appointments_of(s, tracker.sender_id, upcoming_from=now)
            ref = _reference(tracker) or (upcoming[0].reference if len(upcoming) == 1 else None)
            appt = next((a for a in upcoming if a.reference == ref), None)
            if appt is None:
                if ref is not None:
                    _refuse_if_not_theirs(self.services, s, tracker.sender_id, ref, "move")
                dispatcher.utter_message(response="appointment_not_found")
                if upcoming:
                    dispatcher.utter_message(
                        response="my_appointments_list", references=[a.reference for a in upcoming]
                    )
                return []
            office = calendar.get_office(s, appt.office_id)
            place = office.municipality if office else None
            return [
                *clear_booking(),
                SlotSet("reschedule_reference", appt.reference),
                SlotSet("booking_topic", appt.topic),
                SlotSet("booking_place", place),
                SlotSet("booking_people", str(appt.people_count)),
                SlotSet("booking_interpreter", appt.interpreter_language or "none"),
                FollowupAction("booking_form"),
            ]
