"""The case manager's side of a hand-off: the inbox, the conversation in German, replies in the person's
language, assignment, release, closing, and escalation when the promised answer time passes.

* ``inbox`` — open hand-offs, urgent first, then overdue, then the longest waiting; each with the answer
  promised within ``response_days`` working days (weekends and NRW holidays do not count).
* ``conversation`` — the transcript with a short summary on top; each of the person's messages with a
  German machine translation beside the original when a model is installed (kept with the message,
  flagged when pivoted through English or when glossary terms stayed German, or marked as not
  available). Every read is recorded in the audit trail (``conversation.read``) with who read it and
  why, before anything is shown.
* ``preview`` then ``reply`` — a German reply is machine translated into the person's language (marked
  as such to the person) and back-translated, so the case manager checks the meaning before sending;
  the reply sent is exactly the previewed one (``digest``). A reply written in the person's language is
  sent as it is (and translated to German for the record). The message goes into the outbox; the
  reply and its audit row commit together; ``replies`` shows each reply's delivery state.
* ``assign``, ``release`` (the bot answers again), ``close`` (with an outcome): the person is told in
  their language what happens next; each is an audit row.
* ``escalate_due`` — a hand-off nobody answered within the promised time is marked escalated (listed
  for the administrators) and the person gets one honest message that it takes longer, with the
  emergency numbers.

The command line (``lotse handoff …``) and the staff console use the same ``HandoffDesk``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from rendering.messages import OutMessage
from rendering.renderer import Renderer
from services.audit import SYSTEM, Actor, Audit
from services.outbox import Outbox
from storage import handoff as rows
from storage import snippets as snippet_rows
from storage.calendar import add_working_days
from storage.db import session_scope, utcnow
from storage.handoff import STAFF_REPLY
from storage.models import HandoffRequest, InboundMessage, OutboundMessage, OutboxStatus, Person
from storage.vocabulary import MASTER_LANGUAGE
from translations.engine import TranslationUnavailable, Translator, results_of, route_of

logger = logging.getLogger(__name__)

# How a hand-off can end (the console offers these; "released" is a hand-back to the bot).
OUTCOMES = ("answered", "appointment", "referred", "no_reply", "other")
# Why a case manager opens a conversation (the audit trail's reasons a person may choose).
READ_REASONS = ("answer_request", "quality_check", "person_request", "legal_obligation", "incident")


class HandoffNotOpen(LookupError):
    pass


class PreviewChanged(ValueError):
    """The translation differs from the previewed one (a model or glossary changed): preview again."""


@dataclass(frozen=True)
class German:
    """The German machine translation of a person's message, or why there is none."""

    text: str | None
    route: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()  # glossary terms kept in German

    @property
    def available(self) -> bool:
        return self.text is not None

    @property
    def pivot(self) -> str | None:
        return self.route[1] if len(self.route) > 2 else None

    def flags(self) -> dict[str, Any]:
        return {"route": ">".join(self.route), "terms": list(self.terms)}

    @classmethod
    def stored(cls, text: str, flags: dict[str, Any]) -> German:
        route = tuple(str(flags.get("route") or "").split(">")) if flags.get("route") else ()
        return cls(text, route, tuple(str(t) for t in flags.get("terms") or ()))


@dataclass(frozen=True)
class Line:
    at: datetime
    speaker: str  # person | bot | staff
    text: str
    german: str | None  # machine translation of the person's message, when there is one
    translation: German | None = None  # the person's messages only
    button: bool = False  # a button press, not typed text
    status: str | None = None  # bot and staff messages: queued, sending, sent, failed, unknown
    failure: str | None = None


@dataclass(frozen=True)
class Appointment:
    reference: str
    start: datetime
    status: str
    topic: str


@dataclass(frozen=True)
class Summary:
    language: str
    channel: str
    reason: str
    urgent: bool
    since: datetime  # when the person first wrote
    messages: int
    topics: list[str]
    appointments: list[Appointment]


@dataclass(frozen=True)
class Conversation:
    handoff: HandoffRequest
    language: str
    lines: list[Line]
    summary: Summary | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class InboxItem:
    id: int
    person: str  # pseudonym
    language: str
    channel: str
    reason: str  # user | fallback | sensitive
    urgent: bool
    topic: str | None
    status: str
    created_at: datetime
    due_at: datetime
    overdue: bool
    escalated: bool
    assigned_to: int | None
    assignee: str | None
    replied: bool
    last_message_at: datetime | None
    unread: int


@dataclass(frozen=True)
class Reply:
    text: str  # what the person gets
    language: str
    translation: str  # "staff" (written in their language), "machine", or "untranslated" (German)
    back_translation: str | None
    body: str = ""  # the translated text without the note
    route: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    digest: str = ""
    outbox_id: int | None = None


@dataclass(frozen=True)
class ReplyState:
    id: int
    at: datetime
    text: str
    status: str
    failure: str | None
    delivered_at: datetime | None
    translation: str


@dataclass(frozen=True)
class Note:
    at: datetime
    author: str
    text: str


@dataclass(frozen=True)
class Snippet:
    key: str
    title: str
    text: str


@dataclass
class EscalationReport:
    escalated: list[int] = field(default_factory=list)


def _digest(language: str, translation: str, body: str) -> str:
    return hashlib.sha256(f"{language}\x00{translation}\x00{body}".encode()).hexdigest()[:20]


class HandoffDesk:
    """Read a handed-off conversation, answer the person in their language, give it back to the bot."""

    def __init__(
        self,
        engine: Engine,
        translator: Translator,
        renderer: Renderer,
        outbox: Outbox,
        audit: Audit,
        *,
        response_days: int = 2,
    ) -> None:
        self.engine = engine
        self.translator = translator
        self.renderer = renderer
        self.outbox = outbox
        self.audit = audit
        self.response_days = response_days

    # --- the inbox --------------------------------------------------------------------------------

    def due_at(self, handoff: HandoffRequest) -> datetime:
        return add_working_days(handoff.created_at, self.response_days)

    def open_list(self) -> list[HandoffRequest]:
        """Open and claimed hand-offs, oldest first."""
        with session_scope(self.engine) as s:
            return list(rows.open_handoffs(session=s))

    def inbox(self, *, now: datetime | None = None) -> list[InboxItem]:
        """Open hand-offs: urgent first, then overdue, then the longest waiting."""
        now = now or utcnow()
        with session_scope(self.engine) as s:
            found = rows.inbox_rows(session=s)
        items = [self._item(r, now) for r in found]
        items.sort(key=lambda i: (not i.urgent, not i.overdue, i.created_at))
        return items

    def escalations(self, *, now: datetime | None = None) -> list[InboxItem]:
        """Hand-offs escalated because nobody answered in time (for the administrators)."""
        now = now or utcnow()
        with session_scope(self.engine) as s:
            return [self._item(r, now) for r in rows.escalated(session=s)]

    def _item(self, r: rows.InboxRow, now: datetime) -> InboxItem:
        h, p = r.handoff, r.person
        assert h.id is not None
        due = self.due_at(h)
        return InboxItem(
            id=h.id,
            person=p.id,
            language=p.language or MASTER_LANGUAGE,
            channel=p.channel,
            reason=h.reason,
            urgent=h.urgent,
            topic=h.topic,
            status=h.status,
            created_at=h.created_at,
            due_at=due,
            overdue=h.first_reply_at is None and due < now,
            escalated=h.escalated_at is not None,
            assigned_to=h.assigned_to,
            assignee=r.assignee,
            replied=h.first_reply_at is not None,
            last_message_at=r.last_message_at,
            unread=r.unread,
        )

    # --- reading ----------------------------------------------------------------------------------

    def _load(self, handoff_id: int) -> tuple[HandoffRequest, Person]:
        with session_scope(self.engine) as s:
            req = rows.get_open(session=s, handoff_id=handoff_id)
            found = rows.person_of(session=s, handoff_id=handoff_id) if req is not None else None
            if req is None or found is None:
                raise HandoffNotOpen(f"hand-off {handoff_id} is not open")
            person = found[1]
            s.expunge(req)
            s.expunge(person)
            return req, person

    def is_open(self, handoff_id: int) -> bool:
        with session_scope(self.engine) as s:
            return rows.get_open(session=s, handoff_id=handoff_id) is not None

    def conversation(
        self,
        handoff_id: int,
        *,
        staff: str,
        reason: str = "answer_request",
        actor: Actor | None = None,
        limit: int = 80,
        record: bool = True,
    ) -> Conversation:
        """The conversation of an open hand-off, the person's messages also in German where possible.

        The read is recorded first (``actor``, default the staff member, and ``reason``): if it cannot
        be recorded, nothing is shown. ``record=False`` is for a page that re-reads a conversation
        already opened (and recorded) in the same console session.
        """
        req, person = self._load(handoff_id)
        language = person.language or MASTER_LANGUAGE
        if record:
            self.audit.record(
                actor or Actor.staff(staff),
                "conversation.read",
                person=person.id,
                target=f"handoff:{handoff_id}",
                reason=reason,
                details={"limit": limit},
            )
        with session_scope(self.engine) as s:
            items = rows.conversation_rows(session=s, person_id=person.id, limit=limit)
            summary = self._summary(s, req, person)
            for item in items:
                s.expunge(item)
        germans = self._germans([m for m in items if isinstance(m, InboundMessage)], language)
        lines = []
        for item in items:
            if isinstance(item, InboundMessage):
                g = germans.get(item.id or 0)
                text = item.text if item.text is not None else (item.payload or "")
                lines.append(
                    Line(
                        item.received_at,
                        "person",
                        text,
                        g.text if g else None,
                        g,
                        button=item.text is None,
                    )
                )
            else:
                staff_reply = item.meta.get("response") == STAFF_REPLY
                failed = item.status == OutboxStatus.FAILED
                lines.append(
                    Line(
                        item.created_at,
                        "staff" if staff_reply else "bot",
                        item.text + (f"  [not delivered: {item.failure}]" if failed else ""),
                        None,
                        status=item.status,
                        failure=item.failure,
                    )
                )
        return Conversation(req, language, lines, summary, self.due_at(req))

    def _summary(self, s: Session, req: HandoffRequest, person: Person) -> Summary:
        appointments = [
            Appointment(a.reference, a.start, a.status, a.topic)
            for a in rows.appointments_of(session=s, person_id=person.id)
        ]
        return Summary(
            language=person.language or MASTER_LANGUAGE,
            channel=person.channel,
            reason=req.reason,
            urgent=req.urgent,
            since=person.created_at,
            messages=rows.message_counts(session=s, person_id=person.id),
            topics=rows.topics_asked(session=s, person_id=person.id),
            appointments=appointments,
        )

    def _terms(self, text: str) -> tuple[str, ...]:
        store = getattr(self.translator, "glossary", None)
        current = getattr(store, "current", None)
        if not callable(current):
            return ()
        found = [term for _, _, term in current().find(text)]
        return tuple(dict.fromkeys(found))

    def _germans(self, messages: list[InboundMessage], language: str) -> dict[int, German]:
        """German for each typed message: kept from an earlier read, else translated now and kept."""
        out: dict[int, German] = {}
        todo: list[InboundMessage] = []
        for m in messages:
            if m.id is None or m.text is None:
                continue
            if m.german is not None:
                out[m.id] = German.stored(m.german, m.german_flags or {})
            elif language == MASTER_LANGUAGE:
                out[m.id] = German(m.text, (MASTER_LANGUAGE,))
            else:
                todo.append(m)
        if not todo:
            return out
        engine = self.translator.without_memory()  # a person's own words never enter the memory
        if not engine.supports(language, MASTER_LANGUAGE):
            for m in todo:
                out[m.id or 0] = German(None)
            return out
        try:
            results = results_of(engine, [m.text or "" for m in todo], language, MASTER_LANGUAGE)
        except TranslationUnavailable:
            for m in todo:
                out[m.id or 0] = German(None)
            return out
        with session_scope(self.engine) as s:
            for m, r in zip(todo, results, strict=True):
                g = German(r.text, r.route, self._terms(m.text or ""))
                out[m.id or 0] = g
                rows.store_german(session=s, message_id=m.id or 0, german=r.text, flags=g.flags())
        return out

    # --- replying ---------------------------------------------------------------------------------

    def _translate(self, text: str, source: str, target: str) -> tuple[str, tuple[str, ...]] | None:
        if source == target or not text:
            return None
        engine = self.translator.without_memory()  # replies can name people: not in the memory
        if not engine.supports(source, target):
            return None
        try:
            [result] = results_of(engine, [text], source, target)
        except TranslationUnavailable:
            return None
        return result.text, result.route or (route_of(engine, source, target) or ())

    def preview(self, handoff_id: int, *, text: str, written_in: str = MASTER_LANGUAGE) -> Reply:
        """What the person would get, and its back-translation, without sending anything."""
        text = text.strip()
        if not text:
            raise ValueError("empty reply")
        _, person = self._load(handoff_id)
        return self._compose(person, text, written_in)

    def _compose(self, person: Person, text: str, written_in: str) -> Reply:
        language = person.language or MASTER_LANGUAGE
        back: str | None = None
        route: tuple[str, ...] = ()
        if written_in == language:
            body, sent, status = text, text, "staff"
            if language != MASTER_LANGUAGE:  # for the record: what it says, in German
                checked = self._translate(text, language, MASTER_LANGUAGE)
                back = checked[0] if checked else None
        elif (translated := self._translate(text, written_in, language)) is not None:
            body, route = translated
            status = "machine"
            checked = self._translate(body, language, written_in)
            back = checked[0] if checked else None
            note = self.renderer.message("faq_note_machine", language).text
            sent = f"{body}\n\n{note}"
        else:
            # No model for their language: the text as written, with a note they can read.
            note = self.renderer.message("staff_reply_untranslated", language).text
            body, sent = text, f"{text}\n\n{note}"
            status, language = "untranslated", written_in
        return Reply(
            sent,
            language,
            status,
            back,
            body=body,
            route=route,
            terms=self._terms(text) if status == "machine" else (),
            digest=_digest(language, status, sent),
        )

    def reply(
        self,
        handoff_id: int,
        *,
        staff: str,
        text: str,
        written_in: str = MASTER_LANGUAGE,
        actor: Actor | None = None,
        digest: str | None = None,
    ) -> Reply:
        """Send a case manager's reply to the person of an open hand-off, in the person's language.

        With ``digest`` (from ``preview``) the reply is sent only if it is exactly what was previewed.
        The outbox row and the audit row (``actor``, default the staff member) commit together; the
        audit row keeps the language and how it was translated, never the text.
        """
        text = text.strip()
        if not text:
            raise ValueError("empty reply")
        req, person = self._load(handoff_id)
        composed = self._compose(person, text, written_in)
        if digest is not None and digest != composed.digest:
            raise PreviewChanged("the translation changed since the preview")
        meta: dict[str, Any] = {
            "response": STAFF_REPLY,
            "language": composed.language,
            "translation": composed.translation,
            "handoff": req.id,
        }
        now = utcnow()
        with session_scope(self.engine) as s:
            [outbox_id] = self.outbox.enqueue(
                session=s, person=person, messages=[OutMessage(composed.text, [], meta)]
            )
            rows.mark_replied(session=s, handoff_id=handoff_id, at=now)
            self.audit.record(
                actor or Actor.staff(staff),
                "handoff.reply",
                person=person.id,
                target=f"handoff:{handoff_id}",
                details={"language": composed.language, "translation": composed.translation},
                session=s,
            )
        logger.info(
            "hand-off %s: reply queued (%s, %s)", handoff_id, composed.language, composed.translation
        )
        return Reply(
            composed.text,
            composed.language,
            composed.translation,
            composed.back_translation,
            body=composed.body,
            route=composed.route,
            terms=composed.terms,
            digest=composed.digest,
            outbox_id=outbox_id,
        )

    def replies(self, handoff_id: int) -> list[ReplyState]:
        """The case managers' replies in this hand-off with their delivery state, oldest first."""
        with session_scope(self.engine) as s:
            found = rows.person_of(session=s, handoff_id=handoff_id)
            if found is None:
                return []
            return [
                _state(r)
                for r in rows.staff_replies(session=s, handoff_id=handoff_id, person_id=found[1].id)
            ]

    # --- notes and ready-made replies -------------------------------------------------------------

    def notes(self, handoff_id: int) -> list[Note]:
        """The internal notes on a hand-off, oldest first (staff only; never sent to the person)."""
        with session_scope(self.engine) as s:
            return [
                Note(n.created_at, n.author, n.text)
                for n in snippet_rows.notes(session=s, handoff_id=handoff_id)
            ]

    def add_note(self, handoff_id: int, text: str, *, actor: Actor) -> None:
        """Add an internal note (recorded in the audit trail without its text)."""
        text = text.strip()
        if not text:
            raise ValueError("empty note")
        with session_scope(self.engine) as s:
            req = rows.get_open(session=s, handoff_id=handoff_id)
            if req is None:
                raise HandoffNotOpen(f"hand-off {handoff_id} is not open")
            snippet_rows.add_note(
                session=s, handoff_id=handoff_id, person_id=req.person_id, author=actor.name, text=text
            )
            self.audit.record(
                actor,
                "handoff.note",
                person=req.person_id,
                target=f"handoff:{handoff_id}",
                details={"chars": len(text)},
                session=s,
            )

    def snippets(self) -> list[Snippet]:
        """The active ready-made replies, by title."""
        with session_scope(self.engine) as s:
            return [Snippet(r.key, r.title, r.text) for r in snippet_rows.snippets(session=s)]

    def snippet(self, key: str) -> Snippet | None:
        with session_scope(self.engine) as s:
            row = snippet_rows.get_snippet(session=s, key=key)
            return Snippet(row.key, row.title, row.text) if row is not None and row.active else None

    # --- assign, release, close -------------------------------------------------------------------

    def _tell(self, session: Session, person: Person, *keys: str) -> None:
        language = person.language or MASTER_LANGUAGE
        messages = []
        for key in keys:
            r = self.renderer.message(key, language)
            messages.append(OutMessage(r.text, [], {"response": key, "language": r.language}))
        self.outbox.enqueue(session=session, person=person, messages=messages)

    def assign(
        self, handoff_id: int, account_id: int | None, *, actor: Actor, tell: bool = True
    ) -> HandoffRequest:
        """Assign to a case manager (None: to nobody). The first assignment tells the person."""
        with session_scope(self.engine) as s:
            before = rows.get_open(session=s, handoff_id=handoff_id)
            if before is None:
                raise HandoffNotOpen(f"hand-off {handoff_id} is not open")
            first = before.assigned_to is None and account_id is not None
            req = rows.assign(session=s, handoff_id=handoff_id, account_id=account_id)
            assert req is not None
            self.audit.record(
                actor,
                "handoff.assign",
                person=req.person_id,
                target=f"handoff:{handoff_id}",
                details={"account": account_id} if account_id is not None else {"account": "none"},
                session=s,
            )
            if first and tell and req.first_reply_at is None:
                person = s.get(Person, req.person_id)
                if person is not None:
                    self._tell(s, person, "handoff_assigned")
            s.flush()
            s.expunge(req)
            return req

    def release(
        self, handoff_id: int, *, by: str, actor: Actor | None = None, tell: bool = True
    ) -> HandoffRequest | None:
        """Close a hand-off: the bot answers the person again (None if it is not open).

        ``actor`` is who is recorded in the audit trail (default: the staff member ``by``).
        """
        return self._close(handoff_id, "released", by=by, actor=actor, tell=tell)

    def close(
        self,
        handoff_id: int,
        outcome: str,
        *,
        by: str,
        actor: Actor | None = None,
        tell: bool = True,
    ) -> HandoffRequest | None:
        """Close a hand-off with an outcome (``OUTCOMES``); the bot answers the person again."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        return self._close(handoff_id, outcome, by=by, actor=actor, tell=tell)

    def _close(
        self, handoff_id: int, outcome: str, *, by: str, actor: Actor | None, tell: bool
    ) -> HandoffRequest | None:
        with session_scope(self.engine) as s:
            req = rows.close_handoff(session=s, handoff_id=handoff_id, by=by, outcome=outcome)
            if req is None:
                return None
            action = "handoff.release" if outcome == "released" else "handoff.close"
            self.audit.record(
                actor or Actor.staff(by),
                action,
                person=req.person_id,
                target=f"handoff:{handoff_id}",
                details={"outcome": outcome},
                session=s,
            )
            if tell:
                person = s.get(Person, req.person_id)
                if person is not None:
                    key = "handoff_released" if outcome == "released" else "handoff_closed"
                    self._tell(s, person, key)
            s.flush()
            s.expunge(req)
            return req

    # --- escalation -------------------------------------------------------------------------------

    def escalate_due(self, *, now: datetime | None = None) -> EscalationReport:
        """Mark unanswered hand-offs past their promised time; tell each person once, honestly."""
        now = now or utcnow()
        report = EscalationReport()
        with session_scope(self.engine) as s:
            due = [h.id for h in rows.unreplied(session=s) if h.id and self.due_at(h) < now]
        for handoff_id in due:
            with session_scope(self.engine) as s:
                if not rows.mark_escalated(session=s, handoff_id=handoff_id, at=now):
                    continue
                found = rows.person_of(session=s, handoff_id=handoff_id)
                if found is None:
                    continue
                person = found[1]
                self._tell(s, person, "handoff_delayed", "emergency_numbers")
                self.audit.record(
                    SYSTEM,
                    "handoff.escalate",
                    person=person.id,
                    target=f"handoff:{handoff_id}",
                    details={"response_days": self.response_days},
                    session=s,
                )
            report.escalated.append(handoff_id)
            logger.warning(
                "hand-off %s: no answer in %s working days, escalated", handoff_id, self.response_days
            )
        return report


def _state(row: OutboundMessage) -> ReplyState:
    assert row.id is not None
    return ReplyState(
        id=row.id,
        at=row.created_at,
        text=row.text,
        status=row.status,
        failure=row.failure,
        delivered_at=row.delivered_at,
        translation=str(row.meta.get("translation") or ""),
    )
