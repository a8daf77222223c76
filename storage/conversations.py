"""Inbound messages (stored before processing), the outbound transcript and update deduplication."""

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


def store_outbound(
    *,
    session: Session,
    person_id: str,
    channel: str,
    text: str,
    buttons: list[dict[str, str]],
    meta: dict[str, Any],
    delivered: bool,
) -> OutboundMessage:
    msg = OutboundMessage(
        person_id=person_id,
        channel=channel,
        text=text,
        buttons=buttons,
        meta=meta,
        delivered_at=utcnow() if delivered else None,
    )
    session.add(msg)
    session.flush()
    return msg


def take_undelivered(*, session: Session, person_id: str) -> Sequence[OutboundMessage]:
    """The web chat's outbox: messages produced later (retries, case manager replies)."""
    rows = session.exec(
        select(OutboundMessage)
        .where(
            OutboundMessage.person_id == person_id,
            col(OutboundMessage.delivered_at).is_(None),
        )
        .order_by(col(OutboundMessage.id))
    ).all()
    now = utcnow()
    for row in rows:
        row.delivered_at = now
        session.add(row)
    return rows


def undelivered_staff_replies(
    *, session: Session, channel: str, limit: int = 100
) -> Sequence[OutboundMessage]:
    """Case managers' replies waiting to be sent on a channel (the Telegram outbox), oldest first."""
    return session.exec(
        select(OutboundMessage)
        .where(
            OutboundMessage.channel == channel,
            col(OutboundMessage.delivered_at).is_(None),
            OutboundMessage.meta["response"].as_string() == "staff_reply",
        )
        .order_by(col(OutboundMessage.id))
        .limit(limit)
    ).all()


def mark_delivered(*, session: Session, message_id: int, failure: str | None = None) -> None:
    row = session.get(OutboundMessage, message_id)
    if row is None:
        return
    row.delivered_at = utcnow()
    if failure:
        row.meta = {**row.meta, "failed": failure[:200]}
    session.add(row)


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
            "text": m.text + (f"  [not delivered: {m.meta['failed']}]" if m.meta.get("failed") else ""),
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
