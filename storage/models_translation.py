"""Tables of the translation engine: the glossary (staff content) and the translation memory.

Migration: ``0002_translation``. Neither table holds anything that identifies a person: the memory is
keyed by a hash and keeps only the machine output of *masked* text (phone numbers, e-mail addresses,
reference codes, dates and amounts are replaced by placeholders before translation), and
``translations.memory.purge_memory`` removes old entries with the retention period.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


class GlossaryTerm(SQLModel, table=True):
    """A German administrative term that is never translated, and its explanation in one language.

    One row per term and language; ``language == "de"`` holds the German note for editors. A term is
    protected from machine translation as soon as any row names it. ``origin`` is ``seed`` or ``staff``
    as for the other content tables: a seed reload never overwrites a staff edit.
    """

    id: int | None = Field(default=None, primary_key=True)
    term: str = Field(max_length=80)
    language: str = Field(max_length=8)
    explanation: str = Field(default="", max_length=300)
    # The short explanation written in brackets after the term in human texts ("Jobcenter (job centre)"),
    # one per language: the content check holds every text to it.
    gloss: str = Field(default="", max_length=120)
    origin: str = Field(default="seed", max_length=8)
    updated_at: datetime = _ts()
    updated_by: str = Field(default="seed", max_length=64)
    # Statuses as for ``Translation`` (migration 0013): the German row is the master and its
    # ``source_version`` is the term's version; other rows name the master version they explain.
    status: str = Field(default="draft", max_length=16)
    source_version: int = 1
    reviewer: str | None = Field(default=None, max_length=64)

    __table_args__ = (UniqueConstraint("term", "language", name="uq_glossary_term_language"),)


class MemoryEntry(SQLModel, table=True):
    """One machine translation of one masked text, so the same text is never translated twice.

    ``key`` is the sha256 of (text, source, target); the source text itself is not stored.
    """

    key: str = Field(primary_key=True, max_length=64)
    source: str = Field(max_length=8)
    target: str = Field(max_length=8)
    text: str = Field(sa_type=Text)
    route: str = Field(max_length=40)  # languages the text went through: "de>en>ar"
    status: str = Field(default="machine", max_length=16)  # a reviewer may mark it "reviewed"
    created_at: datetime = _ts(index=True)
