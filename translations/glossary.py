"""The glossary: German administrative terms that stay in German, with short explanations.

Staff edit the glossary like the other content (rows of ``GlossaryTerm``, one per term and language);
``storage/seed/glossary.yml`` seeds it, and ``load_glossary`` never overwrites a staff edit. The
translation service reads the current glossary from the database (a staff edit is used within a few
seconds) and falls back to the seed file when the database cannot be read.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from storage.db import session_scope, utcnow
from storage.models_translation import GlossaryTerm

logger = logging.getLogger(__name__)

SEED_FILE = Path(__file__).resolve().parent.parent / "storage" / "seed" / "glossary.yml"
GERMAN = "de"
# German inflection a term may carry in running text: des Aufenthaltstitels, die Jobcenter-n …
_SUFFIX = r"(?:s|es|n|en|e|er)?"


class Glossary:
    """Terms (canonical spelling) and their explanation per language."""

    def __init__(self, explanations: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.explanations: dict[str, dict[str, str]] = {
            term: {lang: text for lang, text in langs.items() if text}
            for term, langs in (explanations or {}).items()
            if term.strip()
        }
        self._canonical = {term.lower(): term for term in self.explanations}
        terms = sorted(self.explanations, key=len, reverse=True)
        self.pattern: re.Pattern[str] | None = (
            re.compile(
                r"(?<!\w)(" + "|".join(re.escape(t) for t in terms) + r")" + _SUFFIX + r"(?!\w)",
                re.IGNORECASE,
            )
            if terms
            else None
        )

    def __len__(self) -> int:
        return len(self.explanations)

    @property
    def terms(self) -> list[str]:
        """All terms, alphabetically."""
        return sorted(self.explanations)

    def explanation(self, term: str, language: str) -> str | None:
        """The explanation of ``term`` in ``language`` (never for German), or None."""
        if language == GERMAN:
            return None
        return self.explanations.get(self.canonical(term), {}).get(language) or None

    def canonical(self, surface: str) -> str:
        """The glossary spelling of a matched term (case-insensitive)."""
        return self._canonical.get(surface.lower(), surface)

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Every term in ``text``: (start, end, canonical term); the end includes an inflection."""
        if self.pattern is None:
            return []
        return [(m.start(), m.end(), self.canonical(m.group(1))) for m in self.pattern.finditer(text)]


def read_glossary_file(path: Path = SEED_FILE) -> Glossary:
    """The glossary as written in a seed file (used when the database cannot be read)."""
    entries = _read_entries(path, [])
    return Glossary({term: {lang: text for lang, (text, _) in langs.items()} for term, langs in entries})


def _read_entries(path: Path, errors: list[str]) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """(term, {language: (explanation, gloss)}) from the glossary seed and its per-language files."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    overlays: dict[str, dict[str, dict[str, Any]]] = {}
    for extra in sorted((path.parent / "translations").glob("gloss.*.yml")):
        lang = extra.name.split(".")[1]
        for term, values in (yaml.safe_load(extra.read_text(encoding="utf-8")) or {}).items():
            if isinstance(values, dict):
                overlays.setdefault(str(term), {})[lang] = values
    entries: list[tuple[str, dict[str, tuple[str, str]]]] = []
    for i, raw in enumerate(data.get("terms") or []):
        term = str((raw or {}).get("term") or "").strip()
        if not term:
            errors.append(f"{path.name}: entry {i + 1} has no term")
            continue
        explanations: dict[str, Any] = raw.get("explanations") or {}
        glosses: dict[str, Any] = raw.get("gloss") or {}
        texts = {
            str(k): (str(explanations.get(k) or "").strip(), str(glosses.get(k) or "").strip())
            for k in {*explanations, *glosses}
        }
        for lang, values in overlays.get(term, {}).items():
            texts.setdefault(
                lang,
                (str(values.get("explanation") or "").strip(), str(values.get("gloss") or "").strip()),
            )
        # A term without any explanation is still protected: it is stored with an empty German note.
        entries.append((term, texts or {GERMAN: ("", "")}))
    return entries


def _read_statuses(path: Path) -> dict[tuple[str, str], tuple[str, bool]]:
    """(term, language) → (status, outdated), as the console's export writes them (optional)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[tuple[str, str], tuple[str, bool]] = {}
    for raw in data.get("terms") or []:
        term = str((raw or {}).get("term") or "").strip()
        outdated = {str(x) for x in (raw or {}).get("outdated") or []}
        for lang, status in ((raw or {}).get("status") or {}).items():
            if status in ("reviewed", "draft", "machine"):
                out[(term, str(lang))] = (str(status), str(lang) in outdated)
    return out


@dataclass
class GlossaryReport:
    """What ``load_glossary`` did."""

    created: int = 0
    updated: int = 0
    kept_staff_edits: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def load_glossary(session: Session, path: Path = SEED_FILE) -> GlossaryReport:
    """Load the glossary seed file; idempotent, never touches a staff edit (``origin == "staff"``)."""
    report = GlossaryReport()
    if not path.exists():
        report.errors.append(f"glossary seed file {path} is missing")
        return report
    existing = {(r.term, r.language): r for r in session.exec(select(GlossaryTerm)).all()}
    statuses = _read_statuses(path)
    for term, langs in _read_entries(path, report.errors):
        for language, (text, gloss) in langs.items():
            row = existing.get((term, language))
            if row is None:
                status, outdated = statuses.get((term, language), ("draft", False))
                row = GlossaryTerm(
                    term=term,
                    language=language,
                    explanation=text[:300],
                    gloss=gloss[:120],
                    status="source" if language == GERMAN else status,
                    source_version=0 if outdated and language != GERMAN else 1,
                )
                existing[(term, language)] = row
                session.add(row)
                report.created += 1
            elif row.origin == "staff":
                report.kept_staff_edits += 1
            elif row.explanation == text[:300] and row.gloss == gloss[:120]:
                report.unchanged += 1
            else:
                row.explanation, row.gloss = text[:300], gloss[:120]
                row.origin = "seed"
                row.updated_at = utcnow()
                row.updated_by = "seed"
                session.add(row)
                report.updated += 1
    session.flush()
    for err in report.errors:
        logger.error("glossary: %s", err)
    return report


def glossary_from_session(session: Session) -> Glossary:
    """The glossary as stored now."""
    explanations: dict[str, dict[str, str]] = {}
    for row in session.exec(select(GlossaryTerm)).all():
        explanations.setdefault(row.term, {})[row.language] = row.explanation
    return Glossary(explanations)


class GlossaryStore:
    """The current glossary for the translation service: from the database, cached until it changes."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        fallback: Path | None = SEED_FILE,
        check_every: float = 2.0,
    ) -> None:
        self.engine = engine
        self.fallback = fallback
        self.check_every = check_every
        self._glossary: Glossary | None = None
        self._stamp: tuple[Any, ...] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    @classmethod
    def fixed(cls, glossary: Glossary) -> GlossaryStore:
        """A store that always returns ``glossary`` (tests, the benchmark)."""
        store = cls(None, fallback=None)
        store._glossary = glossary
        store._checked = float("inf")
        return store

    def current(self) -> Glossary:
        """The glossary to use now."""
        with self._lock:
            now = time.monotonic()
            if self._glossary is not None and now - self._checked < self.check_every:
                return self._glossary
            self._checked = now
            if self.engine is not None:
                try:
                    self._refresh(self.engine)
                    assert self._glossary is not None
                    return self._glossary
                except SQLAlchemyError as exc:
                    logger.warning("glossary not readable from the database (%s): using the seed", exc)
            if self._glossary is None:
                self._glossary = self._from_file()
            return self._glossary

    def _refresh(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            # Changes when a row is added, removed or edited (even without a new updated_at).
            stamp = tuple(
                session.exec(
                    select(
                        func.count(col(GlossaryTerm.id)),
                        func.max(GlossaryTerm.updated_at),
                        func.sum(func.length(GlossaryTerm.explanation)),
                        func.sum(func.length(GlossaryTerm.term)),
                    )
                ).one()
            )
            if stamp == self._stamp and self._glossary is not None:
                return
            glossary = glossary_from_session(session)
        if not len(glossary) and self.fallback is not None:
            glossary = self._from_file()  # nothing loaded yet: the seed still protects the terms
        self._glossary, self._stamp = glossary, stamp

    def _from_file(self) -> Glossary:
        if self.fallback is None or not self.fallback.exists():
            return Glossary()
        try:
            return read_glossary_file(self.fallback)
        except (OSError, yaml.YAMLError) as exc:
            logger.error("glossary seed file unreadable: %s", exc)
            return Glossary()
