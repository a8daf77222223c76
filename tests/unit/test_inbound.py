"""Inbound messages are at-least-once: stored with their update key, redeliveries answered from storage,
crashed ones recovered, kept ones claimed by one process; normalised before anything looks at them."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from lotse.runtime import Runtime
from services.conversation.pipeline import Inbound
from storage import conversations
from storage.db import session_scope, utcnow
from storage.models import HandoffRequest, InboundMessage, InboundStatus, Person
from tests.support.offline import offline_runtime


@pytest.fixture
async def runtime(seeded: Engine, database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = offline_runtime(database_url, tmp_path)
    yield rt
    await rt.close()


def inbound(sender: str = "w-in", **kw) -> Inbound:
    return Inbound(channel="web", external_id=sender, **kw)


async def onboard(rt: Runtime, sender: str = "w-in", lang: str = "de") -> None:
    await rt.conversation.handle(inbound(sender, text="hi", hint_language=lang))
    await rt.conversation.handle(inbound(sender, payload=f"c:y:{lang}"))
    await rt.conversation.handle(inbound(sender, payload=f"lang:{lang}"))


def rows(engine: Engine, model) -> list:
    with session_scope(engine) as s:
        return list(s.exec(select(model)).all())


async def test_a_retried_message_id_gets_the_same_reply_and_is_stored_once(runtime: Runtime):
    await onboard(runtime)
    first = await runtime.conversation.handle(inbound(text="/help", update_key="web:w-in:m1"))
    again = await runtime.conversation.handle(inbound(text="/help", update_key="web:w-in:m1"))
    assert [m.text for m in again] == [m.text for m in first] and first
    assert len([m for m in rows(runtime.engine, InboundMessage) if m.update_key == "web:w-in:m1"]) == 1


async def test_a_message_a_crashed_process_left_is_recovered(runtime: Runtime):
    await onboard(runtime)
    with session_scope(runtime.engine) as s:
        person = s.exec(select(Person)).one()
        msg, _ = conversations.store_inbound_once(
            session=s, person_id=person.id, channel="web", text="Kita?", payload=None, update_key="k1"
        )
        msg.received_at = utcnow() - timedelta(minutes=10)  # stored, then the process died
        s.add(msg)
    assert await runtime.conversation.retry_pending() == 0  # Rasa is away: kept, not lost
    [kept] = [m for m in rows(runtime.engine, InboundMessage) if m.update_key == "k1"]
    assert kept.status == InboundStatus.PENDING


async def test_two_processes_never_claim_the_same_kept_messages(runtime: Runtime, seeded: Engine):
    for n in range(6):
        await onboard(runtime, f"w-{n}")
        await runtime.conversation.handle(inbound(f"w-{n}", text=f"frage {n}"))  # Rasa away: pending
    claims: list[list[int]] = []

    def claim() -> None:
        got = conversations.claim_pending(seeded, now=utcnow(), stale_after=timedelta(minutes=5))
        claims.append([m.id or 0 for m in got])

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first, second = claims
    assert not set(first) & set(second)
    assert len(first) + len(second) == 6  # every kept message claimed exactly once


async def test_locks_are_freed_when_nobody_uses_them(runtime: Runtime):
    for n in range(300):
        await runtime.conversation.handle(inbound(f"w-lock-{n}", text="hallo"))
    assert len(runtime.conversation.locks) == 0


async def test_normalised_before_commands_and_only_button_intents_pass(runtime: Runtime):
    await onboard(runtime, lang="en")
    [hidden] = await runtime.conversation.handle(inbound(text="\u200b/my_appointments"))
    assert hidden.meta["response"] == "unknown_command"  # never a raw Rasa intent
    [empty] = await runtime.conversation.handle(inbound(text="\u200b\u200e\u2066"))
    assert empty.meta["response"] == "empty_message"
    for forged in ("i:emergency_x", "i:restart", "i:nlu_fallback"):
        [expired] = await runtime.conversation.handle(inbound(payload=forged))
        assert expired.meta["response"] == "button_expired", forged
    assert rows(runtime.engine, HandoffRequest) == []  # nothing forged opened a hand-off


async def test_logs_carry_ids_never_texts_or_forged_lines(runtime: Runtime, caplog):
    sender = "w-x\nFAKE 2026 CRITICAL admin logged in"
    with caplog.at_level(logging.DEBUG):
        await onboard(runtime, sender)
        await runtime.conversation.handle(inbound(sender, text="meine Telefonnummer 0176 1234567"))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "FAKE 2026" not in text and "0176" not in text and "Telefonnummer" not in text
