"""Pre-translating content: machine drafts of FAQ entries and bot messages for every installed language.

Human texts (reviewed or draft) are never replaced, not even outdated ones; a machine draft of an older
master version is replaced by a new one. Drafts are stored with status ``machine`` for review.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from storage import content
from storage.db import session_scope
from storage.models import TextStatus, Translation
from storage.vocabulary import MASTER_LANGUAGE
from translations.engine import TranslationUnavailable, results_of, route_of
from translations.languages import LANGUAGES

logger = logging.getLogger(__name__)

CONTENT_CHUNK = 16  # texts per engine call when pre-translating content
CONTENT_TIMEOUT = 600.0  # seconds per chunk: pre-translation runs offline, not in a conversation


@dataclass
class ContentReport:
    """What ``translate_content`` did."""

    translated: Counter[str] = field(default_factory=Counter)
    kept_human: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Text:
    owner_type: str
    owner_key: str
    field: str
    version: int
    german: str


def _content_texts(engine: Engine) -> tuple[list[_Text], dict[tuple[str, str, str, str], Translation]]:
    with session_scope(engine) as session:
        versions, rows = content.master_versions_and_texts(session=session)
    texts = [
        _Text(r.owner_type, r.owner_key, r.field, versions[(r.owner_type, r.owner_key)], r.text)
        for r in rows
        if r.language == MASTER_LANGUAGE
        and (r.owner_type, r.owner_key) in versions
        and (r.owner_type == "message" or r.field in ("question", "answer"))
    ]
    existing = {(r.owner_type, r.owner_key, r.field, r.language): r for r in rows}
    return sorted(texts, key=lambda t: (t.owner_type, t.owner_key, t.field)), existing


def translate_content(
    engine: Engine, translator: Any, languages: list[str] | None = None
) -> ContentReport:
    """Machine-translate FAQ entries and bot messages with no current text, as ``machine`` drafts.

    Human texts (reviewed or draft) are never replaced, not even outdated ones; a machine draft of an
    older master version is replaced by a new one.
    """
    report = ContentReport()
    texts, existing = _content_texts(engine)
    targets = [
        lang
        for lang in (languages or list(LANGUAGES))
        if lang != MASTER_LANGUAGE and route_of(translator, MASTER_LANGUAGE, lang) is not None
    ]
    for lang in targets:
        todo: list[_Text] = []
        for t in texts:
            row = existing.get((t.owner_type, t.owner_key, t.field, lang))
            if row is None or row.status == TextStatus.MACHINE:
                if row is None or row.source_version < t.version:
                    todo.append(t)
            elif row.source_version < t.version:
                report.kept_human += 1
        for i in range(0, len(todo), CONTENT_CHUNK):
            chunk = todo[i : i + CONTENT_CHUNK]
            try:
                results = results_of(translator, [t.german for t in chunk], MASTER_LANGUAGE, lang)
            except TranslationUnavailable as exc:
                report.failed.append(f"{lang}: {len(chunk)} texts: {exc}")
                continue
            with session_scope(engine) as session:
                for t, result in zip(chunk, results, strict=True):
                    content.store_machine_translation(
                        session=session,
                        owner_type=t.owner_type,
                        owner_key=t.owner_key,
                        field=t.field,
                        language=lang,
                        text=result.text,
                        source_version=t.version,
                    )
            report.translated[lang] += len(chunk)
        logger.info(
            "content %s->%s: %d texts translated", MASTER_LANGUAGE, lang, report.translated[lang]
        )
    return report
