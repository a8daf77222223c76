"""Data export (``/mydata``) and erasure (``/delete``) across every store that holds a person."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from bot.settings import Settings
from storage import people
from storage.db import session_scope
from storage.models import HandoffRequest, InboundMessage, OutboundMessage, Person

logger = logging.getLogger(__name__)


def export_person(*, session: Session, person_id: str) -> dict[str, Any]:
    """Everything stored about a person, as one JSON-ready document (GDPR Art. 15)."""
    person = session.get(Person, person_id)
    if person is None:
        return {}
    from storage.appointments import export_of

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


def rasa_tracker_url(settings: Settings) -> str:
    return f"sqlite:///{settings.rasa_tracker_db}"


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


def erase_everywhere(engine: Engine, settings: Settings, person_id: str) -> dict[str, int]:
    """Erase a person from the app database (cascading) and Rasa's tracker store."""
    with session_scope(engine) as session:
        app_rows = int(people.erase_person(session=session, person_id=person_id))
    return {"person": app_rows, "rasa_events": erase_rasa_tracker(rasa_tracker_url(settings), person_id)}
