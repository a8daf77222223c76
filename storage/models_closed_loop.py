"""The closed loop: unanswered questions grouped for the editors, linked to the entry that answers them,
and the one follow-up message each person who asked gets when that answer is published.

Migration ``0012_closed_loop``. Groups hold only anonymised text (the editors' view); follow-ups and the
opt-out belong to a person and go with them (foreign keys cascade on erasure).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


class GroupStatus:
    OPEN = "open"  # nobody decided yet
    LINKED = "linked"  # answered by an entry (``entry_key``)
    DISMISSED = "dismissed"  # "not our task" (``reason``)


class QuestionGroup(SQLModel, table=True):
    """Similar unanswered questions, with a stable id (members are assigned once and stay)."""

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default=GroupStatus.OPEN, max_length=16, index=True)
    entry_key: str | None = Field(default=None, max_length=80)
    reason: str | None = Field(default=None, max_length=500)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _ts()


class QuestionGroupMember(SQLModel, table=True):
    """Which group a question belongs to (goes with the question when it is erased or purged)."""

    question_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("unansweredquestion.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        )
    )
    group_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("questiongroup.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )


class FollowUpStatus:
    SENT = "sent"  # the message went to the outbox
    COVERED = "covered"  # the same person's other question in the group: covered by that message


class FollowUp(SQLModel, table=True):
    """One person's question, answered later: the row is the claim (unique per person and question),
    written in the same transaction as the outbox message, so nobody is told twice."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    question_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("unansweredquestion.id", ondelete="CASCADE"), nullable=False
        )
    )
    group_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("questiongroup.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    entry_key: str = Field(max_length=80, index=True)
    language: str = Field(max_length=8)
    translation: str = Field(max_length=16)  # reviewed | source (German with the note)
    status: str = Field(default=FollowUpStatus.SENT, max_length=16)
    outbound_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("outboundmessage.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = _ts()
    answer: str | None = Field(default=None, max_length=16)  # helped | not_helped
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    __table_args__ = (UniqueConstraint("person_id", "question_id", name="uq_followup_person_question"),)


class FollowUpOptOut(SQLModel, table=True):
    """The person pressed "no more such messages": no follow-up is ever sent to them again."""

    person_id: str = Field(
        sa_column=Column(String(32), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    )
    at: datetime = _ts()
