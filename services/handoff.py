"""The case manager's side of a hand-off: read the conversation in German, answer in their language.

* ``conversation`` — the transcript; the person's messages with a German machine translation beside
  the original when a model is installed. Every read is recorded in the audit trail
  (``conversation.read``) with who read it and why, before anything is shown.
* ``reply`` — a German reply is machine translated into the person's language (marked as such to the
  person) and back-translated, so the case manager can check the meaning; a reply already written in the
  person's language is sent as it is. The message goes into the outbox: the web chat fetches it, the
  app's outbox job sends it on Telegram. The reply and its audit row (``handoff.reply``) commit together.
* ``release`` — the bot answers the person again (``handoff.release``).

The command line (``lotse handoff …``) and the staff console use the same ``HandoffDesk``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from rendering.messages import OutMessage
from rendering.renderer import Renderer
from services.audit import Actor, Audit
from services.outbox import Outbox
from storage import conversations, people
from storage.db import session_scope
from storage.handoff import open_handoffs, release_handoff
from storage.models import HandoffRequest, HandoffStatus, Person
from storage.vocabulary import MASTER_LANGUAGE
from translations.engine import TranslationUnavailable, Translator

logger = logging.getLogger(__name__)
STAFF_REPLY = "staff_reply"


class HandoffNotOpen(LookupError):
    pass


@dataclass(frozen=True)
class Line:
    at: datetime
    speaker: str  # person | bot | staff
    text: str
    german: str | None  # machine translation of the person's message, when there is one


@dataclass(frozen=True)
class Conversation:
    handoff: HandoffRequest
    language: str
    lines: list[Line]


@dataclass(frozen=True)
class Reply:
    text: str  # what the person gets
    language: str
    translation: str  # "staff" (written in their language), "machine", or "untranslated" (German)
    back_translation: str | None


def _translate(translator: Translator, text: str, source: str, target: str) -> str | None:
    if source == target or not text or not translator.supports(source, target):
        return None
    try:
        return translator.translate(text, source, target)
    except TranslationUnavailable:
        return None


def _load(engine: Engine, handoff_id: int) -> tuple[HandoffRequest, Person]:
    with session_scope(engine) as s:
        req = s.get(HandoffRequest, handoff_id)
        person = people.get_person(session=s, person_id=req.person_id) if req else None
        if req is None or person is None or req.status == HandoffStatus.CLOSED:
            raise HandoffNotOpen(f"hand-off {handoff_id} is not open")
        s.expunge(req)
        s.expunge(person)
        return req, person


class HandoffDesk:
    """Read a handed-off conversation, answer the person in their language, give it back to the bot."""

    def __init__(
        self,
        engine: Engine,
        translator: Translator,
        renderer: Renderer,
        outbox: Outbox,
        audit: Audit,
    ) -> None:
        self.engine = engine
        self.translator = translator
        self.renderer = renderer
        self.outbox = outbox
        self.audit = audit

    def open_list(self) -> list[HandoffRequest]:
        """Open and claimed hand-offs, oldest first."""
        with session_scope(self.engine) as s:
            return list(open_handoffs(session=s))

    def release(self, handoff_id: int, *, by: str, actor: Actor | None = None) -> HandoffRequest | None:
        """Close a hand-off: the bot answers the person again (None if it is not open).

        ``actor`` is who is recorded in the audit trail (default: the staff member ``by``).
        """
        with session_scope(self.engine) as s:
            req = release_handoff(session=s, handoff_id=handoff_id, by=by)
            if req is not None:
                self.audit.record(
                    actor or Actor.staff(by),
                    "handoff.release",
                    person=req.person_id,
                    target=f"handoff:{handoff_id}",
                    session=s,
                )
            return req

    def conversation(
        self,
        handoff_id: int,
        *,
        staff: str,
        reason: str = "answer_request",
        actor: Actor | None = None,
        limit: int = 50,
    ) -> Conversation:
        """The conversation of an open hand-off, the person's messages also in German where possible.

        The read is recorded first (``actor``, default the staff member, and ``reason``): if it cannot
        be recorded, nothing is shown.
        """
        engine, translator = self.engine, self.translator
        req, person = _load(engine, handoff_id)
        language = person.language or MASTER_LANGUAGE
        self.audit.record(
            actor or Actor.staff(staff),
            "conversation.read",
            person=person.id,
            target=f"handoff:{handoff_id}",
            reason=reason,
            details={"limit": limit},
        )
        with session_scope(engine) as s:
            items = conversations.transcript(session=s, person_id=person.id, limit=limit)
        lines = []
        for item in items:
            speaker = str(item["from"])
            text = str(item["text"])
            german = (
                _translate(translator, text, language, MASTER_LANGUAGE) if speaker == "person" else None
            )
            lines.append(Line(item["at"], speaker, text, german))
        return Conversation(req, language, lines)

    def reply(
        self,
        handoff_id: int,
        *,
        staff: str,
        text: str,
        written_in: str = MASTER_LANGUAGE,
        actor: Actor | None = None,
    ) -> Reply:
        """Send a case manager's reply to the person of an open hand-off, in the person's language.

        The outbox row and the audit row (``actor``, default the staff member) commit together; the
        audit row keeps the language and how it was translated, never the text.
        """
        engine, translator, renderer = self.engine, self.translator, self.renderer
        text = text.strip()
        if not text:
            raise ValueError("empty reply")
        req, person = _load(engine, handoff_id)
        language = person.language or MASTER_LANGUAGE
        back: str | None = None
        if written_in == language:
            sent, status = text, "staff"
        elif (translated := _translate(translator, text, written_in, language)) is not None:
            sent, status = translated, "machine"
            back = _translate(translator, translated, language, written_in)
            note = renderer.message("faq_note_machine", language).text
            sent = f"{sent}\n\n{note}"
        else:
            # No model for their language: the text as written, with a note they can read.
            note = renderer.message("staff_reply_untranslated", language).text
            sent = f"{text}\n\n{note}"
            status, language = "untranslated", written_in
        meta: dict[str, Any] = {
            "response": STAFF_REPLY,
            "language": language,
            "translation": status,
            "handoff": req.id,
        }
        with session_scope(engine) as s:
            self.outbox.enqueue(session=s, person=person, messages=[OutMessage(sent, [], meta)])
            self.audit.record(
                actor or Actor.staff(staff),
                "handoff.reply",
                person=person.id,
                target=f"handoff:{handoff_id}",
                details={"language": language, "translation": status},
                session=s,
            )
        logger.info("staff %s replied in hand-off %s (%s, %s)", staff, handoff_id, language, status)
        return Reply(sent, language, status, back)
