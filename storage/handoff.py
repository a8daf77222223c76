"""Hand-off requests: a conversation paused for a human case manager (all the SQL of the inbox)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models import (
    HandoffRequest,
    HandoffStatus,
    InboundMessage,
    OutboundMessage,
    Person,
)
from storage.models_booking import Appointment
from storage.models_staff import StaffAccount
from storage.people import set_paused

OPEN_STATES = (HandoffStatus.OPEN, HandoffStatus.CLAIMED)
STAFF_REPLY = "staff_reply"


def last_topic(*, session: Session, person_id: str) -> str | None:
    """The topic of the last answer the bot gave this person (what they asked about last)."""
    recent = session.exec(
        select(OutboundMessage)
        .where(OutboundMessage.person_id == person_id)
        .order_by(col(OutboundMessage.id).desc())
        .limit(30)
    ).all()
    for row in recent:
        topic = (row.meta or {}).get("topic")
        if isinstance(topic, str) and topic:
            return topic[:32]
    return None


def open_handoff(
    *, session: Session, person_id: str, reason: str, urgent: bool = False
) -> tuple[HandoffRequest, bool]:
    """Open a hand-off, or return the open one (flagged urgent if ``urgent``): (request, created)."""
    existing = session.exec(
        select(HandoffRequest).where(
            HandoffRequest.person_id == person_id, col(HandoffRequest.status).in_(OPEN_STATES)
        )
    ).first()
    if existing is not None:
        if urgent and not existing.urgent:
            existing.urgent = True
            session.add(existing)
        return existing, False
    req = HandoffRequest(
        person_id=person_id,
        reason=reason,
        urgent=urgent,
        topic=last_topic(session=session, person_id=person_id),
    )
    session.add(req)
    set_paused(session=session, person_id=person_id, paused=True)
    session.flush()
    return req, True


def get_open(*, session: Session, handoff_id: int) -> HandoffRequest | None:
    req = session.get(HandoffRequest, handoff_id)
    return req if req is not None and req.status in OPEN_STATES else None


def close_handoff(
    *, session: Session, handoff_id: int, by: str, outcome: str = "released"
) -> HandoffRequest | None:
    """Close a hand-off with an outcome and give the conversation back to the bot."""
    req = get_open(session=session, handoff_id=handoff_id)
    if req is None:
        return None
    req.status = HandoffStatus.CLOSED
    req.closed_at = utcnow()
    req.closed_by = by[:64]
    req.outcome = outcome[:32]
    session.add(req)
    set_paused(session=session, person_id=req.person_id, paused=False)
    return req


def release_handoff(*, session: Session, handoff_id: int, by: str) -> HandoffRequest | None:
    """Close a hand-off and give the conversation back to the bot (outcome ``released``)."""
    return close_handoff(session=session, handoff_id=handoff_id, by=by, outcome="released")


def assign(*, session: Session, handoff_id: int, account_id: int | None) -> HandoffRequest | None:
    """Assign an open hand-off to a case manager (None: to nobody)."""
    req = get_open(session=session, handoff_id=handoff_id)
    if req is None:
        return None
    req.assigned_to = account_id
    req.status = HandoffStatus.CLAIMED if account_id is not None else HandoffStatus.OPEN
    session.add(req)
    return req


def mark_replied(*, session: Session, handoff_id: int, at: datetime) -> None:
    req = session.get(HandoffRequest, handoff_id)
    if req is not None and req.first_reply_at is None:
        req.first_reply_at = at
        session.add(req)


def open_handoffs(*, session: Session) -> Sequence[HandoffRequest]:
    return session.exec(
        select(HandoffRequest)
        .where(col(HandoffRequest.status).in_(OPEN_STATES))
        .order_by(col(HandoffRequest.created_at))
    ).all()


@dataclass(frozen=True)
class InboxRow:
    handoff: HandoffRequest
    person: Person
    assignee: str | None  # display name
    last_message_at: datetime | None
    unread: int  # the person's messages since the last staff reply


def inbox_rows(*, session: Session) -> list[InboxRow]:
    """Every open hand-off with its person, who it is assigned to and the person's latest message."""
    pairs = session.exec(
        select(HandoffRequest, Person)
        .join(Person, col(Person.id) == col(HandoffRequest.person_id))
        .where(col(HandoffRequest.status).in_(OPEN_STATES))
    ).all()
    names = {
        a.id: a.display_name
        for a in session.exec(
            select(StaffAccount).where(
                col(StaffAccount.id).in_([h.assigned_to for h, _ in pairs if h.assigned_to])
            )
        ).all()
    }
    out = []
    for req, person in pairs:
        since = req.created_at
        ins = session.exec(
            select(InboundMessage.received_at)
            .where(InboundMessage.person_id == person.id)
            .order_by(col(InboundMessage.id).desc())
            .limit(50)
        ).all()
        unread = sum(1 for at in ins if at >= (req.first_reply_at or since))
        out.append(
            InboxRow(
                req,
                person,
                names.get(req.assigned_to) if req.assigned_to else None,
                ins[0] if ins else None,
                unread,
            )
        )
    return out


def person_of(*, session: Session, handoff_id: int) -> tuple[HandoffRequest, Person] | None:
    req = session.get(HandoffRequest, handoff_id)
    if req is None:
        return None
    person = session.get(Person, req.person_id)
    return (req, person) if person is not None else None


def conversation_rows(
    *, session: Session, person_id: str, limit: int = 80
) -> list[InboundMessage | OutboundMessage]:
    """The last ``limit`` messages both ways, oldest first."""
    ins = session.exec(
        select(InboundMessage)
        .where(InboundMessage.person_id == person_id)
        .order_by(col(InboundMessage.id).desc())
        .limit(limit)
    ).all()
    outs = session.exec(
        select(OutboundMessage)
        .where(OutboundMessage.person_id == person_id)
        .order_by(col(OutboundMessage.id).desc())
        .limit(limit)
    ).all()
    items: list[InboundMessage | OutboundMessage] = [*ins, *outs]
    items.sort(key=lambda m: m.received_at if isinstance(m, InboundMessage) else m.created_at)
    return items[-limit:]


def store_german(
    *, session: Session, message_id: int, german: str | None, flags: dict[str, Any]
) -> None:
    """Keep the German machine translation of a person's message (it goes with the message)."""
    row = session.get(InboundMessage, message_id)
    if row is not None:
        row.german, row.german_flags = german, flags
        session.add(row)


def staff_replies(*, session: Session, handoff_id: int, person_id: str) -> list[OutboundMessage]:
    """The case managers' replies in one hand-off, oldest first (with their delivery state)."""
    rows = session.exec(
        select(OutboundMessage)
        .where(OutboundMessage.person_id == person_id)
        .order_by(col(OutboundMessage.id))
    ).all()
    return [
        r
        for r in rows
        if (r.meta or {}).get("response") == STAFF_REPLY and (r.meta or {}).get("handoff") == handoff_id
    ]


def topics_asked(*, session: Session, person_id: str) -> list[str]:
    """The topics of the bot's answers to this person, in the order first asked."""
    seen: list[str] = []
    for meta in session.exec(
        select(OutboundMessage.meta)
        .where(OutboundMessage.person_id == person_id)
        .order_by(col(OutboundMessage.id))
    ).all():
        topic = (meta or {}).get("topic")
        if isinstance(topic, str) and topic and topic not in seen:
            seen.append(topic)
    return seen


def appointments_of(*, session: Session, person_id: str) -> Sequence[Appointment]:
    return session.exec(
        select(Appointment).where(Appointment.person_id == person_id).order_by(col(Appointment.start))
    ).all()


def message_counts(*, session: Session, person_id: str) -> int:
    return len(
        session.exec(select(InboundMessage.id).where(InboundMessage.person_id == person_id)).all()
    )


def unreplied(*, session: Session) -> Sequence[HandoffRequest]:
    """Open hand-offs nobody has answered yet and that were not escalated (the escalation job's)."""
    return session.exec(
        select(HandoffRequest).where(
            col(HandoffRequest.status).in_(OPEN_STATES),
            col(HandoffRequest.first_reply_at).is_(None),
            col(HandoffRequest.escalated_at).is_(None),
        )
    ).all()


def mark_escalated(*, session: Session, handoff_id: int, at: datetime) -> bool:
    """Mark a hand-off escalated once (False when another process was first)."""
    req = session.get(HandoffRequest, handoff_id, with_for_update=True)
    if req is None or req.escalated_at is not None or req.first_reply_at is not None:
        return False
    req.escalated_at = at
    session.add(req)
    return True


def escalated(*, session: Session) -> list[InboxRow]:
    """Open hand-offs whose answer time passed with no reply: the administrators' list."""
    return [
        row
        for row in inbox_rows(session=session)
        if row.handoff.escalated_at is not None and row.handoff.first_reply_at is None
    ]
