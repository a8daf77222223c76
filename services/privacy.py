"""Privacy: data export (``/mydata``), erasure (``/delete``) and the retention purge, in every store."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from storage import conversations, people
from storage.appointments import export_of
from storage.db import session_scope, utcnow
from storage.models import HandoffRequest, InboundMessage, OutboundMessage, Person
from translations.memory import purge_memory

logger = logging.getLogger(__name__)


def export_person(*, session: Session, person_id: str) -> dict[str, Any]:
    """Everything stored about a person, as one JSON-ready document (GDPR Art. 15)."""
    person = session.get(Person, person_id)
    if person is None:
        return {}
    return {
        "person": person.model_dump(exclude={"id"}),
        "appointments": export_of(session, person_id),
        "messages": [
            {"at": m.received_at, "text": m.text, "button": m.payload, "status": m.status}
            for m in session.exec(select(InboundMessage).where(InboundMessage.person_id == person_id))
        ],
        "answers": len(
            session.exec(select(OutboundMessage.id).where(OutboundMessage.person_id == person_id)).all()
        ),
        "handoffs": [
            {"at": h.created_at, "status": h.status, "reason": h.reason}
            for h in session.exec(select(HandoffRequest).where(HandoffRequest.person_id == person_id))
        ],
    }


def erase_rasa_tracker(url: str, sender_id: str) -> int:
    """Delete Rasa's stored events of a conversation (Rasa OSS has no API that deletes them)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text("DELETE FROM events WHERE sender_id = :s"), {"s": sender_id})
            return int(result.rowcount or 0)
    except SQLAlchemyError as exc:  # no tracker table yet: nothing stored there
        logger.info("no Rasa events erased: %s", type(exc).__name__)
        return 0
    finally:
        engine.dispose()


class Privacy:
    """Export, erasure and retention for one deployment's stores."""

    def __init__(self, engine: Engine, *, tracker_url: str, retention_days: int) -> None:
        self.engine = engine
        self.tracker_url = tracker_url
        self.retention_days = retention_days

    def export_text(self, person_id: str) -> str:
        """The export as JSON text (for the chat)."""
        with session_scope(self.engine) as s:
            return json.dumps(
                export_person(session=s, person_id=person_id), ensure_ascii=False, indent=1, default=str
            )[:3800]

    def erase_everywhere(self, person_id: str) -> dict[str, int]:
        """Erase a person from the app database (cascading) and Rasa's tracker store."""
        with session_scope(self.engine) as session:
            app_rows = int(people.erase_person(session=session, person_id=person_id))
        return {"person": app_rows, "rasa_events": erase_rasa_tracker(self.tracker_url, person_id)}

    async def erase(self, person_id: str) -> dict[str, int]:
        """``erase_everywhere`` off the event loop."""
        return await asyncio.to_thread(self.erase_everywhere, person_id)

    def purge_expired(self) -> int:
        """The retention job: old messages, old update ids and old translation memory go."""
        keep = timedelta(days=self.retention_days)
        with session_scope(self.engine) as s:
            n = conversations.purge_transcripts(session=s, older_than=keep)
            n += conversations.purge_seen_updates(session=s, older_than=timedelta(days=2))
            n += purge_memory(s, utcnow() - keep)
        if n:
            logger.info("retention: %s rows deleted", n)
        return n
