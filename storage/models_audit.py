"""The audit trail: who looked at or changed what, append-only and hash-chained.

Migration: ``0009_audit``. Every row carries the hash of the row before it (``prev_hash``) and its own
``hash`` over its fields (``storage.audit`` computes and checks both), so a changed, deleted, inserted
or reordered row is found by ``storage.audit.verify`` on every database. On PostgreSQL a trigger also
refuses UPDATE, DELETE and TRUNCATE on the table.

A row names a person only by their pseudonym (``person``), never by chat id or name, and there is no
foreign key to ``person``: erasing a person must not erase the record that their data was accessed,
and once the person row is gone the pseudonym no longer leads to anybody. ``details`` is small JSON
without personal data (never message text).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime, utcnow


class ActorKind(StrEnum):
    STAFF = "staff"  # a staff account (console, or a name given to the desk)
    CLI = "cli"  # the command line: actor is "cli:<os user>"
    SYSTEM = "system"  # the application itself (jobs, erasure, ...)


class AuditEvent(SQLModel, table=True):
    """One audited access or change. Rows are only ever appended (see the module docstring)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=64, index=True)
    actor_kind: str = Field(max_length=8)
    action: str = Field(max_length=40, index=True)
    person: str | None = Field(default=None, max_length=32, index=True)  # pseudonym, no foreign key
    target: str | None = Field(default=None, max_length=64, index=True)  # "handoff:12", ...
    reason: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
