"""The editors' texts: translations side by side, bot messages, the glossary, checklists, the export.

Four kinds of content share one workflow:

* ``faq`` — FAQ entries (question and answer; the German master is edited in the entry editor);
* ``message`` — bot messages (one text; ``{placeholders}`` must survive every translation);
* ``checklist`` — documents-to-bring lists (title and one text per item);
* ``glossary`` — German administrative terms (explanation and short gloss per language).

A German master edit makes a new version; every translation of an older version is then outdated
(the person sees a reviewed old translation with a note, or the German text, never a stale text as
current). A translation is saved as ``draft`` or approved as ``reviewed`` for the version the editor
saw (the form carries it): when the master changed meanwhile, or someone else saved the same
translation since the form was opened, nothing is saved (``MasterChanged`` / ``EditConflict``) and the
editor's text stays in the form. Every write is a staff edit (``origin = staff``, never overwritten by a
seed reload) and one audit row, in the same transaction.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.audit import Actor, Audit
from storage import content, editorial
from storage.db import session_scope, utcnow
from storage.models import BotMessage, Checklist, FaqEntry, Origin, ScopeGroup, TextStatus, Translation
from storage.models_booking import Municipality
from storage.models_translation import GlossaryTerm
from storage.vocabulary import MASTER_LANGUAGE
from translations.engine import TranslationUnavailable, Translator, results_of, route_of
from translations.languages import LANGUAGES

KINDS = ("faq", "message", "checklist", "glossary")
MAX_TEXT = 50_000
MAX_GLOSS = 120
MAX_EXPLANATION = 300
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TARGET_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,48}")

# Worst first: what the queue and the lists show as the state of a piece of content in one language.
STATES = ("missing", "outdated", "machine", "draft", "reviewed")


class TextError(ValueError):
    """A save that was refused; the message is German, for the editor."""


class NotFound(TextError):
    pass


class MasterChanged(TextError):
    pass


class EditConflict(TextError):
    pass


class PlaceholderMismatch(TextError):
    pass


class NoModel(TextError):
    pass


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a text."""
    return set(PLACEHOLDER.findall(text))


def check_placeholders(master: str, text: str) -> None:
    """Refuse a text that drops or adds a placeholder of the German master."""
    want, got = placeholders(master), placeholders(text)
    missing, extra = sorted(want - got), sorted(got - want)
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append("es fehlt " + ", ".join("{" + p + "}" for p in missing))
    if extra:
        parts.append("unbekannt ist " + ", ".join("{" + p + "}" for p in extra))
    raise PlaceholderMismatch(
        "Platzhalter stimmen nicht mit dem deutschen Text überein: "
        + "; ".join(parts)
        + ". Platzhalter in geschweiften Klammern setzt der Bot selbst ein; sie müssen genau so "
        "erhalten bleiben."
    )


@dataclass(frozen=True)
class FieldText:
    """One field side by side: the German master and the text in the language."""

    name: str  # question | answer | text | title | item:<key> | explanation | gloss
    master: str
    text: str
    status: str | None  # None: no text in this language yet
    source_version: int | None
    reviewer: str | None
    state: str  # missing | outdated | machine | draft | reviewed (| source for German)
    limit: int = MAX_TEXT


@dataclass(frozen=True)
class TextPair:
    """A piece of content in one language next to its German master (version ``master_version``)."""

    kind: str
    key: str
    language: str
    title: str
    master_version: int
    fields: list[FieldText]
    stamp: str  # changes whenever a text of this language changes: the form carries it
    state: str
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class ContentRow:
    """One line of a list: a piece of content and its state in the chosen language."""

    kind: str
    key: str
    title: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class QueueItem:
    kind: str
    key: str
    title: str
    reason: str  # outdated | machine | draft
    fields: tuple[str, ...]


@dataclass
class Queue:
    language: str
    items: list[QueueItem]
    counts: Counter[str] = field(default_factory=Counter)
    missing: int = 0


@dataclass
class MachineReport:
    translated: int = 0
    kept_human: int = 0
    failed: list[str] = field(default_factory=list)


def _state(status: str | None, source_version: int | None, master_version: int) -> str:
    if status is None:
        return "missing"
    if status == TextStatus.SOURCE:
        return "source"
    if (source_version or 0) < master_version:
        return "outdated"
    return str(status)


def worst(states: Iterable[str]) -> str:
    found = [s for s in states if s in STATES]
    return min(found, key=STATES.index) if found else "reviewed"


def _stamp(master_version: int, parts: Iterable[tuple[str, str, int, str]]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(parts), ensure_ascii=False).encode()).hexdigest()
    return f"{master_version}:{digest[:24]}"


def _target(kind: str, key: str) -> str | None:
    return f"{kind}:{key}" if _TARGET_KEY.fullmatch(key) else None


def valid_language(language: str) -> bool:
    return language in LANGUAGES and language != MASTER_LANGUAGE


# --- the owners of texts ----------------------------------------------------------------------------


def _owner(session: Session, kind: str, key: str, *, lock: bool = False) -> Any:
    """The master row (FaqEntry, BotMessage, Checklist, or the German GlossaryTerm), locked if asked."""
    model: Any
    if kind == "faq":
        query: Any = select(FaqEntry).where(FaqEntry.key == key, col(FaqEntry.active).is_(True))
    elif kind == "message":
        query = select(BotMessage).where(BotMessage.key == key)
    elif kind == "checklist":
        query = select(Checklist).where(Checklist.key == key)
    elif kind == "glossary":
        query = select(GlossaryTerm).where(
            GlossaryTerm.term == key, GlossaryTerm.language == MASTER_LANGUAGE
        )
    else:
        raise NotFound("Diese Art von Inhalt gibt es nicht.")
    if lock:
        query = query.with_for_update()
    model = session.exec(query).first()
    if model is None:
        raise NotFound("Diesen Inhalt gibt es nicht (mehr).")
    return model


def _version(kind: str, owner: Any) -> int:
    return int(owner.source_version if kind == "glossary" else owner.version)


def _fields(kind: str, owner: Any) -> list[str]:
    if kind == "faq":
        return ["question", "answer"]
    if kind == "message":
        return ["text"]
    if kind == "checklist":
        return ["title", *(f"item:{i}" for i in owner.items)]
    return ["explanation", "gloss"]


def _limit(kind: str, name: str) -> int:
    if kind == "glossary":
        return MAX_GLOSS if name == "gloss" else MAX_EXPLANATION
    return MAX_TEXT


def _rows(session: Session, kind: str, key: str) -> dict[tuple[str, str], Translation]:
    """(field, language) → row, for faq/message/checklist."""
    rows = session.exec(
        select(Translation).where(Translation.owner_type == kind, Translation.owner_key == key)
    ).all()
    return {(r.field, r.language): r for r in rows}


def _glossary_rows(session: Session, term: str) -> dict[str, GlossaryTerm]:
    rows = session.exec(select(GlossaryTerm).where(GlossaryTerm.term == term)).all()
    return {r.language: r for r in rows}


def _title(kind: str, key: str, rows: dict[tuple[str, str], Translation]) -> str:
    if kind == "faq":
        row = rows.get(("question", MASTER_LANGUAGE))
    elif kind == "checklist":
        row = rows.get(("title", MASTER_LANGUAGE))
    else:
        row = None
    return row.text if row is not None else key


def _pair(session: Session, kind: str, key: str, language: str) -> TextPair:
    owner = _owner(session, kind, key)
    version = _version(kind, owner)
    names = _fields(kind, owner)
    if kind == "glossary":
        grows = _glossary_rows(session, key)
        master, target = grows.get(MASTER_LANGUAGE), grows.get(language)
        fields = [
            FieldText(
                name=n,
                master=str(getattr(master, n, "") or ""),
                text=str(getattr(target, n, "") or "") if target is not None else "",
                status=target.status if target is not None else None,
                source_version=target.source_version if target is not None else None,
                reviewer=target.reviewer if target is not None else None,
                state=_state(
                    (TextStatus.SOURCE if language == MASTER_LANGUAGE else target.status)
                    if target is not None
                    else None,
                    target.source_version if target is not None else None,
                    version,
                ),
                limit=_limit(kind, n),
            )
            for n in names
        ]
        parts = (
            [(n, target.status, target.source_version, str(getattr(target, n))) for n in names]
            if target is not None
            else []
        )
        return TextPair(
            kind,
            key,
            language,
            key,
            version,
            fields,
            _stamp(version, parts),
            worst(f.state for f in fields),
            target.updated_at if target is not None else None,
            target.updated_by if target is not None else None,
        )
    rows = _rows(session, kind, key)
    fields = []
    parts = []
    latest: Translation | None = None
    for n in names:
        m, t = rows.get((n, MASTER_LANGUAGE)), rows.get((n, language))
        fields.append(
            FieldText(
                name=n,
                master=m.text if m is not None else "",
                text=t.text if t is not None else "",
                status=t.status if t is not None else None,
                source_version=t.source_version if t is not None else None,
                reviewer=t.reviewer if t is not None else None,
                state=_state(
                    t.status if t is not None else None,
                    t.source_version if t is not None else None,
                    version,
                ),
            )
        )
        if t is not None:
            parts.append((n, t.status, t.source_version, t.text))
            if latest is None or t.updated_at > latest.updated_at:
                latest = t
    return TextPair(
        kind,
        key,
        language,
        _title(kind, key, rows),
        version,
        fields,
        _stamp(version, parts),
        worst(f.state for f in fields),
        latest.updated_at if latest is not None else None,
        latest.reviewer if latest is not None else None,
    )


def _content_keys(session: Session, kind: str) -> list[str]:
    if kind == "faq":
        return [e.key for e in content.active_faqs(session=session)]
    if kind == "message":
        return list(session.exec(select(BotMessage.key).order_by(col(BotMessage.key))).all())
    if kind == "checklist":
        return list(session.exec(select(Checklist.key).order_by(col(Checklist.key))).all())
    return sorted(
        set(
            session.exec(select(GlossaryTerm.term).where(GlossaryTerm.language == MASTER_LANGUAGE)).all()
        )
    )


class Texts:
    """The texts workflow over one database (``lotse.runtime`` builds one)."""

    def __init__(self, engine: Engine, translator: Translator, audit: Audit) -> None:
        self.engine = engine
        self.translator = translator
        self.audit = audit

    # --- reading ---------------------------------------------------------------------------------

    def pair(self, kind: str, key: str, language: str) -> TextPair:
        if not valid_language(language):
            raise NotFound("Diese Sprache gibt es nicht.")
        with session_scope(self.engine) as s:
            return _pair(s, kind, key, language)

    def master(self, kind: str, key: str) -> TextPair:
        """The German master alone (its own side by side: master and the same text)."""
        with session_scope(self.engine) as s:
            return _pair(s, kind, key, MASTER_LANGUAGE)

    def listing(self, kind: str, language: str) -> list[ContentRow]:
        """Every piece of content of ``kind`` and its state in ``language``."""
        with session_scope(self.engine) as s:
            out = []
            for key in _content_keys(s, kind):
                p = _pair(s, kind, key, language)
                detail = ""
                if kind == "message":
                    msg = s.get(BotMessage, key)
                    detail = msg.description if msg is not None else ""
                elif kind == "glossary":
                    detail = p.fields[0].master
                out.append(ContentRow(kind, key, p.title, p.state, detail))
            return out

    def machine_available(self, language: str) -> bool:
        """Whether a model translates German into ``language`` (directly or through English)."""
        return (
            valid_language(language) and route_of(self.translator, MASTER_LANGUAGE, language) is not None
        )

    def queue(self, language: str) -> Queue:
        """What to review in one language: outdated first, then machine, then draft."""
        with session_scope(self.engine) as s:
            grouped: dict[tuple[str, str], list[editorial.ReviewItem]] = {}
            for item in editorial.review_queue(session=s, language=language):
                grouped.setdefault((item.owner_type, item.owner_key), []).append(item)
            items = []
            titles = {
                (r.owner_type, r.owner_key): r.text
                for r in s.exec(
                    select(Translation).where(
                        Translation.language == MASTER_LANGUAGE,
                        col(Translation.field).in_(["question", "title"]),
                    )
                ).all()
            }
            for (kind, key), rows in grouped.items():
                reason = min((r.reason for r in rows), key=editorial.REASON_ORDER.__getitem__)
                items.append(
                    QueueItem(
                        kind,
                        key,
                        titles.get((kind, key), key),
                        reason,
                        tuple(sorted(r.field for r in rows)),
                    )
                )
            masters = {
                r.term: r.source_version
                for r in s.exec(
                    select(GlossaryTerm).where(GlossaryTerm.language == MASTER_LANGUAGE)
                ).all()
            }
            for row in s.exec(select(GlossaryTerm).where(GlossaryTerm.language == language)).all():
                if row.term not in masters:
                    continue
                if row.source_version < masters[row.term]:
                    reason = "outdated"
                elif row.status in (TextStatus.MACHINE, TextStatus.DRAFT):
                    reason = str(row.status)
                else:
                    continue
                items.append(QueueItem("glossary", row.term, row.term, reason, ("explanation",)))
            items.sort(key=lambda i: (editorial.REASON_ORDER[i.reason], KINDS.index(i.kind), i.key))
            queue = Queue(language, items, Counter(i.reason for i in items))
            for kind in ("faq", "message", "checklist"):
                for key in _content_keys(s, kind):
                    if _pair(s, kind, key, language).state == "missing":
                        queue.missing += 1
            return queue

    def overview(self) -> dict[str, Counter[str]]:
        """Per language: how many pieces of content are outdated, machine-translated or drafts."""
        with session_scope(self.engine) as s:
            worst_of: dict[tuple[str, str, str], str] = {}
            for item in editorial.review_queue(session=s):
                k = (item.language, item.owner_type, item.owner_key)
                old = worst_of.get(k)
                if old is None or editorial.REASON_ORDER[item.reason] < editorial.REASON_ORDER[old]:
                    worst_of[k] = item.reason
        out: dict[str, Counter[str]] = {lang: Counter() for lang in languages_for_editing()}
        for (lang, _, _), reason in worst_of.items():
            if lang in out:
                out[lang][reason] += 1
        return out

    # --- translations ----------------------------------------------------------------------------

    def save_translation(
        self,
        kind: str,
        key: str,
        language: str,
        texts: dict[str, str],
        *,
        master_version: int,
        stamp: str,
        approve: bool,
        actor: Actor,
    ) -> TextPair:
        """Save the texts of ``language`` as a draft, or approve them as reviewed for
        ``master_version``; refused when the master or the translation changed since the form."""
        if not valid_language(language):
            raise NotFound("Diese Sprache gibt es nicht.")
        with session_scope(self.engine) as s:
            owner = _owner(s, kind, key, lock=True)
            current = _version(kind, owner)
            if current != master_version:
                raise MasterChanged(
                    f"Der deutsche Text wurde inzwischen geändert (jetzt Version {current}, Sie haben "
                    f"Version {master_version} übersetzt). Es wurde nichts gespeichert; Ihr Text steht "
                    "noch im Formular. Bitte vergleichen Sie ihn mit dem neuen deutschen Text."
                )
            before = _pair(s, kind, key, language)
            if before.stamp != stamp:
                raise EditConflict(
                    "Jemand anderes hat diese Übersetzung gespeichert, während Sie sie bearbeitet "
                    "haben. Es wurde nichts gespeichert; Ihr Text steht noch im Formular. Bitte "
                    "vergleichen Sie ihn mit dem gespeicherten Text."
                )
            names = _fields(kind, owner)
            by_name = {f.name: f for f in before.fields}
            clean = {n: (texts.get(n) or "").strip() for n in names}
            for n in names:
                f = by_name[n]
                if not clean[n] and f.master and (approve or f.status is not None):
                    raise TextError(
                        "Bitte füllen Sie alle Felder aus."
                        if approve
                        else "Ein gespeicherter Text kann nicht geleert werden."
                    )
                if len(clean[n]) > _limit(kind, n):
                    raise TextError(
                        f"Der Text ist zu lang (höchstens {_limit(kind, n)} Zeichen erlaubt)."
                    )
                if kind == "message" and clean[n]:
                    check_placeholders(f.master, clean[n])
            if not any(clean.values()):
                raise TextError("Bitte schreiben Sie zuerst eine Übersetzung.")
            who = actor.name
            if kind == "glossary":
                self._store_glossary(s, key, language, clean, current, approve, who)
            else:
                self._store_texts(s, kind, key, language, clean, current, approve, who)
            self.audit.record(
                actor,
                "content.approve" if approve else "content.edit",
                target=_target(kind, key),
                details={
                    "kind": kind,
                    "key": key[:80],
                    "language": language,
                    "version": current,
                    "status": "reviewed" if approve else "draft",
                    "fields": [n for n in names if clean[n]][:20],
                },
                session=s,
            )
            return _pair(s, kind, key, language)

    @staticmethod
    def _store_texts(
        s: Session,
        kind: str,
        key: str,
        language: str,
        clean: dict[str, str],
        version: int,
        approve: bool,
        who: str,
    ) -> None:
        rows = _rows(s, kind, key)
        for name, text in clean.items():
            if not text:
                continue
            row = rows.get((name, language))
            if row is None:
                row = Translation(
                    owner_type=kind,
                    owner_key=key,
                    field=name,
                    language=language,
                    text=text,
                    status=TextStatus.DRAFT,
                    source_version=version,
                )
            row.text = text
            row.status = TextStatus.DRAFT
            row.source_version = version
            row.reviewer = None
            row.origin = Origin.STAFF
            row.updated_at = utcnow()
            s.add(row)
            s.flush()
            if approve:
                assert row.id is not None
                try:
                    editorial.approve_translation(
                        session=s, translation_id=row.id, reviewer=who, master_version=version
                    )
                except editorial.MasterChanged as exc:  # the same rule as ``lotse content approve``
                    raise MasterChanged(str(exc)) from exc

    @staticmethod
    def _store_glossary(
        s: Session,
        term: str,
        language: str,
        clean: dict[str, str],
        version: int,
        approve: bool,
        who: str,
    ) -> None:
        row = _glossary_rows(s, term).get(language)
        if row is None:
            row = GlossaryTerm(term=term, language=language)
        if clean.get("explanation"):
            row.explanation = clean["explanation"]
        if clean.get("gloss"):
            row.gloss = clean["gloss"]
        row.status = TextStatus.REVIEWED if approve else TextStatus.DRAFT
        row.reviewer = who if approve else None
        row.source_version = version
        row.origin = Origin.STAFF
        row.updated_by = who[:64]
        row.updated_at = utcnow()
        s.add(row)
        s.flush()

    # --- German masters (bot messages, checklists, glossary; FAQ entries have their own editor) ---

    def save_master(
        self, kind: str, key: str, texts: dict[str, str], *, master_version: int, actor: Actor
    ) -> TextPair:
        """Change the German master: a new version; every translation of the old one is outdated."""
        if kind == "faq":
            raise NotFound("FAQ-Einträge werden im Eintrags-Editor bearbeitet.")
        with session_scope(self.engine) as s:
            owner = _owner(s, kind, key, lock=True)
            current = _version(kind, owner)
            if current != master_version:
                raise EditConflict(
                    "Jemand anderes hat diesen deutschen Text gespeichert, während Sie ihn bearbeitet "
                    "haben. Es wurde nichts gespeichert; Ihr Text steht noch im Formular. Bitte "
                    "vergleichen Sie ihn mit dem gespeicherten Text."
                )
            before = _pair(s, kind, key, MASTER_LANGUAGE)
            names = _fields(kind, owner)
            clean = {n: (texts.get(n) or "").strip() for n in names}
            old = {f.name: f.master for f in before.fields}
            for n in names:
                if not clean[n] and not (kind == "glossary" and n == "gloss"):
                    raise TextError("Bitte füllen Sie alle Felder aus.")
                if len(clean[n]) > _limit(kind, n):
                    raise TextError(
                        f"Der Text ist zu lang (höchstens {_limit(kind, n)} Zeichen erlaubt)."
                    )
                if kind == "message":
                    check_placeholders(old[n], clean[n])
            changed = [n for n in names if clean[n] != old[n]]
            if not changed:
                return before
            new = current + 1
            if kind == "glossary":
                owner.explanation, owner.gloss = clean["explanation"], clean["gloss"]
                owner.source_version = new
                owner.status = TextStatus.SOURCE
                owner.origin = Origin.STAFF
                owner.updated_by = actor.name[:64]
                owner.updated_at = utcnow()
                s.add(owner)
            else:
                rows = _rows(s, kind, key)
                for n in names:
                    row = rows.get((n, MASTER_LANGUAGE)) or Translation(
                        owner_type=kind,
                        owner_key=key,
                        field=n,
                        language=MASTER_LANGUAGE,
                        text=clean[n],
                        status=TextStatus.SOURCE,
                    )
                    row.text, row.status, row.source_version = clean[n], TextStatus.SOURCE, new
                    row.origin, row.reviewer, row.updated_at = Origin.STAFF, actor.name, utcnow()
                    s.add(row)
                owner.version = new
                owner.origin = Origin.STAFF
                owner.updated_at = utcnow()
                s.add(owner)
            s.flush()
            self.audit.record(
                actor,
                "content.edit",
                target=_target(kind, key),
                details={
                    "kind": kind,
                    "key": key[:80],
                    "language": MASTER_LANGUAGE,
                    "version": new,
                    "fields": changed[:20],
                },
                session=s,
            )
            return _pair(s, kind, key, MASTER_LANGUAGE)

    def add_term(self, term: str, explanation: str, gloss: str, *, actor: Actor) -> str:
        """A new glossary term (protected from machine translation at once) with its German note."""
        term = " ".join(term.split())
        if not term or len(term) > 80:
            raise TextError("Bitte geben Sie einen Begriff mit höchstens 80 Zeichen an.")
        if len(explanation.strip()) > MAX_EXPLANATION or len(gloss.strip()) > MAX_GLOSS:
            raise TextError("Die Erklärung ist zu lang.")
        with session_scope(self.engine) as s:
            if s.exec(select(GlossaryTerm).where(GlossaryTerm.term == term)).first() is not None:
                raise TextError(f"Den Begriff „{term}“ gibt es schon.")
            row = GlossaryTerm(
                term=term,
                language=MASTER_LANGUAGE,
                explanation=explanation.strip(),
                gloss=gloss.strip(),
                status=TextStatus.SOURCE,
                origin=Origin.STAFF,
                updated_by=actor.name[:64],
            )
            s.add(row)
            s.flush()
            self.audit.record(
                actor,
                "content.edit",
                target=f"glossary:{row.id}",
                details={"kind": "glossary", "key": term, "language": MASTER_LANGUAGE, "new": True},
                session=s,
            )
        return term

    # --- machine translation ---------------------------------------------------------------------

    def machine_translate(
        self, language: str, *, actor: Actor, kind: str | None = None, key: str | None = None
    ) -> MachineReport:
        """Machine drafts (status ``machine``) of missing and outdated machine texts in ``language``:
        of one piece of content, or of all FAQ entries, bot messages and checklists. Human texts are
        never replaced, not even outdated ones (the person keeps the reviewed old text with a note)."""
        if not self.machine_available(language):
            raise NoModel(
                "Für diese Sprache ist kein Übersetzungsmodell installiert. Bitte übersetzen Sie von "
                "Hand."
            )
        if kind == "glossary":
            raise NoModel("Glossar-Erklärungen werden von Hand geschrieben.")
        report = MachineReport()
        with session_scope(self.engine) as s:
            owners = (
                [(kind, key)]
                if kind is not None and key is not None
                else [(k, x) for k in ("faq", "message", "checklist") for x in _content_keys(s, k)]
            )
            todo: list[tuple[str, str, str, int, str]] = []
            for k, x in owners:
                p = _pair(s, k, x, language)
                for f in p.fields:
                    if not f.master:
                        continue
                    if f.state == "missing" or (f.state == "outdated" and f.status == "machine"):
                        todo.append((k, x, f.name, p.master_version, f.master))
                    elif f.state == "outdated":
                        report.kept_human += 1
        for i in range(0, len(todo), 16):
            chunk = todo[i : i + 16]
            try:
                results = results_of(self.translator, [t[4] for t in chunk], MASTER_LANGUAGE, language)
            except TranslationUnavailable as exc:
                report.failed.append(str(exc))
                continue
            with session_scope(self.engine) as s:
                for (k, x, name, version, _), result in zip(chunk, results, strict=True):
                    content.store_machine_translation(
                        session=s,
                        owner_type=k,
                        owner_key=x,
                        field=name,
                        language=language,
                        text=result.text,
                        source_version=version,
                    )
                report.translated += len(chunk)
        self.audit.record(
            actor,
            "content.machine_translate",
            target=_target(kind, key) if kind is not None and key is not None else None,
            details={
                "language": language,
                "kind": kind or "all",
                "translated": report.translated,
                "kept_human": report.kept_human,
            },
        )
        return report

    # --- export ----------------------------------------------------------------------------------

    def export_names(self) -> list[str]:
        """The files an export holds (without building it)."""
        with session_scope(self.engine) as s:
            topics = sorted({e.topic for e in content.active_faqs(session=s)})
        fixed = ["messages.yml", "checklists.yml", "glossary.yml", "scopes.yml", "offices.yml"]
        return [f"faq/{t}.yml" for t in topics] + fixed

    def export_files(self) -> dict[str, str]:
        """The current content in the seed file format (``storage/seed/``): path → YAML text."""
        with session_scope(self.engine) as s:
            return export_files(s)

    def export_zip(self, *, actor: Actor) -> bytes:
        files = self.export_files()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path, text in sorted(files.items()):
                zf.writestr(path, text)
        self.audit.record(actor, "content.export", details={"files": len(files), "bytes": buffer.tell()})
        return buffer.getvalue()


# --- the export in the seed format ------------------------------------------------------------------


def _dump(data: Any, header: str) -> str:
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    day = f"{utcnow():%Y-%m-%d}"
    note = "copy the files into storage/seed/ and run `lotse seed`"
    return f"# {header}\n# Exported from KIM Lotse on {day}; {note}.\n{body}"


def _text_value(row: Translation, master_version: int) -> dict[str, Any]:
    value: dict[str, Any] = {"text": row.text, "status": row.status}
    if row.status != TextStatus.SOURCE and row.source_version < master_version:
        value["outdated"] = True
    return value


def export_files(s: Session) -> dict[str, str]:
    """Every kind of content as the seed loader reads it (statuses and outdated marks included)."""
    texts: dict[tuple[str, str], list[Translation]] = {}
    for row in s.exec(select(Translation).order_by(col(Translation.id))).all():
        texts.setdefault((row.owner_type, row.owner_key), []).append(row)
    files: dict[str, str] = {}

    by_topic: dict[str, list[dict[str, Any]]] = {}
    for e in content.active_faqs(session=s):
        langs: dict[str, dict[str, Any]] = {}
        for row in texts.get(("faq", e.key), []):
            if row.field not in ("question", "answer"):
                continue
            lang = langs.setdefault(row.language, {})
            lang[row.field] = row.text
            lang["status"] = row.status
            if row.status != TextStatus.SOURCE and row.source_version < e.version:
                lang["outdated"] = True
        ordered = dict(sorted(langs.items(), key=lambda kv: (kv[0] != MASTER_LANGUAGE, kv[0])))
        raw: dict[str, Any] = {
            "key": e.key,
            "topic": e.topic,
            "scope": e.scope,
            "sources": list(e.sources),
            "legal_basis": e.legal_basis,
            "keywords": list(e.keywords),
            "checklist": e.checklist,
            "last_verified": e.last_verified,
            "verified_by": e.verified_by,
            "review_due": e.review_due,
            "needs_review": e.needs_review,
            "valid_until": e.valid_until,
            "decided_by": list(e.decided_by),
            "texts": ordered,
        }
        by_topic.setdefault(e.topic, []).append({k: v for k, v in raw.items() if v is not None})
    for topic, entries in sorted(by_topic.items()):
        files[f"faq/{topic}.yml"] = _dump({"entries": entries}, f"FAQ topic: {topic}")

    messages: dict[str, Any] = {}
    for m in s.exec(select(BotMessage).order_by(col(BotMessage.key))).all():
        rows = sorted(
            texts.get(("message", m.key), []),
            key=lambda r: (r.language != MASTER_LANGUAGE, r.language),
        )
        if not any(r.language == MASTER_LANGUAGE for r in rows):
            continue
        messages[m.key] = {
            "description": m.description,
            "texts": {r.language: _text_value(r, m.version) for r in rows if r.field == "text"},
        }
    files["messages.yml"] = _dump({"messages": messages}, "Bot messages (German is the master)")

    checklists = []
    for c in s.exec(select(Checklist).order_by(col(Checklist.key))).all():
        rows = texts.get(("checklist", c.key), [])
        title = {
            r.language: _text_value(r, c.version)
            for r in sorted(rows, key=lambda r: (r.language != MASTER_LANGUAGE, r.language))
            if r.field == "title"
        }
        items = []
        for item in c.items:
            items.append(
                {
                    "key": item,
                    "text": {
                        r.language: _text_value(r, c.version)
                        for r in sorted(rows, key=lambda r: (r.language != MASTER_LANGUAGE, r.language))
                        if r.field == f"item:{item}"
                    },
                }
            )
        checklists.append({"key": c.key, "topic": c.topic, "title": title, "items": items})
    files["checklists.yml"] = _dump({"checklists": checklists}, "Checklists (documents to bring)")

    terms: dict[str, dict[str, GlossaryTerm]] = {}
    for g in s.exec(select(GlossaryTerm).order_by(col(GlossaryTerm.term))).all():
        terms.setdefault(g.term, {})[g.language] = g
    glossary = []
    for term, langs_g in terms.items():
        master = langs_g.get(MASTER_LANGUAGE)
        version = master.source_version if master is not None else 1
        ordered_g = sorted(langs_g.items(), key=lambda kv: (kv[0] != MASTER_LANGUAGE, kv[0]))
        entry: dict[str, Any] = {
            "term": term,
            "explanations": {lang: g.explanation for lang, g in ordered_g if g.explanation},
            "gloss": {lang: g.gloss for lang, g in ordered_g if g.gloss},
            "status": {lang: g.status for lang, g in ordered_g if lang != MASTER_LANGUAGE},
        }
        outdated = [
            lang for lang, g in ordered_g if lang != MASTER_LANGUAGE and g.source_version < version
        ]
        if outdated:
            entry["outdated"] = outdated
        glossary.append(entry)
    files["glossary.yml"] = _dump({"terms": glossary}, "Glossary: German terms that stay German")

    groups = {
        g.key: {"name": g.name, "municipalities": list(g.municipalities)}
        for g in s.exec(select(ScopeGroup).order_by(col(ScopeGroup.key))).all()
    }
    files["scopes.yml"] = _dump({"groups": groups}, "Groups of municipalities entries are scoped to")
    municipalities = [
        {"slug": m.slug, "name": m.name, "local_cm": m.local_cm}
        for m in s.exec(select(Municipality).order_by(col(Municipality.slug))).all()
    ]
    files["offices.yml"] = _dump(
        {"municipalities": municipalities},
        "Municipalities only (the scopes of entries); no offices or opening hours are exported",
    )
    return files


def languages_for_editing() -> Sequence[str]:
    """Every language a translation can be written in (all but the German master)."""
    return [code for code in LANGUAGES if code != MASTER_LANGUAGE]
