"""Idempotent loading of the seed content in ``storage/seed/``.

Rules, so that a reload is always safe:

* new entries, messages and checklists are created;
* an item still in its seeded state is updated when its seed file changed;
* anything a staff member edited (``origin == staff``) is never overwritten;
* when the German master text changes, the version goes up; a translation whose own seed text did not
  change keeps its old ``source_version`` and so shows as outdated until someone updates it;
* a human text from the seed replaces a machine translation.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, select

from storage.db import utcnow
from storage.models import (
    BotMessage,
    Checklist,
    FaqEntry,
    Origin,
    ScopeGroup,
    TextStatus,
    Translation,
)
from storage.vocabulary import MASTER_LANGUAGE, TOPICS

logger = logging.getLogger(__name__)

SEED_DIR = Path(__file__).parent / "seed"


@dataclass
class SeedReport:
    created: int = 0
    updated: int = 0
    kept_staff_edits: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def seed_hash(obj: Any) -> str:
    """A stable digest of one seed item: a reload changes a row only when its item changed."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def reload_skips(row: Any, digest: str, report: SeedReport) -> bool:
    """The reload rule for one seeded row, counted in ``report``; True when the row must be left alone.

    A staff edit is never overwritten and an unchanged item is skipped; otherwise the caller creates the
    row (``row is None``) or updates it.
    """
    if row is not None and row.origin == Origin.STAFF:
        report.kept_staff_edits += 1
        return True
    if row is not None and row.seed_hash == digest:
        report.unchanged += 1
        return True
    if row is None:
        report.created += 1
    else:
        report.updated += 1
    return False


def _default_status(language: str) -> str:
    if language == MASTER_LANGUAGE:
        return TextStatus.SOURCE
    return TextStatus.REVIEWED if language == "en" else TextStatus.DRAFT


TextKey = tuple[str, str, str, str]


def _existing_texts(session: Session) -> dict[TextKey, Translation]:
    """All stored texts, loaded once per seed run instead of one query per text."""
    return {
        (t.owner_type, t.owner_key, t.field, t.language): t
        for t in session.exec(select(Translation)).all()
    }


def _upsert_text(
    session: Session,
    *,
    owner_type: str,
    owner_key: str,
    field_name: str,
    language: str,
    text: str,
    status: str,
    version: int,
    outdated: bool = False,
) -> None:
    existing: dict[TextKey, Translation] = session.info["seed_texts"]
    if outdated and status != TextStatus.SOURCE:
        # An export marks a translation of an older master version: it stays outdated here too.
        version -= 1
    row = existing.get((owner_type, owner_key, field_name, language))
    if row is None:
        existing[(owner_type, owner_key, field_name, language)] = row = Translation(
            owner_type=owner_type,
            owner_key=owner_key,
            field=field_name,
            language=language,
            text=text,
            status=status,
            source_version=version,
            origin=Origin.SEED,
            reviewer="seed" if status == TextStatus.REVIEWED else None,
        )
        session.add(row)
        return
    if row.origin == Origin.STAFF:
        return
    if row.text == text and row.status == status and row.origin == Origin.SEED:
        return  # unchanged in the seed: keep its source_version (it may now be outdated)
    row.text, row.status, row.origin = text, status, Origin.SEED
    row.source_version = version
    row.updated_at = utcnow()
    session.add(row)


def _faq_overlays(seed_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Translations in their own files (``translations/faq.<lang>.yml``), by entry key and language."""
    overlays: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted((seed_dir / "translations").glob("faq.*.yml")):
        lang = path.name.split(".")[1]
        for key, texts in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            if isinstance(texts, dict):
                overlays.setdefault(str(key), {})[lang] = texts
    return overlays


def _load_faq_file(
    session: Session,
    path: Path,
    report: SeedReport,
    overlays: dict[str, dict[str, dict[str, Any]]],
    scopes: set[str],
) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for raw in data.get("entries", []):
        key = raw["key"]
        for lang, texts in overlays.get(key, {}).items():
            raw.setdefault("texts", {}).setdefault(lang, texts)  # a text in the entry file wins
        if raw.get("scope", "kreis") not in scopes:
            report.errors.append(f"{path.name}:{key}: unknown scope {raw.get('scope')!r}")
            continue
        if raw.get("topic") not in TOPICS:
            report.errors.append(f"{path.name}:{key}: unknown topic {raw.get('topic')!r}")
            continue
        texts = raw.get("texts", {})
        master = texts.get(MASTER_LANGUAGE)
        if not master or not master.get("question") or not master.get("answer"):
            report.errors.append(f"{path.name}:{key}: German master text missing")
            continue
        digest = seed_hash(raw)
        entry = session.exec(select(FaqEntry).where(FaqEntry.key == key)).first()
        if reload_skips(entry, digest, report):
            continue
        if entry is None:
            entry = FaqEntry(
                key=key, topic=raw["topic"], last_verified=raw["last_verified"], verified_by=""
            )
        else:
            old_master = session.exec(
                select(Translation).where(
                    Translation.owner_type == "faq",
                    Translation.owner_key == key,
                    Translation.language == MASTER_LANGUAGE,
                    Translation.field == "answer",
                )
            ).first()
            old_q = session.exec(
                select(Translation).where(
                    Translation.owner_type == "faq",
                    Translation.owner_key == key,
                    Translation.language == MASTER_LANGUAGE,
                    Translation.field == "question",
                )
            ).first()
            if (old_master and old_master.text != master["answer"]) or (
                old_q and old_q.text != master["question"]
            ):
                entry.version += 1
        entry.topic = raw["topic"]
        entry.scope = raw.get("scope", "kreis")
        entry.sources = list(raw.get("sources", []))
        entry.legal_basis = raw.get("legal_basis")
        entry.keywords = [str(k) for k in raw.get("keywords", [])]
        entry.checklist = raw.get("checklist")
        entry.last_verified = raw["last_verified"]
        entry.verified_by = raw.get("verified_by", "seed")
        entry.review_due = raw.get("review_due")
        entry.needs_review = bool(raw.get("needs_review", False))
        entry.valid_until = raw.get("valid_until")
        entry.decided_by = [str(a) for a in raw.get("decided_by") or []]
        entry.seed_hash = digest
        entry.updated_at = utcnow()
        session.add(entry)
        session.flush()
        for lang, t in texts.items():
            status = t.get("status") or _default_status(lang)
            if lang == MASTER_LANGUAGE:
                status = TextStatus.SOURCE
            for fname in ("question", "answer"):
                if t.get(fname):
                    _upsert_text(
                        session,
                        owner_type="faq",
                        owner_key=key,
                        field_name=fname,
                        language=lang,
                        text=str(t[fname]).strip(),
                        status=status,
                        version=entry.version,
                        outdated=bool(t.get("outdated")),
                    )


def _read_messages(path: Path) -> dict[str, Any]:
    """``messages.yml`` (German, English) merged with one ``messages.<lang>.yml`` per language."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    messages: dict[str, Any] = data.get("messages") or {}
    for extra in sorted(path.parent.glob("messages.*.yml")):
        lang = extra.name.split(".")[1]
        for key, text in (yaml.safe_load(extra.read_text(encoding="utf-8")) or {}).items():
            if key in messages:
                messages[key].setdefault("texts", {})[lang] = text
    return messages


def _load_messages(session: Session, path: Path, report: SeedReport) -> None:
    for key, raw in _read_messages(path).items():
        texts: dict[str, Any] = raw.get("texts", {})
        if MASTER_LANGUAGE not in texts:
            report.errors.append(f"messages:{key}: German text missing")
            continue
        digest = seed_hash(raw)
        msg = session.get(BotMessage, key)
        if reload_skips(msg, digest, report):
            continue
        if msg is None:
            msg = BotMessage(key=key)
        else:
            old = session.exec(
                select(Translation).where(
                    Translation.owner_type == "message",
                    Translation.owner_key == key,
                    Translation.language == MASTER_LANGUAGE,
                )
            ).first()
            if old is not None and old.text != _text_of(texts[MASTER_LANGUAGE]):
                msg.version += 1
        msg.description = str(raw.get("description", ""))[:300]
        msg.seed_hash = digest
        msg.updated_at = utcnow()
        session.add(msg)
        session.flush()
        for lang, value in texts.items():
            status = (
                TextStatus.SOURCE
                if lang == MASTER_LANGUAGE
                else (
                    value.get("status")
                    if isinstance(value, dict) and value.get("status")
                    else _default_status(lang)
                )
            )
            _upsert_text(
                session,
                owner_type="message",
                owner_key=key,
                field_name="text",
                language=lang,
                text=_text_of(value),
                status=str(status),
                version=msg.version,
                outdated=isinstance(value, dict) and bool(value.get("outdated")),
            )


def _status_of(language: str, value: Any) -> str:
    """A checklist text is a string, or (as the console exports it) a dict with text and status."""
    if language == MASTER_LANGUAGE:
        return TextStatus.SOURCE
    if isinstance(value, dict) and value.get("status"):
        return str(value["status"])
    return _default_status(language)


def _text_of(value: Any) -> str:
    return str(value["text"] if isinstance(value, dict) else value).strip()


def _load_checklists(session: Session, path: Path, report: SeedReport) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for raw in data.get("checklists", []):
        key = raw["key"]
        digest = seed_hash(raw)
        cl = session.get(Checklist, key)
        if reload_skips(cl, digest, report):
            continue
        if cl is None:
            cl = Checklist(key=key, topic=raw["topic"])
        else:
            cl.version += 1
        cl.topic = raw["topic"]
        cl.items = [i["key"] for i in raw.get("items", [])]
        cl.seed_hash = digest
        cl.updated_at = utcnow()
        session.add(cl)
        session.flush()
        for lang, text in (raw.get("title") or {}).items():
            _upsert_text(
                session,
                owner_type="checklist",
                owner_key=key,
                field_name="title",
                language=lang,
                text=_text_of(text),
                status=_status_of(lang, text),
                version=cl.version,
                outdated=isinstance(text, dict) and bool(text.get("outdated")),
            )
        for item in raw.get("items", []):
            for lang, text in (item.get("text") or {}).items():
                _upsert_text(
                    session,
                    owner_type="checklist",
                    owner_key=key,
                    field_name=f"item:{item['key']}",
                    language=lang,
                    text=_text_of(text),
                    status=_status_of(lang, text),
                    version=cl.version,
                    outdated=isinstance(text, dict) and bool(text.get("outdated")),
                )


def _load_scopes(session: Session, seed_dir: Path, report: SeedReport) -> set[str]:
    """Scope groups (``scopes.yml``); returns every valid scope: kreis, municipalities, groups."""
    valid = {"kreis"}
    offices = seed_dir / "offices.yml"
    if offices.exists():
        data = yaml.safe_load(offices.read_text(encoding="utf-8")) or {}
        valid |= {str(m["slug"]) for m in data.get("municipalities") or []}
    path = seed_dir / "scopes.yml"
    groups = (
        (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("groups") if path.exists() else {}
    )
    for key, raw in (groups or {}).items():
        members = [str(m) for m in raw.get("municipalities") or []]
        unknown = [m for m in members if m not in valid]
        if unknown:
            report.errors.append(f"scopes.yml:{key}: unknown municipalities {unknown}")
        digest = seed_hash(raw)
        row = session.get(ScopeGroup, key)
        valid.add(str(key))
        if reload_skips(row, digest, report):
            continue
        row = row or ScopeGroup(key=str(key), name=str(raw.get("name") or key))
        row.name, row.municipalities, row.seed_hash = str(raw.get("name") or key), members, digest
        row.updated_at = utcnow()
        session.add(row)
    session.flush()
    return valid


def load_seed(session: Session, seed_dir: Path = SEED_DIR) -> SeedReport:
    """Load every seed file; safe to run any number of times."""
    report = SeedReport()
    session.info["seed_texts"] = _existing_texts(session)
    scopes = _load_scopes(session, seed_dir, report)
    overlays = _faq_overlays(seed_dir)
    for path in sorted((seed_dir / "faq").glob("*.yml")):
        _load_faq_file(session, path, report, overlays, scopes)
    if (seed_dir / "messages.yml").exists():
        _load_messages(session, seed_dir / "messages.yml", report)
    if (seed_dir / "checklists.yml").exists():
        _load_checklists(session, seed_dir / "checklists.yml", report)
    session.info.pop("seed_texts", None)
    for err in report.errors:
        logger.error("seed: %s", err)
    return report
