"""FAQ entries in the content studio: list, create, edit, deactivate, confirm, history, preview, and
versions prepared ahead; and the freshness job.

* Every change is live at once: the actions' FAQ search (``storage.search``) reads the database and
  rebuilds its index when ``content_stamp`` changes, so a new or changed entry answers before any
  retraining.
* Saving a changed German text makes a new version (``FaqEntry.version + 1``); every translation then
  belongs to an older version and is outdated. The renderer shows a reviewed old translation with the
  outdated note, or the German master with its note: never a stale answer as current.
* Concurrent edits: a form carries the entry's ``stamp`` (its ``updated_at``); the save is a
  compare-and-set on it, so a second save based on the same state is refused (``Conflict``) and the
  editor's text stays in the form.
* A version prepared ahead (``FaqPendingVersion``) carries a "valid from" date and its own reviewed
  translations; ``activate_due`` (the freshness job, and every studio page) makes it the live version on
  that date. Until then people get the current version.
* ``freshness``: entries whose review date has passed or is within ``DUE_WITHIN`` are marked
  ``needs_review``; ``confirm`` (an editor checked the facts) clears it and sets new dates.
* Every staff write is an audit row and marks the entry a staff edit (``Origin.STAFF``), so a seed
  reload never overwrites it.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from rendering.messages import OutMessage
from rendering.responses import ResponseBuilder
from services.audit import SYSTEM, Actor, Audit
from storage.calendar import to_local
from storage.db import session_scope, utcnow
from storage.models import Checklist, FaqEntry, Origin, ScopeGroup, TextStatus, Translation
from storage.models_booking import Municipality
from storage.models_studio import FaqPendingVersion, FaqRevision
from storage.vocabulary import MASTER_LANGUAGE, TOPICS
from translations.languages import LANGUAGES

# An entry is listed (and marked ``needs_review``) this long before its review date.
DUE_WITHIN = timedelta(days=14)
# The next review date an editor sets when confirming must lie beyond the due window.
DEFAULT_REVIEW = timedelta(days=182)
MAX_QUESTION = 500
MAX_ANSWER = 30_000
MAX_LINE = 300
STATUSES = ("reviewed", "draft", "machine", "outdated", "missing")
FIELDS = ("question", "answer")
# The languages an entry is translated into (every language the bot speaks but German).
TARGET_LANGUAGES = tuple(code for code in LANGUAGES if code != MASTER_LANGUAGE)
_KEY_CHARS = re.compile(r"[^a-z0-9]+")
_TOKENS = re.compile(r"\s+|[^\s]+")
CONTEXT_WORDS = 12


class EntryNotFound(LookupError):
    pass


class Invalid(ValueError):
    """The form has mistakes: ``errors`` maps a field to a message key (``console.strings_entries``)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Conflict(RuntimeError):
    """Someone saved the entry since the form was opened; nothing was saved."""

    def __init__(self, by: str, at: datetime) -> None:
        super().__init__(f"changed meanwhile by {by}")
        self.by = by
        self.at = at


def today_local() -> date:
    return to_local(utcnow()).date()


def stamp_of(entry: FaqEntry) -> str:
    """What a form carries to detect a save by someone else meanwhile."""
    return entry.updated_at.isoformat()


def text_hash(question: str, answer: str) -> str:
    return hashlib.sha256(f"{question}\x00{answer}".encode()).hexdigest()[:16]


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def _date(value: str | None, name: str, errors: dict[str, str]) -> date | None:
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors[name] = "err_date"
        return None


@dataclass
class EntryForm:
    """What an editor writes; ``parse`` reads it from a submitted form and checks it."""

    question: str = ""
    answer: str = ""
    topic: str = ""
    scope: str = "kreis"
    sources: list[str] = field(default_factory=list)
    legal_basis: str | None = None
    decided_by: list[str] = field(default_factory=list)
    checklist: str | None = None
    keywords: list[str] = field(default_factory=list)
    last_verified: date | None = None
    review_due: date | None = None
    valid_until: date | None = None
    # Only when creating: an English text written by the editor (saved as their reviewed translation).
    en_question: str = ""
    en_answer: str = ""

    @classmethod
    def parse(cls, data: Mapping[str, str]) -> tuple[EntryForm, dict[str, str]]:
        errors: dict[str, str] = {}
        form = cls(
            question=(data.get("question") or "").strip(),
            answer=(data.get("answer") or "").strip().replace("\r\n", "\n"),
            topic=(data.get("topic") or "").strip(),
            scope=(data.get("scope") or "kreis").strip(),
            sources=_lines(data.get("sources") or ""),
            legal_basis=(data.get("legal_basis") or "").strip() or None,
            decided_by=_lines(data.get("decided_by") or ""),
            checklist=(data.get("checklist") or "").strip() or None,
            keywords=[k.strip() for k in (data.get("keywords") or "").split(",") if k.strip()],
            en_question=(data.get("en_question") or "").strip(),
            en_answer=(data.get("en_answer") or "").strip().replace("\r\n", "\n"),
        )
        form.last_verified = _date(data.get("last_verified"), "last_verified", errors)
        form.review_due = _date(data.get("review_due"), "review_due", errors)
        form.valid_until = _date(data.get("valid_until"), "valid_until", errors)
        return form, errors

    def check(self, session: Session, errors: dict[str, str], *, creating: bool) -> None:
        """Add every mistake to ``errors`` (field → message key)."""
        if not self.question:
            errors["question"] = "err_question_missing"
        elif len(self.question) > MAX_QUESTION:
            errors["question"] = "err_question_long"
        if not self.answer:
            errors["answer"] = "err_answer_missing"
        elif len(self.answer) > MAX_ANSWER:
            errors["answer"] = "err_answer_long"
        if self.topic not in TOPICS:
            errors["topic"] = "err_topic"
        if self.scope not in valid_scopes(session):
            errors["scope"] = "err_scope"
        if not self.sources and not self.legal_basis:
            errors["sources"] = "err_sources_missing"
        elif any(len(s) > MAX_LINE for s in self.sources):
            errors["sources"] = "err_line_long"
        if self.legal_basis and len(self.legal_basis) > 200:
            errors["legal_basis"] = "err_line_long"
        if any(len(s) > MAX_LINE for s in self.decided_by):
            errors["decided_by"] = "err_line_long"
        if self.checklist and session.get(Checklist, self.checklist) is None:
            errors["checklist"] = "err_checklist"
        if any(len(k) > 80 for k in self.keywords):
            errors["keywords"] = "err_line_long"
        if self.last_verified is None and "last_verified" not in errors:
            errors["last_verified"] = "err_date_missing"
        if self.last_verified is not None and self.last_verified > today_local():
            errors["last_verified"] = "err_future"
        if creating and bool(self.en_question) != bool(self.en_answer):
            errors["en_answer" if self.en_question else "en_question"] = "err_en_both"
        if len(self.en_question) > MAX_QUESTION or len(self.en_answer) > MAX_ANSWER:
            errors["en_answer"] = "err_answer_long"

    @classmethod
    def of(cls, entry: FaqEntry, question: str, answer: str) -> EntryForm:
        return cls(
            question=question,
            answer=answer,
            topic=entry.topic,
            scope=entry.scope,
            sources=list(entry.sources),
            legal_basis=entry.legal_basis,
            decided_by=list(entry.decided_by),
            checklist=entry.checklist,
            keywords=list(entry.keywords),
            last_verified=entry.last_verified,
            review_due=entry.review_due,
            valid_until=entry.valid_until,
        )


def valid_scopes(session: Session) -> set[str]:
    groups = {g.key for g in session.exec(select(ScopeGroup)).all()}
    towns = {m.slug for m in session.exec(select(Municipality)).all()}
    return {"kreis"} | groups | towns


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class EntryRow:
    """One entry in the list: its German question and its status in each language."""

    key: str
    topic: str
    scope: str
    version: int
    active: bool
    needs_review: bool
    review_due: date | None
    valid_until: date | None
    question: str
    status: dict[str, str]  # language -> reviewed | draft | machine | outdated | missing

    def by_status(self) -> list[tuple[str, list[str]]]:
        """The languages grouped by status, in the order of ``STATUSES`` (empty groups left out)."""
        groups = [(st, [lang for lang, s in self.status.items() if s == st]) for st in STATUSES]
        return [(st, langs) for st, langs in groups if langs]


@dataclass(frozen=True)
class DueEntry:
    key: str
    question: str
    review_due: date | None
    valid_until: date | None
    reasons: tuple[str, ...]  # overdue | soon | needs_review | expired


@dataclass(frozen=True)
class PendingView:
    valid_from: date
    question: str
    answer: str
    translations: dict[str, dict[str, Any]]  # language -> {question, answer, reviewer, current}
    updated_by: str
    stamp: str


@dataclass(frozen=True)
class EntryView:
    entry: FaqEntry
    question: str
    answer: str
    stamp: str
    status: dict[str, str]
    texts: dict[str, dict[str, Translation]]  # language -> field -> row
    pending: PendingView | None


@dataclass(frozen=True)
class Segment:
    kind: str  # same | del | ins | skip
    text: str


@dataclass(frozen=True)
class HistoryStep:
    version: int
    change: str
    by: str
    at: datetime
    question: list[Segment]
    answer: list[Segment]
    text_changed: bool


def word_diff(old: str, new: str) -> list[Segment]:
    """The German text's change word by word (difflib), long unchanged stretches shortened."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    out: list[Segment] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            same = a[i1:i2]
            if len(same) > 4 * CONTEXT_WORDS:
                head, tail = same[: 2 * CONTEXT_WORDS], same[-2 * CONTEXT_WORDS :]
                out += [Segment("same", "".join(head)), Segment("skip", "…")]
                out.append(Segment("same", "".join(tail)))
            else:
                out.append(Segment("same", "".join(same)))
            continue
        if i2 > i1:
            out.append(Segment("del", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(Segment("ins", "".join(b[j1:j2])))
    if out and out[0].kind == "same" and len(out) > 1:
        words = _TOKENS.findall(out[0].text)
        if len(words) > 2 * CONTEXT_WORDS:
            out[0:1] = [Segment("skip", "…"), Segment("same", "".join(words[-2 * CONTEXT_WORDS :]))]
    return out


def _texts(session: Session, keys: list[str]) -> dict[str, dict[str, dict[str, Translation]]]:
    """key -> language -> field -> row, for the FAQ entries ``keys``."""
    out: dict[str, dict[str, dict[str, Translation]]] = {}
    if not keys:
        return out
    rows = session.exec(
        select(Translation).where(Translation.owner_type == "faq", col(Translation.owner_key).in_(keys))
    ).all()
    for row in rows:
        out.setdefault(row.owner_key, {}).setdefault(row.language, {})[row.field] = row
    return out


def status_in(entry: FaqEntry, texts: dict[str, dict[str, Translation]], language: str) -> str:
    """How far the answer in ``language`` can be trusted (outdated when it translates an old version)."""
    row = texts.get(language, {}).get("answer")
    if row is None:
        return "missing"
    if row.source_version < entry.version:
        return "outdated"
    return str(row.status)


def _slug(text: str) -> str:
    ascii_text = (
        unicodedata.normalize("NFKD", text.lower().replace("ß", "ss")).encode("ascii", "ignore").decode()
    )
    return _KEY_CHARS.sub("_", ascii_text).strip("_")[:36].strip("_") or "eintrag"


class EntryStudio:
    """The editors' work on FAQ entries (the console's ``/console/content`` pages)."""

    def __init__(
        self,
        engine: Engine,
        audit: Audit,
        responses: ResponseBuilder,
        today: Callable[[], date] = today_local,
        link_group: Callable[[Session, str, str, str], object] | None = None,
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.responses = responses
        self.today = today
        # The closed loop (``ClosedLoop.link_group(session, group_id, entry_key, by)``): an entry
        # written for a group of unanswered questions is linked to it in the same transaction.
        self.link_group = link_group

    # --- reading ---------------------------------------------------------------------------------

    def choices(self) -> dict[str, list[Choice]]:
        """What the form offers: scopes (the Kreis, groups, towns) and checklists."""
        with session_scope(self.engine) as s:
            groups = s.exec(select(ScopeGroup).order_by(col(ScopeGroup.name))).all()
            towns = s.exec(select(Municipality).order_by(col(Municipality.name))).all()
            checklists = s.exec(select(Checklist).order_by(col(Checklist.key))).all()
            titles = {
                t.owner_key: t.text
                for t in s.exec(
                    select(Translation).where(
                        Translation.owner_type == "checklist",
                        Translation.field == "title",
                        Translation.language == MASTER_LANGUAGE,
                    )
                ).all()
            }
            return {
                "groups": [Choice(g.key, g.name) for g in groups],
                "towns": [Choice(m.slug, m.name) for m in towns],
                "checklists": [Choice(c.key, titles.get(c.key, c.key)) for c in checklists],
            }

    def counts(self) -> dict[str, dict[str, int]]:
        """Per language, how many active entries are reviewed, draft, machine, outdated or missing."""
        with session_scope(self.engine) as s:
            entries = s.exec(select(FaqEntry).where(col(FaqEntry.active))).all()
            texts = _texts(s, [e.key for e in entries])
        out = {lang: dict.fromkeys(STATUSES, 0) for lang in TARGET_LANGUAGES}
        for e in entries:
            for lang in TARGET_LANGUAGES:
                out[lang][status_in(e, texts.get(e.key, {}), lang)] += 1
        return out

    def rows(
        self,
        *,
        query: str = "",
        topic: str | None = None,
        scope: str | None = None,
        language: str | None = None,
        status: str | None = None,
        needs_review: bool = False,
        due: str | None = None,  # "due" (within the window or passed) | "overdue"
        state: str | None = None,  # "active" | "inactive"
    ) -> list[EntryRow]:
        """Entries matching every filter given, by topic and key."""
        today = self.today()
        needle = query.strip().casefold()
        with session_scope(self.engine) as s:
            entries = s.exec(select(FaqEntry).order_by(col(FaqEntry.topic), col(FaqEntry.key))).all()
            texts = _texts(s, [e.key for e in entries])
        out = []
        for e in entries:
            t = texts.get(e.key, {})
            if topic and e.topic != topic:
                continue
            if scope and e.scope != scope:
                continue
            if (state == "active" and not e.active) or (state == "inactive" and e.active):
                continue
            if needs_review and not e.needs_review:
                continue
            if due == "overdue" and not (e.review_due is not None and e.review_due < today):
                continue
            if due == "due" and not (e.review_due is not None and e.review_due <= today + DUE_WITHIN):
                continue
            statuses = {lang: status_in(e, t, lang) for lang in TARGET_LANGUAGES}
            if status and language in statuses and statuses[language] != status:
                continue
            if status and language not in statuses and status not in statuses.values():
                continue
            if needle:
                haystack = [row.text for fields in t.values() for row in fields.values()]
                haystack += [*e.keywords, e.key]
                if not any(needle in h.casefold() for h in haystack):
                    continue
            question = t.get(MASTER_LANGUAGE, {}).get("question")
            out.append(
                EntryRow(
                    key=e.key,
                    topic=e.topic,
                    scope=e.scope,
                    version=e.version,
                    active=e.active,
                    needs_review=e.needs_review,
                    review_due=e.review_due,
                    valid_until=e.valid_until,
                    question=question.text if question is not None else e.key,
                    status=statuses,
                )
            )
        return out

    def due(self) -> list[DueEntry]:
        """Active entries to check: review date passed or near, flagged, or past their valid-until."""
        today = self.today()
        with session_scope(self.engine) as s:
            entries = s.exec(select(FaqEntry).where(col(FaqEntry.active))).all()
            texts = _texts(s, [e.key for e in entries])
        out = []
        for e in entries:
            reasons = []
            if e.review_due is not None and e.review_due < today:
                reasons.append("overdue")
            elif e.review_due is not None and e.review_due <= today + DUE_WITHIN:
                reasons.append("soon")
            if e.valid_until is not None and e.valid_until < today:
                reasons.append("expired")
            if e.needs_review:
                reasons.append("needs_review")
            if not reasons:
                continue
            question = texts.get(e.key, {}).get(MASTER_LANGUAGE, {}).get("question")
            out.append(
                DueEntry(
                    e.key,
                    question.text if question else e.key,
                    e.review_due,
                    e.valid_until,
                    tuple(reasons),
                )
            )
        return sorted(out, key=lambda d: (d.review_due or date.max, d.key))

    def get(self, key: str) -> EntryView:
        with session_scope(self.engine) as s:
            entry = self._entry(s, key)
            texts = _texts(s, [key]).get(key, {})
            pending = s.exec(select(FaqPendingVersion).where(FaqPendingVersion.entry_key == key)).first()
            master = texts.get(MASTER_LANGUAGE, {})
            return EntryView(
                entry=entry,
                question=master["question"].text if "question" in master else "",
                answer=master["answer"].text if "answer" in master else "",
                stamp=stamp_of(entry),
                status={lang: status_in(entry, texts, lang) for lang in TARGET_LANGUAGES},
                texts=texts,
                pending=_pending_view(pending) if pending is not None else None,
            )

    def history(self, key: str) -> list[HistoryStep]:
        """The entry's changes, newest first, each with the change of the German text."""
        with session_scope(self.engine) as s:
            self._entry(s, key)
            revisions = s.exec(
                select(FaqRevision).where(FaqRevision.entry_key == key).order_by(col(FaqRevision.id))
            ).all()
        steps = []
        before: FaqRevision | None = None
        for r in revisions:
            old_q, old_a = (before.question, before.answer) if before else ("", "")
            steps.append(
                HistoryStep(
                    version=r.version,
                    change=r.change,
                    by=r.by,
                    at=r.at,
                    # The first step is the text itself; every later one its change.
                    question=word_diff(old_q, r.question) if before else [Segment("same", r.question)],
                    answer=word_diff(old_a, r.answer) if before else [Segment("same", r.answer)],
                    text_changed=before is None or (old_q, old_a) != (r.question, r.answer),
                )
            )
            before = r
        return steps[::-1]

    def preview(self, key: str, language: str) -> OutMessage | None:
        """The answer exactly as the bot would send it to a person in ``language`` (None if inactive)."""
        with session_scope(self.engine) as s:
            entry = self._entry(s, key)
        if not entry.active or entry.id is None:
            return None
        return self.responses.build("utter_faq_answer", language, {"faq_id": entry.id})

    # --- writing ---------------------------------------------------------------------------------

    def create(self, form: EntryForm, *, by: str, group: str | None = None) -> FaqEntry:
        """A new entry, live at once; an English text given becomes the editor's reviewed translation."""
        with session_scope(self.engine) as s:
            errors: dict[str, str] = {}
            form.check(s, errors, creating=True)
            if errors:
                raise Invalid(errors)
            base = _slug(form.question)
            key, n = base, 1
            while s.exec(select(FaqEntry).where(FaqEntry.key == key)).first() is not None:
                n += 1
                key = f"{base}_{n}"
            assert form.last_verified is not None
            now = utcnow()
            entry = FaqEntry(
                key=key,
                topic=form.topic,
                last_verified=form.last_verified,
                verified_by=by,
                origin=Origin.STAFF,
                updated_at=now,
                updated_by=by,
            )
            _apply_fields(entry, form)
            s.add(entry)
            s.flush()
            self._set_text(s, key, MASTER_LANGUAGE, form.question, form.answer, 1, by, now)
            languages = [MASTER_LANGUAGE]
            if form.en_question and form.en_answer:
                self._set_text(s, key, "en", form.en_question, form.en_answer, 1, by, now)
                languages.append("en")
            s.add(
                FaqRevision(
                    entry_key=key,
                    version=1,
                    change="created",
                    question=form.question,
                    answer=form.answer,
                    by=by,
                    at=now,
                )
            )
            details: dict[str, Any] = {"version": 1, "languages": languages, "topic": form.topic}
            if group:
                details["group"] = group[:64]
                if self.link_group is not None:
                    self.link_group(s, group, key, by)
            self.audit.record(
                Actor.staff(by), "content.create", target=f"faq:{key}", details=details, session=s
            )
            return entry

    def update(self, key: str, form: EntryForm, *, stamp: str, by: str) -> FaqEntry:
        """Save an edit made on the state ``stamp``; a changed German text makes a new version."""
        with session_scope(self.engine) as s:
            entry = self._entry(s, key)
            errors: dict[str, str] = {}
            form.check(s, errors, creating=False)
            if stamp != stamp_of(entry):
                raise Conflict(entry.updated_by, entry.updated_at)
            if errors:
                raise Invalid(errors)
            previous = entry.updated_at
            now = self._claim(s, entry)
            master = _texts(s, [key]).get(key, {}).get(MASTER_LANGUAGE, {})
            old_q = master["question"].text if "question" in master else ""
            old_a = master["answer"].text if "answer" in master else ""
            self._baseline(s, entry, old_q, old_a, previous)
            changed = (old_q, old_a) != (form.question, form.answer)
            if changed:
                entry.version += 1
                self._set_text(
                    s, key, MASTER_LANGUAGE, form.question, form.answer, entry.version, by, now
                )
            before = _fields(entry)
            _apply_fields(entry, form)
            assert form.last_verified is not None
            entry.last_verified, entry.verified_by = form.last_verified, by
            entry.origin, entry.updated_by = Origin.STAFF, by
            s.add(entry)
            s.add(
                FaqRevision(
                    entry_key=key,
                    version=entry.version,
                    change="edited",
                    question=form.question,
                    answer=form.answer,
                    by=by,
                    at=now,
                )
            )
            fields_changed = sorted(k for k, v in _fields(entry).items() if before[k] != v)
            self.audit.record(
                Actor.staff(by),
                "content.edit",
                target=f"faq:{key}",
                details={"version": entry.version, "text_changed": changed, "fields": fields_changed},
                session=s,
            )
            return entry

    def set_active(self, key: str, active: bool, *, stamp: str, by: str) -> FaqEntry:
        """Deactivate (kept for history, no longer answered) or reactivate an entry."""
        with session_scope(self.engine) as s:
            entry = self._entry(s, key)
            if stamp != stamp_of(entry):
                raise Conflict(entry.updated_by, entry.updated_at)
            if entry.active == active:
                return entry
            previous = entry.updated_at
            now = self._claim(s, entry)
            master = _texts(s, [key]).get(key, {}).get(MASTER_LANGUAGE, {})
            q = master["question"].text if "question" in master else ""
            a = master["answer"].text if "answer" in master else ""
            self._baseline(s, entry, q, a, previous)
            entry.active, entry.origin, entry.updated_by = active, Origin.STAFF, by
            s.add(entry)
            change = "reactivated" if active else "deactivated"
            s.add(
                FaqRevision(
                    entry_key=key,
                    version=entry.version,
                    change=change,
                    question=q,
                    answer=a,
                    by=by,
                    at=now,
                )
            )
            action = "content.reactivate" if active else "content.deactivate"
            self.audit.record(Actor.staff(by), action, target=f"faq:{key}", session=s)
            return entry

    def confirm(
        self, key: str, *, stamp: str, by: str, review_due: date, valid_until: date | None
    ) -> FaqEntry:
        """An editor checked the facts: verified today by them, new dates, ``needs_review`` cleared."""
        today = self.today()
        errors: dict[str, str] = {}
        if review_due <= today + DUE_WITHIN:
            errors["review_due"] = "err_review_too_soon"
        if valid_until is not None and valid_until < today:
            errors["valid_until"] = "err_past"
        with session_scope(self.engine) as s:
            entry = self._entry(s, key)
            if stamp != stamp_of(entry):
                raise Conflict(entry.updated_by, entry.updated_at)
            if errors:
                raise Invalid(errors)
            self._claim(s, entry)
            entry.last_verified, entry.verified_by = today, by
            entry.review_due, entry.valid_until, entry.needs_review = review_due, valid_until, False
            entry.origin, entry.updated_by = Origin.STAFF, by
            s.add(entry)
            self.audit.record(
                Actor.staff(by),
                "content.confirm",
                target=f"faq:{key}",
                details={
                    "review_due": review_due.isoformat(),
                    "valid_until": valid_until.isoformat() if valid_until else None,
                },
                session=s,
            )
            return entry

    # --- versions prepared ahead -------------------------------------------------------------------

    def prepare(
        self,
        key: str,
        *,
        valid_from: date | None,
        question: str,
        answer: str,
        stamp: str | None,
        by: str,
    ) -> None:
        """Prepare (or change) the next version of an entry, live from ``valid_from`` (in the future)."""
        question, answer = question.strip(), answer.strip().replace("\r\n", "\n")
        errors: dict[str, str] = {}
        if valid_from is None:
            errors["valid_from"] = "err_date_missing"
        elif valid_from <= self.today():
            errors["valid_from"] = "err_valid_from_future"
        if not question:
            errors["pending_question"] = "err_question_missing"
        elif len(question) > MAX_QUESTION:
            errors["pending_question"] = "err_question_long"
        if not answer:
            errors["pending_answer"] = "err_answer_missing"
        elif len(answer) > MAX_ANSWER:
            errors["pending_answer"] = "err_answer_long"
        with session_scope(self.engine) as s:
            self._entry(s, key)
            row = s.exec(select(FaqPendingVersion).where(FaqPendingVersion.entry_key == key)).first()
            if row is not None and stamp != row.updated_at.isoformat():
                raise Conflict(row.updated_by, row.updated_at)
            if errors:
                raise Invalid(errors)
            assert valid_from is not None
            if row is None:
                row = FaqPendingVersion(
                    entry_key=key,
                    valid_from=valid_from,
                    question=question,
                    answer=answer,
                    created_by=by,
                    updated_by=by,
                )
            row.valid_from, row.question, row.answer = valid_from, question, answer
            row.updated_by, row.updated_at = by, utcnow()
            s.add(row)
            self.audit.record(
                Actor.staff(by),
                "content.schedule",
                target=f"faq:{key}",
                details={"valid_from": valid_from.isoformat()},
                session=s,
            )

    def prepare_translation(
        self, key: str, language: str, *, question: str, answer: str, stamp: str, by: str
    ) -> None:
        """A translation of the prepared version, written and checked by ``by`` (so reviewed)."""
        question, answer = question.strip(), answer.strip().replace("\r\n", "\n")
        errors: dict[str, str] = {}
        if language not in TARGET_LANGUAGES:
            errors["language"] = "err_language"
        if not question or not answer:
            errors[f"pending_{language}"] = "err_en_both"
        elif len(question) > MAX_QUESTION or len(answer) > MAX_ANSWER:
            errors[f"pending_{language}"] = "err_answer_long"
        with session_scope(self.engine) as s:
            row = s.exec(select(FaqPendingVersion).where(FaqPendingVersion.entry_key == key)).first()
            if row is None:
                raise EntryNotFound(key)
            if stamp != row.updated_at.isoformat():
                raise Conflict(row.updated_by, row.updated_at)
            if errors:
                raise Invalid(errors)
            translations = dict(row.translations)
            translations[language] = {
                "question": question,
                "answer": answer,
                "reviewer": by,
                "for": text_hash(row.question, row.answer),
            }
            row.translations = translations  # a new dict: the JSON column sees the change
            row.updated_by, row.updated_at = by, utcnow()
            s.add(row)
            self.audit.record(
                Actor.staff(by),
                "content.schedule",
                target=f"faq:{key}",
                details={"language": language},
                session=s,
            )

    def discard_prepared(self, key: str, *, by: str) -> None:
        with session_scope(self.engine) as s:
            row = s.exec(select(FaqPendingVersion).where(FaqPendingVersion.entry_key == key)).first()
            if row is None:
                return
            s.delete(row)
            self.audit.record(
                Actor.staff(by),
                "content.schedule",
                target=f"faq:{key}",
                details={"discarded": True},
                session=s,
            )

    def activate_due(self, today: date | None = None) -> list[str]:
        """Make every prepared version whose day has come the live one; returns the entries' keys.

        The German text becomes version N+1; translations written for exactly that text become its
        reviewed translations, the others stay as they were (and so are outdated).
        """
        day = today or self.today()
        done = []
        with session_scope(self.engine) as s:
            due = s.exec(
                select(FaqPendingVersion)
                .where(col(FaqPendingVersion.valid_from) <= day)
                .with_for_update(skip_locked=True)
            ).all()
            for row in due:
                entry = s.exec(select(FaqEntry).where(FaqEntry.key == row.entry_key)).first()
                if entry is None:
                    s.delete(row)
                    continue
                previous = entry.updated_at
                now = self._claim(s, entry)
                master = _texts(s, [entry.key]).get(entry.key, {}).get(MASTER_LANGUAGE, {})
                self._baseline(
                    s,
                    entry,
                    master["question"].text if "question" in master else "",
                    master["answer"].text if "answer" in master else "",
                    previous,
                )
                entry.version += 1
                entry.origin, entry.updated_by = Origin.STAFF, row.updated_by
                s.add(entry)
                self._set_text(
                    s,
                    entry.key,
                    MASTER_LANGUAGE,
                    row.question,
                    row.answer,
                    entry.version,
                    row.updated_by,
                    now,
                )
                wanted = text_hash(row.question, row.answer)
                languages = []
                for lang, t in sorted(row.translations.items()):
                    if t.get("for") != wanted or lang not in TARGET_LANGUAGES:
                        continue
                    self._set_text(
                        s,
                        entry.key,
                        lang,
                        t["question"],
                        t["answer"],
                        entry.version,
                        str(t.get("reviewer") or row.updated_by),
                        now,
                    )
                    languages.append(lang)
                s.add(
                    FaqRevision(
                        entry_key=entry.key,
                        version=entry.version,
                        change="activated",
                        question=row.question,
                        answer=row.answer,
                        by="system",
                        at=now,
                    )
                )
                self.audit.record(
                    SYSTEM,
                    "content.activate",
                    target=f"faq:{entry.key}",
                    details={
                        "version": entry.version,
                        "valid_from": row.valid_from.isoformat(),
                        "languages": languages,
                        "prepared_by": row.updated_by,
                    },
                    session=s,
                )
                s.delete(row)
                done.append(entry.key)
        return done

    # --- freshness -----------------------------------------------------------------------------------

    def freshness(self, today: date | None = None) -> list[str]:
        """The daily job: prepared versions whose day has come go live; entries whose review date has
        passed or is within ``DUE_WITHIN`` are marked ``needs_review``. Returns the keys marked."""
        day = today or self.today()
        self.activate_due(day)
        with session_scope(self.engine) as s:
            entries = s.exec(
                select(FaqEntry).where(
                    col(FaqEntry.active),
                    col(FaqEntry.needs_review).is_(False),
                    col(FaqEntry.review_due).is_not(None),
                    col(FaqEntry.review_due) <= day + DUE_WITHIN,
                )
            ).all()
            for e in entries:
                # Not a staff edit: updated_at stays, so an editor's open form is not refused for it.
                e.needs_review = True
                s.add(e)
            return [e.key for e in entries]

    # --- helpers -------------------------------------------------------------------------------------

    @staticmethod
    def _entry(session: Session, key: str) -> FaqEntry:
        entry = session.exec(select(FaqEntry).where(FaqEntry.key == key)).first()
        if entry is None:
            raise EntryNotFound(key)
        return entry

    @staticmethod
    def _claim(session: Session, entry: FaqEntry) -> datetime:
        """Compare-and-set on ``updated_at``: of two saves based on the same state, one wins."""
        now = utcnow()
        result = session.execute(
            update(FaqEntry)
            .where(col(FaqEntry.id) == entry.id, col(FaqEntry.updated_at) == entry.updated_at)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 1) != 1:
            session.rollback()
            fresh = session.exec(select(FaqEntry).where(FaqEntry.key == entry.key)).one()
            raise Conflict(fresh.updated_by, fresh.updated_at)
        entry.updated_at = now
        return now

    @staticmethod
    def _baseline(session: Session, entry: FaqEntry, question: str, answer: str, at: datetime) -> None:
        """An entry from the seed files has no history yet: its text before the first change."""
        known = session.exec(
            select(FaqRevision.id).where(FaqRevision.entry_key == entry.key).limit(1)
        ).first()
        if known is None:
            session.add(
                FaqRevision(
                    entry_key=entry.key,
                    version=entry.version,
                    change="seed",
                    question=question,
                    answer=answer,
                    by=entry.updated_by,
                    at=at,
                )
            )
            session.flush()

    @staticmethod
    def _set_text(
        session: Session,
        key: str,
        language: str,
        question: str,
        answer: str,
        version: int,
        by: str,
        now: datetime,
    ) -> None:
        status = TextStatus.SOURCE if language == MASTER_LANGUAGE else TextStatus.REVIEWED
        existing = _texts(session, [key]).get(key, {}).get(language, {})
        for name, text in (("question", question), ("answer", answer)):
            row = existing.get(name) or Translation(
                owner_type="faq",
                owner_key=key,
                field=name,
                language=language,
                text=text,
                status=status,
            )
            row.text, row.status, row.source_version = text, status, version
            row.reviewer, row.origin, row.updated_at = by, Origin.STAFF, now
            session.add(row)
        session.flush()


def _fields(entry: FaqEntry) -> dict[str, Any]:
    return {
        "topic": entry.topic,
        "scope": entry.scope,
        "sources": list(entry.sources),
        "legal_basis": entry.legal_basis,
        "decided_by": list(entry.decided_by),
        "checklist": entry.checklist,
        "keywords": list(entry.keywords),
        "last_verified": entry.last_verified,
        "review_due": entry.review_due,
        "valid_until": entry.valid_until,
    }


def _apply_fields(entry: FaqEntry, form: EntryForm) -> None:
    entry.topic, entry.scope = form.topic, form.scope
    entry.sources, entry.legal_basis = list(form.sources), form.legal_basis
    entry.decided_by, entry.checklist = list(form.decided_by), form.checklist
    entry.keywords = list(form.keywords)
    if form.last_verified is not None:
        entry.last_verified = form.last_verified
    entry.review_due, entry.valid_until = form.review_due, form.valid_until


def _pending_view(row: FaqPendingVersion) -> PendingView:
    wanted = text_hash(row.question, row.answer)
    return PendingView(
        valid_from=row.valid_from,
        question=row.question,
        answer=row.answer,
        translations={
            lang: {**t, "current": t.get("for") == wanted} for lang, t in row.translations.items()
        },
        updated_by=row.updated_by,
        stamp=row.updated_at.isoformat(),
    )
