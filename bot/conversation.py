"""The life of one message, the same for every channel.

1. Deduplicate (Telegram delivers at least once).
2. Before consent: only the consent flow runs and nothing but the decision is stored.
3. Commands and the app's own buttons (language, erasure) are handled here.
4. Paused for a person: store, acknowledge, stop.
5. Otherwise store the message, then ask Rasa. If Rasa is unavailable, the message stays ``pending``
   and the retry job processes it later, in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from bot.rasa_client import RasaClient, RasaUnavailable
from bot.responses import Button, OutMessage, ResponseBuilder
from bot.safety import is_emergency
from bot.settings import Settings
from storage import conversations, people
from storage.db import session_scope
from storage.models import Consent, InboundMessage, InboundStatus, Person
from storage.privacy import log_safe
from translations.engine import TranslationUnavailable, Translator
from translations.languages import MASTER, nlu_languages, normalise_code

logger = logging.getLogger(__name__)

COMMANDS = frozenset({"start", "help", "language", "mydata", "delete"})
_INTENT = re.compile(r"^[a-z_]{2,40}$")
_VALUE = re.compile(r"^[A-Za-z0-9_|.-]{1,60}$")
# Booking form answers from buttons: b:<field>:<value> (see bot/responses.py).
BOOKING_FIELDS = {
    "t": "booking_topic",
    "p": "booking_place",
    "s": "booking_slot",
    "n": "booking_people",
    "i": "booking_interpreter",
    "c": "booking_confirm",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Inbound:
    """One update from a channel, already stripped of channel specifics."""

    channel: str
    external_id: str
    text: str | None = None
    payload: str | None = None
    command: str | None = None
    update_key: str | None = None
    hint_language: str | None = None
    unsupported: bool = False
    # Web API shortcut: the first request may record consent and language directly.
    consent: bool | None = None
    language: str | None = None


# Delivers messages produced outside a request (retries, hand-off replies) to a person.
Deliver = Callable[[Person, list[OutMessage]], Awaitable[bool]]


def clean_text(text: str) -> str:
    """Drop control and bidi-override characters (they can disguise text); keep everything else."""
    return _CONTROL.sub("", text).strip()


class Conversation:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        responses: ResponseBuilder,
        rasa: RasaClient,
        translator: Translator,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.responses = responses
        self.rasa = rasa
        self.translator = translator
        self.deliverers: dict[str, Deliver] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # --- entry point -------------------------------------------------------------------------

    async def handle(self, inb: Inbound) -> list[OutMessage]:
        """Process one update and return what to send back right away."""
        async with self._locks[f"{inb.channel}:{inb.external_id}"]:
            return await self._handle(inb)

    async def _handle(self, inb: Inbound) -> list[OutMessage]:
        if inb.text and inb.text.startswith("/") and inb.command is None:
            # "/start", "/delete@KimLotseBot", "/whatever": commands, never raw Rasa intents.
            inb.command = (
                inb.text[1:].split(maxsplit=1)[0].split("@")[0].lower() if len(inb.text) > 1 else "?"
            )
        if inb.update_key and not await asyncio.to_thread(self._first_time, inb.update_key):
            logger.info("duplicate update %s ignored", inb.update_key)
            return []
        person = await asyncio.to_thread(self._find, inb.channel, inb.external_id)
        if inb.consent is True and (person is None or person.consent != Consent.GIVEN):
            lang = normalise_code(inb.language) or normalise_code(inb.hint_language)
            person = await asyncio.to_thread(self._consent, inb, True, lang)
        if (
            person is not None
            and inb.language
            and person.consent == Consent.GIVEN
            and not person.language
        ):
            # Like the buttons, but only while no language was chosen: a later request's "language"
            # (e.g. the browser's) never overrides the person's own choice.
            lang = normalise_code(inb.language)
            if lang:
                await asyncio.to_thread(self._set_language, person, lang)
        if person is None or person.consent != Consent.GIVEN:
            return await asyncio.to_thread(self._before_consent, inb, person)
        return await self._after_consent(inb, person)

    # --- before consent: nothing but the decision is stored ------------------------------------

    def _before_consent(self, inb: Inbound, person: Person | None) -> list[OutMessage]:
        hint = normalise_code(inb.hint_language) or MASTER
        payload = inb.payload or ""
        if payload.startswith(("c:y:", "c:n:")):
            given = payload[2] == "y"
            lang = normalise_code(payload[4:]) or hint
            self._consent(inb, given, lang)
            if given:
                return [self.responses.language_prompt(lang)]
            return [self.responses.message("consent_declined", lang)]
        if payload == "c:l":
            return [self.responses.notice_languages()]
        if payload.startswith("pl:"):
            return [self.responses.privacy_notice(normalise_code(payload[3:]) or hint)]
        return [self.responses.privacy_notice(hint)]

    # --- after consent -----------------------------------------------------------------------

    async def _after_consent(self, inb: Inbound, person: Person) -> list[OutMessage]:
        lang = person.language or normalise_code(inb.hint_language) or MASTER
        payload = inb.payload or ""
        if payload.startswith("c:"):  # consent buttons pressed again: already agreed
            return [self.responses.language_prompt(lang)] if person.language is None else []
        if payload.startswith(("lang:", "pl:")):
            new = normalise_code(payload.split(":", 1)[1])
            if new is None:
                return [self._expired(lang)]
            await asyncio.to_thread(self._set_language, person, new)
            return [
                self.responses.message("language_set", new),
                self.responses.message("utter_greet", new, buttons=self.responses.topic_buttons(new)),
            ]
        if payload in ("d:y", "d:n"):
            return (
                await self._erase(person, lang)
                if payload == "d:y"
                else [self.responses.message("delete_cancelled", lang)]
            )
        if inb.command:
            return await self._command(inb.command, person, lang)
        if person.language is None:
            return [self.responses.language_prompt(lang)]
        if inb.unsupported:
            return [self.responses.message("unsupported_content", lang)]

        text = clean_text(inb.text or "") if inb.text is not None else None
        rasa_text: str
        if payload:
            mapped = self._payload_to_rasa(payload)
            if mapped is None:
                return [self._expired(lang)]
            rasa_text = mapped
        elif not text:
            return [self.responses.message("empty_message", lang)]
        elif is_emergency(text):
            rasa_text = "/emergency"  # the safety net: never leave a person in danger to the classifier
        else:
            rasa_text = text

        msg = await asyncio.to_thread(self._store, person, inb.channel, text, payload or None)
        if person.paused:
            await asyncio.to_thread(self._set_status, msg.id, InboundStatus.HANDED_OFF)
            return [self.responses.message("handoff_paused_ack", lang)]
        if text and len(text) > self.settings.max_message_chars:
            await asyncio.to_thread(self._set_status, msg.id, InboundStatus.HANDED_OFF)
            return [self.responses.message("message_too_long", lang)]
        if await asyncio.to_thread(self._has_older_pending, person.id, msg.id):
            # Keep the order: this one waits behind the messages kept while Rasa was away.
            await asyncio.to_thread(self._set_status, msg.id, InboundStatus.PENDING)
            return [self.responses.message("rasa_unavailable", lang)]
        try:
            out = await self._ask_rasa(person, lang, rasa_text, from_payload=bool(payload))
        except RasaUnavailable as exc:
            logger.warning("Rasa unavailable, message %s kept: %s", msg.id, exc)
            await asyncio.to_thread(self._set_status, msg.id, InboundStatus.PENDING)
            return [self.responses.message("rasa_unavailable", lang)]
        await asyncio.to_thread(self._set_status, msg.id, InboundStatus.DONE)
        await asyncio.to_thread(self._store_out, person, inb.channel, out, True)
        return out

    async def _command(self, command: str, person: Person, lang: str) -> list[OutMessage]:
        if command == "start":
            if person.language is None:
                return [self.responses.language_prompt(lang)]
            return [
                self.responses.message("utter_greet", lang, buttons=self.responses.topic_buttons(lang))
            ]
        if command == "help":
            return [self.responses.message("help", lang)]
        if command == "language":
            return [self.responses.language_prompt(lang)]
        if command == "mydata":
            return [
                self.responses.message("mydata_intro", lang),
                OutMessage(
                    await asyncio.to_thread(self._export, person.id),
                    [],
                    {"response": "mydata_export", "language": lang},
                ),
            ]
        if command == "delete":
            r = self.responses.renderer
            return [
                self.responses.message(
                    "delete_confirm",
                    lang,
                    buttons=[
                        Button(r.text("button_delete_yes", lang), "d:y"),
                        Button(r.text("button_cancel", lang), "d:n"),
                    ],
                )
            ]
        return [self.responses.message("unknown_command", lang)]

    def _payload_to_rasa(self, payload: str) -> str | None:
        """Map a button payload to a Rasa message; anything malformed is an expired button (None)."""
        if payload.startswith("i:") and _INTENT.match(payload[2:]):
            return "/" + payload[2:]
        if payload.startswith("f:") and payload[2:].isdigit():
            return "/choose_faq" + json.dumps({"faq_id": payload[2:]})
        kind, _, rest = payload.partition(":")
        field, _, value = rest.partition(":")
        if kind == "b" and field == "x":
            return "/stop_booking"
        if kind == "b" and field in BOOKING_FIELDS and _VALUE.match(value):
            return "/choose_booking" + json.dumps({BOOKING_FIELDS[field]: value})
        if kind == "a" and field in ("c", "m") and _VALUE.match(value):
            intent = "cancel_appointment" if field == "c" else "reschedule_appointment"
            return f"/{intent}" + json.dumps({"reference": value})
        return None

    def _expired(self, lang: str) -> OutMessage:
        return self.responses.message("button_expired", lang, buttons=self.responses.topic_buttons(lang))

    async def _ask_rasa(
        self, person: Person, lang: str, text: str, *, from_payload: bool
    ) -> list[OutMessage]:
        sent = text
        if not from_payload and lang not in nlu_languages() and text:
            sent = await self._to_english(text, lang)
        logger.info("person %s -> rasa (%s): %s", person.id[:8], lang, log_safe(sent))
        raw = await self.rasa.send(person.id, sent, {"language": lang})
        out = [self._from_rasa(m, lang) for m in raw]
        if not out:
            out = [
                self.responses.message(
                    "utter_fallback", lang, buttons=self.responses.topic_buttons(lang)
                )
            ]
        return out

    async def _to_english(self, text: str, lang: str) -> str:
        """Messages in a language the model was not trained on go to Rasa in English."""
        if not self.translator.supports(lang, "en"):
            return text
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self.translator.translate, text, lang, "en"), timeout=3.0
            )
        except (TranslationUnavailable, TimeoutError):
            return text

    def _from_rasa(self, m: dict[str, Any], lang: str) -> OutMessage:
        custom = m.get("custom")
        if isinstance(custom, dict) and "text" in custom:
            return OutMessage.from_dict(custom)
        # A plain message (e.g. Rasa's own default): show it, marked as such.
        buttons = [
            Button(str(b.get("title", "")), str(b.get("payload", ""))) for b in m.get("buttons") or []
        ]
        return OutMessage(
            str(m.get("text") or ""),
            buttons,
            {"language": lang, "translation": "source", "response": None},
        )

    # --- retries -------------------------------------------------------------------------------

    async def retry_pending(self) -> int:
        """Process messages kept while Rasa was away, oldest first; returns how many were answered."""
        if not await self.rasa.model_loaded():
            return 0
        pending = await asyncio.to_thread(self._pending)
        done = 0
        for msg in pending:
            person = await asyncio.to_thread(self._person, msg.person_id)
            if person is None:
                continue
            async with self._locks[f"{person.channel}:{person.external_id}"]:
                lang = person.language or MASTER
                rasa_text = self._payload_to_rasa(msg.payload) if msg.payload else msg.text
                if not msg.payload and msg.text and is_emergency(msg.text):
                    rasa_text = "/emergency"  # the safety net holds for kept messages too
                if not rasa_text:
                    await asyncio.to_thread(self._set_status, msg.id, InboundStatus.FAILED)
                    continue
                try:
                    out = await self._ask_rasa(person, lang, rasa_text, from_payload=bool(msg.payload))
                except RasaUnavailable:
                    return done
                await asyncio.to_thread(self._set_status, msg.id, InboundStatus.DONE)
                await self.deliver(person, out)
                done += 1
        return done

    async def deliver(self, person: Person, out: list[OutMessage]) -> None:
        """Send messages produced outside a request; the web chat collects them from its outbox."""
        deliver = self.deliverers.get(person.channel)
        delivered = False
        if deliver is not None:
            delivered = await deliver(person, out)
        await asyncio.to_thread(self._store_out, person, person.channel, out, delivered)

    # --- storage steps (run in a worker thread) ---------------------------------------------

    def _first_time(self, key: str) -> bool:
        with session_scope(self.engine) as s:
            return conversations.mark_update_seen(session=s, key=key)

    def _find(self, channel: str, external_id: str) -> Person | None:
        with session_scope(self.engine) as s:
            person = people.find_person(session=s, channel=channel, external_id=external_id)
            if person is not None and person.consent == Consent.GIVEN:
                people.touch(session=s, person=person)
            return person

    def _person(self, person_id: str) -> Person | None:
        with session_scope(self.engine) as s:
            return people.get_person(session=s, person_id=person_id)

    def _consent(self, inb: Inbound, given: bool, lang: str | None) -> Person:
        with session_scope(self.engine) as s:
            person = people.record_consent(
                session=s,
                channel=inb.channel,
                external_id=inb.external_id,
                given=given,
                version=self.settings.consent_version,
                language=lang if inb.consent else None,
            )
            logger.info("person %s consent=%s", person.id[:8], person.consent)
            return person

    def _set_language(self, person: Person, lang: str) -> None:
        with session_scope(self.engine) as s:
            p = people.get_person(session=s, person_id=person.id)
            if p is not None:
                people.set_language(session=s, person=p, language=lang)
        person.language = lang

    def _store(
        self, person: Person, channel: str, text: str | None, payload: str | None
    ) -> InboundMessage:
        with session_scope(self.engine) as s:
            return conversations.store_inbound(
                session=s, person_id=person.id, channel=channel, text=text, payload=payload
            )

    def _set_status(self, message_id: int | None, status: InboundStatus) -> None:
        if message_id is None:
            return
        with session_scope(self.engine) as s:
            conversations.set_inbound_status(session=s, message_id=message_id, status=status)

    def _has_older_pending(self, person_id: str, message_id: int | None) -> bool:
        # The new message is still "received", so any pending one of this person is older.
        with session_scope(self.engine) as s:
            return conversations.has_pending(session=s, person_id=person_id)

    def _pending(self) -> list[InboundMessage]:
        with session_scope(self.engine) as s:
            return list(conversations.pending_inbound(session=s))

    def _store_out(self, person: Person, channel: str, out: list[OutMessage], delivered: bool) -> None:
        with session_scope(self.engine) as s:
            for m in out:
                conversations.store_outbound(
                    session=s,
                    person_id=person.id,
                    channel=channel,
                    text=m.text,
                    buttons=[b.to_dict() for b in m.buttons],
                    meta=m.meta,
                    delivered=delivered,
                )

    def _export(self, person_id: str) -> str:
        from bot.privacy import export_person

        with session_scope(self.engine) as s:
            return json.dumps(
                export_person(session=s, person_id=person_id), ensure_ascii=False, indent=1, default=str
            )[:3800]

    async def _erase(self, person: Person, lang: str) -> list[OutMessage]:
        """``/delete``: the person, their messages and hand-offs, and Rasa's tracker of them."""
        from bot.privacy import erase_everywhere

        done = self.responses.message("delete_done", lang)
        await asyncio.to_thread(erase_everywhere, self.engine, self.settings, person.id)
        logger.info("person %s erased", person.id[:8])
        return [done]
