"""#15 write contention: 4 writer processes × 1,000 transactions (full) plus a reader, on SQLite and on
PostgreSQL, through the product's engine (``storage.db.make_engine``) and storage functions.

Each transaction is one the app makes (``tests/reliability/write_worker.py``: consent, two stored
messages with their update keys, a reply in the outbox, every fifth also an erasure): it reads before
it writes, the case in which SQLite answers ``database is locked`` despite a busy timeout unless the
transaction takes the write lock when it begins.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from storage.db import make_engine
from tests.reliability.conftest import FULL, ROOT, Figure, scale


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]


def test_15_write_contention(database_url: str, engine: Engine, tmp_path: Path, figure: Figure):
    per_writer = scale(60, 1000)
    writers = 4
    start_at = time.time() + 3.0
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.reliability.write_worker",
                database_url,
                f"w{i}",
                str(per_writer),
                str(start_at),
            ],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(writers)
    ]
    reads: list[float] = []
    read_errors: list[str] = []
    done = threading.Event()

    def reader() -> None:
        eng = make_engine(database_url)
        time.sleep(max(0.0, start_at - time.time()))
        while not done.is_set():
            t0 = time.perf_counter()
            try:
                with eng.connect() as conn:
                    conn.execute(
                        text(
                            "SELECT p.id, COUNT(m.id) FROM person p LEFT JOIN inboundmessage m "
                            "ON m.person_id = p.id GROUP BY p.id ORDER BY p.id DESC LIMIT 20"
                        )
                    ).fetchall()
            except OperationalError as exc:
                read_errors.append(str(exc.orig)[:100])
            reads.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.005)
        eng.dispose()

    thread = threading.Thread(target=reader)
    thread.start()
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=scale(180, 900))
            assert p.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        done.set()
        thread.join(timeout=30)
    durations = [ms for r in results for ms in r["ms"]]
    errors = [e for r in results for e in r["errors"]]
    locked = [e for e in errors + read_errors if "locked" in e or "busy" in e]
    with engine.connect() as conn:
        people = conn.execute(text("SELECT COUNT(*) FROM person WHERE external_id LIKE 'w%'")).scalar()
    kind = database_url.split(":")[0].split("+")[0]
    summary = (
        f"{kind}: {writers}x{per_writer} transactions + reader: {len(locked)} 'database is locked', "
        f"{len(errors)} write errors, p99 write {p99(durations):.1f} ms (p50 "
        f"{statistics.median(durations):.1f}), p99 read {p99(reads):.1f} ms over {len(reads)} reads"
    )
    print(summary)
    assert len(durations) == writers * per_writer
    assert not locked, locked[:3]
    assert not errors and not read_errors, (errors[:3], read_errors[:3])
    # every 5th transaction erased an earlier person: 4 of 5 remain
    assert people == writers * (per_writer - per_writer // 5)
    # The latency criterion is a measurement, not a quick check: `make reliability` (full size) judges
    # it; `make test` records the figure only (a timed assertion would fail on a busy machine).
    if FULL:
        assert p99(durations) < 50.0, summary
    note = "" if FULL else "; p99 recorded, judged in make reliability"
    figure(15, "write contention (4 writers + reader)", summary + note)
