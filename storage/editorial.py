"""The editors' work lists: unanswered questions, translations to review, entries due for checking.

Until the staff console exists, ``lotse content …`` (bot/content_cli.py) shows these lists and records a
translation review. The same functions will back the console's views.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models import (
    BotMessage,
    Checklist,
    FaqEntry,
    Origin,
    TextStatus,
    Translation,
    UnansweredQuestion,
)

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class UnansweredGroup:
    """The same question (case and spacing ignored), how often it was asked, and when last."""

    text: str
    language: str
    count: int
    last_asked: datetime
    intents: tuple[str, ...]


def unanswered(
    *, session: Session, since: datetime | None = None, language: str | None = None
) -> list[UnansweredGroup]:
    """Recorded questions nobody could answer, most frequent first (already anonymised when stored)."""
    query = select(UnansweredQuestion)
    if since is not None:
        query = query.where(col(UnansweredQuestion.created_at) >= since)
    if language is not None:
        query = query.where(UnansweredQuestion.language == language)
    groups: dict[tuple[str, str], list[UnansweredQuestion]] = {}
    for row in session.exec(query.order_by(col(UnansweredQuestion.created_at))):
        key = (_SPACE.sub(" ", row.text.strip().lower()), row.language)
        groups.setdefault(key, []).append(row)
    out = [
        UnansweredGroup(
            text=rows[-1].text,
            language=lang,
            count=len(rows),
            last_asked=rows[-1].created_at,
            intents=tuple(i for i, _ in Counter(r.intent for r in rows if r.intent).most_common()),
        )
        for (_, lang), rows in groups.items()
    ]
    return sorted(out, key=lambda g: (-g.count, -g.last_asked.timestamp()))


@dataclass(frozen=True)
class ReviewItem:
    """One translation an editor should look at, and why."""

    translation_id: int
    owner_type: str
    owner_key: str
    field: str
    language: str
    status: str
    reason: str  # "outdated" (master changed since), "machine" or "draft"


def _master_versions(session: Session) -> dict[tuple[str, str], int]:
    versions: dict[tuple[str, str], int] = {}
    for faq in session.exec(select(FaqEntry).where(col(FaqEntry.active))):
        versions[("faq", faq.key)] = faq.version
    for msg in session.exec(select(BotMessage)):
        versions[("message", msg.key)] = msg.version
    for checklist in session.exec(select(Checklist)):
        versions[("checklist", checklist.key)] = checklist.version
    return versions


def current_version(session: Session, owner_type: str, owner_key: str) -> int | None:
    """The German master's version of one piece of content (None when missing or inactive)."""
    if owner_type == "faq":
        faq = session.exec(select(FaqEntry).where(FaqEntry.key == owner_key)).first()
        return faq.version if faq is not None and faq.active else None
    if owner_type == "message":
        msg = session.get(BotMessage, owner_key)
        return msg.version if msg is not None else None
    if owner_type == "checklist":
        checklist = session.get(Checklist, owner_key)
        return checklist.version if checklist is not None else None
    return None


REASON_ORDER = {"outdated": 0, "machine": 1, "draft": 2}


def review_queue(*, session: Session, language: str | None = None) -> list[ReviewItem]:
    """Translations that are not (or no longer) reviewed: outdated first, then machine, then draft."""
    versions = _master_versions(session)
    query = select(Translation).where(Translation.status != TextStatus.SOURCE)
    if language is not None:
        query = query.where(Translation.language == language)
    items = []
    for row in session.exec(query):
        master = versions.get((row.owner_type, row.owner_key))
        if master is None or row.id is None:
            continue  # an inactive entry: nobody sees it
        if row.source_version < master:
            reason = "outdated"
        elif row.status in (TextStatus.MACHINE, TextStatus.DRAFT):
            reason = str(row.status)
        else:
            continue
        items.append(
            ReviewItem(
                translation_id=row.id,
                owner_type=row.owner_type,
                owner_key=row.owner_key,
                field=row.field,
                language=row.language,
                status=row.status,
                reason=reason,
            )
        )
    return sorted(
        items, key=lambda i: (REASON_ORDER[i.reason], i.language, i.owner_type, i.owner_key, i.field)
    )


def entries_due(*, session: Session, today: date) -> Sequence[FaqEntry]:
    """Active entries whose review date has come, or that their authors flagged as possibly outdated."""
    return session.exec(
        select(FaqEntry)
        .where(col(FaqEntry.active))
        .where(
            col(FaqEntry.needs_review)
            | (col(FaqEntry.review_due).is_not(None) & (col(FaqEntry.review_due) <= today))
        )
        .order_by(col(FaqEntry.review_due).asc().nulls_last(), col(FaqEntry.key))
    ).all()


class NotFound(LookupError):
    pass


class MasterChanged(ValueError):
    pass


def approve_translation(
    *, session: Session, translation_id: int, reviewer: str, master_version: int
) -> Translation:
    """A person who reads both languages checked this text against version ``master_version`` of the
    German master. If the master has changed since, nothing is approved (``MasterChanged``).

    The text becomes ``reviewed`` for that version and counts as a staff edit, so a seed reload never
    overwrites it.
    """
    row = session.get(Translation, translation_id)
    if row is None or row.status == TextStatus.SOURCE:
        raise NotFound(f"no translation {translation_id}")
    master = current_version(session, row.owner_type, row.owner_key)
    if master is None:
        raise NotFound(f"translation {translation_id} belongs to nothing active")
    if master != master_version:
        raise MasterChanged(
            f"the German text is now version {master}, you checked version {master_version}: "
            "show it again"
        )
    row.status = TextStatus.REVIEWED
    row.reviewer = reviewer
    row.source_version = master
    row.origin = Origin.STAFF
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row
