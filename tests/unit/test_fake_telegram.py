"""The fake Bot API server refuses what Telegram refuses, in Telegram's words, and accepts the rest.

Raw HTTP checks the wire (status, ``error_code``, ``description``, ``parameters.retry_after``); the
injected faults are checked through python-telegram-bot, as the product sees them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from tests.support import fake_telegram as ft
from tests.support import telegram_fixtures
from tests.support.fake_telegram import FakeTelegram

_chats = itertools.count(5_000_001)
# The shared fixtures: one fake server per module, no fault left over, a fresh chat per test.
fake = telegram_fixtures.fake
chat = telegram_fixtures.chat
no_leftover_faults = telegram_fixtures.no_leftover_faults


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    """A plain PTB bot with a short read timeout (the fake's ``Timeout`` holds answers longer)."""
    b = Bot(
        fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=HTTPXRequest(read_timeout=0.5),
    )
    await b.initialize()
    try:
        yield b
    finally:
        await b.shutdown()


def call(fake: FakeTelegram, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    """One request as PTB sends it: form fields, objects JSON-serialised."""
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    r = httpx.post(f"{fake.base_url}{fake.token}/{method}", data=data, timeout=10)
    return r.status_code, r.json()


def refused(fake: FakeTelegram, method: str, error: ft.ApiError, **params: Any) -> None:
    status, body = call(fake, method, **params)
    assert (status, body) == (
        error.error_code,
        {"ok": False, "error_code": error.error_code, "description": error.description},
    )


def keyboard(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"inline_keyboard": [list(buttons)]}


# --- sendMessage ---------------------------------------------------------------------------------


def test_a_message_with_buttons_is_accepted_and_recorded(fake: FakeTelegram, chat: int):
    markup = keyboard(
        {"text": "Ja", "callback_data": "i:affirm"}, {"text": "Web", "url": "https://x.de"}
    )
    status, body = call(fake, "sendMessage", chat_id=str(chat), text="42", reply_markup=markup)
    assert status == 200 and body["ok"]
    msg = body["result"]
    assert msg["chat"] == {"id": chat, "type": "private", "first_name": "Test"}
    assert msg["text"] == "42" and msg["reply_markup"] == markup
    [sent] = fake.sent(chat)
    assert sent["text"] == "42"  # a text that looks like a number stays a text
    assert fake.buttons(sent) == [("Ja", "i:affirm"), ("Web", "https://x.de")]
    assert sent["message_id"] == msg["message_id"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (None, ft.TEXT_EMPTY),
        ("", ft.TEXT_EMPTY),
        (" \n\t ", ft.TEXT_BLANK),
        ("x" * 4097, ft.TOO_LONG),
        ("ü" * 4097, ft.TOO_LONG),  # characters, not bytes
    ],
)
def test_send_message_text_rules(fake: FakeTelegram, chat: int, text: str | None, error: ft.ApiError):
    params = {"chat_id": str(chat)} | ({} if text is None else {"text": text})
    refused(fake, "sendMessage", error, **params)
    assert fake.sent(chat) == []


@pytest.mark.parametrize(
    ("text", "parse_mode"),
    [
        ("x" * 4096, None),
        ("😀" * 4096, None),  # 4,096 code points (8,192 UTF-16 units): TDLib counts code points
        ("\n  " + "x" * 4096 + "  \n", None),  # Telegram trims the ends
        ("<b>" + "x" * 4096 + "</b>", "HTML"),  # counted after entity parsing
    ],
)
def test_send_message_accepts_4096_characters(
    fake: FakeTelegram, chat: int, text: str, parse_mode: str | None
):
    params = {"chat_id": str(chat), "text": text} | ({"parse_mode": parse_mode} if parse_mode else {})
    status, body = call(fake, "sendMessage", **params)
    assert status == 200, body


@pytest.mark.parametrize(
    ("chat_id", "error"),
    [
        ("", ft.CHAT_ID_EMPTY),
        ("not-a-number", ft.CHAT_NOT_FOUND),
        ("@somechannel", ft.CHAT_NOT_FOUND),
        ("12.5", ft.CHAT_NOT_FOUND),
        ("987654321", ft.CHAT_NOT_FOUND),  # a person who never started the bot
    ],
)
def test_send_message_chat_rules(fake: FakeTelegram, chat_id: str, error: ft.ApiError):
    refused(fake, "sendMessage", error, chat_id=chat_id, text="hallo")
    assert fake.refusals("sendMessage")[-1] == error.description


def test_a_blocked_or_removed_bot_is_forbidden(fake: FakeTelegram, chat: int):
    fake.block(chat)
    refused(fake, "sendMessage", ft.BLOCKED, chat_id=str(chat), text="hallo")
    group = -next(_chats)
    fake.open_chat(group, type="group")
    fake.block(group)
    refused(fake, "sendMessage", ft.KICKED["group"], chat_id=str(group), text="hallo")
    fake.unblock(chat)
    assert call(fake, "sendMessage", chat_id=str(chat), text="hallo")[0] == 200


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("{not json", ft.MARKUP_NOT_JSON),
        ([1, 2], ft.MARKUP_NOT_OBJECT),
        ({"inline_keyboard": "x"}, ft.KEYBOARD_NOT_ROWS),
        ({"inline_keyboard": ["x"]}, ft.KEYBOARD_NOT_ROWS),
        ({"inline_keyboard": [["Ja"]]}, ft.BUTTON_NOT_OBJECT),
        (keyboard({"callback_data": "i:affirm"}), ft.BUTTON_NO_TEXT),
        (keyboard({"text": 5, "callback_data": "i:affirm"}), ft.BUTTON_TEXT_NOT_STRING),
        (keyboard({"text": "", "callback_data": "i:affirm"}), ft.BUTTON_TEXT_INVALID),
        (keyboard({"text": "  ", "callback_data": "i:affirm"}), ft.BUTTON_TEXT_INVALID),
        (keyboard({"text": "Ja"}), ft.BUTTON_NO_ACTION),
        (keyboard({"text": "Ja", "callback_data": ""}), ft.BUTTON_NO_ACTION),
        (keyboard({"text": "Ja", "callback_data": "x" * 65}), ft.BUTTON_DATA_INVALID),
        (keyboard({"text": "Ja", "callback_data": "ä" * 33}), ft.BUTTON_DATA_INVALID),  # 66 bytes
        (
            {"inline_keyboard": [[{"text": "A", "callback_data": "a"}], [{"text": "B"}]]},
            ft.BUTTON_NO_ACTION,  # every row is checked
        ),
    ],
)
def test_send_message_reply_markup_rules(fake: FakeTelegram, chat: int, markup: Any, error: ft.ApiError):
    refused(fake, "sendMessage", error, chat_id=str(chat), text="hallo", reply_markup=markup)
    assert fake.sent(chat) == []


@pytest.mark.parametrize(
    "markup",
    [
        keyboard({"text": "Ja", "callback_data": "x" * 64}),
        keyboard({"text": "Ja", "callback_data": "ä" * 32}),  # 64 bytes
        keyboard({"text": "Web", "url": "https://example.org"}),
        {"inline_keyboard": []},
        {"remove_keyboard": True},  # sendMessage also takes the other markups
    ],
)
def test_send_message_accepts_valid_markup(fake: FakeTelegram, chat: int, markup: dict[str, Any]):
    status, body = call(fake, "sendMessage", chat_id=str(chat), text="hallo", reply_markup=markup)
    assert status == 200, body


# --- sendDocument --------------------------------------------------------------------------------


def upload(fake: FakeTelegram, chat_id: int, content: bytes | None, **params: Any) -> httpx.Response:
    files = {"document": ("termin.ics", content)} if content is not None else None
    data = {"chat_id": str(chat_id), **params}
    return httpx.post(f"{fake.base_url}{fake.token}/sendDocument", data=data, files=files, timeout=60)


def test_send_document_rules(fake: FakeTelegram, chat: int):
    ok = upload(fake, chat, b"BEGIN:VCALENDAR")
    assert ok.status_code == 200 and ok.json()["result"]["document"]["file_name"] == "termin.ics"
    [doc] = fake.documents(chat)
    assert doc.files["document"] == ("termin.ics", b"BEGIN:VCALENDAR")
    too_big = upload(fake, chat, b"\0" * (ft.UPLOAD_MAX_BYTES + 1))
    assert (too_big.status_code, too_big.json()) == (
        413,
        {"ok": False, "error_code": 413, "description": "Request Entity Too Large"},
    )
    assert upload(fake, chat, None).json()["description"] == ft.NO_DOCUMENT.description
    assert upload(fake, chat, b"").json()["description"] == ft.FILE_EMPTY.description
    long_caption = upload(fake, chat, b"x", caption="c" * 1025).json()
    assert long_caption["description"] == ft.CAPTION_TOO_LONG.description
    assert upload(fake, 123, b"x").json()["description"] == ft.CHAT_NOT_FOUND.description
    assert len(fake.documents(chat)) == 1


# --- callback queries and edits ------------------------------------------------------------------


def test_answer_callback_query_rules(fake: FakeTelegram, chat: int):
    _, body = call(
        fake,
        "sendMessage",
        chat_id=str(chat),
        text="?",
        reply_markup=keyboard({"text": "Ja", "callback_data": "i:affirm"}),
    )
    message_id = body["result"]["message_id"]
    fake.press(chat, "i:affirm", message_id)
    query = fake._updates[-1]["callback_query"]
    assert query["message"]["text"] == "?"
    assert call(fake, "answerCallbackQuery", callback_query_id=query["id"]) == (
        200,
        {"ok": True, "result": True},
    )
    # Answered already, never pressed, or pressed too long ago: "query is too old".
    refused(fake, "answerCallbackQuery", ft.QUERY_TOO_OLD, callback_query_id=query["id"])
    refused(fake, "answerCallbackQuery", ft.QUERY_TOO_OLD, callback_query_id="cb-forged")
    fake.press(chat, "i:affirm", message_id)
    late = fake._updates[-1]["callback_query"]["id"]
    fake.callback_answer_window = 0.0
    try:
        refused(fake, "answerCallbackQuery", ft.QUERY_TOO_OLD, callback_query_id=late)
    finally:
        fake.callback_answer_window = ft.CALLBACK_ANSWER_WINDOW


def test_edit_message_reply_markup_rules(fake: FakeTelegram, chat: int):
    markup = keyboard({"text": "Ja", "callback_data": "i:affirm"})
    _, body = call(fake, "sendMessage", chat_id=str(chat), text="?", reply_markup=markup)
    message_id = body["result"]["message_id"]
    status, edited = call(fake, "editMessageReplyMarkup", chat_id=str(chat), message_id=message_id)
    assert status == 200 and "reply_markup" not in edited["result"]
    # Removing it again (a double click) changes nothing: Telegram says so.
    refused(fake, "editMessageReplyMarkup", ft.NOT_MODIFIED, chat_id=str(chat), message_id=message_id)
    refused(fake, "editMessageReplyMarkup", ft.MESSAGE_NOT_FOUND, chat_id=str(chat), message_id=1)
    refused(fake, "editMessageReplyMarkup", ft.MESSAGE_ID_MISSING)
    bad = keyboard({"text": "Ja", "callback_data": "x" * 65})
    refused(
        fake,
        "editMessageReplyMarkup",
        ft.BUTTON_DATA_INVALID,
        chat_id=str(chat),
        message_id=message_id,
        reply_markup=bad,
    )


# --- chats ---------------------------------------------------------------------------------------


def test_chats_are_private_by_default_and_groups_can_be_opened(fake: FakeTelegram):
    person = next(_chats)
    fake.send_text(person, "hallo")
    assert fake._updates[-1]["message"]["chat"]["type"] == "private"
    assert fake.chats[person]["type"] == "private"  # writing opened the chat
    group = -next(_chats)
    fake.open_chat(group, type="supergroup", title="Elterncafé")
    fake.send_text(group, "hallo", user_id=77)
    message = fake._updates[-1]["message"]
    assert message["chat"] == {"id": group, "type": "supergroup", "title": "Elterncafé"}
    assert message["from"]["id"] == 77
    status, body = call(fake, "sendMessage", chat_id=str(group), text="Willkommen")
    assert status == 200 and body["result"]["chat"]["type"] == "supergroup"
    with pytest.raises(ValueError):
        fake.open_chat(1, type="channel")


def test_a_wrong_token_is_unauthorized(fake: FakeTelegram):
    r = httpx.post(f"{fake.base_url}999:WRONG/getMe", timeout=5)
    assert (r.status_code, r.json()["description"]) == (401, "Unauthorized")


async def test_a_second_get_updates_terminates_the_first(fake: FakeTelegram):
    url = f"{fake.base_url}{fake.token}/getUpdates"
    async with httpx.AsyncClient(timeout=10) as client:
        first = asyncio.create_task(client.post(url, data={"timeout": "2", "offset": "999999"}))
        await asyncio.sleep(0.3)
        second = await client.post(url, data={"timeout": "0", "offset": "999999"})
        earlier = await first
    assert second.json() == {"ok": True, "result": []}
    assert (earlier.status_code, earlier.json()["description"]) == (409, ft.CONFLICT.description)


# --- injected faults, as python-telegram-bot sees them -------------------------------------------


@pytest.mark.parametrize(
    ("fault", "exc_type"),
    [
        (ft.TOO_LONG, BadRequest),
        (ft.CHAT_NOT_FOUND, BadRequest),
        (ft.BLOCKED, Forbidden),
    ],
)
async def test_injected_errors_reach_ptb_as_telegrams(
    fake: FakeTelegram, bot: Bot, chat: int, fault: ft.ApiError, exc_type: type[Exception]
):
    fake.inject("sendMessage", fault, chat_id=chat, times=2)
    for _ in range(2):
        with pytest.raises(exc_type) as info:
            await bot.send_message(chat, "hallo")
        # PTB drops the "Bad Request: " prefix and capitalises the rest.
        assert info.value.message.lower() == fault.description.removeprefix("Bad Request: ").lower()
    assert fake.sent(chat) == []
    await bot.send_message(chat, "hallo")  # the third goes through
    assert len(fake.sent(chat)) == 1


async def test_an_injection_applies_to_its_chat_and_after_n_requests(
    fake: FakeTelegram, bot: Bot, chat: int
):
    other = next(_chats)
    fake.open_chat(other)
    injection = fake.inject("sendMessage", ft.BLOCKED, chat_id=chat, after=1)
    await bot.send_message(other, "a")  # another chat: untouched
    await bot.send_message(chat, "b")  # the first is let through
    with pytest.raises(Forbidden):
        await bot.send_message(chat, "c")
    assert injection.remaining == 0
    await bot.send_message(chat, "d")
    assert [m["text"] for m in fake.sent(chat)] == ["b", "d"]


async def test_injected_429_carries_retry_after(fake: FakeTelegram, bot: Bot, chat: int):
    fake.inject("sendMessage", ft.too_many_requests(3))
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(chat, "hallo")
    assert info.value.retry_after in (3, timedelta(seconds=3))
    status, body = call(fake, "sendMessage", chat_id=str(chat), text="x")
    assert status == 200  # once only
    fake.inject("sendMessage", ft.too_many_requests(7))
    status, body = call(fake, "sendMessage", chat_id=str(chat), text="x")
    assert (status, body["parameters"], body["description"]) == (
        429,
        {"retry_after": 7},
        "Too Many Requests: retry after 7",
    )


async def test_injected_query_too_old_and_conflict(fake: FakeTelegram, bot: Bot):
    fake.inject("answerCallbackQuery", ft.QUERY_TOO_OLD)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("cb-any")
    fake.inject("getUpdates", ft.CONFLICT)
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await bot.get_updates(timeout=0)


async def test_a_timeout_delivers_but_answers_too_late(fake: FakeTelegram, bot: Bot, chat: int):
    fake.inject("sendMessage", ft.Timeout(1.0), chat_id=chat)
    with pytest.raises(TimedOut):
        await bot.send_message(chat, "hallo")
    # Telegram carried it out: a timed-out send may well have arrived (never resend blindly).
    assert [m["text"] for m in fake.sent(chat)] == ["hallo"]


async def test_a_dropped_connection_delivers_nothing(fake: FakeTelegram, bot: Bot, chat: int):
    fake.inject("sendMessage", ft.DROP, chat_id=chat)
    with pytest.raises(NetworkError) as info:
        await bot.send_message(chat, "hallo")
    assert not isinstance(info.value, TimedOut | BadRequest)
    assert fake.sent(chat) == []
    await bot.send_message(chat, "again")  # the next connection works
    assert [m["text"] for m in fake.sent(chat)] == ["again"]


def test_the_flood_limit_answers_429(chat: int):
    tg = FakeTelegram(global_rate=2).start()
    try:
        tg.open_chat(chat)
        answers = [call(tg, "sendMessage", chat_id=str(chat), text=str(i))[0] for i in range(4)]
    finally:
        tg.stop()
    assert answers[:2] == [200, 200] and 429 in answers[2:] and tg.rejected_429 >= 1
