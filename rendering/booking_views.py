"""What the person sees in the booking conversation: texts, buttons and dates in their language.

The actions (``actions/booking.py``) decide; these views render. Button payloads:
``b:<field>:<value>`` answers a booking question, ``b:x:stop`` stops, ``a:c:<ref>`` / ``a:m:<ref>``
cancel or move an appointment, ``i:join_waitlist`` joins the waiting list.
"""

from __future__ import annotations

from typing import Any

from rendering import payloads
from rendering.building import MessageBuilder
from rendering.dates import local_date_time, short_date_time
from rendering.messages import Button, OutMessage
from storage import calendar
from storage.appointments import get_by_reference
from storage.db import session_scope
from storage.models_booking import Appointment, Reminder, ReminderKind
from storage.vocabulary import MAX_PEOPLE, TOPICS
from translations.languages import LANGUAGES

INTERPRETER_LANGUAGES = ("ar", "uk", "ru", "tr", "fa", "en", "fr")


def _stop(b: MessageBuilder, lang: str) -> Button:
    return Button("✖ " + b.renderer.text("button_cancel", lang), payloads.encode(payloads.StopBooking()))


def topic_title(b: MessageBuilder, topic: str, lang: str) -> str:
    return b.renderer.text(f"topic_{topic}" if topic in TOPICS else "topic_other", lang)


def build_booking(
    b: MessageBuilder, name: str, lang: str, args: dict[str, Any], intent: str | None
) -> OutMessage:
    """Render one booking response."""
    r = b.renderer
    if name == "utter_ask_booking_topic":
        buttons = [Button(r.text(f"topic_{t}", lang), payloads.booking("t", t)) for t in TOPICS]
        buttons += [Button(r.text("topic_other", lang), payloads.booking("t", "other")), _stop(b, lang)]
        return b.message(name, lang, intent=intent, buttons=buttons)
    if name == "utter_ask_booking_place":
        with session_scope(b.engine) as s:
            towns = [(m.slug, m.name) for m in calendar.municipalities(s)]
        buttons = [Button(title, payloads.booking("p", slug)) for slug, title in towns]
        return b.message(name, lang, intent=intent, buttons=[*buttons, _stop(b, lang)])
    if name == "utter_ask_booking_slot":
        with session_scope(b.engine) as s:
            office = calendar.get_office(s, str(args.get("office_id") or ""))
            office_name = office.name if office else ""
        buttons = []
        for key in args.get("slot_keys") or []:
            parsed = calendar.parse_slot_key(str(key))
            if parsed is not None:
                buttons.append(Button(short_date_time(parsed[1], lang), payloads.booking("s", str(key))))
        buttons += [
            Button(r.text("button_later_slots", lang), payloads.booking("s", "later")),
            _stop(b, lang),
        ]
        msg = b.message(name, lang, intent=intent, buttons=buttons, office=office_name)
        msg.meta["slots"] = len(buttons) - 2
        return msg
    if name == "booking_no_slots":
        return b.message(
            name,
            lang,
            intent=intent,
            buttons=b.yes_no(
                lang, payloads.intent("join_waitlist"), payloads.encode(payloads.StopBooking())
            ),
        )
    if name == "booking_town_not_covered":
        buttons = [
            Button(r.text("button_request_human", lang), payloads.intent("request_human")),
            Button(r.text("button_other_town", lang), payloads.intent("book_appointment")),
        ]
        return b.message(
            name,
            lang,
            intent=intent,
            buttons=buttons,
            town=str(args.get("town") or ""),
            contact=str(args.get("contact") or ""),
        )
    if name == "utter_ask_booking_people":
        buttons = [Button(str(n), payloads.booking("n", str(n))) for n in range(1, MAX_PEOPLE + 1)]
        return b.message(name, lang, intent=intent, buttons=[*buttons, _stop(b, lang)])
    if name == "utter_ask_booking_interpreter":
        buttons = [Button(r.text("button_no_interpreter", lang), payloads.booking("i", "none"))]
        buttons += [
            Button(LANGUAGES[c].endonym, payloads.booking("i", c)) for c in INTERPRETER_LANGUAGES
        ]
        return b.message(name, lang, intent=intent, buttons=[*buttons, _stop(b, lang)])
    if name == "utter_ask_booking_confirm":
        details = _slot_details(
            b, str(args.get("slot_key") or ""), str(args.get("office_id") or ""), lang
        )
        interpreter = str(args.get("interpreter") or "none")
        return b.message(
            name,
            lang,
            intent=intent,
            buttons=b.yes_no(
                lang, payloads.booking("c", "yes"), payloads.encode(payloads.StopBooking())
            ),
            topic=topic_title(b, str(args.get("topic") or "other"), lang),
            people=args.get("people") or 1,
            interpreter=LANGUAGES[interpreter].endonym
            if interpreter in LANGUAGES
            else r.text("interpreter_none", lang),
            **details,
        )
    if name in (
        "booking_done",
        "appointment_moved",
        "appointment_cancelled",
        "reminder",
        "staff_cancelled",
    ):
        return appointment_message(b, name, lang, str(args.get("reference") or ""), intent)
    if name == "my_appointments_list":
        return _my_appointments(b, lang, [str(x) for x in args.get("references") or []], intent)
    if name == "my_appointments_none":
        return b.message(
            name,
            lang,
            intent=intent,
            buttons=b.yes_no(lang, payloads.intent("book_appointment"), payloads.intent("deny")),
        )
    if name == "appointment_not_found":
        return b.message(name, lang, intent=intent, buttons=[])
    return b.message(name, lang, intent=intent)


def _slot_details(b: MessageBuilder, slot_key: str, office_id: str, lang: str) -> dict[str, str]:
    parsed = calendar.parse_slot_key(slot_key)
    if parsed is None:
        return {"date": "", "time": "", "office": "", "address": ""}
    _, start = parsed
    with session_scope(b.engine) as s:
        office = calendar.get_office(s, office_id)
        day, at = local_date_time(start, lang)
        return {
            "date": day,
            "time": at,
            "office": office.name if office else "",
            "address": office.address if office else "",
        }


def appointment_message(
    b: MessageBuilder, name: str, lang: str, reference: str, intent: str | None
) -> OutMessage:
    with session_scope(b.engine) as s:
        appt = get_by_reference(s, reference)
        if appt is None:
            return b.message("appointment_not_found", lang, intent=intent)
        office = calendar.get_office(s, appt.office_id)
        day, at = local_date_time(appt.start, lang)
        variables: dict[str, Any] = {
            "reference": appt.reference,
            "date": day,
            "time": at,
            "office": office.name if office else "",
            "address": office.address if office else "",
            "accessibility": (office.accessibility or "") if office else "",
        }
        topic = appt.topic
        checklist_key = topic if name == "booking_done" else None
        title, items = b.renderer.checklist_in(s, checklist_key, lang) if checklist_key else ("", [])
    msg = b.message(name, lang, intent=intent, **variables)
    if items:
        msg.text += "\n\n" + "\n".join([f"📋 {title}", *(f"☐ {i}" for i in items)])
    msg.text = "\n".join(line for line in msg.text.splitlines() if line.strip() or not line)
    msg.meta.update({"reference": reference, "topic": topic})
    if name not in ("appointment_cancelled", "staff_cancelled"):
        msg.meta["ics"] = f"/api/appointments/{reference}.ics"
        msg.buttons = [
            Button(
                b.renderer.text("button_cancel_appointment", lang, reference=reference),
                payloads.encode(payloads.AppointmentAction(False, reference)),
            ),
            Button(
                b.renderer.text("button_move_appointment", lang, reference=reference),
                payloads.encode(payloads.AppointmentAction(True, reference)),
            ),
        ]
    return msg


def _my_appointments(
    b: MessageBuilder, lang: str, references: list[str], intent: str | None
) -> OutMessage:
    lines, buttons = [], []
    with session_scope(b.engine) as s:
        for ref in references:
            appt = get_by_reference(s, ref)
            if appt is None:
                continue
            office = calendar.get_office(s, appt.office_id)
            day, at = local_date_time(appt.start, lang)
            lines.append(
                b.renderer.text(
                    "appointment_line",
                    lang,
                    reference=ref,
                    date=day,
                    time=at,
                    office=office.name if office else "",
                )
            )
            buttons += [
                Button(
                    b.renderer.text("button_cancel_appointment", lang, reference=ref),
                    payloads.encode(payloads.AppointmentAction(False, ref)),
                ),
                Button(
                    b.renderer.text("button_move_appointment", lang, reference=ref),
                    payloads.encode(payloads.AppointmentAction(True, ref)),
                ),
            ]
    msg = b.message("my_appointments_list", lang, intent=intent, buttons=buttons)
    msg.text = "\n".join([msg.text, *lines])
    msg.meta["references"] = references
    return msg


def reminder_message(
    b: MessageBuilder, reminder: Reminder, appointment: Appointment, language: str
) -> OutMessage:
    """A reminder of an appointment, or the notice that staff cancelled it (with a rebooking offer)."""
    if reminder.kind == ReminderKind.CANCELLATION:
        msg = appointment_message(b, "staff_cancelled", language, appointment.reference, None)
        msg.buttons = b.yes_no(language, payloads.intent("book_appointment"), payloads.intent("deny"))
        return msg
    return appointment_message(b, "reminder", language, appointment.reference, None)
