"""Hand-off requests: a conversation paused for a human case manager."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models import HandoffRequest, HandoffStatus
from storage.people import set_paused


def open_handoff(
    *, session: Session, person_id: str, reason: str, urgent: bool = False
) -> tuple[HandoffRequest, bool]:
    """Open a hand-off, or return the open one (flagged urgent if ``urgent``): (request, created)."""
    existing = session.exec(
        select(HandoffRequest).where(
            HandoffRequest.person_id == person_id,
            col(HandoffRequest.status).in_([HandoffStatus.OPEN, HandoffStatus.CLAIMED]),
        )
    ).first()
    if existing is not None:
        if urgent and not existing.urgent:
            existing.urgent = True
            session.add(existing)
        return existing, False
    req = HandoffRequest(person_id=person_id, reason=reason, urgent=urgent)
    session.add(req)
    set_paused(session=session, person_id=person_id, paused=True)
    session.flush()
    return req, True


def release_handoff(*, session: Session, handoff_id: int, by: str) -> HandoffRequest | None:
    """Close a hand-off and give the conversation back to the bot."""
    req = session.get(HandoffRequest, handoff_id)
    if req is None or req.status == HandoffStatus.CLOSED:
        return None
    req.status = HandoffStatus.CLOSED
    req.closed_at = utcnow()
    req.closed_by = by
    session.add(req)
    set_paused(session=session, person_id=req.person_id, paused=False)
    return req


def open_handoffs(*, session: Session) -> Sequence[HandoffRequest]:
    return session.exec(
        select(HandoffRequest)
        .where(col(HandoffRequest.status).in_([HandoffStatus.OPEN, HandoffStatus.CLAIMED]))
        .order_by(col(HandoffRequest.created_at))
    ).all()
