"""The audit trail as the other services use it: record who read or changed what, list, verify.

Every access to a person's conversation and every staff action on it is one row of an append-only,
hash-chained table (``storage.audit`` has the hash rule). A row names the person only by pseudonym and
never holds message text. ``record`` can join the caller's unit of work (``session=``), so the action
and its record commit together or not at all.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage import audit as audit_rows
from storage.audit import Verification
from storage.db import session_scope
from storage.models_audit import ActorKind, AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who did it. ``on_behalf_of`` is the name given on the command line (``--by``), kept in details."""

    name: str
    kind: ActorKind
    on_behalf_of: str | None = None

    @classmethod
    def staff(cls, name: str) -> Actor:
        return cls(name, ActorKind.STAFF)

    @classmethod
    def cli(cls, os_user: str, *, by: str | None = None) -> Actor:
        return cls(f"cli:{os_user}", ActorKind.CLI, by)


SYSTEM = Actor("system", ActorKind.SYSTEM)


class Audit:
    """Record, list and verify audit rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        actor: Actor,
        action: str,
        person: str | None = None,
        target: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        session: Session | None = None,
    ) -> AuditEvent:
        """Append one row, in ``session``'s transaction if given (else in one of its own)."""
        if actor.on_behalf_of is not None:
            details = {**(details or {}), "by": actor.on_behalf_of}
        if session is not None:
            return self._append(session, actor, action, person, target, reason, details)
        with session_scope(self.engine) as s:
            return self._append(s, actor, action, person, target, reason, details)

    @staticmethod
    def _append(
        session: Session,
        actor: Actor,
        action: str,
        person: str | None,
        target: str | None,
        reason: str | None,
        details: dict[str, Any] | None,
    ) -> AuditEvent:
        event = audit_rows.append(
            session,
            actor=actor.name,
            actor_kind=actor.kind,
            action=action,
            person=person,
            target=target,
            reason=reason,
            details=details,
        )
        session.expunge(event)
        return event

    def verify(self, actor: Actor = SYSTEM) -> Verification:
        """Check the whole chain, then record that it was checked (and what was found)."""
        with session_scope(self.engine) as s:
            result = audit_rows.verify(s)
        details: dict[str, Any] = {"rows": result.rows, "ok": result.ok}
        if not result.ok:
            details |= {"broken_id": result.broken_id, "problem": result.problem}
        self.record(actor, "audit.verify", reason="routine_check", details=details)
        return result

    def list(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        person: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEvent]:
        """Rows matching every filter given, newest first."""
        with session_scope(self.engine) as s:
            rows = audit_rows.events(
                session=s,
                actor=actor,
                action=action,
                person=person,
                target=target,
                since=since,
                until=until,
                limit=limit,
            )
            s.expunge_all()
            return rows
