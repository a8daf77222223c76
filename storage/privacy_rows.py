"""The rows behind export, erasure and retention (all the SQL of ``services.privacy``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models import (
    Consent,
    ErasureRequest,
    HandoffRequest,
    HandoffStatus,
    InboundMessage,
    OutboundMessage,
    Person,
    SeenUpdate,
    TelegramUpdate,
    UnansweredQuestion,
)
from storage.models_audit import AuditEvent
from storage.models_booking import Appointment, WaitlistEntry, WaitlistStatus
from storage.models_closed_loop import FollowUp, FollowUpOptOut, QuestionGroup, QuestionGroupMember
from storage.models_staff import HandoffNote, LoginFailure, StaffSession
from storage.models_translation import MemoryEntry

ERASED_WITH_PERSON = {
    "messages": InboundMessage,
    "answers": OutboundMessage,
    "handoffs": HandoffRequest,
    "appointments": Appointment,
    "waiting_list": WaitlistEntry,
    "unanswered_questions": UnansweredQuestion,
    "staff_notes": HandoffNote,
    "follow_ups": FollowUp,
    "follow_up_opt_out": FollowUpOptOut,
}


# Who acted, as the person reads it: the kind of account, not a staff member's name.
STAFF_KINDS = {"staff": "staff", "cli": "administrator", "system": "system"}


def _count(session: Session, model: Any, person_id: str) -> int:
    return int(
        session.exec(select(func.count()).select_from(model).where(model.person_id == person_id)).one()
    )


def export_person(*, session: Session, person_id: str) -> dict[str, Any]:
    """The person and everything stored with them, JSON-ready (appointments are added by the caller)."""
    person = session.get(Person, person_id)
    if person is None:
        return {}
    messages = session.exec(
        select(InboundMessage)
        .where(InboundMessage.person_id == person_id)
        .order_by(col(InboundMessage.id))
    ).all()
    answers = session.exec(
        select(OutboundMessage)
        .where(OutboundMessage.person_id == person_id)
        .order_by(col(OutboundMessage.id))
    ).all()
    handoffs = session.exec(
        select(HandoffRequest)
        .where(HandoffRequest.person_id == person_id)
        .order_by(col(HandoffRequest.id))
    ).all()
    data: dict[str, Any] = {
        "person": {
            "pseudonym": person.id,
            "channel": person.channel,
            "language": person.language,
            "consent": person.consent,
            "consent_version": person.consent_version,
            "consent_at": person.consent_at,
            "municipality": person.municipality,
            "paused_for_a_person": person.paused,
            "first_seen": person.created_at,
            "last_seen": person.last_seen_at,
        },
        "messages": [
            {
                "at": m.received_at,
                "text": m.text,
                "button": m.payload,
                "status": m.status,
                "german_translation": m.german,
            }
            for m in messages
        ],
        "answers": [
            {
                "at": a.created_at,
                "text": a.text,
                "buttons": [b.get("title", "") for b in a.buttons],
                "kind": a.meta.get("response"),
                "language": a.meta.get("language"),
                "translation": a.meta.get("translation"),
                "delivery": a.status,
            }
            for a in answers
        ],
        "handoffs": [
            {
                "at": h.created_at,
                "status": h.status,
                "reason": h.reason,
                "urgent": h.urgent,
                "closed_at": h.closed_at,
            }
            for h in handoffs
        ],
        "unanswered_questions": [
            {
                "at": q.created_at,
                "text": q.own_words or q.text,
                "text_for_editors": q.text,
                "language": q.language,
            }
            for q in session.exec(
                select(UnansweredQuestion)
                .where(UnansweredQuestion.person_id == person_id)
                .order_by(col(UnansweredQuestion.id))
            ).all()
        ],
        "follow_ups": _follow_ups(session, person_id),
        "staff_notes": [
            {"at": n.created_at, "text": n.text}
            for n in session.exec(
                select(HandoffNote)
                .where(HandoffNote.person_id == person_id)
                .order_by(col(HandoffNote.id))
            ).all()
        ],
        "staff_access": [
            {
                "at": e.at,
                "action": e.action,
                "by": STAFF_KINDS.get(e.actor_kind, "system"),
                "reason": e.reason,
            }
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.person == person_id).order_by(col(AuditEvent.id))
            ).all()
        ],
    }
    return data


def _follow_ups(session: Session, person_id: str) -> dict[str, Any]:
    """Closed-loop messages: which question was answered later by which entry, and what they said."""
    opt_out = session.get(FollowUpOptOut, person_id)
    rows = session.exec(
        select(FollowUp).where(FollowUp.person_id == person_id).order_by(col(FollowUp.id))
    ).all()
    return {
        "opted_out_at": opt_out.at if opt_out is not None else None,
        "messages": [
            {
                "at": f.created_at,
                "question": _own_words(session, f.question_id),
                "entry": f.entry_key,
                "language": f.language,
                "translation": f.translation,
                "status": f.status,
                "helped": None if f.answer is None else f.answer == "helped",
                "answered_at": f.answered_at,
            }
            for f in rows
        ],
    }


def _own_words(session: Session, question_id: int) -> str:
    q = session.get(UnansweredQuestion, question_id)
    return (q.own_words or q.text) if q is not None else ""


def summary_of(*, session: Session, person_id: str) -> dict[str, Any]:
    """Counts for the readable summary in the chat."""
    person = session.get(Person, person_id)
    if person is None:
        return {}
    return {
        "language": person.language or "",
        "since": person.created_at,
        "consent_at": person.consent_at,
        **{name: _count(session, model, person_id) for name, model in ERASED_WITH_PERSON.items()},
    }


def erase_person(*, session: Session, person_id: str) -> dict[str, int]:
    """Delete a person and, by the foreign keys, all that belongs to them; rows per kind (receipt)."""
    counts = {name: _count(session, model, person_id) for name, model in ERASED_WITH_PERSON.items()}
    person = session.get(Person, person_id)
    counts["person"] = int(person is not None)
    if person is not None:
        session.delete(person)
        session.flush()
    return counts


def open_erasure(*, session: Session, pseudonym: str) -> int:
    """An erasure request row (its receipt follows); only the pseudonym is kept."""
    request = ErasureRequest(pseudonym=pseudonym)
    session.add(request)
    session.flush()
    assert request.id is not None
    return request.id


def record_erasure(
    *, session: Session, request_id: int, receipt: list[dict[str, Any]], complete: bool
) -> None:
    request = session.get(ErasureRequest, request_id)
    if request is None:
        return
    request.receipt = receipt
    request.attempts += 1
    request.status = "done" if complete else "failed"
    request.completed_at = utcnow() if complete else None
    session.add(request)


def incomplete_erasures(*, session: Session) -> list[tuple[int, str, list[dict[str, Any]]]]:
    """Erasures with a store still to erase: (id, pseudonym, receipt)."""
    return [
        (r.id or 0, r.pseudonym, list(r.receipt))
        for r in session.exec(
            select(ErasureRequest)
            .where(ErasureRequest.status != "done")
            .order_by(col(ErasureRequest.id))
        ).all()
    ]


def _deleted(session: Session, statement: Any) -> int:
    return int(getattr(session.exec(statement), "rowcount", 0) or 0)


def purge(*, session: Session, before: datetime, seen_before: datetime) -> dict[str, int]:
    """Everything older than the retention cut-off, per store; running it twice deletes nothing more."""
    return {
        "messages": _deleted(
            session, delete(InboundMessage).where(col(InboundMessage.received_at) < before)
        ),
        "answers": _deleted(
            session, delete(OutboundMessage).where(col(OutboundMessage.created_at) < before)
        ),
        "declined_people": _deleted(
            session,
            delete(Person).where(
                col(Person.consent) == Consent.DECLINED, col(Person.consent_at) < before
            ),
        ),
        "closed_handoffs": _deleted(
            session,
            delete(HandoffRequest).where(
                col(HandoffRequest.status) == HandoffStatus.CLOSED,
                col(HandoffRequest.closed_at) < before,
            ),
        ),
        # Follow-ups first (they go with their questions too); groups keep no personal data, but an
        # empty one is of no use any more.
        "follow_ups": _deleted(session, delete(FollowUp).where(col(FollowUp.created_at) < before)),
        "unanswered_questions": _deleted(
            session, delete(UnansweredQuestion).where(col(UnansweredQuestion.created_at) < before)
        ),
        "empty_question_groups": _purge_empty_groups(session),
        "past_appointments": _deleted(session, delete(Appointment).where(col(Appointment.end) < before)),
        "closed_waiting_list": _deleted(
            session,
            delete(WaitlistEntry).where(
                col(WaitlistEntry.status) != WaitlistStatus.WAITING,
                col(WaitlistEntry.created_at) < before,
            ),
        ),
        "translation_memory": _deleted(
            session, delete(MemoryEntry).where(col(MemoryEntry.created_at) < before)
        ),
        "update_keys": _deleted(
            session, delete(SeenUpdate).where(col(SeenUpdate.seen_at) < seen_before)
        ),
        "webhook_updates": _deleted(
            session, delete(TelegramUpdate).where(col(TelegramUpdate.received_at) < seen_before)
        ),
        "staff_notes": _deleted(
            session, delete(HandoffNote).where(col(HandoffNote.created_at) < before)
        ),
        # Staff data: failed logins (name and address) after the throttling window's day, ended
        # console sessions (address) after the retention period.
        "login_failures": _deleted(
            session, delete(LoginFailure).where(col(LoginFailure.at) < seen_before)
        ),
        "ended_staff_sessions": _deleted(
            session,
            delete(StaffSession).where(
                col(StaffSession.ended_at).is_not(None), col(StaffSession.ended_at) < before
            ),
        ),
        "erasure_receipts": _deleted(
            session,
            delete(ErasureRequest).where(
                col(ErasureRequest.status) == "done", col(ErasureRequest.requested_at) < before
            ),
        ),
    }
    # Reminders go with their appointments (foreign key); nothing else holds a person's data.


def _purge_empty_groups(session: Session) -> int:
    """Groups whose questions are all gone (purged or erased with their people)."""
    used = select(QuestionGroupMember.group_id)
    return _deleted(
        session,
        delete(QuestionGroup).where(col(QuestionGroup.id).not_in(used)),
    )
