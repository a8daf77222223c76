"""Translation memory: a text already translated is never translated twice; human texts win.

Two sources, best first:

* **human translations** — when a text is exactly the German master (or a reviewed translation) of
  some FAQ entry or bot message, its reviewed translation in the target language is used (content
  rendering itself reads the ``Translation`` table first, see ``translations.render``);
* **the machine memory** — ``MemoryEntry`` rows, keyed by sha256 of (text, source, target), holding
  the model's output for *masked* text (see ``translations.protect``): the same sentence with another
  date or phone number is the same entry, and no phone number, e-mail address or reference code is
  ever stored. The source text itself is not stored either; ``purge_memory`` applies the retention
  period.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from storage.db import session_scope
from storage.models import TextStatus, Translation
from storage.models_translation import MemoryEntry

logger = logging.getLogger(__name__)

_CHUNK = 500  # keys per IN (...) query


def memory_key(text: str, source: str, target: str) -> str:
    """The key of a memory entry: sha256 of (text, source, target)."""
    return hashlib.sha256(f"{source}\x1f{target}\x1f{text}".encode()).hexdigest()


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class TranslationMemory:
    """Stored machine translations; a database problem never breaks translation (it just misses).

    Writes go to the database in a background thread: a caller that holds a write transaction (the
    renderer stores machine drafts in its own session) must not wait for SQLite's write lock, and a
    translation should not wait for bookkeeping. Until an entry is written, this process finds it in
    ``_pending``; ``flush`` waits for the writer (tests, the benchmark, shutdown).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: dict[str, MemoryEntry] = {}
        self._queue: queue.Queue[list[str]] = queue.Queue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        _MEMORIES.add(self)

    def get_many(self, texts: Sequence[str], source: str, target: str) -> dict[str, tuple[str, str]]:
        """Known translations: text → (translation, route)."""
        keys = {memory_key(t, source, target): t for t in texts}
        found: dict[str, tuple[str, str]] = {}
        with self._lock:
            for key, text in keys.items():
                entry = self._pending.get(key)
                if entry is not None:
                    found[text] = (entry.text, entry.route)
        missing = [k for k, t in keys.items() if t not in found]
        if not missing:
            return found
        try:
            with session_scope(self.engine) as session:
                for chunk in _chunks(missing):
                    rows = session.exec(
                        select(MemoryEntry).where(col(MemoryEntry.key).in_(list(chunk)))
                    ).all()
                    for row in rows:
                        found[keys[row.key]] = (row.text, row.route)
        except SQLAlchemyError as exc:
            logger.warning("translation memory not readable: %s", exc)
        return found

    def put_many(self, pairs: Sequence[tuple[str, str]], source: str, target: str, route: str) -> None:
        """Remember (text, translation) pairs; written to the database in the background."""
        if not pairs:
            return
        rows = {
            memory_key(text, source, target): MemoryEntry(
                key=memory_key(text, source, target),
                source=source,
                target=target,
                text=translation,
                route=route,
            )
            for text, translation in pairs
        }
        with self._lock:
            self._pending.update(rows)
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run, name="mt-memory", daemon=True)
                self._writer.start()
        self._queue.put(list(rows))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every remembered translation is in the database; False if it took too long."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def _run(self) -> None:
        while True:
            keys = self._queue.get()
            try:
                with self._lock:
                    rows = [self._pending[k] for k in keys if k in self._pending]
                self._write(rows)
            finally:
                with self._lock:
                    for key in keys:
                        self._pending.pop(key, None)
                self._queue.task_done()

    def _write(self, rows: list[MemoryEntry]) -> None:
        """Insert the rows; an entry another worker stored first is kept."""
        if not rows:
            return
        try:
            try:
                with session_scope(self.engine) as session:
                    known = set(
                        session.exec(
                            select(MemoryEntry.key).where(
                                col(MemoryEntry.key).in_([r.key for r in rows])
                            )
                        ).all()
                    )
                    session.add_all(
                        MemoryEntry.model_validate(r.model_dump()) for r in rows if r.key not in known
                    )
            except IntegrityError:  # a concurrent worker stored some of them: add one by one
                for row in rows:
                    try:
                        with session_scope(self.engine) as session:
                            if session.get(MemoryEntry, row.key) is None:
                                session.add(MemoryEntry.model_validate(row.model_dump()))
                    except IntegrityError:
                        continue
        except SQLAlchemyError as exc:
            logger.warning("translation memory not writable: %s", exc)


_MEMORIES: weakref.WeakSet[TranslationMemory] = weakref.WeakSet()


def flush_all(timeout: float = 10.0) -> bool:
    """Wait for every memory's pending writes (at shutdown, before a database goes away)."""
    deadline = time.monotonic() + timeout
    return all(m.flush(max(0.0, deadline - time.monotonic())) for m in list(_MEMORIES))


def human_translations(
    session: Session, texts: Sequence[str], source: str, target: str
) -> dict[str, str]:
    """Reviewed human translations of texts that are exactly some stored content text.

    A source text counts if it is the German master or a reviewed translation; the target text must
    be the master or a reviewed translation of the same (or a newer) master version.
    """
    wanted = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    if not wanted:
        return {}
    trusted = [TextStatus.SOURCE, TextStatus.REVIEWED]
    found: dict[str, str] = {}
    for chunk in _chunks(wanted):
        sources = session.exec(
            select(Translation).where(
                Translation.language == source,
                col(Translation.text).in_(list(chunk)),
                col(Translation.status).in_(trusted),
            )
        ).all()
        for src in sources:
            if src.text in found:
                continue
            tgt = session.exec(
                select(Translation).where(
                    Translation.owner_type == src.owner_type,
                    Translation.owner_key == src.owner_key,
                    Translation.field == src.field,
                    Translation.language == target,
                    col(Translation.status).in_(trusted),
                    Translation.source_version >= src.source_version,
                )
            ).first()
            if tgt is not None:
                found[src.text] = tgt.text
    return found


def purge_memory(session: Session, before: datetime) -> int:
    """Delete memory entries created before ``before`` (the retention period); returns how many."""
    result = session.execute(delete(MemoryEntry).where(col(MemoryEntry.created_at) < before))
    return int(getattr(result, "rowcount", 0) or 0)
