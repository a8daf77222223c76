"""The closed loop: unanswered questions → grouped for the editors → linked to an entry → the people who
asked are told, once, in their language, and can say whether it helped.

* **Grouping.** Every question nobody could answer (stored anonymised by the fallback action) joins the
  most similar existing group, or starts a new one: cosine similarity of the FAQ search's features
  (word unigrams and character 3/4-grams, TF-IDF over all stored questions) against every member, at
  least ``GROUP_THRESHOLD``. A question is assigned once and stays, so a group keeps its id; the order
  is the questions' ids, so the result is deterministic.
* **Decisions.** An editor links a group to the entry that answers it (``link_group``), dismisses it
  with a reason ("not our task") or reopens it. Each decision is an audit row.
* **Follow-ups.** For a linked group whose entry is active, everyone who asked one of its questions,
  still has consent, has not opted out and is not in a hand-off right now gets one message: their own
  question, the answer as the bot renders that entry, and buttons "Did this help? Yes / No" and "No more
  such messages". The text is the reviewed translation of the entry's current version in the person's
  language, or else the German master with the note the bot uses (never an unreviewed draft or machine
  text in a message the person did not ask for right now). The ``FollowUp`` row (unique per person and
  question) is written in the same transaction as the outbox message: two processes never send twice,
  and an erased person's rows are gone with them.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from rendering import payloads
from rendering.messages import Button, OutMessage
from rendering.renderer import Rendered, Renderer
from rendering.responses import ResponseBuilder
from services.audit import Actor, Audit
from services.outbox import Outbox
from storage import content
from storage.db import session_scope, utcnow
from storage.models import Consent, FaqEntry, Person, TextStatus, UnansweredQuestion
from storage.models_closed_loop import (
    FollowUp,
    FollowUpOptOut,
    FollowUpStatus,
    GroupStatus,
    QuestionGroup,
    QuestionGroupMember,
)
from storage.search import FaqIndex, features
from storage.vocabulary import MASTER_LANGUAGE, TOPICS

logger = logging.getLogger(__name__)

GROUP_THRESHOLD = 0.3
MAX_REASON = 500
SAMPLES = 5


class ClosedLoopError(ValueError):
    """A decision that cannot be made (the code says which, for the console's message)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# --- the editors' view -----------------------------------------------------------------------------


@dataclass
class Feedback:
    sent: int = 0  # people told
    helped: int = 0
    not_helped: int = 0


@dataclass
class GroupView:
    id: int
    status: str
    entry_key: str | None
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    count: int
    languages: list[tuple[str, int]]
    first_asked: datetime
    last_asked: datetime
    samples: list[str]  # anonymised texts, most recent first
    topic: str | None  # the topic Rasa guessed most often (pre-fills a new entry)
    waiting: int  # people who asked and can still be told
    feedback: Feedback = field(default_factory=Feedback)

    @property
    def label(self) -> str:
        return self.samples[0] if self.samples else ""


def _vectors(texts: dict[int, str]) -> dict[int, dict[str, float]]:
    """Normalised TF-IDF vectors of the search's features, IDF over these texts."""
    feats = {qid: features(text) for qid, text in texts.items()}
    df: Counter[str] = Counter()
    for f in feats.values():
        df.update(f.keys())
    n = max(len(feats), 1)
    idf = {f: math.log((1 + n) / (1 + c)) + 1.0 for f, c in df.items()}
    out = {}
    for qid, f in feats.items():
        vec = {k: (1 + math.log(c)) * idf[k] for k, c in f.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        out[qid] = {k: v / norm for k, v in vec.items()}
    return out


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(k, 0.0) for k, w in a.items())


def refresh_groups(*, session: Session, threshold: float = GROUP_THRESHOLD) -> int:
    """Assign every question not yet in a group (oldest first); returns how many were assigned."""
    questions = session.exec(select(UnansweredQuestion).order_by(col(UnansweredQuestion.id))).all()
    members = {m.question_id: m.group_id for m in session.exec(select(QuestionGroupMember)).all()}
    new = [q for q in questions if q.id not in members]
    if not new:
        return 0
    vectors = _vectors({q.id or 0: q.text for q in questions})
    by_group: dict[int, list[int]] = defaultdict(list)
    for qid, gid in members.items():
        by_group[gid].append(qid)
    for q in new:
        qid = q.id or 0
        vec = vectors[qid]
        best: tuple[float, int] | None = None
        for gid in sorted(by_group):
            score = max(_cosine(vec, vectors[m]) for m in by_group[gid] if m in vectors)
            if score >= threshold and (best is None or score > best[0]):
                best = (score, gid)
        if best is None:
            group = QuestionGroup(created_at=q.created_at)
            session.add(group)
            session.flush()
            assert group.id is not None
            gid = group.id
        else:
            gid = best[1]
        session.add(QuestionGroupMember(question_id=qid, group_id=gid))
        by_group[gid].append(qid)
    session.flush()
    return len(new)


def assign_new_questions(engine: Engine) -> int:
    """``refresh_groups`` in its own transaction; when another process (the job, a second editor)
    assigned the same questions at the same moment, theirs stands and this one changes nothing."""
    try:
        with session_scope(engine) as s:
            return refresh_groups(session=s)
    except IntegrityError:
        logger.info("questions were grouped by another process at the same time")
        return 0


def _topic_of(intents: Sequence[str | None]) -> str | None:
    for intent, _ in Counter(i for i in intents if i).most_common():
        topic = intent.removeprefix("ask_")
        if intent.startswith("ask_") and topic in TOPICS:
            return topic
    return None


def feedback_by_group(*, session: Session) -> dict[int, Feedback]:
    out: dict[int, Feedback] = defaultdict(Feedback)
    for fu in session.exec(select(FollowUp)).all():
        _count_into(out[fu.group_id], fu)
    return dict(out)


def feedback_for_entry(*, session: Session, entry_key: str) -> Feedback:
    """How the people told about ``entry_key`` answered "did this help?" (for the entry's page)."""
    out = Feedback()
    for fu in session.exec(select(FollowUp).where(FollowUp.entry_key == entry_key)).all():
        _count_into(out, fu)
    return out


def _count_into(out: Feedback, fu: FollowUp) -> None:
    if fu.status != FollowUpStatus.SENT:
        return
    out.sent += 1
    out.helped += int(fu.answer == "helped")
    out.not_helped += int(fu.answer == "not_helped")


def group_views(*, session: Session, status: str | None = None) -> list[GroupView]:
    """The groups (of ``status``), most asked first, with their anonymised samples and counts."""
    query = select(QuestionGroup)
    if status is not None:
        query = query.where(QuestionGroup.status == status)
    groups = {g.id: g for g in session.exec(query).all()}
    if not groups:
        return []
    rows = session.exec(
        select(QuestionGroupMember, UnansweredQuestion)
        .join(UnansweredQuestion, col(UnansweredQuestion.id) == col(QuestionGroupMember.question_id))
        .where(col(QuestionGroupMember.group_id).in_(list(groups)))
        .order_by(col(UnansweredQuestion.id))
    ).all()
    told = {fu.question_id for fu in session.exec(select(FollowUp)).all()}
    opted = set(session.exec(select(FollowUpOptOut.person_id)).all())
    by_group: dict[int, list[UnansweredQuestion]] = defaultdict(list)
    for member, question in rows:
        by_group[member.group_id].append(question)
    feedback = feedback_by_group(session=session)
    views = []
    for gid, questions in by_group.items():
        g = groups[gid]
        samples: list[str] = []
        for q in reversed(questions):
            if q.text not in samples:
                samples.append(q.text)
        waiting = {
            q.person_id
            for q in questions
            if q.person_id and q.id not in told and q.person_id not in opted
        }
        views.append(
            GroupView(
                id=gid,
                status=g.status,
                entry_key=g.entry_key,
                reason=g.reason,
                decided_by=g.decided_by,
                decided_at=g.decided_at,
                count=len(questions),
                languages=Counter(q.language for q in questions).most_common(),
                first_asked=questions[0].created_at,
                last_asked=questions[-1].created_at,
                samples=samples[:SAMPLES],
                topic=_topic_of([q.intent for q in questions]),
                waiting=len(waiting),
                feedback=feedback.get(gid, Feedback()),
            )
        )
    return sorted(views, key=lambda v: (-v.count, -v.last_asked.timestamp(), v.id))


# --- the follow-up's text ----------------------------------------------------------------------------


class ReviewedOrGerman(Renderer):
    """The bot's renderer, except that an FAQ text is the reviewed translation of the current version
    in the person's language, or else the German master with the note (``faq_note_german``)."""

    def pick(
        self,
        session: Session,
        *,
        owner_type: str,
        owner_key: str,
        field_name: str,
        master_version: int,
        language: str,
    ) -> Rendered:
        if owner_type != "faq" or language == MASTER_LANGUAGE:
            return super().pick(
                session,
                owner_type=owner_type,
                owner_key=owner_key,
                field_name=field_name,
                master_version=master_version,
                language=language,
            )
        versions = content.texts_for(
            session=session,
            owner_type=owner_type,
            owner_key=owner_key,
            field=field_name,
            master_version=master_version,
        )
        row = versions.by_language.get(language)
        if (
            row is not None
            and row.status == TextStatus.REVIEWED
            and row.source_version >= master_version
        ):
            return Rendered(row.text, language, TextStatus.REVIEWED)
        master = versions.by_language.get(MASTER_LANGUAGE)
        return Rendered(
            master.text if master else "", MASTER_LANGUAGE, TextStatus.SOURCE, note_key="faq_note_german"
        )


@dataclass(frozen=True)
class _Draft:
    """A follow-up rendered before it is claimed (rendering may write machine translations of bot
    messages; the claim's transaction stays short and only inserts)."""

    text: str
    meta: dict[str, object]
    titles: tuple[str, str, str]
    translation: str
    language: str


class ClosedLoop:
    """Groups, decisions and follow-ups (``send_due`` runs as the ``content-closed-loop`` job)."""

    def __init__(
        self,
        engine: Engine,
        responses: ResponseBuilder,
        outbox: Outbox,
        audit: Audit,
        index: FaqIndex,
    ) -> None:
        self.engine = engine
        self.responses = responses
        self.outbox = outbox
        self.audit = audit
        self.index = index
        base = responses.renderer
        self.follow_up_builder = ResponseBuilder(
            engine, ReviewedOrGerman(engine, base.translator, base.variables)
        )

    @staticmethod
    def feedback_for_entry(*, session: Session, entry_key: str) -> Feedback:
        """Counts for an entry's page: people told, "helped", "not helped"."""
        return feedback_for_entry(session=session, entry_key=entry_key)

    # --- the editors' decisions ------------------------------------------------------------------

    def _group(self, session: Session, group_id: int) -> QuestionGroup:
        group = session.get(QuestionGroup, group_id)
        if group is None:
            raise ClosedLoopError("question_group_unknown")
        return group

    def link_new_entry(
        self, session: Session, group: str, entry_key: str, by: str
    ) -> QuestionGroup | None:
        """An entry created "from this group" in the studio answers it (in the entry's transaction).

        ``group`` comes from a form field: a value that names no open group (forged, or decided
        meanwhile by another editor) leaves the new entry standing on its own.
        """
        if not group.isdigit():
            return None
        try:
            return self.link_group(session, int(group), entry_key, by)
        except ClosedLoopError:
            return None

    def link_group(self, session: Session, group_id: int, entry_key: str, by: str) -> QuestionGroup:
        """The group is answered by ``entry_key`` (an audit row); its people are told by ``send_due``."""
        group = self._group(session, group_id)
        entry = content.get_faq_by_key(session=session, key=entry_key.strip())
        if entry is None:
            raise ClosedLoopError("question_entry_unknown")
        group.status, group.entry_key, group.reason = GroupStatus.LINKED, entry.key, None
        group.decided_by, group.decided_at = by, utcnow()
        session.add(group)
        self.audit.record(
            Actor.staff(by),
            "question.link",
            target=f"question_group:{group_id}",
            details={"entry": entry.key},
            session=session,
        )
        return group

    def dismiss_group(self, session: Session, group_id: int, reason: str, by: str) -> QuestionGroup:
        """ "Not our task", with the reason (required); nobody is told anything."""
        reason = " ".join(reason.split())[:MAX_REASON]
        if not reason:
            raise ClosedLoopError("question_reason_missing")
        group = self._group(session, group_id)
        group.status, group.entry_key, group.reason = GroupStatus.DISMISSED, None, reason
        group.decided_by, group.decided_at = by, utcnow()
        session.add(group)
        self.audit.record(
            Actor.staff(by),
            "question.dismiss",
            target=f"question_group:{group_id}",
            details={"reason": reason[:200]},
            session=session,
        )
        return group

    def reopen_group(self, session: Session, group_id: int, by: str) -> QuestionGroup:
        group = self._group(session, group_id)
        group.status, group.entry_key, group.reason = GroupStatus.OPEN, None, None
        group.decided_by, group.decided_at = by, utcnow()
        session.add(group)
        self.audit.record(
            Actor.staff(by), "question.reopen", target=f"question_group:{group_id}", session=session
        )
        return group

    def closest_entries(self, text: str, limit: int = 3) -> list[tuple[str, str, float]]:
        """The existing entries most like a group's question: (key, German question, score)."""
        hits = self.index.search(text, limit=limit, min_score=0.05)
        with session_scope(self.engine) as s:
            out = []
            for h in hits:
                rows = content.faq_texts(session=s, keys=[h.key])
                question = next(
                    (r.text for r in rows if r.field == "question" and r.language == MASTER_LANGUAGE),
                    h.key,
                )
                out.append((h.key, question, h.score))
            return out

    # --- follow-ups ------------------------------------------------------------------------------

    def _draft(self, entry: FaqEntry, person: Person, question: str) -> _Draft:
        lang = person.language or MASTER_LANGUAGE
        assert entry.id is not None
        answer = self.follow_up_builder.build("utter_faq_answer", lang, {"faq_id": entry.id})
        r = self.responses.renderer
        intro = r.text("closed_loop_intro", lang, question=question)
        ask = r.text("closed_loop_ask", lang)
        titles = (
            r.text("button_helped_yes", lang),
            r.text("button_helped_no", lang),
            r.text("button_no_follow_ups", lang),
        )
        translation = str(answer.meta.get("translation") or TextStatus.SOURCE)
        meta = {
            **answer.meta,
            "response": "closed_loop",
            "language": lang,
            "answer_language": answer.meta.get("language"),
        }
        return _Draft("\n\n".join([intro, answer.text, ask]), meta, titles, translation, lang)

    def _candidates(self) -> list[tuple[int, str, FaqEntry, list[UnansweredQuestion], bool]]:
        """(group, person, entry, their questions not yet followed up, already told in this group)."""
        assign_new_questions(self.engine)
        with session_scope(self.engine) as s:
            groups = s.exec(
                select(QuestionGroup).where(QuestionGroup.status == GroupStatus.LINKED)
            ).all()
            out = []
            for g in groups:
                assert g.id is not None
                entry = content.get_faq_by_key(session=s, key=g.entry_key or "")
                if entry is None or not entry.active:
                    continue
                questions = s.exec(
                    select(UnansweredQuestion)
                    .join(
                        QuestionGroupMember,
                        col(QuestionGroupMember.question_id) == col(UnansweredQuestion.id),
                    )
                    .where(
                        QuestionGroupMember.group_id == g.id,
                        col(UnansweredQuestion.person_id).is_not(None),
                    )
                    .order_by(col(UnansweredQuestion.id))
                ).all()
                done = s.exec(select(FollowUp).where(FollowUp.group_id == g.id)).all()
                done_questions = {fu.question_id for fu in done}
                told = {fu.person_id for fu in done}
                pending: dict[str, list[UnansweredQuestion]] = defaultdict(list)
                for q in questions:
                    if q.id not in done_questions and q.person_id:
                        pending[q.person_id].append(q)
                for person_id, qs in sorted(pending.items()):
                    already = person_id in told or self._told(s, person_id, g.id, entry.key)
                    out.append((g.id, person_id, entry, qs, already))
            s.expunge_all()
            return out

    @staticmethod
    def _told(session: Session, person_id: str, group_id: int, entry_key: str) -> bool:
        """Whether this person was already told about this group or this entry (one message each)."""
        return (
            session.exec(
                select(FollowUp.id)
                .where(
                    FollowUp.person_id == person_id,
                    FollowUp.status == FollowUpStatus.SENT,
                    (col(FollowUp.group_id) == group_id) | (col(FollowUp.entry_key) == entry_key),
                )
                .limit(1)
            ).first()
            is not None
        )

    @staticmethod
    def _may_tell(session: Session, person_id: str) -> Person | None:
        person = session.get(Person, person_id)
        if person is None or person.consent != Consent.GIVEN or person.paused:
            return None  # erased, no consent (any more), or with a case manager right now: later
        if session.get(FollowUpOptOut, person_id) is not None:
            return None
        return person

    def send_due(self) -> int:
        """Tell everyone who is due (each person once per question); returns how many were told."""
        told = 0
        for group_id, person_id, entry, questions, already in self._candidates():
            with session_scope(self.engine) as s:
                person = self._may_tell(s, person_id)
                if person is not None:
                    s.expunge(person)
            if person is None:
                continue
            latest = questions[-1]
            draft = None if already else self._draft(entry, person, latest.own_words or latest.text)
            try:
                with session_scope(self.engine) as s:
                    if self._may_tell(s, person_id) is None:
                        continue
                    if draft is not None and self._told(s, person_id, group_id, entry.key):
                        draft = None  # told meanwhile (another group answered by the same entry)
                    rows = [
                        FollowUp(
                            person_id=person_id,
                            question_id=q.id or 0,
                            group_id=group_id,
                            entry_key=entry.key,
                            language=draft.language if draft else person.language or MASTER_LANGUAGE,
                            translation=draft.translation if draft else TextStatus.SOURCE,
                            status=FollowUpStatus.SENT
                            if draft is not None and q is latest
                            else FollowUpStatus.COVERED,
                        )
                        for q in questions
                    ]
                    s.add_all(rows)
                    s.flush()  # the claim: a second process's insert waits here, then fails
                    if draft is None:
                        continue
                    claim = rows[-1]
                    assert claim.id is not None
                    yes, no, stop = draft.titles
                    message = OutMessage(
                        draft.text,
                        [
                            Button(yes, payloads.encode(payloads.Helpful(claim.id, True))),
                            Button(no, payloads.encode(payloads.Helpful(claim.id, False))),
                            Button(stop, payloads.encode(payloads.StopFollowUps(claim.id))),
                        ],
                        {**draft.meta, "follow_up": claim.id},
                    )
                    [outbound_id] = self.outbox.enqueue(session=s, person=person, messages=[message])
                    claim.outbound_id = outbound_id
                    s.add(claim)
                    told += 1
            except IntegrityError:
                # Another process claimed it first, or the person was erased meanwhile.
                logger.info("follow-up for group %s already claimed or person gone", group_id)
        if told:
            logger.info("closed loop: %s people told", told)
        return told

    async def run(self) -> int:
        """The scheduler job (and after a link): tell who is due, then push the Telegram messages."""
        told = await asyncio.to_thread(self.send_due)
        if told and self.outbox.push_channels:
            await self.outbox.deliver()
        return told

    # --- the person's buttons --------------------------------------------------------------------

    def _own(self, session: Session, person_id: str, follow_up_id: int) -> FollowUp | None:
        fu = session.get(FollowUp, follow_up_id)
        return fu if fu is not None and fu.person_id == person_id else None

    def answer(self, person_id: str, follow_up_id: int, helped: bool, language: str) -> list[OutMessage]:
        """ "Did this help?" Yes / No: stored (the last answer counts). Empty: not their button."""
        with session_scope(self.engine) as s:
            fu = self._own(s, person_id, follow_up_id)
            if fu is None:
                return []
            fu.answer = "helped" if helped else "not_helped"
            fu.answered_at = utcnow()
            s.add(fu)
        if helped:
            return [self.responses.message("closed_loop_thanks", language)]
        r = self.responses.renderer
        return [
            self.responses.message(
                "closed_loop_not_helped",
                language,
                buttons=[
                    Button(r.text("button_request_human", language), payloads.intent("request_human"))
                ],
            )
        ]

    def opt_out(self, person_id: str, follow_up_id: int, language: str) -> list[OutMessage]:
        """ "No more such messages": kept until the person is erased. Empty: not their button."""
        with session_scope(self.engine) as s:
            if self._own(s, person_id, follow_up_id) is None:
                return []
        try:
            with session_scope(self.engine) as s:
                if s.get(FollowUpOptOut, person_id) is None:
                    s.add(FollowUpOptOut(person_id=person_id))
        except IntegrityError:
            pass  # pressed twice at once: the first one counts
        return [self.responses.message("closed_loop_opted_out", language)]
