"""Inbound messages (stored before processing), the transcript and update deduplication."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from storage.db import utcnow
from storage.models import InboundMessage, InboundStatus, OutboundMessage, SeenUpdate


def mark_update_seen(*, session: Session, key: str) -> bool:
    """Record an update id; False when it was seen before (a redelivery to ignore)."""
    try:
        with session.begin_nested():
            session.add(SeenUpdate(key=key))
            session.flush()
    except IntegrityError:
        return False
    return True


def purge_seen_updates(*, session: Session, older_than: timedelta) -> int:
    cutoff = utcnow() - older_than
    result = session.exec(delete(SeenUpdate).where(col(SeenUpdate.seen_at) < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def store_inbound(
    *, session: Session, person_id: str, channel: str, text: str | None, payload: str | None
) -> InboundMessage:
    msg = InboundMessage(person_id=person_id, channel=channel, text=text, payload=payload)
    session.add(msg)
    session.flush()
    return msg


def set_inbound_status(*, session: Session, message_id: int, status: InboundStatus) -> None:
    msg = session.get(InboundMessage, message_id)
    if msg is None:
        return
    msg.status = status
    msg.attempts += 1
    if status in (InboundStatus.DONE, InboundStatus.HANDED_OFF, InboundStatus.FAILED):
        msg.processed_at = utcnow()
    session.add(msg)


def pending_inbound(*, session: Session, limit: int = 100) -> Sequence[InboundMessage]:
    """Messages kept while Rasa was unavailable, oldest first."""
    return session.exec(
        select(InboundMessage)
        .where(InboundMessage.status == InboundStatus.PENDING)
        .order_by(col(InboundMessage.id))
        .limit(limit)
    ).all()


def has_pending(*, session: Session, person_id: str) -> bool:
    return (
        session.exec(
            select(InboundMessage.id).where(
                InboundMessage.person_id == person_id,
                InboundMessage.status == InboundStatus.PENDING,
            )
        ).first()
        is not None
    )


def transcript(*, session: Session, person_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The conversation so far, oldest first (what a case manager sees on hand-off)."""
    ins = session.exec(select(InboundMessage).where(InboundMessage.person_id == person_id)).all()
    outs = session.exec(select(OutboundMessage).where(OutboundMessage.person_id == person_id)).all()
    items: list[dict[str, Any]] = [
        {"at": m.received_at, "from": "person", "text": m.text or m.payload or ""} for m in ins
    ] + [
        {
            "at": m.created_at,
            "from": "staff" if m.meta.get("response") == "staff_reply" else "bot",
            "text": m.text + (f"  [not delivered: {m.failure}]" if m.status == "failed" else ""),
        }
        for m in outs
    ]
    items.sort(key=lambda i: i["at"])
    return items[-limit:]


def purge_transcripts(*, session: Session, older_than: timedelta) -> int:
    """Delete messages older than the retention period (the privacy notice promises it)."""
    cutoff = utcnow() - older_than
    n = 0
    for model, column in (
        (InboundMessage, InboundMessage.received_at),
        (OutboundMessage, OutboundMessage.created_at),
    ):
        result = session.exec(delete(model).where(col(column) < cutoff))
        n += int(getattr(result, "rowcount", 0) or 0)
    return n
