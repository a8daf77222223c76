"""The content studio's own tables (issue 13): the edit history of FAQ entries and prepared versions.

Migration ``0014_studio_entries``. The live entry stays in ``FaqEntry`` and its texts in
``Translation``; these tables only keep what the studio adds around them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime, utcnow


class FaqRevision(SQLModel, table=True):
    """One step in an entry's history: who changed it, when, and the German text after the change."""

    id: int | None = Field(default=None, primary_key=True)
    entry_key: str = Field(max_length=80, index=True)
    version: int  # the entry's version after this change
    change: str = Field(max_length=16)  # created | edited | activated | deactivated | …
    question: str = Field(sa_type=Text)
    answer: str = Field(sa_type=Text)
    by: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FaqPendingVersion(SQLModel, table=True):
    """A new version of an entry prepared ahead, live from ``valid_from`` (e.g. a law from 1 January).

    ``translations`` holds the texts written for it in advance, by language:
    ``{"en": {"question": …, "answer": …, "reviewer": …}}``; on activation they become the live
    reviewed translations of the new version. Until then people get the current version.
    """

    id: int | None = Field(default=None, primary_key=True)
    entry_key: str = Field(max_length=80, unique=True)
    valid_from: date
    question: str = Field(sa_type=Text)
    answer: str = Field(sa_type=Text)
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_by: str = Field(max_length=64)
    updated_by: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
