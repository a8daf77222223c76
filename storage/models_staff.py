"""Staff accounts, their sessions in the console, failed logins (for throttling), case managers'
internal notes on hand-offs and their ready-made replies.

Migrations: ``0008_staff``, ``0010_inbox``. Passwords are argon2 hashes; a session row holds the digest
of the token the browser keeps in its cookie, never the token itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Text
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


class StaffAccount(SQLModel, table=True):
    """A person who works in the console: case manager, KI editor, administrator (several roles)."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=120)
    password_hash: str = Field(max_length=200)
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    active: bool = True
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    password_changed_at: datetime = _ts()


class StaffSession(SQLModel, table=True):
    """One signed-in browser; ends at logout or after inactivity."""

    id: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie's token
    account_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("staffaccount.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    csrf_token: str = Field(max_length=64)
    client: str = Field(default="", max_length=64)
    created_at: datetime = _ts()
    last_seen_at: datetime = _ts()
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Conversations opened in this session with a reason (each opening is an audit row).
    granted: list[int] = Field(default_factory=list, sa_type=JSON)


class LoginFailure(SQLModel, table=True):
    """A failed login: too many in a short time lock the account name (and the address) for a while."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, index=True)
    client: str = Field(default="", max_length=64, index=True)
    at: datetime = _ts(index=True)


class HandoffNote(SQLModel, table=True):
    """A case manager's internal note on a hand-off: staff only, never sent to the person.

    It is personal data about the person: in their export, erased with them.
    """

    id: int | None = Field(default=None, primary_key=True)
    handoff_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("handoffrequest.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    person_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    author: str = Field(max_length=64)
    text: str = Field(sa_type=Text)
    created_at: datetime = _ts()


class ReplySnippet(SQLModel, table=True):
    """A ready-made German reply (Textbaustein) a case manager starts from; seeded, edited by staff."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    title: str = Field(max_length=120)
    text: str = Field(sa_type=Text)
    active: bool = True
    origin: str = Field(default="seed", max_length=16)  # seed | staff (a reload keeps staff edits)
    updated_at: datetime = _ts()
    updated_by: str | None = Field(default=None, max_length=64)
