"""Booking, rescheduling, cancelling and a reminder, in German, English and Arabic, on the real stack."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from lotse.runtime import build as build_services
from rendering.renderer import Renderer
from services.booking.reminders import dispatch_due
from storage.db import session_scope, utcnow
from storage.models import Person
from storage.models_booking import Appointment, Reminder
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def payloads(message: dict) -> list[str]:
    return [b["payload"] for b in message["buttons"]]


def press(stack: Stack, sender: str, prefix: str, messages: list[dict]) -> list[dict]:
    """Press the first button of the last message whose payload starts with ``prefix``."""
    payload = next(p for p in payloads(messages[-1]) if p.startswith(prefix))
    return stack.chat(sender, payload=payload)


def appointment(db: Engine, reference: str) -> Appointment:
    with session_scope(db) as s:
        return s.exec(select(Appointment).where(Appointment.reference == reference)).one()


def book(stack: Stack, sender: str, lang: str, text: str, topic: str = "naturalisation") -> dict:
    out = stack.chat(sender, text=text, consent=True, language=lang)
    assert out[-1]["meta"]["response"] == "utter_ask_booking_topic", out[-1]["meta"]
    assert f"b:t:{topic}" in payloads(out[-1]) and "b:x:stop" in payloads(out[-1])
    out = stack.chat(sender, payload=f"b:t:{topic}")
    assert out[-1]["meta"]["response"] == "utter_ask_booking_place"
    assert "b:p:troisdorf" in payloads(out[-1]) and "b:p:siegburg" in payloads(out[-1])
    out = stack.chat(sender, payload="b:p:troisdorf")
    assert out[-1]["meta"]["response"] == "utter_ask_booking_slot", out[-1]
    first_page = [p for p in payloads(out[-1]) if p.startswith("b:s:") and p != "b:s:later"]
    assert first_page and all(len(p.encode()) <= 64 for p in payloads(out[-1]))
    out = stack.chat(sender, payload="b:s:later")
    second_page = [p for p in payloads(out[-1]) if p.startswith("b:s:") and p != "b:s:later"]
    assert second_page and second_page != first_page
    out = stack.chat(sender, payload=second_page[0])
    assert out[-1]["meta"]["response"] == "utter_ask_booking_people"
    out = stack.chat(sender, payload="b:n:2")
    assert out[-1]["meta"]["response"] == "utter_ask_booking_interpreter"
    out = stack.chat(sender, payload="b:i:ar")
    confirm = out[-1]
    assert confirm["meta"]["response"] == "utter_ask_booking_confirm"
    assert payloads(confirm) == ["b:c:yes", "b:x:stop"]
    [done] = stack.chat(sender, payload="b:c:yes")
    assert done["meta"]["response"] == "booking_done", done
    return done


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("de", "Ich möchte einen Termin beim Case Management"),
        ("en", "I would like to book an appointment"),
        ("ar", "أريد حجز موعد"),
    ],
)
def test_book_move_and_cancel(stack: Stack, stack_db: Engine, texts: Renderer, lang: str, text: str):
    sender = f"web-{lang}-{uuid.uuid4()}"
    done = book(stack, sender, lang, text)
    ref = done["meta"]["reference"]
    assert ref.startswith("KL-") and ref in done["text"]
    assert done["meta"]["language"] == lang
    assert "☐" in done["text"]  # the documents to bring, as a tick list
    appt = appointment(stack_db, ref)
    assert (appt.topic, appt.people_count, appt.interpreter_language) == ("naturalisation", 2, "ar")
    with session_scope(stack_db) as s:
        reminders = s.exec(select(Reminder).where(Reminder.appointment_id == appt.id)).all()
        # Two days and two hours before; a reminder whose time has already passed is not written.
        expected = [120] + ([2880] if appt.start - utcnow() > timedelta(days=2) else [])
        assert sorted(r.offset_minutes or 0 for r in reminders) == expected

    # The .ics file: only for the person's own appointment.
    ics = stack.browser(sender).get(done["meta"]["ics"])
    assert ics.status_code == 200 and ref in ics.text and "BEGIN:VEVENT" in ics.text
    # Without that browser's session nobody gets the file, whoever knows the sender id.
    assert httpx.get(f"{stack.web}{done['meta']['ics']}").status_code == 401
    stack.chat("web-someone-else", text="hallo", consent=True, language="de")
    assert stack.browser("web-someone-else").get(done["meta"]["ics"]).status_code == 404

    [listing] = stack.chat(sender, payload="i:my_appointments")
    assert listing["meta"]["response"] == "my_appointments_list" and ref in listing["text"]
    assert payloads(listing) == [f"a:c:{ref}", f"a:m:{ref}"]

    # Move: topic, place, people and interpreter are kept; only a new time is chosen.
    out = stack.chat(sender, payload=f"a:m:{ref}")
    assert out[-1]["meta"]["response"] == "utter_ask_booking_slot", out[-1]
    new_slot = next(p for p in payloads(out[-1]) if p.startswith("b:s:") and p != "b:s:later")
    out = stack.chat(sender, payload=new_slot)
    assert out[-1]["meta"]["response"] == "utter_ask_booking_confirm"
    [moved] = stack.chat(sender, payload="b:c:yes")
    assert moved["meta"]["response"] == "appointment_moved"
    assert appointment(stack_db, moved["meta"]["reference"]).start != appt.start

    [cancelled] = stack.chat(sender, payload=f"a:c:{moved['meta']['reference']}")
    assert cancelled["meta"]["response"] == "appointment_cancelled"
    assert appointment(stack_db, moved["meta"]["reference"]).status == "cancelled"
    [none] = stack.chat(sender, payload="i:my_appointments")
    assert none["meta"]["response"] == "my_appointments_none"


def test_someone_elses_appointment_cannot_be_touched(stack: Stack, stack_db: Engine):
    owner = f"web-{uuid.uuid4()}"
    ref = book(stack, owner, "de", "Termin bitte")["meta"]["reference"]
    intruder = f"web-{uuid.uuid4()}"
    stack.chat(intruder, text="hallo", consent=True, language="de")
    out = stack.chat(intruder, payload=f"a:c:{ref}")
    assert out[0]["meta"]["response"] == "appointment_not_found"
    assert appointment(stack_db, ref).status == "booked"


def test_stop_button_ends_the_form(stack: Stack, texts: Renderer):
    sender = f"web-{uuid.uuid4()}"
    stack.chat(sender, text="Ich brauche einen Termin", consent=True, language="de")
    [stopped] = stack.chat(sender, payload="b:x:stop")
    assert stopped["text"] == texts.text("booking_stopped", "de")
    [answer] = stack.chat(sender, text="Was kostet die Einbürgerung?")
    assert answer["meta"]["topic"] == "naturalisation"


@pytest.mark.parametrize(("lang", "chat"), [("de", 880_001), ("en", 880_002), ("ar", 880_003)])
async def test_booking_on_telegram_with_reminder_move_and_cancel(
    stack: Stack, stack_db: Engine, texts: Renderer, lang: str, chat: int
):
    """Book on Telegram, run the reminder dispatcher with an injected clock, then move and cancel."""
    tg = stack.telegram
    tg.send_text(chat, "/start", language=lang)
    notice = tg.wait_sent(chat, 1)[-1]
    tg.press(chat, f"c:y:{lang}", notice["message_id"], language=lang)
    prompt = tg.wait_sent(chat, 2)[-1]
    tg.press(chat, f"lang:{lang}", prompt["message_id"], language=lang)
    tg.wait_sent(chat, 4)
    steps = ["i:book_appointment", "b:t:kita", "b:p:troisdorf", None, "b:n:1", "b:i:none", "b:c:yes"]
    for step in steps:
        last = tg.sent(chat)[-1]
        payload = step or next(
            d for _, d in tg.buttons(last) if d.startswith("b:s:") and d != "b:s:later"
        )
        before = len(tg.sent(chat))
        tg.press(chat, payload, last["message_id"], language="ar")
        tg.wait_sent(chat, before + 1)
    with session_scope(stack_db) as s:
        person = s.exec(select(Person).where(Person.external_id == str(chat))).one()
        appt = s.exec(select(Appointment).where(Appointment.person_id == person.id)).one()
    # The booking confirmation came with the calendar file.
    deadline = time.monotonic() + 20
    while not any(
        c.method == "sendDocument" and int(c.params.get("chat_id", 0)) == chat for c in tg.calls
    ):
        assert time.monotonic() < deadline, "no .ics document was sent"
        await asyncio.sleep(0.1)

    services = build_services(stack.settings)  # the same runtime as the app: its Telegram sender
    try:
        before = len(tg.sent(chat))
        report = await dispatch_due(
            services.engine,
            services.notices.reminder_sender(services.senders),
            now=appt.start - timedelta(hours=2),
            clock=lambda: appt.start - timedelta(hours=2),
        )
        assert report.sent >= 1
        reminder = tg.wait_sent(chat, before + 1)[-1]
        assert appt.reference in reminder["text"]
        assert [d for _, d in tg.buttons(reminder)] == [f"a:c:{appt.reference}", f"a:m:{appt.reference}"]
        # Run again: nothing is sent twice.
        again = await dispatch_due(
            services.engine,
            services.notices.reminder_sender(services.senders),
            now=appt.start - timedelta(hours=2),
            clock=lambda: appt.start - timedelta(hours=2),
        )
        assert again.sent == 0 and len(tg.sent(chat)) == before + 1
    finally:
        await services.close()

    # Move it from the reminder's button, then cancel it, all on Telegram.
    before = len(tg.sent(chat))
    tg.press(chat, f"a:m:{appt.reference}", reminder["message_id"], language=lang)
    slots = tg.wait_sent(chat, before + 1)[-1]
    new_slot = next(d for _, d in tg.buttons(slots) if d.startswith("b:s:") and d != "b:s:later")
    tg.press(chat, new_slot, slots["message_id"], language=lang)
    confirm = tg.wait_sent(chat, before + 2)[-1]
    tg.press(chat, "b:c:yes", confirm["message_id"], language=lang)
    moved = tg.wait_sent(chat, before + 3)[-1]
    assert appt.reference in moved["text"]
    tg.press(chat, f"a:c:{appt.reference}", moved["message_id"], language=lang)
    cancelled = tg.wait_sent(chat, before + 4)[-1]
    assert appt.reference in cancelled["text"]
    with session_scope(stack_db) as s:
        final = s.exec(select(Appointment).where(Appointment.reference == appt.reference)).one()
        assert final.status == "cancelled" and final.start != appt.start


async def test_waiting_list_is_told_when_a_time_is_free(stack: Stack, stack_db: Engine, texts: Renderer):
    from storage.appointments import join_waitlist
    from storage.models_booking import WaitlistEntry

    sender = f"web-{uuid.uuid4()}"
    stack.chat(sender, text="hallo", consent=True, language="de")
    with session_scope(stack_db) as s:
        person = s.exec(select(Person).where(Person.external_id == sender)).one()
        join_waitlist(s, person_id=person.id, topic="kita", municipality="troisdorf", now=utcnow())
    services = build_services(stack.settings)
    try:
        await services.notices.notify_waitlist()  # (the app's own waitlist job may have been quicker)
        assert await services.notices.notify_waitlist() == 0  # told once
    finally:
        await services.close()
    later = stack.updates(sender)
    assert [m["text"] for m in later] == [texts.text("waitlist_slot_free", "de")]
    assert [b["payload"] for b in later[0]["buttons"]] == ["i:book_appointment", "i:deny"]
    with session_scope(stack_db) as s:
        entry = s.exec(select(WaitlistEntry).where(WaitlistEntry.person_id == person.id)).one()
        assert entry.status != "waiting"


def test_a_question_in_the_middle_of_booking_is_answered_and_the_form_goes_on(stack: Stack):
    sender = f"web-de-{uuid.uuid4()}"
    out = stack.chat(sender, text="Ich möchte einen Termin", consent=True, language="de")
    assert out[-1]["meta"]["response"] == "utter_ask_booking_topic"
    out = stack.chat(sender, payload="b:t:naturalisation")
    assert out[-1]["meta"]["response"] == "utter_ask_booking_place"
    out = stack.chat(sender, text="Was kostet die Einbürgerung?")
    responses = [m["meta"]["response"] for m in out]
    assert responses[0] == "utter_faq_answer" and out[0]["meta"]["topic"] == "naturalisation", out
    assert responses[-1] == "utter_ask_booking_place", responses
    assert "b:p:troisdorf" in payloads(out[-1])
    # The form goes on where it was.
    out = stack.chat(sender, payload="b:p:troisdorf")
    assert out[-1]["meta"]["response"] == "utter_ask_booking_slot"


def test_the_matter_can_be_typed(stack: Stack):
    sender = f"web-en-{uuid.uuid4()}"
    out = stack.chat(sender, text="I need an appointment", consent=True, language="en")
    assert out[-1]["meta"]["response"] == "utter_ask_booking_topic"
    out = stack.chat(sender, text="naturalisation")
    assert [m["meta"]["response"] for m in out] == ["utter_ask_booking_place"], out
    out = stack.chat(sender, text="Troisdorf")
    assert out[-1]["meta"]["response"] == "utter_ask_booking_slot"
