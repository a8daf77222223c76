"""The safety net runs first, on every text, in every state, without Rasa (Rasa is not running here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from lotse.runtime import Runtime
from lotse.settings import ConversationSettings
from services.conversation.pipeline import Inbound
from storage.db import session_scope
from storage.handoff import open_handoff
from storage.models import HandoffRequest, InboundMessage, Person
from tests.support.offline import offline_runtime

DANGER = "ich will mich umbringen"


@pytest.fixture
async def runtime(seeded: Engine, database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = offline_runtime(
        database_url, tmp_path, conversation=ConversationSettings(max_message_chars=200)
    )
    yield rt
    await rt.close()


def inbound(**kw) -> Inbound:
    return Inbound(channel="web", external_id="w-safety", **kw)


async def onboard(rt: Runtime, lang: str = "de") -> None:
    await rt.conversation.handle(inbound(text="hi", hint_language=lang))
    await rt.conversation.handle(inbound(payload=f"c:y:{lang}"))
    await rt.conversation.handle(inbound(payload=f"lang:{lang}"))


def rows(engine: Engine, model) -> list:
    with session_scope(engine) as s:
        return list(s.exec(select(model)).all())


async def test_before_consent_the_numbers_come_and_nothing_is_stored(runtime: Runtime):
    out = await runtime.conversation.handle(inbound(text=DANGER, hint_language="ar"))
    assert [m.meta["response"] for m in out] == ["emergency_numbers", "privacy_notice"]
    assert out[0].meta["language"] == "ar" and "110" in out[0].text and "112" in out[0].text
    assert rows(runtime.engine, Person) == [] and rows(runtime.engine, InboundMessage) == []


async def test_while_rasa_is_down_the_numbers_come_and_a_person_is_told_urgently(runtime: Runtime):
    await onboard(runtime)
    [answer] = await runtime.conversation.handle(inbound(text=DANGER))
    assert answer.meta["response"] == "utter_emergency" and "110" in answer.text
    [req] = rows(runtime.engine, HandoffRequest)
    assert req.urgent and req.reason == "sensitive"
    [person] = rows(runtime.engine, Person)
    assert person.paused
    [msg] = [m for m in rows(runtime.engine, InboundMessage) if m.text == DANGER]
    assert msg.status == "handed_off"  # kept for the case manager, never lost


async def test_a_paused_conversation_still_gets_the_numbers_and_is_flagged_urgent(runtime: Runtime):
    await onboard(runtime)
    with session_scope(runtime.engine) as s:
        person = s.exec(select(Person)).one()
        open_handoff(session=s, person_id=person.id, reason="user")
    [ack] = await runtime.conversation.handle(inbound(text="noch eine frage"))
    assert ack.meta["response"] == "handoff_paused_ack"
    [answer] = await runtime.conversation.handle(inbound(text="er schlägt mich"))
    assert answer.meta["response"] == "utter_emergency"
    [req] = rows(runtime.engine, HandoffRequest)
    assert req.urgent and req.reason == "user"  # the same hand-off, now first in the inbox


async def test_a_too_long_message_with_danger_gets_the_numbers_first(runtime: Runtime):
    await onboard(runtime, "en")
    text = "I have so many problems. " * 20 + "I want to kill myself."
    assert len(text) > 200
    [answer] = await runtime.conversation.handle(inbound(text=text))
    assert answer.meta["response"] == "utter_emergency" and answer.meta["language"] == "en"


async def test_invisible_characters_cannot_hide_a_danger_phrase(runtime: Runtime):
    await onboard(runtime)
    [answer] = await runtime.conversation.handle(inbound(text="ich will mich um\u200bbringen"))
    assert answer.meta["response"] == "utter_emergency"


async def test_a_group_chat_gets_one_sentence_and_nothing_is_stored(runtime: Runtime):
    out = await runtime.conversation.handle(
        Inbound(channel="telegram", external_id="-100123", text="/mydata", private=False)
    )
    assert [m.meta["response"] for m in out] == ["group_chat_refused"]
    danger = await runtime.conversation.handle(
        Inbound(channel="telegram", external_id="-100123", text=DANGER, private=False)
    )
    assert [m.meta["response"] for m in danger] == ["emergency_numbers", "group_chat_refused"]
    assert rows(runtime.engine, Person) == [] and rows(runtime.engine, InboundMessage) == []
