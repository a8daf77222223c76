"""The one send path: Telegram's errors mapped once, and the rate limiter pausing on 429."""

from __future__ import annotations

from datetime import timedelta

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram_sender import TelegramRateLimiter, chunks, keyboard, outcome
from rendering.messages import Button, OutMessage
from services.outbound import RateLimited, SendFailed, SendTimeout
from services.pacing import RateLimiter


def test_a_refused_chat_is_permanent():
    for exc in (BadRequest("Chat not found"), Forbidden("Forbidden: bot was blocked by the user")):
        result = outcome(exc)
        assert isinstance(result, SendFailed) and not result.retryable


def test_429_carries_retry_after():
    result = outcome(RetryAfter(timedelta(seconds=5)))
    assert isinstance(result, RateLimited) and result.retry_after == 5


def test_a_timeout_is_never_resent_blindly():
    assert isinstance(outcome(TimedOut()), SendTimeout)


def test_a_network_error_is_retryable():
    result = outcome(NetworkError("connection reset"))
    assert isinstance(result, SendFailed) and result.retryable


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_the_rate_limiter_paces_sends_and_pauses_on_429():
    clock = FakeClock()
    limiter = TelegramRateLimiter(RateLimiter(clock=clock, sleep=clock.sleep, chat_burst=1))
    calls: list[float] = []

    async def ok() -> bool:
        calls.append(clock.now)
        return True

    async def too_many() -> bool:
        raise RetryAfter(timedelta(seconds=5))

    for _ in range(3):
        await limiter.process_request(ok, (), {}, "sendMessage", {"chat_id": 7}, None)
    assert calls == [0.0, 1.0, 2.0]  # about one message per second to one chat
    with pytest.raises(RetryAfter):
        await limiter.process_request(too_many, (), {}, "sendMessage", {"chat_id": 8}, None)
    await limiter.process_request(ok, (), {}, "sendMessage", {"chat_id": 9}, None)
    assert calls[-1] >= 2.0 + 5.0  # every chat waited out the 429
    # Requests that put nothing into a chat are never held up.
    before = clock.now
    await limiter.process_request(ok, (), {}, "getUpdates", {}, None)
    assert clock.now == before


def test_keyboard_and_chunks():
    out = OutMessage("x", [Button(str(n), f"b:n:{n}") for n in range(1, 11)])
    markup = keyboard(out)
    assert markup is not None and [len(row) for row in markup.inline_keyboard] == [5, 5]
    assert keyboard(OutMessage("x", [Button("", "i:deny"), Button("A", "i:" + "a" * 70)])) is None
    long = "a" * 3000 + "\n" + "b" * 3000
    assert chunks(long) == ["a" * 3000, "b" * 3000]
