"""The life of one message, the same for every channel.

1. Deduplicate (Telegram delivers at least once).
2. Before consent: only the consent flow runs and nothing but the decision is stored.
3. Commands and the app's own buttons (language, erasure) are handled here.
4. Paused for a person: store, acknowledge, stop.
5. Otherwise store the message, then ask the dialogue engine (Rasa). If it is unavailable, the message
   stays ``pending`` and the retry job processes it later, in order.

Replies to a request are returned to the channel and kept in the outbox (the transcript);
answers produced later (kept messages) go into the outbox for the channel to deliver.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from rendering import payloads
from rendering.messages import Button, OutMessage
from rendering.responses import ResponseBuilder
from services.conversation.dialogue import Dialogue, DialogueUnavailable
from services.conversation.normalise import clean_text
from services.conversation.safety import is_emergency
from services.outbox import Outbox
from services.privacy import Privacy
from storage import conversations, people
from storage.db import session_scope
from storage.models import Consent, InboundMessage, InboundStatus, Person
from storage.privacy import log_safe
from storage.vocabulary import MASTER_LANGUAGE
from translations.engine import TranslationUnavailable, Translator
from translations.languages import nlu_languages, normalise_code

logger = logging.getLogger(__name__)
T = TypeVar("T")

COMMANDS = frozenset({"start", "help", "language", "mydata", "delete"})


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


def to_rasa(payload: payloads.Payload) -> str | None:
    """The message a button press sends to the dialogue engine (None: not a dialogue button)."""
    match payload:
        case payloads.Intent(name):
            return "/" + name
        case payloads.FaqChoice(faq_id):
            return "/choose_faq" + json.dumps({"faq_id": str(faq_id)})
        case payloads.StopBooking():
            return "/stop_booking"
        case payloads.BookingAnswer():
            return "/choose_booking" + json.dumps({payload.slot: payload.value})
        case payloads.AppointmentAction(move, reference):
            intent = "reschedule_appointment" if move else "cancel_appointment"
            return f"/{intent}" + json.dumps({"reference": reference})
    return None


class Conversation:
    """The message pipeline: one ``handle`` per update, ``retry_pending`` for kept messages."""

    def __init__(
        self,
        *,
        engine: Engine,
        responses: ResponseBuilder,
        dialogue: Dialogue,
        translator: Translator,
        outbox: Outbox,
        privacy: Privacy,
        consent_version: str,
        max_message_chars: int,
    ) -> None:
        self.engine = engine
        self.responses = responses
        self.dialogue = dialogue
        self.translator = translator
        self.outbox = outbox
        self.privacy = privacy
        self.consent_version = consent_version
        self.max_message_chars = max_message_chars
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def _db(self, fn: Callable[..., T], /, **kw: Any) -> T:
        """Run one repository call in its own unit of work, off the event loop."""

        def run() -> T:
            with session_scope(self.engine) as s:
                return fn(session=s, **kw)

        return await asyncio.to_thread(run)

    # --- entry point -------------------------------------------------------------------------

    async def handle(self, inb: Inbound) -> list[OutMessage]:
        """Process one update and return what to send back right away (also kept in the outbox)."""
        async with self._locks[f"{inb.channel}:{inb.external_id}"]:
            return await self._handle(inb)

    async def _handle(self, inb: Inbound) -> list[OutMessage]:
        if inb.text and inb.text.startswith("/") and inb.command is None:
            # "/start", "/delete@KimLotseBot", "/whatever": commands, never raw Rasa intents.
            inb.command = (
                inb.text[1:].split(maxsplit=1)[0].split("@")[0].lower() if len(inb.text) > 1 else "?"
            )
        if inb.update_key and not await self._db(conversations.mark_update_seen, key=inb.update_key):
            logger.info("duplicate update %s ignored", inb.update_key)
            return []
        person = await self._db(people.find_and_touch, channel=inb.channel, external_id=inb.external_id)
        if inb.consent is True and (person is None or person.consent != Consent.GIVEN):
            lang = normalise_code(inb.language) or normalise_code(inb.hint_language)
            person = await self._consent(inb, True, lang)
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
                await self._set_language(person, lang)
        if person is None or person.consent != Consent.GIVEN:
            out = await self._before_consent(inb)
            await self.outbox.send_unstored(inb.channel, inb.external_id, out)
            return out
        out = await self._after_consent(inb, person)
        await self._db(self.outbox.record_replies, person=person, messages=out)
        if person.channel in self.outbox.push_channels:
            await self.outbox.deliver(person_id=person.id)
        return out

    async def _consent(self, inb: Inbound, given: bool, lang: str | None) -> Person:
        person = await self._db(
            people.record_consent,
            channel=inb.channel,
            external_id=inb.external_id,
            given=given,
            version=self.consent_version,
            language=lang if given else None,
        )
        logger.info("person %s consent=%s", person.id[:8], person.consent)
        return person

    async def _set_language(self, person: Person, lang: str) -> None:
        await self._db(people.set_language_of, person_id=person.id, language=lang)
        person.language = lang

    # --- before consent: nothing but the decision is stored ------------------------------------

    async def _before_consent(self, inb: Inbound) -> list[OutMessage]:
        hint = normalise_code(inb.hint_language) or MASTER_LANGUAGE
        match payloads.decode(inb.payload):
            case payloads.ConsentAnswer(given, code):
                lang = normalise_code(code) or hint
                await self._consent(inb, given, lang)
                if given:
                    return [self.responses.language_prompt(lang)]
                return [self.responses.message("consent_declined", lang)]
            case payloads.NoticeLanguages():
                return [self.responses.notice_languages()]
            case payloads.NoticeLanguage(code):
                return [self.responses.privacy_notice(normalise_code(code) or hint)]
        return [self.responses.privacy_notice(hint)]

    # --- after consent -----------------------------------------------------------------------

    async def _after_consent(self, inb: Inbound, person: Person) -> list[OutMessage]:
        lang = person.language or normalise_code(inb.hint_language) or MASTER_LANGUAGE
        payload = payloads.decode(inb.payload) if inb.payload else None
        match payload:
            case payloads.ConsentAnswer() | payloads.NoticeLanguages() | payloads.NoticeLanguage():
                # consent buttons pressed again: already agreed
                return [self.responses.language_prompt(lang)] if person.language is None else []
            case payloads.SetLanguage(code):
                new = normalise_code(code)
                if new is None:
                    return [self._expired(lang)]
                await self._set_language(person, new)
                return [
                    self.responses.message("language_set", new),
                    self.responses.message(
                        "utter_greet", new, buttons=self.responses.topic_buttons(new)
                    ),
                ]
            case payloads.EraseAnswer(confirmed):
                if confirmed:
                    return await self._erase(person, lang)
                return [self.responses.message("delete_cancelled", lang)]
        if inb.command:
            return await self._command(inb.command, person, lang)
        if person.language is None:
            return [self.responses.language_prompt(lang)]
        if inb.unsupported:
            return [self.responses.message("unsupported_content", lang)]

        text = clean_text(inb.text or "") if inb.text is not None else None
        rasa_text: str
        if inb.payload:
            mapped = to_rasa(payload) if payload is not None else None
            if mapped is None:
                return [self._expired(lang)]
            rasa_text = mapped
        elif not text:
            return [self.responses.message("empty_message", lang)]
        elif is_emergency(text):
            rasa_text = "/emergency"  # the safety net: never leave a person in danger to the classifier
        else:
            rasa_text = text

        msg = await self._db(
            conversations.store_inbound,
            person_id=person.id,
            channel=inb.channel,
            text=text,
            payload=inb.payload or None,
        )
        if person.paused:
            await self._set_status(msg, InboundStatus.HANDED_OFF)
            return [self.responses.message("handoff_paused_ack", lang)]
        if text and len(text) > self.max_message_chars:
            await self._set_status(msg, InboundStatus.HANDED_OFF)
            return [self.responses.message("message_too_long", lang)]
        if await self._db(conversations.has_pending, person_id=person.id):
            # Keep the order: this one waits behind the messages kept while Rasa was away.
            await self._set_status(msg, InboundStatus.PENDING)
            return [self.responses.message("rasa_unavailable", lang)]
        try:
            out = await self._ask_rasa(person, lang, rasa_text, from_payload=bool(inb.payload))
        except DialogueUnavailable as exc:
            logger.warning("Rasa unavailable, message %s kept: %s", msg.id, exc)
            await self._set_status(msg, InboundStatus.PENDING)
            return [self.responses.message("rasa_unavailable", lang)]
        await self._set_status(msg, InboundStatus.DONE)
        return out

    async def _set_status(self, msg: InboundMessage, status: InboundStatus) -> None:
        if msg.id is not None:
            await self._db(conversations.set_inbound_status, message_id=msg.id, status=status)

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
                    await asyncio.to_thread(self.privacy.export_text, person.id),
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
                        Button(
                            r.text("button_delete_yes", lang),
                            payloads.encode(payloads.EraseAnswer(True)),
                        ),
                        Button(
                            r.text("button_cancel", lang), payloads.encode(payloads.EraseAnswer(False))
                        ),
                    ],
                )
            ]
        return [self.responses.message("unknown_command", lang)]

    def _expired(self, lang: str) -> OutMessage:
        return self.responses.message("button_expired", lang, buttons=self.responses.topic_buttons(lang))

    async def _ask_rasa(
        self, person: Person, lang: str, text: str, *, from_payload: bool
    ) -> list[OutMessage]:
        sent = text
        if not from_payload and lang not in nlu_languages() and text:
            sent = await self._to_english(text, lang)
        logger.info("person %s -> rasa (%s): %s", person.id[:8], lang, log_safe(sent))
        raw = await self.dialogue.send(person.id, sent, {"language": lang})
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
        if not await self.dialogue.model_loaded():
            return 0
        pending = await self._db(conversations.pending_inbound)
        done = 0
        for msg in pending:
            person = await self._db(people.get_person, person_id=msg.person_id)
            if person is None:
                continue
            async with self._locks[f"{person.channel}:{person.external_id}"]:
                lang = person.language or MASTER_LANGUAGE
                decoded = payloads.decode(msg.payload) if msg.payload else None
                rasa_text = (
                    (to_rasa(decoded) if decoded is not None else None) if msg.payload else msg.text
                )
                if not msg.payload and msg.text and is_emergency(msg.text):
                    rasa_text = "/emergency"  # the safety net holds for kept messages too
                if not rasa_text:
                    await self._set_status(msg, InboundStatus.FAILED)
                    continue
                try:
                    out = await self._ask_rasa(person, lang, rasa_text, from_payload=bool(msg.payload))
                except DialogueUnavailable:
                    return done
                await self._set_status(msg, InboundStatus.DONE)
                await self._db(self.outbox.enqueue, person=person, messages=out)
                done += 1
        if done:
            await self.outbox.deliver()
        return done

    # --- privacy -------------------------------------------------------------------------------

    async def _erase(self, person: Person, lang: str) -> list[OutMessage]:
        """``/delete``: the person, their messages and hand-offs, and Rasa's tracker of them."""
        done = self.responses.message("delete_done", lang)
        await self.privacy.erase(person.id)
        logger.info("person %s erased", person.id[:8])
        return [done]
