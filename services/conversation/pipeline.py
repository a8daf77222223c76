"""The life of one message, the same for every channel.

1. Normalise the text (control and invisible characters go) before anything looks at it.
2. The safety net runs first, in every state (before consent, paused, too long, Rasa down): a message
   with an unambiguous danger phrase always gets the emergency numbers; after consent it is stored and
   the hand-off is opened or flagged urgent for the case managers.
3. Before consent: only the consent flow runs and nothing but the decision is stored (a group chat gets
   one polite sentence and nothing is stored at all).
4. After consent the message is stored together with its update key, in one transaction: a redelivery
   (Telegram at least once, a web retry) gets the replies already given, never a second processing.
5. Commands and the app's own buttons (language, erasure) are handled here; a paused conversation is
   acknowledged; otherwise the dialogue engine (Rasa) answers. If it is unavailable, the message stays
   ``pending`` and the retry job answers it later, in order.

Replies are outbox rows linked to the message they answer: the web chat returns them at once, push
channels (Telegram) get them from the outbox right away; answers produced later go the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from rendering import payloads
from rendering.dates import local_date_time
from rendering.messages import Button, OutMessage
from rendering.responses import ResponseBuilder
from services.content.closed_loop import ClosedLoop
from services.conversation.dialogue import Dialogue, DialogueUnavailable
from services.conversation.locks import KeyedLocks
from services.conversation.normalise import asks_for_a_person, clean_text, has_letters
from services.conversation.safety import is_emergency
from services.outbox import Outbox
from services.privacy import Privacy
from storage import conversations, handoff, people
from storage.db import session_scope, utcnow
from storage.models import Consent, InboundMessage, InboundStatus, Person
from storage.privacy import ident
from storage.vocabulary import MASTER_LANGUAGE
from translations.engine import TranslationUnavailable, Translator
from translations.languages import LANGUAGES, nlu_languages, normalise_code

logger = logging.getLogger(__name__)
T = TypeVar("T")

COMMANDS = frozenset({"start", "help", "language", "mydata", "delete"})
# Where the web chat downloads the complete export (for the signed-in sender only).
EXPORT_PATH = "/api/chat/export"
# A message still "received" after this long was being handled by a process that died.
RECOVER_AFTER = timedelta(minutes=2)
# A claim on kept messages older than this belongs to a process that died.
CLAIM_STALE = timedelta(minutes=5)
# A message in a language the NLU does not know waits at most this long for its English version.
MT_WAIT_SECONDS = 2.0
# Rasa loads a person's whole current session on every turn, and sends it to the actions and the NLG
# endpoint: turns get slower as it grows (§0 finding 3). A new session every so many messages (slots
# carry over; never inside a form) keeps a long conversation as fast as a short one.
SESSION_TURNS = 30


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
    private: bool = True  # a one-to-one chat (Telegram groups are refused: a group is not a person)
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
        closed_loop: ClosedLoop | None = None,
    ) -> None:
        self.engine = engine
        self.responses = responses
        self.dialogue = dialogue
        self.translator = translator
        self.outbox = outbox
        self.privacy = privacy
        self.consent_version = consent_version
        self.max_message_chars = max_message_chars
        self.closed_loop = closed_loop
        self.locks = KeyedLocks()

    async def _db(self, fn: Callable[..., T], /, **kw: Any) -> T:
        """Run one repository call in its own unit of work, off the event loop."""

        def run() -> T:
            with session_scope(self.engine) as s:
                return fn(session=s, **kw)

        return await asyncio.to_thread(run)

    # --- entry point -------------------------------------------------------------------------

    async def handle(self, inb: Inbound) -> list[OutMessage]:
        """Process one update and return what to send back right away (also kept in the outbox)."""
        push: list[str] = []
        async with self.locks.hold(f"{inb.channel}:{inb.external_id}"):
            out = await self._handle(inb, push)
        # Sent after the lock is released: delivery is paced (about 1 message/s per Telegram chat),
        # and a burst from one person must not hold up the processing of their next messages, nor
        # the update slots everyone else's messages need. The outbox keeps each person's order.
        for person_id in push:
            await self.outbox.deliver(person_id=person_id)
        return out

    async def _handle(self, inb: Inbound, push: list[str]) -> list[OutMessage]:
        if inb.text is not None:
            inb.text = clean_text(inb.text)  # before anything looks at it: "\u200b/start" is "/start"
        if inb.text and inb.text.startswith("/") and inb.command is None:
            # "/start", "/delete@KimLotseBot", "/whatever": commands, never raw Rasa intents.
            inb.command = (
                inb.text[1:].split(maxsplit=1)[0].split("@")[0].lower() if len(inb.text) > 1 else "?"
            )
        danger = bool(inb.text) and is_emergency(inb.text or "")
        if not inb.private:
            return await self._group_chat(inb, danger)
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
            if inb.update_key and not await self._db(conversations.mark_update_seen, key=inb.update_key):
                logger.info("duplicate update ignored (%s)", ident(inb.channel))
                return []
            out = await self._before_consent(inb)
            if danger:  # nothing is stored before consent, but the numbers are always shown
                hint = normalise_code(inb.hint_language) or MASTER_LANGUAGE
                out = [self.responses.message("emergency_numbers", hint), *out]
            await self.outbox.send_unstored(inb.channel, inb.external_id, out)
            return out
        msg, created = await self._db(
            conversations.store_inbound_once,
            person_id=person.id,
            channel=inb.channel,
            text=inb.text,
            payload=inb.payload or None,
            update_key=inb.update_key,
        )
        assert msg.id is not None
        if not created:
            logger.info("redelivery of message %s answered from storage", msg.id)
            return await self._db(self._stored_replies, message_id=msg.id)
        if danger:
            out = await self._emergency(person, msg)
        else:
            out = await self._after_consent(inb, person, msg)
        ids = await self._db(self.outbox.record_replies, person=person, messages=out, in_reply_to=msg.id)
        if not ids and out:  # erased in this very request: the last words are not kept
            await self.outbox.send_unstored(inb.channel, inb.external_id, out)
        elif person.channel in self.outbox.push_channels:
            push.append(person.id)
        return out

    def _stored_replies(self, *, session: Session, message_id: int) -> list[OutMessage]:
        return [
            OutMessage.from_dict({"text": r.text, "buttons": r.buttons, "meta": r.meta})
            for r in conversations.replies_to(session=session, message_id=message_id)
        ]

    async def _group_chat(self, inb: Inbound, danger: bool) -> list[OutMessage]:
        """A group is not a person: one polite sentence (and the numbers in danger), nothing stored."""
        hint = normalise_code(inb.hint_language) or MASTER_LANGUAGE
        out = [self.responses.message("group_chat_refused", hint)]
        if danger:
            out.insert(0, self.responses.message("emergency_numbers", hint))
        await self.outbox.send_unstored(inb.channel, inb.external_id, out)
        return out

    async def _emergency(self, person: Person, msg: InboundMessage) -> list[OutMessage]:
        """The safety net: the numbers at once, and the case managers see it first (urgent)."""
        lang = person.language or MASTER_LANGUAGE

        def hand_off(session: Session) -> int | None:
            req, _ = handoff.open_handoff(
                session=session, person_id=person.id, reason="sensitive", urgent=True
            )
            conversations.set_inbound_status(
                session=session, message_id=msg.id or 0, status=InboundStatus.HANDED_OFF
            )
            return req.id

        def run() -> int | None:
            with session_scope(self.engine) as s:
                return hand_off(s)

        handoff_id = await asyncio.to_thread(run)
        person.paused = True
        logger.warning("safety net: urgent hand-off %s for person %s", handoff_id, person.id[:8])
        return [self.responses.message("utter_emergency", lang)]

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

    async def _after_consent(
        self, inb: Inbound, person: Person, msg: InboundMessage
    ) -> list[OutMessage]:
        lang = person.language or normalise_code(inb.hint_language) or MASTER_LANGUAGE
        payload = payloads.decode(inb.payload) if inb.payload else None
        match payload:
            case payloads.ConsentAnswer() | payloads.NoticeLanguages() | payloads.NoticeLanguage():
                # consent buttons pressed again: already agreed
                await self._set_status(msg, InboundStatus.DONE)
                return [self.responses.language_prompt(lang)] if person.language is None else []
            case payloads.SetLanguage(code):
                new = normalise_code(code)
                if new is None:
                    return [self._expired(lang)]
                await self._set_language(person, new)
                await self._set_status(msg, InboundStatus.DONE)
                if not LANGUAGES[new].understood:
                    return [self.responses.message("language_set", new), self._capabilities(new)]
                return [
                    self.responses.message("language_set", new),
                    self.responses.message(
                        "utter_greet", new, buttons=self.responses.topic_buttons(new)
                    ),
                ]
            case payloads.EraseAnswer(confirmed):
                if confirmed:
                    return await self._erase(person, lang)
                await self._set_status(msg, InboundStatus.DONE)
                return [self.responses.message("delete_cancelled", lang)]
            case payloads.Helpful() | payloads.StopFollowUps() if self.closed_loop is not None:
                return await self._follow_up_button(payload, person, msg, lang)
        if inb.command:
            await self._set_status(msg, InboundStatus.DONE)
            return await self._command(inb.command, person, lang)
        if person.language is None:
            await self._set_status(msg, InboundStatus.DONE)
            return [self.responses.language_prompt(lang)]
        if inb.unsupported:
            await self._set_status(msg, InboundStatus.DONE)
            return [self.responses.message("unsupported_content", lang)]

        text = inb.text
        rasa_text: str
        if inb.payload:
            mapped = to_rasa(payload) if payload is not None else None
            if mapped is None:
                await self._set_status(msg, InboundStatus.FAILED)
                return [self._expired(lang)]
            rasa_text = mapped
        elif not text:
            await self._set_status(msg, InboundStatus.DONE)
            return [self.responses.message("empty_message", lang)]
        elif not has_letters(text):
            rasa_text = "/nonsense"  # only emoji or signs: never a "yes", always the fallback
        elif not LANGUAGES[lang].understood:
            if not asks_for_a_person(text):
                await self._set_status(msg, InboundStatus.DONE)
                return [self._capabilities(lang)]
            rasa_text = "/request_human"
        else:
            rasa_text = text

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

    async def _follow_up_button(
        self,
        payload: payloads.Helpful | payloads.StopFollowUps,
        person: Person,
        msg: InboundMessage,
        lang: str,
    ) -> list[OutMessage]:
        """ "Did this help?" and "no more such messages" under a closed-loop message."""
        assert self.closed_loop is not None
        if isinstance(payload, payloads.Helpful):
            out = await asyncio.to_thread(
                self.closed_loop.answer, person.id, payload.answer_id, payload.helped, lang
            )
        else:
            out = await asyncio.to_thread(self.closed_loop.opt_out, person.id, payload.answer_id, lang)
        await self._set_status(msg, InboundStatus.DONE if out else InboundStatus.FAILED)
        return out or [self._expired(lang)]

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
            return [await self._mydata(person, lang)]
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

    def _capabilities(self, lang: str) -> OutMessage:
        """For a language the bot cannot read: what it can do, and a person."""
        button = Button(
            self.responses.renderer.text("button_request_human", lang), payloads.intent("request_human")
        )
        return self.responses.message(f"{lang}_capabilities", lang, buttons=[button])

    def _expired(self, lang: str) -> OutMessage:
        return self.responses.message("button_expired", lang, buttons=self.responses.topic_buttons(lang))

    async def _ask_rasa(
        self, person: Person, lang: str, text: str, *, from_payload: bool
    ) -> list[OutMessage]:
        sent = text
        if not from_payload and lang not in nlu_languages() and text:
            sent = await self._to_english(text, lang)
        turns = await self._db(conversations.count_inbound, person_id=person.id)
        if (
            turns
            and turns % SESSION_TURNS == 0
            and await self.dialogue.start_new_session(person.id, {"language": lang})
        ):
            logger.info("person %s: new Rasa session after %d messages", person.id[:8], turns)
        # Ids only: what a person writes never goes into the log.
        logger.info(
            "person %s -> rasa (%s, %s)", person.id[:8], lang, "button" if from_payload else "text"
        )
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
                asyncio.to_thread(self.translator.translate, text, lang, "en"), timeout=MT_WAIT_SECONDS
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
        """Answer messages kept while Rasa was away (and ones a crashed process left), oldest first.

        Each person's kept messages are claimed by one process (``conversations.claim_pending``), so two
        app processes never answer the same message. Returns how many were answered.
        """
        await self._db(conversations.recover_received, older_than=RECOVER_AFTER)
        if not await self.dialogue.model_loaded():
            return 0
        claimed = await asyncio.to_thread(
            conversations.claim_pending, self.engine, now=utcnow(), stale_after=CLAIM_STALE
        )
        done = 0
        gave_up = False
        for msg in claimed:
            if gave_up:
                await self._db(conversations.release_claim, message_id=msg.id or 0)
                continue
            person = await self._db(people.get_person, person_id=msg.person_id)
            if person is None:
                continue
            async with self.locks.hold(f"{person.channel}:{person.external_id}"):
                answered = await self._retry_one(person, msg)
            if answered is None:
                gave_up = True
                await self._db(conversations.release_claim, message_id=msg.id or 0)
            else:
                done += int(answered)
        if done:
            await self.outbox.deliver()
        return done

    async def _retry_one(self, person: Person, msg: InboundMessage) -> bool | None:
        """Answer one kept message; None when the dialogue engine is away again."""
        lang = person.language or MASTER_LANGUAGE
        if not msg.payload and msg.text and is_emergency(msg.text):
            out = await self._emergency(person, msg)  # the safety net holds for kept messages too
            await self._db(self.outbox.enqueue, person=person, messages=out, in_reply_to=msg.id)
            return True
        decoded = payloads.decode(msg.payload) if msg.payload else None
        rasa_text = (to_rasa(decoded) if decoded is not None else None) if msg.payload else msg.text
        if not rasa_text:
            await self._set_status(msg, InboundStatus.FAILED)
            return False
        try:
            out = await self._ask_rasa(person, lang, rasa_text, from_payload=bool(msg.payload))
        except DialogueUnavailable:
            return None
        await self._set_status(msg, InboundStatus.DONE)
        await self._db(self.outbox.enqueue, person=person, messages=out, in_reply_to=msg.id)
        return True

    # --- privacy -------------------------------------------------------------------------------

    async def _mydata(self, person: Person, lang: str) -> OutMessage:
        """``/mydata``: a short summary in their language; the complete export follows as a file."""
        counts = await asyncio.to_thread(self.privacy.summary, person.id)
        since = counts.pop("since", None)
        variables: dict[str, Any] = {k: v for k, v in counts.items() if isinstance(v, int)}
        variables["since"] = local_date_time(since, lang)[0] if since else ""
        msg = self.responses.message("mydata_summary", lang, **variables)
        msg.meta["export"] = EXPORT_PATH  # the file (Telegram) or the download link (web chat)
        return msg

    async def _erase(self, person: Person, lang: str) -> list[OutMessage]:
        """``/delete``: every store, Rasa's tracker included; the receipt says what was erased."""
        receipt = await self.privacy.erase(person.id)
        logger.info(
            "person %s erased (%s)", person.id[:8], "complete" if receipt.complete else "retrying"
        )
        out = [
            self.responses.message("delete_done", lang),
            self.responses.message(
                "delete_receipt",
                lang,
                messages=receipt.rows("messages"),
                answers=receipt.rows("answers"),
                appointments=receipt.rows("appointments"),
                handoffs=receipt.rows("handoffs"),
                conversation=receipt.rows("conversation_engine"),
            ),
        ]
        if not receipt.complete:
            out.append(self.responses.message("delete_incomplete", lang))
        return out
