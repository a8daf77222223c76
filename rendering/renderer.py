"""Render stored content in a person's language, and say how far the text can be trusted.

The order is fixed by the architecture: a current reviewed or draft translation, then a stored or new
machine translation (marked as such), then the German master with a note. A translation of an older
master version is shown only if a person reviewed it, and then with a note that it may be out of date;
otherwise the person gets the current German text. Nobody gets a stale answer presented as current.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage import content
from storage.calendar import to_local
from storage.db import session_scope, utcnow
from storage.models import FaqEntry, TextStatus
from storage.vocabulary import MASTER_LANGUAGE
from translations.engine import NullTranslator, TranslationUnavailable, Translator
from translations.languages import LANGUAGES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    """A text as shown, in ``language``, with its ``status`` (source/reviewed/draft/machine)."""

    text: str
    language: str
    status: str
    outdated: bool = False
    # The bot message that explains the status to the person, if any (faq_note_*).
    note_key: str | None = None


@dataclass
class RenderedFaq:
    faq_id: int
    key: str
    topic: str
    question: Rendered
    answer: Rendered
    notes: list[str] = field(default_factory=list)
    footer: str = ""
    checklist_title: str = ""
    checklist: list[str] = field(default_factory=list)


class _Keep(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(text: str, variables: dict[str, Any]) -> str:
    """Fill ``{placeholders}``; unknown ones and stray braces are left as written."""
    try:
        return string.Formatter().vformat(text, (), _Keep(variables))
    except (ValueError, IndexError):
        return text


class Renderer:
    """Picks the best text for a language from storage (and machine translation, if installed)."""

    def __init__(
        self,
        engine: Engine,
        translator: Translator | None = None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.engine = engine
        self.translator: Translator = translator or NullTranslator()
        self.variables = dict(variables or {})
        self.today: Callable[[], date] = lambda: to_local(utcnow()).date()

    # --- the choice ------------------------------------------------------------------------------

    def pick(
        self,
        session: Session,
        *,
        owner_type: str,
        owner_key: str,
        field_name: str,
        master_version: int,
        language: str,
    ) -> Rendered:
        versions = content.texts_for(
            session=session,
            owner_type=owner_type,
            owner_key=owner_key,
            field=field_name,
            master_version=master_version,
        )
        master = versions.by_language.get(MASTER_LANGUAGE)
        if language == MASTER_LANGUAGE or language not in LANGUAGES:
            if master is None:
                return Rendered("", MASTER_LANGUAGE, TextStatus.SOURCE)
            return Rendered(master.text, MASTER_LANGUAGE, TextStatus.SOURCE)
        for lang in (language, *LANGUAGES[language].bridge):
            row = versions.by_language.get(lang)
            if row is None:
                continue
            current = row.source_version >= master_version
            if current and row.status in (TextStatus.REVIEWED, TextStatus.DRAFT, TextStatus.MACHINE):
                note = {
                    TextStatus.DRAFT: "faq_note_draft",
                    TextStatus.MACHINE: "faq_note_machine",
                }.get(TextStatus(row.status))
                if lang != language and note is None:
                    note = "faq_note_bridge"  # honest: not the person's language, but one they may read
                return Rendered(row.text, lang, row.status, note_key=note)
            if not current and row.status == TextStatus.REVIEWED:
                return Rendered(row.text, lang, row.status, outdated=True, note_key="faq_note_outdated")
            if lang == language:
                break  # a stale draft/machine text of the person's own language is never shown
        if master is None:
            return Rendered("", MASTER_LANGUAGE, TextStatus.SOURCE)
        machine = self._machine(
            session, owner_type, owner_key, field_name, master.text, master_version, language
        )
        if machine is not None:
            return machine
        return Rendered(master.text, MASTER_LANGUAGE, TextStatus.SOURCE, note_key="faq_note_german")

    def _machine(
        self,
        session: Session,
        owner_type: str,
        owner_key: str,
        field_name: str,
        text: str,
        version: int,
        language: str,
    ) -> Rendered | None:
        if not self.translator.supports(MASTER_LANGUAGE, language):
            return None
        try:
            translated = self.translator.translate(text, MASTER_LANGUAGE, language)
        except TranslationUnavailable as exc:
            logger.warning("machine translation %s->%s failed: %s", MASTER_LANGUAGE, language, exc)
            return None
        # Kept in the translation memory, so it is never translated twice and staff can review it.
        content.store_machine_translation(
            session=session,
            owner_type=owner_type,
            owner_key=owner_key,
            field=field_name,
            language=language,
            text=translated,
            source_version=version,
        )
        return Rendered(translated, language, TextStatus.MACHINE, note_key="faq_note_machine")

    # --- bot messages ----------------------------------------------------------------------------

    def message(self, key: str, language: str, **variables: Any) -> Rendered:
        with session_scope(self.engine) as session:
            return self.message_in(session, key, language, **variables)

    def message_in(self, session: Session, key: str, language: str, **variables: Any) -> Rendered:
        msg = content.get_message(session=session, key=key)
        if msg is None:
            logger.error("bot message %r is missing from storage", key)
            return Rendered(key, MASTER_LANGUAGE, TextStatus.SOURCE)
        r = self.pick(
            session,
            owner_type="message",
            owner_key=key,
            field_name="text",
            master_version=msg.version,
            language=language,
        )
        return Rendered(
            fill(r.text, {**self.variables, **variables}), r.language, r.status, r.outdated, r.note_key
        )

    def text(self, key: str, language: str, **variables: Any) -> str:
        return self.message(key, language, **variables).text

    # --- FAQ answers -----------------------------------------------------------------------------

    def faq(self, faq_id: int, language: str) -> RenderedFaq | None:
        with session_scope(self.engine) as session:
            entry = content.get_faq(session=session, faq_id=faq_id)
            if entry is None:
                return None
            return self._faq(session, entry, language)

    def faq_question(self, session: Session, entry: FaqEntry, language: str) -> Rendered:
        return self.pick(
            session,
            owner_type="faq",
            owner_key=entry.key,
            field_name="question",
            master_version=entry.version,
            language=language,
        )

    def _faq(self, session: Session, entry: FaqEntry, language: str) -> RenderedFaq:
        assert entry.id is not None
        question = self.faq_question(session, entry, language)
        answer = self.pick(
            session,
            owner_type="faq",
            owner_key=entry.key,
            field_name="answer",
            master_version=entry.version,
            language=language,
        )
        notes = []
        if answer.note_key:
            notes.append(self.message_in(session, answer.note_key, language).text)
        if entry.needs_review:
            notes.append(self.message_in(session, "faq_note_needs_review", language).text)
        if entry.valid_until is not None and entry.valid_until < self.today():
            # A figure that changed on a known date and nobody has confirmed the entry since.
            notes.append(self.message_in(session, "faq_note_check_office", language).text)
        footer = self.message_in(
            session,
            "faq_footer",
            language,
            sources="; ".join(entry.sources) or "KI",
            date=entry.last_verified.strftime("%d.%m.%Y"),
        ).text
        title, items = (
            self.checklist_in(session, entry.checklist, language) if entry.checklist else ("", [])
        )
        return RenderedFaq(
            entry.id, entry.key, entry.topic, question, answer, notes, footer, title, items
        )

    def checklist_in(self, session: Session, key: str, language: str) -> tuple[str, list[str]]:
        """A checklist's title and items in ``language`` (each item through the trust chain)."""
        cl = content.get_checklist(session=session, key=key)
        if cl is None:
            return "", []
        pick = {
            "owner_type": "checklist",
            "owner_key": key,
            "master_version": cl.version,
            "language": language,
        }
        title = self.pick(session, field_name="title", **pick).text  # type: ignore[arg-type]
        items = [self.pick(session, field_name=f"item:{i}", **pick).text for i in cl.items]  # type: ignore[arg-type]
        return title, [i for i in items if i]
