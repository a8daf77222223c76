"""The same conversations through Telegram: python-telegram-bot long-polls the fake Bot API server."""

from __future__ import annotations

import itertools
import time

import pytest
from sqlalchemy.engine import Engine

from rendering.renderer import Renderer
from services.audit import Audit
from services.handoff import HandoffDesk
from services.outbox import Outbox
from storage import outbox as outbox_rows
from storage import people
from storage.db import session_scope
from storage.handoff import open_handoffs
from storage.seed import TOPICS
from tests.support.fake_telegram import FakeTelegram
from tests.support.stack import Stack
from translations.engine import NullTranslator

pytestmark = pytest.mark.e2e
_chat_ids = itertools.count(700_000)


def last_buttons(tg: FakeTelegram, chat: int) -> list[tuple[str, str]]:
    return tg.buttons(tg.sent(chat)[-1])


def test_english_conversation_on_telegram(stack: Stack, texts: Renderer):
    tg, chat = stack.telegram, next(_chat_ids)
    tg.send_text(chat, "/start", language="en")
    [notice] = tg.wait_sent(chat, 1)
    assert notice["text"] == texts.text("privacy_notice", "en")
    assert [d for _, d in tg.buttons(notice)] == ["c:y:en", "c:n:en", "c:l"]

    tg.press(chat, "c:y:en", notice["message_id"], language="en")
    prompt = tg.wait_sent(chat, 2)[-1]
    assert prompt["text"] == texts.text("language_prompt", "en")
    assert ("English", "lang:en") in tg.buttons(prompt)

    tg.press(chat, "lang:en", prompt["message_id"], language="en")
    confirm, greet = tg.wait_sent(chat, 4)[2:4]
    assert confirm["text"] == texts.text("language_set", "en")
    assert greet["text"] == texts.text("utter_greet", "en")
    assert [d for _, d in tg.buttons(greet)] == [f"i:ask_{t}" for t in TOPICS] + ["i:request_human"]
    # Every button's callback data fits Telegram's 64-byte limit.
    assert all(len(d.encode()) <= 64 for _, d in tg.buttons(greet))

    tg.press(chat, "i:ask_naturalisation", greet["message_id"], language="en")
    answer = tg.wait_sent(chat, 5)[-1]
    assert "naturalisation" in answer["text"].lower() or "citizenship" in answer["text"].lower()
    assert texts.text("faq_footer", "en").split("{")[0][:7] in answer["text"]  # "Source:"

    tg.send_text(chat, "how do I register my kid in a kita?", language="en")
    kita = tg.wait_sent(chat, 6)[-1]
    assert "kita" in kita["text"].lower()

    tg.send_text(chat, "I would like to talk to a human", language="en")
    handoff = tg.wait_sent(chat, 7)[-1]
    assert handoff["text"] == texts.text("utter_handoff_created", "en")


def test_german_conversation_and_language_change(stack: Stack, texts: Renderer):
    tg, chat = stack.telegram, next(_chat_ids)
    tg.send_text(chat, "Hallo", language="de")
    notice = tg.wait_sent(chat, 1)[0]
    assert notice["text"] == texts.text("privacy_notice", "de")
    tg.press(chat, "c:y:de", notice["message_id"])
    prompt = tg.wait_sent(chat, 2)[-1]
    tg.press(chat, "lang:de", prompt["message_id"])
    tg.wait_sent(chat, 4)
    tg.send_text(chat, "Wie viel kostet der Integrationskurs?")
    answer = tg.wait_sent(chat, 5)[-1]
    assert "Integrationskurs" in answer["text"]
    tg.send_text(chat, "/language")
    prompt2 = tg.wait_sent(chat, 6)[-1]
    assert prompt2["text"] == texts.text("language_prompt", "de")
    tg.press(chat, "lang:en", prompt2["message_id"])
    confirm = tg.wait_sent(chat, 8)[-2]
    assert confirm["text"] == texts.text("language_set", "en")


def test_repeated_update_and_double_click_are_processed_once(stack: Stack, texts: Renderer):
    tg, chat = stack.telegram, next(_chat_ids)
    tg.send_text(chat, "/start", language="en", copies=2)  # the same update_id delivered twice
    notice = tg.wait_sent(chat, 1)[0]
    tg.press(chat, "c:y:en", notice["message_id"], language="en", copies=1)
    tg.press(chat, "c:y:en", notice["message_id"], language="en", copies=1)  # double click
    time.sleep(2.0)
    sent = tg.sent(chat)
    assert [m["text"] for m in sent] == [
        texts.text("privacy_notice", "en"),
        texts.text("language_prompt", "en"),
    ]


def test_stickers_and_unknown_commands(stack: Stack, texts: Renderer):
    tg, chat = stack.telegram, next(_chat_ids)
    tg.send_text(chat, "/start", language="en")
    notice = tg.wait_sent(chat, 1)[0]
    tg.press(chat, "c:y:en", notice["message_id"], language="en")
    prompt = tg.wait_sent(chat, 2)[-1]
    tg.press(chat, "lang:en", prompt["message_id"], language="en")
    tg.wait_sent(chat, 4)
    tg.send_sticker(chat, language="en")
    assert tg.wait_sent(chat, 5)[-1]["text"] == texts.text("unsupported_content", "en")
    tg.send_text(chat, "/whatever", language="en")
    assert tg.wait_sent(chat, 6)[-1]["text"] == texts.text("unknown_command", "en")


def test_a_case_managers_reply_reaches_the_person_on_telegram(
    stack: Stack, stack_db: Engine, texts: Renderer
):
    tg, chat = stack.telegram, next(_chat_ids)
    tg.send_text(chat, "/start", language="en")
    [notice] = tg.wait_sent(chat, 1)
    tg.press(chat, "c:y:en", notice["message_id"], language="en")
    prompt = tg.wait_sent(chat, 2)[-1]
    tg.press(chat, "lang:en", prompt["message_id"], language="en")
    tg.wait_sent(chat, 4)
    tg.send_text(chat, "I would like to talk to a human", language="en")
    assert tg.wait_sent(chat, 5)[-1]["text"] == texts.text("utter_handoff_created", "en")
    with session_scope(stack_db) as s:
        person = people.find_person(session=s, channel="telegram", external_id=str(chat))
        assert person is not None
        [req] = [h for h in open_handoffs(session=s) if h.person_id == person.id]
        assert req.id is not None
        handoff_id = req.id
    reply = "Hello, this is Anna from case management. I will call you tomorrow."
    desk = HandoffDesk(  # as the CLI does
        stack_db, NullTranslator(), texts, Outbox(stack_db, {}), Audit(stack_db)
    )
    desk.reply(handoff_id, staff="a.schmidt", text=reply, written_in="en")
    # The app's outbox job sends it within seconds, once, and marks it delivered.
    assert tg.wait_sent(chat, 6)[-1]["text"] == reply
    deadline = time.monotonic() + 10
    while True:
        with session_scope(stack_db) as s:
            waiting = [
                m for m in outbox_rows.of_person(session=s, person_id=person.id) if m.status != "sent"
            ]
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert waiting == []
    time.sleep(4)  # longer than the job's interval: nothing is sent twice
    assert [m["text"] for m in tg.sent(chat)].count(reply) == 1


def test_telegram_refused_nothing_the_bot_sent(stack: Stack):
    """The fake refuses what Telegram refuses: every message and file of the conversations above was
    accepted (only courtesy calls may be refused, e.g. removing a keyboard already removed)."""
    tg = stack.telegram
    assert tg.refusals("sendMessage") == [] and tg.refusals("sendDocument") == []
    assert len(tg.sent()) > 0
