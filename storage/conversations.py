"""Inbound messages (stored before processing), the transcript and update deduplication."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from storage.db import utcnow
from storage.models import InboundMessage, InboundStatus, OutboundMessage, Person, SeenUpdate

UPDATE_KEY_MAX = 96


def _hashed(key: str) -> str:
    # Update keys of people who have not consented are kept only as a digest: a Telegram chat id in a
    # button key ("tgcb:<chat>:…") must not outlive the two days of deduplication in readable form.
    return "h:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:64]


def update_seen(*, session: Session, key: str) -> bool:
    """Whether ``mark_update_seen`` recorded this key (within the two days keys are kept)."""
    return session.get(SeenUpdate, _hashed(key)) is not None


def mark_update_seen(*, session: Session, key: str) -> bool:
    """Record an update id of someone not (yet) consenting; False when it was seen before."""
    try:
        with session.begin_nested():
            session.add(SeenUpdate(key=_hashed(key)))
            session.flush()
    except IntegrityError:
        return False
    return True


def store_inbound_once(
    *,
    session: Session,
    person_id: str,
    channel: str,
    text: str | None,
    payload: str | None,
    update_key: str | None,
) -> tuple[InboundMessage, bool]:
    """Store a message with its update key in one transaction; (stored, False) for a redelivery."""
    if update_key is not None and len(update_key) > UPDATE_KEY_MAX:
        update_key = _hashed(update_key)  # a long web message id: its digest is as unique
    if update_key is not None:
        existing = session.exec(
            select(InboundMessage).where(InboundMessage.update_key == update_key)
        ).first()
        if existing is not None:
            return existing, False
    msg = InboundMessage(
        person_id=person_id, channel=channel, text=text, payload=payload, update_key=update_key
    )
    try:
        with session.begin_nested():
            session.add(msg)
            session.flush()
    except IntegrityError:  # the same update arrived twice at the same moment (another process)
        existing = session.exec(
            select(InboundMessage).where(InboundMessage.update_key == update_key)
        ).first()
        if existing is None:
            raise
        return existing, False
    return msg, True


def replies_to(*, session: Session, message_id: int) -> Sequence[OutboundMessage]:
    """What the bot answered to a message, in order (a retried request gets the same answer)."""
    return session.exec(
        select(OutboundMessage)
        .where(OutboundMessage.in_reply_to == message_id)
        .order_by(col(OutboundMessage.id))
    ).all()


def recover_received(*, session: Session, older_than: timedelta) -> int:
    """Messages stored but never finished (the process died while handling them) wait to be retried."""
    cutoff = utcnow() - older_than
    result = session.exec(
        update(InboundMessage)
        .where(
            col(InboundMessage.status) == InboundStatus.RECEIVED,
            col(InboundMessage.received_at) < cutoff,
        )
        .values(status=InboundStatus.PENDING)
    )
    return int(result.rowcount or 0)


def claim_pending(
    engine: Engine, *, now: datetime, stale_after: timedelta, max_people: int = 20
) -> list[InboundMessage]:
    """Claim the kept messages of up to ``max_people`` people, each person's oldest first.

    A person is claimed whole (their row locked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one
    writer on SQLite) and only when none of their messages is already claimed by a live worker, so two
    app processes never answer the same message, and one person's messages stay in order.
    """
    fresh = now - stale_after
    with Session(engine, expire_on_commit=False) as s:
        candidates = list(
            s.exec(
                select(InboundMessage.person_id)
                .where(col(InboundMessage.status) == InboundStatus.PENDING)
                .distinct()
                .limit(max_people)
            ).all()
        )
        claimed: list[InboundMessage] = []
        for pid in candidates:
            if (
                s.exec(
                    select(Person.id).where(Person.id == pid).with_for_update(skip_locked=True)
                ).first()
                is None
            ):
                continue
            in_flight = s.exec(
                select(InboundMessage.id).where(
                    InboundMessage.person_id == pid,
                    col(InboundMessage.status) == InboundStatus.PENDING,
                    col(InboundMessage.claimed_at).is_not(None),
                    col(InboundMessage.claimed_at) >= fresh,
                )
            ).first()
            if in_flight is not None:
                continue
            rows = s.exec(
                select(InboundMessage)
                .where(
                    InboundMessage.person_id == pid, col(InboundMessage.status) == InboundStatus.PENDING
                )
                .order_by(col(InboundMessage.id))
            ).all()
            for row in rows:
                # Conditional: on SQLite another writer may have claimed it since our read.
                result = s.exec(
                    update(InboundMessage)
                    .where(
                        col(InboundMessage.id) == row.id,
                        col(InboundMessage.status) == InboundStatus.PENDING,
                        (col(InboundMessage.claimed_at).is_(None))
                        | (col(InboundMessage.claimed_at) < fresh),
                    )
                    .values(claimed_at=now)
                )
                if int(result.rowcount or 0) == 1:
                    row.claimed_at = now
                    claimed.append(row)
        s.commit()
        s.expunge_all()
    return claimed


def release_claim(*, session: Session, message_id: int) -> None:
    """Give a claimed, still pending message back (the dialogue engine went away again)."""
    msg = session.get(InboundMessage, message_id)
    if msg is not None and msg.status == InboundStatus.PENDING:
        msg.claimed_at = None
        session.add(msg)


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


def count_inbound(*, session: Session, person_id: str) -> int:
    """How many messages the person has sent (kept ones included)."""
    query = select(func.count()).select_from(InboundMessage).where(InboundMessage.person_id == person_id)
    return int(session.exec(query).one())
