"""One scheduler across app processes: the jobs run in the process that holds the lock.

PostgreSQL (the scale-out deployment): a session-level advisory lock on a connection of its own; if the
connection dies the lock goes with it, and another process takes over within ``retry`` seconds.
SQLite (the embedded default, one machine): an exclusive ``flock`` on a file beside the database.
Another process stays on standby and says so in ``/healthz``; nothing is ever sent twice either way
(every job claims its rows), but one scheduler keeps the load and the logs sane.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger(__name__)
LOCK_KEY = 0x4B494D4C  # "KIML"


class Leadership:
    """Try to become the process that runs the jobs; ``held`` says whether this one does."""

    def __init__(self, engine: Engine, lock_file: Path | None = None) -> None:
        self.engine = engine
        self.lock_file = lock_file
        self._conn: Connection | None = None
        self._file: IO[Any] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def try_acquire(self) -> bool:
        """True when this process now holds (or already held) the leadership."""
        if self.held:
            return self.still_held()
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar())
            conn.commit()
            if got:
                self._conn = conn
            else:
                conn.close()
            return got
        database = Path(self.engine.url.database or "lotse.db")
        path = self.lock_file or database.with_suffix(".scheduler-lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return True

    def still_held(self) -> bool:
        """Whether the lock is still ours (a dropped PostgreSQL connection loses it)."""
        if self._file is not None:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except Exception:  # the connection is gone, and the advisory lock with it
            logger.warning("scheduler: lost the database connection that held the lock")
            self._conn = None
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
