"""The outbox rows (``outboundmessage``): adding, claiming per person in order, finishing, reaping.

A row's life::

    queued ──claim──► sending ──► sent
       ▲                 ├──► failed    (refused for good: ``failure`` says why)
       │                 ├──► unknown   (timed out / the worker died mid-send: never resent blindly)
       └─────────────────┘    (rate limited or a network error: queued again, ``next_attempt_at``)

Claims are per person: the person's row is locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has
one writer) while all their queued rows are claimed in order, and a person with a row still ``sending``
or waiting for a retry is skipped, so no message ever overtakes an earlier one, whatever the number of
app processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models import OutboundMessage, OutboxStatus, Person


def add(
    *,
    session: Session,
    person_id: str,
    channel: str,
    text: str,
    buttons: list[dict[str, str]],
    meta: dict[str, Any],
    status: str = OutboxStatus.QUEUED,
    in_reply_to: int | None = None,
) -> OutboundMessage:
    """Put one message in the outbox (``status=sent`` for a reply the channel returned itself)."""
    now = utcnow()
    row = OutboundMessage(
        person_id=person_id,
        channel=channel,
        text=text,
        buttons=buttons,
        meta=meta,
        status=status,
        created_at=now,
        delivered_at=now if status == OutboxStatus.SENT else None,
        in_reply_to=in_reply_to,
    )
    session.add(row)
    session.flush()
    return row


def claim(
    engine: Engine,
    *,
    channels: Sequence[str],
    worker: str,
    now: datetime,
    person_id: str | None = None,
    max_people: int = 50,
) -> list[OutboundMessage]:
    """Claim the queued rows of up to ``max_people`` people (or of ``person_id``), oldest first."""
    if not channels:
        return []
    due = (col(OutboundMessage.next_attempt_at).is_(None)) | (
        col(OutboundMessage.next_attempt_at) <= now
    )
    with Session(engine, expire_on_commit=False) as s:
        q = (
            select(OutboundMessage.person_id)
            .where(
                col(OutboundMessage.status) == OutboxStatus.QUEUED,
                col(OutboundMessage.channel).in_(list(channels)),
                due,
            )
            .distinct()
            .limit(max_people)
        )
        if person_id is not None:
            q = q.where(OutboundMessage.person_id == person_id)
        candidates = list(s.exec(q).all())
        claimed: list[OutboundMessage] = []
        other = OutboundMessage.__table__.alias("other")  # type: ignore[attr-defined]
        for pid in candidates:
            locked = s.exec(
                select(Person.id).where(Person.id == pid).with_for_update(skip_locked=True)
            ).first()
            if locked is None:
                continue  # another worker is claiming this person's rows right now
            busy = s.exec(
                select(
                    exists().where(
                        other.c.person_id == pid,
                        or_(
                            other.c.status == OutboxStatus.SENDING,
                            (other.c.status == OutboxStatus.QUEUED) & (other.c.next_attempt_at > now),
                        ),
                    )
                )
            ).one()
            if busy:
                continue  # an earlier message is in flight or waits for a retry: keep the order
            rows = s.exec(
                select(OutboundMessage)
                .where(
                    OutboundMessage.person_id == pid,
                    col(OutboundMessage.status) == OutboxStatus.QUEUED,
                    col(OutboundMessage.channel).in_(list(channels)),
                )
                .order_by(col(OutboundMessage.id))
            ).all()
            for row in rows:
                result = s.exec(
                    update(OutboundMessage)
                    .where(
                        col(OutboundMessage.id) == row.id,
                        col(OutboundMessage.status) == OutboxStatus.QUEUED,
                    )
                    .values(status=OutboxStatus.SENDING, claimed_by=worker, claimed_at=now)
                )
                if int(result.rowcount or 0) == 1:
                    row.status, row.claimed_by, row.claimed_at = OutboxStatus.SENDING, worker, now
                    claimed.append(row)
        s.commit()
        s.expunge_all()
    return claimed


def finish(
    engine: Engine,
    message_id: int,
    *,
    worker: str,
    status: str,
    failure: str | None = None,
    next_attempt_at: datetime | None = None,
    attempted: bool = True,
) -> bool:
    """Move a claimed row on (only if this worker still holds it); True when it did."""
    values: dict[str, Any] = {"status": status, "failure": failure[:300] if failure else None}
    if status == OutboxStatus.SENT:
        values["delivered_at"] = utcnow()
    if status == OutboxStatus.QUEUED:
        values |= {"claimed_by": None, "claimed_at": None, "next_attempt_at": next_attempt_at}
    if attempted:
        values["attempts"] = OutboundMessage.attempts + 1
    with Session(engine) as s:
        result = s.exec(
            update(OutboundMessage)
            .where(
                col(OutboundMessage.id) == message_id,
                col(OutboundMessage.status) == OutboxStatus.SENDING,
                col(OutboundMessage.claimed_by) == worker,
            )
            .values(**values)
        )
        s.commit()
        return int(result.rowcount or 0) == 1


def reap(engine: Engine, *, now: datetime, stale_after: timedelta) -> int:
    """Rows a dead worker left ``sending`` become ``unknown``: they may have been sent (never resent)."""
    with Session(engine) as s:
        result = s.exec(
            update(OutboundMessage)
            .where(
                col(OutboundMessage.status) == OutboxStatus.SENDING,
                col(OutboundMessage.claimed_at) < now - stale_after,
            )
            .values(
                status=OutboxStatus.UNKNOWN,
                failure="the sending process stopped during the send; delivery unknown (not resent)",
            )
        )
        s.commit()
        return int(result.rowcount or 0)


def take_queued(*, session: Session, person_id: str) -> Sequence[OutboundMessage]:
    """A pull channel's messages (the web chat fetches them): returned once, then ``sent``."""
    rows = session.exec(
        select(OutboundMessage)
        .where(
            OutboundMessage.person_id == person_id,
            col(OutboundMessage.status) == OutboxStatus.QUEUED,
        )
        .order_by(col(OutboundMessage.id))
    ).all()
    now = utcnow()
    for row in rows:
        row.status = OutboxStatus.SENT
        row.delivered_at = now
        session.add(row)
    return rows


def of_person(*, session: Session, person_id: str) -> Sequence[OutboundMessage]:
    """Every message to a person, oldest first (transcript, export)."""
    return session.exec(
        select(OutboundMessage)
        .where(OutboundMessage.person_id == person_id)
        .order_by(col(OutboundMessage.id))
    ).all()


def problems(*, session: Session, limit: int = 100) -> Sequence[OutboundMessage]:
    """Messages that did not arrive or may not have: failed and unknown, newest first (for staff)."""
    return session.exec(
        select(OutboundMessage)
        .where(col(OutboundMessage.status).in_([OutboxStatus.FAILED, OutboxStatus.UNKNOWN]))
        .order_by(col(OutboundMessage.id).desc())
        .limit(limit)
    ).all()
