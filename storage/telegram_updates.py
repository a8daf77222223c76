"""Webhook updates waiting to be handled (``TelegramUpdate``): keep, list, forget.

A handled update leaves only its id behind, as a seen-update key (``conversations.mark_update_seen``,
a digest kept two days, longer than the 24 h Telegram redelivers for): a redelivery after handling is
recognised here, answered 200 and never handed to the handlers again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage import conversations
from storage.models import TelegramUpdate


def _handled_key(update_id: int) -> str:
    return f"webhook:{update_id}"


def keep(*, session: Session, update_id: int, payload: dict[str, Any]) -> bool:
    """Store an update; False when it is stored or was handled before (Telegram delivered it again)."""
    if session.get(TelegramUpdate, update_id) is not None:
        return False
    if conversations.update_seen(session=session, key=_handled_key(update_id)):
        return False
    try:
        with session.begin_nested():
            session.add(TelegramUpdate(update_id=update_id, payload=payload))
            session.flush()
    except IntegrityError:
        return False
    return True


def waiting(*, session: Session, limit: int = 1000) -> list[dict[str, Any]]:
    """Updates stored but not yet handled (a previous process died), oldest first."""
    return [
        dict(u.payload)
        for u in session.exec(
            select(TelegramUpdate).order_by(col(TelegramUpdate.update_id)).limit(limit)
        ).all()
    ]


def forget(*, session: Session, update_id: int) -> None:
    """The update was handled: its content goes, its id stays seen (a redelivery is not queued)."""
    session.exec(delete(TelegramUpdate).where(col(TelegramUpdate.update_id) == update_id))
    conversations.mark_update_seen(session=session, key=_handled_key(update_id))


def purge(*, session: Session, before: datetime) -> int:
    """Updates older than ``before`` (retention: they may hold texts of people who never consented)."""
    result = session.exec(delete(TelegramUpdate).where(col(TelegramUpdate.received_at) < before))
    return int(getattr(result, "rowcount", 0) or 0)
