"""Case managers' ready-made replies and internal notes on hand-offs (the SQL of the inbox tools)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml
from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models_staff import HandoffNote, ReplySnippet

SEED_FILE = Path(__file__).resolve().parent / "seed" / "snippets.yml"
MAX_NOTE = 4000
MAX_SNIPPET = 2000


def load_snippets(session: Session, path: Path = SEED_FILE) -> dict[str, int]:
    """Add new seeded snippets and update unchanged ones; a snippet staff edited is kept."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    report = {"created": 0, "updated": 0, "kept": 0}
    existing = {s.key: s for s in session.exec(select(ReplySnippet)).all()}
    for raw in data.get("snippets") or []:
        key, title, text = str(raw["key"]), str(raw["title"]).strip(), str(raw["text"]).strip()
        row = existing.get(key)
        if row is None:
            session.add(ReplySnippet(key=key, title=title, text=text))
            report["created"] += 1
        elif row.origin == "staff":
            report["kept"] += 1
        elif (row.title, row.text) != (title, text):
            row.title, row.text, row.updated_at = title, text, utcnow()
            session.add(row)
            report["updated"] += 1
    return report


def snippets(*, session: Session, active_only: bool = True) -> Sequence[ReplySnippet]:
    query = select(ReplySnippet).order_by(col(ReplySnippet.title))
    if active_only:
        query = query.where(col(ReplySnippet.active))
    return session.exec(query).all()


def get_snippet(*, session: Session, key: str) -> ReplySnippet | None:
    return session.exec(select(ReplySnippet).where(ReplySnippet.key == key)).first()


def save_snippet(
    *, session: Session, key: str, title: str, text: str, active: bool, by: str
) -> ReplySnippet:
    row = get_snippet(session=session, key=key) or ReplySnippet(key=key, title=title, text=text)
    row.title, row.text, row.active = title[:120], text[:MAX_SNIPPET], active
    row.origin, row.updated_by, row.updated_at = "staff", by[:64], utcnow()
    session.add(row)
    session.flush()
    return row


def add_note(
    *, session: Session, handoff_id: int, person_id: str, author: str, text: str
) -> HandoffNote:
    row = HandoffNote(
        handoff_id=handoff_id, person_id=person_id, author=author[:64], text=text[:MAX_NOTE]
    )
    session.add(row)
    session.flush()
    return row


def notes(*, session: Session, handoff_id: int) -> Sequence[HandoffNote]:
    return session.exec(
        select(HandoffNote).where(HandoffNote.handoff_id == handoff_id).order_by(col(HandoffNote.id))
    ).all()


def notes_of_person(*, session: Session, person_id: str) -> Sequence[HandoffNote]:
    return session.exec(
        select(HandoffNote).where(HandoffNote.person_id == person_id).order_by(col(HandoffNote.id))
    ).all()
