"""Fixtures for tests that talk to the fake Bot API server directly: one server per module, no fault
left over from one test to the next, and a fresh private chat per test. Import them into a module
(``from tests.support.telegram_fixtures import chat, fake, no_leftover_faults``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.support.fake_telegram import FakeTelegram

_chats = itertools.count(9_000_001)  # apart from the ids the modules count themselves


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    tg = FakeTelegram().start()
    try:
        yield tg
    finally:
        tg.stop()


@pytest.fixture(autouse=True)
def no_leftover_faults(fake: FakeTelegram) -> Iterator[None]:
    yield
    fake.clear_injections()


@pytest.fixture
def chat(fake: FakeTelegram) -> int:
    """A private chat whose person has started the bot."""
    chat_id = next(_chats)
    fake.open_chat(chat_id)
    return chat_id
