"""Privacy: data export (``/mydata``), erasure (``/delete``) and the retention purge, in every store.

The stores that can hold something of a person:

* the app database — the person row; messages, answers, hand-offs, appointments (and their reminders),
  waiting-list entries, unanswered questions (with their own words), the closed loop's follow-ups and
  opt-out, and stored update keys go with it (foreign keys cascade);
* Rasa's tracker store — every event of the conversation, full texts included. Rasa has no API that
  deletes them, so the rows are deleted where Rasa keeps them: SQLite or PostgreSQL, read from the same
  endpoints file Rasa runs with;
* nothing else: what people write never goes into the shared translation memory (their messages are
  translated without it), update keys of people who did not consent are kept only as digests for two
  days, and logs carry pseudonymous ids only, never texts or chat ids.

``erase`` returns a receipt (each store, how many rows, ok or failed). A store that failed (Rasa's
database unreachable) is retried by the retention job from the kept ``ErasureRequest`` (it holds only the
pseudonym) and listed for staff (``lotse privacy erasures``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from rendering.messages import OutMessage
from services.audit import SYSTEM, Audit
from services.outbox import Attachment
from storage import privacy_rows
from storage.appointments import export_of
from storage.db import checkpoint_sqlite, session_scope, utcnow

logger = logging.getLogger(__name__)

EXPORT_SCHEMA_VERSION = 1
EXPORT_FILENAME = "meine-daten.json"
SEEN_UPDATES_KEPT = timedelta(days=2)
_VAR = re.compile(r"\$\{(\w+)\}")


@dataclass
class StoreResult:
    store: str
    rows: int = 0
    status: str = "ok"  # ok | failed
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "rows": self.rows, "status": self.status, "error": self.error}


@dataclass
class Receipt:
    pseudonym: str
    stores: list[StoreResult] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(s.status == "ok" for s in self.stores)

    def rows(self, store: str) -> int:
        return sum(s.rows for s in self.stores if s.store == store)

    def failed(self) -> list[str]:
        return [s.store for s in self.stores if s.status != "ok"]


def tracker_store_url(endpoints_file: Path, env: dict[str, str] | None = None) -> str | None:
    """The URL of Rasa's SQL tracker store as Rasa's endpoints file configures it (None: none)."""
    env = dict(os.environ if env is None else env)
    raw = _VAR.sub(lambda m: env.get(m.group(1), ""), endpoints_file.read_text(encoding="utf-8"))
    store = (yaml.safe_load(raw) or {}).get("tracker_store") or {}
    if str(store.get("type", "")).lower() != "sql":
        return None
    dialect = str(store.get("dialect") or "sqlite")
    if dialect == "sqlite":
        return f"sqlite:///{store.get('db') or 'rasa.db'}"
    driver = "postgresql+psycopg" if dialect.startswith("postgres") else dialect
    return URL.create(
        driver,
        username=store.get("username") or None,
        password=store.get("password") or None,
        host=store.get("url") or None,
        port=int(store["port"]) if store.get("port") else None,
        database=store.get("db") or None,
    ).render_as_string(hide_password=False)


class TrackerStore:
    """Rasa's events table, reached directly (Rasa OSS cannot delete a conversation)."""

    def __init__(self, url: str | None) -> None:
        self.url = url

    def _run(self, sql: str, params: dict[str, Any]) -> int:
        if self.url is None:
            return 0
        engine = create_engine(self.url)
        sqlite = engine.dialect.name == "sqlite"
        try:
            with engine.begin() as conn:
                if not _has_events_table(conn):
                    return 0  # Rasa has not stored anything yet
                if sqlite:  # overwrite the deleted texts, do not leave them in free pages
                    conn.exec_driver_sql("PRAGMA secure_delete=ON")
                n = int(conn.execute(text(sql), params).rowcount or 0)
            if sqlite and n:
                checkpoint_sqlite(engine)  # in case Rasa's file is in WAL mode
            return n
        finally:
            engine.dispose()

    def erase(self, sender_id: str) -> int:
        """Delete every event of a conversation; raises ``SQLAlchemyError`` when the store fails."""
        return self._run("DELETE FROM events WHERE sender_id = :s", {"s": sender_id})

    def purge(self, before: datetime) -> int:
        """Delete events older than ``before`` (Rasa stores a UNIX timestamp per event)."""
        return self._run("DELETE FROM events WHERE timestamp < :t", {"t": before.timestamp()})

    def count(self, sender_id: str) -> int:
        """How many events of a conversation are stored (for tests and receipts)."""
        if self.url is None:
            return 0
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                if not _has_events_table(conn):
                    return 0
                return int(
                    conn.execute(
                        text("SELECT COUNT(*) FROM events WHERE sender_id = :s"), {"s": sender_id}
                    ).scalar_one()
                )
        finally:
            engine.dispose()


def _has_events_table(conn: Any) -> bool:
    return bool(inspect(conn).has_table("events"))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


class Privacy:
    """Export, erasure and retention for one deployment's stores."""

    def __init__(
        self,
        engine: Engine,
        *,
        tracker: TrackerStore,
        retention_days: int,
        audit: Audit | None = None,
    ) -> None:
        self.engine = engine
        self.tracker = tracker
        self.retention_days = retention_days
        self.audit = audit or Audit(engine)

    # --- export --------------------------------------------------------------------------------

    def export(self, person_id: str) -> dict[str, Any]:
        """Everything stored about a person, as one JSON-ready document (GDPR Art. 15 and 20)."""
        with session_scope(self.engine) as s:
            data = privacy_rows.export_person(session=s, person_id=person_id)
            if not data:
                return {}
            data.update(export_of(s, person_id))
        data["schema_version"] = EXPORT_SCHEMA_VERSION
        data["generated_at"] = utcnow()
        data["conversation_engine_events"] = self.tracker.count(person_id)
        return data

    def export_json(self, person_id: str) -> bytes:
        """The export as a UTF-8 JSON document (each one recorded in the audit trail)."""
        document = self.export(person_id)
        if document:
            self.audit.record(
                SYSTEM,
                "privacy.export",
                person=person_id,
                reason="person_request",
                details={"messages": len(document.get("messages", []))},
            )
        return json.dumps(document, ensure_ascii=False, indent=2, default=_json_default).encode("utf-8")

    def attachments(self, person_id: str, message: OutMessage) -> list[Attachment]:
        """The complete export as a file after the ``/mydata`` summary (generated now, never stored)."""
        if not message.meta.get("export"):
            return []
        return [Attachment(EXPORT_FILENAME, self.export_json(person_id))]

    def summary(self, person_id: str) -> dict[str, Any]:
        """The counts a person reads in the chat (the complete export is a file)."""
        with session_scope(self.engine) as s:
            return privacy_rows.summary_of(session=s, person_id=person_id)

    # --- erasure -------------------------------------------------------------------------------

    def erase_everywhere(self, person_id: str) -> Receipt:
        """Erase a person from every store; the receipt says what was erased and what failed."""
        receipt = Receipt(person_id)
        with session_scope(self.engine) as s:
            counts = privacy_rows.erase_person(session=s, person_id=person_id)
            request = privacy_rows.open_erasure(session=s, pseudonym=person_id)
        receipt.stores += [StoreResult(store, n) for store, n in counts.items()]
        receipt.stores.append(self._erase_tracker(person_id))
        checkpoint_sqlite(self.engine)  # the erased texts must not stay in the WAL either
        with session_scope(self.engine) as s:
            privacy_rows.record_erasure(
                session=s,
                request_id=request,
                receipt=[r.as_dict() for r in receipt.stores],
                complete=receipt.complete,
            )
            self.audit.record(
                SYSTEM,
                "privacy.erase",
                person=person_id,
                target=f"erasure:{request}",
                reason="person_request",
                details={"complete": receipt.complete, "failed": receipt.failed()},
                session=s,
            )
        logger.info(
            "erasure %s: %s", request, "complete" if receipt.complete else f"failed: {receipt.failed()}"
        )
        return receipt

    def _erase_tracker(self, person_id: str) -> StoreResult:
        try:
            return StoreResult("conversation_engine", self.tracker.erase(person_id))
        except SQLAlchemyError as exc:
            logger.warning("Rasa tracker store not erased: %s", type(exc).__name__)
            return StoreResult("conversation_engine", 0, "failed", type(exc).__name__)

    async def erase(self, person_id: str) -> Receipt:
        """``erase_everywhere`` off the event loop."""
        return await asyncio.to_thread(self.erase_everywhere, person_id)

    def incomplete_erasures(self) -> list[dict[str, Any]]:
        """Erasures still waiting for a store (retried by the retention job): for staff to see."""
        with session_scope(self.engine) as s:
            return erasures_for_staff(s)

    def retry_erasures(self) -> int:
        """Retry the stores that failed in earlier erasures; returns how many requests completed."""
        with session_scope(self.engine) as s:
            pending = privacy_rows.incomplete_erasures(session=s)
        done = 0
        for request_id, pseudonym, stores in pending:
            results = [r if r["status"] == "ok" else None for r in stores]
            retried = [
                self._erase_tracker(pseudonym).as_dict()
                if r is None and stores[i]["store"] == "conversation_engine"
                else (r or stores[i])
                for i, r in enumerate(results)
            ]
            complete = all(r["status"] == "ok" for r in retried)
            with session_scope(self.engine) as s:
                privacy_rows.record_erasure(
                    session=s, request_id=request_id, receipt=retried, complete=complete
                )
            done += int(complete)
        return done

    # --- retention -----------------------------------------------------------------------------

    def purge_expired(self, now: datetime | None = None) -> dict[str, int]:
        """Delete what is older than the retention period, in every store; idempotent."""
        now = now or utcnow()
        cutoff = now - timedelta(days=self.retention_days)
        with session_scope(self.engine) as s:
            report = privacy_rows.purge(session=s, before=cutoff, seen_before=now - SEEN_UPDATES_KEPT)
        try:
            report["conversation_engine"] = self.tracker.purge(cutoff)
        except SQLAlchemyError as exc:
            logger.warning("Rasa tracker store not purged: %s", type(exc).__name__)
            report["conversation_engine"] = -1
        report["erasures_completed"] = self.retry_erasures()
        if any(n > 0 for n in report.values()):
            checkpoint_sqlite(self.engine)  # purged texts must not stay in the WAL
        if any(n > 0 for n in report.values()):
            logger.info("retention: %s", {k: v for k, v in report.items() if v})
        return report


def erasures_for_staff(session: Session) -> list[dict[str, Any]]:
    """Erasure requests that did not complete, for staff to see (pseudonym and failed stores only)."""
    return [
        {
            "id": rid,
            "pseudonym": pseudonym,
            "failed": [r["store"] for r in stores if r["status"] != "ok"],
        }
        for rid, pseudonym, stores in privacy_rows.incomplete_erasures(session=session)
    ]
