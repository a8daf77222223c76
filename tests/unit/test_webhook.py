"""Telegram's webhook (reference tests 1–3): the secret checked, bad bodies refused without a write,
an update stored before the 200, handled once however often Telegram delivers it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.app import create_app
from bot.channels.telegram import build_application
from lotse.runtime import Runtime
from lotse.settings import TelegramSettings
from storage import telegram_updates
from storage.db import session_scope
from storage.models import TelegramUpdate
from tests.support.fake_telegram import FakeTelegram
from tests.support.offline import offline_runtime

SECRET = "webhook-secret-0123456789"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    tg = FakeTelegram().start()
    yield tg
    tg.stop()


@pytest.fixture
async def runtime(seeded: Engine, database_url: str, tmp_path: Path, telegram) -> AsyncIterator[Runtime]:
    rt = offline_runtime(
        database_url,
        tmp_path,
        telegram=TelegramSettings(
            bot_token=telegram.token,
            base_url=telegram.base_url,
            base_file_url=telegram.base_file_url,
            mode="webhook",
            webhook_secret=SecretStr(SECRET),
        ),
    )
    yield rt
    await rt.close()


def update(update_id: int, chat: int, text: str) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1764633600,
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "A", "language_code": "de"},
            "text": text,
        },
    }


async def test_the_secret_is_checked_and_nothing_is_written_without_it(runtime: Runtime, caplog):
    app = create_app(runtime, background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        body = json.dumps(update(1, 7001, "hallo"))
        with caplog.at_level(logging.DEBUG):
            for headers in (
                {},
                {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1]},
            ):
                resp = await c.post("/telegram/webhook", content=body, headers=headers)
                assert resp.status_code == 403
        assert SECRET[:-1] not in caplog.text and "wrong" not in caplog.text
        bad = await c.post(
            "/telegram/webhook", content=b"not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert bad.status_code == 400
    with session_scope(runtime.engine) as s:
        assert s.exec(select(TelegramUpdate)).all() == []


async def test_an_update_is_answered_at_once_and_handled_once(runtime: Runtime, telegram: FakeTelegram):
    app = create_app(runtime, background=False)
    application = build_application(runtime)
    await application.initialize()
    await application.start()
    app.state.telegram = application
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            telegram.open_chat(7002)  # the person started the bot
            body = json.dumps(update(42, 7002, "hallo"))
            first = await c.post("/telegram/webhook", content=body, headers=headers)
            assert first.status_code == 200
            # Telegram delivers again (sequentially and at the same time): 200, never a second run.
            again = await asyncio.gather(
                *(c.post("/telegram/webhook", content=body, headers=headers) for _ in range(3))
            )
            assert {r.status_code for r in again} == {200}
        for _ in range(100):
            if telegram.sent(7002):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert len(telegram.sent(7002)) == 1  # one privacy notice, not four
        with session_scope(runtime.engine) as s:
            assert s.exec(select(TelegramUpdate)).all() == []  # handled: no longer kept
    finally:
        await application.stop()
        await application.shutdown()


async def _sent(telegram: FakeTelegram, chat: int, count: int) -> list[dict]:
    for _ in range(200):
        if len(telegram.sent(chat)) >= count:
            break
        await asyncio.sleep(0.05)
    return telegram.sent(chat)


async def test_a_late_button_answer_still_counts_and_an_edit_gets_no_second_reply(
    runtime: Runtime, telegram: FakeTelegram
):
    """Issue 10 #14: answering a press is a courtesy ("query is too old" after downtime loses
    nothing); an edited message is not a new question (the answer to the first one stands)."""
    from tests.support import fake_telegram as ft

    app = create_app(runtime, background=False)
    application = build_application(runtime)
    await application.initialize()
    await application.start()
    app.state.telegram = application
    chat = 7003
    telegram.open_chat(chat)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            assert (
                await c.post("/telegram/webhook", json=update(50, chat, "/start"), headers=headers)
            ).status_code == 200
            [notice] = await _sent(telegram, chat, 1)
            telegram.inject("answerCallbackQuery", ft.QUERY_TOO_OLD)
            press = {
                "update_id": 51,
                "callback_query": {
                    "id": "cb-late-51",
                    "from": {"id": chat, "is_bot": False, "first_name": "A", "language_code": "de"},
                    "chat_instance": str(chat),
                    "data": "c:y:de",
                    "message": {
                        "message_id": notice["message_id"],
                        "date": 1764633600,
                        "chat": {"id": chat, "type": "private"},
                        "text": notice["text"],
                    },
                },
            }
            assert (await c.post("/telegram/webhook", json=press, headers=headers)).status_code == 200
            sent = await _sent(telegram, chat, 2)
            assert len(sent) == 2 and sent[1]["text"] == runtime.renderer.text("language_prompt", "de")
            assert "query is too old" in " ".join(telegram.refusals("answerCallbackQuery"))
            edited = {
                "update_id": 52,
                "edited_message": {**update(50, chat, "/help")["message"], "edit_date": 1764633700},
            }
            assert (await c.post("/telegram/webhook", json=edited, headers=headers)).status_code == 200
            await asyncio.sleep(0.5)
            assert len(telegram.sent(chat)) == 2  # no second reply to an edit
    finally:
        await application.stop()
        await application.shutdown()


def test_a_handled_update_is_not_kept_again(engine: Engine):
    """Reliability #2: Telegram redelivers an update after it was handled: it is not queued again,
    and nothing of its content is kept."""
    payload = update(77, 7077, "hallo")
    with session_scope(engine) as s:
        assert telegram_updates.keep(session=s, update_id=77, payload=payload)
    with session_scope(engine) as s:
        assert not telegram_updates.keep(session=s, update_id=77, payload=payload)  # waiting
        telegram_updates.forget(session=s, update_id=77)
    with session_scope(engine) as s:
        assert not telegram_updates.keep(session=s, update_id=77, payload=payload)  # handled
        assert telegram_updates.waiting(session=s) == []
        assert s.exec(select(TelegramUpdate)).all() == []
