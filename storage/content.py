"""Content repository: FAQ entries, bot messages, checklists and their translations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models import (
    BotMessage,
    Checklist,
    Consent,
    FaqEntry,
    Origin,
    Person,
    ScopeGroup,
    TextStatus,
    Translation,
    UnansweredQuestion,
)


@dataclass(frozen=True)
class TextVersions:
    """All stored languages of one field of one piece of content, and the master's version."""

    master_version: int
    by_language: dict[str, Translation]


def texts_for(
    *, session: Session, owner_type: str, owner_key: str, field: str, master_version: int
) -> TextVersions:
    rows = session.exec(
        select(Translation).where(
            Translation.owner_type == owner_type,
            Translation.owner_key == owner_key,
            Translation.field == field,
        )
    ).all()
    return TextVersions(master_version=master_version, by_language={r.language: r for r in rows})


def get_message(*, session: Session, key: str) -> BotMessage | None:
    return session.get(BotMessage, key)


def get_faq(*, session: Session, faq_id: int) -> FaqEntry | None:
    entry = session.get(FaqEntry, faq_id)
    return entry if entry is not None and entry.active else None


def get_faq_by_key(*, session: Session, key: str) -> FaqEntry | None:
    return session.exec(select(FaqEntry).where(FaqEntry.key == key)).first()


def faqs_in_topic(*, session: Session, topic: str) -> Sequence[FaqEntry]:
    return session.exec(
        select(FaqEntry)
        .where(FaqEntry.topic == topic, col(FaqEntry.active).is_(True))
        .order_by(col(FaqEntry.id))
    ).all()


def active_faqs(*, session: Session) -> Sequence[FaqEntry]:
    return session.exec(
        select(FaqEntry).where(col(FaqEntry.active).is_(True)).order_by(col(FaqEntry.id))
    ).all()


def faq_texts(*, session: Session, keys: Sequence[str]) -> Sequence[Translation]:
    if not keys:
        return []
    return session.exec(
        select(Translation).where(
            Translation.owner_type == "faq", col(Translation.owner_key).in_(list(keys))
        )
    ).all()


def get_checklist(*, session: Session, key: str) -> Checklist | None:
    return session.get(Checklist, key)


def content_stamp(*, session: Session) -> tuple[int, str]:
    """Changes whenever any text changes: search indexes and caches key on it."""
    count, latest = session.exec(
        select(func.count(col(Translation.id)), func.max(Translation.updated_at))
    ).one()
    faq_latest = session.exec(select(func.max(FaqEntry.updated_at))).one()
    groups_latest = session.exec(select(func.max(ScopeGroup.updated_at))).one()
    return int(count or 0), f"{latest}|{faq_latest}|{groups_latest}"


def store_machine_translation(
    *,
    session: Session,
    owner_type: str,
    owner_key: str,
    field: str,
    language: str,
    text: str,
    source_version: int,
) -> Translation:
    """Keep a machine translation (the translation memory); never replaces a human text.

    Several people may get the same untranslated text at once: the first row stored wins, and the
    others use it (the insert runs in a savepoint, so a lost race never breaks the caller's work).
    """
    query = select(Translation).where(
        Translation.owner_type == owner_type,
        Translation.owner_key == owner_key,
        Translation.field == field,
        Translation.language == language,
    )
    row = session.exec(query).first()
    if row is not None and row.status != TextStatus.MACHINE:
        return row
    if row is None:
        fresh = Translation(
            owner_type=owner_type,
            owner_key=owner_key,
            field=field,
            language=language,
            text=text,
            status=TextStatus.MACHINE,
            source_version=source_version,
            origin=Origin.MT,
        )
        try:
            with session.begin_nested():
                session.add(fresh)
        except IntegrityError:
            stored = session.exec(query).first()
            if stored is None:
                raise
            return stored
        return fresh
    row.text = text
    row.source_version = source_version
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def record_unanswered(
    *,
    session: Session,
    text: str,
    language: str,
    intent: str | None,
    confidence: float | None,
    person_id: str | None = None,
    own_words: str | None = None,
) -> None:
    """Keep a question nobody could answer: ``text`` anonymised (what editors see); who asked and their
    own words only when they are a person who gave consent (for the closed-loop message, their data)."""
    person = session.get(Person, person_id) if person_id else None
    asked_by = person.id if person is not None and person.consent == Consent.GIVEN else None
    session.add(
        UnansweredQuestion(
            text=text,
            language=language,
            intent=intent,
            confidence=confidence,
            person_id=asked_by,
            own_words=own_words[:2000] if asked_by and own_words else None,
        )
    )


def master_versions_and_texts(
    *, session: Session
) -> tuple[dict[tuple[str, str], int], Sequence[Translation]]:
    """The master version of every active FAQ entry and bot message, and all their texts."""
    versions = {
        ("faq", e.key): e.version
        for e in session.exec(select(FaqEntry).where(col(FaqEntry.active))).all()
    }
    versions.update({("message", m.key): m.version for m in session.exec(select(BotMessage)).all()})
    rows = session.exec(
        select(Translation).where(col(Translation.owner_type).in_(["faq", "message"]))
    ).all()
    return versions, rows


def scope_groups(*, session: Session) -> dict[str, frozenset[str]]:
    """Every scope group and its municipalities."""
    return {g.key: frozenset(g.municipalities) for g in session.exec(select(ScopeGroup)).all()}


def scope_applies(scope: str, municipality: str | None, groups: dict[str, frozenset[str]]) -> bool:
    """Whether an entry of ``scope`` is for a person in ``municipality`` (Kreis-wide is for everyone)."""
    if scope == "kreis":
        return True
    if municipality is None:
        return False
    return scope == municipality or municipality in groups.get(scope, frozenset())
