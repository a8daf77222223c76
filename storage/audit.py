"""The audit trail's SQL: append a chained row, find rows, verify the chain (``storage.models_audit``).

The hash rule (``row_hash``)::

    hash = sha256_hex( prev_hash + canonical_json(at, actor, actor_kind, action, person, target,
                                                  reason, details) )

``prev_hash`` is the ``hash`` of the row before (by id); the first row follows ``GENESIS`` (64 zeros).
The canonical JSON is an object of exactly those eight fields, keys sorted, no whitespace
(``separators=(",", ":")``), UTF-8 without escaping non-ASCII, ``at`` written as
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC; absent values are ``null``. The id is not hashed: the order is
the chain itself (each row names the hash of the one before it).

Appends are serialised so that every row follows the latest one: on PostgreSQL the appending
transaction takes ``pg_advisory_xact_lock(AUDIT_LOCK_KEY)`` (held until it commits or rolls back); on
SQLite it takes the database's one write lock before it reads the head. (``prev_hash`` is not unique
on purpose: after tampering, e.g. reordered rows, appends must go on; ``verify`` reports the break.)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select as select_rows
from sqlalchemy import text
from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models_audit import ActorKind, AuditEvent
from storage.people import is_pseudonym

GENESIS = "0" * 64
# The advisory lock that serialises appends on PostgreSQL (any constant; "LOTSAUDT" in ASCII).
AUDIT_LOCK_KEY = 0x4C4F545341554454
HASHED_FIELDS = ("at", "actor", "actor_kind", "action", "person", "target", "reason", "details")

# What can be recorded: the actions, and the reasons given for reading a person's data.
ACTIONS = frozenset(
    {
        "conversation.read",
        "handoff.reply",
        "handoff.release",
        "handoff.assign",
        "handoff.close",
        "handoff.escalate",
        "handoff.note",
        "reminder.check",
        "snippet.edit",
        "content.approve",
        "content.edit",
        "question.link",
        "question.dismiss",
        "question.reopen",
        "content.machine_translate",
        "content.export",
        "content.create",
        "content.deactivate",
        "content.reactivate",
        "content.confirm",
        "content.schedule",
        "content.activate",
        "privacy.export",
        "privacy.erase",
        "staff.create",
        "staff.disable",
        "staff.password_reset",
        "staff.roles",
        "staff.login",
        "staff.login_failed",
        "audit.verify",
        # A person named someone else's appointment (a forged button, a typed reference): refused
        # with the answer an unknown reference gets; the row names the person who tried.
        "access.denied",
    }
)
REASONS = frozenset(
    {
        "answer_request",  # answering the person in a hand-off
        "quality_check",  # checking how the bot or a translation answered
        "person_request",  # the person asked (their data, their erasure)
        "legal_obligation",  # a duty under law (e.g. a request by an authority)
        "incident",  # investigating a security or safety incident
        "routine_check",  # a scheduled check (e.g. verifying this trail)
    }
)
MAX_DETAILS_CHARS = 1000
_TARGET = re.compile(r"[a-z_]+:[A-Za-z0-9_.\-]{1,48}")
_SCALARS = (str, int, bool, type(None))


class InvalidAuditEvent(ValueError):
    pass


@dataclass(frozen=True)
class Verification:
    """The outcome of ``verify``: intact, or the first row that breaks the chain and why."""

    ok: bool
    rows: int  # rows checked (up to and including the first broken one)
    head: str  # hash of the last intact row (GENESIS for an empty trail); write it down to compare
    broken_id: int | None = None
    problem: str | None = None  # changed | missing | reordered
    why: str | None = None


def _stamp(at: datetime) -> str:
    if at.tzinfo is None:
        raise InvalidAuditEvent("naive timestamp")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(fields: Mapping[str, Any]) -> str:
    """The canonical JSON of a row's hashed fields (see the module docstring)."""
    data = {name: fields[name] for name in HASHED_FIELDS}
    data["at"] = _stamp(data["at"])
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def row_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def _check_details(details: dict[str, Any] | None) -> None:
    if details is None:
        return
    for key, value in details.items():
        items = value if isinstance(value, list) else [value]
        if not isinstance(key, str) or not all(isinstance(v, _SCALARS) for v in items):
            raise InvalidAuditEvent(f"details {key!r}: strings, integers, booleans or lists of them")
    if len(json.dumps(details, ensure_ascii=False)) > MAX_DETAILS_CHARS:
        raise InvalidAuditEvent("details too long")


def _check(
    actor: str, kind: str, action: str, person: str | None, target: str | None, reason: str | None
) -> None:
    if kind not in set(ActorKind):
        raise InvalidAuditEvent(f"unknown actor kind {kind!r}")
    if not actor or len(actor) > 64:
        raise InvalidAuditEvent("actor must be 1 to 64 characters")
    if kind == ActorKind.CLI and not actor.startswith("cli:"):
        raise InvalidAuditEvent("a command-line actor is 'cli:<os user>'")
    if kind == ActorKind.SYSTEM and actor != "system":
        raise InvalidAuditEvent("the system actor is 'system'")
    if action not in ACTIONS:
        raise InvalidAuditEvent(f"unknown action {action!r}")
    if person is not None and not is_pseudonym(person):
        raise InvalidAuditEvent("person must be a pseudonym (never a chat id or a name)")
    if target is not None and _TARGET.fullmatch(target) is None:
        raise InvalidAuditEvent(f"target must look like 'handoff:12', not {target!r}")
    if reason is not None and reason not in REASONS:
        raise InvalidAuditEvent(f"unknown reason {reason!r}")


def _serialise(session: Session) -> None:
    """Make this transaction the only one appending until it ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    else:
        # SQLite: a write (even of no row) takes the one write lock now, so the head read next is the
        # latest and stays so until commit. A plain read would not lock: two appends could read the
        # same head.
        session.execute(text("UPDATE auditevent SET id = id WHERE 0 = 1"))


def head(session: Session) -> str:
    """The hash of the latest row (``GENESIS`` for an empty trail)."""
    latest = session.exec(select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)).first()
    return latest or GENESIS


def append(
    session: Session,
    *,
    actor: str,
    actor_kind: str,
    action: str,
    person: str | None = None,
    target: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one row after the latest, in the session's transaction (it commits with the caller)."""
    _check(actor, actor_kind, action, person, target, reason)
    _check_details(details)
    _serialise(session)
    fields: dict[str, Any] = {
        "at": utcnow(),  # taken under the lock: times follow the chain's order
        "actor": actor,
        "actor_kind": str(actor_kind),
        "action": action,
        "person": person,
        "target": target,
        "reason": reason,
        "details": details,
    }
    prev = head(session)
    event = AuditEvent(**fields, prev_hash=prev, hash=row_hash(prev, fields))
    session.add(event)
    session.flush()
    return event


def events(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    person: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Rows matching every filter given, newest first (``since`` inclusive, ``until`` exclusive)."""
    query = select(AuditEvent)
    for column, value in (
        (AuditEvent.actor, actor),
        (AuditEvent.action, action),
        (AuditEvent.person, person),
        (AuditEvent.target, target),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    if until is not None:
        query = query.where(col(AuditEvent.at) < until)
    return list(session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit)).all())


def verify(session: Session, *, batch: int = 1000) -> Verification:
    """Walk the whole chain in id order; the first row whose link or hash does not hold is reported.

    * ``changed`` — the row's fields do not give its hash (it was edited after it was written);
    * ``missing`` — its ``prev_hash`` is no row's hash: the row before it was deleted (or its link
      edited), or it was inserted by someone who could not compute the chain;
    * ``reordered`` — its ``prev_hash`` is the hash of a row elsewhere in the table.

    Rows removed from the end leave an intact, shorter chain: compare ``head`` with one written down
    earlier to notice that.
    """
    table = AuditEvent.metadata.tables["auditevent"]
    expected, checked, last_id = GENESIS, 0, 0
    while True:
        rows = session.execute(
            select_rows(table).where(table.c.id > last_id).order_by(table.c.id).limit(batch)
        ).all()
        if not rows:
            return Verification(ok=True, rows=checked, head=expected)
        for row in rows:
            checked += 1
            fields = dict(row._mapping)
            if row.prev_hash != expected:
                before = session.execute(
                    select_rows(table.c.id).where(table.c.hash == row.prev_hash).limit(1)
                ).scalar()
                if before is not None:
                    problem, why = "reordered", f"it follows row {before}, not the row before it"
                else:
                    problem = "missing"
                    why = "the row before it is missing (deleted) or its link was changed"
                return Verification(False, checked, expected, row.id, problem, why)
            if row_hash(row.prev_hash, fields) != row.hash:
                why = "its content does not match its hash (changed after it was written)"
                return Verification(False, checked, expected, row.id, "changed", why)
            expected, last_id = row.hash, row.id
