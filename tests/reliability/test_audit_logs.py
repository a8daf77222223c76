"""#20 the audit trail of a case manager opening a case; #21 what the raw database files and the logs
of a conversation run hold (no token, no secret, no user text at INFO, no forged log line).

#20 goes through the staff console over HTTP (``tests.unit.test_console``'s browser against the real
app) on a trail that already holds many rows; #21 runs conversations through the app's runtime with the
product's logging (``tests/reliability/conversation_run.py``) and the Telegram adapter's handler.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from telegram import Update

from bot.channels.telegram import on_message
from lotse.settings import ConsoleSettings, WebSettings
from services.audit import Actor
from services.conversation.pipeline import Inbound
from storage.db import session_scope, utcnow
from storage.models_audit import AuditEvent
from tests.reliability.conftest import Figure, scale
from tests.reliability.conversation_run import (
    WEBHOOK_SECRET,
    Client,
    converse,
    deliver_everything,
    product_logging,
    runtime_for,
)
from tests.support.fake_telegram import FakeTelegram
from tests.support.offline import offline_runtime
from tests.unit.test_console import PASSWORD, audit_rows, handoff, signed_in


async def test_20_audit_trail_of_opening_a_case(
    seeded: Engine, database_url: str, tmp_path: Path, figure: Figure
):
    """A case manager opens case Y in the console: an append-only row says who, when, which case and
    why. Changing or deleting a row is refused by PostgreSQL, and found by the hash-chain check on
    every database."""
    before = scale(500, 10_000)
    rt = offline_runtime(
        database_url,
        tmp_path,
        web=WebSettings(secret="test-secret-test-secret"),
        console=ConsoleSettings(idle_minutes=30, poll_seconds=5),
    )
    try:
        rt.staff.create("cm", "Clara Meier", PASSWORD, ["case_manager"], actor=Actor.cli("test"))
        for i in range(before):  # a trail that has been in use
            rt.audit.record(
                Actor.cli("test"), "content.edit", target=f"entry:{i}", reason="answer_request"
            )
        handoff_id, person_id = handoff(seeded, who="w-case-y")
        t0 = utcnow()
        async with signed_in(rt, "cm") as (cm, csrf):
            opened = await cm.post(
                f"/console/handoffs/{handoff_id}/open", data={"reason": "answer_request", "csrf": csrf}
            )
            assert opened.status_code == 303
            page = await cm.get(f"/console/handoffs/{handoff_id}")
            assert page.status_code == 200
        [read] = audit_rows(seeded, "conversation.read")
        assert (read.actor, read.person, read.target, read.reason) == (
            "cm",
            person_id,
            f"handoff:{handoff_id}",
            "answer_request",
        )
        assert t0 - timedelta(seconds=1) <= read.at <= utcnow()
        started = time.monotonic()
        assert rt.audit.verify().ok
        verify_s = time.monotonic() - started
        # Tampering with the row.
        refused = 0
        with seeded.connect() as conn:
            for sql in (
                "UPDATE auditevent SET actor = 'someone-else' WHERE id = :id",
                "DELETE FROM auditevent WHERE id = :id",
            ):
                try:
                    with conn.begin():
                        conn.execute(text(sql), {"id": read.id})
                except DBAPIError:
                    refused += 1
        if seeded.dialect.name == "postgresql":
            assert refused == 2  # the trigger refuses UPDATE and DELETE
            with pytest.raises(DBAPIError), seeded.begin() as conn:
                conn.execute(text("TRUNCATE auditevent"))
            detected = "refused by the database (UPDATE, DELETE, TRUNCATE)"
        else:
            assert refused == 0  # SQLite has no permissions: the chain check must find it
            found = rt.audit.verify()
            assert not found.ok and found.problem in ("changed", "missing"), found
            # A changed middle row is found as well (the UPDATE above was undone by the DELETE).
            with session_scope(seeded) as s:
                middle = s.get(AuditEvent, before // 2)
                assert middle is not None
                middle.reason = "tampered"
                s.add(middle)
            first = rt.audit.verify()
            assert not first.ok and first.broken_id == before // 2 and first.problem == "changed"
            detected = f"found by the chain check (deleted row; changed row {before // 2} named)"
    finally:
        await rt.close()
    figure(
        20,
        "audit trail of opening a case",
        f"{database_url.split(':')[0]}: console open wrote who/when/which case/why; "
        f"tampering {detected}; verify of {before + 3} rows in {verify_s:.2f} s",
    )


FORGED = "2026-01-01 00:00:00,000 INFO console.auth: admin signed in"


def contact_update(update_id: int, chat: int, phone: str, first_name: str) -> dict[str, object]:
    """A Telegram update with a shared contact (phone number and names), as Telegram sends it."""
    user = {"id": chat, "is_bot": False, "first_name": first_name, "last_name": "Kontakt"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private", "first_name": first_name},
            "from": user,
            "contact": {"phone_number": phone, "first_name": first_name, "user_id": chat},
        },
    }


async def test_21_raw_files_and_logs_after_a_conversation_run(
    seeded: Engine, database_url: str, fake: FakeTelegram, tmp_path: Path, figure: Figure
):
    people = scale(3, 30)
    log = tmp_path / "app.log"
    clients = [
        Client(chat=8_500_000 + i, name=f"Leyla{i} Yilmaz", phone=f"0176{i:07d}") for i in range(people)
    ]
    contact_phone, contact_name = "+4915112345678", "Kontaktname"
    with product_logging(log):
        runtime = runtime_for(database_url, tmp_path, fake)
        try:
            update = [5000]
            for c in clients:
                await converse(runtime, fake, c, update)
            # A sender and a message id with line breaks try to write a log line of their own.
            bodies = [{"text": "hallo"}, {"payload": "c:y:de"}, {"payload": "lang:de"}]
            bodies += [{"text": f"x\r\n{FORGED}"}, {"text": f"x\r\n{FORGED}"}]  # the last: again
            for i, body in enumerate(bodies):
                await runtime.conversation.handle(
                    Inbound(
                        channel="web",
                        external_id=f"evil\n{FORGED}",
                        update_key=f"web:m{min(i, 3)}\r\n{FORGED}",
                        **body,  # type: ignore[arg-type]
                    )
                )
            # A shared contact (phone number, names) through the Telegram adapter's handler.
            bot = runtime.telegram_bot
            assert bot is not None
            await bot.initialize()
            fake.open_chat(clients[0].chat)
            upd = Update.de_json(contact_update(9001, clients[0].chat, contact_phone, contact_name), bot)
            await on_message(upd, SimpleNamespace(runtime=runtime))  # type: ignore[arg-type]
            await deliver_everything(runtime)
            db_files: list[Path] = []
            if database_url.startswith("sqlite"):
                db = Path(database_url.split("///", 1)[1])
                tracker = Path(str(runtime.privacy.tracker.url).split("///", 1)[1])
                db_files = [p for p in (db, Path(f"{db}-wal"), tracker) if p.exists()]
            raw = b"".join(p.read_bytes() for p in db_files)
        finally:
            await runtime.close()
    log_text = log.read_text(encoding="utf-8")
    lines = log_text.splitlines()
    assert len(lines) > 20  # the run did log
    secrets = {"bot token": fake.token, "webhook secret": WEBHOOK_SECRET}
    assert [k for k, v in secrets.items() if v in log_text] == []
    assert [k for k, v in secrets.items() if v.encode() in raw] == []
    user_texts = (
        [t for c in clients for t in c.texts] + [c.name for c in clients] + [c.phone for c in clients]
    )
    assert [t for t in user_texts if t in log_text] == []  # no user text at INFO
    assert not [ln for ln in lines if ln.startswith(FORGED)], "a forged log line"
    # The forging sender's message did reach a log statement (logged by its ids only).
    assert log_text.count("Rasa unavailable") >= people + 1
    assert contact_phone not in log_text and contact_name not in log_text
    findings = []
    if raw:
        assert contact_phone.encode() not in raw and contact_name.encode() not in raw
        assert not any(
            c.name.split()[0].encode() in raw for c in clients if c.name not in " ".join(c.texts)
        )
        in_free_text = sum(1 for c in clients if c.phone.encode() in raw)
        findings.append(
            f"a phone number a person types into a message is stored as written ({in_free_text}/"
            f"{people} in inboundmessage and Rasa's tracker, no field encryption); shared contacts and "
            "Telegram first names are never stored"
        )
    figure(
        21,
        "raw files and log hygiene",
        f"{database_url.split(':')[0]}: {len(lines)} log lines, 0 with bot token, webhook secret, "
        f"user text, name or phone; 0 forged lines (sender/message id with \\n); raw DB files: 0 tokens"
        + (f"; {findings[0]}" if findings else ""),
    )
