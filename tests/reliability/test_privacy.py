"""#17 erasure reaches every store, #18 the export is complete and valid, #19 the retention purge.

The person erases themselves in the chat (``/delete``, the button ``d:y``) as on Telegram; then every
store is searched for them: the app database (the raw SQLite files too, main file and WAL, so that free
pages keep nothing), Rasa's tracker store, the scheduler's job store, the outbox and the log file the
run wrote.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import jsonschema
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import select

from scheduler.jobs import install_jobs
from scheduler.setup import build_scheduler
from services.privacy import Privacy, TrackerStore
from storage.db import session_scope, utcnow
from storage.handoff import open_handoff
from storage.models import InboundMessage, OutboundMessage, Person
from tests.reliability.conftest import ROOT, Figure, scale
from tests.reliability.conversation_run import (
    Client,
    converse,
    deliver_everything,
    product_logging,
    runtime_for,
)
from tests.support.fake_telegram import FakeTelegram
from tests.unit.test_privacy import SCHEMA, add_events


def rows_mentioning(url: str, needles: list[str]) -> dict[str, int]:
    """Every text-like column of every table of a database, searched for each needle: table -> hits."""
    engine = create_engine(url)
    hits: dict[str, int] = {}
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')).fetchall():
                    blob = json.dumps([str(v) for v in row], ensure_ascii=False)
                    n = sum(blob.count(x) + blob.count(json.dumps(x)[1:-1]) for x in needles)
                    if n:
                        hits[table] = hits.get(table, 0) + n
    finally:
        engine.dispose()
    return hits


def raw_hits(paths: list[Path], needles: list[str]) -> dict[str, int]:
    """The raw bytes of database files (free pages and WAL frames included) searched for each needle."""
    out: dict[str, int] = {}
    for path in paths:
        if not path.exists():
            continue
        data = path.read_bytes()
        n = sum(data.count(x.encode()) for x in needles)
        if n:
            out[path.name] = n
    return out


async def test_17_erasure_reaches_every_store(
    seeded: Engine, database_url: str, fake: FakeTelegram, tmp_path: Path, figure: Figure
):
    others = scale(3, 50)
    log = tmp_path / "app.log"
    with product_logging(log):
        runtime = runtime_for(database_url, tmp_path, fake)
        try:
            update = [0]
            x = Client(chat=8_100_001, name="Amira Haddad", phone="01761234567")
            bystanders = [
                Client(chat=8_200_000 + i, name=f"Bystander{i} Test", phone=f"0151{i:07d}")
                for i in range(others)
            ]
            for c in [x, *bystanders]:
                await converse(runtime, fake, c, update)
            await deliver_everything(runtime)
            scheduler = build_scheduler()
            install_jobs(scheduler, runtime)
            t0 = time.monotonic()
            out = await runtime.conversation.handle(_inbound(x, payload="d:y", update_key="tg:erase"))
            elapsed = time.monotonic() - t0
            raw: dict[str, int] = {}
            bystander_found = False
            tracker_url = str(runtime.privacy.tracker.url)
            if database_url.startswith("sqlite"):
                db = Path(database_url.split("///", 1)[1])
                tracker = Path(tracker_url.split("///", 1)[1])
                files = [
                    db,
                    Path(f"{db}-wal"),
                    tracker,
                    Path(f"{tracker}-wal"),
                    Path(f"{tracker}-journal"),
                ]
                raw = raw_hits(files, [x.name, x.phone, *x.texts])
                bystander_found = raw_hits(files, [bystanders[0].name]) != {}
                with runtime.engine.connect() as conn:  # the product's connections say so too
                    assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        finally:
            await runtime.close()
    assert [m.meta["response"] for m in out] == ["delete_done", "delete_receipt"]
    needles = [str(x.chat), x.name, x.phone, x.pid]
    # The erasure's own receipt row names the person only by pseudonym: that is the record kept.
    with session_scope(seeded) as s:
        from storage.models import ErasureRequest

        [req] = s.exec(select(ErasureRequest).where(ErasureRequest.pseudonym == x.pid)).all()
        receipt = {r["store"]: r for r in req.receipt}
        assert req.status == "done" and all(r["status"] == "ok" for r in req.receipt)
    app_hits = rows_mentioning(database_url, [str(x.chat), x.name, x.phone])
    pseudonym_rows = rows_mentioning(database_url, [x.pid])
    assert app_hits == {}, app_hits
    assert set(pseudonym_rows) <= {"erasurerequest", "auditevent"}, pseudonym_rows
    assert rows_mentioning(tracker_url, needles) == {}
    assert TrackerStore(tracker_url).count(x.pid) == 0
    # The scheduler's job store: in memory, and no job carries a person's data.
    scheduler.start(paused=True)
    try:
        jobs = scheduler.get_jobs()
        stores = {type(store).__name__ for store in scheduler._jobstores.values()}
    finally:
        scheduler.shutdown(wait=False)
    assert jobs and all(j.args == () and j.kwargs == {} for j in jobs)
    assert stores == {"MemoryJobStore"}, stores
    # PTB persistence: none is configured (a PicklePersistence file would be one more store to erase).
    sources = [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("lotse").rglob("*.py")]
    assert not [p.name for p in sources if "Persistence(" in p.read_text(encoding="utf-8")]
    # The outbox (replies, the reminder) went with the person.
    with session_scope(seeded) as s:
        assert s.exec(select(OutboundMessage).where(OutboundMessage.person_id == x.pid)).all() == []
        assert s.exec(select(Person).where(Person.id == x.pid)).all() == []
        kept = s.exec(select(InboundMessage)).all()
        assert len({m.person_id for m in kept}) == others  # the bystanders are untouched
    # The log file the run wrote.
    log_text = log.read_text(encoding="utf-8")
    log_hits = {n: log_text.count(n) for n in [str(x.chat), x.name, x.phone, *x.texts] if n in log_text}
    assert log_hits == {}, log_hits
    # The raw SQLite files, scanned while the app still runs (the WAL is still there): deleted rows
    # must not survive in free pages or in WAL frames.
    assert raw == {}, raw
    if database_url.startswith("sqlite"):
        assert bystander_found  # the scan does find what is kept
    assert elapsed < 60
    figure(
        17,
        "erasure reaches every store",
        f"{database_url.split(':')[0]}: 0 hits for chat id, name, phone, texts in the app DB "
        f"({'raw files and WAL included, ' if raw == {} and database_url.startswith('sqlite') else ''}"
        f"pseudonym only in the erasure receipt and audit rows), Rasa tracker, outbox, log; scheduler "
        f"job store in memory without person data; no PTB persistence; receipt lists "
        f"{len(receipt)} stores ({', '.join(receipt)}) all ok; "
        f"{elapsed:.2f} s with {others} others kept",
    )


def _inbound(c: Client, **kw: object):  # type: ignore[no-untyped-def]
    from services.conversation.pipeline import Inbound

    return Inbound(channel="telegram", external_id=str(c.chat), **kw)  # type: ignore[arg-type]


async def test_18_export_is_complete_and_valid(
    seeded: Engine, database_url: str, fake: FakeTelegram, tmp_path: Path, figure: Figure
):
    """A person with a long history: one JSON document with profile, consent, appointments,
    transcripts, hand-offs and the audit entries about them, schema-valid, in under 60 s."""
    n = scale(300, 5000)
    runtime = runtime_for(database_url, tmp_path, fake)
    try:
        c = Client(chat=8_300_001, name="Export Person", phone="0170000000")
        await converse(runtime, fake, c, [1000])
        await deliver_everything(runtime)
        with session_scope(seeded) as s:
            for i in range(n):
                s.add(InboundMessage(person_id=c.pid, channel="telegram", text=f"Nachricht {i} " * 20))
                s.add(
                    OutboundMessage(
                        person_id=c.pid, channel="telegram", text=f"Antwort {i}", buttons=[], meta={}
                    )
                )
            handoff, _ = open_handoff(session=s, person_id=c.pid, reason="user")
        assert handoff.id is not None
        runtime.handoff.conversation(handoff.id, staff="k.mueller", reason="answer_request")
        t0 = time.monotonic()
        document = json.loads(runtime.privacy.export_json(c.pid))
        elapsed = time.monotonic() - t0
    finally:
        await runtime.close()
    jsonschema.validate(document, SCHEMA)
    assert document["person"]["pseudonym"] == c.pid and document["person"]["consent"]
    assert len(document["messages"]) >= n + len(c.texts)
    assert len(document["answers"]) >= n
    assert document["handoffs"] and document["appointments"]
    assert any(a["action"] == "conversation.read" for a in document["staff_access"])
    assert elapsed < 60
    size = len(json.dumps(document)) / 1e6
    figure(
        18,
        "export is complete and valid",
        f"{database_url.split(':')[0]}: {len(document['messages'])} messages, "
        f"{len(document['answers'])} answers, {len(document['appointments'])} appointment(s), "
        f"{len(document['handoffs'])} hand-off(s), {len(document['staff_access'])} audit entries; "
        f"schema-valid, {size:.1f} MB in {elapsed:.2f} s",
    )


async def test_19_retention_purge(seeded: Engine, database_url: str, tmp_path: Path, figure: Figure):
    """Time travel: half the people's messages and Rasa events aged past the retention period; the
    purge deletes exactly those, leaves the others, and a second run changes nothing."""
    from storage import people

    n = scale(100, 2000)
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    old = utcnow() - timedelta(days=200)
    pids = []
    with session_scope(seeded) as s:
        for i in range(n):
            p = people.record_consent(
                session=s, channel="telegram", external_id=str(8_400_000 + i), given=True, version="v1"
            )
            pids.append(p.id)
            s.add(InboundMessage(person_id=p.id, channel="telegram", text=f"alt {i}", received_at=old))
            s.add(InboundMessage(person_id=p.id, channel="telegram", text=f"neu {i}"))
    add_events(tracker_url, "someone", [])  # Rasa's table, as Rasa 3.6 creates it
    tracker = create_engine(tracker_url)
    with tracker.begin() as conn:
        for pid in pids:
            for t, ts in (("alt", old.timestamp()), ("neu", utcnow().timestamp())):
                conn.execute(
                    text(
                        "INSERT INTO events (sender_id, type_name, timestamp, data) "
                        "VALUES (:s, 'user', :t, :d)"
                    ),
                    {"s": pid, "t": ts, "d": json.dumps({"text": t})},
                )
    tracker.dispose()
    privacy = Privacy(seeded, tracker=TrackerStore(tracker_url), retention_days=180)
    t0 = time.monotonic()
    report = privacy.purge_expired()
    elapsed = time.monotonic() - t0
    again = privacy.purge_expired()
    assert report["messages"] >= n and report["conversation_engine"] == n, report
    assert all(v == 0 for k, v in again.items() if k != "erasures_completed"), again
    with session_scope(seeded) as s:
        texts = [m.text or "" for m in s.exec(select(InboundMessage)).all()]
    assert sorted(texts) == sorted(f"neu {i}" for i in range(n))
    assert sum(TrackerStore(tracker_url).count(pid) for pid in pids) == n
    figure(
        19,
        "retention purge",
        f"{database_url.split(':')[0]}: {n} old messages and {n} old Rasa events purged, {n} + {n} "
        f"within retention untouched, second run 0 changes; {elapsed:.2f} s",
    )
